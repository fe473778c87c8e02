//! `constant`: one fixed value for every row.

use super::column::ColumnType;
use super::error::{BuildError, TransformError};
use super::params::{ParamInfo, ParamKind, Params};
use super::registry::{TransformerInfo, Uniqueness};
use super::{Ctx, Transformer};

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "constant",
    summary: "the same value in every row",
    types: "any (the value must be valid for the column)",
    preserves_uniqueness: Uniqueness::No,
    params: &[
        ParamInfo {
            name: "value",
            kind: ParamKind::String,
            default: None,
            doc: "the value written, in its text form (required)",
        },
        ParamInfo {
            name: "replace_null",
            kind: ParamKind::Bool,
            default: Some("false"),
            doc: "write the value over NULLs too",
        },
    ],
};

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    let value = p
        .str("value")?
        .ok_or_else(|| p.missing("value", "the value to write, e.g. value = \"redacted\""))?;
    column
        .check(value)
        .map_err(|why| p.bad("value", format!("it is {why}")))?;
    Ok(Box::new(Constant {
        value: value.to_string(),
        replace_null: p.bool("replace_null")?.unwrap_or(false),
    }))
}

struct Constant {
    value: String,
    replace_null: bool,
}

impl Transformer for Constant {
    fn transform(
        &self,
        value: Option<&str>,
        _: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        Ok((value.is_some() || self.replace_null).then(|| self.value.clone()))
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
    fn writes_the_value() {
        let col = ColumnType::parse("varchar(10)").unwrap();
        let t = build("constant", "value = \"redacted\"", &col);
        check_common(t.as_ref(), &col, SAMPLES, Keyed::No);
        assert_eq!(out(t.as_ref(), "secret"), "redacted");
        assert!(!t.preserves_uniqueness());
    }

    #[test]
    fn can_replace_nulls() {
        let t = build(
            "constant",
            "value = \"x\"\nreplace_null = true",
            &ColumnType::text(),
        );
        assert_eq!(
            run_with(t.as_ref(), &key(), None).unwrap(),
            Some("x".into())
        );
    }

    #[test]
    fn value_must_fit() {
        let e = build_err(
            "constant",
            "value = \"redacted\"",
            &ColumnType::parse("varchar(3)").unwrap(),
        );
        assert!(e.to_string().contains("varchar(3)"), "{e}");
        let e = build_err(
            "constant",
            "value = \"meh\"",
            &ColumnType::enumeration("mood", &["sad", "happy"]),
        );
        assert!(e.to_string().contains("sad, happy"), "{e}");
        assert!(matches!(
            build_err("constant", "", &ColumnType::text()),
            BuildError::MissingParam { .. }
        ));
        assert!(matches!(
            build_err("constant", "value = 3", &ColumnType::text()),
            BuildError::WrongType { .. }
        ));
    }
}
