//! Referentially complete subsets, taken at the source inside the snapshot's transaction.
//!
//! A `[subset]` table in a rules file names targets: a table with a `where` condition, a
//! percentage or a row limit (sampled deterministically from `seed`). From the target rows
//! the closure adds every row a kept row references through a foreign key (declared, or
//! virtual: declared in the rules), transitively, and, for the tables listed in `follow`,
//! every row referencing a kept row. Rows are tracked by `ctid` per leaf table, which the
//! one snapshot keeps stable, and the closure iterates to a fixed point, so cycles
//! (self-references, circular chains) need no manual break. A table not reached that
//! references a reached one keeps only the rows whose references are kept (or NULL); other
//! tables not reached keep all their rows, or none (`unreached = "schema-only"`), or are left
//! out altogether (`unreached = "none"`) unless a kept table's foreign key needs them. Each kept
//! table is then read with `COPY (… WHERE ctid = ANY(…))`, a TID scan.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

use crate::catalog::qualified;
use crate::catalog::{Catalog, TableName};
use crate::error::{pg, Error, Result};

/// The `[subset]` section of a rules file.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SubsetSpec {
    /// Seed of the deterministic sampling of `percent` and `limit` targets.
    #[serde(default)]
    pub seed: u64,
    /// What tables the closure does not reach keep.
    #[serde(default)]
    pub unreached: Unreached,
    /// Where the subset starts.
    pub targets: Vec<Target>,
    /// Children followed: rows of `child` referencing a kept row of `parent` are kept too.
    #[serde(default)]
    pub follow: Vec<Follow>,
    /// Relations the schema does not declare.
    #[serde(default)]
    pub virtual_fks: Vec<VirtualFk>,
    /// The file it came from, for messages.
    #[serde(skip)]
    pub file: PathBuf,
}

/// What a table the closure does not reach keeps.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Unreached {
    /// Every row.
    #[default]
    All,
    /// No row (the table is created empty).
    SchemaOnly,
    /// Left out, schema and rows, unless a table that is kept declares a foreign key to it:
    /// that one is created empty, so that the key can be created.
    #[serde(rename = "none")]
    LeftOut,
}

impl Unreached {
    /// Whether unreached tables lose their rows.
    fn empties(self) -> bool {
        self != Unreached::All
    }
}

/// One starting point of the subset.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// `schema.table`.
    pub table: String,
    /// A single SQL expression over the table's columns.
    #[serde(rename = "where", default)]
    pub condition: Option<String>,
    /// A share of the rows, 0 < percent <= 100.
    #[serde(default)]
    pub percent: Option<f64>,
    /// At most this many rows.
    #[serde(default)]
    pub limit: Option<u64>,
}

impl Target {
    /// `public.orders where …`, `public.reviews 5%`, `public.events limit 1000`.
    fn describe(&self) -> String {
        let mut parts = vec![self.table.clone()];
        if let Some(c) = &self.condition {
            parts.push(format!("where {c}"));
        }
        if let Some(p) = self.percent {
            parts.push(format!("{p}%"));
        }
        if let Some(l) = self.limit {
            parts.push(format!("limit {l}"));
        }
        parts.join(" ")
    }
}

/// A parent → child relation along which the subset also keeps children.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Follow {
    /// The referenced table.
    pub parent: String,
    /// The referencing table.
    pub child: String,
}

/// A foreign key the schema does not declare: `from(columns)` references `to(references)`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VirtualFk {
    /// The referencing table.
    pub from: String,
    /// Its columns.
    pub columns: Vec<String>,
    /// The referenced table.
    pub to: String,
    /// Its columns, paired with `columns`.
    pub references: Vec<String>,
}

#[derive(Deserialize)]
struct FileWithSubset {
    subset: Option<toml::Spanned<SubsetSpec>>,
}

/// Written first into a subset's digest, so that a change of the encoding changes every digest.
const DIGEST_TAG: &str = "doppel subset digest v1\n";

impl SubsetSpec {
    /// BLAKE3 (hex) of what the spec means: its fields in a fixed order, not the file's
    /// text, so that comments, layout and the file's name do not make a new series.
    pub fn digest(&self) -> String {
        let body = serde_json::to_vec(self).expect("a subset spec serializes");
        let mut h = blake3::Hasher::new();
        h.update(DIGEST_TAG.as_bytes());
        h.update(&body);
        h.finalize().to_hex().to_string()
    }

