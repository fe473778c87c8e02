//! `city`: a realistic city name in the locale's style.

use rand::RngCore;

use super::column::ColumnType;
use super::error::BuildError;
use super::gen::{below, fake_text, pick, with_locale, Locale, LOCALE_PARAM};
use super::params::Params;
use super::registry::{TransformerInfo, Uniqueness};
use super::Transformer;

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "city",
    summary: "a realistic city name",
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

/// A city name. `fake`'s generic city names ("Lake Kennedi Hickle port") read badly in most
/// locales, so only the locales with their own city generators use it; the others combine the
/// locale's surnames in the locale's way.
fn make(locale: Locale, rng: &mut dyn RngCore) -> String {
    use fake::faker::address::raw::CityName;
    use fake::faker::name::raw::{FirstName, LastName};
    use fake::locales::{Data, EN};
    use fake::Fake;
    let last: String = with_locale!(locale, |l| LastName(l).fake_with_rng(rng));
    match locale {
        Locale::DeDe => CityName(fake::locales::DE_DE).fake_with_rng(rng),
        Locale::ItIt => CityName(fake::locales::IT_IT).fake_with_rng(rng),
        Locale::PtPt => CityName(fake::locales::PT_PT).fake_with_rng(rng),
        Locale::JaJp => format!("{last}市"),
        Locale::ZhCn | Locale::ZhTw => format!("{last}州"),
        Locale::FrFr => match below(rng, 4) {
            0 => format!(
                "Saint-{}",
                FirstName(fake::locales::FR_FR).fake_with_rng::<String, _>(rng)
            ),
            1 => format!("{last}-sur-Mer"),
            _ => last,
        },
        Locale::En | Locale::CyGb | Locale::PtBr | Locale::ArSa => {
            // "Farrellville", "North Farrell", "Farrell".
            let suffix = pick(rng, <EN as Data>::ADDRESS_CITY_SUFFIX);
            let prefix = pick(rng, <EN as Data>::ADDRESS_CITY_PREFIX);
            match (locale, below(rng, 3)) {
                (Locale::En, 0) => format!("{last}{suffix}"),
                (Locale::En, 1) => format!("{prefix} {last}"),
                _ => last,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::anonymize::testing::*;
    use crate::anonymize::ColumnType;

    #[test]
    fn writes_fake_values() {
        let col = ColumnType::parse("varchar(40)").unwrap();
        let t = build("city", "", &col);
        check_common(t.as_ref(), &col, SAMPLES, Keyed::Yes);
        assert!(!t.preserves_uniqueness());
        let v = out(t.as_ref(), "Ada Lovelace");
        assert!(!v.is_empty(), "{v}");
    }

    #[test]
    fn locales_change_the_data() {
        check_locales("city");
    }

    #[test]
    fn fits_short_columns_and_refuses_other_types() {
        check_short_text("city");
    }
}
