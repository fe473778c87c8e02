//! The real policy on a simulated clock: a snapshot attempted at every step, some failing at
//! random (outages), a prune after each, and after it all how many snapshots were kept and how
//! stale "restore as of T" got compared with the best any policy could have done.

use std::collections::HashSet;
use std::fmt::Write as _;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::decision::{show_time, Plan};
use super::duration::{format_age, format_span};
use super::policy::{plan, SnapshotInfo};
use super::tiers::Tiers;

/// Where simulated time starts (2026-01-01T00:00:00Z): fixed, so that a seed gives the same
/// report everywhere, and on a day boundary, so that buckets line up the way they would on a
/// schedule aligned to the clock.
const START_UNIX: i64 = 1_767_225_600;

/// About how many times the coverage is measured during a simulation: each measure walks the
/// whole horizon, so measuring after every step of a long simulation would dominate it.
const CHECKS: u64 = 2_000;

/// About how many points of the kept count over time are reported.
const SAMPLES: u64 = 100;

/// The series simulated snapshots belong to.
const SERIES: &str = "simulated";

/// How a simulated run went.
#[derive(Debug, Clone, Serialize)]
pub struct SimulationReport {
    /// The tiers, `spacing@window`.
    pub tiers: Vec<String>,
    /// How often a snapshot was attempted.
    pub every: String,
    /// How long the simulated clock ran.
    pub duration: String,
    /// The probability that an attempt failed.
    pub outage_rate: f64,
    /// The seed of the failures.
    pub seed: u64,
    /// Simulated start.
    pub start: DateTime<Utc>,
    /// Simulated end.
    pub end: DateTime<Utc>,
    /// Snapshots attempted.
    pub attempts: u64,
    /// Snapshots taken.
    pub taken: u64,
    /// Attempts that failed.
    pub failed: u64,
    /// Snapshots deleted by the prunes.
    pub deleted: u64,
    /// The most snapshots kept at once.
    pub max_kept: usize,
    /// Snapshots kept at the end.
    pub final_kept: usize,
    /// The most the tiers can keep ([`Tiers::max_kept`]).
    pub bound: usize,
    /// Snapshots kept after the prune at some of the steps.
    pub kept_over_time: Vec<KeptSample>,
    /// How many times coverage was measured.
    pub checks: u64,
    /// Coverage by tier.
    pub coverage: Vec<TierCoverage>,
    /// Whether any tier broke its bound, or kept more than [`Tiers::max_kept`].
    pub violated: bool,
}

/// The kept count at one simulated instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KeptSample {
    /// When.
    pub time: DateTime<Utc>,
    /// Snapshots kept after the prune.
    pub kept: usize,
}

/// "Restore as of T" for the instants T whose age (measured from the newest snapshot) falls
/// in one tier's range: from the window of the finer tier before it to its own window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TierCoverage {
    /// The tier, `spacing@window`.
    pub tier: String,
    /// Youngest age covered, in seconds.
    pub from_age_seconds: i64,
    /// Oldest age covered, in seconds.
    pub to_age_seconds: i64,
    /// The bound: the kept snapshot must be less than this much older than the best one.
    pub bound_seconds: i64,
    /// The most the kept snapshot for some T was older than the best snapshot ever taken
    /// at or before T (none: no T in range had a snapshot before it).
    pub worst_extra_seconds: Option<i64>,
    /// The least upper bound of the age of the kept snapshot in force at T (T − its time).
    pub worst_staleness_seconds: Option<i64>,
    /// Some T had a snapshot taken before it but no kept one.
    pub unserved: bool,
    /// `unserved`, or `worst_extra_seconds` reached the bound.
    pub violated: bool,
}

