//! The rule types: what a loaded and merged rules folder says, and where each part of it was
//! written, so that every later error (validation, the transformer registry) can point at a
//! file, line and column.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::when::When;
use crate::anonymize::Empty;
use crate::catalog::TableName;

/// The transformer name that leaves a column as it is.
pub const KEEP: &str = "keep";

/// The transformer name that replaces a column with NULL.
pub const NULL: &str = "null";

/// A position in a rules file: 1-based line and column (in characters).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// The file, as it was given to the loader.
    pub path: PathBuf,
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub col: usize,
}

impl Location {
    /// The position of byte `offset` in `text`, the content of `path`.
    pub fn at(path: &Path, text: &str, offset: usize) -> Location {
        let (line, col) = crate::error::line_col(text, offset);
        Location {
            path: path.to_path_buf(),
            line,
            col,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.path.display(), self.line, self.col)
    }
}

/// One problem found in the rules: where (when it has a place in a file) and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where the problem is written, when it is in a rules file.
    pub location: Option<Location>,
    /// `what is wrong; what to do`.
    pub message: String,
}

impl Diagnostic {
    /// A problem at a place in a rules file.
    pub fn at(location: &Location, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            location: Some(location.clone()),
            message: message.into(),
        }
    }

    /// A problem with no place in a file (a folder that cannot be read, a catalog conflict).
    pub fn general(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            location: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(loc) => write!(f, "{loc}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Rules that cannot be loaded: every problem found, in file order, one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesError {
    /// The problems, sorted by file, line and column.
    pub diagnostics: Vec<Diagnostic>,
}

impl RulesError {
    pub(crate) fn new(mut diagnostics: Vec<Diagnostic>) -> RulesError {
        diagnostics.sort_by(|a, b| a.location.cmp(&b.location));
        diagnostics.dedup();
        RulesError { diagnostics }
    }
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RulesError {}

impl From<RulesError> for crate::error::Error {
    fn from(e: RulesError) -> Self {
        crate::error::Error::Rules(Box::new(e))
    }
}

/// What happens to a whole table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Decision {
    /// Rows are copied with the column rules applied (the default).
    Anonymize,
    /// Rows are copied as they are: every column is explicitly kept.
    Keep,
    /// The table is created, empty: no rows are read.
    SchemaOnly,
    /// The table is left out entirely, schema and rows.
    Skip,
}

impl Decision {
    /// The spelling used in rules files.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Anonymize => "anonymize",
            Decision::Keep => "keep",
            Decision::SchemaOnly => "schema-only",
            Decision::Skip => "skip",
        }
    }

    /// Reads the spelling used in rules files.
    pub fn parse(s: &str) -> Option<Decision> {
        Some(match s {
            "anonymize" => Decision::Anonymize,
            "keep" => Decision::Keep,
            "schema-only" => Decision::SchemaOnly,
            "skip" => Decision::Skip,
            _ => return None,
        })
    }

    /// Whether rows of the table are read at all.
    pub fn reads_rows(self) -> bool {
        matches!(self, Decision::Anonymize | Decision::Keep)
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to do with a value the transformer cannot handle (a malformed e-mail, a date out of
/// range).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OnError {
    /// Stop the snapshot (the default): nothing is written that the rules did not foresee.
    Fail,
    /// Write NULL instead.
    Null,
    /// Write this value instead, as COPY text (numbers and booleans written in TOML are
    /// turned into their text).
    Fallback(String),
}

/// How one column is anonymized, and where that was written.
#[derive(Debug, Clone)]
pub struct ColumnRule {
    /// The column name, exactly as in `pg_catalog`.
    pub column: String,
    /// The transformer's name (`keep` for an explicit keep). Checked by the registry.
    pub transformer: String,
    /// Every other key of the rule, passed to the transformer registry as they are.
    pub params: toml::Table,
    /// Columns that share a domain are transformed consistently (the same input gives the
    /// same output) even when no foreign key links them. `None`: the column's own domain.
    pub domain: Option<String>,
    /// The rule applies only to rows where this is TRUE; other rows keep their value.
    pub when: Option<When>,
    /// What to do when the transformer fails on a value.
    pub on_error: OnError,
    /// Whether empty and all-blank values are kept (the default) or transformed.
    pub empty: Empty,
    /// The column's key in the rules file.
    pub location: Location,
    /// The `transformer` value (the shorthand string itself for `col = "name"`).
    pub transformer_location: Location,
    /// Where the text of the `when` clause starts.
    pub when_location: Option<Location>,
    /// Whether the clause is written without escapes, so that a position within it maps
    /// to the file one to one.
    pub when_verbatim: bool,
    /// The `domain` value.
    pub domain_location: Option<Location>,
    /// Each parameter's key.
    pub param_locations: BTreeMap<String, Location>,
}

impl ColumnRule {
    /// A rule applying `transformer` to `column` with no parameters, written at `location`
    /// (for tests and for rules made by code rather than read from a file).
    pub fn new(column: &str, transformer: &str, location: Location) -> ColumnRule {
        ColumnRule {
            column: column.to_string(),
            transformer: transformer.to_string(),
            params: toml::Table::new(),
            domain: None,
            when: None,
            on_error: OnError::Fail,
            empty: Empty::Keep,
            transformer_location: location.clone(),
            location,
            when_location: None,
            when_verbatim: false,
            domain_location: None,
            param_locations: BTreeMap::new(),
        }
    }

    /// Whether this is an explicit keep: the column is copied as it is.
    pub fn is_keep(&self) -> bool {
        self.transformer == KEEP
    }

    /// Where parameter `name` is written (the rule itself when there is no such parameter),
    /// for the registry's "unknown parameter" and "wrong type" errors.
    pub fn param_location(&self, name: &str) -> &Location {
        self.param_locations.get(name).unwrap_or(&self.location)
    }

    /// Where position (line, col) of the `when` clause is in the file: exact when the
    /// clause is written without escapes, else the start of the clause.
    pub fn when_position(&self, line: usize, col: usize) -> Location {
        let Some(start) = &self.when_location else {
            return self.location.clone();
        };
        if !self.when_verbatim {
            return start.clone();
        }
        Location {
            path: start.path.clone(),
            line: start.line + line - 1,
            col: if line == 1 { start.col + col - 1 } else { col },
        }
    }

    /// Whether two rules transform values the same way: same transformer, parameters,
    /// domain, condition, error and empty-value handling. Locations do not matter.
    pub fn same_effect(&self, other: &ColumnRule) -> bool {
        self.transformer == other.transformer
            && self.params == other.params
            && self.domain == other.domain
            && self.when == other.when
            && self.on_error == other.on_error
            && self.empty == other.empty
    }
}

/// The rules for one table.
#[derive(Debug, Clone)]
pub struct TableRules {
    /// The table.
    pub table: TableName,
    /// What happens to the table as a whole.
    pub decision: Decision,
    /// Column rules by column name (only for `Decision::Anonymize`).
    pub columns: BTreeMap<String, ColumnRule>,
    /// The table's key in the rules file.
    pub location: Location,
}

/// Every rule of a rules folder, merged: one entry per table.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub(crate) tables: BTreeMap<TableName, TableRules>,
    pub(crate) files: Vec<PathBuf>,
}

impl RuleSet {
    /// The rules for each table, in table-name order.
    pub fn tables(&self) -> impl Iterator<Item = &TableRules> {
        self.tables.values()
    }

    /// The rules for one table, if any.
    pub fn table(&self, name: &TableName) -> Option<&TableRules> {
        self.tables.get(name)
    }

    /// The files the rules were read from, sorted.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Whether no table has a rule.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }
}
