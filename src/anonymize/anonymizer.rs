//! A transformer as a rule applies it: with the rule's `domain`, `on_error` and `empty`.
//!
//! This is the one place every value reaches a transformer (column rules, JSON paths, array
//! elements), so rule-level behaviour lives here rather than in each transformer: notably
//! that an empty value is no value, kept as it is ([`Empty`]).

use super::column::{ColumnType, TypeKind};
use super::error::{BuildError, TransformError};
use super::key::Key;
use super::params::{ParamInfo, ParamKind};
use super::registry;
use super::{ColumnRead, Ctx, Row, Transformer};

/// Keys of a transformer spec that belong to the rule rather than to the transformer.
pub const COMMON_PARAMS: &[ParamInfo] = &[
    ParamInfo {
        name: "transformer",
        kind: ParamKind::String,
        default: None,
        doc: "which transformer to apply (`doppel rules list-transformers`)",
    },
    ParamInfo {
        name: "domain",
        kind: ParamKind::String,
        default: Some("\"schema.table.column\""),
        doc: "inputs are hashed within this name: give columns the same domain (and the same \
              transformer and parameters) to map the same input to the same output in each",
    },
    ParamInfo {
        name: "on_error",
        kind: ParamKind::String,
        default: Some("\"fail\""),
        doc: "what a value the transformer cannot handle becomes: \"fail\" stops with the table, \
              column and row; \"null\" writes NULL; { fallback = \"...\" } writes that value",
    },
    ParamInfo {
        name: "empty",
        kind: ParamKind::Choice(&["keep", "transform"]),
        default: Some("\"keep\""),
        doc: "what an empty (or all-blank) value becomes: \"keep\" leaves it as it is, since it \
              carries no personal value (every transformer, `null` and `constant` included); \
              \"transform\" hands it to the transformer like any other value",
    },
];

/// What a rule does with an empty or all-blank value (`""`, or the spaces of a blank
/// `char(n)`).
///
/// Such a value carries no personal data, and real columns are full of them (an unknown
/// phone number saved as `""`): a transformer that expects a phone number would stop the
/// snapshot on the first one. So by default it is kept, like NULL — for every transformer,
/// including those whose output does not depend on the value (`null`, `constant`,
/// `template`): one predictable rule, and nothing personal can survive it. A rule that wants
/// the transformer to see it anyway (a `constant` over every row) says `empty = "transform"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Empty {
    /// Written as it was (the default).
    #[default]
    Keep,
    /// Given to the transformer like any other value.
    Transform,
}

impl Empty {
    /// The spelling used in rules: `keep` or `transform`.
    pub fn as_str(self) -> &'static str {
        match self {
            Empty::Keep => "keep",
            Empty::Transform => "transform",
        }
    }

    /// Reads the spelling used in rules.
    pub fn parse(s: &str) -> Option<Empty> {
        match s {
            "keep" => Some(Empty::Keep),
            "transform" => Some(Empty::Transform),
            _ => None,
        }
    }

    /// Whether `value` is one this policy keeps: empty or all blank, under `Keep`.
    pub fn keeps(self, value: &str) -> bool {
        self == Empty::Keep && value.trim().is_empty()
    }
}

/// What happens to a value its transformer cannot handle.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum OnError {
    /// Stop, reporting the table, column and row position (the default: nothing unexpected
    /// slips through silently).
    #[default]
    Fail,
    /// Write NULL.
    Null,
    /// Write this value.
    Fallback(String),
}

impl OnError {
    /// Reads `on_error` from a rule: `"fail"`, `"null"`, or `{ fallback = "..." }`, checking
    /// that the result can be written to `column`.
    pub fn from_toml(value: &toml::Value, column: &ColumnType) -> Result<OnError, BuildError> {
        let bad = |reason: String| BuildError::BadValue {
            transformer: "rule".into(),
            param: "on_error".into(),
            reason,
        };
        let on_error = match value {
            toml::Value::String(s) if s == "fail" => OnError::Fail,
            toml::Value::String(s) if s == "null" => OnError::Null,
            toml::Value::Table(t) if t.len() == 1 => match t.get("fallback") {
                Some(toml::Value::String(s)) => OnError::Fallback(s.clone()),
                _ => return Err(bad("write { fallback = \"a string\" }".into())),
            },
            _ => {
                return Err(bad(
                    "must be \"fail\", \"null\" or { fallback = \"value\" }".into(),
                ))
            }
        };
        match &on_error {
            OnError::Null if column.not_null => {
                return Err(bad(format!(
                    "the column is NOT NULL; use \"fail\" or {{ fallback = \"...\" }} (a valid {column} value)"
                )))
            }
            OnError::Fallback(s) => {
                column
                    .check(s)
                    .map_err(|why| bad(format!("the fallback value is {why}")))?;
            }
            _ => {}
        }
        Ok(on_error)
    }
}