/// Runs the policy on a simulated clock: every `every` a snapshot is attempted, failing with
/// probability `outage_rate` (clamped to 0..=1; the failures are drawn from `seed`), then
/// the snapshots are pruned with [`plan`], as the scheduler does. Runs for `duration`.
/// The cost is one plan of a few hundred snapshots per step plus about 2,000 walks over the
/// horizon: a second or two for the default tiers at one step per minute for 35 days.
///
/// # Panics
///
/// When `every` is shorter than a second.
pub fn simulate(
    tiers: &Tiers,
    every: TimeDelta,
    duration: TimeDelta,
    outage_rate: f64,
    seed: u64,
) -> SimulationReport {
    assert!(
        every >= TimeDelta::seconds(1),
        "a simulation step must be at least a second"
    );
    let outage_rate = if outage_rate.is_nan() {
        0.0
    } else {
        outage_rate.clamp(0.0, 1.0)
    };
    let start = DateTime::from_timestamp(START_UNIX, 0).expect("a valid instant");
    // Whole seconds: snapshot times are compared to the second by the bucket arithmetic.
    let step_secs = every.num_seconds();
    let steps = (duration.num_seconds().max(0) / step_secs) as u64;
    let check_stride = steps.div_ceil(CHECKS).max(1);
    let sample_stride = steps.div_ceil(SAMPLES).max(1);
    let mut rng = SplitMix64(seed);
    let mut report = SimulationReport {
        tiers: tiers.to_strings(),
        every: format_span(every),
        duration: format_span(duration),
        outage_rate,
        seed,
        start,
        end: start + TimeDelta::seconds(step_secs * steps as i64),
        attempts: 0,
        taken: 0,
        failed: 0,
        deleted: 0,
        max_kept: 0,
        final_kept: 0,
        bound: tiers.max_kept(),
        kept_over_time: Vec::new(),
        checks: 0,
        coverage: ranges(tiers),
        violated: false,
    };
    let mut kept: Vec<SnapshotInfo> = Vec::new();
    // Every snapshot ever taken, as UNIX seconds: the best "as of T" any policy could offer.
    let mut history: Vec<i64> = Vec::new();
    for step in 1..=steps {
        let now = start + TimeDelta::seconds(step_secs * step as i64);
        report.attempts += 1;
        if rng.next_f64() < outage_rate {
            report.failed += 1;
        } else {
            report.taken += 1;
            history.push(now.timestamp());
            kept.push(SnapshotInfo {
                id: format!("s{step:09}"),
                series: SERIES.into(),
                time: now,
                pinned: false,
                complete: true,
            });
        }
        // Pruned after failures too, as the scheduler does: it must delete nothing then.
        let decided = plan(tiers, &kept, now);
        // One series, ids in time order: the decisions come in the order of `kept`.
        let mut decisions = decided.decisions.iter();
        kept.retain(|s| {
            let d = decisions.next().expect("one decision per snapshot");
            debug_assert_eq!(d.id, s.id);
            d.keep
        });
        report.deleted += decided.decisions.len() as u64 - kept.len() as u64;
        report.max_kept = report.max_kept.max(kept.len());
        if step % sample_stride == 0 || step == steps {
            report.kept_over_time.push(KeptSample {
                time: now,
                kept: kept.len(),
            });
        }
        if step % check_stride == 0 || step == steps {
            let kept_secs: Vec<i64> = kept.iter().map(|s| s.time.timestamp()).collect();
            measure(tiers, &history, &kept_secs, &mut report.coverage);
            report.checks += 1;
        }
    }
    report.final_kept = kept.len();
    report.violated = report.max_kept > report.bound || report.coverage.iter().any(|c| c.violated);
    report
}

/// The age ranges of the tiers, each with its bound and nothing measured yet.
fn ranges(tiers: &Tiers) -> Vec<TierCoverage> {
    let mut from = 0;
    tiers
        .tiers()
        .iter()
        .map(|t| {
            let to = t.window.num_seconds();
            let c = TierCoverage {
                tier: t.to_string(),
                from_age_seconds: from,
                to_age_seconds: to,
                bound_seconds: t.spacing.num_seconds(),
                worst_extra_seconds: None,
                worst_staleness_seconds: None,
                unserved: false,
                violated: false,
            };
            from = to;
            c
        })
        .collect()
}

/// Measures "restore as of T" for every T in each tier's range of ages, given every snapshot
/// taken and those kept (both sorted UNIX seconds), and folds the worst into `coverage`.
///
/// The staleness of both the best and the kept snapshot only change at snapshot times, so
/// it is enough to look at the start of each range and at every snapshot taken inside it.
fn measure(tiers: &Tiers, history: &[i64], kept: &[i64], coverage: &mut [TierCoverage]) {
    let Some(&anchor) = history.last() else {
        return;
    };
    for (tier, c) in tiers.tiers().iter().zip(coverage.iter_mut()) {
        let lower = anchor - c.to_age_seconds;
        // The first tier includes T = anchor, where the anchor itself serves with no loss.
        let upper = anchor - c.from_age_seconds;
        let end = history.partition_point(|&x| x < upper);
        let first = history.partition_point(|&x| x <= lower).saturating_sub(1);
        let mut k = kept.partition_point(|&x| x < history.get(first).copied().unwrap_or(0));
        for j in first..end {
            let best = history[j];
            while k < kept.len() && kept[k] <= best {
                k += 1;
            }
            let Some(&served) = k.checked_sub(1).and_then(|i| kept.get(i)) else {
                c.unserved = true;
                continue;
            };
            let segment_end = history
                .get(j + 1)
                .copied()
                .filter(|&x| x < upper)
                .unwrap_or(upper);
            let extra = best - served;
            c.worst_extra_seconds = Some(c.worst_extra_seconds.map_or(extra, |w| w.max(extra)));
            let stale = segment_end - served;
            c.worst_staleness_seconds =
                Some(c.worst_staleness_seconds.map_or(stale, |w| w.max(stale)));
        }
        c.violated = c.unserved
            || c.worst_extra_seconds
                .is_some_and(|w| w >= tier.spacing_secs());
    }
}

