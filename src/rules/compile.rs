//! Rules made ready to run: every effective rule built into its transformer for the column's
//! real type, once, before any row is read — so that a rule that cannot work (a wrong
//! parameter, an output that cannot fit the column, a non-unique transformer on a key) stops
//! the snapshot with its `file:line:col`, never halfway through the data.
//!
//! [`CompiledRules::bind`] then gives, for one table and the columns its COPY stream carries,
//! what the snapshot does with it ([`TableAction`]); a [`Rewriter`] applies a table's rules to
//! its rows.

mod rewriter;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::check::effective_rules;
use super::model::{ColumnRule, Decision, Diagnostic, Location, RulesError, NULL};
use super::when::When;
use crate::anonymize::{self, Anonymizer, BuildError, ColumnType, Uniqueness};
use crate::catalog::TableName;
use crate::catalog::{Catalog, CatalogColumn};
use crate::error::{Error, Result};

pub use rewriter::{Rewriter, SeenKeys};

/// Every table's effective rules, built.
#[derive(Debug, Default)]
pub struct CompiledRules {
    tables: BTreeMap<TableName, CompiledTable>,
}

#[derive(Debug)]
struct CompiledTable {
    decision: Decision,
    /// Transformed columns, by name.
    columns: BTreeMap<String, Arc<Step>>,
    /// Column sets that must stay unique: the primary key and each unique constraint that
    /// has a transformed column.
    unique: Vec<Vec<String>>,
}

/// One column's built rule.
#[derive(Debug)]
pub(crate) struct Step {
    pub(crate) column: String,
    pub(crate) anonymizer: Anonymizer,
    /// The domain values are keyed with (shared by a key and the columns referencing it).
    pub(crate) domain: String,
    pub(crate) when: Option<When>,
    /// Where the rule is written, for errors met in the data.
    pub(crate) location: Location,
    /// The column's domain CHECK constraints simple enough to evaluate on each output (as
    /// written, and compiled); a value breaking one is handled like a value the transformer
    /// refused, instead of failing the restore far from its cause.
    pub(crate) checks: Vec<(String, When)>,
}

impl Step {
    /// `out`, or what `on_error` makes of it when it breaks one of the domain's checks.
    pub(crate) fn checked(
        &self,
        out: Option<String>,
    ) -> std::result::Result<Option<String>, String> {
        domain_checked(out, &self.checks, self.anonymizer.on_error())
    }
}

/// `out`, or what `on_error` makes of it when it breaks one of a domain's `checks` (as
/// written, and compiled): what a snapshot does with each output, and what `rules scan`
/// tries its suggestions against.
pub(crate) fn domain_checked(
    out: Option<String>,
    checks: &[(String, When)],
    on_error: &anonymize::OnError,
) -> std::result::Result<Option<String>, String> {
    let Some(v) = &out else { return Ok(out) };
    for (def, check) in checks {
        let broken =
            check.eval(&|name| (name == "value").then_some(Some(v.as_str()))) == Some(false);
        if broken {
            return match on_error {
                anonymize::OnError::Fail => Err(format!(
                    "the anonymized value breaks the column's domain constraint {def}"
                )),
                anonymize::OnError::Null => Ok(None),
                anonymize::OnError::Fallback(f) => Ok(Some(f.clone())),
            };
        }
    }
    Ok(out)
}

/// A domain's `CHECK ((VALUE > 0))` as a condition on the pseudo-column `value`, when it
/// uses only what a `when` clause may (casts, which `pg_get_constraintdef` adds to literals,
/// are dropped: values compare by their text and number forms anyway). `None` for anything
/// richer (functions, regular expressions): the restore itself enforces those.
pub(crate) fn domain_check(def: &str) -> Option<When> {
    When::parse(&check_condition(def)?).ok()
}

