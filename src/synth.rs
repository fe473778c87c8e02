//! Synthetic data: rows generated for an empty database from its schema and the rules,
//! deterministically from a seed.
//!
//! The catalog gives each column its type (through domains), NOT NULL, enum labels, keys and
//! foreign keys; CHECK constraints add ranges, sets and lengths ([`bounds`]) and are
//! evaluated on every row. Tables are generated parents first ([`order`]), foreign keys
//! drawing from the parent's generated rows. A cycle is broken at a nullable key, filled once
//! every table exists, or, when all its keys are NOT NULL, by drawing one parent's keys
//! before the cycle's rows; the keys that break cycles are set aside while the rows load and
//! added back, validated, in the same transaction. Columns unique on their own are
//! sequences; other unique sets are kept unique by drawing again. When rules are given,
//! every generated row then goes through the same rewriting an anonymized snapshot applies,
//! so a column anonymized with a fake email gets generated emails. Everything loads in one
//! transaction.
//!
//! Rows are held in memory until they load: this is sized for seed data (up to a few
//! million values), not for a production-sized fake.

pub mod bounds;
pub mod order;
pub mod partitions;
pub mod table;
pub mod value;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;
use futures::SinkExt;
use rand::SeedableRng;
use serde::Serialize;
use tokio_postgres::Client;

use crate::anonymize::Key;
use crate::catalog::qualified;
use crate::catalog::{read_catalog, Catalog, CatalogTable, TableName};
use crate::error::{describe_pg, pg, Error, Result};
use crate::rules::compile::check_condition;
use crate::rules::{column_type, CompiledRules, Rewriter, RuleSet, TableAction, When};
use table::{FkGen, Rows, TableGen};
use value::ColumnGen;

/// What to generate.
#[derive(Debug, Clone, Default)]
pub struct SynthOptions {
    /// Rows per table; tables not named get `default_rows`.
    pub rows: BTreeMap<TableName, u64>,
    /// Rows of every table not named in `rows`.
    pub default_rows: u64,
    /// The seed: equal seeds (and schema, rules and counts) give equal rows.
    pub seed: u64,
    /// Rules whose column transformers shape the generated values.
    pub rules: Option<Arc<RuleSet>>,
}

/// What was generated.
#[derive(Debug, Clone, Serialize)]
pub struct SynthReport {
    /// The seed used.
    pub seed: u64,
    /// Rows loaded per table, in load order.
    pub tables: Vec<SynthTable>,
    /// Tables that got fewer rows than asked, and why.
    pub warnings: Vec<String>,
}

impl SynthReport {
    /// Rows loaded, every table together.
    pub fn total_rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }
}

/// One table's generated rows.
#[derive(Debug, Clone, Serialize)]
pub struct SynthTable {
    /// `schema.table`.
    pub table: String,
    /// Rows loaded.
    pub rows: u64,
}

/// Parses `public.customer=1000,public.orders=5000`.
pub fn parse_rows(spec: &str) -> Result<BTreeMap<TableName, u64>> {
    let mut out = BTreeMap::new();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (table, n) = item.rsplit_once('=').ok_or_else(|| {
            Error::Config(format!(
                "--rows: `{item}` is not TABLE=COUNT, like public.customer=1000"
            ))
        })?;
        let table =
            TableName::parse(table.trim()).map_err(|e| Error::Config(format!("--rows: {e}")))?;
        let n: u64 = n.trim().parse().map_err(|_| {
            Error::Config(format!(
                "--rows: `{}` is not a row count (in `{item}`)",
                n.trim()
            ))
        })?;
        out.insert(table, n);
    }
    Ok(out)
}

/// The key generated rows are rewritten with: derived from the seed alone, since no real
/// value is at stake and equal seeds must give equal rows wherever they run.
fn seed_key(seed: u64) -> Result<Key> {
    Key::from_secret(&format!("doppel synthetic data, seed {seed}"))
        .map_err(|e| Error::Config(e.to_string()))
}