/// One rule's transformer with the rule's domain and `on_error`: what the snapshot applies to
/// a column's values.
pub struct Anonymizer {
    name: &'static str,
    transformer: Box<dyn Transformer>,
    domain: Option<String>,
    on_error: OnError,
    empty: Empty,
    /// The column's length limit, checked on every output as a last line of defence: a value
    /// too long for `varchar(n)` would fail the restore, far from its cause.
    max_len: Option<usize>,
}

impl std::fmt::Debug for Anonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Anonymizer")
            .field("transformer", &self.name)
            .field("domain", &self.domain)
            .field("on_error", &self.on_error)
            .field("empty", &self.empty)
            .finish()
    }
}

impl Anonymizer {
    /// Builds transformer `name` with `params` for `column`; `domain` overrides the column's
    /// own (`schema.table.column`) when set.
    pub fn new(
        name: &str,
        params: &toml::Table,
        column: &ColumnType,
        domain: Option<String>,
        on_error: OnError,
        empty: Empty,
    ) -> Result<Anonymizer, BuildError> {
        let transformer = registry::build(name, params, column)?;
        let info = registry::info(name).expect("build succeeded, so the name is known");
        Ok(Anonymizer {
            name: info.name,
            transformer,
            domain,
            on_error,
            empty,
            max_len: column.max_len.filter(|_| is_text(column)),
        })
    }

