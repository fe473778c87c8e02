//! The order tables are generated in: every referenced table before the tables referencing
//! it, so that foreign keys draw from rows that exist. A cycle of foreign keys is broken at a
//! key whose columns may all be NULL: that key is filled once every table is generated.

use std::collections::{BTreeMap, BTreeSet};

use crate::rules::TableName;

/// A foreign key as the ordering sees it.
#[derive(Debug, Clone)]
pub struct Edge {
    /// The referencing table.
    pub child: TableName,
    /// The referenced table.
    pub parent: TableName,
    /// Constraint name.
    pub name: String,
    /// Every column of the key may be NULL.
    pub nullable: bool,
}

/// Foreign keys filled after every table is generated: (referencing table, constraint name).
pub type Deferred = BTreeSet<(TableName, String)>;

/// Tables in generation order, and the foreign keys deferred to break cycles. Fails naming
/// the tables of a cycle no nullable key breaks.
pub fn order(tables: &[TableName], edges: &[Edge]) -> Result<(Vec<TableName>, Deferred), String> {
    let mut pending: BTreeSet<TableName> = tables.iter().cloned().collect();
    let mut live: Vec<&Edge> = edges
        .iter()
        .filter(|e| e.child != e.parent && pending.contains(&e.parent))
        .collect();
    let mut deferred = BTreeSet::new();
    let mut out = Vec::with_capacity(tables.len());
    while !pending.is_empty() {
        let waiting: BTreeMap<&TableName, usize> = live.iter().fold(BTreeMap::new(), |mut m, e| {
            *m.entry(&e.child).or_insert(0) += 1;
            m
        });
        let ready: Vec<TableName> = pending
            .iter()
            .filter(|t| !waiting.contains_key(t))
            .cloned()
            .collect();
        if ready.is_empty() {
            // Every pending table waits: break the cycle at the first nullable key.
            let Some(at) = live.iter().position(|e| e.nullable) else {
                let names: Vec<String> = pending.iter().map(|t| t.to_string()).collect();
                return Err(format!(
                    "the foreign keys between {} form a cycle in which every key is NOT NULL, so \
                     no table can be filled first; load these tables with a seed fixture",
                    names.join(", ")
                ));
            };
            let e = live.remove(at);
            deferred.insert((e.child.clone(), e.name.clone()));
            continue;
        }
        for t in ready {
            pending.remove(&t);
            live.retain(|e| e.parent != t);
            out.push(t);
        }
    }
    Ok((out, deferred))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str) -> TableName {
        TableName::new("public", name)
    }

    fn edge(child: &str, parent: &str, nullable: bool) -> Edge {
        Edge {
            child: t(child),
            parent: t(parent),
            name: format!("{child}_{parent}_fkey"),
            nullable,
        }
    }

    #[test]
    fn parents_come_first() {
        let tables = [t("items"), t("orders"), t("customers"), t("products")];
        let edges = [
            edge("items", "orders", false),
            edge("items", "products", false),
            edge("orders", "customers", false),
        ];
        let (order, deferred) = order(&tables, &edges).unwrap();
        let at = |n: &str| order.iter().position(|x| x == &t(n)).unwrap();
        assert!(at("customers") < at("orders"));
        assert!(at("orders") < at("items"));
        assert!(at("products") < at("items"));
        assert!(deferred.is_empty());
    }

    #[test]
    fn a_cycle_is_broken_at_a_nullable_key() {
        let tables = [t("departments"), t("employees")];
        let edges = [
            edge("employees", "departments", false),
            edge("departments", "employees", true),
            edge("employees", "employees", true),
        ];
        let (order, deferred) = order(&tables, &edges).unwrap();
        assert_eq!(order, vec![t("departments"), t("employees")]);
        assert_eq!(
            deferred.into_iter().collect::<Vec<_>>(),
            vec![(t("departments"), "departments_employees_fkey".to_string())]
        );
    }

    #[test]
    fn a_cycle_of_not_null_keys_is_refused_by_name() {
        let tables = [t("a"), t("b"), t("c")];
        let edges = [edge("a", "b", false), edge("b", "a", false)];
        let e = order(&tables, &edges).unwrap_err();
        assert!(e.contains("public.a, public.b"), "{e}");
        assert!(!e.contains("public.c"), "{e}");
    }

    #[test]
    fn keys_to_tables_not_generated_do_not_hold_anything_back() {
        let tables = [t("orders")];
        let edges = [edge("orders", "customers", true)];
        assert_eq!(order(&tables, &edges).unwrap().0, vec![t("orders")]);
    }
}
