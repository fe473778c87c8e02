//! Anonymization rules: TOML files under `rules/` that say, table by table and column by
//! column, how a snapshot is anonymized.
//!
//! ```toml
//! version = 1
//!
//! [tables."public.customers"]
//! # decision = "anonymize" (default) | "keep" | "schema-only" | "skip"
//!
//! [tables."public.customers".columns]
//! id = "keep"                                   # an explicit keep
//! email = { transformer = "email", domain = "email", on_error = "null" }
//! notes = { transformer = "null", when = "country = 'FR' AND NOT is_admin" }
//! city = { transformer = "city", on_error = { fallback = "Springfield" } }
//! ```
//!
//! A column rule is a transformer name (`col = "city"`) or a table with `transformer` and,
//! optionally, `when` (a condition over the row: the rule applies where it is TRUE), `domain`
//! (ties columns no foreign key links), `on_error` (`"fail"`, `"null"` or
//! `{ fallback = VALUE }`); every other key is a parameter handed to the transformer. Table
//! keys are `schema.table`, taken literally (double-quote a part that contains a dot).
//! Several files are merged; a table defined twice is an error naming both places, and
//! every error carries its `file:line:col`.
//!
//! [`RuleSet::load_dir`] loads and merges a folder; [`check()`] validates rules against a
//! [`Catalog`] (read by [`read_catalog`]) and, in strict mode, lists every column no rule
//! covers with a suggested rule; [`effective_rules`] makes references follow the keys they
//! reference; [`RuleSet::digest`] identifies the rules in a manifest.

pub mod check;
pub mod compile;
mod digest;
mod load;
pub mod model;
pub mod scan;
pub mod suggest;
pub mod when;

#[cfg(test)]
mod tests;

pub use check::{
    check, effective_rules, EffectiveRule, EffectiveRules, Report, TablePlan, Uncovered,
};
pub use compile::{column_type, CompiledRules, Rewriter, TableAction, TableTransform};
pub use model::{
    ColumnRule, Decision, Diagnostic, Location, OnError, RuleSet, RulesError, TableRules, KEEP,
    NULL,
};
pub use scan::{scan, Finding, Flag, FlagKind, PiiKind, ScanReport};
pub use suggest::{suggest, Suggestion};
pub use when::{When, WhenError};

/// The rules file format this version reads and writes (`version = 1`).
pub const FORMAT_VERSION: u32 = 1;

/// The folder of rules files, next to `doppel.toml`, when none is named.
pub const DEFAULT_DIR: &str = "rules";
