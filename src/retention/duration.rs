//! Spans of time as people write them in `doppel.toml` and on the command line: `90s`, `15m`,
//! `3h`, `7d`, `2w`. Whole numbers only, so that bucket boundaries are whole seconds.

use chrono::{DateTime, TimeDelta, Utc};

/// The longest span accepted (about a century): far beyond any sensible retention, and small
/// enough that no arithmetic on snapshot times can overflow.
const MAX_SECONDS: i64 = 100 * 366 * 86_400;

/// Units, largest first.
const UNITS: [(char, i64); 5] = [
    ('w', 604_800),
    ('d', 86_400),
    ('h', 3_600),
    ('m', 60),
    ('s', 1),
];

/// Units for formatting: days at most, as people write "7d" and "30d" rather than weeks.
const SHOWN_UNITS: [(char, i64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];

/// Parses a span such as `15m`: a positive whole number followed by one unit, `s` (seconds),
/// `m` (minutes), `h` (hours), `d` (days of 24 hours: no calendar, no DST) or `w` (weeks).
/// The error says what is wrong, without repeating the input (callers name it).
pub fn parse_span(text: &str) -> Result<TimeDelta, String> {
    let text = text.trim();
    let Some(unit) = text.chars().last() else {
        return Err("empty span: write a number and a unit, e.g. 15m".into());
    };
    let number = &text[..text.len() - unit.len_utf8()];
    let Some(&(_, factor)) = UNITS.iter().find(|(u, _)| *u == unit) else {
        return Err(format!(
            "'{text}' has no known unit: end it with s, m, h, d or w (e.g. 15m)"
        ));
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "'{text}' must be a whole number followed by its unit, e.g. 15m"
        ));
    }
    let n: i64 = number
        .parse()
        .map_err(|_| format!("'{text}' is too long"))?;
    if n == 0 {
        return Err(format!("'{text}' is zero: a span must be positive"));
    }
    match n.checked_mul(factor) {
        Some(secs) if secs <= MAX_SECONDS => Ok(TimeDelta::seconds(secs)),
        _ => Err(format!("'{text}' is too long (at most 100 years)")),
    }
}

/// Formats a span in the largest unit up to days that divides it exactly (`120m` → `2h`,
/// `90m` → `90m`, `1w` → `7d`),
/// the inverse of [`parse_span`] for whole seconds. Fractions of a second are shown in
/// milliseconds; zero is `0s`.
pub fn format_span(span: TimeDelta) -> String {
    let sign = if span < TimeDelta::zero() { "-" } else { "" };
    let span = span.abs();
    if span.subsec_nanos() != 0 {
        return format!("{sign}{}ms", span.num_milliseconds());
    }
    let secs = span.num_seconds();
    if secs == 0 {
        return "0s".into();
    }
    let (unit, factor) = SHOWN_UNITS
        .iter()
        .find(|(_, f)| secs % f == 0)
        .expect("every whole number of seconds divides by 1");
    format!("{sign}{}{unit}", secs / factor)
}

/// Formats an age or a staleness for reading, rounded down to its two largest units:
/// `59s`, `1m 30s`, `2h 5m`, `3d 4h`. Negative values get a minus sign.
pub fn format_age(span: TimeDelta) -> String {
    let sign = if span < TimeDelta::zero() { "-" } else { "" };
    let mut secs = span.num_seconds().abs();
    if secs == 0 {
        return "0s".into();
    }
    let mut parts = Vec::new();
    for (unit, factor) in &SHOWN_UNITS {
        if secs >= *factor {
            parts.push(format!("{}{unit}", secs / factor));
            secs %= factor;
        } else if !parts.is_empty() {
            // Keep the two units adjacent ("2h 0m" rather than "2h 5s").
            parts.push(format!("0{unit}"));
        }
        if parts.len() == 2 {
            break;
        }
    }
    while parts.len() > 1 && parts.last().is_some_and(|p| p.starts_with('0')) {
        parts.pop();
    }
    format!("{sign}{}", parts.join(" "))
}

/// The first slot at or after `t`: a multiple of `spacing` since the UNIX epoch, as the
/// tiers' buckets and the scheduler's slots are.
pub fn align_up(t: DateTime<Utc>, spacing: TimeDelta) -> DateTime<Utc> {
    let step = spacing.num_microseconds().unwrap_or(i64::MAX).max(1);
    let us = t.timestamp_micros();
    let aligned = us.div_euclid(step) * step + if us.rem_euclid(step) == 0 { 0 } else { step };
    DateTime::from_timestamp_micros(aligned).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        let cases = [
            ("90s", 90),
            ("15m", 900),
            ("3h", 10_800),
            ("1d", 86_400),
            ("2w", 1_209_600),
            (" 5m ", 300),
        ];
        for (text, secs) in cases {
            assert_eq!(parse_span(text), Ok(TimeDelta::seconds(secs)), "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_span() {
        for (text, says) in [
            ("", "empty"),
            ("15", "unit"),
            ("m", "whole number"),
            ("1.5h", "whole number"),
            ("-5m", "whole number"),
            ("0m", "zero"),
            ("5x", "unit"),
            ("5 m", "whole number"),
            ("99999999999999999999d", "too long"),
            ("6000w", "too long"),
        ] {
            let err = parse_span(text).unwrap_err();
            assert!(err.contains(says), "{text:?}: {err}");
        }
    }

    #[test]
    fn formats_in_the_largest_exact_unit() {
        let cases = [
            (0, "0s"),
            (59, "59s"),
            (60, "1m"),
            (5_400, "90m"),
            (7_200, "2h"),
            (86_400, "1d"),
            (604_800, "7d"),
            (30 * 86_400, "30d"),
            (-120, "-2m"),
        ];
        for (secs, text) in cases {
            assert_eq!(format_span(TimeDelta::seconds(secs)), text);
        }
        assert_eq!(format_span(TimeDelta::milliseconds(1_500)), "1500ms");
    }

    #[test]
    fn format_and_parse_round_trip() {
        for secs in [1, 59, 61, 3_600, 5_400, 86_400, 90_000, 1_209_600] {
            let d = TimeDelta::seconds(secs);
            assert_eq!(parse_span(&format_span(d)), Ok(d));
        }
    }

    #[test]
    fn ages_read_naturally() {
        let cases = [
            (0, "0s"),
            (59, "59s"),
            (90, "1m 30s"),
            (3_600, "1h"),
            (7_505, "2h 5m"),
            (7_205, "2h"),
            (3 * 86_400 + 4 * 3_600 + 59, "3d 4h"),
            (86_400 + 30, "1d"),
            (-90, "-1m 30s"),
        ];
        for (secs, text) in cases {
            assert_eq!(format_age(TimeDelta::seconds(secs)), text, "{secs}");
        }
    }
}