    /// Builds from a spec table as rules and nested specs write it:
    /// `{ transformer = "email", domain = "email", on_error = "null", empty = "keep",
    /// ...parameters }`.
    pub fn from_spec(spec: &toml::Table, column: &ColumnType) -> Result<Anonymizer, BuildError> {
        let rule_param = |param: &str, reason: &str| BuildError::BadValue {
            transformer: "rule".into(),
            param: param.into(),
            reason: reason.into(),
        };
        let name = match spec.get("transformer") {
            Some(toml::Value::String(s)) => s.as_str(),
            Some(_) => return Err(rule_param("transformer", "must be a transformer's name")),
            None => {
                return Err(rule_param(
                    "transformer",
                    "is missing: say which transformer to apply, e.g. transformer = \"email\"",
                ))
            }
        };
        let domain = match spec.get("domain") {
            Some(toml::Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(_) => return Err(rule_param("domain", "must be a non-empty string")),
            None => None,
        };
        let on_error = match spec.get("on_error") {
            Some(v) => OnError::from_toml(v, column)?,
            None => OnError::Fail,
        };
        let empty = match spec.get("empty") {
            Some(toml::Value::String(s)) => Empty::parse(s)
                .ok_or_else(|| rule_param("empty", "must be \"keep\" or \"transform\""))?,
            Some(_) => return Err(rule_param("empty", "must be \"keep\" or \"transform\"")),
            None => Empty::Keep,
        };
        let params: toml::Table = spec
            .iter()
            .filter(|(k, _)| !COMMON_PARAMS.iter().any(|c| c.name == k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Anonymizer::new(name, &params, column, domain, on_error, empty)
    }

    /// The transformer's name.
    pub fn transformer_name(&self) -> &'static str {
        self.name
    }

    /// The domain the rule set, if it overrides the column's own.
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// What happens to values the transformer cannot handle.
    pub fn on_error(&self) -> &OnError {
        &self.on_error
    }

    /// What happens to empty and all-blank values.
    pub fn empty(&self) -> Empty {
        self.empty
    }

    /// Whether distinct inputs give distinct outputs (see [`Transformer::preserves_uniqueness`]).
    pub fn preserves_uniqueness(&self) -> bool {
        self.transformer.preserves_uniqueness()
    }

    /// The other columns of the row the transformer reads.
    pub fn reads(&self) -> Vec<ColumnRead> {
        self.transformer.reads()
    }

    /// Transforms one value of a column whose own domain is `column_domain`
    /// (`schema.table.column`), applying `on_error`. An error is returned only with
    /// [`OnError::Fail`]; the caller adds the table, column and row position.
    pub fn apply(
        &self,
        value: Option<&str>,
        key: &Key,
        column_domain: &str,
        row: &dyn Row,
    ) -> Result<Option<String>, TransformError> {
        let mut ctx = Ctx::new(key, column_domain, row);
        self.apply_in(value, &mut ctx)
    }

    /// Transforms one value inside another transformer's context (JSON paths, array
    /// elements): the nested rule uses its own domain if it set one, else the enclosing one.
    pub(crate) fn apply_in(
        &self,
        value: Option<&str>,
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        if let Some(v) = value.filter(|v| self.empty.keeps(v)) {
            return Ok(Some(v.to_string()));
        }
        let domain = self.domain.as_deref().unwrap_or(ctx.domain());
        let mut own = ctx.scoped(domain, self.name);
        let result =
            self.transformer
                .transform(value, &mut own)
                .and_then(|out| match (out, self.max_len) {
                    (Some(v), Some(max)) if v.chars().count() > max => Err(TransformError::new(
                        self.name,
                        format!("the result is longer than the column's {max} characters"),
                    )),
                    (out, _) => Ok(out),
                });
        match result {
            Ok(v) => Ok(v),
            Err(e) => match &self.on_error {
                OnError::Fail => Err(e),
                OnError::Null => Ok(None),
                OnError::Fallback(s) => Ok(Some(s.clone())),
            },
        }
    }
}

/// Whether `column` can hold the text a transformer makes: text types, and `json`/`jsonb`
/// only through the `json` transformer.
pub(crate) fn is_text(column: &ColumnType) -> bool {
    column.kind() == TypeKind::Text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anonymize::testing::key;
    use crate::anonymize::{MapRow, NoRow};

    fn spec(s: &str) -> toml::Table {
        toml::from_str(s).unwrap()
    }

    #[test]
    fn on_error_decides_what_a_bad_value_becomes() {
        let col = ColumnType::text();
        let fail = Anonymizer::from_spec(&spec("transformer = \"uuid\""), &col).unwrap();
        let e = fail.apply(Some("nope"), &key(), "d", &NoRow).unwrap_err();
        assert!(e.to_string().starts_with("uuid: "), "{e}");
        assert!(!e.to_string().contains("nope"), "{e}");

        let null =
            Anonymizer::from_spec(&spec("transformer = \"uuid\"\non_error = \"null\""), &col)
                .unwrap();
        assert_eq!(null.apply(Some("nope"), &key(), "d", &NoRow).unwrap(), None);

        let fallback = Anonymizer::from_spec(
            &spec("transformer = \"uuid\"\non_error = { fallback = \"n/a\" }"),
            &col,
        )
        .unwrap();
        assert_eq!(
            fallback.apply(Some("nope"), &key(), "d", &NoRow).unwrap(),
            Some("n/a".into())
        );
    }

    #[test]
    fn on_error_must_fit_the_column() {
        let col = ColumnType::parse("varchar(2)").unwrap().not_null();
        let e = Anonymizer::from_spec(&spec("transformer = \"keep\"\non_error = \"null\""), &col)
            .unwrap_err();
        assert!(e.to_string().contains("NOT NULL"), "{e}");
        let e = Anonymizer::from_spec(
            &spec("transformer = \"keep\"\non_error = { fallback = \"abc\" }"),
            &col,
        )
        .unwrap_err();
        assert!(e.to_string().contains("varchar(2)"), "{e}");
        let e = Anonymizer::from_spec(&spec("transformer = \"keep\"\non_error = \"skip\""), &col)
            .unwrap_err();
        assert!(e.to_string().contains("\"fail\""), "{e}");
    }

    #[test]
    fn domain_ties_columns_together() {
        let col = ColumnType::text();
        let a = Anonymizer::from_spec(&spec("transformer = \"email\"\ndomain = \"email\""), &col)
            .unwrap();
        let x = a.apply(Some("a@b.c"), &key(), "public.users.email", &NoRow);
        let y = a.apply(Some("a@b.c"), &key(), "public.orders.email", &NoRow);
        assert_eq!(x, y);
        let plain = Anonymizer::from_spec(&spec("transformer = \"email\""), &col).unwrap();
        let x = plain.apply(Some("a@b.c"), &key(), "public.users.email", &NoRow);
        let y = plain.apply(Some("a@b.c"), &key(), "public.orders.email", &NoRow);
        assert_ne!(x, y);
        assert_eq!(a.domain(), Some("email"));
        assert_eq!(a.transformer_name(), "email");
    }

    #[test]
    fn outputs_longer_than_the_column_are_errors() {
        // A JSON document in a varchar column grows when re-written with jsonb's spacing.
        let col = ColumnType::parse("varchar(12)").unwrap();
        let spec = spec("transformer = \"json\"\npaths = { \"$.a\" = { transformer = \"keep\" } }");
        let json = Anonymizer::from_spec(&spec, &col).unwrap();
        assert_eq!(
            json.apply(Some("{\"a\":1}"), &key(), "d", &NoRow)
                .unwrap()
                .as_deref(),
            Some("{\"a\": 1}")
        );
        let e = json
            .apply(Some("{\"a\":1,\"b\":2}"), &key(), "d", &NoRow)
            .unwrap_err();
        assert!(e.reason.contains("12 characters"), "{e}");
    }

    /// Parameters for the transformers that require some, so that each can be built.
    const REQUIRED: &[(&str, &str)] = &[
        ("constant", "value = \"redacted\""),
        ("template", "template = \"{first}\""),
        ("regex_replace", "pattern = \"[0-9]\"\nreplacement = \"#\""),
        ("weighted_choice", "choices = [\"gold\", \"silver\"]"),
        ("numeric_range", "min = 0\nmax = 100"),
        ("json", "paths = { \"$.a\" = { transformer = \"email\" } }"),
        ("array", "element = { transformer = \"phone\" }"),
    ];

    /// Every transformer, built from a spec (with `extra` rule keys) for the first of a few
    /// column types it accepts.
    fn every_transformer(extra: &str) -> Vec<(&'static str, Anonymizer)> {
        let types = [
            "text",
            "int4",
            "numeric",
            "date",
            "timestamptz",
            "uuid",
            "inet",
            "macaddr",
            "jsonb",
        ];
        let mut built = Vec::new();
        for info in crate::anonymize::catalog() {
            let params = REQUIRED
                .iter()
                .find(|(n, _)| *n == info.name)
                .map_or("", |(_, p)| p);
            let text = format!("transformer = \"{}\"\n{params}\n{extra}", info.name);
            let a = types
                .iter()
                .find_map(|t| {
                    Anonymizer::from_spec(&spec(&text), &ColumnType::parse(t).unwrap()).ok()
                })
                .unwrap_or_else(|| panic!("{} builds for none of {types:?}", info.name));
            built.push((info.name, a));
        }
        assert!(built.len() >= 30, "{}", built.len());
        built
    }

    #[test]
    fn every_transformer_keeps_empty_and_blank_values_by_default() {
        let row = MapRow::new().with("first", Some("Alice"));
        for (name, a) in every_transformer("") {
            assert_eq!(a.empty(), Empty::Keep, "{name}");
            for v in ["", " ", "   ", "\t"] {
                assert_eq!(
                    a.apply(Some(v), &key(), "public.t.c", &row),
                    Ok(Some(v.to_string())),
                    "{name} on {v:?}"
                );
            }
            // Not a licence to keep values with something in them.
            if name != "keep" {
                let out = a.apply(Some("Alice Smith 42"), &key(), "public.t.c", &row);
                assert_ne!(out, Ok(Some("Alice Smith 42".into())), "{name}");
            }
        }
    }

    #[test]
    fn empty_transform_hands_empty_values_to_the_transformer() {
        let row = MapRow::new().with("first", Some("Alice"));
        let mut transformed = 0;
        for (name, a) in every_transformer("empty = \"transform\"") {
            assert_eq!(a.empty(), Empty::Transform, "{name}");
            if a.apply(Some(""), &key(), "public.t.c", &row) != Ok(Some(String::new())) {
                transformed += 1;
            }
        }
        assert!(transformed >= 10, "{transformed}");
        let col = ColumnType::text();
        let phone = Anonymizer::from_spec(
            &spec("transformer = \"phone\"\nempty = \"transform\""),
            &col,
        )
        .unwrap();
        assert!(phone.apply(Some(""), &key(), "d", &NoRow).is_err());
        let constant = Anonymizer::from_spec(
            &spec("transformer = \"constant\"\nvalue = \"n/a\"\nempty = \"transform\""),
            &col,
        )
        .unwrap();
        assert_eq!(
            constant.apply(Some(""), &key(), "d", &NoRow),
            Ok(Some("n/a".into()))
        );
        let e = Anonymizer::from_spec(&spec("transformer = \"phone\"\nempty = \"drop\""), &col)
            .unwrap_err();
        assert!(e.to_string().contains("\"transform\""), "{e}");
    }

    #[test]
    fn empty_values_inside_arrays_and_documents_are_kept_too() {
        let col = ColumnType::text();
        let array = Anonymizer::from_spec(
            &spec("transformer = \"array\"\nelement = { transformer = \"phone\" }"),
            &col,
        )
        .unwrap();
        let out = array
            .apply(Some("{\"\",\"+1 555 0100\"}"), &key(), "d", &NoRow)
            .unwrap()
            .unwrap();
        assert!(out.starts_with("{\"\","), "{out}");
        assert!(!out.contains("555 0100"), "{out}");
        let json = Anonymizer::from_spec(
            &spec("transformer = \"json\"\npaths = { \"$.p\" = { transformer = \"phone\" } }"),
            &ColumnType::new("jsonb"),
        )
        .unwrap();
        let out = json
            .apply(Some("{\"p\": \"\"}"), &key(), "d", &NoRow)
            .unwrap();
        assert_eq!(out.as_deref(), Some("{\"p\": \"\"}"));
    }

    #[test]
    fn spec_needs_a_transformer() {
        let e = Anonymizer::from_spec(&spec("length = 3"), &ColumnType::text()).unwrap_err();
        assert!(e.to_string().contains("transformer = \"email\""), "{e}");
    }
}
