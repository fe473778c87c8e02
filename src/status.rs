//! Where every environment stands: what it holds (the snapshot doppel last restored into it,
//! since when, by which command), how far that is behind the newest snapshot of its series,
//! its last drill; and for production, the newest snapshot of each series and its change
//! archive.
//!
//! Restores record themselves in the repository under [`PREFIX`] ([`record`]), so that status
//! answers from the repository alone, without connecting to any database.

mod database;
pub mod page;
pub mod production;
mod record;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::{ChangesMode, Config, Role};
use crate::error::Result;
use crate::repo::manifest::DataKind;
use crate::repo::Repository;

pub use database::{check_databases, DatabaseCheck, PristineCheck};
pub use record::{record, record_or_warn, records, RestoreRecord, PREFIX};

/// A time as status shows it: UTC, to the second.
pub fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `1.5 GB`-style sizes for people.
pub fn human_bytes(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[i])
    }
}

/// The whole picture.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The repository's location.
    pub repository: String,
    /// Snapshots it holds.
    pub snapshots: usize,
    /// What it stores and how fast that grows.
    pub storage: production::Storage,
    /// The last verification of its snapshots.
    pub last_verify: Option<production::VerifyRecord>,
    /// The scheduler: its daemon, next slot, and whether every scheduled environment keeps up.
    pub schedule: production::ScheduleStatus,
    /// Every configured environment, in the config's order (by name).
    pub environments: Vec<EnvironmentStatus>,
}

/// One environment.
#[derive(Debug, Clone, Serialize)]
pub struct EnvironmentStatus {
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The data it may receive.
    pub data: DataKind,
    /// Whether its changes are archived.
    pub changes: ChangesMode,
    /// The last restore doppel made into it; `None` if none is recorded.
    pub holds: Option<RestoreRecord>,
    /// Seconds between what it holds and the newest snapshot of the same series (0: it holds
    /// the newest); `None` when it holds nothing.
    pub behind_s: Option<i64>,
    /// Snapshots taken of it, newest of each series first (production, and any environment
    /// snapshotted).
    pub series: Vec<SeriesStatus>,
    /// Its change archive, when one exists.
    pub archive: Option<crate::changes::segment::Summary>,
    /// Its last drill (a drill restored into it, or of its snapshots for production).
    pub last_drill: Option<DrillSummary>,
    /// What its database itself says (non-production environments, when asked to look).
    pub database: Option<DatabaseCheck>,
}

/// The snapshots of one series.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesStatus {
    /// `production/raw`, `production/anonymized`, ….
    pub series: String,
    /// Snapshots kept.
    pub snapshots: usize,
    /// The newest one's id.
    pub newest: String,
    /// When it was taken.
    pub newest_time: DateTime<Utc>,
    /// How many snapshots each retention tier keeps of it.
    pub kept_by_tier: Vec<production::TierKept>,
}

/// What status shows of a drill.
#[derive(Debug, Clone, Serialize)]
pub struct DrillSummary {
    /// The drill's id.
    pub id: String,
    /// When it ran.
    pub started: DateTime<Utc>,
    /// Whether every check passed.
    pub passed: bool,
    /// Recovery time, seconds.
    pub rto_s: f64,
    /// Data the recovery point lacks, seconds.
    pub rpo_s: f64,
}

/// Reads the repository and tells where every environment of `config` stands at `now`.
pub async fn status(config: &Config, repo: &Repository, now: DateTime<Utc>) -> Result<Status> {
    status_of(config, repo, &Sources::read(config, repo, now).await?, now).await
}

/// What status reads of the repository, once for the text and the page alike.
struct Sources {
    /// Every snapshot's manifest.
    manifests: Vec<crate::repo::Manifest>,
    /// What retention decides of them.
    plan: crate::retention::Plan,
    /// Every drill, oldest first.
    drills: Vec<crate::drill::DrillReport>,
}

impl Sources {
    async fn read(config: &Config, repo: &Repository, now: DateTime<Utc>) -> Result<Sources> {
        let manifests = repo.manifests().await?;
        let infos = crate::prune::infos(&manifests, &repo.pins().await?);
        Ok(Sources {
            plan: crate::retention::plan(&config.retention, &infos, now),
            drills: crate::drill::history(repo).await?,
            manifests,
        })
    }
}

