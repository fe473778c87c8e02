//! What the rules are checked against: the source database's tables, columns, keys and
//! foreign keys, read from `pg_catalog` (or built by hand in tests).

use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

use super::model::TableName;
use crate::error::{pg, Result};

/// The tables of a database, as far as anonymization rules care.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// Ordinary tables (leaf partitions and inheritance members included) and partitioned
    /// tables, sorted by schema and name.
    pub tables: Vec<CatalogTable>,
}

/// One table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogTable {
    /// Schema name.
    pub schema: String,
    /// Table name.
    pub name: String,
    /// Columns in attribute order (dropped ones left out).
    pub columns: Vec<CatalogColumn>,
    /// Primary key columns, in key order (empty when there is none).
    pub primary_key: Vec<String>,
    /// Column sets of unique constraints and unique indexes on plain columns (partial ones
    /// included: they still forbid duplicates among the rows they cover).
    pub unique: Vec<Vec<String>>,
    /// Foreign keys declared on this table (for partitions: declared on the partitioned
    /// table, whose copies on each partition are left out).
    pub foreign_keys: Vec<ForeignKey>,
    /// A partitioned table: it has no rows of its own; its partitions have them.
    pub partitioned: bool,
    /// For a partition, its direct parent. Rules written for a partitioned table apply to
    /// all its partitions.
    pub partition_of: Option<TableName>,
}

/// One column.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogColumn {
    /// Column name.
    pub name: String,
    /// The type as `format_type` writes it (`text`, `character varying(80)`, `integer[]`).
    pub type_name: String,
    /// `NOT NULL`.
    pub not_null: bool,
    /// A generated column: recomputed on restore, so it needs no rule.
    pub generated: bool,
    /// The type transformers must write: `type_name`, or a domain's base type (as
    /// `format_type` writes it), so that a rule on a domain column knows its length limit.
    #[serde(default)]
    pub base_type: String,
    /// The labels of an enum column (of its base type, for a domain over an enum), in
    /// sort order; empty for other types.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enum_labels: Vec<String>,
    /// The CHECK constraints of the column's domain, as `pg_get_constraintdef` writes them
    /// (`CHECK ((VALUE > 0))`); empty for other types.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domain_checks: Vec<String>,
}

/// A foreign key: `columns` of the declaring table reference `ref_columns` of another (or the
/// same) table, pairwise.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignKey {
    /// Constraint name, for messages.
    pub name: String,
    /// Referencing columns, in key order.
    pub columns: Vec<String>,
    /// Schema of the referenced table.
    pub ref_schema: String,
    /// Referenced table.
    pub ref_table: String,
    /// Referenced columns, paired with `columns`.
    pub ref_columns: Vec<String>,
}

impl CatalogTable {
    /// The table's qualified name.
    pub fn table_name(&self) -> TableName {
        TableName::new(self.schema.as_str(), self.name.as_str())
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&CatalogColumn> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Whether `column` is part of the primary key or of a unique constraint or index.
    pub fn is_unique_member(&self, column: &str) -> bool {
        self.primary_key.iter().any(|c| c == column)
            || self.unique.iter().any(|u| u.iter().any(|c| c == column))
    }
}

impl Catalog {
    /// The table called `name`.
    pub fn table(&self, name: &TableName) -> Option<&CatalogTable> {
        self.tables
            .iter()
            .find(|t| t.schema == name.schema && t.name == name.name)
    }

    /// The chain from `name` up through its partition parents (`name` first).
    pub fn partition_ancestors(&self, name: &TableName) -> Vec<TableName> {
        let mut out = vec![name.clone()];
        let mut current = self.table(name);
        while let Some(parent) = current.and_then(|t| t.partition_of.clone()) {
            // A cycle cannot happen in PostgreSQL; the guard keeps a hand-built catalog from
            // looping forever.
            if out.contains(&parent) {
                break;
            }
            current = self.table(&parent);
            out.push(parent);
        }
        out
    }
}

/// Reads the catalog of the database `client` is connected to: user tables (not system
/// schemas, temporary or extension-owned ones) with their columns, keys and foreign keys.
/// Safe inside the snapshot's transaction: it only reads `pg_catalog`.
pub async fn read_catalog(client: &Client) -> Result<Catalog> {
    let rows = client
        .query(
            "SELECT c.oid, n.nspname::text, c.relname::text, c.relkind = 'p', \
               (SELECT pn.nspname::text FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent \
                  JOIN pg_namespace pn ON pn.oid = p.relnamespace \
                WHERE i.inhrelid = c.oid AND c.relispartition), \
               (SELECT p.relname::text FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent \
                WHERE i.inhrelid = c.oid AND c.relispartition) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND c.relpersistence IN ('p', 'u') \
               AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' \
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass \
                               AND d.objid = c.oid AND d.deptype = 'e') \
             ORDER BY 2, 3",
            &[],
        )
        .await
        .map_err(pg("cannot list tables for the rules"))?;
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
        .map_err(pg("cannot list columns for the rules"))?;
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
        .map_err(pg("cannot list unique indexes for the rules"))?;
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
        .map_err(pg("cannot list foreign keys for the rules"))?;

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