    /// What a manifest records of the subset it keeps.
    pub fn record(&self) -> crate::repo::manifest::SubsetRecord {
        crate::repo::manifest::SubsetRecord {
            digest: self.digest(),
            targets: self.targets.iter().map(Target::describe).collect(),
        }
    }

    /// The `[subset]` of the rules files `files`: exactly one file must hold one.
    pub fn load(files: &[PathBuf]) -> Result<SubsetSpec> {
        SubsetSpec::find(files)?.ok_or_else(|| {
            Error::Config(
                "--subset: no rules file has a [subset] section; add one with targets, e.g. \
                 [[subset.targets]] table = \"public.orders\" where = \"id % 100 = 0\""
                    .into(),
            )
        })
    }

    /// The `[subset]` of the rules files `files`, if one has it; two are refused.
    pub fn find(files: &[PathBuf]) -> Result<Option<SubsetSpec>> {
        let mut found: Option<SubsetSpec> = None;
        for file in files {
            let text = std::fs::read_to_string(file)
                .map_err(crate::error::io(format!("cannot read {}", file.display())))?;
            if !text.contains("subset") {
                continue;
            }
            let parsed: FileWithSubset = toml::from_str(&text).map_err(|e| {
                let (line, col) = e
                    .span()
                    .map(|s| crate::error::line_col(&text, s.start))
                    .unwrap_or((1, 1));
                Error::Config(format!(
                    "{}:{line}:{col}: {}",
                    file.display(),
                    e.message().trim_end()
                ))
            })?;
            let Some(spec) = parsed.subset else { continue };
            if let Some(first) = &found {
                return Err(Error::Config(format!(
                    "{}: a second [subset]; {} has one already: keep one",
                    file.display(),
                    first.file.display()
                )));
            }
            let mut spec = spec.into_inner();
            spec.file = file.clone();
            found = Some(spec);
        }
        Ok(found)
    }

    /// Checks the spec against the source's catalog before any row is read.
    pub fn check(&self, catalog: &Catalog) -> Result<()> {
        let at = |what: String| Error::Config(format!("{} [subset]: {what}", self.file.display()));
        let table = |name: &str| -> Result<&crate::catalog::CatalogTable> {
            let t = TableName::parse(name).map_err(|e| at(e.to_string()))?;
            catalog
                .tables
                .iter()
                .find(|c| c.schema == t.schema && c.name == t.name)
                .ok_or_else(|| at(format!("table {name} does not exist in the source")))
        };
        let has_columns = |t: &crate::catalog::CatalogTable, cols: &[String]| -> Result<()> {
            for c in cols {
                if !t.columns.iter().any(|x| &x.name == c) {
                    return Err(at(format!("{}.{} has no column {c}", t.schema, t.name)));
                }
            }
            Ok(())
        };
        if self.targets.is_empty() {
            return Err(at("no targets: add [[subset.targets]]".into()));
        }
        for t in &self.targets {
            table(&t.table)?;
            let given = [
                t.condition.is_some(),
                t.percent.is_some(),
                t.limit.is_some(),
            ];
            if given.iter().filter(|g| **g).count() != 1 {
                return Err(at(format!(
                    "target {} needs exactly one of where, percent or limit",
                    t.table
                )));
            }
            if let Some(p) = t.percent {
                if !(p > 0.0 && p <= 100.0) {
                    return Err(at(format!(
                        "target {}: percent = {p}: use more than 0, at most 100",
                        t.table
                    )));
                }
            }
            if let Some(cond) = &t.condition {
                check_expression(cond)
                    .map_err(|e| at(format!("target {}: where: {e}", t.table)))?;
            }
        }
        for f in &self.follow {
            let (parent, child) = (table(&f.parent)?, table(&f.child)?);
            let declared = child
                .foreign_keys
                .iter()
                .any(|k| k.ref_schema == parent.schema && k.ref_table == parent.name);
            let declared = declared
                || self
                    .virtual_fks
                    .iter()
                    .any(|v| v.from == f.child && v.to == f.parent);
            if !declared {
                return Err(at(format!(
                    "follow: {} does not reference {} (no foreign key, declared or virtual)",
                    f.child, f.parent
                )));
            }
        }
        for v in &self.virtual_fks {
            let (from, to) = (table(&v.from)?, table(&v.to)?);
            has_columns(from, &v.columns)?;
            has_columns(to, &v.references)?;
            if v.columns.len() != v.references.len() || v.columns.is_empty() {
                return Err(at(format!(
                    "virtual foreign key {} -> {}: columns and references must pair up",
                    v.from, v.to
                )));
            }
        }
        Ok(())
    }
}

