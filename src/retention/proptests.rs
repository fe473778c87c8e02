//! The properties of the policy (see the module documentation of `retention`), each checked
//! on random repositories: random tiers or the defaults, snapshots whose gaps range from
//! nothing (equal times) to days, several series, pins, incomplete and future-dated ones.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use proptest::prelude::*;

use super::*;

/// 2026-01-01T00:00:00Z: the generated times start here.
const BASE: i64 = 1_767_225_600;
const SERIES: [&str; 3] = ["prod/raw", "prod/anonymized", "stage/raw"];

/// One generated snapshot, with what it looked like at an earlier time for the
/// path-independence property.
#[derive(Debug, Clone)]
struct Gen {
    info: SnapshotInfo,
    /// Whether it already existed at the earlier prune (a "new" snapshot otherwise).
    existed: bool,
    /// Still being written at the earlier prune.
    was_incomplete: bool,
    /// Pinned at the earlier prune (and unpinned since).
    was_pinned: bool,
}

#[derive(Debug, Clone)]
struct Repo {
    tiers: Tiers,
    snaps: Vec<Gen>,
    /// The later time (the one the plain properties use).
    now: DateTime<Utc>,
    /// The earlier prune, at or before `now`.
    earlier: DateTime<Utc>,
}

impl Repo {
    fn infos(&self) -> Vec<SnapshotInfo> {
        self.snaps.iter().map(|g| g.info.clone()).collect()
    }
}

/// Random valid tiers: 1 to 4, spacings growing by 2× to 4× (plus a jitter, so that buckets of
/// different tiers do not always nest), windows of 1 to 8 spacings and always longer than
/// the finer tier's.
fn random_tiers() -> impl Strategy<Value = Tiers> {
    (
        30i64..=600,
        prop::collection::vec((1i64..=3, 0i64..=59, 1i64..=8, 1i64..=3_600), 1..=4),
    )
        .prop_map(|(first, shape)| {
            let mut out: Vec<Tier> = Vec::new();
            let mut spacing = first;
            for (i, (factor, jitter, windows, extra)) in shape.into_iter().enumerate() {
                if i > 0 {
                    spacing = spacing * (factor + 1) + jitter;
                }
                let mut window = spacing * windows;
                if let Some(prev) = out.last() {
                    window = window.max(prev.window.num_seconds() + extra);
                }
                out.push(Tier {
                    spacing: TimeDelta::seconds(spacing),
                    window: TimeDelta::seconds(window),
                });
            }
            Tiers::new(out).expect("generated tiers are valid")
        })
}

fn any_tiers() -> impl Strategy<Value = Tiers> {
    prop_oneof![1 => Just(Tiers::default()), 3 => random_tiers()]
}

/// A gap between two consecutive snapshots: zero (equal times) now and then, otherwise from a
/// second to about 11 days on a roughly logarithmic scale, so that every tier sees dense and
/// sparse stretches.
fn gap() -> impl Strategy<Value = i64> {
    prop_oneof![
        1 => Just(0i64),
        9 => (1i64..=60, 0u32..=14).prop_map(|(m, e)| m << e),
    ]
}

/// (series, gap, pinned, incomplete, id salt, existed roll, was incomplete, was pinned)
type Raw = (usize, i64, bool, bool, u16, u8, bool, bool);

fn raw_snapshot() -> impl Strategy<Value = Raw> {
    (
        0usize..SERIES.len(),
        gap(),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.08),
        any::<u16>(),
        any::<u8>(),
        prop::bool::weighted(0.15),
        prop::bool::weighted(0.1),
    )
}