/// Generates rows for the empty database `client` is connected to and loads them in one
/// transaction; owned sequences then move past the generated keys.
pub async fn generate(client: &Client, opts: &SynthOptions) -> Result<SynthReport> {
    let catalog = read_catalog(client).await?;
    let checks = table_checks(client).await?;
    let partitioned = partitions::read(client).await?;
    for name in opts.rows.keys() {
        let t = catalog.table(name).ok_or_else(|| {
            Error::Config(format!(
                "--rows: table {name} does not exist in the database"
            ))
        })?;
        if let Some(root) = &t.partition_of {
            return Err(Error::Config(format!(
                "--rows: {name} is a partition of {root}; ask rows of the partitioned table, \
                 which routes them to its partitions"
            )));
        }
    }
    let compiled = match &opts.rules {
        None => None,
        Some(rules) => match CompiledRules::check_and_build(rules, &catalog, false) {
            (_, Some(c)) => Some(c),
            (report, None) => {
                return Err(Error::Config(format!(
                    "the rules cannot shape the generated data:\n{}",
                    report.to_string().trim_end()
                )))
            }
        },
    };

    let mut plans: BTreeMap<TableName, (TableGen, TableAction)> = BTreeMap::new();
    for t in catalog.tables.iter().filter(|t| t.partition_of.is_none()) {
        let name = t.table_name();
        let mut plan = plan_table(&catalog, t, checks.get(&name), partitioned.get(&name))?;
        let columns: Vec<String> = plan.columns.iter().map(|c| c.name.clone()).collect();
        let action = match &compiled {
            Some(c) => c.bind(&name, &columns)?,
            None => TableAction::Copy,
        };
        plan.rows = match action {
            TableAction::SchemaOnly | TableAction::Skip => 0,
            _ => opts.rows.get(&name).copied().unwrap_or(opts.default_rows),
        };
        plans.insert(name, (plan, action));
    }
    refuse_filled(client, &catalog, &plans).await?;

    let names: Vec<TableName> = plans
        .iter()
        .filter(|(_, (p, _))| p.rows > 0)
        .map(|(n, _)| n.clone())
        .collect();
    let edges: Vec<order::Edge> = plans
        .values()
        .filter(|(p, _)| p.rows > 0)
        .flat_map(|(p, _)| {
            p.fks.iter().map(|f| order::Edge {
                child: p.table.clone(),
                parent: f.parent.clone(),
                name: f.name.clone(),
                nullable: f.nullable,
                keyable: keyable(&plans, f),
            })
        })
        .collect();
    let order = order::order(&names, &edges).map_err(Error::Config)?;
    let sequence = order.tables;
    for (table, fk) in &order.deferred {
        if let Some((p, _)) = plans.get_mut(table) {
            p.fks
                .iter_mut()
                .filter(|f| &f.name == fk)
                .for_each(|f| f.deferred = true);
        }
    }

    // Keys drawn ahead: the NOT NULL keys that break cycles reference them before the
    // parent's rows are generated around them.
    let mut generated: HashMap<TableName, Rows> = HashMap::new();
    let mut ahead: BTreeMap<TableName, (table::Keys, Vec<String>)> = BTreeMap::new();
    for (parent, (columns, keys_of)) in key_columns(&plans, &order.keyed) {
        let mut rng = table_rng(opts.seed, &parent, "keys");
        let keys = plans[&parent]
            .0
            .keys(&mut rng, &columns)
            .map_err(|e| Error::Config(e.0))?;
        generated.insert(parent.clone(), keys.rows.clone());
        ahead.insert(parent, (keys, keys_of));
    }
    let mut warnings = Vec::new();
    for name in &sequence {
        let (plan, _) = &plans[name];
        let mut rng = table_rng(opts.seed, name, "rows");
        let keys = ahead.get(name);
        let rows = plan
            .generate_around(&mut rng, &generated, keys.map(|(k, _)| k))
            .map_err(|e| Error::Config(e.0))?;
        if let Some((keys, keys_of)) = keys.filter(|(k, _)| k.rows.rows.len() > rows.rows.len()) {
            // The table stopped short of the keys drawn ahead: what referenced the keys of
            // the missing rows points at rows that exist, when nothing else depends on it.
            let missing: HashSet<Vec<Option<String>>> = keys.rows.rows[rows.rows.len()..]
                .iter()
                .map(|k| keys.columns.iter().map(|&c| k[c].clone()).collect())
                .collect();
            for (child, fk_name) in &order.keyed {
                let child_plan = &plans[child].0;
                for fk in child_plan
                    .fks
                    .iter()
                    .filter(|f| &f.name == fk_name && &f.parent == name)
                {
                    // The key columns drawn ahead, in the order this key lists them.
                    let at: Vec<usize> = fk
                        .parent_columns
                        .iter()
                        .filter_map(|pc| keys.columns.iter().position(|c| c == pc))
                        .collect();
                    let missing: HashSet<Vec<Option<String>>> = missing
                        .iter()
                        .map(|k| at.iter().map(|&i| k[i].clone()).collect())
                        .collect();
                    let stuck = !child_plan.can_repoint(fk);
                    let mut rng = table_rng(opts.seed, child, &format!("repoint {fk_name}"));
                    let result = match generated.get_mut(child) {
                        Some(child_rows) if !stuck => {
                            table::repoint(&mut rng, fk, child_rows, &rows, &missing)
                        }
                        _ => Err(String::new()),
                    };
                    if result.is_err() {
                        return Err(Error::Config(format!(
                            "{name} stopped at {} of {} rows ({}), but {} already references \
                             the keys of {} rows, to close a cycle of NOT NULL foreign keys, \
                             and cannot point elsewhere; ask fewer rows of {name} with --rows \
                             {name}=N",
                            rows.rows.len(),
                            plan.rows,
                            rows.short.as_deref().unwrap_or("it stopped short"),
                            keys_of.join(" and "),
                            keys.rows.rows.len(),
                        )));
                    }
                }
            }
        }
        if let Some(why) = &rows.short {
            warnings.push(format!(
                "{name}: {} of {} rows: {why}",
                rows.rows.len(),
                plan.rows
            ));
        }
        generated.insert(name.clone(), rows);
    }
    for name in &sequence {
        for fk in plans[name].0.fks.iter().filter(|f| f.deferred) {
            let Some(parent) = generated.get(&fk.parent).cloned() else {
                continue;
            };
            let mut rng = table_rng(opts.seed, name, &fk.name);
            if let Some(rows) = generated.get_mut(name) {
                table::backfill(&mut rng, fk, rows, &parent);
            }
        }
    }

    let key = Arc::new(seed_key(opts.seed)?);
    let mut loads = Vec::with_capacity(sequence.len());
    for name in &sequence {
        let rows = &generated[name];
        let text = copy_text(name, rows, &plans[name].1, &key)?;
        loads.push((
            name.clone(),
            rows.columns.clone(),
            rows.rows.len() as u64,
            text,
        ));
    }
    let set_aside: Vec<(TableName, String)> =
        order.deferred.into_iter().chain(order.keyed).collect();
    load(client, &loads, &set_aside).await?;
    Ok(SynthReport {
        seed: opts.seed,
        tables: loads
            .iter()
            .map(|(n, _, rows, _)| SynthTable {
                table: n.to_string(),
                rows: *rows,
            })
            .collect(),
        warnings,
    })
}

