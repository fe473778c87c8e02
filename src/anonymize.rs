//! Anonymization transformers: what a rule does to one column's values.
//!
//! A [`Transformer`] maps a column's value (its text form, as COPY carries it after
//! unescaping; `None` for NULL) to the value written instead. Transformers are built from a
//! rule by name and parameters with [`build`], knowing the column's [`ColumnType`] so that
//! every output loads back and a rule that cannot fit is refused up front. [`catalog`]
//! describes them all for `doppel rules list-transformers`.
//!
//! Every transformer is deterministic: its output is a function of the [`Key`], the rule's
//! domain (by default `schema.table.column`; a shared `domain` ties columns together so that
//! the same input gives the same output in each), and the input. Same key → same output
//! across tables, runs and snapshots, which keeps anonymized snapshots dedupable; another key
//! → unrelated output.
//!
//! An [`Anonymizer`] is what a rule applies: a transformer with the rule's `domain`,
//! `on_error` ([`OnError`]) and `empty` ([`Empty`]: an empty or all-blank value is kept as it
//! is unless the rule says `empty = "transform"`, so transformers never see one by default).
//!
//! ```
//! use doppel::anonymize::{Anonymizer, ColumnType, Key, NoRow};
//!
//! let key = Key::from_secret("a long random secret from the environment").unwrap();
//! let spec: toml::Table = toml::from_str(r#"transformer = "email""#).unwrap();
//! let column = ColumnType::parse("varchar(64)").unwrap();
//! let email = Anonymizer::from_spec(&spec, &column).unwrap();
//! let out = email.apply(Some("alice@corp.example"), &key, "public.users.email", &NoRow).unwrap();
//! assert!(out.unwrap().ends_with("@example.com"));
//! assert_eq!(email.apply(None, &key, "public.users.email", &NoRow).unwrap(), None);
//! ```

mod anonymizer;
pub(crate) mod check_digits;
mod column;
mod dates;
mod error;
mod feistel;
pub(crate) mod gen;
mod key;
mod params;
mod registry;
#[cfg(test)]
mod stability;
#[cfg(test)]
mod testing;

// One file per transformer.
mod array;
mod card_number;
mod city;
mod constant;
mod country;
mod date_generalize;
mod date_of_birth;
mod date_shift;
mod email;
mod faked;
mod hash;
mod iban;
mod ip;
mod ipv4;
mod ipv6;
mod json;
mod json_doc;
mod keep;
mod mac;
mod mask;
mod national_id;
mod noise;
mod null;
mod numbers;
mod numeric_range;
mod paragraph;
mod password_hash;
mod permute;
mod phone;
mod postcode;
mod regex_replace;
mod sentence;
mod street_address;
mod template;
mod url;
mod username;
mod uuid;
mod weighted_choice;
mod words;

use std::collections::BTreeMap;

use rand::SeedableRng;

pub use anonymizer::{Anonymizer, Empty, OnError, COMMON_PARAMS};
pub use column::{ColumnType, TypeKind};
pub use error::{BuildError, TransformError};
pub use key::{Key, KeyError, MIN_SECRET_LEN};
pub use params::{ParamInfo, ParamKind};
pub use password_hash::KNOWN_PASSWORD;
pub use registry::{build, catalog, info, TransformerInfo, Uniqueness};

/// A built transformer: maps one value of a column to the value written instead.
pub trait Transformer: Send + Sync {
    /// Transforms `value` (the column's text form; `None` for NULL). NULL stays NULL unless
    /// the transformer's documentation says otherwise. Empty and all-blank values reach it
    /// only when the rule says `empty = "transform"` ([`Empty`]). An error says what was wrong with the
    /// value without quoting it.
    fn transform(
        &self,
        value: Option<&str>,
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError>;

    /// Whether distinct inputs always give distinct outputs (NULL aside), so that the
    /// transformer may run on a primary key or unique column. It can depend on parameters:
    /// `hash` preserves uniqueness only when long enough.
    fn preserves_uniqueness(&self) -> bool;

    /// The other columns of the row this transformer reads, so that the caller can check they
    /// exist and transform them first.
    fn reads(&self) -> Vec<ColumnRead> {
        Vec::new()
    }
}

/// A column of the row that a transformer reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnRead {
    /// The column's name.
    pub column: String,
    /// `true` for the value the source had; `false` for the value that will be written (its
    /// anonymized value when it has a rule, which must then run first).
    pub original: bool,
}

