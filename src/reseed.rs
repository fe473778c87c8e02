//! What a reseed proves about the database it leaves: every foreign key validated, and a
//! content digest per table, read back from the database itself (not from the snapshot:
//! seed fixtures changed it), so that two reseeds with the same inputs can be compared.

use serde::Serialize;
use tokio_postgres::Client;

use crate::error::{pg, Error, Result};

/// One table's content.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TableContent {
    /// `schema.table`.
    pub table: String,
    /// Rows.
    pub rows: u64,
    /// Row-order-independent digest of its rows.
    pub digest: String,
}

/// The state a reseed left.
#[derive(Debug, Clone, Serialize)]
pub struct DatabaseContent {
    /// Every table with rows of its own, by name.
    pub tables: Vec<TableContent>,
    /// Foreign keys, all validated.
    pub foreign_keys: u64,
    /// One digest over every table's name and digest.
    pub digest: String,
}

/// Reads every table back and checks the foreign keys; an unvalidated one is an error.
pub async fn content(client: &Client) -> Result<DatabaseContent> {
    let invalid: Vec<String> = client
        .query(
            "SELECT conrelid::regclass::text || ' ' || conname FROM pg_catalog.pg_constraint \
             WHERE contype = 'f' AND NOT convalidated ORDER BY 1",
            &[],
        )
        .await
        .map_err(pg("cannot list foreign keys"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if !invalid.is_empty() {
        return Err(Error::Verification(format!(
            "foreign keys not validated: {}",
            invalid.join(", ")
        )));
    }
    let foreign_keys: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_catalog.pg_constraint WHERE contype = 'f'",
            &[],
        )
        .await
        .map_err(pg("cannot count foreign keys"))?
        .get(0);
    let tables = client
        .query(
            "SELECT n.nspname::text, c.relname::text, \
                    array_agg(a.attname::text ORDER BY a.attnum) \
             FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
             WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
               AND n.nspname NOT LIKE 'pg\\_%' \
             GROUP BY 1, 2 ORDER BY 1, 2",
            &[],
        )
        .await
        .map_err(pg("cannot list tables"))?;
    let mut out = Vec::with_capacity(tables.len());
    let mut all = blake3::Hasher::new();
    for row in tables {
        let (schema, name, columns): (String, String, Vec<String>) =
            (row.get(0), row.get(1), row.get(2));
        let stmt = crate::catalog::copy_where(&schema, &name, &columns, "true");
        let label = format!("{schema}.{name}");
        let digest = crate::restore::load::read_digest(client, &stmt, &label).await?;
        all.update(label.as_bytes());
        all.update(b"\0");
        all.update(digest.hex().as_bytes());
        out.push(TableContent {
            table: label,
            rows: digest.rows(),
            digest: digest.hex(),
        });
    }
    Ok(DatabaseContent {
        tables: out,
        foreign_keys: foreign_keys as u64,
        digest: all.finalize().to_hex().to_string(),
    })
}
