//! Recovery drills: restore a snapshot somewhere safe, prove it is whole, and measure how
//! long recovery takes (RTO) and how much data it would lose (RPO).
//!
//! A drill restores into a throwaway local cluster (or an environment), verifies every
//! table against the manifest, then runs [`checks`]: constraints and indexes valid,
//! sequences past the values they feed, populated materialized views refresh, and the
//! user's own smoke queries. The [`DrillReport`] is written as JSON and Markdown and stored
//! in the repository under `drills/`, where `drill history` finds it.

pub mod checks;
pub mod history;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::pg::cluster::Cluster;
use crate::pg::ConnInfo;
use crate::repo::{Manifest, Repository};
use crate::restore::{restore, RestoreOptions, VerifyMode};

/// Where the repository keeps drill reports.
pub const PREFIX: &str = "drills/";

/// Where a drill restores.
#[derive(Debug, Clone)]
pub enum DrillTarget {
    /// A throwaway local cluster, started for the drill and removed after it.
    Scratch,
    /// A database of a non-production environment (replaced by the drill).
    Database {
        /// The environment's name, for the report.
        environment: String,
        /// Its connection.
        conn: ConnInfo,
    },
}

/// How to run a drill.
#[derive(Debug, Clone)]
pub struct DrillOptions {
    /// The moment being recovered to (RPO is measured against it).
    pub at: DateTime<Utc>,
    /// Where to restore.
    pub target: DrillTarget,
    /// Parallel restore workers.
    pub jobs: usize,
    /// Folder of the PostgreSQL tools, when not found by default.
    pub pg_bin: Option<std::path::PathBuf>,
    /// The user's smoke queries: each must return a single `true`.
    pub smoke: Vec<String>,
    /// Archived changes that bring the snapshot forward towards `at`, when a change archive
    /// extends it.
    pub replay: Option<crate::changes::replay::ReplayPlan>,
}

/// One check and how it went.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckResult {
    /// What was checked.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// What was found.
    pub detail: String,
}

/// What a drill did and found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DrillReport {
    /// Drill id (sorts by time).
    pub id: String,
    /// When it started.
    pub started: DateTime<Utc>,
    /// The moment recovered to.
    pub at: DateTime<Utc>,
    /// The snapshot restored.
    pub snapshot: String,
    /// When that snapshot was taken.
    pub snapshot_time: DateTime<Utc>,
    /// Where it was restored (no password).
    pub target: String,
    /// The PostgreSQL version it was restored into (`18.6`), when the restore got that far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_version: Option<String>,
    /// Recovery time: from the start to the end of the last check, in seconds.
    pub rto_s: f64,
    /// Recovery point: how much before `at` the point recovered to is (the snapshot's time,
    /// or the time the change archive brought it to), in seconds.
    pub rpo_s: f64,
    /// The archived changes applied after the snapshot, when a change archive extends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<crate::changes::replay::ReplayReport>,
    /// Tables restored.
    pub tables: usize,
    /// Rows restored.
    pub rows: u64,
    /// Every check, in order.
    pub checks: Vec<CheckResult>,
    /// Whether every check passed.
    pub passed: bool,
}

impl DrillReport {
    /// The checks that failed.
    pub fn failures(&self) -> Vec<&CheckResult> {
        self.checks.iter().filter(|c| !c.passed).collect()
    }

    /// A Markdown summary for people.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "# Recovery drill {}\n\n- result: **{}**\n- recovered to: {} (snapshot {} taken {})\n\
             - RTO: {:.1} s (start to last check)\n- RPO: {} (the point recovered to before the recovery point{})\n\
             - target: {}{}\n- restored: {} tables, {} rows\n\n| check | result | detail |\n|---|---|---|\n",
            self.id,
            if self.passed { "passed" } else { "FAILED" },
            self.at.to_rfc3339(),
            self.snapshot,
            self.snapshot_time.to_rfc3339(),
            self.rto_s,
            crate::as_of::staleness(chrono::Duration::milliseconds((self.rpo_s * 1000.0) as i64)),
            match &self.replay {
                Some(r) => format!(
                    "; the snapshot brought to {} with {} archived transactions",
                    r.until.map(|t| t.to_rfc3339()).unwrap_or_default(),
                    r.transactions
                ),
                None => String::new(),
            },
            self.target,
            self.target_version
                .as_ref()
                .map(|v| format!(" (PostgreSQL {v})"))
                .unwrap_or_default(),
            self.tables,
            self.rows,
        );
        for c in &self.checks {
            out.push_str(&format!(
                "| {} | {} | {} |\n",
                c.name.replace('|', "\\|"),
                if c.passed { "pass" } else { "FAIL" },
                c.detail.replace('|', "\\|").replace('\n', " ")
            ));
        }
        out
    }
}

