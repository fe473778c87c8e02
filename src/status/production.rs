//! What status shows of production's side: whether the schedule keeps up (a daemon holding
//! the repository, the newest point of every scheduled environment against the slots since),
//! when it runs next, how much the repository stores and how fast it grows, what each tier
//! keeps, and the last verification.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::{human_bytes, time};
use crate::config::{ChangesMode, Config, Role};
use crate::error::Result;
use crate::repo::lock::LockKind;
use crate::repo::{Manifest, Repository};
use crate::retention::{format_span, Reason};

/// The scheduler, as the repository and the clock tell it.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleStatus {
    /// How often a slot comes (the finest tier's spacing), seconds.
    pub every_s: i64,
    /// The daemon holding the repository, when one does.
    pub daemon: Option<DaemonStatus>,
    /// The next slot (a multiple of the spacing).
    pub next_slot: DateTime<Utc>,
    /// Every scheduled environment.
    pub environments: Vec<ScheduledEnvironment>,
}

/// A running daemon, from its lock.
#[derive(Debug, Clone, Serialize)]
pub struct DaemonStatus {
    /// Its host.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// When it started.
    pub since: DateTime<Utc>,
    /// When it last refreshed its lock.
    pub refreshed: DateTime<Utc>,
}

/// How one scheduled environment keeps up.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduledEnvironment {
    /// Its name.
    pub name: String,
    /// The newest moment a restore can reach: its newest scheduled-series snapshot, or what its
    /// running change archive has stored, whichever is later.
    pub newest_point: Option<DateTime<Utc>>,
    /// Slots that passed since that point without one.
    pub missed_slots: i64,
    /// Whether that is within `schedule.healthz_max_missed`, as `/healthz` judges.
    pub on_schedule: bool,
    /// With a change archive: the next base snapshot (a multiple of `changes_base_every`).
    pub next_base: Option<DateTime<Utc>>,
}

/// What the repository stores.
#[derive(Debug, Clone, Serialize)]
pub struct Storage {
    /// Bytes of packed chunks (compressed, encrypted); `None` in a repository of loose chunks.
    pub bytes: Option<u64>,
    /// Packs holding them.
    pub packs: Option<usize>,
    /// Bytes the snapshots of the last day added.
    pub added_last_day: u64,
    /// Bytes the snapshots of the last 7 days added.
    pub added_last_week: u64,
}

/// How many snapshots of a series one tier keeps.
#[derive(Debug, Clone, Serialize)]
pub struct TierKept {
    /// The tier (`5m@1h`).
    pub tier: String,
    /// Snapshots it keeps.
    pub kept: usize,
}

/// Where verification records are kept.
pub const VERIFIES: &str = "verifies/";

/// A verification, as the repository remembers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRecord {
    /// When it finished.
    pub at: DateTime<Utc>,
    /// Snapshots verified.
    pub snapshots: usize,
    /// The share of chunks read back, when any were.
    pub read_data_percent: Option<f64>,
    /// Whether nothing was wrong.
    pub ok: bool,
    /// Snapshots with faults.
    pub faulty: Vec<String>,
    /// Faults of the storage itself.
    pub storage_faults: usize,
}

/// Stores `record`; a failure is only logged (the verification's answer stands).
pub async fn record_verify(repo: &Repository, record: &VerifyRecord) {
    if let Err(e) = super::record::put_record(repo, VERIFIES, record.at, record).await {
        tracing::warn!("the verification's record for `doppel status` could not be stored: {e}");
    }
}

/// The newest verification recorded.
pub async fn last_verify(repo: &Repository) -> Result<Option<VerifyRecord>> {
    let all: Vec<VerifyRecord> = repo.documents(VERIFIES, "verification record").await?;
    Ok(all.into_iter().max_by_key(|r| r.at))
}

/// The environments the daemon snapshots: `schedule.environments`, else production's.
fn scheduled(config: &Config) -> Vec<String> {
    if !config.schedule.environments.is_empty() {
        return config.schedule.environments.clone();
    }
    config
        .environments
        .iter()
        .filter(|(_, e)| e.role == Role::Production)
        .map(|(n, _)| n.clone())
        .collect()
}

/// The schedule as of `now`: `manifests` are the repository's, `archives` the newest change
/// archive of each environment.
pub async fn schedule(
    config: &Config,
    repo: &Repository,
    manifests: &[Manifest],
    archives: &[(String, Option<crate::changes::segment::Summary>)],
    now: DateTime<Utc>,
) -> Result<ScheduleStatus> {
    let spacing = config.retention.finest_spacing();
    let daemon = crate::repo::lock::list(repo.store().as_ref())
        .await?
        .into_iter()
        .map(|(_, l)| l)
        .find(|l| l.kind == LockKind::Daemon && !l.is_stale(now))
        .map(|l| DaemonStatus {
            host: l.host,
            pid: l.pid,
            since: l.created,
            refreshed: l.refreshed,
        });
    let environments = scheduled(config)
        .into_iter()
        .map(|name| {
            let env = config.environments.get(&name);
            let snapshot = manifests
                .iter()
                .filter(|m| m.source.environment == name)
                .map(|m| m.time)
                .max();
            let archive = archives
                .iter()
                .find(|(n, _)| *n == name)
                .and_then(|(_, a)| a.as_ref())
                .filter(|a| a.ended.is_none())
                .and_then(|a| a.caught_up);
            let newest_point = snapshot.max(archive);
            let missed_slots = newest_point.map_or(0, |p| missed(p, now, spacing));
            ScheduledEnvironment {
                on_schedule: newest_point.is_some()
                    && missed_slots <= i64::from(config.schedule.healthz_max_missed),
                next_base: env
                    .filter(|e| e.changes == ChangesMode::Logical)
                    .map(|e| crate::retention::align_up(now, e.base_every())),
                newest_point,
                missed_slots,
                name,
            }
        })
        .collect();
    Ok(ScheduleStatus {
        every_s: spacing.num_seconds(),
        daemon,
        next_slot: crate::retention::align_up(now, spacing),
        environments,
    })
}

