//! `phone`: a phone number in the shape of the one it replaces — every digit redrawn, the
//! separators, spaces and `+` kept — or in a pattern of your own (`+1 ###-###-####`). Keeping
//! the shape keeps the data's own national formats and always fits the column.

use super::column::ColumnType;
use super::error::{BuildError, TransformError};
use super::gen::{digit, fill_pattern, text_only};
use super::params::{ParamInfo, ParamKind, Params};
use super::registry::{TransformerInfo, Uniqueness};
use super::{Ctx, Transformer};

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "phone",
    summary: "a phone number in the original's shape (digits redrawn), or in a pattern",
    types: "text, varchar",
    preserves_uniqueness: Uniqueness::No,
    params: &[
        ParamInfo {
            name: "keep_first",
            kind: ParamKind::Integer,
            default: Some("0"),
            doc: "leading digits kept, e.g. 2 to keep \"+44\"",
        },
        ParamInfo {
            name: "format",
            kind: ParamKind::String,
            default: None,
            doc: "write this pattern instead: # a digit, ^ a digit 1-9, anything else as is",
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
        if !f.contains(['#', '^']) {
            return Err(p.bad("format", "has no # or ^ for digits"));
        }
        if !column.fits_len(f.chars().count()) {
            return Err(p.does_not_fit(
                column,
                format!("the format has {} characters", f.chars().count()),
            ));
        }
    }
    Ok(Box::new(Phone {
        keep_first: p.count("keep_first")?.unwrap_or(0),
        format,
    }))
}

struct Phone {
    keep_first: usize,
    format: Option<String>,
}

impl Transformer for Phone {
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
        if !value.chars().any(|c| c.is_ascii_digit()) {
            return Err(TransformError::new(
                "phone",
                "not a phone number (no digits)",
            ));
        }
        // Letters in a phone field are notes ("ext."), kept as written: only digits are redrawn.
        let mut seen = 0;
        let mut out = String::with_capacity(value.len());
        for c in value.chars() {
            if c.is_ascii_digit() {
                seen += 1;
                out.push(if seen <= self.keep_first {
                    c
                } else {
                    digit(&mut rng)
                });
            } else {
                out.push(c);
            }
        }
        Ok(Some(out))
    }

    fn preserves_uniqueness(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use crate::anonymize::testing::*;
    use crate::anonymize::{BuildError, ColumnType};

    const PHONES: &[&str] = &[
        "+44 20 7946 0958",
        "(555) 010-4477 ext. 12",
        "0612345678",
        "+1-202-555-0143",
    ];

    #[test]
    fn keeps_the_shape() {
        let col = ColumnType::parse("varchar(32)").unwrap();
        let t = build("phone", "keep_first = 2", &col);
        check_common(t.as_ref(), &col, PHONES, Keyed::Yes);
        let v = out(t.as_ref(), "+44 20 7946 0958");
        assert!(v.starts_with("+44 "), "{v}");
        assert_eq!(v.len(), 16);
        assert!(out(t.as_ref(), "(555) 010-4477 ext. 12").contains(" ext. "));
    }

    #[test]
    fn pattern() {
        let col = ColumnType::text();
        let t = build("phone", "format = \"+1 ^##-###-####\"", &col);
        check_common(t.as_ref(), &col, PHONES, Keyed::Yes);
        let v = out(t.as_ref(), "anything");
        assert!(v.starts_with("+1 ") && v.len() == 15, "{v}");
        assert!(matches!(
            build_err("phone", "format = \"none\"", &col),
            BuildError::BadValue { .. }
        ));
    }

    #[test]
    fn malformed_input() {
        let t = build("phone", "", &ColumnType::text());
        assert_eq!(
            err(t.as_ref(), "unknown").reason,
            "not a phone number (no digits)"
        );
    }
}