/// A generator for one table (and purpose), seeded from the seed and the table's name: a
/// table's rows do not change when another table is added or asked more rows.
fn table_rng(seed: u64, table: &TableName, purpose: &str) -> rand_chacha::ChaCha8Rng {
    let mut h = blake3::Hasher::new();
    h.update(&seed.to_le_bytes());
    h.update(table.schema.as_bytes());
    h.update(&[0]);
    h.update(table.name.as_bytes());
    h.update(&[0]);
    h.update(purpose.as_bytes());
    rand_chacha::ChaCha8Rng::from_seed(*h.finalize().as_bytes())
}

/// Whether the parent of `fk` can draw the key columns `fk` references on its own: none of
/// them is a foreign key column of the parent.
fn keyable(plans: &BTreeMap<TableName, (TableGen, TableAction)>, fk: &FkGen) -> bool {
    plans.get(&fk.parent).is_some_and(|(parent, _)| {
        fk.parent_columns
            .iter()
            .all(|c| !parent.fks.iter().any(|f| f.columns.contains(c)))
    })
}

/// For each parent of a NOT NULL key that breaks a cycle: the columns to draw ahead (those
/// every such key references), and the keys, named, for messages.
fn key_columns(
    plans: &BTreeMap<TableName, (TableGen, TableAction)>,
    keyed: &order::Deferred,
) -> BTreeMap<TableName, (Vec<usize>, Vec<String>)> {
    let mut out: BTreeMap<TableName, (BTreeSet<usize>, Vec<String>)> = BTreeMap::new();
    for (table, name) in keyed {
        for fk in plans[table].0.fks.iter().filter(|f| &f.name == name) {
            let entry = out.entry(fk.parent.clone()).or_default();
            entry.0.extend(fk.parent_columns.iter().copied());
            entry.1.push(format!("{table} (foreign key {name})"));
        }
    }
    out.into_iter()
        .map(|(t, (columns, names))| (t, (columns.into_iter().collect(), names)))
        .collect()
}

