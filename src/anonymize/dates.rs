//! Dates and timestamps in PostgreSQL's ISO output (`DateStyle = ISO`, what pg_dump and COPY
//! use): `2024-03-15`, `2024-03-15 13:45:12.5+01`, `0044-03-15 BC`, `infinity`. Transformers
//! change the date part and keep the rest — the time, its precision and the offset — as it was
//! written, so that the output has the input's form.

use chrono::{Datelike, NaiveDate};

/// A date or timestamp split into its date and what followed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parsed<'a> {
    /// The date, with astronomical years (1 BC is year 0).
    pub(crate) date: NaiveDate,
    /// What followed the date: empty for a date, ` 13:45:12.5+01` or `T13:45:12Z` for a
    /// timestamp (without a trailing ` BC`).
    pub(crate) rest: &'a str,
}

/// Splits an ISO date or timestamp, or `None` if it is not one (`infinity` is not).
pub(crate) fn parse(s: &str) -> Option<Parsed<'_>> {
    let (s, bc) = match s.strip_suffix(" BC") {
        Some(head) => (head, true),
        None => (s, false),
    };
    let year_end = s.find('-').filter(|i| *i >= 4)?;
    let year: i32 = s[..year_end].parse().ok()?;
    if !s[..year_end].bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let tail = &s[year_end..];
    let b = tail.as_bytes();
    let well_formed = b.len() >= 6
        && b[0] == b'-'
        && b[1].is_ascii_digit()
        && b[2].is_ascii_digit()
        && b[3] == b'-'
        && b[4].is_ascii_digit()
        && b[5].is_ascii_digit();
    if !well_formed {
        return None;
    }
    let month: u32 = tail[1..3].parse().ok()?;
    let day: u32 = tail[4..6].parse().ok()?;
    let rest = &tail[6..];
    let rest_ok = rest.is_empty()
        || ((rest.starts_with(' ') || rest.starts_with('T'))
            && rest.as_bytes().get(1).is_some_and(u8::is_ascii_digit));
    if !rest_ok {
        return None;
    }
    let year = if bc { 1 - year } else { year };
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    Some(Parsed { date, rest })
}

/// Writes `date` followed by `rest` as PostgreSQL would: four-digit years, ` BC` at the end
/// for years before 1.
pub(crate) fn format(date: NaiveDate, rest: &str) -> String {
    let year = date.year();
    let (shown, bc) = if year <= 0 {
        (1 - year, " BC")
    } else {
        (year, "")
    };
    format!("{shown:04}-{:02}-{:02}{rest}{bc}", date.month(), date.day())
}

/// Whether `s` is one of the special values that have no date to change.
pub(crate) fn is_infinite(s: &str) -> bool {
    s == "infinity" || s == "-infinity"
}

/// The offset at the end of a timestamp's time part (`+01`, `-05:30`, `Z`), if any, so that
/// a truncated timestamp keeps its zone: in ` 13:45:12.5+01` it is `+01`.
pub(crate) fn offset(rest: &str) -> &str {
    // The time starts after the separator; an offset starts at the first sign or Z after it.
    let time = rest.get(1..).unwrap_or("");
    match time.find(['+', '-', 'Z']) {
        Some(i) => &time[i..],
        None => "",
    }
}

/// Refuses columns that do not hold dates or timestamps in ISO form.
pub(crate) fn date_column(
    p: &super::params::Params<'_>,
    column: &super::column::ColumnType,
) -> Result<(), super::error::BuildError> {
    use super::column::TypeKind;
    match column.kind() {
        TypeKind::Date | TypeKind::Timestamp | TypeKind::TimestampTz => Ok(()),
        TypeKind::Text if column.fits_len(10) => Ok(()),
        _ => Err(p.does_not_fit(
            column,
            "it works on dates; use it on date, timestamp, timestamptz or text columns holding ISO dates",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_iso_forms() {
        for s in [
            "2024-03-15",
            "2024-03-15 13:45:12.5+01",
            "2024-03-15T13:45:12Z",
            "0044-03-15 BC",
            "0001-01-01 00:00:00 BC",
            "12345-01-01",
        ] {
            let p = parse(s).unwrap_or_else(|| panic!("{s}"));
            assert_eq!(format(p.date, p.rest), s);
        }
    }

    #[test]
    fn refuses_what_is_not_a_date() {
        for s in [
            "infinity",
            "2024-02-30",
            "15/03/2024",
            "2024-3-15",
            "2024-03-15x",
            "",
        ] {
            assert!(parse(s).is_none(), "{s}");
        }
    }

    #[test]
    fn finds_offsets() {
        assert_eq!(offset(" 13:45:12.5+01"), "+01");
        assert_eq!(offset(" 13:45:12-05:30"), "-05:30");
        assert_eq!(offset("T13:45:12Z"), "Z");
        assert_eq!(offset(" 13:45:12"), "");
    }
}
