//! `company`: a realistic company name ("Hopper and Sons LLC").

use rand::RngCore;

use super::column::ColumnType;
use super::error::BuildError;
use super::gen::{fake_text, with_locale, Locale, LOCALE_PARAM};
use super::params::Params;
use super::registry::{TransformerInfo, Uniqueness};
use super::Transformer;

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "company",
    summary: "a realistic company name",
    types: "text, varchar, char (cut to the length)",
    preserves_uniqueness: Uniqueness::No,
    params: &[LOCALE_PARAM],
};

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    fake_text(p, column, make, true)
}

fn make(locale: Locale, rng: &mut dyn RngCore) -> String {
    use fake::Fake;
    with_locale!(locale, |l| fake::faker::company::raw::CompanyName(l)
        .fake_with_rng::<String, _>(rng))
}

#[cfg(test)]
mod tests {
    use crate::anonymize::testing::*;
    use crate::anonymize::ColumnType;

    #[test]
    fn writes_fake_values() {
        let col = ColumnType::parse("varchar(40)").unwrap();
        let t = build("company", "", &col);
        check_common(t.as_ref(), &col, SAMPLES, Keyed::Yes);
        assert!(!t.preserves_uniqueness());
        let v = out(t.as_ref(), "Ada Lovelace");
        assert!(!v.is_empty(), "{v}");
    }

    #[test]
    fn locales_change_the_data() {
        check_locales("company");
    }

    #[test]
    fn fits_short_columns_and_refuses_other_types() {
        check_short_text("company");
    }
}