fn repo_with(count: std::ops::Range<usize>) -> impl Strategy<Value = Repo> {
    (
        any_tiers(),
        prop::collection::vec(raw_snapshot(), count),
        -3 * 3_600i64..=3_600,
        0u8..=100,
    )
        .prop_map(|(tiers, raw, now_offset, earlier_pct)| {
            let mut t = BASE;
            let mut snaps = Vec::with_capacity(raw.len());
            for (i, (series, gap, pinned, incomplete, salt, roll, was_incomplete, was_pinned)) in
                raw.into_iter().enumerate()
            {
                t += gap;
                snaps.push((
                    i,
                    t,
                    series,
                    pinned,
                    incomplete,
                    salt,
                    roll,
                    was_incomplete,
                    was_pinned,
                ));
            }
            let last = t;
            // Mostly after the newest snapshot, sometimes a few hours before it, so that
            // some snapshots are dated in the future.
            let now = last + now_offset;
            let earlier = now - (now - BASE).max(0) * i64::from(100 - earlier_pct) / 100;
            let snaps = snaps
                .into_iter()
                .map(
                    |(i, t, series, pinned, incomplete, salt, roll, was_incomplete, was_pinned)| {
                        // Ids are unique (the index) but sort in an order unrelated to time.
                        let info = SnapshotInfo {
                            id: format!("{salt:04x}-{i:03}"),
                            series: SERIES[series].into(),
                            time: DateTime::from_timestamp(t, 0).unwrap(),
                            pinned,
                            complete: !incomplete,
                        };
                        // Most snapshots dated before the earlier prune existed then; a
                        // few later-dated ones did too (a wrong clock), and a few earlier-dated
                        // ones came later (a snapshot derived afterwards).
                        let existed = if t <= earlier { roll < 220 } else { roll < 25 };
                        Gen {
                            info,
                            existed,
                            was_incomplete: incomplete || was_incomplete,
                            was_pinned: pinned || was_pinned,
                        }
                    },
                )
                .collect();
            Repo {
                tiers,
                snaps,
                now: DateTime::from_timestamp(now, 0).unwrap(),
                earlier: DateTime::from_timestamp(earlier, 0).unwrap(),
            }
        })
}

fn repo() -> impl Strategy<Value = Repo> {
    repo_with(0..70)
}

fn kept_ids(plan: &Plan) -> BTreeSet<String> {
    plan.kept().map(|d| d.id.clone()).collect()
}

fn kept_of(snaps: &[SnapshotInfo], plan: &Plan) -> Vec<SnapshotInfo> {
    let keep = kept_ids(plan);
    snaps
        .iter()
        .filter(|s| keep.contains(&s.id))
        .cloned()
        .collect()
}

