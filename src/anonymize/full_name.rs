//! `full_name`: a realistic full name, first and last in the locale's order.

use rand::RngCore;

use super::column::ColumnType;
use super::error::BuildError;
use super::gen::{fake_text, with_locale, Locale, LOCALE_PARAM};
use super::params::Params;
use super::registry::{TransformerInfo, Uniqueness};
use super::Transformer;

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "full_name",
    summary: "a realistic full name, in the locale's order",
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
    with_locale!(locale, |l| fake::faker::name::raw::Name(l)
        .fake_with_rng::<String, _>(rng))
}

#[cfg(test)]
mod tests {
    use crate::anonymize::testing::*;
    use crate::anonymize::ColumnType;

    #[test]
    fn writes_fake_values() {
        let col = ColumnType::parse("varchar(40)").unwrap();
        let t = build("full_name", "", &col);
        check_common(t.as_ref(), &col, SAMPLES, Keyed::Yes);
        assert!(!t.preserves_uniqueness());
        let v = out(t.as_ref(), "Ada Lovelace");
        assert!(v.contains(' '), "{v}");
    }

    #[test]
    fn locales_change_the_data() {
        check_locales("full_name");
    }

    #[test]
    fn fits_short_columns_and_refuses_other_types() {
        check_short_text("full_name");
    }
}