/// The condition of a `CHECK (…)` definition as `pg_get_constraintdef` writes it, with the
/// casts it adds to literals removed; `None` when `def` is not a CHECK.
pub(crate) fn check_condition(def: &str) -> Option<String> {
    static CAST: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r#"::(?:"[^"]*"|[a-z_][a-z0-9_]*(?:\s+(?:varying|precision|without time zone|with time zone))?)(?:\[\])?"#,
        )
        .expect("valid regex")
    });
    let body = def.trim().strip_prefix("CHECK")?.trim();
    Some(CAST.replace_all(body, "").into_owned())
}

/// What a snapshot does with one table.
#[derive(Debug)]
pub enum TableAction {
    /// Rows are copied as they are: no rule transforms any column of this table.
    Copy,
    /// Rows are rewritten by these rules.
    Transform(Arc<TableTransform>),
    /// The table is created empty: no row is read.
    SchemaOnly,
    /// The table is left out, schema and rows.
    Skip,
}

/// One table's rules bound to the column order of its COPY stream.
#[derive(Debug)]
pub struct TableTransform {
    pub(crate) table: TableName,
    /// Steps in the order they run (a template reading another column's new value runs
    /// after that column's rule), each with the COPY index of its column.
    pub(crate) steps: Vec<(usize, Arc<Step>)>,
    /// COPY index of every column name.
    pub(crate) index: HashMap<String, usize>,
    /// COPY indices that must be decoded for each row: transformed columns, the columns
    /// conditions and templates read, and the members of checked unique sets. Every other
    /// field is copied as raw bytes, never decoded.
    pub(crate) decoded: Vec<usize>,
    /// Unique column sets as COPY indices.
    pub(crate) unique: Vec<Vec<usize>>,
}

impl TableTransform {
    /// The table.
    pub fn table(&self) -> &TableName {
        &self.table
    }
}

impl CompiledRules {
    /// Builds every effective rule of `rules` for the columns of `catalog`. Every problem is
    /// reported, each at the rule it comes from.
    pub fn new(rules: &super::RuleSet, catalog: &Catalog) -> Result<CompiledRules, RulesError> {
        let effective = effective_rules(rules, catalog)?;
        let mut diagnostics = Vec::new();
        let mut tables = BTreeMap::new();
        for (name, plan) in &effective.tables {
            let Some(ct) = catalog.table(name) else {
                continue;
            };
            let mut columns = BTreeMap::new();
            for (col, er) in &plan.columns {
                let rule = &er.rule;
                if rule.is_keep() {
                    continue;
                }
                let Some(cc) = ct.column(col) else { continue };
                let ctype = column_type(cc);
                // A column that follows a key it references is reported at the key's rule:
                // say which column the rule failed for.
                let for_column = if er.origin.table == *name && er.origin.column == *col {
                    format!("{name}.{col}")
                } else {
                    format!("{name}.{col} (which follows {})", er.origin)
                };
                let built = on_error(rule, &ctype).and_then(|on_error| {
                    Anonymizer::new(
                        &rule.transformer,
                        &rule.params,
                        &ctype,
                        None,
                        on_error,
                        rule.empty,
                    )
                });
                let anonymizer = match built {
                    Ok(a) => a,
                    Err(e) => {
                        diagnostics.push(Diagnostic::at(
                            build_error_location(&e, rule),
                            format!("{for_column}: {e}"),
                        ));
                        continue;
                    }
                };
                if ct.is_unique_member(col)
                    && rule.transformer != NULL
                    && !anonymizer.preserves_uniqueness()
                {
                    diagnostics.push(Diagnostic::at(
                        &rule.transformer_location,
                        format!(
                            "{for_column} is in a primary key or unique constraint, and \
                             transformer `{}` with these parameters does not keep distinct \
                             values distinct; use one that does (hash long enough, permute, \
                             email with unique = true) or keep the column",
                            rule.transformer
                        ),
                    ));
                    continue;
                }
                let mut checks = Vec::new();
                for def in &cc.domain_checks {
                    match domain_check(def) {
                        Some(check) => checks.push((def.clone(), check)),
                        None => tracing::debug!(
                            "{for_column}: domain constraint {def} is left to the restore to enforce"
                        ),
                    }
                }
                columns.insert(
                    col.clone(),
                    Arc::new(Step {
                        column: col.clone(),
                        anonymizer,
                        domain: er.domain.clone(),
                        when: rule.when.clone(),
                        location: rule.location.clone(),
                        checks,
                    }),
                );
            }
            let unique = std::iter::once(ct.primary_key.clone())
                .filter(|k| !k.is_empty())
                .chain(ct.unique.iter().cloned())
                .filter(|set| set.iter().any(|c| columns.contains_key(c)))
                .collect();
            tables.insert(
                name.clone(),
                CompiledTable {
                    decision: plan.decision,
                    columns,
                    unique,
                },
            );
        }
        if diagnostics.is_empty() {
            Ok(CompiledRules { tables })
        } else {
            Err(RulesError::new(diagnostics))
        }
    }