/// Candidates (complete, not future-dated) per series, sorted by (time, id).
fn candidates(snaps: &[SnapshotInfo], now: DateTime<Utc>) -> BTreeMap<&str, Vec<&SnapshotInfo>> {
    let mut out: BTreeMap<&str, Vec<&SnapshotInfo>> = BTreeMap::new();
    for s in snaps.iter().filter(|s| s.complete && s.time <= now) {
        out.entry(s.series.as_str()).or_default().push(s);
    }
    for v in out.values_mut() {
        v.sort_by(|a, b| (a.time, &a.id).cmp(&(b.time, &b.id)));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn one_decision_per_snapshot_and_kept_is_a_subset(r in repo()) {
        let snaps = r.infos();
        let plan = plan(&r.tiers, &snaps, r.now);
        let mut given: Vec<(String, String, DateTime<Utc>)> =
            snaps.iter().map(|s| (s.series.clone(), s.id.clone(), s.time)).collect();
        let mut decided: Vec<(String, String, DateTime<Utc>)> =
            plan.decisions.iter().map(|d| (d.series.clone(), d.id.clone(), d.time)).collect();
        // Sorted by (series, time, id).
        let keys: Vec<_> = plan.decisions.iter().map(|d| (&d.series, d.time, &d.id)).collect();
        prop_assert!(keys.windows(2).all(|w| w[0] <= w[1]));
        given.sort();
        decided.sort();
        prop_assert_eq!(given, decided);
        for d in &plan.decisions {
            prop_assert!(!d.reasons.is_empty(), "{:?}", d);
        }
    }

    #[test]
    fn the_newest_and_every_protected_snapshot_is_kept(r in repo()) {
        let snaps = r.infos();
        let plan = plan(&r.tiers, &snaps, r.now);
        let keep = kept_ids(&plan);
        for s in &snaps {
            if s.pinned || !s.complete || s.time > r.now {
                prop_assert!(keep.contains(&s.id), "{:?}", s);
            }
        }
        let mut newest: BTreeMap<&str, &SnapshotInfo> = BTreeMap::new();
        for s in &snaps {
            let e = newest.entry(s.series.as_str()).or_insert(s);
            if (s.time, &s.id) > (e.time, &e.id) {
                *e = s;
            }
        }
        for s in newest.values() {
            prop_assert!(keep.contains(&s.id), "newest {:?}", s);
        }
        for (_, c) in candidates(&snaps, r.now) {
            let anchor = c.last().unwrap();
            let d = plan.decisions.iter().find(|d| d.id == anchor.id).unwrap();
            prop_assert!(d.keep && d.reasons[0] == Reason::Anchor);
        }
    }

    #[test]
    fn idempotent(r in repo()) {
        let snaps = r.infos();
        let first = plan(&r.tiers, &snaps, r.now);
        let kept = kept_of(&snaps, &first);
        let second = plan(&r.tiers, &kept, r.now);
        prop_assert_eq!(second.deleted().count(), 0);
        // Not just the same set: the same decisions, reasons included.
        let first_kept: Vec<&Decision> = first.kept().collect();
        let second_kept: Vec<&Decision> = second.kept().collect();
        prop_assert_eq!(first_kept, second_kept);
    }

    #[test]
    fn path_independent(r in repo()) {
        // At the earlier prune: the snapshots that existed then, with their flags then.
        let then: Vec<SnapshotInfo> = r
            .snaps
            .iter()
            .filter(|g| g.existed)
            .map(|g| SnapshotInfo {
                complete: !g.was_incomplete,
                pinned: g.was_pinned,
                ..g.info.clone()
            })
            .collect();
        let survivors = kept_ids(&plan(&r.tiers, &then, r.earlier));
        // Later: the survivors (with their flags now) and every new snapshot.
        let later: Vec<SnapshotInfo> = r
            .snaps
            .iter()
            .filter(|g| !g.existed || survivors.contains(&g.info.id))
            .map(|g| g.info.clone())
            .collect();
        let stepwise = plan(&r.tiers, &later, r.now);
        let at_once = plan(&r.tiers, &r.infos(), r.now);
        let a: Vec<&Decision> = stepwise.kept().collect();
        let b: Vec<&Decision> = at_once.kept().collect();
        prop_assert_eq!(a, b);
    }

    #[test]
    fn coverage_loses_less_than_one_spacing(r in repo(), probes in prop::collection::vec(0.0f64..=1.0, 8)) {
        let snaps = r.infos();
        let plan = plan(&r.tiers, &snaps, r.now);
        let keep = kept_ids(&plan);
        for (_, cands) in candidates(&snaps, r.now) {
            let anchor = cands.last().unwrap().time;
            let kept: Vec<&SnapshotInfo> = cands.iter().copied().filter(|s| keep.contains(&s.id)).collect();
            for tier in r.tiers.tiers() {
                let start = anchor - tier.window;
                // Every instant where "the best snapshot" changes, the window's start, and some
                // instants in between.
                let mut instants: Vec<DateTime<Utc>> = cands
                    .iter()
                    .map(|s| s.time)
                    .filter(|t| *t >= start)
                    .collect();
                instants.push(start);
                for p in &probes {
                    let ms = (tier.window.num_milliseconds() as f64 * p) as i64;
                    instants.push(start + TimeDelta::milliseconds(ms));
                }
                for at in instants {
                    let Some(best) = cands.iter().rev().find(|s| s.time <= at) else { continue };
                    let served = kept.iter().rev().find(|s| s.time <= at);
                    prop_assert!(served.is_some(), "nothing kept serves {} ({})", at, tier);
                    let loss = best.time - served.unwrap().time;
                    prop_assert!(
                        loss < tier.spacing,
                        "as of {at}, tier {tier}: best {} but kept {}",
                        best.time,
                        served.unwrap().time
                    );
                }
            }
        }
    }

    #[test]
    fn no_new_snapshot_means_nothing_deleted(r in repo(), wait in 0i64..=400 * 86_400) {
        let snaps = r.infos();
        let kept = kept_of(&snaps, &plan(&r.tiers, &snaps, r.now));
        // Later, but before any future-dated snapshot comes due: that would be a new one.
        let due = kept.iter().map(|s| s.time).filter(|t| *t > r.now).min();
        let mut later = r.now + TimeDelta::seconds(wait);
        if let Some(due) = due {
            later = later.min(due - TimeDelta::nanoseconds(1));
        }
        let again = plan(&r.tiers, &kept, later);
        prop_assert_eq!(again.deleted().count(), 0);
    }

    #[test]
    fn independent_of_order_and_time_zone(
        r in repo(),
        seed in any::<u64>(),
        offsets in prop::collection::vec(-14 * 60i32..=14 * 60, 1..8),
    ) {
        let snaps = r.infos();
        let expected = plan(&r.tiers, &snaps, r.now);
        // Shuffled by a seeded permutation.
        let mut shuffled = snaps.clone();
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(&plan(&r.tiers, &shuffled, r.now), &expected);
        // The same instants written in other time zones, as a reader of local timestamps
        // would produce them.
        let local = |t: DateTime<Utc>, i: usize| -> DateTime<Utc> {
            // Whole minutes: RFC 3339 cannot write offsets with seconds.
            let zone = FixedOffset::east_opt(offsets[i % offsets.len()] * 60).unwrap();
            let text = t.with_timezone(&zone).to_rfc3339();
            DateTime::parse_from_rfc3339(&text).unwrap().with_timezone(&Utc)
        };
        let zoned: Vec<SnapshotInfo> = shuffled
            .iter()
            .enumerate()
            .map(|(i, s)| SnapshotInfo { time: local(s.time, i), ..s.clone() })
            .collect();
        prop_assert_eq!(&plan(&r.tiers, &zoned, local(r.now, 0)), &expected);
        // Buckets start on multiples of their spacing since the UNIX epoch.
        for d in &expected.decisions {
            for reason in &d.reasons {
                if let Reason::Tier { spacing, bucket_start, .. } | Reason::Superseded { spacing, bucket_start, .. } = reason {
                    prop_assert_eq!(bucket_start.timestamp() % spacing.num_seconds(), 0);
                    prop_assert!(*bucket_start <= d.time && d.time < *bucket_start + *spacing);
                }
            }
        }
    }
}

/// A repository with many snapshots in one series, closely spaced: the kept count must stay
/// under the tiers' bound whatever the number of snapshots.
fn dense_repo() -> impl Strategy<Value = (Tiers, Vec<SnapshotInfo>, DateTime<Utc>)> {
    (
        any_tiers(),
        prop::collection::vec((1i64..=240, prop::bool::weighted(0.05)), 200..2_500),
        0i64..=7_200,
    )
        .prop_map(|(tiers, gaps, after)| {
            let mut t = BASE;
            let snaps: Vec<SnapshotInfo> = gaps
                .into_iter()
                .enumerate()
                .map(|(i, (gap, pinned))| {
                    t += gap;
                    SnapshotInfo {
                        id: format!("s{i:05}"),
                        series: "prod/raw".into(),
                        time: DateTime::from_timestamp(t, 0).unwrap(),
                        pinned,
                        complete: true,
                    }
                })
                .collect();
            (
                tiers,
                snaps,
                DateTime::from_timestamp(t + after, 0).unwrap(),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_kept_count_is_bounded_by_the_tiers(
        (tiers, snaps, now) in dense_repo(),
        sparse in repo(),
    ) {
        for (tiers, snaps, now) in [(tiers, snaps, now), (sparse.tiers.clone(), sparse.infos(), sparse.now)] {
            let plan = plan(&tiers, &snaps, now);
            let mut per_series: BTreeMap<&str, usize> = BTreeMap::new();
            for d in plan.kept() {
                let s = snaps.iter().find(|s| s.id == d.id).unwrap();
                if !s.pinned && s.complete && s.time <= now {
                    *per_series.entry(d.series.as_str()).or_default() += 1;
                }
            }
            for (series, n) in per_series {
                prop_assert!(n <= tiers.max_kept(), "{series}: {n} > {}", tiers.max_kept());
            }
        }
    }
}
