//! `street_address`: a realistic street address line, house number and street name in the
//! locale's order ("1492 Hopper Avenue", "Lindenstraße 12").

use rand::RngCore;

use super::column::ColumnType;
use super::error::BuildError;
use super::gen::{between, fake_text, with_locale, Locale, LOCALE_PARAM};
use super::params::Params;
use super::registry::{TransformerInfo, Uniqueness};
use super::Transformer;

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "street_address",
    summary: "a realistic street address line (house number and street)",
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
    use fake::faker::name::raw::LastName;
    use fake::Fake;
    // Small house numbers are the common ones.
    let number = if between(rng, 0, 3) == 0 {
        between(rng, 100, 9999)
    } else {
        between(rng, 1, 99)
    };
    match locale {
        // `fake`'s street names for these mix in English suffixes ("丸山 Parks"): write them
        // the local way instead.
        Locale::JaJp => {
            let last: String = LastName(fake::locales::JA_JP).fake_with_rng(rng);
            format!(
                "{last}町{}-{}-{}",
                between(rng, 1, 9),
                between(rng, 1, 30),
                between(rng, 1, 20)
            )
        }
        Locale::ZhCn | Locale::ZhTw => {
            let last: String = with_locale!(locale, |l| LastName(l).fake_with_rng(rng));
            format!(
                "{last}路{number}{}",
                if locale == Locale::ZhTw { "號" } else { "号" }
            )
        }
        Locale::ArSa => {
            let last: String = LastName(fake::locales::AR_SA).fake_with_rng(rng);
            format!("شارع {last} {number}")
        }
        _ => {
            let street: String = with_locale!(locale, |l| fake::faker::address::raw::StreetName(l)
                .fake_with_rng(rng));
            match locale {
                // "Ludwig weg" is written "Ludwigweg".
                Locale::DeDe => format!("{} {number}", street.replace(' ', "")),
                Locale::ItIt | Locale::PtBr | Locale::PtPt => format!("{street} {number}"),
                _ => format!("{number} {street}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::anonymize::testing::*;
    use crate::anonymize::{BuildError, ColumnType};

    #[test]
    fn writes_addresses() {
        let col = ColumnType::parse("varchar(60)").unwrap();
        let t = build("street_address", "", &col);
        check_common(t.as_ref(), &col, SAMPLES, Keyed::Yes);
        let v = out(t.as_ref(), "10 Downing Street");
        assert!(
            v.starts_with(|c: char| c.is_ascii_digit()) && v.contains(' '),
            "{v}"
        );
        let de = build("street_address", "locale = \"de_de\"", &col);
        assert!(out(de.as_ref(), "x").ends_with(|c: char| c.is_ascii_digit()));
        assert!(!t.preserves_uniqueness());
    }

    #[test]
    fn fits_short_columns() {
        let col = ColumnType::parse("varchar(12)").unwrap();
        check_common(
            build("street_address", "", &col).as_ref(),
            &col,
            SAMPLES,
            Keyed::Yes,
        );
        assert!(matches!(
            build_err("street_address", "", &ColumnType::new("int4")),
            BuildError::DoesNotFit { .. }
        ));
    }
}