    /// Checks `rules` against `catalog` (`strict`: uncovered columns are errors too) and,
    /// when that finds no error, builds them; build errors join the report. What `rules
    /// check`, `rules preview` and [`CompiledRules::prepare`] all start from.
    pub fn check_and_build(
        rules: &super::RuleSet,
        catalog: &Catalog,
        strict: bool,
    ) -> (super::Report, Option<CompiledRules>) {
        let mut report = super::check(rules, catalog, strict, &preserves_uniqueness);
        if !report.errors.is_empty() {
            return (report, None);
        }
        match CompiledRules::new(rules, catalog) {
            Ok(compiled) if report.is_ok() => (report, Some(compiled)),
            Ok(_) => (report, None),
            Err(e) => {
                report.errors.extend(e.diagnostics);
                (report, None)
            }
        }
    }

    /// Checks `rules` against `catalog` in strict mode and builds them: what an anonymized
    /// snapshot or `derive` does before reading any row. Every error, every uncovered column
    /// (with a suggested rule) is in the one message; warnings are logged.
    pub fn prepare(rules: &super::RuleSet, catalog: &Catalog) -> Result<CompiledRules> {
        let (mut report, compiled) = CompiledRules::check_and_build(rules, catalog, true);
        for w in &report.warnings {
            tracing::warn!("rules: {w}");
        }
        match compiled {
            Some(compiled) => Ok(compiled),
            None => {
                report.warnings.clear();
                Err(Error::Config(format!(
                    "the rules cannot be applied; nothing was read:\n{}",
                    report.to_string().trim_end()
                )))
            }
        }
    }

    /// What to do with `table`, whose COPY stream carries `copy_columns` in this order.
    /// A table the catalog did not have (created after the rules were checked) is refused:
    /// strict coverage cannot vouch for it.
    pub fn bind(&self, table: &TableName, copy_columns: &[String]) -> Result<TableAction> {
        let Some(t) = self.tables.get(table) else {
            return Err(Error::Anonymization(format!(
                "table {table} has no rules: it was not in the catalog the rules were checked \
                 against; run `doppel rules check` and add rules for it"
            )));
        };
        match t.decision {
            Decision::SchemaOnly => return Ok(TableAction::SchemaOnly),
            Decision::Skip => return Ok(TableAction::Skip),
            Decision::Keep | Decision::Anonymize => {}
        }
        if t.columns.is_empty() {
            return Ok(TableAction::Copy);
        }
        let index: HashMap<String, usize> = copy_columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.clone(), i))
            .collect();
        let position = |col: &str, why: &str| {
            index.get(col).copied().ok_or_else(|| {
                Error::Anonymization(format!(
                    "{table}.{col}, which {why}, is not among the columns read from the table \
                     (a generated column is never read: use the columns it is computed from)"
                ))
            })
        };
        let mut decoded = Vec::new();
        for step in t.columns.values() {
            decoded.push(position(&step.column, "has a rule")?);
            for read in step.anonymizer.reads() {
                decoded.push(position(&read.column, "a rule reads")?);
            }
            if let Some(when) = &step.when {
                for col in when.columns() {
                    decoded.push(position(col, "a when clause reads")?);
                }
            }
        }
        let mut unique = Vec::new();
        for set in &t.unique {
            let mut idx = Vec::with_capacity(set.len());
            for col in set {
                idx.push(position(col, "is in a unique constraint")?);
            }
            decoded.extend(&idx);
            unique.push(idx);
        }
        decoded.sort_unstable();
        decoded.dedup();
        let steps = order_steps(table, t)?
            .into_iter()
            .map(|s| Ok((position(&s.column, "has a rule")?, s)))
            .collect::<Result<Vec<_>>>()?;
        Ok(TableAction::Transform(Arc::new(TableTransform {
            table: table.clone(),
            steps,
            index,
            decoded,
            unique,
        })))
    }
}

