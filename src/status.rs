//! Where every environment stands: what it holds (the snapshot doppel last restored into it,
//! since when, by which command), how far that is behind the newest snapshot of its series,
//! its last drill; and for production, the newest snapshot of each series and its change
//! archive.
//!
//! Restores record themselves in the repository under [`PREFIX`] ([`record`]), so that status
//! answers from the repository alone, without connecting to any database.

pub mod page;
pub mod production;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{ChangesMode, Config, Role};
use crate::error::Result;
use crate::repo::manifest::DataKind;
use crate::repo::Repository;
use crate::restore::marker::Marker;
use crate::restore::target::{RESET, STAMP};

/// Where the repository keeps restore records.
pub const PREFIX: &str = "restores/";

/// A restore doppel made, as the repository remembers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreRecord {
    /// The environment restored into; `None` for a database named by URL.
    pub environment: Option<String>,
    /// The target, its password redacted.
    pub target: String,
    /// The command that restored (`restore`, `reseed`).
    pub command: String,
    /// The snapshot restored.
    pub snapshot: String,
    /// Its series (`production/anonymized`).
    pub series: String,
    /// When the snapshot was taken.
    pub snapshot_time: DateTime<Utc>,
    /// With archived changes replayed: the time the database is as of (else the snapshot's).
    pub as_of: Option<DateTime<Utc>>,
    /// When the restore finished.
    pub restored_at: DateTime<Utc>,
    /// How the restore was verified (`loaded`, `full`).
    pub verify: String,
}

impl RestoreRecord {
    /// The record of `report`, the restore of `m` into `environment` by `command`, now.
    pub fn of(
        m: &crate::repo::Manifest,
        report: &crate::restore::RestoreReport,
        environment: Option<&str>,
        command: &str,
    ) -> RestoreRecord {
        RestoreRecord {
            environment: environment.map(String::from),
            target: report.target.clone(),
            command: command.to_string(),
            snapshot: m.id.clone(),
            series: m.series(),
            snapshot_time: m.time,
            as_of: report.replay.as_ref().and_then(|r| r.until),
            restored_at: Utc::now(),
            verify: serde_json::to_value(report.verify)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
        }
    }

    /// The moment of production the database holds.
    pub fn point(&self) -> DateTime<Utc> {
        self.as_of.unwrap_or(self.snapshot_time)
    }
}

/// Stores `record` (sealed like every repository document); a failure is only logged: the data
/// is in place, and status merely stays unaware of it.
pub async fn record_or_warn(repo: &Repository, record: &RestoreRecord) {
    if let Err(e) = self::record(repo, record).await {
        tracing::warn!(
            "the restore is done, but its record for `doppel status` could not be stored: {e}"
        );
    }
}

/// Stores `record` (sealed like every repository document).
pub async fn record(repo: &Repository, record: &RestoreRecord) -> Result<()> {
    put_record(repo, PREFIX, record.restored_at, record).await
}

/// Stores `record` under `prefix`, named by its time `at` and a random suffix, so that
/// records written at once by several processes never collide.
async fn put_record<T: Serialize>(
    repo: &Repository,
    prefix: &str,
    at: DateTime<Utc>,
    record: &T,
) -> Result<()> {
    let key = format!(
        "{prefix}{}-{}.json",
        at.format("%Y%m%dT%H%M%S%.6fZ"),
        hex::encode(rand::random::<[u8; 4]>())
    );
    let json = serde_json::to_vec_pretty(record).expect("a record serializes");
    repo.put_file(&key, json, true).await
}

/// Every restore record, oldest first; one that cannot be read is skipped with a warning.
pub async fn records(repo: &Repository) -> Result<Vec<RestoreRecord>> {
    let mut out: Vec<RestoreRecord> = repo.documents(PREFIX, "restore record").await?;
    out.sort_by_key(|r: &RestoreRecord| r.restored_at);
    Ok(out)
}

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

/// What a database's own stamp says: every restore and reset writes one in the database's
/// comment, so it tells the truth about restores made with another repository, and its
/// absence tells of a database replaced by something else.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DatabaseCheck {
    /// The stamp, as the database's comment holds it.
    pub stamp: Option<String>,
    /// The snapshot the stamp names.
    pub snapshot: Option<String>,
    /// When it was reset (to the state of its restore) since, as the stamp says.
    pub reset_at: Option<String>,
    /// Whether it changed since doppel stamped it (rows written, tables rewritten), by the
    /// stamp's [marker](crate::restore::marker); `None` when the stamp has no marker.
    pub modified: Option<crate::restore::marker::Change>,
    /// Its pristine copy (environments with `pristine = true`).
    pub pristine: Option<PristineCheck>,
    /// Whether the stamp names the snapshot the repository recorded last; `None` when either
    /// is missing.
    pub agrees: Option<bool>,
    /// Why the database could not be asked (unreachable, no such database).
    pub error: Option<String>,
}

