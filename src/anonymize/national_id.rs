//! `national_id`: a national-identity-like number (SSN, NIR, BSN, ...) in the shape of the one
//! it replaces — digits for digits, letters for letters, separators kept — or in a pattern of
//! your own. It does not compute country-specific check digits.

use super::column::ColumnType;
use super::error::{BuildError, TransformError};
use super::gen::{fill_pattern, reshape, text_only};
use super::params::{ParamInfo, ParamKind, Params};
use super::registry::{TransformerInfo, Uniqueness};
use super::{Ctx, Transformer};

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "national_id",
    summary: "an identity number in the original's shape, or in a pattern (no check digits)",
    types: "text, varchar, char",
    preserves_uniqueness: Uniqueness::No,
    params: &[
        ParamInfo {
            name: "keep_first",
            kind: ParamKind::Integer,
            default: Some("0"),
            doc: "leading letters and digits kept",
        },
        ParamInfo {
            name: "format",
            kind: ParamKind::String,
            default: None,
            doc: "write this pattern instead: # a digit, ^ a digit 1-9, ? a letter (e.g. \"###-##-####\")",
        },
    ],
};

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    text_only(p, column)?;
    let format = p.str("format")?.map(str::to_string);
    if let Some(f) = &format {
        if !column.fits_len(f.chars().count()) {
            return Err(p.does_not_fit(
                column,
                format!("the format has {} characters", f.chars().count()),
            ));
        }
    }
    Ok(Box::new(NationalId {
        keep_first: p.count("keep_first")?.unwrap_or(0),
        format,
    }))
}

struct NationalId {
    keep_first: usize,
    format: Option<String>,
}

impl Transformer for NationalId {
    fn transform(
        &self,
        value: Option<&str>,
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        let Some(value) = value else { return Ok(None) };
        let mut rng = ctx.rng(value.as_bytes());
        if let Some(f) = &self.format {
            return Ok(Some(fill_pattern(&mut rng, f)));
        }
        if !value.chars().any(|c| c.is_ascii_alphanumeric()) {
            return Err(TransformError::new(
                "national_id",
                "not an identity number (no letters or digits)",
            ));
        }
        Ok(Some(reshape(&mut rng, value, self.keep_first)))
    }

    fn preserves_uniqueness(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use crate::anonymize::testing::*;
    use crate::anonymize::ColumnType;

    const IDS: &[&str] = &[
        "078-05-1120",
        "1 84 12 76 451 089 46",
        "AB123456C",
        "123456782",
    ];

    #[test]
    fn keeps_the_shape() {
        let col = ColumnType::parse("varchar(24)").unwrap();
        let t = build("national_id", "", &col);
        check_common(t.as_ref(), &col, IDS, Keyed::Yes);
        let v = out(t.as_ref(), "AB123456C");
        assert!(
            v.len() == 9
                && v[..2].chars().all(|c| c.is_ascii_uppercase())
                && v[2..8].chars().all(|c| c.is_ascii_digit()),
            "{v}"
        );
        assert_eq!(out(t.as_ref(), "078-05-1120").matches('-').count(), 2);
        assert!(!t.preserves_uniqueness());
    }

    #[test]
    fn pattern() {
        let t = build(
            "national_id",
            "format = \"###-##-####\"",
            &ColumnType::parse("char(11)").unwrap(),
        );
        let v = out(t.as_ref(), "x");
        assert!(v.len() == 11 && &v[3..4] == "-", "{v}");
    }

    #[test]
    fn malformed_input() {
        let t = build("national_id", "", &ColumnType::text());
        assert!(err(t.as_ref(), "--- --")
            .reason
            .contains("not an identity number"));
    }
}
