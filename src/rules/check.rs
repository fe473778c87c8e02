//! Rules against a catalog: what `rules check` reports and what a strict snapshot refuses
//! before reading any row — rules for tables or columns that do not exist, `when` clauses
//! over missing columns, transformers that would break a key — and, in strict mode, every
//! column no rule covers, each with a suggested rule. Also the effective rules: each
//! column's own rule, or the rule of the key it references.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::model::{
    ColumnRule, Decision, Diagnostic, Location, OnError, RuleSet, RulesError, TableRules, NULL,
};
use super::suggest::suggest;
use crate::catalog::{Catalog, CatalogTable};
use crate::catalog::{ColumnId, TableName};

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

/// The rule that applies to one column, after following foreign keys.
#[derive(Debug, Clone)]
pub struct EffectiveRule {
    /// The rule: the column's own, or the one of the key it references.
    pub rule: ColumnRule,
    /// The domain the transformer is keyed with: the rule's `domain`, or else the name of
    /// the column the rule is written for, `schema.table.column` (so a key and every column
    /// referencing it share it).
    pub domain: String,
    /// The column the rule is written for: this column, the key it references, or the
    /// partitioned table's column for a partition.
    pub origin: ColumnId,
}

/// What happens to one table.
#[derive(Debug, Clone)]
pub struct TablePlan {
    /// The table decision (`Anonymize` when no rule names the table).
    pub decision: Decision,
    /// The table whose rules apply: the table itself or, for a partition, the nearest
    /// partitioned ancestor that has rules; `None` when no rule names it.
    pub rules_from: Option<TableName>,
    /// The columns that are transformed, by name. Every other column is copied as it is.
    pub columns: BTreeMap<String, EffectiveRule>,
}

/// The effective rules of every table of a catalog.
#[derive(Debug, Clone, Default)]
pub struct EffectiveRules {
    /// Every catalog table (partitioned ones included), by name.
    pub tables: BTreeMap<TableName, TablePlan>,
}

impl EffectiveRules {
    /// The rule transforming `column`, if it is transformed.
    pub fn get(&self, column: &ColumnId) -> Option<&EffectiveRule> {
        self.tables.get(&column.table)?.columns.get(&column.column)
    }

    /// What happens to `table`.
    pub fn table(&self, table: &TableName) -> Option<&TablePlan> {
        self.tables.get(table)
    }

    /// Every transformed column with its rule, in `schema.table.column` order.
    pub fn columns(&self) -> impl Iterator<Item = (ColumnId, &EffectiveRule)> {
        self.tables.iter().flat_map(|(t, plan)| {
            plan.columns.iter().map(move |(c, r)| {
                (
                    ColumnId {
                        table: t.clone(),
                        column: c.clone(),
                    },
                    r,
                )
            })
        })
    }
}

/// The effective rules: each column's own rule, or — for a column referencing a transformed
/// key — the key's rule with the key's domain, so that references still match after
/// anonymization. Conflicting rules on a referencing column are errors.
pub fn effective_rules(rules: &RuleSet, catalog: &Catalog) -> Result<EffectiveRules, RulesError> {
    let (effective, diagnostics) = Resolver::new(rules, catalog).resolve();
    if diagnostics.is_empty() {
        Ok(effective)
    } else {
        Err(RulesError::new(diagnostics))
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
    let (effective, diagnostics) = Resolver::new(rules, catalog).resolve();
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
            format!("\"{}\"", s.replace('"', "\"\""))
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

/// Follows foreign keys to work out each column's effective rule.
struct Resolver<'a> {
    rules: &'a RuleSet,
    catalog: &'a Catalog,
    /// Memo: `None` = not transformed.
    done: BTreeMap<ColumnId, Option<EffectiveRule>>,
    /// Columns being resolved: a foreign-key cycle stops here.
    active: BTreeSet<ColumnId>,
    diagnostics: Vec<Diagnostic>,
    /// Keys already reported for a `when` that references cannot follow.
    when_reported: BTreeSet<ColumnId>,
}

/// How one table's rules are found: the table's own, or a partitioned ancestor's.
struct Applying<'a> {
    rules: Option<&'a TableRules>,
    decision: Decision,
}