impl SimulationReport {
    /// The report for people.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "simulated {} of snapshots every {} (outage rate {}, seed {}), {} … {}",
            self.duration,
            self.every,
            self.outage_rate,
            self.seed,
            show_time(self.start),
            show_time(self.end)
        );
        let _ = writeln!(out, "tiers: {}", self.tiers.join(" "));
        let _ = writeln!(
            out,
            "attempts {}, taken {}, failed {}, deleted by prune {}",
            self.attempts, self.taken, self.failed, self.deleted
        );
        let _ = writeln!(
            out,
            "kept: at most {} at once, {} at the end (these tiers never keep more than {})",
            self.max_kept, self.final_kept, self.bound
        );
        if !self.kept_over_time.is_empty() {
            let counts: Vec<usize> = self.kept_over_time.iter().map(|s| s.kept).collect();
            let _ = writeln!(out, "kept over time: {}", sparkline(&counts, self.bound));
        }
        let _ = writeln!(
            out,
            "restore \"as of T\", measured at {} instants; \"extra\" is how much older the kept \
             snapshot is than the best one ever taken:",
            self.checks
        );
        let _ = writeln!(
            out,
            "  {:<16} {:<10} {:>12} {:>9} {:>16}",
            "age of T", "tier", "worst extra", "bound", "worst staleness"
        );
        let age = |s: i64| format_age(TimeDelta::seconds(s));
        let opt = |s: Option<i64>| s.map_or_else(|| "-".into(), age);
        for c in &self.coverage {
            let _ = writeln!(
                out,
                "  {:<16} {:<10} {:>12} {:>9} {:>16}{}",
                format!("{} – {}", age(c.from_age_seconds), age(c.to_age_seconds)),
                c.tier,
                opt(c.worst_extra_seconds),
                format!("< {}", age(c.bound_seconds)),
                opt(c.worst_staleness_seconds),
                if c.unserved {
                    "  VIOLATED: some T had no kept snapshot"
                } else if c.violated {
                    "  VIOLATED"
                } else {
                    ""
                }
            );
        }
        out.push_str(if self.violated {
            "result: a bound was VIOLATED\n"
        } else {
            "result: every bound held\n"
        });
        out
    }
}

/// The counts as a row of block characters, full height at `top`.
fn sparkline(counts: &[usize], top: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let top = top.max(1);
    counts
        .iter()
        .map(|&n| BARS[(n.min(top) * (BARS.len() - 1)) / top])
        .collect()
}

