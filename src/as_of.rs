//! "As of T": the moment a user asks for, and the snapshot that serves it.
//!
//! T is written as people write times: RFC 3339 (`2026-11-21T14:00:00+01:00`), a local
//! date-time (`2026-11-21 14:00`, in the configured time zone or the system's), relative to
//! now (`1d ago`, `-90m`, `2 hours ago`), or a day word with a time (`yesterday 14:00`,
//! `today 09:30`). [`parse`] turns it into an instant; [`pick`] chooses the newest complete
//! snapshot taken at or before it, and [`choose`] does so in the series a target may receive
//! ([`Wanted`]): whole snapshots, or subsets for an environment that declares `subset = true`.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc};

use crate::config::{EnvironmentConfig, Zone};
use crate::repo::{DataKind, Manifest};

const FORMS: &str = "RFC 3339 (2026-11-21T14:00:00Z), a local date-time (2026-11-21 14:00), \
                     relative (1d ago, -90m, 2 hours ago), yesterday/today HH:MM, or now";

/// Reads T, relative to `now`, with local date-times in `zone`. The error says which forms
/// are accepted.
pub fn parse(input: &str, now: DateTime<Utc>, zone: Zone) -> Result<DateTime<Utc>, String> {
    let s = input.trim();
    let bad = || format!("cannot read the time '{input}': write {FORMS}");
    if s.is_empty() {
        return Err(bad());
    }
    if s.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Some(d) = relative(s) {
        return d.map(|d| now - d).ok_or_else(bad);
    }
    let lower = s.to_ascii_lowercase();
    for (word, days_back) in [("yesterday", 1), ("today", 0)] {
        if let Some(rest) = lower.strip_prefix(word) {
            let date = zone.today(now) - Duration::days(days_back);
            let time = match rest.trim() {
                "" => NaiveTime::MIN,
                t => clock_time(t).ok_or_else(bad)?,
            };
            return zone.instant(date.and_time(time));
        }
    }
    let normalized = s.replacen('T', " ", 1);
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M"] {
        if let Ok(local) = NaiveDateTime::parse_from_str(&normalized, format) {
            return zone.instant(local);
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return zone.instant(date.and_time(NaiveTime::MIN));
    }
    Err(bad())
}

/// `HH:MM` or `HH:MM:SS`.
fn clock_time(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
        .ok()
}

/// `-90m`, `90m ago`, `2 hours ago`, `1d2h ago`: `Some(None)` when it looks relative but a
/// part cannot be read, `None` when it does not look relative at all.
fn relative(s: &str) -> Option<Option<Duration>> {
    let lower = s.to_ascii_lowercase();
    let body = if let Some(b) = lower.strip_prefix('-') {
        b.trim()
    } else if let Some(b) = lower.strip_suffix("ago") {
        b.trim()
    } else {
        return None;
    };
    let mut total = Duration::zero();
    let mut rest = body;
    if rest.is_empty() {
        return Some(None);
    }
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return Some(None);
        }
        let n: i64 = rest[..digits].parse().ok()?;
        rest = rest[digits..].trim_start();
        let unit_len = rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                .len();
        let unit = &rest[..unit_len];
        rest = rest[unit_len..].trim_start_matches([' ', ',']);
        let one = match unit {
            "s" | "sec" | "secs" | "second" | "seconds" => Duration::seconds(1),
            "m" | "min" | "mins" | "minute" | "minutes" => Duration::minutes(1),
            "h" | "hr" | "hrs" | "hour" | "hours" => Duration::hours(1),
            "d" | "day" | "days" => Duration::days(1),
            "w" | "week" | "weeks" => Duration::weeks(1),
            _ => return Some(None),
        };
        total += one * n as i32;
    }
    Some(Some(total))
}

