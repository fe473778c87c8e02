//! The order tables are generated in: every referenced table before the tables referencing
//! it, so that foreign keys draw from rows that exist. A cycle of foreign keys is broken at
//! one of its keys:
//!
//! - a key whose columns may all be NULL is left NULL and filled once every table is
//!   generated ([`Order::deferred`]);
//! - when every key of the cycle is NOT NULL, at a key whose referenced columns the parent
//!   generates on its own (none of them is a foreign key of the parent): the parent's keys
//!   are drawn before the tables of the cycle, the referencing table draws from the keys the
//!   parent *will* have, and the parent's rows then take those keys ([`Order::keyed`]).
//!
//! Either way the referencing table loads before its parent, so the load sets the key's
//! constraint aside and adds it back (validated) in the same transaction.

use std::collections::{BTreeMap, BTreeSet};

use crate::catalog::TableName;

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
    /// None of the referenced columns is a foreign key column of the parent, so the parent's
    /// keys can be drawn before anything it references exists.
    pub keyable: bool,
}

/// Foreign keys that break cycles: (referencing table, constraint name).
pub type Deferred = BTreeSet<(TableName, String)>;

/// Tables in generation order, and how the cycles among them were broken.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Order {
    /// Generation (and load) order.
    pub tables: Vec<TableName>,
    /// Nullable keys, left NULL while their table is generated and filled at the end.
    pub deferred: Deferred,
    /// NOT NULL keys drawn from the parent's keys, generated ahead of the parent's rows.
    pub keyed: Deferred,
}

/// Orders `tables` parents first, breaking each cycle at a nullable key when it has one, else
/// at a NOT NULL key whose parent's keys can be drawn first. Fails naming the tables of a
/// cycle that neither breaks.
pub fn order(tables: &[TableName], edges: &[Edge]) -> Result<Order, String> {
    let mut pending: BTreeSet<TableName> = tables.iter().cloned().collect();
    let mut live: Vec<&Edge> = edges
        .iter()
        .filter(|e| e.child != e.parent && pending.contains(&e.parent))
        .collect();
    let mut result = Order {
        tables: Vec::with_capacity(tables.len()),
        ..Order::default()
    };
    while !pending.is_empty() {
        let waiting: BTreeSet<&TableName> = live.iter().map(|e| &e.child).collect();
        let ready: Vec<TableName> = pending
            .iter()
            .filter(|t| !waiting.contains(t))
            .cloned()
            .collect();
        if ready.is_empty() {
            // Every pending table waits: break a cycle, at a nullable key if one closes it.
            let mut next: BTreeMap<&TableName, Vec<&TableName>> = BTreeMap::new();
            for e in &live {
                next.entry(&e.child).or_default().push(&e.parent);
            }
            let on_cycle: Vec<usize> = (0..live.len())
                .filter(|&i| reaches(&next, &live[i].parent, &live[i].child))
                .collect();
            let at = on_cycle
                .iter()
                .find(|&&i| live[i].nullable)
                .or_else(|| on_cycle.iter().find(|&&i| live[i].keyable));
            let Some(&at) = at else {
                let names: BTreeSet<String> = on_cycle
                    .iter()
                    .map(|&i| live[i].child.to_string())
                    .collect();
                return Err(format!(
                    "the foreign keys between {} form a cycle in which every key is NOT NULL \
                     and references columns that are themselves foreign keys, so no table's \
                     keys can be drawn before the others; load these tables with a seed fixture",
                    names.into_iter().collect::<Vec<_>>().join(", ")
                ));
            };
            let e = live.remove(at);
            let broken = (e.child.clone(), e.name.clone());
            if e.nullable {
                result.deferred.insert(broken);
            } else {
                result.keyed.insert(broken);
            }
            continue;
        }
        for t in ready {
            pending.remove(&t);
            live.retain(|e| e.parent != t);
            result.tables.push(t);
        }
    }
    // A key broken for one cycle may end up with its parent first anyway, once another
    // cycle is broken: it is then drawn as any other key.
    let at: BTreeMap<&TableName, usize> = result.tables.iter().zip(0..).collect();
    let parent_first = |(child, name): &(TableName, String)| {
        edges
            .iter()
            .find(|e| &e.child == child && &e.name == name)
            .is_some_and(|e| at.get(&e.parent) < at.get(&e.child))
    };
    result.deferred.retain(|k| !parent_first(k));
    result.keyed.retain(|k| !parent_first(k));
    Ok(result)
}