/// Slots that passed after `point` and by `now`.
fn missed(point: DateTime<Utc>, now: DateTime<Utc>, spacing: TimeDelta) -> i64 {
    let first = crate::retention::align_up(point + TimeDelta::microseconds(1), spacing);
    if first > now {
        return 0;
    }
    let step = spacing.num_microseconds().unwrap_or(i64::MAX).max(1);
    (now - first).num_microseconds().unwrap_or(i64::MAX) / step + 1
}

/// What the repository stores and what its snapshots added lately, as of `now`.
pub async fn storage(
    repo: &Repository,
    manifests: &[Manifest],
    now: DateTime<Utc>,
) -> Result<Storage> {
    let packed = repo.packed_size().await?;
    let added = |within: TimeDelta| {
        manifests
            .iter()
            .filter(|m| now - m.time <= within)
            .map(|m| m.stats.bytes_stored_new)
            .sum()
    };
    Ok(Storage {
        bytes: packed.map(|(b, _)| b),
        packs: packed.map(|(_, n)| n),
        added_last_day: added(TimeDelta::days(1)),
        added_last_week: added(TimeDelta::days(7)),
    })
}

/// How many snapshots each tier keeps of `series`, by the retention `plan`.
pub fn kept_by_tier(config: &Config, plan: &crate::retention::Plan, series: &str) -> Vec<TierKept> {
    config
        .retention
        .tiers()
        .iter()
        .map(|tier| TierKept {
            tier: tier.to_string(),
            kept: plan
                .decisions
                .iter()
                .filter(|d| d.keep && d.series == series)
                .filter(|d| {
                    d.reasons.iter().any(
                        |r| matches!(r, Reason::Tier { spacing, .. } if *spacing == tier.spacing),
                    )
                })
                .count(),
        })
        .collect()
}

/// The repository, its last verification and the schedule, as lines of text (status prints
/// them, the page lists them).
pub fn lines(status: &super::Status) -> Vec<String> {
    let st = &status.storage;
    let mut out = vec![format!(
        "repository {} ({} snapshots{}; snapshots added {} in the last day, {} in the last 7 days)",
        status.repository,
        status.snapshots,
        match (st.bytes, st.packs) {
            (Some(b), Some(p)) => format!(", {} in {p} packs", human_bytes(b)),
            _ => String::new(),
        },
        human_bytes(st.added_last_day),
        human_bytes(st.added_last_week),
    )];
    out.push(match &status.last_verify {
        None => "never verified: `doppel verify --all --read-data 10` reads a tenth back".into(),
        Some(v) => format!(
            "last verify {}: {} snapshots{}, {}",
            time(v.at),
            v.snapshots,
            v.read_data_percent
                .map(|p| format!(" ({p}% of chunks read back)"))
                .unwrap_or_default(),
            if v.ok {
                "no fault".to_string()
            } else {
                format!(
                    "FAULTS in {} snapshots and {} in storage",
                    v.faulty.len(),
                    v.storage_faults
                )
            }
        ),
    });
    let sc = &status.schedule;
    out.push(format!(
        "schedule: a slot every {}, next {}; {}",
        format_span(TimeDelta::seconds(sc.every_s)),
        time(sc.next_slot),
        match &sc.daemon {
            Some(d) => format!(
                "daemon on {} (pid {}) since {}",
                d.host,
                d.pid,
                time(d.since)
            ),
            None => "no daemon holds the repository (start one: `doppel schedule run`)".into(),
        }
    ));
    for e in &sc.environments {
        out.push(format!(
            "  {}: {}{}",
            e.name,
            match e.newest_point {
                None => "no snapshot yet".to_string(),
                Some(p) if e.on_schedule => format!("newest point {}, on schedule", time(p)),
                Some(p) => format!(
                    "newest point {}: {} slots passed without one, BEHIND SCHEDULE",
                    time(p),
                    e.missed_slots
                ),
            },
            e.next_base
                .map(|t| format!("; next base snapshot {}", time(t)))
                .unwrap_or_default()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn missed_slots_count_the_slots_after_the_newest_point() {
        let minute = TimeDelta::minutes(1);
        let point = t("2026-12-06T10:00:20Z");
        for (now, slots) in [
            ("2026-12-06T10:00:50Z", 0),
            // The 10:01 slot's snapshot may still run: one slot without a point.
            ("2026-12-06T10:01:00Z", 1),
            ("2026-12-06T10:01:59Z", 1),
            ("2026-12-06T10:05:30Z", 5),
        ] {
            assert_eq!(missed(point, t(now), minute), slots, "{now}");
        }
        // A point on a slot does not count its own slot.
        assert_eq!(
            missed(t("2026-12-06T10:00:00Z"), t("2026-12-06T10:00:59Z"), minute),
            0
        );
    }
}
