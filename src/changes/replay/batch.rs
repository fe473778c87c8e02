//! Replay batches: the changes of many transactions applied with a few statements per table.
//!
//! A batch holds whole transactions and is one transaction on the target. Triggers and
//! foreign keys are off while a replay runs, so changes of different tables do not depend on
//! each other: they are grouped per table, each table keeping its own order. Consecutive
//! changes of one table and one kind become a run, sent as one statement: a multi-row
//! INSERT, an `UPDATE … FROM (VALUES …)` or a `DELETE … USING (VALUES …)`, each checked to
//! touch exactly as many rows as it carries. A row updated again in the same run takes its
//! last image (what the row holds after both); any other repeated key ends the run, so no
//! statement depends on its own effects.
//!
//! A set-based statement applies its rows in an order of the server's choosing, which a
//! unique constraint other than the replica identity may notice (two rows trading a value).
//! So when a batch fails it is rolled back and applied again with [`exact`]: one statement
//! per change, in commit order. The result is the same, and a target that drifted from the
//! archive is reported for the very change that does not fit.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::super::pgoutput::{OldRow, Relation, ReplicaIdentity, Value};
use crate::catalog::{qualified, quote_ident, quote_literal};
use crate::error::{Error, Result};

/// Rows in one multi-row INSERT.
const INSERT_ROWS: usize = 1_000;
/// Rows in one set-based UPDATE or DELETE.
const KEYED_ROWS: usize = 1_000;

/// One row change waiting in a batch, with the table description it was decoded with.
#[derive(Debug)]
pub(super) enum Change {
    Insert {
        rel: Arc<Relation>,
        new: Vec<Value>,
    },
    Update {
        rel: Arc<Relation>,
        old: Option<OldRow>,
        new: Vec<Value>,
    },
    Delete {
        rel: Arc<Relation>,
        old: OldRow,
    },
    Truncate {
        rels: Vec<Arc<Relation>>,
        cascade: bool,
        restart_identity: bool,
    },
}

/// The target's type of each column of a relation (by relation oid, in the order of its
/// columns), so that the values of a set-based statement compare with the table's keys as
/// its own types and its indexes serve the join; empty where unknown.
pub(super) type Types = HashMap<u32, Vec<String>>;

/// The batch as set-based statements, in an order that gives the same result as the changes
/// one by one (see the module comment for when it does not).
pub(super) fn set_based(changes: &[Change], types: &Types) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut tables: Vec<Table> = Vec::new();
    let mut index: HashMap<u32, usize> = HashMap::new();
    for change in changes {
        let rel = match change {
            Change::Truncate { .. } => {
                // A truncate covers several tables at once: everything before it goes first.
                drain(&mut tables, &mut index, types, &mut out);
                out.push(exact(change)?);
                continue;
            }
            Change::Insert { rel, .. }
            | Change::Update { rel, .. }
            | Change::Delete { rel, .. } => rel,
        };
        let i = *index.entry(rel.oid).or_insert_with(|| {
            tables.push(Table {
                rel: rel.clone(),
                runs: Vec::new(),
            });
            tables.len() - 1
        });
        tables[i].add(change)?;
    }
    drain(&mut tables, &mut index, types, &mut out);
    Ok(out)
}

/// The batch as one statement per change, in commit order (consecutive inserts into one
/// table stay one statement: the order is the same).
pub(super) fn exact_all(changes: &[Change]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    let mut inserts: Option<(&Relation, Vec<String>)> = None;
    for change in changes {
        if let Change::Insert { rel, new } = change {
            let row = row(new)?;
            match &mut inserts {
                Some((r, rows)) if r.oid == rel.oid && rows.len() < INSERT_ROWS => rows.push(row),
                _ => {
                    if let Some((r, rows)) = inserts.take() {
                        out.push(insert_statement(r, &rows));
                    }
                    inserts = Some((rel, vec![row]));
                }
            }
            continue;
        }
        if let Some((r, rows)) = inserts.take() {
            out.push(insert_statement(r, &rows));
        }
        out.push(exact(change)?);
    }
    if let Some((r, rows)) = inserts.take() {
        out.push(insert_statement(r, &rows));
    }
    Ok(out)
}

