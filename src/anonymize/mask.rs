//! `mask`: replaces characters by a mask character, keeping the first and last few
//! ("************4242"). The length stays, so the output fits wherever the input did.

use super::anonymizer::is_text;
use super::column::ColumnType;
use super::error::{BuildError, TransformError};
use super::params::{ParamInfo, ParamKind, Params};
use super::registry::{TransformerInfo, Uniqueness};
use super::{Ctx, Transformer};

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "mask",
    summary: "characters replaced by a mask, keeping the first and last N (redaction)",
    types: "text, varchar, char",
    preserves_uniqueness: Uniqueness::No,
    params: &[
        ParamInfo {
            name: "keep_first",
            kind: ParamKind::Integer,
            default: Some("0"),
            doc: "characters kept at the start",
        },
        ParamInfo {
            name: "keep_last",
            kind: ParamKind::Integer,
            default: Some("0"),
            doc: "characters kept at the end",
        },
        ParamInfo {
            name: "mask_char",
            kind: ParamKind::String,
            default: Some("\"*\""),
            doc: "the character written instead",
        },
        ParamInfo {
            name: "keep_chars",
            kind: ParamKind::String,
            default: Some("\"\""),
            doc: "characters never masked, to keep a format visible (e.g. \"@.-\" or \" \")",
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
    let mask_char = p.str("mask_char")?.unwrap_or("*");
    let mut chars = mask_char.chars();
    let (Some(mask), None) = (chars.next(), chars.next()) else {
        return Err(p.bad("mask_char", "must be exactly one character"));
    };
    Ok(Box::new(Mask {
        keep_first: p.count("keep_first")?.unwrap_or(0),
        keep_last: p.count("keep_last")?.unwrap_or(0),
        mask,
        keep_chars: p.str("keep_chars")?.unwrap_or("").to_string(),
    }))
}

struct Mask {
    keep_first: usize,
    keep_last: usize,
    mask: char,
    keep_chars: String,
}

impl Transformer for Mask {
    fn transform(
        &self,
        value: Option<&str>,
        _: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        let Some(value) = value else { return Ok(None) };
        let n = value.chars().count();
        Ok(Some(
            value
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    let kept = i < self.keep_first
                        || i + self.keep_last >= n
                        || self.keep_chars.contains(c);
                    if kept {
                        c
                    } else {
                        self.mask
                    }
                })
                .collect(),
        ))
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
    fn masks_the_middle() {
        let col = ColumnType::parse("varchar(64)").unwrap();
        let t = build("mask", "keep_last = 4", &col);
        check_common(t.as_ref(), &col, SAMPLES, Keyed::No);
        assert_eq!(out(t.as_ref(), "4111111111114242"), "************4242");
        assert_eq!(out(t.as_ref(), "ab"), "ab");
        let t = build(
            "mask",
            "keep_first = 1\nkeep_chars = \"@.\"\nmask_char = \"x\"",
            &col,
        );
        assert_eq!(out(t.as_ref(), "zoë@mail.org"), "zxx@xxxx.xxx");
    }

    #[test]
    fn mask_char_is_one_character() {
        assert!(matches!(
            build_err("mask", "mask_char = \"**\"", &ColumnType::text()),
            BuildError::BadValue { .. }
        ));
    }
}
