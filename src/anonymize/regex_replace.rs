//! `regex_replace`: rewrites the parts of the value a regular expression matches, e.g. to blank
//! out numbers inside free text. Replacements may use `$1` or `${name}` for groups.

use regex::Regex;

use super::anonymizer::is_text;
use super::column::ColumnType;
use super::error::{BuildError, TransformError};
use super::params::{ParamInfo, ParamKind, Params};
use super::registry::{TransformerInfo, Uniqueness};
use super::{Ctx, Transformer};

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "regex_replace",
    summary: "matches of a regular expression replaced (Rust regex syntax; $1 for groups)",
    types: "text, varchar, char",
    preserves_uniqueness: Uniqueness::No,
    params: &[
        ParamInfo {
            name: "pattern",
            kind: ParamKind::String,
            default: None,
            doc: "the regular expression (required)",
        },
        ParamInfo {
            name: "replacement",
            kind: ParamKind::String,
            default: None,
            doc: "what each match becomes; $1, ${name} insert groups (required)",
        },
        ParamInfo {
            name: "all",
            kind: ParamKind::Bool,
            default: Some("true"),
            doc: "replace every match, not only the first",
        },
    ],
};

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    if !is_text(column) {
        return Err(p.does_not_fit(column, "it writes text; use it on text or varchar columns"));
    }
    let pattern = p
        .str("pattern")?
        .ok_or_else(|| p.missing("pattern", "the regular expression to match"))?;
    let regex = Regex::new(pattern)
        .map_err(|e| p.bad("pattern", format!("not a valid regular expression: {e}")))?;
    let replacement = p.str("replacement")?.ok_or_else(|| {
        p.missing(
            "replacement",
            "what each match becomes, e.g. replacement = \"#\"",
        )
    })?;
    Ok(Box::new(RegexReplace {
        regex,
        replacement: replacement.to_string(),
        all: p.bool("all")?.unwrap_or(true),
        column: column.clone(),
    }))
}

struct RegexReplace {
    regex: Regex,
    replacement: String,
    all: bool,
    column: ColumnType,
}

impl Transformer for RegexReplace {
    fn transform(
        &self,
        value: Option<&str>,
        _: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        let Some(value) = value else { return Ok(None) };
        let replaced = if self.all {
            self.regex.replace_all(value, self.replacement.as_str())
        } else {
            self.regex.replace(value, self.replacement.as_str())
        };
        // A longer replacement may overflow varchar(n): cut rather than fail the load.
        Ok(Some(self.column.truncate(replaced.into_owned())))
    }

    fn preserves_uniqueness(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use crate::anonymize::testing::*;
    use crate::anonymize::{BuildError, ColumnType};

    #[test]
    fn replaces_matches() {
        let col = ColumnType::parse("varchar(40)").unwrap();
        let t = build(
            "regex_replace",
            "pattern = '\\d'\nreplacement = \"#\"",
            &col,
        );
        check_common(t.as_ref(), &col, SAMPLES, Keyed::No);
        assert_eq!(out(t.as_ref(), "call 555-0199"), "call ###-####");
        let t = build(
            "regex_replace",
            "pattern = '(\\w+)@(\\w+)'\nreplacement = \"user@$2\"\nall = false",
            &col,
        );
        assert_eq!(out(t.as_ref(), "a@x b@y"), "user@x b@y");
    }

    #[test]
    fn truncates_to_the_column() {
        let col = ColumnType::parse("varchar(5)").unwrap();
        let t = build(
            "regex_replace",
            "pattern = 'a'\nreplacement = \"aaaa\"",
            &col,
        );
        assert_eq!(out(t.as_ref(), "aaa"), "aaaaa");
    }

    #[test]
    fn bad_patterns_are_build_errors() {
        let e = build_err(
            "regex_replace",
            "pattern = '('\nreplacement = \"\"",
            &ColumnType::text(),
        );
        assert!(matches!(e, BuildError::BadValue { .. }), "{e}");
        let e = build_err("regex_replace", "pattern = 'a'", &ColumnType::text());
        assert!(matches!(e, BuildError::MissingParam { .. }), "{e}");
    }
}