/// One change as its own statement; updates and deletes are checked to touch one row.
pub(super) fn exact(change: &Change) -> Result<String> {
    Ok(match change {
        Change::Insert { rel, new } => insert_statement(rel, &[row(new)?]),
        Change::Update { rel, old, new } => {
            let set: Vec<String> = rel
                .columns
                .iter()
                .zip(new)
                .filter(|(_, v)| !matches!(v, Value::UnchangedToast))
                .map(|(c, v)| Ok(format!("{} = {}", quote_ident(&c.name), literal(v)?)))
                .collect::<Result<_>>()?;
            format!(
                "WITH c AS (UPDATE {} SET {} WHERE {} RETURNING 1) \
                 SELECT pg_temp.doppel_check(count(*), 1, {}) FROM c",
                table(rel),
                set.join(", "),
                identity(rel, old.as_ref(), new)?,
                what("an update of", rel)
            )
        }
        Change::Delete { rel, old } => format!(
            "WITH c AS (DELETE FROM {} WHERE {} RETURNING 1) \
             SELECT pg_temp.doppel_check(count(*), 1, {}) FROM c",
            table(rel),
            identity(rel, Some(old), &[])?,
            what("a delete from", rel)
        ),
        Change::Truncate {
            rels,
            cascade,
            restart_identity,
        } => format!(
            "TRUNCATE ONLY {}{}{}",
            rels.iter().map(|r| table(r)).collect::<Vec<_>>().join(", "),
            if *restart_identity {
                " RESTART IDENTITY"
            } else {
                ""
            },
            if *cascade { " CASCADE" } else { "" }
        ),
    })
}

/// One table's runs in a batch.
struct Table {
    rel: Arc<Relation>,
    runs: Vec<Run>,
}

/// Consecutive changes of one table sent as one statement.
enum Run {
    Insert(Vec<String>),
    Update(Updates),
    Delete {
        keys: Vec<Vec<String>>,
        seen: HashSet<Vec<String>>,
    },
    /// A change that only its own statement can apply (a `REPLICA IDENTITY FULL` row).
    Exact(String),
}

/// An UPDATE run: rows that set the same columns, each found by its old key.
struct Updates {
    /// Which columns the rows set (an unchanged TOAST value is left as it is).
    set: Vec<bool>,
    /// Old key literals and the literals of the set columns, per row.
    rows: Vec<(Vec<String>, Vec<String>)>,
    /// Rows whose key did not change, by key: a later update of the row replaces its values.
    same_key: HashMap<Vec<String>, usize>,
    /// Every old and new key in the run.
    touched: HashSet<Vec<String>>,
}

impl Table {
    fn add(&mut self, change: &Change) -> Result<()> {
        let rel = &self.rel;
        let full = rel.replica_identity == ReplicaIdentity::Full;
        match change {
            Change::Insert { new, .. } => {
                let row = row(new)?;
                match self.runs.last_mut() {
                    Some(Run::Insert(rows)) if rows.len() < INSERT_ROWS => rows.push(row),
                    _ => self.runs.push(Run::Insert(vec![row])),
                }
            }
            Change::Update { old, new, .. } => {
                let new_key = key(rel, new);
                let old_key = match old {
                    None => new_key.clone(),
                    Some(OldRow::Key(v)) => key(rel, v),
                    Some(OldRow::Full(_)) => None,
                };
                let set: Vec<bool> = new
                    .iter()
                    .map(|v| !matches!(v, Value::UnchangedToast))
                    .collect();
                let (Some(old_key), Some(new_key), false, true) =
                    (old_key, new_key, full, set.contains(&true))
                else {
                    self.runs.push(Run::Exact(exact(change)?));
                    return Ok(());
                };
                let values: Vec<String> = new
                    .iter()
                    .filter(|v| !matches!(v, Value::UnchangedToast))
                    .map(literal)
                    .collect::<Result<_>>()?;
                if let Some(Run::Update(u)) = self.runs.last_mut() {
                    if u.set == set && u.rows.len() < KEYED_ROWS {
                        if old_key == new_key {
                            if let Some(&i) = u.same_key.get(&old_key) {
                                u.rows[i].1 = values;
                                return Ok(());
                            }
                        }
                        if !u.touched.contains(&old_key) && !u.touched.contains(&new_key) {
                            u.add(old_key, new_key, values);
                            return Ok(());
                        }
                    }
                }
                let mut u = Updates {
                    set,
                    rows: Vec::new(),
                    same_key: HashMap::new(),
                    touched: HashSet::new(),
                };
                u.add(old_key, new_key, values);
                self.runs.push(Run::Update(u));
            }
            Change::Delete { old, .. } => {
                let old_key = match old {
                    OldRow::Key(v) if !full => key(rel, v),
                    _ => None,
                };
                let Some(old_key) = old_key else {
                    self.runs.push(Run::Exact(exact(change)?));
                    return Ok(());
                };
                if let Some(Run::Delete { keys, seen }) = self.runs.last_mut() {
                    if keys.len() < KEYED_ROWS && seen.insert(old_key.clone()) {
                        keys.push(old_key);
                        return Ok(());
                    }
                }
                self.runs.push(Run::Delete {
                    keys: vec![old_key.clone()],
                    seen: HashSet::from([old_key]),
                });
            }
            Change::Truncate { .. } => self.runs.push(Run::Exact(exact(change)?)),
        }
        Ok(())
    }

