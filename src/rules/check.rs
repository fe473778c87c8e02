//! Rules against a catalog: what `rules check` reports and what a strict snapshot refuses
//! before reading any row — rules for tables or columns that do not exist, `when` clauses
//! over missing columns, transformers that would break a key — and, in strict mode, every
//! column no rule covers, each with a suggested rule. The effective rules (each column's own
//! rule, or the rule of the key it references) are worked out in `effective`.

use std::collections::BTreeMap;
use std::fmt;

use super::model::{
    ColumnRule, Decision, Diagnostic, Location, OnError, RuleSet, TableRules, NULL,
};
use super::suggest::suggest;
use crate::catalog::{Catalog, CatalogTable, ColumnId, TableName};

mod effective;
#[cfg(test)]
mod tests;

pub use effective::{effective_rules, EffectiveRule, EffectiveRules, TablePlan};

/// A column that no rule, explicit keep or table decision covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uncovered {
    /// The column.
    pub column: ColumnId,
    /// Its type, as `format_type` writes it.
    pub type_name: String,
    /// A line to add to the table's `columns` section.
    pub suggestion: String,
    /// Where the table's rules are, when it has some (the line goes there).
    pub table_rules_at: Option<Location>,
}

/// What checking rules against a catalog found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Problems that stop a snapshot and fail `rules check`.
    pub errors: Vec<Diagnostic>,
    /// Columns not covered (strict mode only): they stop a strict snapshot too.
    pub uncovered: Vec<Uncovered>,
    /// Things that work but are probably not what was meant.
    pub warnings: Vec<Diagnostic>,
}

impl Report {
    /// Whether the rules may be used: no errors and, in strict mode, nothing uncovered.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty() && self.uncovered.is_empty()
    }

    /// The suggested rules for the uncovered columns, as TOML sections to paste into a
    /// rules file (one per table).
    pub fn suggested_rules(&self) -> String {
        let mut by_table: BTreeMap<&TableName, Vec<&Uncovered>> = BTreeMap::new();
        for u in &self.uncovered {
            by_table.entry(&u.column.table).or_default().push(u);
        }
        let mut out = String::new();
        for (table, cols) in by_table {
            if !out.is_empty() {
                out.push('\n');
            }
            if let Some(at) = &cols[0].table_rules_at {
                out.push_str(&format!("# add to the columns of {table} at {at}\n"));
            }
            out.push_str(&format!("[tables.{}.columns]\n", table_key(table)));
            for u in cols {
                out.push_str(&u.suggestion);
                out.push('\n');
            }
        }
        out
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.errors {
            writeln!(f, "error: {e}")?;
        }
        if !self.uncovered.is_empty() {
            writeln!(
                f,
                "error: {} column{} not covered by any rule (strict mode: nothing is read until \
                 every column has a rule, an explicit keep, or a table decision):",
                self.uncovered.len(),
                if self.uncovered.len() == 1 {
                    " is"
                } else {
                    "s are"
                }
            )?;
            for u in &self.uncovered {
                writeln!(f, "  {} ({})", u.column, u.type_name)?;
            }
            writeln!(f, "suggested rules (review each one before use):\n")?;
            f.write_str(&self.suggested_rules())?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        Ok(())
    }
}

/// Checks `rules` against `catalog`. `strict` also lists every uncovered column.
/// `preserves_uniqueness` answers, for a rule, whether its transformer maps distinct inputs
/// to distinct outputs (`None`: no such transformer).
pub fn check(
    rules: &RuleSet,
    catalog: &Catalog,
    strict: bool,
    preserves_uniqueness: &dyn Fn(&ColumnRule) -> Option<bool>,
) -> Report {
    let mut report = Report::default();
    for t in rules.tables() {
        check_table_rules(t, catalog, preserves_uniqueness, &mut report);
    }
    let (effective, diagnostics) = effective::resolve(rules, catalog);
    report.errors.extend(diagnostics);
    if strict {
        report.uncovered = uncovered(rules, catalog, &effective);
    }
    warn_domains(&effective, &mut report);
    warn_references_to_empty_tables(rules, catalog, &effective, &mut report);
    report.errors.sort_by(|a, b| a.location.cmp(&b.location));
    report.errors.dedup();
    report.warnings.sort_by(|a, b| a.location.cmp(&b.location));
    report
}