/// A `where` condition must be one SQL expression: no second statement, no trailing text.
pub fn check_expression(cond: &str) -> std::result::Result<(), String> {
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;
    use sqlparser::tokenizer::Token;
    let dialect = PostgreSqlDialect {};
    let mut parser = Parser::new(&dialect)
        .try_with_sql(cond)
        .map_err(|e| format!("{e}"))?;
    parser
        .parse_expr()
        .map_err(|e| format!("not an SQL expression: {e}"))?;
    match parser.peek_token().token {
        Token::EOF => Ok(()),
        t => Err(format!(
            "only a single expression is allowed; `{t}` and what follows is not part of it"
        )),
    }
}

/// An edge of the reference graph: rows of `child(columns)` reference `parent(ref_columns)`.
#[derive(Debug, Clone)]
struct Edge {
    child: TableName,
    columns: Vec<String>,
    parent: TableName,
    ref_columns: Vec<String>,
}

/// What the subset keeps of each leaf table: `Some(ctids)` (maybe none), or `None` for a
/// table the subset leaves whole.
pub type Kept = BTreeMap<TableName, Vec<String>>;

struct Graph<'a> {
    catalog: &'a Catalog,
    edges: Vec<Edge>,
    by_oid: HashMap<u32, TableName>,
}

impl Graph<'_> {
    fn partitioned(&self, t: &TableName) -> bool {
        self.catalog
            .tables
            .iter()
            .any(|c| c.schema == t.schema && c.name == t.name && c.partitioned)
    }

    /// `t` itself and its ancestors (for a partition).
    fn lineage(&self, t: &TableName) -> Vec<TableName> {
        let mut out = vec![t.clone()];
        let mut cur = t.clone();
        while let Some(p) = self
            .catalog
            .tables
            .iter()
            .find(|c| c.schema == cur.schema && c.name == cur.name)
            .and_then(|c| c.partition_of.clone())
        {
            out.push(p.clone());
            cur = p;
        }
        out
    }

    fn from(&self, t: &TableName) -> String {
        let q = qualified(&t.schema, &t.name);
        if self.partitioned(t) {
            q
        } else {
            format!("ONLY {q}")
        }
    }
}

