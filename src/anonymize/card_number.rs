//! `card_number`: a Luhn-valid payment card number of the same length and grouping as the one
//! it replaces, keeping the first digits (the card network) so that validation and card-type
//! detection still work.

use super::check_digits::luhn_digit;
use super::column::ColumnType;
use super::error::{BuildError, TransformError};
use super::gen::{digit, text_only};
use super::params::{ParamInfo, ParamKind, Params};
use super::registry::{TransformerInfo, Uniqueness};
use super::{Ctx, Transformer};

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "card_number",
    summary: "a Luhn-valid card number of the same length and grouping, network digit kept",
    types: "text, varchar",
    preserves_uniqueness: Uniqueness::No,
    params: &[ParamInfo {
        name: "keep_first",
        kind: ParamKind::Integer,
        default: Some("1"),
        doc: "leading digits kept (1: the network; 6 would keep the issuer too)",
    }],
};

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    text_only(p, column)?;
    let keep_first = p.count("keep_first")?.unwrap_or(1);
    if keep_first > 8 {
        return Err(p.bad(
            "keep_first",
            "at most 8 (more would keep most of the number)",
        ));
    }
    Ok(Box::new(CardNumber { keep_first }))
}

struct CardNumber {
    keep_first: usize,
}

impl Transformer for CardNumber {
    fn transform(
        &self,
        value: Option<&str>,
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        let Some(value) = value else { return Ok(None) };
        let fail = |why: &str| TransformError::new("card_number", why);
        if !value
            .chars()
            .all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
        {
            return Err(fail("not a card number (only digits, spaces and dashes)"));
        }
        let digits: Vec<u8> = value
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect();
        if !(12..=19).contains(&digits.len()) {
            return Err(fail("not a card number (12 to 19 digits)"));
        }
        let mut rng = ctx.rng(&digits);
        let mut new: Vec<u8> = digits[..digits.len() - 1]
            .iter()
            .enumerate()
            .map(|(i, d)| {
                if i < self.keep_first {
                    *d
                } else {
                    digit(&mut rng) as u8 - b'0'
                }
            })
            .collect();
        new.push(luhn_digit(&new));
        let mut next = new.into_iter();
        Ok(Some(
            value
                .chars()
                .map(|c| {
                    if c.is_ascii_digit() {
                        (b'0' + next.next().expect("same count")) as char
                    } else {
                        c
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
    use crate::anonymize::check_digits::luhn_valid;
    use crate::anonymize::testing::*;
    use crate::anonymize::{BuildError, ColumnType};

    const CARDS: &[&str] = &[
        "4111 1111 1111 1111",
        "5500-0000-0000-0004",
        "340000000000009",
        "6011000000000004",
    ];

    fn luhn_ok(s: &str) -> bool {
        let d: Vec<u8> = s
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect();
        luhn_valid(&d)
    }

    #[test]
    fn writes_luhn_valid_numbers_in_the_same_form() {
        let col = ColumnType::parse("varchar(19)").unwrap();
        let t = build("card_number", "", &col);
        check_common(t.as_ref(), &col, CARDS, Keyed::Yes);
        for c in CARDS {
            assert!(luhn_ok(c), "fixture {c}");
            let v = out(t.as_ref(), c);
            assert!(luhn_ok(&v), "{v}");
            assert_eq!(v.len(), c.len());
            assert_eq!(&v[..1], &c[..1]);
        }
        assert_eq!(
            out(t.as_ref(), "4111 1111 1111 1111").matches(' ').count(),
            3
        );
        assert!(!t.preserves_uniqueness());
    }

    #[test]
    fn malformed_input() {
        let t = build("card_number", "", &ColumnType::text());
        assert!(err(t.as_ref(), "4111 1111").reason.contains("12 to 19"));
        assert!(err(t.as_ref(), "4111/1111/1111/1111")
            .reason
            .contains("only digits"));
        assert!(matches!(
            build_err("card_number", "keep_first = 12", &ColumnType::text()),
            BuildError::BadValue { .. }
        ));
    }
}