/// The newest snapshot taken at or before `at` among `snapshots` (any order) that `accept`
/// lets through. The error says what the oldest candidate was, so the user sees how far back
/// the repository reaches.
pub fn pick<'m>(
    snapshots: &'m [Manifest],
    at: DateTime<Utc>,
    accept: &dyn Fn(&Manifest) -> bool,
) -> Result<&'m Manifest, String> {
    let candidates: Vec<&Manifest> = snapshots.iter().filter(|m| accept(m)).collect();
    if let Some(m) = candidates
        .iter()
        .filter(|m| m.time <= at)
        .max_by(|a, b| a.time.cmp(&b.time).then(a.id.cmp(&b.id)))
    {
        return Ok(m);
    }
    match candidates.iter().map(|m| m.time).min() {
        None => Err("the repository holds no snapshot this target may receive".into()),
        Some(oldest) => Err(format!(
            "no snapshot is old enough: the oldest this target may receive was taken at {}, \
             after {}",
            oldest.to_rfc3339(),
            at.to_rfc3339()
        )),
    }
}

/// The snapshots a target may receive: one source environment's series of one kind, whole
/// or subsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// The environment the snapshots were taken of.
    pub source: String,
    /// Raw or anonymized.
    pub kind: DataKind,
    /// Subsets (any `[subset]` spec) rather than whole snapshots.
    pub subset: bool,
}

impl Wanted {
    /// What a target may receive from `source`: without an environment (a URL, a scratch
    /// cluster), whole raw snapshots, which is what a copy of production as of T means; an
    /// environment, whole snapshots of its data policy's kind; one that declares
    /// `subset = true`, anonymized subsets (subsets are only taken anonymized).
    pub fn for_target(source: &str, target: Option<&EnvironmentConfig>) -> Wanted {
        let (kind, subset) = match target {
            None => (DataKind::Raw, false),
            Some(env) if env.subset => (DataKind::Anonymized, true),
            Some(env) => (env.data(), false),
        };
        Wanted {
            source: source.to_string(),
            kind,
            subset,
        }
    }

    /// Whether `m` belongs to the series wanted. A manifest that records no subset is whole.
    pub fn accepts(&self, m: &Manifest) -> bool {
        m.source.environment == self.source
            && m.kind.kind == self.kind
            && m.kind.subset.is_some() == self.subset
    }

    /// In words: `anonymized snapshots of production`, `anonymized subsets of production`.
    pub fn describe(&self) -> String {
        let what = if self.subset { "subsets" } else { "snapshots" };
        format!("{} {what} of {}", self.kind, self.source)
    }

    /// The series by name: `production/anonymized`, or `production/anonymized/subset-*`.
    pub fn series(&self) -> String {
        match self.subset {
            false => format!("{}/{}", self.source, self.kind),
            true => format!("{}/{}/subset-*", self.source, self.kind),
        }
    }
}

/// The snapshot serving `at` for a target wanting `wanted`: [`pick`] within its series. The
/// error names the series, and says what to do when the repository holds none of it —
/// in particular when the other kind (whole or subset) is there, since that one is never
/// taken in its place.
pub fn choose<'m>(
    snapshots: &'m [Manifest],
    at: DateTime<Utc>,
    wanted: &Wanted,
) -> Result<&'m Manifest, String> {
    pick(snapshots, at, &|m| wanted.accepts(m)).map_err(|e| {
        let series = wanted.series();
        if snapshots.iter().any(|m| wanted.accepts(m)) {
            return format!("series {series}: {e}");
        }
        let other = Wanted {
            subset: !wanted.subset,
            ..wanted.clone()
        };
        let hint = match (wanted.subset, snapshots.iter().any(|m| other.accepts(m))) {
            (true, true) => format!(
                "; whole snapshots ({}) are not taken in their place for an environment with \
                 subset = true: take one with `doppel snapshot --rules DIR --subset` or \
                 `doppel derive SNAP --rules DIR --subset`, or remove subset = true",
                other.series()
            ),
            (true, false) => "; take one with `doppel snapshot --rules DIR --subset` or \
                              `doppel derive SNAP --rules DIR --subset`"
                .to_string(),
            (false, true) => format!(
                "; subsets ({}) are only chosen for an environment that declares subset = true",
                other.series()
            ),
            (false, false) => String::new(),
        };
        format!("series {series} holds no snapshot{hint}")
    })
}

/// "3h 12m" for how long before T a snapshot was taken.
pub fn staleness(d: Duration) -> String {
    let secs = d.num_seconds().max(0);
    let (days, hours, mins, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (days, hours, mins) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m {s}s"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests;
