//! The effective rules: each column's own rule or, for a column that references a
//! transformed key, the key's rule and domain, so that references still match after
//! anonymization. Conflicting rules on a referencing column are diagnostics.

use std::collections::{BTreeMap, BTreeSet};

use super::super::model::{ColumnRule, Decision, Diagnostic, RuleSet, RulesError, TableRules};
use crate::catalog::Catalog;
use crate::catalog::{ColumnId, TableName};

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
    let (effective, diagnostics) = resolve(rules, catalog);
    if diagnostics.is_empty() {
        Ok(effective)
    } else {
        Err(RulesError::new(diagnostics))
    }
}

/// The effective rules with the diagnostics found while following foreign keys, for a
/// check that reports them rather than stopping at the first.
pub(super) fn resolve(rules: &RuleSet, catalog: &Catalog) -> (EffectiveRules, Vec<Diagnostic>) {
    Resolver::new(rules, catalog).resolve()
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