/// Takes a snapshot at every multiple of `every` since the epoch from `from` to `until`
/// (inclusive) in `series`, on top of `existing`, pruning as the scheduler would, and returns
/// the plan at `until`: what would be kept then. Pruning happens in batches rather than after
/// every snapshot, which gives the same result (path independence) at a fraction of the cost.
///
/// # Panics
///
/// When `every` is shorter than a second.
pub fn project(
    tiers: &Tiers,
    existing: &[SnapshotInfo],
    series: &str,
    every: TimeDelta,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Plan {
    assert!(
        every >= TimeDelta::seconds(1),
        "a schedule step must be at least a second"
    );
    let step = every.num_seconds();
    let mut set: Vec<SnapshotInfo> = existing.to_vec();
    let batch = 4 * tiers.max_kept() + existing.len();
    let mut slot = from.timestamp().div_euclid(step) * step;
    if slot < from.timestamp() {
        slot += step;
    }
    while slot <= until.timestamp() {
        let time = DateTime::from_timestamp(slot, 0).expect("between two valid instants");
        set.push(SnapshotInfo {
            id: format!("{series}@{}", time.format("%Y%m%dT%H%M%SZ")),
            series: series.into(),
            time,
            pinned: false,
            complete: true,
        });
        if set.len() >= batch {
            let decided = plan(tiers, &set, time);
            let keep: HashSet<&str> = decided.kept().map(|d| d.id.as_str()).collect();
            set.retain(|s| keep.contains(s.id.as_str()));
        }
        slot += step;
    }
    plan(tiers, &set, until)
}

/// A tiny, fixed pseudo-random generator (SplitMix64): a seed must give the same outages on
/// every machine and with every version of the `rand` crate.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiers(list: &[&str]) -> Tiers {
        Tiers::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn a_steady_schedule_keeps_few_and_holds_every_bound() {
        let t = tiers(&["1m@15m", "5m@1h", "1h@6h"]);
        let r = simulate(&t, TimeDelta::minutes(1), TimeDelta::hours(12), 0.0, 1);
        assert_eq!((r.attempts, r.taken, r.failed), (720, 720, 0));
        assert!(!r.violated, "{}", r.render());
        assert!(r.max_kept <= r.bound);
        assert_eq!(r.deleted, r.taken - r.final_kept as u64);
        // 15 + 12 + 6 buckets, minus the overlaps, plus the one in force at each start.
        assert!((25..=36).contains(&r.final_kept), "{}", r.final_kept);
        for c in &r.coverage {
            assert!(
                c.worst_extra_seconds.is_some_and(|w| w < c.bound_seconds),
                "{c:?}"
            );
        }
        // With a snapshot every minute, the 1m tier loses nothing.
        assert_eq!(r.coverage[0].worst_extra_seconds, Some(0));
    }

    #[test]
    fn outages_lose_snapshots_but_never_break_a_bound() {
        let t = tiers(&["1m@15m", "5m@1h", "1h@6h", "6h@2d"]);
        for seed in 0..4 {
            let r = simulate(&t, TimeDelta::minutes(1), TimeDelta::days(3), 0.5, seed);
            assert!(r.failed > 1_500 && r.taken > 1_500, "{r:?}");
            assert!(!r.violated, "{}", r.render());
        }
    }

    #[test]
    fn a_total_outage_takes_nothing_and_deletes_nothing() {
        let r = simulate(
            &Tiers::default(),
            TimeDelta::hours(1),
            TimeDelta::days(2),
            1.0,
            7,
        );
        assert_eq!((r.taken, r.deleted, r.final_kept), (0, 0, 0));
        assert!(!r.violated);
    }

    #[test]
    fn the_same_seed_gives_the_same_report() {
        let t = tiers(&["1m@15m", "1h@1d"]);
        let run = || simulate(&t, TimeDelta::minutes(1), TimeDelta::hours(30), 0.3, 42);
        let (a, b) = (run(), run());
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
        let other = simulate(&t, TimeDelta::minutes(1), TimeDelta::hours(30), 0.3, 43);
        assert_ne!(a.failed, other.failed);
    }

    #[test]
    fn the_rendering_has_a_line_per_tier_and_a_verdict() {
        let t = tiers(&["1m@15m", "1h@1d"]);
        let text = simulate(&t, TimeDelta::minutes(1), TimeDelta::hours(2), 0.0, 0).render();
        assert!(text.contains("1m@15m") && text.contains("1h@1d"), "{text}");
        assert!(text.ends_with("result: every bound held\n"), "{text}");
    }

    #[test]
    fn measuring_finds_a_policy_that_loses_too_much() {
        let t = tiers(&["1m@10m"]);
        let history: Vec<i64> = (0..=20).map(|m| m * 60).collect();
        // Keeping only the anchor and one snapshot 5 minutes before it breaks the 1m bound.
        let kept = [900, 1_200];
        let mut coverage = ranges(&t);
        measure(&t, &history, &kept, &mut coverage);
        assert_eq!(coverage[0].worst_extra_seconds, Some(240));
        assert!(coverage[0].violated);
        // Keeping nothing at all old enough leaves T unserved.
        let mut coverage = ranges(&t);
        measure(&t, &history, &[1_200], &mut coverage);
        assert!(coverage[0].unserved && coverage[0].violated);
    }

    #[test]
    fn projection_equals_one_plan_over_every_slot() {
        let t = tiers(&["1m@15m", "10m@2h", "1h@1d"]);
        let from: DateTime<Utc> = "2026-03-01T00:00:30Z".parse().unwrap();
        let until: DateTime<Utc> = "2026-03-02T06:00:00Z".parse().unwrap();
        let projected = project(&t, &[], "p", TimeDelta::minutes(1), from, until);
        let all: Vec<SnapshotInfo> = (1..)
            .map(|m| from + TimeDelta::seconds(30) + TimeDelta::minutes(m - 1))
            .take_while(|time| *time <= until)
            .map(|time| SnapshotInfo {
                id: format!("p@{}", time.format("%Y%m%dT%H%M%SZ")),
                series: "p".into(),
                time,
                pinned: false,
                complete: true,
            })
            .collect();
        let once = plan(&t, &all, until);
        let ids = |p: &Plan| p.kept().map(|d| d.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&projected), ids(&once));
    }
}