/// `alias.a, alias.b`: a select list.
fn list(alias: &str, columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| format!("{alias}.{}", crate::catalog::quote_ident(c)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `(alias.a, alias.b)`: a row value to compare.
fn cols(alias: &str, columns: &[String]) -> String {
    format!("({})", list(alias, columns))
}

/// Computes the subset. `client` is in the snapshot's transaction.
pub async fn compute(client: &Client, catalog: &Catalog, spec: &SubsetSpec) -> Result<Kept> {
    let mut edges = Vec::new();
    for t in &catalog.tables {
        for fk in &t.foreign_keys {
            edges.push(Edge {
                child: TableName::new(&t.schema, &t.name),
                columns: fk.columns.clone(),
                parent: TableName::new(&fk.ref_schema, &fk.ref_table),
                ref_columns: fk.ref_columns.clone(),
            });
        }
    }
    for v in &spec.virtual_fks {
        edges.push(Edge {
            child: TableName::parse(&v.from).map_err(|e| Error::Config(e.to_string()))?,
            columns: v.columns.clone(),
            parent: TableName::parse(&v.to).map_err(|e| Error::Config(e.to_string()))?,
            ref_columns: v.references.clone(),
        });
    }
    let by_oid: HashMap<u32, TableName> = client
        .query(
            "SELECT c.oid, n.nspname::text, c.relname::text FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p')",
            &[],
        )
        .await
        .map_err(pg("cannot list tables for the subset"))?
        .iter()
        .map(|r| (r.get::<_, u32>(0), TableName::new(r.get::<_, String>(1), r.get::<_, String>(2))))
        .collect();
    let graph = Graph {
        catalog,
        edges,
        by_oid,
    };
    let follow: BTreeSet<(TableName, TableName)> = spec
        .follow
        .iter()
        .filter_map(|f| {
            Some((
                TableName::parse(&f.parent).ok()?,
                TableName::parse(&f.child).ok()?,
            ))
        })
        .collect();
    let mut kept: BTreeMap<TableName, BTreeSet<String>> = BTreeMap::new();
    let mut queue: Vec<(TableName, Vec<String>)> = Vec::new();
    // As a bigint parameter: the seed of `hashtextextended`.
    let seed = spec.seed as i64;

    for t in &spec.targets {
        let name = TableName::parse(&t.table).map_err(|e| Error::Config(e.to_string()))?;
        let from = graph.from(&name);
        // Sampling hashes the primary key (the whole row without one), never the ctid, so
        // that equal data gives an equal subset. `hashtextextended` is the server's own
        // seeded hash (the one hash partitioning relies on to stay put): several times
        // cheaper per row than md5, which matters on the large tables subsets are made of.
        let key = match catalog
            .tables
            .iter()
            .find(|c| c.schema == name.schema && c.name == name.name)
            .map(|c| c.primary_key.clone())
            .unwrap_or_default()
            .as_slice()
        {
            [] => "t::text".to_string(),
            [one] => format!("t.{}::text", crate::catalog::quote_ident(one)),
            many => format!("row{}::text", cols("t", many)),
        };
        let hash = format!("hashtextextended({key}, $1::bigint)");
        let sql = if let Some(cond) = &t.condition {
            format!("SELECT t.tableoid::oid, t.ctid::text FROM {from} t WHERE ($1::bigint IS NOT NULL) AND ({cond})")
        } else if let Some(p) = t.percent {
            let bound = (p / 100.0 * 4_294_967_296.0) as i64;
            format!(
                "SELECT t.tableoid::oid, t.ctid::text FROM {from} t \
                 WHERE ({hash} & 4294967295) < {bound}"
            )
        } else {
            let n = t.limit.unwrap_or(0);
            format!("SELECT t.tableoid::oid, t.ctid::text FROM {from} t ORDER BY {hash} LIMIT {n}")
        };
        // The statement as sent, so that a user can see what their condition became.
        tracing::debug!(table = %name, seed, "subset target: {sql}");
        let rows = client.query(sql.as_str(), &[&seed]).await.map_err(|e| {
            Error::Postgres(format!(
                "subset target {name} ({}): {}",
                spec.file.display(),
                crate::error::describe_pg(&e)
            ))
        })?;
        add(&graph, &mut kept, &mut queue, rows);
    }

    // The closure: parents of kept rows, and children of kept rows for followed tables.
    while let Some((leaf, ctids)) = queue.pop() {
        let lineage = graph.lineage(&leaf);
        for e in graph.edges.iter().filter(|e| lineage.contains(&e.child)) {
            let (to, why) = (&e.parent, format!("cannot follow {leaf} to {}", e.parent));
            let hop = Hop {
                to,
                to_columns: &e.ref_columns,
                from_columns: &e.columns,
            };
            add(
                &graph,
                &mut kept,
                &mut queue,
                hop.rows(client, &graph, &leaf, &ctids, why).await?,
            );
        }
        let followed = graph.edges.iter().filter(|e| {
            lineage.contains(&e.parent) && follow.contains(&(e.parent.clone(), e.child.clone()))
        });
        for e in followed {
            let (to, why) = (
                &e.child,
                format!("cannot follow {leaf} to its rows in {}", e.child),
            );
            let hop = Hop {
                to,
                to_columns: &e.columns,
                from_columns: &e.ref_columns,
            };
            add(
                &graph,
                &mut kept,
                &mut queue,
                hop.rows(client, &graph, &leaf, &ctids, why).await?,
            );
        }
    }

    // Tables not reached that reference kept ones keep only rows whose references are kept
    // (or NULL); shrinking until nothing changes handles chains and cycles among them.
    let closure: BTreeSet<TableName> = kept.keys().cloned().collect();
    let leaves: Vec<TableName> = catalog
        .tables
        .iter()
        .filter(|t| !t.partitioned)
        .map(|t| TableName::new(&t.schema, &t.name))
        .filter(|t| !closure.contains(t))
        .collect();
    let mut filtered: BTreeMap<TableName, BTreeSet<String>> = BTreeMap::new();
    loop {
        let mut changed = false;
        for leaf in &leaves {
            let Some(cond) = reference_condition(&graph, leaf, &kept, &filtered, spec.unreached)
            else {
                continue;
            };
            let sql = format!(
                "SELECT c.ctid::text FROM ONLY {} c WHERE {cond}",
                qualified(&leaf.schema, &leaf.name)
            );
            let rows: BTreeSet<String> = client
                .query(sql.as_str(), &[])
                .await
                .map_err(pg(format!(
                    "cannot filter {leaf} to the kept rows it references"
                )))?
                .iter()
                .map(|r| r.get(0))
                .collect();
            if filtered.get(leaf) != Some(&rows) {
                filtered.insert(leaf.clone(), rows);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut out: Kept = kept
        .into_iter()
        .map(|(t, s)| (t, s.into_iter().collect()))
        .collect();
    out.extend(
        filtered
            .into_iter()
            .map(|(t, s)| (t, s.into_iter().collect())),
    );
    if spec.unreached.empties() {
        for leaf in &leaves {
            out.entry(leaf.clone()).or_default();
        }
    }
    Ok(out)
}

/// The tables `unreached = "none"` leaves out: those the closure left empty (`kept` maps
/// them to no row) and that were not reached, less every one a table that stays declares a
/// foreign key to (directly, or through its partitioned parent); repeated until nothing
/// changes, since a table that stays may itself have been a candidate.
pub fn left_out(catalog: &Catalog, spec: &SubsetSpec, kept: &Kept) -> BTreeSet<TableName> {
    if spec.unreached != Unreached::LeftOut {
        return BTreeSet::new();
    }
    let targets: BTreeSet<TableName> = spec
        .targets
        .iter()
        .filter_map(|t| TableName::parse(&t.table).ok())
        .collect();
    let mut out: BTreeSet<TableName> = kept
        .iter()
        .filter(|(t, rows)| rows.is_empty() && !targets.contains(*t))
        .map(|(t, _)| t.clone())
        .collect();
    loop {
        let before = out.len();
        for t in catalog.tables.iter() {
            let name = t.table_name();
            if out.contains(&name) {
                continue;
            }
            for fk in &t.foreign_keys {
                let parent = TableName::new(fk.ref_schema.as_str(), fk.ref_table.as_str());
                out.retain(|l| !catalog.partition_ancestors(l).contains(&parent));
            }
        }
        if out.len() == before {
            return out;
        }
    }
}

/// One step of the closure along an edge, in either direction: the rows of `to` whose
/// `to_columns` match the `from_columns` of the given rows of a leaf.
struct Hop<'e> {
    to: &'e TableName,
    to_columns: &'e [String],
    from_columns: &'e [String],
}

impl Hop<'_> {
    async fn rows(
        &self,
        client: &Client,
        graph: &Graph<'_>,
        leaf: &TableName,
        ctids: &[String],
        why: String,
    ) -> Result<Vec<tokio_postgres::Row>> {
        let sql = format!(
            "SELECT t.tableoid::oid, t.ctid::text FROM {} t WHERE {} IN \
             (SELECT {} FROM ONLY {} f WHERE f.ctid = ANY($1::text[]::tid[]))",
            graph.from(self.to),
            cols("t", self.to_columns),
            list("f", self.from_columns),
            qualified(&leaf.schema, &leaf.name)
        );
        client.query(sql.as_str(), &[&ctids]).await.map_err(pg(why))
    }
}

fn add(
    graph: &Graph<'_>,
    kept: &mut BTreeMap<TableName, BTreeSet<String>>,
    queue: &mut Vec<(TableName, Vec<String>)>,
    rows: Vec<tokio_postgres::Row>,
) {
    let mut fresh: BTreeMap<TableName, Vec<String>> = BTreeMap::new();
    for r in rows {
        let Some(leaf) = graph.by_oid.get(&r.get::<_, u32>(0)) else {
            continue;
        };
        let ctid: String = r.get(1);
        if kept.entry(leaf.clone()).or_default().insert(ctid.clone()) {
            fresh.entry(leaf.clone()).or_default().push(ctid);
        }
    }
    queue.extend(fresh);
}

/// The condition a table outside the closure must meet, or `None` when it references no
/// table the subset changes (it then keeps every row, or none under `schema-only`).
fn reference_condition(
    graph: &Graph<'_>,
    leaf: &TableName,
    kept: &BTreeMap<TableName, BTreeSet<String>>,
    filtered: &BTreeMap<TableName, BTreeSet<String>>,
    unreached: Unreached,
) -> Option<String> {
    let lineage = graph.lineage(leaf);
    let mut conds = Vec::new();
    for e in graph.edges.iter().filter(|e| lineage.contains(&e.child)) {
        let parent_leaves: Vec<&TableName> = kept
            .keys()
            .chain(filtered.keys())
            .filter(|l| graph.lineage(l).contains(&e.parent))
            .collect();
        let any_null = e
            .columns
            .iter()
            .map(|c| format!("c.{} IS NULL", crate::catalog::quote_ident(c)))
            .collect::<Vec<_>>()
            .join(" OR ");
        if parent_leaves.is_empty() {
            if unreached.empties() {
                conds.push(format!("({any_null})"));
            }
            continue;
        }
        let sources: Vec<String> = parent_leaves
            .iter()
            .map(|l| {
                let set = kept.get(*l).or_else(|| filtered.get(*l)).expect("listed");
                format!(
                    "SELECT {} FROM ONLY {} p WHERE p.ctid = ANY({}::tid[])",
                    list("p", &e.ref_columns),
                    qualified(&l.schema, &l.name),
                    tid_array(set.iter())
                )
            })
            .collect();
        conds.push(format!(
            "({any_null} OR {} IN ({}))",
            cols("c", &e.columns),
            sources.join(" UNION ALL ")
        ));
    }
    (!conds.is_empty()).then(|| conds.join(" AND "))
}

/// A `'{…}'` literal of ctids (`(0,1)` text is safe to quote: digits, parentheses, comma).
pub fn tid_array<'a>(ctids: impl Iterator<Item = &'a String>) -> String {
    let items: Vec<String> = ctids.map(|c| format!("\"{c}\"")).collect();
    format!("'{{{}}}'", items.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_conditions_must_be_one_expression() {
        assert!(
            check_expression("ordered_at > now() - interval '30 days' AND status = 'paid'").is_ok()
        );
        assert!(check_expression("id IN (SELECT id FROM vip)").is_ok());
        for bad in [
            "true; DROP TABLE customers",
            "1 = 1) OR (true",
            "id = 1 -- fine\n; DELETE FROM t",
            "",
            "SELECT 1",
        ] {
            assert!(check_expression(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn tid_arrays_quote_every_ctid() {
        let v = ["(0,1)".to_string(), "(12,7)".to_string()];
        assert_eq!(tid_array(v.iter()), "'{\"(0,1)\",\"(12,7)\"}'");
    }

    fn spec(text: &str, file: &str) -> SubsetSpec {
        let parsed: FileWithSubset = toml::from_str(text).unwrap();
        let mut spec = parsed.subset.unwrap().into_inner();
        spec.file = file.into();
        spec
    }

    #[test]
    fn the_digest_follows_the_spec_not_its_text() {
        let base = spec(
            "[subset]\nseed = 7\n[[subset.targets]]\ntable = \"public.orders\"\npercent = 5\n",
            "a.toml",
        );
        // Comments, layout and the file's name leave the digest alone.
        let restyled = spec(
            "# the shop's slice\n[subset]\nseed = 7   # fixed\ntargets = [ { table = \"public.orders\", percent = 5 } ]\n",
            "elsewhere/b.toml",
        );
        assert_eq!(base.digest(), restyled.digest());
        assert_eq!(base.digest().len(), 64);
        // What the subset keeps changes it.
        for changed in [
            "[subset]\nseed = 8\n[[subset.targets]]\ntable = \"public.orders\"\npercent = 5\n",
            "[subset]\nseed = 7\n[[subset.targets]]\ntable = \"public.orders\"\npercent = 6\n",
            "[subset]\nseed = 7\nunreached = \"none\"\n[[subset.targets]]\ntable = \"public.orders\"\npercent = 5\n",
        ] {
            assert_ne!(base.digest(), spec(changed, "a.toml").digest(), "{changed}");
        }
        let record = base.record();
        assert_eq!(record.digest, base.digest());
        assert_eq!(record.targets, ["public.orders 5%"]);
    }
}