impl<'a> Resolver<'a> {
    fn new(rules: &'a RuleSet, catalog: &'a Catalog) -> Resolver<'a> {
        Resolver {
            rules,
            catalog,
            done: BTreeMap::new(),
            active: BTreeSet::new(),
            diagnostics: Vec::new(),
            when_reported: BTreeSet::new(),
        }
    }

    fn applying(&self, table: &TableName) -> Applying<'a> {
        let rules = self
            .catalog
            .partition_ancestors(table)
            .into_iter()
            .find_map(|t| self.rules.table(&t));
        Applying {
            rules,
            decision: rules.map(|r| r.decision).unwrap_or(Decision::Anonymize),
        }
    }

    /// The column's own rule (or its partitioned ancestor's), with the column it is
    /// written for.
    fn own(&self, id: &ColumnId) -> Option<(&'a ColumnRule, ColumnId)> {
        let applying = self.applying(&id.table);
        let t = applying.rules?;
        if t.decision != Decision::Anonymize {
            return None;
        }
        let rule = t.columns.get(&id.column)?;
        Some((
            rule,
            ColumnId {
                table: t.table.clone(),
                column: id.column.clone(),
            },
        ))
    }

    fn own_effective(&self, id: &ColumnId) -> Option<EffectiveRule> {
        let (rule, origin) = self.own(id)?;
        if rule.is_keep() {
            return None;
        }
        Some(EffectiveRule {
            domain: rule.domain.clone().unwrap_or_else(|| origin.to_string()),
            rule: rule.clone(),
            origin,
        })
    }

    /// The (referenced column, constraint name) pairs `id` takes part in as a referencing
    /// column, foreign keys of partitioned ancestors included.
    fn references(&self, id: &ColumnId) -> Vec<(ColumnId, String)> {
        let mut out = Vec::new();
        for t in self.catalog.partition_ancestors(&id.table) {
            let Some(ct) = self.catalog.table(&t) else {
                continue;
            };
            for fk in &ct.foreign_keys {
                for (c, r) in fk.columns.iter().zip(&fk.ref_columns) {
                    if *c == id.column {
                        out.push((
                            ColumnId::new(
                                fk.ref_schema.as_str(),
                                fk.ref_table.as_str(),
                                r.as_str(),
                            ),
                            fk.name.clone(),
                        ));
                    }
                }
            }
        }
        out
    }

    fn resolve(mut self) -> (EffectiveRules, Vec<Diagnostic>) {
        let mut effective = EffectiveRules::default();
        for ct in &self.catalog.tables {
            let name = ct.table_name();
            let applying = self.applying(&name);
            let mut plan = TablePlan {
                decision: applying.decision,
                rules_from: applying.rules.map(|r| r.table.clone()),
                columns: BTreeMap::new(),
            };
            for col in &ct.columns {
                let id = ColumnId {
                    table: name.clone(),
                    column: col.name.clone(),
                };
                if let Some(e) = self.effective(&id) {
                    plan.columns.insert(col.name.clone(), e);
                }
            }
            effective.tables.insert(name, plan);
        }
        (effective, self.diagnostics)
    }

    fn effective(&mut self, id: &ColumnId) -> Option<EffectiveRule> {
        if let Some(done) = self.done.get(id) {
            return done.clone();
        }
        if self.active.contains(id) {
            // A cycle of foreign keys: this column's own rule is all it contributes.
            return self.own_effective(id);
        }
        self.active.insert(id.clone());
        let result = self.compute(id);
        self.active.remove(id);
        self.done.insert(id.clone(), result.clone());
        result
    }

    fn compute(&mut self, id: &ColumnId) -> Option<EffectiveRule> {
        let applying = self.applying(&id.table);
        let own = self.own(id);
        let mut followed: Vec<(ColumnId, String, EffectiveRule)> = Vec::new();
        let mut kept_refs: Vec<(ColumnId, String)> = Vec::new();
        for (target, fk) in self.references(id) {
            match self.effective(&target) {
                Some(e) => followed.push((target, fk, e)),
                None => kept_refs.push((target, fk)),
            }
        }
        if !applying.decision.reads_rows() {
            return None;
        }
        let here = own
            .as_ref()
            .map(|(r, _)| r.location.clone())
            .or_else(|| applying.rules.map(|r| r.location.clone()));
        // A partition that takes its rules and foreign keys from its partitioned table would
        // only repeat the problems found for that table: let the table report them.
        let repeats_parent = self.catalog.table(&id.table).is_some_and(|t| {
            t.partition_of.is_some()
                && t.foreign_keys.is_empty()
                && applying.rules.is_none_or(|r| r.table != id.table)
        });
        let report = |this: &mut Self, message: String| {
            if repeats_parent {
                return;
            }
            this.diagnostics.push(match &here {
                Some(at) => Diagnostic::at(at, message),
                None => Diagnostic::general(message),
            });
        };
        if followed.is_empty() {
            let mine = self.own_effective(id)?;
            if let Some((target, fk)) = kept_refs.first() {
                report(
                    self,
                    format!(
                        "{id} references {target} (foreign key {fk}), which is kept as it is, so \
                         transforming {id} with `{}` would break the reference; keep it too, or \
                         transform {target} (references follow it)",
                        mine.rule.transformer
                    ),
                );
                return None;
            }
            return Some(mine);
        }
        let mut conditional = false;
        for (target, _, e) in &followed {
            conditional |= e.rule.when.is_some();
            if e.rule.when.is_some() && !repeats_parent && self.when_reported.insert(target.clone())
            {
                let at = e
                    .rule
                    .when_location
                    .clone()
                    .unwrap_or(e.rule.location.clone());
                self.diagnostics.push(Diagnostic::at(
                    &at,
                    format!(
                        "{target} is referenced by foreign keys ({id} among others), so it must \
                         be transformed for every row or none: a `when` clause cannot be \
                         followed into the referencing rows; remove the clause"
                    ),
                ));
            }
        }
        if conditional {
            return None;
        }
        if applying.decision == Decision::Keep {
            let (target, fk, _) = &followed[0];
            report(
                self,
                format!(
                    "{} is kept as it is, but its column {} references {target} (foreign key \
                     {fk}), which is transformed; use decision = \"anonymize\" and let the \
                     column follow the key",
                    id.table, id.column
                ),
            );
            return None;
        }
        let (first_target, first_fk, inherited) = &followed[0];
        for (target, fk, e) in &followed[1..] {
            if !same_transform(&e.rule, &e.domain, &inherited.rule, &inherited.domain) {
                report(
                    self,
                    format!(
                        "{id} references both {first_target} (foreign key {first_fk}) and \
                         {target} (foreign key {fk}), which are transformed differently; give \
                         the two keys the same rule and domain"
                    ),
                );
                return None;
            }
        }
        if let Some((target, fk)) = kept_refs.first() {
            report(
                self,
                format!(
                    "{id} references {first_target} (foreign key {first_fk}), which is \
                     transformed, and {target} (foreign key {fk}), which is kept; the two keys \
                     need the same rule"
                ),
            );
            return None;
        }
        if let Some((rule, _)) = own {
            let compatible = !rule.is_keep()
                && rule.domain.as_ref().is_none_or(|d| *d == inherited.domain)
                && same_transform(rule, &inherited.domain, &inherited.rule, &inherited.domain);
            if !compatible {
                report(
                    self,
                    format!(
                        "{id} references {first_target} (foreign key {first_fk}), which is \
                         transformed with `{}`, so it must be transformed the same way to keep \
                         the reference intact; remove this rule (references follow their key \
                         automatically)",
                        inherited.rule.transformer
                    ),
                );
                return None;
            }
        }
        Some(inherited.clone())
    }
}