/// [`status`] from what the repository holds.
async fn status_of(
    config: &Config,
    repo: &Repository,
    sources: &Sources,
    now: DateTime<Utc>,
) -> Result<Status> {
    let Sources {
        manifests,
        plan,
        drills,
    } = sources;
    let mut by_series: BTreeMap<String, Vec<&crate::repo::Manifest>> = BTreeMap::new();
    for m in manifests {
        by_series.entry(m.series()).or_default().push(m);
    }
    let restores = records(repo).await?;
    let mut environments = Vec::new();
    for (name, env) in &config.environments {
        let holds = restores
            .iter()
            .rev()
            .find(|r| r.environment.as_deref() == Some(name.as_str()))
            .cloned();
        let behind_s = holds.as_ref().map(|h| {
            by_series
                .get(&h.series)
                .and_then(|ms| ms.iter().map(|m| m.time).max())
                .map_or(0, |newest| (newest - h.point()).num_seconds().max(0))
        });
        let prefix = format!("{name}/");
        let mut series: Vec<SeriesStatus> = by_series
            .iter()
            .filter(|(s, _)| s.starts_with(&prefix))
            .filter_map(|(s, ms)| {
                let newest = ms.iter().max_by_key(|m| m.time)?;
                Some(SeriesStatus {
                    series: s.clone(),
                    snapshots: ms.len(),
                    newest: newest.id.clone(),
                    newest_time: newest.time,
                    kept_by_tier: production::kept_by_tier(config, plan, s),
                })
            })
            .collect();
        series.sort_by_key(|s| std::cmp::Reverse(s.newest_time));
        let own: Vec<&str> = series.iter().map(|s| s.newest.as_str()).collect();
        let last_drill = drills
            .iter()
            .rev()
            .find(|d| {
                d.target == *name
                    || (env.role == Role::Production
                        && manifests
                            .iter()
                            .any(|m| m.id == d.snapshot && m.source.environment == *name))
                    || own.contains(&d.snapshot.as_str())
            })
            .map(|d| DrillSummary {
                id: d.id.clone(),
                started: d.started,
                passed: d.passed,
                rto_s: d.rto_s,
                rpo_s: d.rpo_s,
            });
        environments.push(EnvironmentStatus {
            name: name.clone(),
            role: env.role,
            data: env.data(),
            changes: env.changes,
            holds,
            behind_s,
            series,
            archive: crate::changes::segment::summary(repo, name).await?,
            last_drill,
            database: None,
        });
    }
    let archives: Vec<_> = environments
        .iter()
        .map(|e| (e.name.clone(), e.archive.clone()))
        .collect();
    Ok(Status {
        repository: repo.store().location(),
        snapshots: manifests.len(),
        storage: production::storage(repo, manifests, now).await?,
        last_verify: production::last_verify(repo).await?,
        schedule: production::schedule(config, repo, manifests, &archives, now).await?,
        environments,
    })
}

/// What needs attention in `status`: scheduled environments behind their schedule, a failed
/// last verification, ended change archives and failed last drills.
pub fn alerts(status: &Status) -> Vec<String> {
    let mut out = Vec::new();
    for e in status
        .schedule
        .environments
        .iter()
        .filter(|e| !e.on_schedule)
    {
        out.push(format!(
            "{} is behind its schedule: {}{}",
            e.name,
            match e.newest_point {
                Some(p) => format!(
                    "{} slots passed since its newest point ({})",
                    e.missed_slots,
                    time(p)
                ),
                None => "no snapshot yet".into(),
            },
            if status.schedule.daemon.is_none() {
                ", and no daemon holds the repository (`doppel schedule run`)"
            } else {
                ""
            }
        ));
    }
    if let Some(v) = status.last_verify.as_ref().filter(|v| !v.ok) {
        out.push(format!(
            "the last verify ({}) found faults{}",
            time(v.at),
            if v.faulty.is_empty() {
                " in how chunks are stored".to_string()
            } else {
                format!(" in snapshots {}", v.faulty.join(", "))
            }
        ));
    }
    for env in &status.environments {
        if let Some(e) = env.archive.as_ref().and_then(|a| a.ended.as_ref()) {
            out.push(format!(
                "the change archive of {} ended: {} (restores at T after {} are as of the \
                 last base)",
                env.name,
                e.reason,
                e.at.format("%Y-%m-%d %H:%M:%S UTC")
            ));
        }
        if let Some(d) = env.last_drill.as_ref().filter(|d| !d.passed) {
            out.push(format!("the last drill of {} failed ({})", env.name, d.id));
        }
    }
    out
}

/// The status page (see [`page`]): the status, the kept snapshots by tier on a log scale of
/// age, the drills' RTO and RPO over time, and `more_alerts` (the daemon's) before the status'
/// own.
pub async fn page_html(
    config: &Config,
    repo: &Repository,
    more_alerts: Vec<String>,
    now: DateTime<Utc>,
    databases: bool,
) -> Result<String> {
    let sources = Sources::read(config, repo, now).await?;
    let mut status = status_of(config, repo, &sources, now).await?;
    if databases {
        check_databases(config, &mut status).await;
    }
    let timeline = crate::retention::render_svg(&crate::retention::Timeline {
        tiers: &config.retention,
        plan: &sources.plan,
        from: now - config.retention.horizon(),
        now,
        until: now,
    });
    let drills = crate::drill::history::svg(&sources.drills);
    let mut all = more_alerts;
    all.extend(alerts(&status));
    Ok(page::render(
        &status,
        &page::Extras {
            now,
            timeline: &timeline,
            drills: &drills,
            alerts: &all,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_environment_behind_its_schedule_and_a_failed_verify_call_for_attention() {
        let now: DateTime<Utc> = "2026-12-06T12:00:00Z".parse().unwrap();
        let mut status = Status {
            repository: "repo".into(),
            snapshots: 1,
            storage: production::Storage {
                bytes: Some(1),
                packs: Some(1),
                added_last_day: 1,
                added_last_week: 1,
            },
            last_verify: None,
            schedule: production::ScheduleStatus {
                every_s: 60,
                daemon: None,
                next_slot: now,
                environments: vec![production::ScheduledEnvironment {
                    name: "prod".into(),
                    newest_point: Some(now - chrono::TimeDelta::minutes(10)),
                    missed_slots: 10,
                    on_schedule: true,
                    next_base: None,
                }],
            },
            environments: Vec::new(),
        };
        assert!(alerts(&status).is_empty());
        status.schedule.environments[0].on_schedule = false;
        status.last_verify = Some(production::VerifyRecord {
            at: now,
            snapshots: 3,
            read_data_percent: Some(100.0),
            ok: false,
            faulty: vec!["20261206T1000Z-ab".into()],
            storage_faults: 0,
        });
        let found = alerts(&status);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].starts_with("prod is behind its schedule: 10 slots"),
            "{found:?}"
        );
        assert!(found[0].contains("no daemon"), "{found:?}");
        assert!(found[1].contains("20261206T1000Z-ab"), "{found:?}");
    }
}