/// How `t` is generated (its row count is set by the caller).
fn plan_table(
    catalog: &Catalog,
    t: &CatalogTable,
    checks: Option<&Vec<String>>,
    partitioned: Option<&(String, Vec<partitions::Partition>)>,
) -> Result<TableGen> {
    let mut bounds: HashMap<String, bounds::Bounds> = HashMap::new();
    let mut compiled_checks = Vec::new();
    for def in checks.into_iter().flatten() {
        if let Some(condition) = check_condition(def) {
            bounds::collect(&condition, None, &mut bounds);
            if let Ok(when) = When::parse(&condition) {
                compiled_checks.push((def.clone(), when));
            }
        }
    }
    let loaded: Vec<&crate::catalog::CatalogColumn> =
        t.columns.iter().filter(|c| !c.generated).collect();
    for c in &loaded {
        for def in &c.domain_checks {
            if let Some(condition) = check_condition(def) {
                bounds::collect(&condition, Some(("value", &c.name)), &mut bounds);
            }
        }
    }
    let position = |name: &str| loaded.iter().position(|c| c.name == name);
    let mut columns: Vec<ColumnGen> = loaded
        .iter()
        .map(|c| ColumnGen {
            name: c.name.clone(),
            ty: column_type(c),
            bounds: bounds.remove(&c.name).unwrap_or_default(),
            nullable: !c.not_null,
            sequential: false,
            partitions: match partitioned {
                Some((key, bounds)) if key == &c.name => bounds.clone(),
                _ => Vec::new(),
            },
        })
        .collect();
    let mut fks = Vec::new();
    for fk in &t.foreign_keys {
        let parent = TableName::new(fk.ref_schema.as_str(), fk.ref_table.as_str());
        let parent_table = catalog.table(&parent).ok_or_else(|| {
            Error::Config(format!(
                "{}: foreign key {} references {parent}, which is not in the catalog",
                t.table_name(),
                fk.name
            ))
        })?;
        let parent_loaded: Vec<&str> = parent_table
            .columns
            .iter()
            .filter(|c| !c.generated)
            .map(|c| c.name.as_str())
            .collect();
        let cols: Option<Vec<usize>> = fk.columns.iter().map(|c| position(c)).collect();
        let refs: Option<Vec<usize>> = fk
            .ref_columns
            .iter()
            .map(|c| parent_loaded.iter().position(|p| p == c))
            .collect();
        let (Some(cols), Some(refs)) = (cols, refs) else {
            continue;
        };
        fks.push(FkGen {
            name: fk.name.clone(),
            nullable: cols.iter().all(|&c| columns[c].nullable),
            columns: cols,
            parent,
            parent_columns: refs,
            deferred: false,
        });
    }
    let in_fk: BTreeSet<usize> = fks.iter().flat_map(|f| f.columns.iter().copied()).collect();
    let mut sets: Vec<Vec<usize>> = Vec::new();
    for set in std::iter::once(&t.primary_key).chain(&t.unique) {
        let idx: Option<Vec<usize>> = set.iter().map(|c| position(c)).collect();
        if let Some(idx) = idx.filter(|i| !i.is_empty()) {
            if !sets.contains(&idx) {
                sets.push(idx);
            }
        }
    }
    for set in &sets {
        if let [c] = set.as_slice() {
            if !in_fk.contains(c) {
                columns[*c].sequential = true;
            }
        }
    }
    let unique = sets
        .into_iter()
        .filter(|s| !s.iter().any(|&c| columns[c].sequential))
        .collect();
    Ok(TableGen {
        table: t.table_name(),
        columns,
        fks,
        unique,
        checks: compiled_checks,
        rows: 0,
    })
}