/// The row being transformed, as transformers that combine columns see it (`template`, and
/// `seed_column` of `date_shift`).
pub trait Row {
    /// The value `column` had in the source: `None` if the table has no such column,
    /// `Some(None)` for NULL.
    fn original(&self, column: &str) -> Option<Option<&str>>;

    /// The value that will be written for `column`: its anonymized value if its rule has run,
    /// otherwise its original value. `None` if the table has no such column.
    fn written(&self, column: &str) -> Option<Option<&str>>;
}

/// A row with no other columns: for transformers applied outside a table, and for tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRow;

impl Row for NoRow {
    fn original(&self, _column: &str) -> Option<Option<&str>> {
        None
    }

    fn written(&self, _column: &str) -> Option<Option<&str>> {
        None
    }
}

/// A row held in maps, column name to value: simple callers and tests.
#[derive(Debug, Clone, Default)]
pub struct MapRow {
    original: BTreeMap<String, Option<String>>,
    written: BTreeMap<String, Option<String>>,
}

impl MapRow {
    /// An empty row.
    pub fn new() -> MapRow {
        MapRow::default()
    }

    /// Adds a column with its original value; its written value is the same until
    /// [`MapRow::set_written`].
    pub fn with(mut self, column: &str, original: Option<&str>) -> MapRow {
        self.original
            .insert(column.to_string(), original.map(str::to_string));
        self
    }

    /// Records the value that will be written for `column`.
    pub fn set_written(&mut self, column: &str, value: Option<String>) {
        self.written.insert(column.to_string(), value);
    }
}

impl Row for MapRow {
    fn original(&self, column: &str) -> Option<Option<&str>> {
        self.original.get(column).map(|v| v.as_deref())
    }

    fn written(&self, column: &str) -> Option<Option<&str>> {
        match self.written.get(column) {
            Some(v) => Some(v.as_deref()),
            None => self.original(column),
        }
    }
}

/// What a transformer may use besides the value: the key, the rule's domain, and the row.
pub struct Ctx<'a> {
    key: &'a Key,
    domain: &'a str,
    row: &'a dyn Row,
    /// The transformer running, mixed into [`Ctx::rng`] and [`Ctx::hash`].
    scope: &'static str,
}

impl<'a> Ctx<'a> {
    /// A context for transforming values of a rule with `domain`, in `row`.
    pub fn new(key: &'a Key, domain: &'a str, row: &'a dyn Row) -> Ctx<'a> {
        Ctx {
            key,
            domain,
            row,
            scope: "",
        }
    }

    /// The same context for transformer `scope`, in `domain`.
    pub(crate) fn scoped<'b>(&self, domain: &'b str, scope: &'static str) -> Ctx<'b>
    where
        'a: 'b,
    {
        Ctx {
            key: self.key,
            domain,
            row: self.row,
            scope,
        }
    }

    /// The anonymization key.
    pub fn key(&self) -> &'a Key {
        self.key
    }

    /// The rule's domain: inputs are hashed within it.
    pub fn domain(&self) -> &'a str {
        self.domain
    }

    /// The row the value belongs to.
    pub fn row(&self) -> &'a dyn Row {
        self.row
    }

    /// A deterministic generator for `input` in this domain and for this transformer: two
    /// transformers sharing a domain still draw unrelated values from the same input.
    pub fn rng(&self, input: &[u8]) -> impl rand::RngCore + use<> {
        rand_chacha::ChaCha8Rng::from_seed(self.hash(input))
    }

    /// The keyed hash of `input` in this domain, for this transformer.
    pub fn hash(&self, input: &[u8]) -> [u8; 32] {
        self.key.hash_scoped(self.domain, self.scope, input)
    }
}