/// Whether `to` can be reached from `from` by following foreign keys (`next`: child to
/// parents).
fn reaches(next: &BTreeMap<&TableName, Vec<&TableName>>, from: &TableName, to: &TableName) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from];
    while let Some(t) = stack.pop() {
        if t == to {
            return true;
        }
        if seen.insert(t) {
            stack.extend(next.get(t).into_iter().flatten());
        }
    }
    false
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
            keyable: true,
        }
    }

    /// Every key that was not broken has its parent generated before its child, and every
    /// broken one closes a cycle (its child comes first).
    fn assert_parents_first(o: &Order, edges: &[Edge]) {
        let at = |x: &TableName| o.tables.iter().position(|y| y == x).unwrap();
        for e in edges.iter().filter(|e| e.child != e.parent) {
            let key = (e.child.clone(), e.name.clone());
            let broken = o.deferred.contains(&key) || o.keyed.contains(&key);
            assert_eq!(
                at(&e.parent) < at(&e.child),
                !broken,
                "{} -> {} in {:?}",
                e.child,
                e.parent,
                o.tables
            );
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
        let o = order(&tables, &edges).unwrap();
        assert_parents_first(&o, &edges);
        assert!(o.deferred.is_empty() && o.keyed.is_empty());
    }

    #[test]
    fn a_cycle_is_broken_at_a_nullable_key() {
        let tables = [t("departments"), t("employees")];
        let edges = [
            edge("employees", "departments", false),
            edge("departments", "employees", true),
            edge("employees", "employees", true),
        ];
        let o = order(&tables, &edges).unwrap();
        assert_eq!(o.tables, vec![t("departments"), t("employees")]);
        assert_eq!(
            o.deferred.into_iter().collect::<Vec<_>>(),
            vec![(t("departments"), "departments_employees_fkey".to_string())]
        );
        assert!(o.keyed.is_empty());
    }

    #[test]
    fn a_cycle_of_not_null_keys_draws_one_parent_s_keys_first() {
        // pagila: store.manager_staff_id and staff.store_id, both NOT NULL.
        let tables = [t("staff"), t("store"), t("rental")];
        let edges = [
            edge("rental", "staff", false),
            edge("staff", "store", false),
            edge("store", "staff", false),
        ];
        let o = order(&tables, &edges).unwrap();
        assert_eq!(o.keyed.len(), 1, "{o:?}");
        assert!(o.deferred.is_empty());
        assert_parents_first(&o, &edges);
    }

    #[test]
    fn longer_cycles_and_cycles_sharing_tables_are_each_broken_once() {
        // author -> book -> publisher -> author, all NOT NULL, and author <-> book closed
        // again by a nullable editor key.
        let tables = [t("author"), t("book"), t("publisher"), t("review")];
        let edges = [
            edge("author", "book", false),
            edge("book", "publisher", false),
            edge("publisher", "author", false),
            edge("book", "author", true),
            edge("review", "book", false),
        ];
        let o = order(&tables, &edges).unwrap();
        assert_parents_first(&o, &edges);
        // The nullable key is broken first, but the NOT NULL key that breaks the three-table
        // cycle puts author before book: the editor key is drawn as any other.
        assert!(o.deferred.is_empty(), "{o:?}");
        assert_eq!(
            o.keyed.len(),
            1,
            "one NOT NULL key breaks the three-table cycle"
        );
        assert_eq!(o.tables.len(), 4);
    }

    #[test]
    fn a_key_whose_parent_cannot_draw_its_keys_alone_is_not_the_one_broken() {
        let tables = [t("a"), t("b")];
        let mut edges = [edge("a", "b", false), edge("b", "a", false)];
        edges[0].keyable = false;
        let o = order(&tables, &edges).unwrap();
        assert_eq!(
            o.keyed.into_iter().collect::<Vec<_>>(),
            vec![(t("b"), "b_a_fkey".to_string())]
        );
        assert_eq!(o.tables, vec![t("b"), t("a")]);
    }

    #[test]
    fn a_cycle_nothing_breaks_is_refused_naming_only_its_tables() {
        let tables = [t("a"), t("b"), t("c")];
        let mut edges = [
            edge("a", "b", false),
            edge("b", "a", false),
            edge("c", "a", false),
        ];
        edges[0].keyable = false;
        edges[1].keyable = false;
        let e = order(&tables, &edges).unwrap_err();
        assert!(e.contains("between public.a, public.b form"), "{e}");
        assert!(!e.contains("public.c"), "{e}");
        assert!(e.contains("seed fixture"), "{e}");
    }

    #[test]
    fn keys_to_tables_not_generated_do_not_hold_anything_back() {
        let tables = [t("orders")];
        let edges = [edge("orders", "customers", true)];
        assert_eq!(order(&tables, &edges).unwrap().tables, vec![t("orders")]);
    }
}