/// The CHECK constraints of every table, as `pg_get_constraintdef` writes them.
async fn table_checks(client: &Client) -> Result<HashMap<TableName, Vec<String>>> {
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text, pg_get_constraintdef(k.oid) \
             FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE k.contype = 'c' ORDER BY 1, 2, k.conname",
            &[],
        )
        .await
        .map_err(pg("cannot read the CHECK constraints"))?;
    let mut out: HashMap<TableName, Vec<String>> = HashMap::new();
    for r in rows {
        out.entry(TableName::new(r.get::<_, String>(0), r.get::<_, String>(1)))
            .or_default()
            .push(r.get(2));
    }
    Ok(out)
}

/// Refuses a database where a table to be filled already has rows: generated rows are
/// meant for an empty database, and mixing them with others would break its keys.
async fn refuse_filled(
    client: &Client,
    catalog: &Catalog,
    plans: &BTreeMap<TableName, (TableGen, TableAction)>,
) -> Result<()> {
    for (name, (plan, _)) in plans {
        if plan.rows == 0 {
            continue;
        }
        let only = if catalog.table(name).is_some_and(|t| t.partitioned) {
            ""
        } else {
            "ONLY "
        };
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM {only}{})",
            qualified(&name.schema, &name.name)
        );
        let filled: bool = client
            .query_one(&sql, &[])
            .await
            .map_err(pg(format!("cannot look into {name}")))?
            .get(0);
        if filled {
            return Err(Error::Refused(format!(
                "table {name} already has rows; synthetic data fills an empty database: start \
                 from an empty one with `doppel reseed ENV --synthetic`"
            )));
        }
    }
    Ok(())
}

/// The COPY text of `rows`, rewritten by the table's rules when it has any.
fn copy_text(
    name: &TableName,
    rows: &Rows,
    action: &TableAction,
    key: &Arc<Key>,
) -> Result<Vec<u8>> {
    let mut raw = Vec::new();
    let mut line = Vec::new();
    let mut rewriter = match action {
        TableAction::Transform(t) => Some(Rewriter::new(Arc::clone(t), Arc::clone(key))),
        _ => None,
    };
    for row in &rows.rows {
        line.clear();
        for (i, v) in row.iter().enumerate() {
            if i > 0 {
                line.push(b'\t');
            }
            crate::copytext::encode_field(v.as_deref().map(str::as_bytes), &mut line);
        }
        match &mut rewriter {
            Some(r) => r
                .rewrite(&line, &mut raw)
                .map_err(|e| Error::Anonymization(format!("generated rows of {name}: {e}")))?,
            None => {
                raw.extend_from_slice(&line);
                raw.push(b'\n');
            }
        }
    }
    Ok(raw)
}