    fn statements(&self, types: &[String], out: &mut Vec<String>) {
        let rel = &self.rel;
        let keys: Vec<usize> = (0..rel.columns.len())
            .filter(|&i| rel.columns[i].key)
            .collect();
        let cast = |i: usize| match types.get(i) {
            Some(t) if !t.is_empty() => format!("::{t}"),
            _ => String::new(),
        };
        let join = keys
            .iter()
            .enumerate()
            .map(|(j, &i)| {
                format!(
                    "doppel_t.{} = doppel_v.o{j}",
                    quote_ident(&rel.columns[i].name)
                )
            })
            .collect::<Vec<_>>()
            .join(" AND ");
        for run in &self.runs {
            match run {
                Run::Insert(rows) => out.push(insert_statement(rel, rows)),
                Run::Exact(sql) => out.push(sql.clone()),
                Run::Update(u) => {
                    let set_columns: Vec<usize> = (0..u.set.len()).filter(|&i| u.set[i]).collect();
                    // The first row carries the types; the others' literals take them.
                    let rows: Vec<String> = u
                        .rows
                        .iter()
                        .enumerate()
                        .map(|(r, (old, new))| {
                            let typed = |v: &String, col: usize| {
                                if r == 0 {
                                    format!("{v}{}", cast(col))
                                } else {
                                    v.clone()
                                }
                            };
                            let values: Vec<String> = old
                                .iter()
                                .zip(&keys)
                                .map(|(v, &c)| typed(v, c))
                                .chain(new.iter().zip(&set_columns).map(|(v, &c)| typed(v, c)))
                                .collect();
                            format!("({})", values.join(", "))
                        })
                        .collect();
                    let names: Vec<String> = (0..keys.len())
                        .map(|j| format!("o{j}"))
                        .chain((0..set_columns.len()).map(|j| format!("n{j}")))
                        .collect();
                    let set: Vec<String> = set_columns
                        .iter()
                        .enumerate()
                        .map(|(j, &c)| {
                            format!("{} = doppel_v.n{j}", quote_ident(&rel.columns[c].name))
                        })
                        .collect();
                    out.push(format!(
                        "WITH c AS (UPDATE {} AS doppel_t SET {} FROM (VALUES {}) AS doppel_v ({}) \
                         WHERE {join} RETURNING 1) \
                         SELECT pg_temp.doppel_check(count(*), {}, {}) FROM c",
                        table(rel),
                        set.join(", "),
                        rows.join(", "),
                        names.join(", "),
                        u.rows.len(),
                        what("an update of", rel)
                    ));
                }
                Run::Delete { keys: rows, .. } => {
                    let values: Vec<String> = rows
                        .iter()
                        .enumerate()
                        .map(|(r, old)| {
                            let values: Vec<String> = old
                                .iter()
                                .zip(&keys)
                                .map(|(v, &c)| {
                                    if r == 0 {
                                        format!("{v}{}", cast(c))
                                    } else {
                                        v.clone()
                                    }
                                })
                                .collect();
                            format!("({})", values.join(", "))
                        })
                        .collect();
                    let names: Vec<String> = (0..keys.len()).map(|j| format!("o{j}")).collect();
                    out.push(format!(
                        "WITH c AS (DELETE FROM {} AS doppel_t USING (VALUES {}) AS doppel_v ({}) \
                         WHERE {join} RETURNING 1) \
                         SELECT pg_temp.doppel_check(count(*), {}, {}) FROM c",
                        table(rel),
                        values.join(", "),
                        names.join(", "),
                        rows.len(),
                        what("a delete from", rel)
                    ));
                }
            }
        }
    }
}