/// Runs a drill of snapshot `m` and stores its report in the repository. A failed check is
/// in the report (and `passed` is false), not an error: the caller decides the exit code.
pub async fn run(repo: Arc<Repository>, m: &Manifest, opts: &DrillOptions) -> Result<DrillReport> {
    let started_at = Utc::now();
    let started = Instant::now();
    let (cluster, conn, target_name) = match &opts.target {
        DrillTarget::Scratch => {
            let cluster = crate::pg::scratch::start(opts.pg_bin.clone(), "scratch cluster").await?;
            let conn = ConnInfo::parse(&cluster.url(&m.source.database))?;
            let name = format!("scratch cluster on 127.0.0.1:{}", cluster.port());
            (Some(cluster), conn, name)
        }
        DrillTarget::Database { environment, conn } => (
            None,
            conn.clone(),
            format!("environment {environment} ({})", conn.redacted()),
        ),
    };
    let result = restore_and_check(repo.clone(), m, opts, &conn, cluster.as_ref()).await;
    if let Some(c) = cluster {
        crate::pg::scratch::stop(c).await;
    }
    let (tables, rows, checks, target_version, replay) = result?;
    let rto_s = started.elapsed().as_secs_f64();
    let recovered_to = replay.as_ref().and_then(|r| r.until).unwrap_or(m.time);
    let report = DrillReport {
        id: crate::repo::new_snapshot_id(started_at),
        started: started_at,
        at: opts.at,
        snapshot: m.id.clone(),
        snapshot_time: m.time,
        target: target_name,
        target_version,
        rto_s,
        rpo_s: (opts.at - recovered_to).num_milliseconds().max(0) as f64 / 1000.0,
        replay,
        tables,
        rows,
        passed: checks.iter().all(|c| c.passed),
        checks,
    };
    let json = serde_json::to_vec_pretty(&report).expect("serializable");
    repo.put_file(&format!("{PREFIX}{}.json", report.id), json, false)
        .await
        .map_err(|e| Error::Repository(format!("cannot store the drill report: {e}")))?;
    Ok(report)
}

async fn restore_and_check(
    repo: Arc<Repository>,
    m: &Manifest,
    opts: &DrillOptions,
    conn: &ConnInfo,
    cluster: Option<&Cluster>,
) -> Result<(
    usize,
    u64,
    Vec<CheckResult>,
    Option<String>,
    Option<crate::changes::replay::ReplayReport>,
)> {
    let ropts = RestoreOptions {
        target: conn.clone(),
        jobs: opts.jobs,
        replace: true,
        keep_owners: false,
        verify: VerifyMode::Full,
        // The scratch cluster's own pg_restore, unless its build has only the server.
        pg_bin: cluster
            .map(|c| c.bin_dir().to_path_buf())
            .filter(|dir| dir.join("pg_restore").is_file())
            .or_else(|| opts.pg_bin.clone()),
        allow_production: false,
        progress: Arc::new(AtomicU64::new(0)),
        neutralize: true,
        after_restore: Vec::new(),
        seeds: Vec::new(),
        pristine: false,
        scope: crate::restore::scope::Scope::All,
        create_roles: false,
        replay: opts.replay.clone(),
    };
    let mut results = Vec::new();
    let replayed = match restore(repo, m, &ropts).await {
        Ok(r) => {
            results.push(CheckResult {
                name: "restore and data".into(),
                passed: true,
                detail: format!(
                    "{} tables, {} rows restored; every table re-read: row counts and content \
                     digests match the manifest",
                    r.tables, r.rows
                ),
            });
            if let Some(p) = &r.replay {
                results.push(CheckResult {
                    name: "change archive replay".into(),
                    passed: true,
                    detail: format!(
                        "{} transactions, {} changes applied from archive {}, each update and \
                         delete touching exactly one row: recovered to {}",
                        p.transactions,
                        p.changes,
                        p.archive,
                        p.until.map(|t| t.to_rfc3339()).unwrap_or_default()
                    ),
                });
            }
            r.replay
        }
        Err(e) if matches!(e.root(), Error::Verification(_)) => {
            results.push(CheckResult {
                name: "restore and data".into(),
                passed: false,
                detail: e.to_string(),
            });
            return Ok((m.tables.len(), m.total_rows(), results, None, None));
        }
        Err(e) => return Err(e),
    };
    let client = crate::pg::connect(conn).await?;
    let version = client
        .query_one("SHOW server_version", &[])
        .await
        .ok()
        .map(|r| r.get::<_, String>(0));
    results.extend(checks::run(&client, m, &opts.smoke).await);
    Ok((m.tables.len(), m.total_rows(), results, version, replayed))
}

/// Every stored drill report, oldest first. A report that cannot be read is skipped with a
/// warning: history is informative, not a gate.
pub async fn history(repo: &Repository) -> Result<Vec<DrillReport>> {
    let mut out: Vec<DrillReport> = repo.documents(PREFIX, "drill report").await?;
    out.sort_by_key(|d| d.started);
    Ok(out)
}
