//! Reading the [`Catalog`] from `pg_catalog`.

use tokio_postgres::Client;

use super::{Catalog, CatalogColumn, CatalogTable, ForeignKey, TableName};
use crate::error::{pg, Result};

/// Reads the catalog of the database `client` is connected to: user tables (not system
/// schemas, temporary or extension-owned ones) with their columns, keys, foreign keys, size
/// and indexes. Partitioned parents have no rows; system schemas, temporary tables and
/// extension-owned tables are pg_dump's business or nobody's.
/// Safe inside the snapshot's transaction: it only reads `pg_catalog`.
pub async fn read_catalog(client: &Client) -> Result<Catalog> {
    let rows = client
        .query(
            "SELECT c.oid, n.nspname::text, c.relname::text, c.relkind = 'p', \
               (SELECT pn.nspname::text FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent \
                  JOIN pg_namespace pn ON pn.oid = p.relnamespace \
                WHERE i.inhrelid = c.oid AND c.relispartition), \
               (SELECT p.relname::text FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent \
                WHERE i.inhrelid = c.oid AND c.relispartition), \
               pg_relation_size(c.oid), \
               CASE WHEN c.relispartition OR c.relkind = 'p' THEN '{}'::oid[] ELSE \
                 array(SELECT con.oid FROM pg_constraint con WHERE con.conrelid = c.oid AND con.contype IN ('p', 'u', 'x')) || \
                 array(SELECT i.indexrelid FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid \
                       WHERE i.indrelid = c.oid AND NOT ic.relispartition \
                         AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = c.oid)) \
               END \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND c.relpersistence IN ('p', 'u') \
               AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' \
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass \
                               AND d.objid = c.oid AND d.deptype = 'e') \
             ORDER BY 2, 3",
            &[],
        )
        .await
        .map_err(pg("cannot list tables"))?;
    let columns = client
        .query(
            "SELECT a.attrelid, a.attname::text, format_type(a.atttypid, a.atttypmod), \
               a.attnotnull, a.attgenerated <> '', \
               CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) \
                    ELSE format_type(a.atttypid, a.atttypmod) END, \
               array(SELECT e.enumlabel::text FROM pg_enum e \
                     WHERE e.enumtypid = CASE WHEN t.typtype = 'd' THEN t.typbasetype \
                                              ELSE a.atttypid END \
                     ORDER BY e.enumsortorder), \
               array(SELECT pg_get_constraintdef(k.oid) FROM pg_constraint k \
                     WHERE k.contypid = a.atttypid AND k.contype = 'c' ORDER BY k.conname) \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_type t ON t.oid = a.atttypid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped \
               AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' \
             ORDER BY a.attrelid, a.attnum",
            &[],
        )
        .await
        .map_err(pg("cannot list columns"))?;
    // Unique indexes cover primary keys and unique constraints (each has one) as well as
    // bare CREATE UNIQUE INDEX; expression indexes (indkey 0) cannot be named by columns.
    let uniques = client
        .query(
            "SELECT x.indrelid, x.indisprimary, \
               array(SELECT a.attname::text FROM unnest(x.indkey::int2[]) WITH ORDINALITY k(n, o) \
                     JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n \
                     ORDER BY k.o) \
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
             WHERE x.indisunique AND NOT (0 = ANY (x.indkey::int2[])) \
             ORDER BY x.indrelid, x.indisprimary DESC, i.relname",
            &[],
        )
        .await
        .map_err(pg("cannot list unique indexes"))?;
    let fks = client
        .query(
            "SELECT f.conrelid, f.conname::text, rn.nspname::text, r.relname::text, \
               array(SELECT a.attname::text FROM unnest(f.conkey) WITH ORDINALITY k(n, o) \
                     JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = k.n \
                     ORDER BY k.o), \
               array(SELECT a.attname::text FROM unnest(f.confkey) WITH ORDINALITY k(n, o) \
                     JOIN pg_attribute a ON a.attrelid = f.confrelid AND a.attnum = k.n \
                     ORDER BY k.o) \
             FROM pg_constraint f JOIN pg_class r ON r.oid = f.confrelid \
             JOIN pg_namespace rn ON rn.oid = r.relnamespace \
             WHERE f.contype = 'f' AND f.conparentid = 0 \
             ORDER BY f.conrelid, f.conname",
            &[],
        )
        .await
        .map_err(pg("cannot list foreign keys"))?;

    let mut tables = Vec::with_capacity(rows.len());
    let mut by_oid = std::collections::HashMap::new();
    for r in &rows {
        let oid: u32 = r.get(0);
        let parent_schema: Option<String> = r.get(4);
        let parent_name: Option<String> = r.get(5);
        by_oid.insert(oid, tables.len());
        tables.push(CatalogTable {
            schema: r.get(1),
            name: r.get(2),
            partitioned: r.get(3),
            partition_of: parent_schema
                .zip(parent_name)
                .map(|(s, n)| TableName::new(s, n)),
            size_bytes: r.get(6),
            index_oids: r.get(7),
            ..CatalogTable::default()
        });
    }
    for r in &columns {
        if let Some(&i) = by_oid.get(&r.get::<_, u32>(0)) {
            tables[i].columns.push(CatalogColumn {
                name: r.get(1),
                type_name: r.get(2),
                not_null: r.get(3),
                generated: r.get(4),
                base_type: r.get(5),
                enum_labels: r.get(6),
                domain_checks: r.get(7),
            });
        }
    }
    for r in &uniques {
        if let Some(&i) = by_oid.get(&r.get::<_, u32>(0)) {
            let cols: Vec<String> = r.get(2);
            if r.get::<_, bool>(1) && tables[i].primary_key.is_empty() {
                tables[i].primary_key = cols;
            } else if !tables[i].unique.contains(&cols) {
                tables[i].unique.push(cols);
            }
        }
    }
    for r in &fks {
        if let Some(&i) = by_oid.get(&r.get::<_, u32>(0)) {
            tables[i].foreign_keys.push(ForeignKey {
                name: r.get(1),
                ref_schema: r.get(2),
                ref_table: r.get(3),
                columns: r.get(4),
                ref_columns: r.get(5),
            });
        }
    }
    Ok(Catalog { tables })
}
