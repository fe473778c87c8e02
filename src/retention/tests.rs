//! The case table: small repositories whose dry-run output is pinned by insta snapshots
//! (`src/retention/snapshots/`), so that any change in what is kept, or in how it is
//! explained, shows up in review; plus direct checks of the cases the issue names.

use chrono::{DateTime, TimeDelta, Utc};

use super::*;

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn tiers(list: &[&str]) -> Tiers {
    Tiers::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
}

fn snap(id: &str, time: &str) -> SnapshotInfo {
    SnapshotInfo {
        id: id.into(),
        series: "prod/raw".into(),
        time: at(time),
        pinned: false,
        complete: true,
    }
}

/// Snapshots every `step` from `first` to `last` (inclusive), ids `p-HHMM` or `p-MMDD`.
fn every(step: TimeDelta, first: &str, last: &str, id_format: &str) -> Vec<SnapshotInfo> {
    let (mut t, last) = (at(first), at(last));
    let mut out = Vec::new();
    while t <= last {
        out.push(SnapshotInfo {
            id: t.format(id_format).to_string(),
            series: "prod/raw".into(),
            time: t,
            pinned: false,
            complete: true,
        });
        t += step;
    }
    out
}

struct Case {
    name: &'static str,
    tiers: Tiers,
    snapshots: Vec<SnapshotInfo>,
    now: DateTime<Utc>,
}

fn cases() -> Vec<Case> {
    let small = tiers(&["1m@5m", "5m@20m", "1h@2h"]);
    vec![
        Case {
            name: "empty_repository",
            tiers: Tiers::default(),
            snapshots: vec![],
            now: at("2026-01-01T12:00:00Z"),
        },
        Case {
            name: "single_snapshot",
            tiers: Tiers::default(),
            snapshots: vec![snap("only", "2025-06-01T00:00:00Z")],
            now: at("2026-01-01T12:00:00Z"),
        },
        Case {
            name: "every_minute_for_40_minutes",
            tiers: small.clone(),
            snapshots: every(
                TimeDelta::minutes(1),
                "2026-01-01T10:00:00Z",
                "2026-01-01T10:40:00Z",
                "p-%H%M",
            ),
            now: at("2026-01-01T10:40:30Z"),
        },
        Case {
            // The example in the module documentation: 01:44 serves "as of 01:50" in the 1m
            // window, so its bucket is kept although it ends before the window starts.
            name: "gap_across_the_window_start",
            tiers: tiers(&["1m@15m", "1h@1d"]),
            snapshots: vec![
                snap("a-0100", "2026-01-01T01:00:00Z"),
                snap("b-0130", "2026-01-01T01:30:00Z"),
                snap("c-0144", "2026-01-01T01:44:00Z"),
                snap("d-0200", "2026-01-01T02:00:00Z"),
            ],
            now: at("2026-01-01T02:00:10Z"),
        },
        Case {
            name: "daily_for_40_days_default_tiers",
            tiers: Tiers::default(),
            snapshots: every(
                TimeDelta::days(1),
                "2026-01-01T03:00:00Z",
                "2026-02-09T03:00:00Z",
                "d-%m%d",
            ),
            now: at("2026-02-09T03:05:00Z"),
        },
        Case {
            name: "future_dated_pinned_and_incomplete",
            tiers: small.clone(),
            snapshots: vec![
                SnapshotInfo {
                    pinned: true,
                    ..snap("pinned-old", "2025-12-01T00:00:00Z")
                },
                snap("old", "2025-12-02T00:00:00Z"),
                snap("a", "2026-01-01T10:00:00Z"),
                snap("b", "2026-01-01T10:00:40Z"),
                snap("c", "2026-01-01T10:01:10Z"),
                SnapshotInfo {
                    complete: false,
                    ..snap("writing", "2026-01-01T10:02:00Z")
                },
                snap("skewed-clock", "2026-01-01T13:00:00Z"),
            ],
            now: at("2026-01-01T10:02:30Z"),
        },
        Case {
            name: "two_series_are_retained_apart",
            tiers: tiers(&["1m@3m", "10m@30m"]),
            snapshots: {
                let mut v = every(
                    TimeDelta::minutes(1),
                    "2026-01-01T10:00:00Z",
                    "2026-01-01T10:06:00Z",
                    "raw-%H%M",
                );
                for s in every(
                    TimeDelta::minutes(2),
                    "2026-01-01T09:00:00Z",
                    "2026-01-01T09:10:00Z",
                    "anon-%H%M",
                ) {
                    v.push(SnapshotInfo {
                        series: "prod/anonymized".into(),
                        ..s
                    });
                }
                v
            },
            now: at("2026-01-01T10:06:00Z"),
        },
        Case {
            name: "equal_times_are_ordered_by_id",
            tiers: tiers(&["1m@2m"]),
            snapshots: vec![
                snap("zz", "2026-01-01T10:00:00Z"),
                snap("aa", "2026-01-01T10:00:00Z"),
                snap("mm", "2026-01-01T10:00:00Z"),
                snap("bb", "2026-01-01T10:01:00Z"),
                snap("ab", "2026-01-01T10:01:00Z"),
            ],
            now: at("2026-01-01T10:01:00Z"),
        },
        Case {
            name: "duplicate_ids_are_kept",
            tiers: tiers(&["1m@2m"]),
            snapshots: vec![
                snap("x", "2026-01-01T10:00:00Z"),
                snap("twin", "2026-01-01T10:00:10Z"),
                snap("twin", "2026-01-01T10:00:20Z"),
                snap("y", "2026-01-01T10:00:30Z"),
            ],
            now: at("2026-01-01T10:01:00Z"),
        },
    ]
}

