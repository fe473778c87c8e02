//! `when` clauses: a small SQL condition over one row, parsed once at load and evaluated per
//! row during a snapshot.
//!
//! The clause is parsed by `sqlparser` (PostgreSQL dialect) and compiled into a tree that
//! knows only columns of the row, literals, comparisons, `AND`/`OR`/`NOT`, `IS [NOT] NULL`,
//! `IS [NOT] TRUE/FALSE/UNKNOWN`, `IS [NOT] DISTINCT FROM`, `[NOT] IN`, `[NOT] LIKE`,
//! `[NOT] ILIKE` and `[NOT] BETWEEN`. Anything else (function calls, subqueries, arithmetic,
//! casts…) is refused at load with its position, so that nothing can fail or run arbitrary
//! code while rows stream.
//!
//! Values are the row's COPY text, so there are no types at evaluation time: two values are
//! compared as numbers when both read as numbers, as booleans when both read as booleans
//! (`t`, `f`, `true`, `false`), and as text (code point order, like the "C" collation)
//! otherwise. Logic is SQL's three-valued logic; a rule applies only to rows where its clause
//! is TRUE, as with `WHERE`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

mod compile;
mod cond;
mod eval;
mod like;
mod number;
mod parse;
#[cfg(test)]
mod tests;

use cond::Cond;

/// A compiled `when` clause.
#[derive(Debug, Clone)]
pub struct When {
    source: String,
    root: Cond,
    columns: BTreeSet<String>,
    positions: Refs,
}

/// Each column a clause reads, with the position of its first mention.
type Refs = BTreeMap<String, (usize, usize)>;

/// Why a clause was refused, with the position inside the clause (1-based line and column,
/// counted in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhenError {
    /// What is wrong and what to do about it.
    pub message: String,
    /// Line within the clause, from 1.
    pub line: usize,
    /// Column within the clause, in characters, from 1.
    pub col: usize,
}

impl fmt::Display for WhenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.col, self.message)
    }
}

impl std::error::Error for WhenError {}

impl When {
    /// Parses and compiles a clause such as `country = 'FR' AND NOT is_admin`.
    pub fn parse(source: &str) -> Result<When, WhenError> {
        let expr = parse::parse_expr(source)?;
        let mut refs = Refs::new();
        let root = compile::compile_cond(&expr, &mut refs)?;
        Ok(When {
            source: source.to_string(),
            root,
            columns: refs.keys().cloned().collect(),
            positions: refs,
        })
    }

    /// The clause as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The columns the clause reads (identifiers folded as PostgreSQL folds them), so that
    /// validation can check they exist and a caller can look them up by position.
    pub fn columns(&self) -> &BTreeSet<String> {
        &self.columns
    }

    /// Where column `name` is first mentioned in the clause (line and column, from 1).
    pub fn column_position(&self, name: &str) -> Option<(usize, usize)> {
        self.positions.get(name).copied()
    }

    /// The names of the columns used bare as conditions (`NOT is_admin`), which must be
    /// boolean columns for the clause to mean anything.
    pub fn boolean_columns(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        self.root.boolean_columns(&mut out);
        out
    }

    /// Evaluates the clause against a row. `row(name)` is `None` when the row has no such
    /// column (treated as NULL: validation has already refused such clauses) and
    /// `Some(None)` for SQL NULL. Returns `None` for UNKNOWN.
    pub fn eval<'r>(&self, row: &dyn Fn(&str) -> Option<Option<&'r str>>) -> Option<bool> {
        eval::eval_cond(&self.root, row)
    }

    /// Whether the rule applies to this row: the clause is TRUE (not FALSE, not UNKNOWN).
    pub fn matches<'r>(&self, row: &dyn Fn(&str) -> Option<Option<&'r str>>) -> bool {
        self.eval(row) == Some(true)
    }
}

/// A canonical rendering (folded identifiers, normalized spacing and parentheses): two
/// clauses that mean the same after parsing render the same, which the rules digest relies on.
impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.root.fmt(f)
    }
}

impl PartialEq for When {
    fn eq(&self, other: &When) -> bool {
        self.root == other.root
    }
}

impl Eq for When {}