/// Orders a table's steps so that a rule reading another column's new value runs after that
/// column's rule.
fn order_steps(table: &TableName, t: &CompiledTable) -> Result<Vec<Arc<Step>>> {
    let mut done: Vec<Arc<Step>> = Vec::with_capacity(t.columns.len());
    let mut pending: Vec<&Arc<Step>> = t.columns.values().collect();
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|step| {
            let ready = step.anonymizer.reads().iter().all(|r| {
                r.original
                    || r.column == step.column
                    || !t.columns.contains_key(&r.column)
                    || done.iter().any(|d| d.column == r.column)
            });
            if ready {
                done.push(Arc::clone(step));
            }
            !ready
        });
        if pending.len() == before {
            let names: Vec<&str> = pending.iter().map(|s| s.column.as_str()).collect();
            return Err(Error::Anonymization(format!(
                "the rules of {table} read each other's new values in a cycle ({}); make one \
                 of them read the original value instead",
                names.join(", ")
            )));
        }
    }
    Ok(done)
}

/// The type a transformer must write for a catalog column: its base type (through a domain)
/// with its length, precision and enum labels.
pub fn column_type(c: &CatalogColumn) -> ColumnType {
    let base = if c.base_type.is_empty() {
        &c.type_name
    } else {
        &c.base_type
    };
    let mut t = ColumnType::parse(base).unwrap_or_else(|_| ColumnType::new(base.clone()));
    if !base.ends_with("[]") {
        t.enum_labels = c.enum_labels.clone();
    }
    t.not_null = c.not_null;
    t
}

/// Whether a rule's transformer keeps distinct inputs distinct, as far as its name tells:
/// for `rules::check`. Transformers whose answer depends on parameters count as preserving
/// here; [`CompiledRules::new`] then decides with the parameters.
pub fn preserves_uniqueness(rule: &ColumnRule) -> Option<bool> {
    anonymize::info(&rule.transformer).map(|i| i.preserves_uniqueness != Uniqueness::No)
}

fn on_error(rule: &ColumnRule, column: &ColumnType) -> Result<anonymize::OnError, BuildError> {
    let value = match &rule.on_error {
        super::OnError::Fail => return Ok(anonymize::OnError::Fail),
        super::OnError::Null => toml::Value::String("null".into()),
        super::OnError::Fallback(s) => {
            let mut t = toml::Table::new();
            t.insert("fallback".into(), toml::Value::String(s.clone()));
            toml::Value::Table(t)
        }
    };
    anonymize::OnError::from_toml(&value, column)
}

/// Where a build error belongs: the parameter it names, else the transformer.
fn build_error_location<'r>(e: &BuildError, rule: &'r ColumnRule) -> &'r Location {
    match e {
        BuildError::UnknownParam { param, .. }
        | BuildError::WrongType { param, .. }
        | BuildError::BadValue { param, .. } => rule.param_location(param),
        _ => &rule.transformer_location,
    }
}

#[cfg(test)]
mod tests;
