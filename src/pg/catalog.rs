//! Catalog introspection inside the snapshot's transaction: what to copy, in which order,
//! and what the source is.

use tokio_postgres::Client;

use crate::error::{pg, Result};

/// Identity of the source server and database, recorded in every manifest.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    /// `current_database()`.
    pub database: String,
    /// `pg_control_system().system_identifier`, when the role may read it.
    pub system_identifier: Option<String>,
    /// `server_version`.
    pub server_version: String,
    /// `server_version_num` / 10000.
    pub major: u32,
    /// Database encoding, collation and ctype, to create the target alike.
    pub encoding: String,
    /// `datcollate`.
    pub collate: String,
    /// `datctype`.
    pub ctype: String,
}

/// Reads the server identity. Safe to call inside a transaction: a refused
/// `pg_control_system()` is caught in a savepoint.
pub async fn server_info(client: &Client) -> Result<ServerInfo> {
    let row = client
        .query_one(
            "SELECT current_database()::text, current_setting('server_version'), \
             current_setting('server_version_num')::int, pg_encoding_to_char(d.encoding)::text, \
             d.datcollate::text, d.datctype::text \
             FROM pg_database d WHERE d.datname = current_database()",
            &[],
        )
        .await
        .map_err(pg("cannot read server information"))?;
    let version_num: i32 = row.get(2);
    let system_identifier = optional_text(
        client,
        "SELECT system_identifier::text FROM pg_control_system()",
    )
    .await?;
    Ok(ServerInfo {
        database: row.get(0),
        system_identifier,
        server_version: row.get(1),
        major: (version_num / 10000) as u32,
        encoding: row.get(3),
        collate: row.get(4),
        ctype: row.get(5),
    })
}

/// Runs a one-value query that the role may not be allowed to run, inside a savepoint so
/// that a refusal does not abort the surrounding snapshot transaction.
pub async fn optional_text(client: &Client, sql: &str) -> Result<Option<String>> {
    client
        .batch_execute("SAVEPOINT doppel_optional")
        .await
        .map_err(pg("savepoint"))?;
    match client.query_one(sql, &[]).await {
        Ok(r) => {
            client
                .batch_execute("RELEASE SAVEPOINT doppel_optional")
                .await
                .map_err(pg("savepoint"))?;
            Ok(r.get::<_, Option<String>>(0))
        }
        Err(e) => {
            tracing::debug!(error = %crate::error::describe_pg(&e), "optional query refused");
            client
                .batch_execute("ROLLBACK TO SAVEPOINT doppel_optional")
                .await
                .map_err(pg("savepoint"))?;
            Ok(None)
        }
    }
}

/// A sequence's state.
#[derive(Debug, Clone)]
pub struct SequenceInfo {
    /// Schema name.
    pub schema: String,
    /// Sequence name.
    pub name: String,
    /// `last_value`.
    pub last_value: i64,
    /// `is_called`: whether `last_value` was already handed out.
    pub is_called: bool,
}

/// Every user sequence (identity ones included) with its current value.
pub async fn sequences(client: &Client) -> Result<Vec<SequenceInfo>> {
    let names = client
        .query(
            "SELECT n.nspname::text, c.relname::text FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind = 'S' AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' \
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass \
                               AND d.objid = c.oid AND d.deptype = 'e') \
             ORDER BY 1, 2",
            &[],
        )
        .await
        .map_err(pg("cannot list sequences"))?;
    let mut out = Vec::with_capacity(names.len());
    for r in names {
        let (schema, name): (String, String) = (r.get(0), r.get(1));
        let q = format!(
            "SELECT last_value, is_called FROM {}",
            crate::catalog::qualified(&schema, &name)
        );
        let v = client
            .query_one(&q, &[])
            .await
            .map_err(pg(format!("cannot read sequence {schema}.{name}")))?;
        out.push(SequenceInfo {
            schema,
            name,
            last_value: v.get(0),
            is_called: v.get(1),
        });
    }
    Ok(out)
}

/// The sequences `schema.table` owns (serial and identity columns): they go where the table
/// goes, so a table left out of a snapshot takes them along.
pub async fn owned_sequences(
    client: &Client,
    schema: &str,
    table: &str,
) -> Result<Vec<(String, String)>> {
    let rows = client
        .query(
            "SELECT sn.nspname::text, s.relname::text FROM pg_depend d \
             JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' \
             JOIN pg_namespace sn ON sn.oid = s.relnamespace \
             JOIN pg_class t ON t.oid = d.refobjid \
             JOIN pg_namespace tn ON tn.oid = t.relnamespace \
             WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass \
               AND d.deptype IN ('a', 'i') AND tn.nspname = $1 AND t.relname = $2 \
             ORDER BY 1, 2",
            &[&schema, &table],
        )
        .await
        .map_err(pg(format!("cannot list the sequences of {schema}.{table}")))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// A materialized view and whether it holds data.
#[derive(Debug, Clone)]
pub struct MatviewInfo {
    /// Schema name.
    pub schema: String,
    /// View name.
    pub name: String,
    /// `relispopulated`: only these are refreshed after a restore.
    pub populated: bool,
}

/// Every user materialized view.
pub async fn matviews(client: &Client) -> Result<Vec<MatviewInfo>> {
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text, c.relispopulated FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind = 'm' AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' \
             ORDER BY c.oid",
            &[],
        )
        .await
        .map_err(pg("cannot list materialized views"))?;
    Ok(rows
        .iter()
        .map(|r| MatviewInfo {
            schema: r.get(0),
            name: r.get(1),
            populated: r.get(2),
        })
        .collect())
}

/// A large object's identity.
#[derive(Debug, Clone)]
pub struct LargeObjectInfo {
    /// Its OID, kept on restore because applications store it.
    pub oid: u32,
    /// Owning role.
    pub owner: String,
    /// `COMMENT ON LARGE OBJECT`, if any.
    pub comment: Option<String>,
    /// Grants as (grantee, privilege, grantable); grantee `PUBLIC` for everyone.
    pub grants: Vec<(String, String, bool)>,
}

/// Every large object.
pub async fn large_objects(client: &Client) -> Result<Vec<LargeObjectInfo>> {
    let rows = client
        .query(
            "SELECT m.oid, pg_get_userbyid(m.lomowner)::text, obj_description(m.oid, 'pg_largeobject'), \
               coalesce((SELECT array_agg(CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END \
                                          || ' ' || a.privilege_type || ' ' || a.is_grantable \
                                          ORDER BY a.grantee, a.privilege_type) \
                         FROM aclexplode(m.lomacl) a WHERE a.grantee <> m.lomowner), '{}') \
             FROM pg_largeobject_metadata m ORDER BY m.oid",
            &[],
        )
        .await
        .map_err(pg("cannot list large objects"))?;
    Ok(rows
        .iter()
        .map(|r| LargeObjectInfo {
            oid: r.get(0),
            owner: r.get(1),
            comment: r.get(2),
            grants: r
                .get::<_, Vec<String>>(3)
                .iter()
                .filter_map(|g| {
                    let mut parts = g.rsplitn(3, ' ');
                    let grantable = parts.next()? == "true";
                    let privilege = parts.next()?.to_string();
                    Some((parts.next()?.to_string(), privilege, grantable))
                })
                .collect(),
        })
        .collect())
}
