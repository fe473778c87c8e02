//! What the policy decided: keep or delete for every snapshot, each with its reasons, and the
//! dry-run table that shows them to people.

use std::fmt::{self, Write as _};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Serialize, Serializer};

use super::duration::format_span;

/// Why a snapshot is kept or deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// The newest snapshot of its series (not dated in the future, complete): every window is
    /// measured back from it.
    Anchor,
    /// Pinned by a user.
    Pinned,
    /// Dated after "now": a clock was wrong somewhere. Kept, and not taken as the newest.
    FutureDated,
    /// Still being written; not a snapshot retention may judge yet.
    Incomplete,
    /// Its id appears more than once in the input, so deleting "it" would be ambiguous.
    DuplicateId,
    /// The oldest snapshot in a bucket of a tier, which the tier keeps.
    Tier {
        /// The tier's spacing.
        #[serde(serialize_with = "span")]
        spacing: TimeDelta,
        /// Where the bucket starts (a multiple of the spacing since the UNIX epoch).
        bucket_start: DateTime<Utc>,
        /// The bucket lies wholly before the tier's window: it is kept because it holds the
        /// snapshot in force when the window starts (the best "restore as of" that instant).
        before_window: bool,
    },
    /// In a kept bucket of a tier, but not its oldest snapshot.
    Superseded {
        /// The tier's spacing.
        #[serde(serialize_with = "span")]
        spacing: TimeDelta,
        /// Where the bucket starts.
        bucket_start: DateTime<Utc>,
        /// The older snapshot that the tier keeps for this bucket.
        by: String,
    },
    /// Older than every tier reaches.
    OutsideHorizon,
}

fn span<S: Serializer>(d: &TimeDelta, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_span(*d))
}

/// Times in the dry-run table and in reasons: UTC, to the second.
pub(crate) fn show_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Anchor => f.write_str("newest snapshot, the windows reach back from it"),
            Reason::Pinned => f.write_str("pinned"),
            Reason::FutureDated => {
                f.write_str("dated in the future (a clock is wrong?): kept until its time comes")
            }
            Reason::Incomplete => f.write_str("not complete yet"),
            Reason::DuplicateId => f.write_str("its id appears more than once: kept to be safe"),
            Reason::Tier {
                spacing,
                bucket_start,
                before_window: false,
            } => write!(
                f,
                "oldest in the {} bucket from {}",
                format_span(*spacing),
                show_time(*bucket_start)
            ),
            Reason::Tier {
                spacing,
                bucket_start,
                before_window: true,
            } => write!(
                f,
                "oldest in the {} bucket from {}, which holds the snapshot in force when the \
                 tier's window starts",
                format_span(*spacing),
                show_time(*bucket_start)
            ),
            Reason::Superseded {
                spacing,
                bucket_start,
                by,
            } => write!(
                f,
                "the {} bucket from {} keeps the older {by}",
                format_span(*spacing),
                show_time(*bucket_start)
            ),
            Reason::OutsideHorizon => f.write_str("older than every tier's window"),
        }
    }
}

/// The decision for one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The snapshot's id.
    pub id: String,
    /// Its series (source environment × raw/anonymized × subset, if one); retention works
    /// per series.
    pub series: String,
    /// Its time.
    pub time: DateTime<Utc>,
    /// Whether it is kept.
    pub keep: bool,
    /// Why: for a kept snapshot every reason to keep it, for a deleted one why no tier needs it.
    pub reasons: Vec<Reason>,
}

/// Keep or delete for every snapshot given, with warnings for a person to read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// One decision per snapshot, sorted by (series, time, id).
    pub decisions: Vec<Decision>,
    /// Things worth a look, such as snapshots dated in the future.
    pub warnings: Vec<String>,
}

impl Plan {
    /// The snapshots kept.
    pub fn kept(&self) -> impl Iterator<Item = &Decision> {
        self.decisions.iter().filter(|d| d.keep)
    }

    /// The snapshots to delete.
    pub fn deleted(&self) -> impl Iterator<Item = &Decision> {
        self.decisions.iter().filter(|d| !d.keep)
    }

    /// The dry-run text: per series a heading, then one line per snapshot (id, time,
    /// KEEP/DELETE, why), then the warnings.
    pub fn render_table(&self) -> String {
        let mut out = String::new();
        if self.decisions.is_empty() {
            out.push_str("no snapshots\n");
        }
        let id_width = self.decisions.iter().map(|d| d.id.len()).max().unwrap_or(0);
        let mut rest = &self.decisions[..];
        while let Some(first) = rest.first() {
            let n = rest.iter().take_while(|d| d.series == first.series).count();
            let (series, tail) = rest.split_at(n);
            rest = tail;
            let kept = series.iter().filter(|d| d.keep).count();
            let _ = writeln!(
                out,
                "{}: keep {kept} of {n}, delete {}",
                first.series,
                n - kept
            );
            for d in series {
                let _ = writeln!(
                    out,
                    "  {:<id_width$}  {}  {:<6}  {}",
                    d.id,
                    show_time(d.time),
                    if d.keep { "KEEP" } else { "DELETE" },
                    summarize(&d.reasons)
                );
            }
        }
        for w in &self.warnings {
            let _ = writeln!(out, "warning: {w}");
        }
        out
    }
}

/// Reasons in few words for the table: the per-tier reasons of one kind are folded into one
/// phrase ("oldest in its 1m, 2m buckets"; "an older snapshot is kept for its buckets: X (1m,
/// 2m)"), as a snapshot in the finest tiers would otherwise need a line per tier. JSON keeps
/// them all, unfolded.
fn summarize(reasons: &[Reason]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut tiers: Vec<String> = Vec::new();
    let mut in_force: Vec<String> = Vec::new();
    // (by, spacings) in order of first appearance.
    let mut superseded: Vec<(&str, Vec<String>)> = Vec::new();
    for r in reasons {
        match r {
            Reason::Tier {
                spacing,
                before_window,
                ..
            } => {
                let list = if *before_window {
                    &mut in_force
                } else {
                    &mut tiers
                };
                list.push(format_span(*spacing));
            }
            Reason::Superseded { spacing, by, .. } => {
                match superseded.iter_mut().find(|(b, _)| b == by) {
                    Some((_, list)) => list.push(format_span(*spacing)),
                    None => superseded.push((by, vec![format_span(*spacing)])),
                }
            }
            Reason::Anchor => parts.push("newest".into()),
            other => parts.push(other.to_string()),
        }
    }
    if !tiers.is_empty() {
        let noun = if tiers.len() == 1 {
            "bucket"
        } else {
            "buckets"
        };
        parts.push(format!("oldest in its {} {noun}", tiers.join(", ")));
    }
    if !in_force.is_empty() {
        parts.push(format!(
            "in force when the {} {}",
            in_force.join(", "),
            if in_force.len() == 1 {
                "window starts"
            } else {
                "windows start"
            }
        ));
    }
    if !superseded.is_empty() {
        let by: Vec<String> = superseded
            .iter()
            .map(|(id, spacings)| format!("{id} ({})", spacings.join(", ")))
            .collect();
        parts.push(format!(
            "an older snapshot is kept for its buckets: {}",
            by.join(", ")
        ));
    }
    parts.join("; ")
}
