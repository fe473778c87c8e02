//! Partial restores: which part of a snapshot a restore loads.

use std::collections::BTreeSet;

use crate::catalog::TableName;
use crate::error::{Error, Result};
use crate::repo::Manifest;

/// What a restore loads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Scope {
    /// Everything: schema, every table's rows, large objects, sequences.
    #[default]
    All,
    /// The whole schema, and rows only for these tables and the tables their foreign keys
    /// reference (transitively), so that every constraint holds. Names are `schema.table`
    /// or `table` (in `public`); a partitioned table stands for its partitions.
    Tables(Vec<String>),
    /// The schema alone: every table empty, sequences at their start.
    SchemaOnly,
    /// Rows into an existing database that already has the schema: each table is emptied
    /// and reloaded, foreign keys and triggers held off during the load.
    DataOnly,
}

/// The manifest restricted to what `scope` loads.
pub fn apply(m: &Manifest, scope: &Scope) -> Result<Manifest> {
    let mut out = m.clone();
    match scope {
        Scope::All | Scope::DataOnly => {}
        Scope::SchemaOnly => {
            out.tables.clear();
            out.large_objects.clear();
            out.sequences.clear();
            for v in &mut out.matviews {
                v.populated = false;
            }
        }
        Scope::Tables(names) => {
            let keep = closure(m, names)?;
            out.tables
                .retain(|t| keep.contains(&TableName::new(t.schema.as_str(), t.name.as_str())));
        }
    }
    Ok(out)
}

/// The named tables (partitions of a named partitioned table included) and every table they
/// reference, transitively.
fn closure(m: &Manifest, names: &[String]) -> Result<BTreeSet<TableName>> {
    let catalog = m.catalog.as_ref();
    let known: BTreeSet<TableName> = match catalog {
        Some(c) => c.tables.iter().map(|t| t.table_name()).collect(),
        None => m
            .tables
            .iter()
            .map(|t| TableName::new(t.schema.as_str(), t.name.as_str()))
            .collect(),
    };
    let mut pending = Vec::new();
    for name in names {
        let t = if name.contains('.') {
            TableName::parse(name).map_err(|e| Error::Config(format!("--tables {name}: {e}")))?
        } else {
            TableName::new("public", name.as_str())
        };
        if !known.contains(&t) {
            return Err(Error::NotFound(format!(
                "--tables: snapshot {} has no table {t} (write schema.table; names are \
                 case-sensitive)",
                m.id
            )));
        }
        pending.push(t);
    }
    let mut keep = BTreeSet::new();
    while let Some(t) = pending.pop() {
        if !keep.insert(t.clone()) {
            continue;
        }
        let Some(catalog) = catalog else { continue };
        for ct in &catalog.tables {
            // Partitions of a kept partitioned table, and the tables a kept one references
            // (foreign keys declared on a partitioned table bind its partitions too).
            if ct.partition_of.as_ref() == Some(&t) {
                pending.push(ct.table_name());
            }
        }
        for ancestor in catalog.partition_ancestors(&t) {
            if let Some(ct) = catalog.table(&ancestor) {
                for fk in &ct.foreign_keys {
                    pending.push(TableName::new(
                        fk.ref_schema.as_str(),
                        fk.ref_table.as_str(),
                    ));
                }
            }
        }
    }
    Ok(keep)
}