#[test]
fn dry_run_case_table() {
    for case in cases() {
        let plan = plan(&case.tiers, &case.snapshots, case.now);
        let text = format!(
            "tiers: {}\nnow: {}\n\n{}",
            case.tiers,
            case.now.to_rfc3339(),
            plan.render_table()
        );
        insta::assert_snapshot!(case.name, text);
    }
}

#[test]
fn dry_run_json() {
    let case = cases()
        .into_iter()
        .find(|c| c.name == "gap_across_the_window_start")
        .unwrap();
    let plan = plan(&case.tiers, &case.snapshots, case.now);
    insta::assert_snapshot!(
        "gap_across_the_window_start_json",
        serde_json::to_string_pretty(&plan).unwrap()
    );
}

fn kept_ids(plan: &Plan) -> Vec<&str> {
    plan.kept().map(|d| d.id.as_str()).collect()
}

#[test]
fn the_window_start_keeps_the_snapshot_in_force_then() {
    let case = &cases()[3];
    let plan = plan(&case.tiers, &case.snapshots, case.now);
    // 01:44 is kept for the 1m tier, 01:00 for the 1h tier, 02:00 as the newest.
    assert_eq!(kept_ids(&plan), ["a-0100", "c-0144", "d-0200"]);
    let c = &plan.decisions[2];
    assert!(c.reasons.contains(&Reason::Tier {
        spacing: TimeDelta::minutes(1),
        bucket_start: at("2026-01-01T01:44:00Z"),
        before_window: true,
    }));
}

#[test]
fn an_outage_deletes_nothing_however_long() {
    let t = tiers(&["1m@15m", "1h@1d"]);
    let snaps = every(
        TimeDelta::minutes(1),
        "2026-01-01T00:00:00Z",
        "2026-01-02T00:00:00Z",
        "p-%d%H%M",
    );
    let now = at("2026-01-02T00:00:30Z");
    let first = plan(&t, &snaps, now);
    let kept: Vec<SnapshotInfo> = snaps
        .iter()
        .filter(|s| kept_ids(&first).contains(&s.id.as_str()))
        .cloned()
        .collect();
    for later in [
        TimeDelta::hours(1),
        TimeDelta::days(40),
        TimeDelta::days(3650),
    ] {
        let again = plan(&t, &kept, now + later);
        assert_eq!(again.deleted().count(), 0, "after {later}");
    }
}

#[test]
fn future_dated_snapshots_are_kept_with_a_warning_and_do_not_move_the_windows() {
    let t = tiers(&["1m@5m"]);
    let mut snaps = every(
        TimeDelta::minutes(1),
        "2026-01-01T10:00:00Z",
        "2026-01-01T10:10:00Z",
        "p-%H%M",
    );
    let now = at("2026-01-01T10:10:00Z");
    let without = plan(&t, &snaps, now);
    snaps.push(snap("from-2031", "2031-01-01T00:00:00Z"));
    let with = plan(&t, &snaps, now);
    assert_eq!(with.warnings.len(), 1);
    assert!(with.warnings[0].contains("from-2031") && with.warnings[0].contains("clock"));
    let last = with.decisions.last().unwrap();
    assert!(last.keep && last.reasons == [Reason::FutureDated]);
    assert_eq!(
        kept_ids(&with)[..],
        [&kept_ids(&without)[..], &["from-2031"]].concat()
    );
}

#[test]
fn the_default_policy_keeps_the_documented_spacings() {
    // Steady state: a snapshot every minute for 35 days.
    let tiers = Tiers::default();
    let now = at("2026-02-05T00:00:00Z");
    let plan = super::simulate::project(
        &tiers,
        &[],
        "prod/raw",
        TimeDelta::minutes(1),
        now - TimeDelta::days(35),
        now,
    );
    let kept: Vec<DateTime<Utc>> = plan.kept().map(|d| d.time).collect();
    assert!(kept.len() <= tiers.max_kept(), "{}", kept.len());
    let count_within = |age: TimeDelta| kept.iter().filter(|t| now - **t <= age).count();
    assert_eq!(count_within(TimeDelta::minutes(15)), 16);
    // Every day of the last 30 has its midnight snapshot.
    for d in 0..=30 {
        assert!(kept.contains(&(now - TimeDelta::days(d))), "day {d}");
    }
    assert!(now - kept[0] <= TimeDelta::days(31), "{}", kept[0]);
}

#[test]
fn reasons_read_as_plain_words() {
    let when = at("2026-01-01T10:00:00Z");
    let cases = [
        (Reason::Anchor, "newest snapshot"),
        (Reason::Pinned, "pinned"),
        (Reason::FutureDated, "dated in the future"),
        (Reason::Incomplete, "not complete yet"),
        (Reason::DuplicateId, "more than once"),
        (Reason::OutsideHorizon, "older than every tier's window"),
        (
            Reason::Tier {
                spacing: TimeDelta::hours(1),
                bucket_start: when,
                before_window: false,
            },
            "oldest in the 1h bucket from 2026-01-01 10:00:00Z",
        ),
        (
            Reason::Tier {
                spacing: TimeDelta::hours(1),
                bucket_start: when,
                before_window: true,
            },
            "in force when the tier's window starts",
        ),
        (
            Reason::Superseded {
                spacing: TimeDelta::minutes(5),
                bucket_start: when,
                by: "abc".into(),
            },
            "the 5m bucket from 2026-01-01 10:00:00Z keeps the older abc",
        ),
    ];
    for (reason, text) in cases {
        assert!(reason.to_string().contains(text), "{reason}");
    }
}