/// An environment's pristine copy, as its server has it.
#[derive(Debug, Clone, Serialize)]
pub struct PristineCheck {
    /// The template database's name.
    pub database: String,
    /// Whether it exists.
    pub exists: bool,
    /// The snapshot its stamp names (what `doppel reset` returns to).
    pub snapshot: Option<String>,
}

/// The snapshot a stamp names.
fn stamped_snapshot(stamp: &str) -> Option<String> {
    stamp
        .strip_prefix(STAMP)
        .and_then(|rest| rest.split_whitespace().next())
        .map(String::from)
}

impl DatabaseCheck {
    /// Reads the stamp of `comment` (the database's comment) against `holds`, and the
    /// database's marker as it reads `now`.
    pub fn of(
        comment: Option<&str>,
        holds: Option<&RestoreRecord>,
        now: Option<Marker>,
    ) -> DatabaseCheck {
        let stamp = comment.filter(|c| c.starts_with(STAMP));
        let snapshot = stamp.and_then(stamped_snapshot);
        let (text, marker) = stamp.map_or(("", None), Marker::split);
        DatabaseCheck {
            stamp: stamp.map(|_| text.to_string()),
            reset_at: text.split_once(RESET).and_then(|(_, rest)| {
                rest.split(|c: char| c == ')' || c.is_whitespace())
                    .next()
                    .map(String::from)
            }),
            modified: marker.zip(now).map(|(then, now)| then.compare(&now)),
            agrees: match (&snapshot, holds) {
                (Some(s), Some(h)) => Some(*s == h.snapshot),
                _ => None,
            },
            snapshot,
            pristine: None,
            error: None,
        }
    }
}

impl DatabaseCheck {
    /// What the check found, as lines of text (status prints them, the page shows them).
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![match (&self.error, &self.snapshot, self.agrees) {
            (Some(e), _, _) => format!("database: not asked ({e})"),
            (None, None, _) => "database: carries no doppel stamp: restored or recreated by \
                                something else since"
                .to_string(),
            (None, Some(s), Some(false)) => format!(
                "database: its stamp names snapshot {s}, not the one recorded here: restored \
                 since from another repository"
            ),
            (None, Some(s), _) => format!(
                "database: stamp confirms snapshot {s}{}; {}",
                match &self.reset_at {
                    Some(t) => format!(", reset to it {t}"),
                    None => String::new(),
                },
                match &self.modified {
                    Some(m) => m.to_string(),
                    None => "changes since cannot be told (no marker in the stamp)".into(),
                }
            ),
        }];
        if let Some(p) = &self.pristine {
            out.push(match (p.exists, &p.snapshot) {
                (false, _) => format!(
                    "pristine copy {}: missing (the next restore keeps one)",
                    p.database
                ),
                (true, Some(s)) => format!(
                    "pristine copy {}: snapshot {s}, what `doppel reset` returns to",
                    p.database
                ),
                (true, None) => format!("pristine copy {}: carries no doppel stamp", p.database),
            });
        }
        out
    }
}

/// Reads the stamp and marker of the database `conn` names, and its pristine copy's stamp
/// when `pristine`.
async fn ask(
    conn: &crate::pg::ConnInfo,
    holds: Option<&RestoreRecord>,
    pristine: bool,
) -> std::result::Result<DatabaseCheck, String> {
    let client = crate::pg::connect(conn).await.map_err(|e| e.to_string())?;
    let comment = |name: String| {
        let client = &client;
        async move {
            client
                .query_opt(
                    "SELECT shobj_description(oid, 'pg_database') FROM pg_database \
                     WHERE datname = $1",
                    &[&name],
                )
                .await
                .map(|r| r.map(|r| r.get::<_, Option<String>>(0)))
                .map_err(|e| e.to_string())
        }
    };
    let own = comment(conn.dbname.clone()).await?.flatten();
    let now = crate::restore::marker::read(&client)
        .await
        .map_err(|e| e.to_string())?;
    let mut check = DatabaseCheck::of(own.as_deref(), holds, now);
    if pristine {
        let database = crate::restore::pristine::template_name(&conn.dbname);
        let found = comment(database.clone()).await?;
        check.pristine = Some(PristineCheck {
            exists: found.is_some(),
            snapshot: found.flatten().as_deref().and_then(stamped_snapshot),
            database,
        });
    }
    Ok(check)
}