impl Updates {
    fn add(&mut self, old_key: Vec<String>, new_key: Vec<String>, values: Vec<String>) {
        if old_key == new_key {
            self.same_key.insert(old_key.clone(), self.rows.len());
        }
        self.touched.insert(new_key);
        self.touched.insert(old_key.clone());
        self.rows.push((old_key, values));
    }
}

/// Sends every table's runs, in the order the tables first changed.
fn drain(
    tables: &mut Vec<Table>,
    index: &mut HashMap<u32, usize>,
    types: &Types,
    out: &mut Vec<String>,
) {
    for t in tables.drain(..) {
        t.statements(types.get(&t.rel.oid).map_or(&[], Vec::as_slice), out);
    }
    index.clear();
}

/// The key literals of a row (its replica identity columns), or `None` when a key value
/// cannot be matched with `=` (NULL, or an unchanged TOAST value the stream left out).
fn key(rel: &Relation, values: &[Value]) -> Option<Vec<String>> {
    let mut key = Vec::new();
    for (c, v) in rel.columns.iter().zip(values) {
        if c.key {
            match v {
                Value::Null | Value::UnchangedToast => return None,
                v => key.push(literal(v).ok()?),
            }
        }
    }
    (!key.is_empty()).then_some(key)
}

fn table(rel: &Relation) -> String {
    qualified(&rel.namespace, &rel.name)
}

fn what(action: &str, rel: &Relation) -> String {
    quote_literal(&format!("{action} {}.{}", rel.namespace, rel.name))
}

fn row(values: &[Value]) -> Result<String> {
    Ok(format!(
        "({})",
        values
            .iter()
            .map(literal)
            .collect::<Result<Vec<_>>>()?
            .join(", ")
    ))
}

fn insert_statement(rel: &Relation, rows: &[String]) -> String {
    let columns: Vec<String> = rel.columns.iter().map(|c| quote_ident(&c.name)).collect();
    format!(
        "INSERT INTO {} ({}) VALUES {}",
        table(rel),
        columns.join(", "),
        rows.join(", ")
    )
}

/// A value as an SQL literal (untyped: the column's type reads it).
fn literal(v: &Value) -> Result<String> {
    match v {
        Value::Null => Ok("NULL".into()),
        Value::Text(bytes) | Value::Binary(bytes) => {
            std::str::from_utf8(bytes).map(quote_literal).map_err(|_| {
                Error::Repository(
                    "an archived value is not UTF-8: replay needs a UTF-8 source database".into(),
                )
            })
        }
        Value::UnchangedToast => Err(Error::Repository(
            "an archived row lacks a value the replay needs (an unchanged TOAST value in a key)"
                .into(),
        )),
    }
}

/// The WHERE clause that finds the changed row: its key columns (from the old key, or the
/// new row when the key did not change), or, for `REPLICA IDENTITY FULL`, the first row
/// equal to the whole old row, compared as text (types without `=` included).
fn identity(rel: &Relation, old: Option<&OldRow>, new: &[Value]) -> Result<String> {
    let full =
        matches!(old, Some(OldRow::Full(_))) || rel.replica_identity == ReplicaIdentity::Full;
    let values = match old {
        Some(OldRow::Key(v)) | Some(OldRow::Full(v)) => v.as_slice(),
        None => new,
    };
    let mut terms = Vec::new();
    for (c, v) in rel.columns.iter().zip(values) {
        if !full && !c.key {
            continue;
        }
        let col = quote_ident(&c.name);
        match v {
            Value::UnchangedToast => continue,
            Value::Null => terms.push(format!("{col} IS NULL")),
            v if full => terms.push(format!("{col}::text = {}", literal(v)?)),
            v => terms.push(format!("{col} = {}", literal(v)?)),
        }
    }
    if terms.is_empty() {
        return Err(Error::Repository(format!(
            "a change of {}.{} carries no replica identity to find its row by",
            rel.namespace, rel.name
        )));
    }
    let table = table(rel);
    Ok(if full {
        format!(
            "ctid = (SELECT ctid FROM {table} WHERE {} LIMIT 1)",
            terms.join(" AND ")
        )
    } else {
        terms.join(" AND ")
    })
}

#[cfg(test)]
mod tests;