/// Loads every table in one transaction. The foreign keys that close a cycle are deferred
/// when they are DEFERRABLE, else dropped while the rows load and added back after (with
/// their comment), which validates them; either way they are checked before the commit.
async fn load(
    client: &Client,
    loads: &[(TableName, Vec<String>, u64, Vec<u8>)],
    set_aside: &[(TableName, String)],
) -> Result<()> {
    client
        .batch_execute("BEGIN")
        .await
        .map_err(pg("cannot start the load transaction"))?;
    let result = async {
        let mut restore = Vec::new();
        let mut deferred = Vec::new();
        for (table, fk) in set_aside {
            let row = client
                .query_one(
                    "SELECT pg_get_constraintdef(k.oid), k.condeferrable, \
                     obj_description(k.oid, 'pg_constraint') FROM pg_constraint k \
                     JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = $1 AND c.relname = $2 AND k.conname = $3",
                    &[&table.schema, &table.name, fk],
                )
                .await
                .map_err(pg(format!("cannot read foreign key {fk} of {table}")))?;
            let (def, deferrable, comment): (String, bool, Option<String>) =
                (row.get(0), row.get(1), row.get(2));
            let t = qualified(&table.schema, &table.name);
            let c = crate::catalog::quote_ident(fk);
            if deferrable {
                let statement = format!("SET CONSTRAINTS {} DEFERRED", qualified(&table.schema, fk));
                client
                    .batch_execute(&statement)
                    .await
                    .map_err(pg(format!("cannot defer foreign key {fk} of {table}")))?;
                deferred.push(format!("foreign key {fk} of {table}"));
                continue;
            }
            client
                .batch_execute(&format!("ALTER TABLE {t} DROP CONSTRAINT {c}"))
                .await
                .map_err(pg(format!("cannot set foreign key {fk} of {table} aside")))?;
            restore.push(format!("ALTER TABLE {t} ADD CONSTRAINT {c} {def}"));
            if let Some(comment) = comment {
                restore.push(format!(
                    "COMMENT ON CONSTRAINT {c} ON {t} IS {}",
                    crate::catalog::quote_literal(&comment)
                ));
            }
        }
        for (table, columns, _, text) in loads {
            copy_in(client, table, columns, text).await?;
        }
        let broken = |statement: &str, e: tokio_postgres::Error| {
            Error::Postgres(format!(
                "the generated rows break a foreign key ({statement}): {}",
                describe_pg(&e)
            ))
        };
        for statement in &restore {
            client
                .batch_execute(statement)
                .await
                .map_err(|e| broken(&format!("`{statement}`"), e))?;
        }
        if !deferred.is_empty() {
            client
                .batch_execute("SET CONSTRAINTS ALL IMMEDIATE")
                .await
                .map_err(|e| broken(&deferred.join(", "), e))?;
        }
        client
            .batch_execute(crate::restore::load::SEQUENCES_PAST_KEYS)
            .await
            .map_err(pg("cannot move sequences past the generated keys"))
    }
    .await;
    match result {
        Ok(()) => client
            .batch_execute("COMMIT")
            .await
            .map_err(pg("cannot commit the generated rows")),
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
}

async fn copy_in(
    client: &Client,
    table: &TableName,
    columns: &[String],
    text: &[u8],
) -> Result<()> {
    let statement =
        crate::catalog::copy_statement(&table.schema, &table.name, columns, "FROM STDIN");
    let failed = |e: tokio_postgres::Error| {
        let hint = match e.code() {
            Some(c) if c == &tokio_postgres::error::SqlState::CHECK_VIOLATION => {
                "; doppel reads comparisons, BETWEEN, IN and length checks: give the column \
                 a rule that meets this one (or the partition bounds), or fill the table with \
                 a seed fixture"
            }
            _ => "",
        };
        Error::Postgres(format!(
            "cannot load the generated rows of {table}: {}{hint}",
            describe_pg(&e)
        ))
    };
    let sink = client.copy_in(&statement).await.map_err(failed)?;
    futures::pin_mut!(sink);
    for piece in text.chunks(1 << 20) {
        sink.send(Bytes::copy_from_slice(piece))
            .await
            .map_err(failed)?;
    }
    sink.finish().await.map_err(failed)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_counts_are_read_and_bad_ones_named() {
        let rows = parse_rows("public.customer=1000, public.orders=5").unwrap();
        assert_eq!(rows[&TableName::new("public", "customer")], 1000);
        assert_eq!(rows[&TableName::new("public", "orders")], 5);
        for (bad, says) in [
            ("public.customer", "TABLE=COUNT"),
            ("customer=10", "schema-qualified"),
            ("public.customer=ten", "`ten` is not a row count"),
        ] {
            let e = parse_rows(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn equal_seeds_give_equal_generators_and_tables_their_own() {
        use rand::RngCore;
        let t = TableName::new("public", "a");
        let u = TableName::new("public", "b");
        assert_eq!(
            table_rng(1, &t, "rows").next_u64(),
            table_rng(1, &t, "rows").next_u64()
        );
        assert_ne!(
            table_rng(1, &t, "rows").next_u64(),
            table_rng(2, &t, "rows").next_u64()
        );
        assert_ne!(
            table_rng(1, &t, "rows").next_u64(),
            table_rng(1, &u, "rows").next_u64()
        );
    }
}
