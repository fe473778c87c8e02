//! `country`: a country, as a name in the locale's language or as an ISO 3166 alpha-2 code.

use fake::Fake;

use super::column::ColumnType;
use super::error::{BuildError, TransformError};
use super::gen::{text_only, with_locale, Locale, LOCALE_PARAM};
use super::params::{ParamInfo, ParamKind, Params};
use super::registry::{TransformerInfo, Uniqueness};
use super::{Ctx, Transformer};

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "country",
    summary: "a country name, or its ISO 3166 alpha-2 code",
    types: "text, varchar, char (codes fit char(2))",
    preserves_uniqueness: Uniqueness::No,
    params: &[
        ParamInfo {
            name: "output",
            kind: ParamKind::Choice(&["name", "code"]),
            default: Some("\"name\""),
            doc: "a name (\"Portugal\") or a two-letter code (\"PT\")",
        },
        LOCALE_PARAM,
    ],
};

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    text_only(p, column)?;
    let code = p.choice("output", &["name", "code"], "name")? == "code";
    if !column.fits_len(if code { 2 } else { 4 }) {
        let hint = if code {
            ""
        } else {
            "; use output = \"code\" for two-letter codes"
        };
        return Err(p.does_not_fit(column, format!("country names do not fit{hint}")));
    }
    Ok(Box::new(Country {
        code,
        locale: Locale::from_params(p)?,
        column: column.clone(),
    }))
}

struct Country {
    code: bool,
    locale: Locale,
    column: ColumnType,
}

impl Transformer for Country {
    fn transform(
        &self,
        value: Option<&str>,
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        let Some(value) = value else { return Ok(None) };
        let mut rng = ctx.rng(value.as_bytes());
        let s: String = if self.code {
            fake::faker::address::en::CountryCode().fake_with_rng(&mut rng)
        } else {
            with_locale!(self.locale, |l| fake::faker::address::raw::CountryName(l)
                .fake_with_rng(&mut rng))
        };
        Ok(Some(self.column.truncate(s)))
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
    fn names_and_codes() {
        let col = ColumnType::parse("varchar(60)").unwrap();
        let t = build("country", "", &col);
        check_common(t.as_ref(), &col, SAMPLES, Keyed::Yes);
        assert!(out(t.as_ref(), "France").len() > 2);
        let char2 = ColumnType::parse("char(2)").unwrap();
        let codes = build("country", "output = \"code\"", &char2);
        check_common(codes.as_ref(), &char2, SAMPLES, Keyed::Yes);
        let v = out(codes.as_ref(), "FR");
        assert!(
            v.len() == 2 && v.chars().all(|c| c.is_ascii_uppercase()),
            "{v}"
        );
        assert!(!t.preserves_uniqueness());
    }

    #[test]
    fn names_refuse_code_sized_columns() {
        let e = build_err("country", "", &ColumnType::parse("char(2)").unwrap());
        assert!(matches!(e, BuildError::DoesNotFit { .. }));
        assert!(e.to_string().contains("output = \"code\""), "{e}");
    }
}
