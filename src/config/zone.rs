//! The time zone local date-times are read in (`timezone` in the config).

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// The time zone local date-times are read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// The system's time zone (`TZ`, else `/etc/localtime`).
    System,
    /// A named IANA zone from the config (`Europe/Paris`).
    Named(chrono_tz::Tz),
}

impl Zone {
    /// Reads a zone name from the config: an IANA name, `UTC`, or `system`.
    pub fn parse(name: &str) -> Result<Zone, String> {
        if name.eq_ignore_ascii_case("system") || name.eq_ignore_ascii_case("local") {
            return Ok(Zone::System);
        }
        name.parse::<chrono_tz::Tz>().map(Zone::Named).map_err(|_| {
            format!("unknown time zone '{name}': use an IANA name such as \"Europe/Paris\" or \"UTC\", or \"system\"")
        })
    }

    /// The instant a wall-clock time in this zone stands for. A time skipped by a daylight
    /// saving change is an error; a repeated one is the first of the two.
    pub(crate) fn instant(self, local: NaiveDateTime) -> Result<DateTime<Utc>, String> {
        let resolved = match self {
            Zone::System => to_utc(chrono::Local.from_local_datetime(&local)),
            Zone::Named(tz) => to_utc(tz.from_local_datetime(&local)),
        };
        resolved.ok_or_else(|| {
            format!("{local} does not exist in this time zone (clocks skip it for daylight saving)")
        })
    }

    /// Today's date in this zone.
    pub(crate) fn today(self, now: DateTime<Utc>) -> NaiveDate {
        match self {
            Zone::System => now.with_timezone(&chrono::Local).date_naive(),
            Zone::Named(tz) => now.with_timezone(&tz).date_naive(),
        }
    }
}

fn to_utc<Tz: TimeZone>(r: LocalResult<DateTime<Tz>>) -> Option<DateTime<Utc>> {
    match r {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        LocalResult::None => None,
    }
}