/// Asks the database of every non-production environment for its stamp (see
/// [`DatabaseCheck`]), all at once, each within a few seconds.
pub async fn check_databases(config: &Config, status: &mut Status) {
    let asked = status.environments.iter().map(|env| async move {
        let settings = config.environments.get(&env.name)?;
        if settings.role == Role::Production {
            return None;
        }
        let asked = async {
            if let Some(e) = &settings.url_error {
                return Err(e.clone());
            }
            let conn = crate::pg::ConnInfo::parse(&settings.url).map_err(|e| e.to_string())?;
            ask(&conn, env.holds.as_ref(), settings.pristine).await
        };
        let answer = tokio::time::timeout(std::time::Duration::from_secs(5), asked).await;
        Some(match answer {
            Ok(Ok(check)) => check,
            Ok(Err(e)) => DatabaseCheck {
                error: Some(crate::error::redact(&e)),
                ..DatabaseCheck::default()
            },
            Err(_) => DatabaseCheck {
                error: Some("no answer within 5 s".into()),
                ..DatabaseCheck::default()
            },
        })
    });
    let checks = futures::future::join_all(asked).await;
    for (env, check) in status.environments.iter_mut().zip(checks) {
        env.database = check;
    }
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
    let manifests = repo.manifests().await?;
    let plan = retention_plan(config, repo, &manifests, now).await?;
    status_of(config, repo, &manifests, &plan, now).await
}

/// What retention decides of `manifests` at `now`.
async fn retention_plan(
    config: &Config,
    repo: &Repository,
    manifests: &[crate::repo::Manifest],
    now: DateTime<Utc>,
) -> Result<crate::retention::Plan> {
    let infos = crate::prune::infos(manifests, &repo.pins().await?);
    Ok(crate::retention::plan(&config.retention, &infos, now))
}

/// [`status`] with the repository's manifests read and retention's `plan` made.
async fn status_of(
    config: &Config,
    repo: &Repository,
    manifests: &[crate::repo::Manifest],
    plan: &crate::retention::Plan,
    now: DateTime<Utc>,
) -> Result<Status> {
    let mut by_series: BTreeMap<String, Vec<&crate::repo::Manifest>> = BTreeMap::new();
    for m in manifests {
        by_series.entry(m.series()).or_default().push(m);
    }
    let restores = records(repo).await?;
    let drills = crate::drill::history(repo).await?;
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
    let manifests = repo.manifests().await?;
    let plan = retention_plan(config, repo, &manifests, now).await?;
    let mut status = status_of(config, repo, &manifests, &plan, now).await?;
    if databases {
        check_databases(config, &mut status).await;
    }
    let timeline = crate::retention::render_svg(&crate::retention::Timeline {
        tiers: &config.retention,
        plan: &plan,
        from: now - config.retention.horizon(),
        now,
        until: now,
    });
    let drills = crate::drill::history::svg(&crate::drill::history(repo).await?);
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
    use crate::restore::marker::Change;

    fn record(snapshot: &str) -> RestoreRecord {
        RestoreRecord {
            environment: Some("copy".into()),
            target: "postgresql://u@h/copy".into(),
            command: "restore".into(),
            snapshot: snapshot.into(),
            series: "prod/raw".into(),
            snapshot_time: Utc::now(),
            as_of: None,
            restored_at: Utc::now(),
            verify: "loaded".into(),
        }
    }

    #[test]
    fn a_database_stamp_is_read_against_the_recorded_restore() {
        let marker = Marker {
            writes: 500,
            tables: 9,
        };
        let text = "doppel: snapshot 20261206T1000Z-ab (taken 2026-12-06T10:00:00Z) restored \
                    2026-12-06T10:01:00Z and verified (loaded)";
        let stamp = format!("{text}{}", marker.render());
        let check = DatabaseCheck::of(
            Some(&stamp),
            Some(&record("20261206T1000Z-ab")),
            Some(marker),
        );
        assert_eq!(check.snapshot.as_deref(), Some("20261206T1000Z-ab"));
        assert_eq!(check.stamp.as_deref(), Some(text));
        assert_eq!((check.agrees, check.reset_at), (Some(true), None));
        assert_eq!(check.modified, Some(Change::Unmodified));
        let reset = format!(
            "{text} (reset to this state 2026-12-06T11:00:00Z){}",
            marker.render()
        );
        let later = Marker {
            writes: 502,
            ..marker
        };
        let check = DatabaseCheck::of(Some(&reset), Some(&record("other")), Some(later));
        assert_eq!(check.agrees, Some(false));
        assert_eq!(check.reset_at.as_deref(), Some("2026-12-06T11:00:00Z"));
        assert_eq!(
            check.modified,
            Some(Change::Modified {
                writes: 2,
                tables_changed: false
            })
        );
        // A stamp without a marker (an older doppel's): changes cannot be told.
        let check = DatabaseCheck::of(Some(text), None, Some(later));
        assert_eq!((check.agrees, check.modified), (None, None));
        // Someone else's comment, or none: no stamp.
        for comment in [Some("shop database"), None] {
            let check = DatabaseCheck::of(comment, Some(&record("x")), Some(marker));
            assert_eq!(
                (check.stamp, check.snapshot, check.agrees, check.modified),
                (None, None, None, None)
            );
        }
    }

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
