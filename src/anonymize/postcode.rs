//! `postcode`: a postcode in the shape of the one it replaces (digits for digits, letters for
//! letters: "SW1A 1AA" → "KD4F 8RT"), which keeps every country's format; or one in the
//! formats of a `locale`.

use fake::Fake;

use super::column::ColumnType;
use super::error::{BuildError, TransformError};
use super::gen::{reshape, text_only, with_locale, Locale, LOCALE_PARAM};
use super::params::{ParamInfo, ParamKind, Params};
use super::registry::{TransformerInfo, Uniqueness};
use super::{Ctx, Transformer};

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "postcode",
    summary: "a postcode in the original's shape, or in a locale's format",
    types: "text, varchar, char",
    preserves_uniqueness: Uniqueness::No,
    params: &[
        ParamInfo {
            name: "keep_first",
            kind: ParamKind::Integer,
            default: Some("0"),
            doc: "leading letters and digits kept (the area: 2 keeps \"SW\" of \"SW1A 1AA\")",
        },
        ParamInfo {
            doc: "write the locale's postcode format instead of keeping the shape",
            ..LOCALE_PARAM
        },
    ],
};

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    text_only(p, column)?;
    let locale = match p.raw("locale") {
        Some(_) => Some(Locale::from_params(p)?),
        None => None,
    };
    Ok(Box::new(Postcode {
        keep_first: p.count("keep_first")?.unwrap_or(0),
        locale,
        column: column.clone(),
    }))
}

struct Postcode {
    keep_first: usize,
    locale: Option<Locale>,
    column: ColumnType,
}

impl Transformer for Postcode {
    fn transform(
        &self,
        value: Option<&str>,
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        let Some(value) = value else { return Ok(None) };
        let mut rng = ctx.rng(value.as_bytes());
        if let Some(locale) = self.locale {
            let code: String = with_locale!(locale, |l| fake::faker::address::raw::PostCode(l)
                .fake_with_rng(&mut rng));
            return Ok(Some(self.column.truncate(code)));
        }
        if !value.chars().any(|c| c.is_ascii_alphanumeric()) {
            return Err(TransformError::new(
                "postcode",
                "not a postcode (no letters or digits)",
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

    const CODES: &[&str] = &["SW1A 1AA", "75008", "10115", "1012 AB", "94103-1234"];

    #[test]
    fn keeps_the_shape() {
        let col = ColumnType::parse("varchar(10)").unwrap();
        let t = build("postcode", "keep_first = 2", &col);
        check_common(t.as_ref(), &col, CODES, Keyed::Yes);
        let v = out(t.as_ref(), "SW1A 1AA");
        assert!(
            v.starts_with("SW") && v.len() == 8 && v.as_bytes()[4] == b' ',
            "{v}"
        );
        assert!(out(t.as_ref(), "94103-1234").chars().nth(5) == Some('-'));
        assert!(!t.preserves_uniqueness());
    }

    #[test]
    fn locale_formats() {
        let col = ColumnType::parse("varchar(10)").unwrap();
        let t = build("postcode", "locale = \"fr_fr\"", &col);
        check_common(t.as_ref(), &col, CODES, Keyed::Yes);
        let v = out(t.as_ref(), "anything");
        assert!(v.len() == 5 && v.chars().all(|c| c.is_ascii_digit()), "{v}");
    }

    #[test]
    fn malformed_input() {
        let t = build("postcode", "", &ColumnType::text());
        assert!(err(t.as_ref(), "- --")
            .reason
            .contains("no letters or digits"));
    }
}
