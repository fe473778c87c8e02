//! The policy itself: which snapshots of each series to keep, as a pure function of the tiers,
//! the snapshots and the time (see the module documentation of `retention` for the rules and
//! the properties they guarantee).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::decision::{show_time, Decision, Plan, Reason};
use super::duration::format_age;
use super::tiers::Tiers;

/// A snapshot as retention sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SnapshotInfo {
    /// Unique id (the manifest's name).
    pub id: String,
    /// The series it belongs to (source environment × raw/anonymized × subset, if one): each
    /// series is retained on its own.
    pub series: String,
    /// When the snapshot was taken.
    pub time: DateTime<Utc>,
    /// Pinned by a user: always kept.
    pub pinned: bool,
    /// Fully written. An incomplete snapshot is always kept and never counts for a tier.
    pub complete: bool,
}

/// Decides, for every snapshot, whether it is kept and why, as of `now`. Pure: the result
/// depends only on the arguments, not on their order, the machine or its time zone.
pub fn plan(tiers: &Tiers, snapshots: &[SnapshotInfo], now: DateTime<Utc>) -> Plan {
    // Duplicate ids, found by sorting rather than hashing: cheaper for the few hundred
    // snapshots the scheduler plans after every snapshot.
    let mut ids: Vec<&str> = snapshots.iter().map(|s| s.id.as_str()).collect();
    ids.sort_unstable();
    let mut duplicates: Vec<(&str, usize)> = Vec::new();
    for run in ids.chunk_by(|a, b| a == b).filter(|run| run.len() > 1) {
        duplicates.push((run[0], run.len()));
    }
    let mut order: Vec<&SnapshotInfo> = snapshots.iter().collect();
    // The flags break the last ties, so that even duplicate ids come out in one order.
    order.sort_unstable_by(|a, b| {
        (&a.series, a.time, &a.id, a.pinned, a.complete)
            .cmp(&(&b.series, b.time, &b.id, b.pinned, b.complete))
    });
    let mut plan = Plan {
        decisions: Vec::with_capacity(snapshots.len()),
        warnings: Vec::new(),
    };
    for (id, n) in &duplicates {
        plan.warnings.push(format!(
            "snapshot id {id} appears {n} times: every copy is kept, as deleting by that id would \
             be ambiguous; ids must be unique"
        ));
    }
    let duplicate = |id: &str| duplicates.binary_search_by(|(d, _)| (*d).cmp(id)).is_ok();
    let mut rest = &order[..];
    while let Some(first) = rest.first() {
        let n = rest.iter().take_while(|s| s.series == first.series).count();
        let (series, tail) = rest.split_at(n);
        rest = tail;
        decide_series(tiers, series, now, &duplicate, &mut plan);
    }
    plan
}

/// Decides one series, given sorted by (time, id); appends to `plan` in that order.
fn decide_series(
    tiers: &Tiers,
    series: &[&SnapshotInfo],
    now: DateTime<Utc>,
    duplicate: &dyn Fn(&str) -> bool,
    plan: &mut Plan,
) {
    let future = |s: &SnapshotInfo| s.time > now;
    // Only complete, current, unambiguous snapshots take part in the tiers; the others are
    // kept whatever happens and must not shift the windows (a future-dated anchor would
    // delete the present).
    let candidates: Vec<usize> = (0..series.len())
        .filter(|&i| series[i].complete && !future(series[i]) && !duplicate(&series[i].id))
        .collect();
    let mut keep = vec![false; series.len()];
    let mut reasons: Vec<Vec<Reason>> = vec![Vec::new(); series.len()];
    if let Some(&anchor) = candidates.last() {
        keep[anchor] = true;
        reasons[anchor].push(Reason::Anchor);
    }
    for (i, s) in series.iter().enumerate() {
        let special = [
            (s.pinned, Reason::Pinned),
            (future(s), Reason::FutureDated),
            (!s.complete, Reason::Incomplete),
            (duplicate(&s.id), Reason::DuplicateId),
        ];
        for (applies, reason) in special {
            if applies {
                keep[i] = true;
                reasons[i].push(reason);
            }
        }
        if future(s) {
            plan.warnings.push(format!(
                "{}: snapshot {} is dated {}, {} after now: it is kept, and not taken as the \
                 newest until then; check the clock of the server that took it",
                s.series,
                s.id,
                show_time(s.time),
                format_age(s.time - now)
            ));
        }
    }

    let mut superseded: Vec<Vec<Reason>> = vec![Vec::new(); series.len()];
    if let Some(&anchor) = candidates.last() {
        let times: Vec<DateTime<Utc>> = candidates.iter().map(|&i| series[i].time).collect();
        // Whole seconds suffice: spacings are whole seconds, and flooring a time to its
        // second never moves it across a bucket boundary.
        let secs: Vec<i64> = times.iter().map(|t| t.timestamp()).collect();
        let anchor_time = series[anchor].time;
        for tier in tiers.tiers() {
            let spacing = tier.spacing_secs();
            let bucket = |sec: i64| sec.div_euclid(spacing);
            // The tier's buckets run from the one holding the snapshot in force at the
            // window's start (the newest at or before anchor − window) up to the anchor's; with
            // no snapshot that old, every candidate is inside the window.
            // Buckets before this one lie wholly before the window.
            let window_bucket = bucket(secs[secs.len() - 1] - tier.window.num_seconds());
            let first = match anchor_time.checked_sub_signed(tier.window) {
                None => 0,
                Some(window_start) => match times.partition_point(|t| *t <= window_start) {
                    0 => 0,
                    in_force => {
                        let b = bucket(secs[in_force - 1]);
                        secs.partition_point(|&x| bucket(x) < b)
                    }
                },
            };
            // (bucket, its start, index of its oldest candidate)
            let mut current: Option<(i64, DateTime<Utc>, usize)> = None;
            for j in first..candidates.len() {
                let b = bucket(secs[j]);
                match current {
                    Some((cb, bucket_start, keeper)) if cb == b => {
                        superseded[candidates[j]].push(Reason::Superseded {
                            spacing: tier.spacing,
                            bucket_start,
                            by: series[candidates[keeper]].id.clone(),
                        });
                    }
                    _ => {
                        // Sorted by time, so the first candidate seen in a bucket is its oldest.
                        let bucket_start =
                            DateTime::from_timestamp(b * spacing, 0).unwrap_or(times[j]);
                        current = Some((b, bucket_start, j));
                        keep[candidates[j]] = true;
                        reasons[candidates[j]].push(Reason::Tier {
                            spacing: tier.spacing,
                            bucket_start,
                            before_window: b < window_bucket,
                        });
                    }
                }
            }
        }
    }

    for (i, s) in series.iter().enumerate() {
        let why = if keep[i] {
            std::mem::take(&mut reasons[i])
        } else if superseded[i].is_empty() {
            vec![Reason::OutsideHorizon]
        } else {
            std::mem::take(&mut superseded[i])
        };
        plan.decisions.push(Decision {
            id: s.id.clone(),
            series: s.series.clone(),
            time: s.time,
            keep: keep[i],
            reasons: why,
        });
    }
}
