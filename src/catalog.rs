//! The database as doppel sees it: tables, columns, keys and foreign keys, read once from
//! `pg_catalog` (or built by hand in tests). The bottom of the crate: rules are checked
//! against it, snapshots plan their reads from it and record it in the manifest, synthetic
//! data is generated from it. It depends on nothing in the crate but the error type.

mod copy_sql;
mod name;
mod read;

pub use copy_sql::{copy_sample, copy_statement, copy_where};
pub use name::{qualified, quote_ident, quote_literal, ColumnId, TableName};
pub use read::read_catalog;

use serde::{Deserialize, Serialize};

/// The tables of a database: what rules are checked against, what a snapshot reads (and
/// records in its manifest), what synthetic data fills.
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
    /// On-disk size, to schedule the largest tables first. Read live, not recorded.
    #[serde(skip)]
    pub size_bytes: i64,
    /// OIDs of the table's own indexes and key constraints (none for partitions, whose
    /// indexes come from their parent's): a restore builds them as soon as the rows are in.
    /// Read live, not recorded.
    #[serde(skip)]
    pub index_oids: Vec<u32>,
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

/// A table whose rows are copied (plain, unlogged, a leaf partition or an inheritance
/// member), as a snapshot reads it.
#[derive(Debug, Clone)]
pub struct TableInfo {
    /// Schema name.
    pub schema: String,
    /// Table name.
    pub name: String,
    /// Stored columns in attribute order (generated and dropped columns left out).
    pub columns: Vec<String>,
    /// On-disk size, to schedule the largest tables first.
    pub size_bytes: i64,
    /// See [`CatalogTable::index_oids`].
    pub index_oids: Vec<u32>,
    /// Rows to read, as a condition (a subset); `None`: every row.
    pub filter: Option<std::sync::Arc<str>>,
}

impl Catalog {
    /// Every table with rows of its own, largest first (partitioned parents have none).
    pub fn tables_with_rows(&self) -> Vec<TableInfo> {
        let mut out: Vec<TableInfo> = self
            .tables
            .iter()
            .filter(|t| !t.partitioned)
            .map(|t| TableInfo {
                schema: t.schema.clone(),
                name: t.name.clone(),
                columns: t
                    .columns
                    .iter()
                    .filter(|c| !c.generated)
                    .map(|c| c.name.clone())
                    .collect(),
                size_bytes: t.size_bytes,
                index_oids: t.index_oids.clone(),
                filter: None,
            })
            .collect();
        // Stable: equal sizes stay in schema and name order, as the catalog lists them.
        out.sort_by_key(|t| std::cmp::Reverse(t.size_bytes));
        out
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str, size: i64, partitioned: bool) -> CatalogTable {
        CatalogTable {
            schema: "public".into(),
            name: name.into(),
            columns: vec![
                CatalogColumn {
                    name: "id".into(),
                    ..CatalogColumn::default()
                },
                CatalogColumn {
                    name: "total".into(),
                    generated: true,
                    ..CatalogColumn::default()
                },
            ],
            partitioned,
            size_bytes: size,
            index_oids: vec![7],
            ..CatalogTable::default()
        }
    }

    #[test]
    fn tables_with_rows_are_the_largest_first_without_parents_or_generated_columns() {
        let catalog = Catalog {
            tables: vec![
                table("a", 10, false),
                table("b", 30, false),
                table("events", 0, true),
                table("c", 10, false),
            ],
        };
        let read = catalog.tables_with_rows();
        let names: Vec<_> = read.iter().map(|t| t.name.as_str()).collect();
        // Equal sizes keep the catalog's schema-and-name order.
        assert_eq!(names, ["b", "a", "c"]);
        assert_eq!(
            read[0].columns,
            ["id"],
            "a generated column is recomputed, not read"
        );
        assert_eq!(
            (read[0].size_bytes, read[0].index_oids.clone()),
            (30, vec![7])
        );
        assert!(read.iter().all(|t| t.filter.is_none()));
    }

    #[test]
    fn live_sizes_and_indexes_are_not_recorded_in_a_manifest() {
        let catalog = Catalog {
            tables: vec![table("a", 10, false)],
        };
        let json = serde_json::to_string(&catalog).unwrap();
        assert!(
            !json.contains("size_bytes") && !json.contains("index_oids"),
            "{json}"
        );
        let back: Catalog = serde_json::from_str(&json).unwrap();
        assert_eq!(back.tables[0].size_bytes, 0);
    }
}