fn check_table_rules(
    t: &TableRules,
    catalog: &Catalog,
    preserves_uniqueness: &dyn Fn(&ColumnRule) -> Option<bool>,
    report: &mut Report,
) {
    let Some(ct) = catalog.table(&t.table) else {
        let names: Vec<String> = catalog
            .tables
            .iter()
            .map(|c| c.table_name().to_string())
            .collect();
        report.errors.push(Diagnostic::at(
            &t.location,
            format!(
                "table {} does not exist in the database{}; fix the name or remove its rules",
                t.table,
                did_you_mean(&t.table.to_string(), names.iter().map(String::as_str))
            ),
        ));
        return;
    };
    for rule in t.columns.values() {
        let Some(col) = ct.column(&rule.column) else {
            report.errors.push(Diagnostic::at(
                &rule.location,
                format!(
                    "column {}.{} does not exist{}; fix the name or remove the rule",
                    t.table,
                    rule.column,
                    did_you_mean(&rule.column, ct.columns.iter().map(|c| c.name.as_str()))
                ),
            ));
            continue;
        };
        if col.generated && !rule.is_keep() {
            report.errors.push(Diagnostic::at(
                &rule.location,
                format!(
                    "{}.{} is a generated column: it is recomputed from the other columns on \
                     restore, so a transformer has no effect; remove the rule",
                    t.table, rule.column
                ),
            ));
        }
        if let Some(when) = &rule.when {
            let at_column = |name: &str| {
                let (line, col) = when.column_position(name).unwrap_or((1, 1));
                rule.when_position(line, col)
            };
            for name in when.columns() {
                let at = &at_column(name);
                match ct.column(name) {
                    None => report.errors.push(Diagnostic::at(
                        at,
                        format!(
                            "the when clause reads column `{name}`, which {} does not have{}; \
                             fix the name (unquoted names are folded to lower case; quote \
                             others: \"Name\")",
                            t.table,
                            did_you_mean(name, ct.columns.iter().map(|c| c.name.as_str()))
                        ),
                    )),
                    Some(c) if c.generated => report.errors.push(Diagnostic::at(
                        at,
                        format!(
                            "the when clause reads `{name}`, a generated column, which is not \
                             in the copied rows; use the columns it is computed from"
                        ),
                    )),
                    Some(_) => {}
                }
            }
            for name in when.boolean_columns() {
                if let Some(c) = ct.column(&name) {
                    if c.type_name != "boolean" {
                        report.errors.push(Diagnostic::at(
                            &at_column(&name),
                            format!(
                                "the when clause uses `{name}` as a condition, but it is {}, \
                                 not boolean; compare it instead (e.g. {name} = 'value')",
                                c.type_name
                            ),
                        ));
                    }
                }
            }
        }
        if rule.is_keep() {
            continue;
        }
        // NULLs never collide in a unique constraint, and a NULL primary key is refused by
        // the NOT NULL check below.
        let unique = ct.is_unique_member(&rule.column) && rule.transformer != NULL;
        match preserves_uniqueness(rule) {
            None => report.errors.push(Diagnostic::at(
                &rule.transformer_location,
                format!(
                    "unknown transformer `{}` for {}.{}; see the list of transformers",
                    rule.transformer, t.table, rule.column
                ),
            )),
            Some(false) if unique => report.errors.push(Diagnostic::at(
                &rule.transformer_location,
                format!(
                    "transformer `{}` does not preserve uniqueness, but {}.{} is in {}; use one \
                     that does (hash, permute, or a transformer's unique option such as \
                     email's unique = true), or keep the column",
                    rule.transformer,
                    t.table,
                    rule.column,
                    key_description(ct, &rule.column)
                ),
            )),
            Some(true) if unique && rule.when.is_some() => report.warnings.push(Diagnostic::at(
                rule.when_location.as_ref().unwrap_or(&rule.location),
                format!(
                    "{}.{} is in {} and is transformed only for some rows: transformed values \
                     can collide with the values left as they are",
                    t.table,
                    rule.column,
                    key_description(ct, &rule.column)
                ),
            )),
            Some(_) => {}
        }
        if col.not_null && rule.transformer == NULL {
            report.errors.push(Diagnostic::at(
                &rule.transformer_location,
                format!(
                    "{}.{} is NOT NULL, so transformer `null` would make the restore fail; use \
                     `constant` or another transformer",
                    t.table, rule.column
                ),
            ));
        }
        if col.not_null && rule.on_error == OnError::Null {
            report.errors.push(Diagnostic::at(
                &rule.location,
                format!(
                    "{}.{} is NOT NULL, so on_error = \"null\" would make the restore fail; use \
                     \"fail\" or {{ fallback = … }}",
                    t.table, rule.column
                ),
            ));
        }
    }
}