/// Whether two rules give equal outputs for equal inputs: same transformer, parameters,
/// error and empty-value handling and domain, and no condition.
fn same_transform(a: &ColumnRule, a_domain: &str, b: &ColumnRule, b_domain: &str) -> bool {
    a.transformer == b.transformer
        && a.params == b.params
        && a.on_error == b.on_error
        && a.empty == b.empty
        && a.when.is_none()
        && b.when.is_none()
        && a_domain == b_domain
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::catalog::{CatalogColumn, ForeignKey};

    fn col(name: &str, type_name: &str, not_null: bool) -> CatalogColumn {
        CatalogColumn {
            name: name.into(),
            type_name: type_name.into(),
            not_null,
            generated: false,
            base_type: type_name.into(),
            enum_labels: Vec::new(),
            domain_checks: Vec::new(),
        }
    }

    fn fk(name: &str, cols: &[&str], table: &str, ref_cols: &[&str]) -> ForeignKey {
        ForeignKey {
            name: name.into(),
            columns: cols.iter().map(|c| c.to_string()).collect(),
            ref_schema: "public".into(),
            ref_table: table.into(),
            ref_columns: ref_cols.iter().map(|c| c.to_string()).collect(),
        }
    }

    fn table(name: &str, columns: Vec<CatalogColumn>) -> CatalogTable {
        CatalogTable {
            schema: "public".into(),
            name: name.into(),
            columns,
            ..CatalogTable::default()
        }
    }

    /// A small shop: customers ← orders ← order_items, an audit log, a partitioned table.
    fn shop() -> Catalog {
        let mut customers = table(
            "customers",
            vec![
                col("id", "bigint", true),
                col("email", "text", true),
                col("first_name", "text", true),
                col("phone", "text", false),
                col("country", "character(2)", true),
                col("is_admin", "boolean", true),
                CatalogColumn {
                    generated: true,
                    ..col("email_domain", "text", false)
                },
            ],
        );
        customers.primary_key = vec!["id".into()];
        customers.unique = vec![vec!["email".into()]];
        let mut orders = table(
            "orders",
            vec![
                col("id", "bigint", true),
                col("customer_id", "bigint", true),
                col("shipping_name", "text", true),
                col("status", "text", true),
            ],
        );
        orders.primary_key = vec!["id".into()];
        orders.foreign_keys = vec![fk(
            "orders_customer_id_fkey",
            &["customer_id"],
            "customers",
            &["id"],
        )];
        let mut items = table(
            "order_items",
            vec![
                col("order_id", "bigint", true),
                col("line_no", "integer", true),
                col("quantity", "integer", true),
            ],
        );
        items.primary_key = vec!["order_id".into(), "line_no".into()];
        items.foreign_keys = vec![fk(
            "order_items_order_id_fkey",
            &["order_id"],
            "orders",
            &["id"],
        )];
        let audit = table(
            "audit_log",
            vec![col("id", "bigint", true), col("actor_email", "text", false)],
        );
        let parent = CatalogTable {
            partitioned: true,
            ..table(
                "measurements",
                vec![
                    col("id", "bigint", true),
                    col("reading", "numeric", false),
                    col("operator_email", "text", false),
                ],
            )
        };
        let partition = CatalogTable {
            partition_of: Some(TableName::new("public", "measurements")),
            ..table(
                "measurements_2024",
                vec![
                    col("id", "bigint", true),
                    col("reading", "numeric", false),
                    col("operator_email", "text", false),
                ],
            )
        };
        Catalog {
            tables: vec![audit, customers, parent, partition, items, orders],
        }
    }

    const SHOP_RULES: &str = r#"version = 1
[tables."public.customers".columns]
id = "keep"
email = { transformer = "email", domain = "email" }
first_name = "first_name"
phone = { transformer = "phone", when = "country = 'FR' AND NOT is_admin" }
country = "keep"
is_admin = "keep"

[tables."public.orders".columns]
id = "keep"
customer_id = "keep"
shipping_name = "full_name"
status = "keep"

[tables."public.order_items"]
decision = "keep"

[tables."public.audit_log"]
decision = "skip"

[tables."public.measurements".columns]
id = "keep"
reading = { transformer = "noise", ratio = 0.05 }
operator_email = { transformer = "email", domain = "email" }
"#;

    fn rules(text: &str) -> RuleSet {
        RuleSet::parse(Path::new("rules/shop.toml"), text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn preserves(rule: &ColumnRule) -> Option<bool> {
        match rule.transformer.as_str() {
            "email" | "hash" | "permute" | "uuid" => Some(true),
            "first_name" | "last_name" | "full_name" | "phone" | "null" | "constant" | "noise"
            | "city" => Some(false),
            _ => None,
        }
    }

    fn run(text: &str, catalog: &Catalog, strict: bool) -> Report {
        check(&rules(text), catalog, strict, &preserves)
    }

    /// Replaces the rules of one column of SHOP_RULES (or adds a line after a header).
    fn shop_with(old: &str, new: &str) -> String {
        assert!(SHOP_RULES.contains(old), "{old}");
        SHOP_RULES.replacen(old, new, 1)
    }

    #[test]
    fn the_shop_rules_cover_the_shop() {
        let report = run(SHOP_RULES, &shop(), true);
        assert!(report.is_ok(), "{report}");
        assert!(report.warnings.is_empty(), "{report}");
        assert_eq!(report.to_string(), "");
    }

    #[test]
    fn a_new_column_stops_a_strict_check_with_a_suggestion() {
        let mut catalog = shop();
        let customers = catalog
            .tables
            .iter_mut()
            .find(|t| t.name == "customers")
            .unwrap();
        customers.columns.push(col("last_name", "text", false));
        customers.columns.push(col("loyalty_tier", "text", false));
        catalog.tables.push(table(
            "newsletter",
            vec![
                col("id", "integer", true),
                col("subscriber_email", "text", true),
            ],
        ));
        let report = run(SHOP_RULES, &catalog, true);
        assert!(report.errors.is_empty(), "{report}");
        let names: Vec<String> = report
            .uncovered
            .iter()
            .map(|u| u.column.to_string())
            .collect();
        assert_eq!(
            names,
            [
                "public.customers.last_name",
                "public.customers.loyalty_tier",
                "public.newsletter.id",
                "public.newsletter.subscriber_email"
            ]
        );
        assert!(!report.is_ok());
        let text = report.to_string();
        assert!(text.contains("4 columns are not covered"), "{text}");
        assert!(
            text.contains("  public.customers.loyalty_tier (text)"),
            "{text}"
        );
        let suggested = report.suggested_rules();
        assert!(
            suggested.contains("# add to the columns of public.customers at rules/shop.toml:2:9\n[tables.\"public.customers\".columns]\nlast_name = { transformer = \"last_name\" }"),
            "{suggested}"
        );
        assert!(
            suggested.contains("loyalty_tier = \"keep\"  # needs review"),
            "{suggested}"
        );
        assert!(
            suggested.contains("[tables.\"public.newsletter\".columns]\nid = \"keep\"  # needs review: kept as it is\nsubscriber_email = { transformer = \"email\" }"),
            "{suggested}"
        );
        // The suggestions are valid rules: pasted in a file of their own, they cover it all.
        let extra: String = suggested
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
            .replace("[tables.\"public.customers\".columns]\n", "");
        let merged = RuleSet::parse_sources(&[
            (
                "rules/shop.toml".into(),
                SHOP_RULES.replace(
                    "is_admin = \"keep\"\n",
                    &format!(
                        "is_admin = \"keep\"\n{}",
                        &extra[..extra.find("[tables").unwrap()]
                    ),
                ),
            ),
            (
                "rules/new.toml".into(),
                format!("version = 1\n{}", &extra[extra.find("[tables").unwrap()..]),
            ),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let report = check(&merged, &catalog, true, &preserves);
        assert!(report.is_ok(), "{report}");
        // Not strict: the same gaps are copied as they are, without complaint.
        assert!(run(SHOP_RULES, &catalog, false).is_ok());
    }

    #[test]
    fn rule_errors_point_at_the_rule() {
        let cases: &[(&str, &str, &str, &str)] = &[
            // (replace, with, expected location, message fragment)
            ("[tables.\"public.audit_log\"]", "[tables.\"public.audit_logs\"]", "19:9", "table public.audit_logs does not exist in the database (did you mean `public.audit_log`?)"),
            ("first_name = \"first_name\"", "frist_name = \"first_name\"", "5:1", "column public.customers.frist_name does not exist (did you mean `first_name`?)"),
            ("country = 'FR'", "county = 'FR'", "6:42", "reads column `county`, which public.customers does not have (did you mean `country`?)"),
            ("NOT is_admin", "NOT country", "6:42", "uses `country` as a condition, but it is character(2)"),
            ("email = { transformer = \"email\", domain = \"email\" }", "email = \"full_name\"", "4:9", "transformer `full_name` does not preserve uniqueness, but public.customers.email is in a unique constraint (email)"),
            ("id = \"keep\"\nemail", "id = \"first_name\"\nemail", "3:6", "public.customers.id is in the primary key (id)"),
            ("first_name = \"first_name\"", "first_name = \"frobnicate\"", "5:14", "unknown transformer `frobnicate`"),
            ("first_name = \"first_name\"", "first_name = \"null\"", "5:14", "NOT NULL, so transformer `null`"),
            ("first_name = \"first_name\"", "first_name = { transformer = \"first_name\", on_error = \"null\" }", "5:1", "on_error = \"null\""),
            ("is_admin = \"keep\"", "is_admin = \"keep\"\nemail_domain = \"hash\"", "9:1", "generated column"),
            ("country = 'FR'", "email_domain = 'FR'", "6:42", "generated column, which is not in the copied rows"),
        ];
        let mut wrong = Vec::new();
        for (old, new, at, msg) in cases {
            let report = run(&shop_with(old, new), &shop(), true);
            let want = format!("rules/shop.toml:{at}: ");
            if !report
                .errors
                .iter()
                .any(|e| e.to_string().starts_with(&want) && e.message.contains(msg))
            {
                wrong.push(format!("{new}: want {want}{msg}, got:\n{report}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        // Keeping a generated column is harmless.
        let keep_generated = shop_with(
            "is_admin = \"keep\"",
            "is_admin = \"keep\"\nemail_domain = \"keep\"",
        );
        assert!(run(&keep_generated, &shop(), true).is_ok());
    }

    #[test]
    fn partitions_follow_keys_through_their_parent_and_report_once() {
        let mut catalog = shop();
        let parent = catalog
            .tables
            .iter_mut()
            .find(|t| t.name == "measurements")
            .unwrap();
        parent.foreign_keys.push(ForeignKey {
            name: "measurements_operator_fkey".into(),
            columns: vec!["operator_email".into()],
            ref_schema: "public".into(),
            ref_table: "customers".into(),
            ref_columns: vec!["email".into()],
        });
        // The same rule as the key (same transformer and domain): fine.
        let report = run(SHOP_RULES, &catalog, true);
        assert!(report.is_ok(), "{report}");
        let eff = effective_rules(&rules(SHOP_RULES), &catalog).unwrap();
        let leaf = eff
            .get(&ColumnId::new(
                "public",
                "measurements_2024",
                "operator_email",
            ))
            .unwrap();
        assert_eq!(leaf.origin, ColumnId::new("public", "customers", "email"));
        let text = shop_with(
            "operator_email = { transformer = \"email\", domain = \"email\" }",
            "operator_email = \"hash\"",
        );
        let report = run(&text, &catalog, true);
        let conflicts: Vec<&Diagnostic> = report
            .errors
            .iter()
            .filter(|e| e.message.contains("must be transformed the same way"))
            .collect();
        assert_eq!(conflicts.len(), 1, "{report}");
        assert!(conflicts[0]
            .message
            .starts_with("public.measurements.operator_email"));
    }

    #[test]
    fn nulls_never_collide_in_a_unique_column() {
        let mut catalog = shop();
        let customers = catalog
            .tables
            .iter_mut()
            .find(|t| t.name == "customers")
            .unwrap();
        customers.unique.push(vec!["phone".into()]);
        let text = shop_with(
            "phone = { transformer = \"phone\", when = \"country = 'FR' AND NOT is_admin\" }",
            "phone = \"null\"",
        );
        assert!(run(&text, &catalog, true).is_ok());
        let text = shop_with(
            "phone = { transformer = \"phone\", when = \"country = 'FR' AND NOT is_admin\" }",
            "phone = \"phone\"",
        );
        assert!(!run(&text, &catalog, true).is_ok());
    }

    #[test]
    fn a_conditional_transform_of_a_unique_column_is_a_warning() {
        let text = shop_with(
            "email = { transformer = \"email\", domain = \"email\" }",
            "email = { transformer = \"email\", when = \"NOT is_admin\" }",
        );
        let report = run(&text, &shop(), true);
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.warnings.len(), 1, "{report}");
        assert!(
            report.warnings[0].message.contains("can collide"),
            "{report}"
        );
    }

    #[test]
    fn references_follow_a_transformed_key() {
        let text = shop_with("id = \"keep\"\nemail", "id = \"permute\"\nemail");
        let set = rules(&text.replace("customer_id = \"keep\"\n", ""));
        let report = check(&set, &shop(), true, &preserves);
        assert!(report.is_ok(), "{report}");
        let eff = effective_rules(&set, &shop()).unwrap();
        let followed = eff
            .get(&ColumnId::new("public", "orders", "customer_id"))
            .unwrap();
        assert_eq!(followed.rule.transformer, "permute");
        assert_eq!(followed.origin, ColumnId::new("public", "customers", "id"));
        assert_eq!(followed.domain, "public.customers.id");
        let key = eff
            .get(&ColumnId::new("public", "customers", "id"))
            .unwrap();
        assert_eq!(key.domain, followed.domain);
        // Explicit domains are kept; kept columns are absent; partitions use their parent's rules.
        assert_eq!(
            eff.get(&ColumnId::new("public", "customers", "email"))
                .unwrap()
                .domain,
            "email"
        );
        assert!(eff
            .get(&ColumnId::new("public", "orders", "status"))
            .is_none());
        let reading = eff
            .get(&ColumnId::new("public", "measurements_2024", "reading"))
            .unwrap();
        assert_eq!(
            reading.origin,
            ColumnId::new("public", "measurements", "reading")
        );
        assert_eq!(reading.domain, "public.measurements.reading");
        let plan = eff
            .table(&TableName::new("public", "measurements_2024"))
            .unwrap();
        assert_eq!(
            plan.rules_from,
            Some(TableName::new("public", "measurements"))
        );
        assert_eq!(
            eff.table(&TableName::new("public", "audit_log"))
                .unwrap()
                .decision,
            Decision::Skip
        );
        let all: Vec<String> = eff.columns().map(|(id, _)| id.to_string()).collect();
        assert!(
            all.contains(&"public.orders.customer_id".to_string()),
            "{all:?}"
        );

        // An identical explicit rule on the reference is fine; a different one is not.
        let same = text.replace(
            "customer_id = \"keep\"",
            "customer_id = { transformer = \"permute\" }",
        );
        assert!(run(&same, &shop(), true).is_ok());
        let same_domain = text.replace(
            "customer_id = \"keep\"",
            "customer_id = { transformer = \"permute\", domain = \"public.customers.id\" }",
        );
        assert!(run(&same_domain, &shop(), true).is_ok());
        let cases: &[(&str, &str)] = &[
            ("customer_id = \"keep\"", "must be transformed the same way"),
            ("customer_id = \"hash\"", "must be transformed the same way"),
            (
                "customer_id = { transformer = \"permute\", domain = \"other\" }",
                "must be transformed the same way",
            ),
            (
                "customer_id = { transformer = \"permute\", seed = 3 }",
                "must be transformed the same way",
            ),
        ];
        for (rule, msg) in cases {
            let t = text.replace("customer_id = \"keep\"", rule);
            let report = run(&t, &shop(), true);
            let e = report.errors.iter().find(|e| e.message.contains(msg));
            let e = e.unwrap_or_else(|| panic!("{rule}: {report}"));
            assert_eq!(e.location.as_ref().unwrap().line, 12, "{rule}: {report}");
            assert!(effective_rules(&rules(&t), &shop()).is_err());
        }
    }

    #[test]
    fn references_to_kept_keys_stay_kept() {
        // orders.id is kept: order_items.order_id (a kept table) is fine as it is, but
        // transforming a reference to a kept key would break it.
        let text = shop_with("customer_id = \"keep\"", "customer_id = \"permute\"");
        let report = run(&text, &shop(), true);
        assert!(
            report.errors.iter().any(|e| e
                .message
                .contains("which is kept as it is, so transforming")),
            "{report}"
        );
    }

    #[test]
    fn a_kept_table_cannot_reference_a_transformed_key() {
        let text = shop_with(
            "[tables.\"public.orders\".columns]\nid = \"keep\"",
            "[tables.\"public.orders\".columns]\nid = \"permute\"",
        );
        let report = run(&text, &shop(), true);
        let e = report
            .errors
            .iter()
            .find(|e| e.message.contains("public.order_items is kept as it is"))
            .unwrap_or_else(|| panic!("{report}"));
        assert_eq!(e.location.as_ref().unwrap().line, 16, "{report}");
    }

    #[test]
    fn a_referenced_key_cannot_be_conditional() {
        let text = shop_with(
            "id = \"keep\"\nemail",
            "id = { transformer = \"permute\", when = \"is_admin\" }\nemail",
        );
        let report = run(&text, &shop(), true);
        let e = report
            .errors
            .iter()
            .find(|e| e.message.contains("cannot be followed"))
            .unwrap_or_else(|| panic!("{report}"));
        assert_eq!(
            e.location.as_ref().unwrap().to_string(),
            "rules/shop.toml:3:41"
        );
        assert_eq!(
            report
                .errors
                .iter()
                .filter(|e| e.message.contains("cannot be followed"))
                .count(),
            1
        );
    }

    #[test]
    fn references_follow_keys_transitively_and_through_cycles() {
        let mut a = table("a", vec![col("id", "bigint", true)]);
        a.primary_key = vec!["id".into()];
        let mut b = table("b", vec![col("a_id", "bigint", true)]);
        b.primary_key = vec!["a_id".into()];
        b.foreign_keys = vec![fk("b_a", &["a_id"], "a", &["id"])];
        let mut c = table(
            "c",
            vec![col("b_id", "bigint", true), col("self_id", "bigint", false)],
        );
        c.primary_key = vec!["b_id".into()];
        c.foreign_keys = vec![
            fk("c_b", &["b_id"], "b", &["a_id"]),
            fk("c_self", &["self_id"], "c", &["b_id"]),
        ];
        // d.x and e.y reference each other.
        let mut d = table("d", vec![col("x", "bigint", true)]);
        d.primary_key = vec!["x".into()];
        d.foreign_keys = vec![fk("d_e", &["x"], "e", &["y"])];
        let mut e = table("e", vec![col("y", "bigint", true)]);
        e.primary_key = vec!["y".into()];
        e.foreign_keys = vec![fk("e_d", &["y"], "d", &["x"])];
        let catalog = Catalog {
            tables: vec![a, b, c, d, e],
        };
        let text = "version = 1\n[tables.\"public.a\".columns]\nid = \"hash\"\n\
                    [tables.\"public.d\".columns]\nx = \"hash\"\n";
        let set = rules(text);
        let report = check(&set, &catalog, true, &preserves);
        assert!(report.is_ok(), "{report}");
        let eff = effective_rules(&set, &catalog).unwrap();
        for column in [("b", "a_id"), ("c", "b_id"), ("c", "self_id")] {
            let r = eff
                .get(&ColumnId::new("public", column.0, column.1))
                .unwrap();
            assert_eq!(r.origin, ColumnId::new("public", "a", "id"), "{column:?}");
        }
        let y = eff.get(&ColumnId::new("public", "e", "y")).unwrap();
        assert_eq!(y.origin, ColumnId::new("public", "d", "x"));
    }

    #[test]
    fn a_column_referencing_two_keys_needs_them_alike() {
        let mut a = table("a", vec![col("id", "bigint", true)]);
        a.primary_key = vec!["id".into()];
        let mut b = table("b", vec![col("id", "bigint", true)]);
        b.primary_key = vec!["id".into()];
        let mut c = table("c", vec![col("ref", "bigint", true)]);
        c.foreign_keys = vec![
            fk("c_a", &["ref"], "a", &["id"]),
            fk("c_b", &["ref"], "b", &["id"]),
        ];
        let catalog = Catalog {
            tables: vec![a, b, c],
        };
        let alike = "version = 1\n[tables.\"public.a\".columns]\nid = { transformer = \"hash\", domain = \"k\" }\n\
                     [tables.\"public.b\".columns]\nid = { transformer = \"hash\", domain = \"k\" }\n";
        assert!(check(&rules(alike), &catalog, true, &preserves).is_ok());
        let different = alike.replacen("domain = \"k\"", "domain = \"j\"", 1);
        let report = check(&rules(&different), &catalog, true, &preserves);
        assert!(
            report
                .errors
                .iter()
                .any(|e| e.message.contains("transformed differently")),
            "{report}"
        );
        let half = "version = 1\n[tables.\"public.a\".columns]\nid = \"hash\"\n\
                    [tables.\"public.b\".columns]\nid = \"keep\"\n";
        let report = check(&rules(half), &catalog, true, &preserves);
        assert!(
            report
                .errors
                .iter()
                .any(|e| e.message.contains("need the same rule")),
            "{report}"
        );
    }

    #[test]
    fn warnings_for_shared_domains_and_references_to_empty_tables() {
        let text = shop_with(
            "operator_email = { transformer = \"email\", domain = \"email\" }",
            "operator_email = { transformer = \"hash\", domain = \"email\" }",
        )
        .replace("decision = \"skip\"", "decision = \"schema-only\"");
        // order_items (kept, so with rows) gains a foreign key to the now empty audit_log.
        let mut catalog = shop();
        let items = catalog
            .tables
            .iter_mut()
            .find(|t| t.name == "order_items")
            .unwrap();
        items
            .foreign_keys
            .push(fk("items_audit", &["quantity"], "audit_log", &["id"]));
        let report = run(&text, &catalog, false);
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.warnings.len(), 2, "{report}");
        assert!(
            report
                .warnings
                .iter()
                .any(|w| w.message.contains("share domain \"email\"")),
            "{report}"
        );
        let empty = report
            .warnings
            .iter()
            .find(|w| w.message.contains("schema-only"))
            .unwrap_or_else(|| panic!("{report}"));
        // At the decision's table, where the fix goes.
        assert_eq!(
            empty.location.as_ref().unwrap().to_string(),
            "rules/shop.toml:19:9"
        );
    }

    #[test]
    fn did_you_mean_only_for_close_names() {
        assert_eq!(
            did_you_mean("emial", ["email", "id"].into_iter()),
            " (did you mean `email`?)"
        );
        assert_eq!(did_you_mean("zzz", ["email", "id"].into_iter()), "");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(
            table_key(&TableName::new("public", "a.b")),
            "'public.\"a.b\"'"
        );
        assert_eq!(
            TableName::parse(
                &toml::from_str::<toml::Table>(&format!(
                    "{} = 1",
                    table_key(&TableName::new("p", "x\"y"))
                ))
                .unwrap()
                .keys()
                .next()
                .unwrap()[..]
            ),
            Ok(TableName::new("p", "x\"y"))
        );
    }
}
