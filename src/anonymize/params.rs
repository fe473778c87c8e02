//! Transformer parameters: their static description (for `rules list-transformers` and for
//! rejecting unknown ones) and a typed reader over a rule's TOML table whose errors name the
//! transformer and the parameter.

use std::fmt;

use super::column::ColumnType;
use super::error::BuildError;

/// One parameter of a transformer, as `doppel rules list-transformers` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamInfo {
    /// The key in the rule.
    pub name: &'static str,
    /// What kind of TOML value it takes.
    pub kind: ParamKind,
    /// The default, as it would be written in TOML; `None` when the parameter is required or
    /// its default depends on the column.
    pub default: Option<&'static str>,
    /// What it does.
    pub doc: &'static str,
}

/// The TOML value a parameter takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// A string.
    String,
    /// An integer.
    Integer,
    /// An integer or a float.
    Number,
    /// `true` or `false`.
    Bool,
    /// One of these strings.
    Choice(&'static [&'static str]),
    /// An array of strings.
    Strings,
    /// An array of numbers.
    Numbers,
    /// A transformer spec: `{ transformer = "email", ... }`.
    Spec,
    /// A table from keys to transformer specs.
    Specs,
    /// A table from strings to numbers.
    Weights,
}

impl fmt::Display for ParamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamKind::String => f.write_str("string"),
            ParamKind::Integer => f.write_str("integer"),
            ParamKind::Number => f.write_str("number"),
            ParamKind::Bool => f.write_str("bool"),
            ParamKind::Choice(options) => {
                let quoted: Vec<String> = options.iter().map(|o| format!("\"{o}\"")).collect();
                f.write_str(&quoted.join(" | "))
            }
            ParamKind::Strings => f.write_str("array of strings"),
            ParamKind::Numbers => f.write_str("array of numbers"),
            ParamKind::Spec => f.write_str("transformer spec"),
            ParamKind::Specs => f.write_str("table of transformer specs"),
            ParamKind::Weights => f.write_str("table of numbers"),
        }
    }
}

/// A rule's parameters for one transformer, read with errors that name both.
pub(crate) struct Params<'a> {
    transformer: &'static str,
    table: &'a toml::Table,
}

fn type_name(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a datetime",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
    }
}

