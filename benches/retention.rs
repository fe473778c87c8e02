//! Planning retention over a large repository: 100,000 snapshots, one a minute for about 70
//! days, alternating between two series (raw and anonymized), with the default tiers; and the
//! plan the scheduler runs after every snapshot in a steady state (a few hundred snapshots).

// criterion's macros define public functions that cannot carry a doc comment.
#![allow(missing_docs)]

use std::hint::black_box;

use chrono::{DateTime, TimeDelta, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use doppel::retention::{plan, project, SnapshotInfo, Tiers};

const SNAPSHOTS: i64 = 100_000;

fn repository(start: DateTime<Utc>) -> Vec<SnapshotInfo> {
    (0..SNAPSHOTS)
        .map(|i| {
            let time = start + TimeDelta::minutes(i);
            let series = if i % 2 == 0 {
                "production/raw"
            } else {
                "production/anonymized"
            };
            SnapshotInfo {
                id: format!("{}-{i:06}", time.format("%Y%m%dT%H%M%SZ")),
                series: series.into(),
                time,
                pinned: i % 10_000 == 0,
                complete: true,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let tiers = Tiers::default();
    let start: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    let snaps = repository(start);
    let now = start + TimeDelta::minutes(SNAPSHOTS);
    let mut group = c.benchmark_group("retention");
    group.sample_size(20);
    group.bench_function("plan 100k snapshots, 2 series, 70 days", |b| {
        b.iter(|| plan(&tiers, black_box(&snaps), now))
    });
    // What the daemon does every minute: plan a steady-state series plus one new snapshot.
    let steady = project(
        &tiers,
        &[],
        "production/raw",
        TimeDelta::minutes(1),
        now - TimeDelta::days(32),
        now,
    );
    let mut series: Vec<SnapshotInfo> = steady
        .kept()
        .map(|d| SnapshotInfo {
            id: d.id.clone(),
            series: d.series.clone(),
            time: d.time,
            pinned: false,
            complete: true,
        })
        .collect();
    series.push(SnapshotInfo {
        id: "next".into(),
        series: "production/raw".into(),
        time: now + TimeDelta::minutes(1),
        pinned: false,
        complete: true,
    });
    let label = format!("plan a steady state ({} snapshots)", series.len());
    group.bench_function(label, |b| {
        b.iter(|| plan(&tiers, black_box(&series), now + TimeDelta::minutes(1)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