fn key_description(ct: &CatalogTable, column: &str) -> String {
    if ct.primary_key.iter().any(|c| c == column) {
        format!("the primary key ({})", ct.primary_key.join(", "))
    } else {
        let cols = ct
            .unique
            .iter()
            .find(|u| u.iter().any(|c| c == column))
            .map(|u| u.join(", "))
            .unwrap_or_default();
        format!("a unique constraint ({cols})")
    }
}

/// Columns with rows that nothing covers: no rule of their own (or of a partitioned
/// ancestor), no table decision, not generated, and not following a transformed key.
fn uncovered(rules: &RuleSet, catalog: &Catalog, effective: &EffectiveRules) -> Vec<Uncovered> {
    let mut out = Vec::new();
    for ct in catalog.tables.iter().filter(|t| !t.partitioned) {
        let name = ct.table_name();
        let applying = catalog
            .partition_ancestors(&name)
            .into_iter()
            .find_map(|t| rules.table(&t));
        if applying.is_some_and(|r| r.decision != Decision::Anonymize) {
            continue;
        }
        for col in ct.columns.iter().filter(|c| !c.generated) {
            let id = ColumnId {
                table: name.clone(),
                column: col.name.clone(),
            };
            let ruled = applying.is_some_and(|r| r.columns.contains_key(&col.name));
            if ruled || effective.get(&id).is_some() {
                continue;
            }
            let s = suggest(&col.name, &col.type_name);
            out.push(Uncovered {
                column: id,
                type_name: col.type_name.clone(),
                suggestion: s.line,
                table_rules_at: applying.map(|r| r.location.clone()),
            });
        }
    }
    out
}

fn warn_domains(effective: &EffectiveRules, report: &mut Report) {
    // Only explicit domains: the default one is a column's own name and cannot be shared
    // by accident.
    let mut by_domain: BTreeMap<&str, Vec<(ColumnId, &EffectiveRule)>> = BTreeMap::new();
    for (id, e) in effective.columns() {
        if e.rule.domain.is_some() && e.origin == id {
            by_domain
                .entry(e.domain.as_str())
                .or_default()
                .push((id, e));
        }
    }
    for (domain, cols) in by_domain {
        let first = &cols[0];
        for (id, e) in &cols[1..] {
            if e.rule.transformer != first.1.rule.transformer
                || e.rule.params != first.1.rule.params
            {
                report.warnings.push(Diagnostic::at(
                    e.rule.domain_location.as_ref().unwrap_or(&e.rule.location),
                    format!(
                        "{id} and {} share domain \"{domain}\" but not their transformer and \
                         parameters, so equal values will not map to equal outputs; give them \
                         the same rule, or different domains",
                        first.0
                    ),
                ));
            }
        }
    }
}

fn warn_references_to_empty_tables(
    rules: &RuleSet,
    catalog: &Catalog,
    effective: &EffectiveRules,
    report: &mut Report,
) {
    let decision = |t: &TableName| {
        effective
            .table(t)
            .map(|p| p.decision)
            .unwrap_or(Decision::Anonymize)
    };
    for ct in &catalog.tables {
        let name = ct.table_name();
        if !decision(&name).reads_rows() {
            continue;
        }
        for fk in &ct.foreign_keys {
            let target = TableName::new(fk.ref_schema.as_str(), fk.ref_table.as_str());
            let d = decision(&target);
            if target != name && !d.reads_rows() {
                let message = format!(
                    "{name} has rows and its foreign key {} references {target}, whose decision \
                     is \"{d}\": rows that reference it will fail the foreign key on restore \
                     unless their ({}) is NULL",
                    fk.name,
                    fk.columns.join(", ")
                );
                let from = effective.table(&target).and_then(|p| p.rules_from.as_ref());
                report
                    .warnings
                    .push(match from.and_then(|t| rules.table(t)) {
                        Some(r) => Diagnostic::at(&r.location, message),
                        None => Diagnostic::general(message),
                    });
            }
        }
    }
}

/// The rules-file key of a table, as a TOML key: `"public.customers"`.
pub(crate) fn table_key(t: &TableName) -> String {
    let part = |s: &str| {
        if s.contains(['.', '"']) {
            crate::catalog::quote_ident(s)
        } else {
            s.to_string()
        }
    };
    toml::Value::String(format!("{}.{}", part(&t.schema), part(&t.name))).to_string()
}

/// "; did you mean `x`?" for the closest name, when one is close enough.
fn did_you_mean<'a>(wanted: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    let wanted_lower = wanted.to_lowercase();
    let best = candidates
        .map(|c| (edit_distance(&wanted_lower, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= 2.max(c.chars().count() / 4))
        .min_by_key(|(d, _)| *d);
    match best {
        Some((_, c)) => format!(" (did you mean `{c}`?)"),
        None => String::new(),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