impl<'a> Params<'a> {
    pub(crate) fn new(transformer: &'static str, table: &'a toml::Table) -> Params<'a> {
        Params { transformer, table }
    }

    fn wrong(&self, param: &str, expected: &str, found: &toml::Value) -> BuildError {
        BuildError::WrongType {
            transformer: self.transformer.into(),
            param: param.into(),
            expected: expected.into(),
            found: type_name(found).into(),
        }
    }

    /// An error for a parameter whose value cannot be used.
    pub(crate) fn bad(&self, param: &str, reason: impl Into<String>) -> BuildError {
        BuildError::BadValue {
            transformer: self.transformer.into(),
            param: param.into(),
            reason: reason.into(),
        }
    }

    /// An error for a missing required parameter.
    pub(crate) fn missing(&self, param: &str, doc: &str) -> BuildError {
        BuildError::MissingParam {
            transformer: self.transformer.into(),
            param: param.into(),
            doc: doc.into(),
        }
    }

    /// An error for output that cannot fit `column`.
    pub(crate) fn does_not_fit(
        &self,
        column: &ColumnType,
        reason: impl Into<String>,
    ) -> BuildError {
        BuildError::DoesNotFit {
            transformer: self.transformer.into(),
            column: column.to_string(),
            reason: reason.into(),
        }
    }

    /// The raw value of a parameter.
    pub(crate) fn raw(&self, name: &str) -> Option<&'a toml::Value> {
        self.table.get(name)
    }

    /// A string parameter.
    pub(crate) fn str(&self, name: &str) -> Result<Option<&'a str>, BuildError> {
        match self.table.get(name) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.wrong(name, "a string", v)),
        }
    }

    /// A string parameter that must be one of `options`.
    pub(crate) fn choice(
        &self,
        name: &str,
        options: &[&'static str],
        default: &'static str,
    ) -> Result<&'static str, BuildError> {
        let Some(given) = self.str(name)? else {
            return Ok(default);
        };
        options
            .iter()
            .copied()
            .find(|o| *o == given)
            .ok_or_else(|| {
                self.bad(
                    name,
                    format!("`{given}` is not one of: {}", options.join(", ")),
                )
            })
    }

    /// An integer parameter.
    pub(crate) fn int(&self, name: &str) -> Result<Option<i64>, BuildError> {
        match self.table.get(name) {
            None => Ok(None),
            Some(toml::Value::Integer(i)) => Ok(Some(*i)),
            Some(v) => Err(self.wrong(name, "an integer", v)),
        }
    }

    /// A non-negative integer parameter, as a count or length.
    pub(crate) fn count(&self, name: &str) -> Result<Option<usize>, BuildError> {
        match self.int(name)? {
            None => Ok(None),
            Some(i) => usize::try_from(i)
                .map(Some)
                .map_err(|_| self.bad(name, format!("must not be negative (got {i})"))),
        }
    }

    /// A number parameter: an integer or a float.
    pub(crate) fn number(&self, name: &str) -> Result<Option<f64>, BuildError> {
        match self.table.get(name) {
            None => Ok(None),
            Some(toml::Value::Integer(i)) => Ok(Some(*i as f64)),
            Some(toml::Value::Float(f)) if f.is_finite() => Ok(Some(*f)),
            Some(v) => Err(self.wrong(name, "a finite number", v)),
        }
    }

    /// A boolean parameter.
    pub(crate) fn bool(&self, name: &str) -> Result<Option<bool>, BuildError> {
        match self.table.get(name) {
            None => Ok(None),
            Some(toml::Value::Boolean(b)) => Ok(Some(*b)),
            Some(v) => Err(self.wrong(name, "true or false", v)),
        }
    }

    /// An array-of-strings parameter.
    pub(crate) fn strings(&self, name: &str) -> Result<Option<Vec<String>>, BuildError> {
        match self.table.get(name) {
            None => Ok(None),
            Some(toml::Value::Array(items)) => items
                .iter()
                .map(|i| match i {
                    toml::Value::String(s) => Ok(s.clone()),
                    other => Err(self.wrong(name, "an array of strings", other)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(v) => Err(self.wrong(name, "an array of strings", v)),
        }
    }

    /// A date parameter, written as a TOML date (`1940-01-01`) or a string.
    pub(crate) fn date(&self, name: &str) -> Result<Option<chrono::NaiveDate>, BuildError> {
        let text = match self.table.get(name) {
            None => return Ok(None),
            Some(toml::Value::String(s)) => s.clone(),
            Some(toml::Value::Datetime(d)) if d.date.is_some() && d.time.is_none() => d.to_string(),
            Some(v) => return Err(self.wrong(name, "a date (1940-01-01)", v)),
        };
        chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| self.bad(name, format!("`{text}` is not a date (YYYY-MM-DD)")))
    }

    /// A table parameter.
    pub(crate) fn table(&self, name: &str) -> Result<Option<&'a toml::Table>, BuildError> {
        match self.table.get(name) {
            None => Ok(None),
            Some(toml::Value::Table(t)) => Ok(Some(t)),
            Some(v) => Err(self.wrong(name, "a table", v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_transformer_and_parameter() {
        let t: toml::Table = toml::from_str("length = \"x\"\nformat = \"hexx\"").unwrap();
        let p = Params::new("hash", &t);
        let e = p.int("length").unwrap_err().to_string();
        assert!(
            e.contains("`length`") && e.contains("`hash`") && e.contains("integer"),
            "{e}"
        );
        let e = p
            .choice("format", &["hex", "base64"], "hex")
            .unwrap_err()
            .to_string();
        assert!(e.contains("hex, base64"), "{e}");
        assert_eq!(p.str("missing").unwrap(), None);
    }

    #[test]
    fn kinds_display_for_the_catalog() {
        assert_eq!(ParamKind::Choice(&["a", "b"]).to_string(), "\"a\" | \"b\"");
    }
}
