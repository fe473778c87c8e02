//! `iban`: a valid IBAN in the same country and format as the one it replaces: the account
//! part redrawn (digits for digits, letters for letters) and the check digits recomputed, so
//! that applications validating IBANs accept it. Spacing is kept.

use super::check_digits::iban_check_digits;
use super::column::ColumnType;
use super::error::{BuildError, TransformError};
use super::gen::{reshape, text_only};
use super::params::{ParamInfo, ParamKind, Params};
use super::registry::{TransformerInfo, Uniqueness};
use super::{Ctx, Transformer};

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "iban",
    summary: "a valid IBAN (mod-97 check digits) of the same country and format",
    types: "text, varchar",
    preserves_uniqueness: Uniqueness::No,
    params: &[ParamInfo {
        name: "keep_bank",
        kind: ParamKind::Integer,
        default: Some("0"),
        doc: "leading characters of the account part kept (the bank code, e.g. 8 for Germany)",
    }],
};

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    text_only(p, column)?;
    Ok(Box::new(Iban {
        keep_bank: p.count("keep_bank")?.unwrap_or(0),
    }))
}

struct Iban {
    keep_bank: usize,
}

impl Transformer for Iban {
    fn transform(
        &self,
        value: Option<&str>,
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        let Some(value) = value else { return Ok(None) };
        let fail = |why: &str| TransformError::new("iban", why);
        let compact: String = value.chars().filter(|c| *c != ' ').collect();
        if !(15..=34).contains(&compact.len()) || !compact.is_ascii() {
            return Err(fail("not an IBAN (15 to 34 letters and digits)"));
        }
        let (country, rest) = compact.split_at(2);
        if !country.chars().all(|c| c.is_ascii_alphabetic())
            || !rest[..2].chars().all(|c| c.is_ascii_digit())
            || !rest[2..].chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(fail(
                "not an IBAN (country code, check digits, then letters and digits)",
            ));
        }
        let country = country.to_ascii_uppercase();
        let mut rng = ctx.rng(compact.as_bytes());
        let bban = reshape(&mut rng, &rest[2..], self.keep_bank).to_ascii_uppercase();
        let new = format!("{country}{:02}{bban}", iban_check_digits(&country, &bban));
        // Put the spaces back where they were.
        let mut chars = new.chars();
        Ok(Some(
            value
                .chars()
                .map(|c| {
                    if c == ' ' {
                        ' '
                    } else {
                        chars.next().expect("same length")
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
    use crate::anonymize::check_digits::iban_check_digits;
    use crate::anonymize::testing::*;
    use crate::anonymize::ColumnType;

    const IBANS: &[&str] = &[
        "DE89 3704 0044 0532 0130 00",
        "GB29NWBK60161331926819",
        "FR1420041010050500013M02606",
        "NL91ABNA0417164300",
    ];

    fn valid(iban: &str) -> bool {
        let c: String = iban.chars().filter(|c| *c != ' ').collect();
        iban_check_digits(&c[..2], &c[4..]) == c[2..4].parse::<u32>().unwrap()
    }

    #[test]
    fn writes_valid_ibans_of_the_same_country() {
        let col = ColumnType::parse("varchar(42)").unwrap();
        let t = build("iban", "keep_bank = 4", &col);
        check_common(t.as_ref(), &col, IBANS, Keyed::Yes);
        for i in IBANS {
            assert!(valid(i), "fixture {i}");
            let v = out(t.as_ref(), i);
            assert!(valid(&v), "{v}");
            assert_eq!(v.len(), i.len());
            assert_eq!(&v[..2], &i[..2]);
        }
        let gb = out(t.as_ref(), "GB29NWBK60161331926819");
        assert!(gb.starts_with("GB") && &gb[4..8] == "NWBK", "{gb}");
        assert!(!t.preserves_uniqueness());
    }

    #[test]
    fn malformed_input() {
        let t = build("iban", "", &ColumnType::text());
        assert!(err(t.as_ref(), "DE89").reason.contains("not an IBAN"));
        assert!(err(t.as_ref(), "1234567890123456")
            .reason
            .contains("country code"));
    }
}
