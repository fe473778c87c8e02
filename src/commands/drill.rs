//! `drill`: rehearse recovery. Production as it was at a time is restored into a scratch
//! cluster or a non-production environment (never production), checked, and its RTO and RPO
//! measured; `history` lists past drills.
//!
//! [`plan`] passes the guard and chooses the snapshot; [`Plan::execute`] runs the drill and
//! writes the report files asked for; [`verdict`] turns failed checks into an error.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::drill::{DrillOptions, DrillReport, DrillTarget};
use crate::error::{Error, Result};
use crate::repo::{Manifest, Repository};

/// Options of a drill.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Recover production as it was at this time (default: now): RFC 3339, local, or
    /// relative.
    pub at: Option<String>,
    /// Restore into this environment (never one with role production) instead of a scratch
    /// cluster.
    pub to: Option<String>,
    /// Parallel restore workers (default: snapshot.jobs in the config, else 2).
    pub jobs: Option<usize>,
    /// Also write the JSON report and a Markdown summary into this folder.
    pub report_dir: Option<PathBuf>,
}

/// A drill that has passed its guard, with its snapshot chosen.
pub struct Plan {
    repo: Arc<Repository>,
    manifest: Manifest,
    opts: DrillOptions,
    report_dir: Option<PathBuf>,
}

impl Plan {
    /// The snapshot to restore.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The moment recovered to.
    pub fn at(&self) -> DateTime<Utc> {
        self.opts.at
    }

    /// Runs the drill and writes its report files; a failed check is in the report, not an
    /// error (see [`verdict`]).
    pub async fn execute(self) -> Result<DrillReport> {
        let report = crate::drill::run(self.repo, &self.manifest, &self.opts).await?;
        if let Some(dir) = &self.report_dir {
            write_report(dir, &report)?;
        }
        Ok(report)
    }
}

/// Resolves the target (refusing production) and the time, and chooses the snapshot the
/// target may receive.
pub async fn plan(config: &Config, opts: &Options) -> Result<Plan> {
    let (target, receiver) = match &opts.to {
        None => (DrillTarget::Scratch, None),
        Some(name) => {
            let (env, conn) = super::non_production(
                config,
                name,
                "a drill never restores there; use a staging environment or --scratch",
            )?;
            let target = DrillTarget::Database {
                environment: name.clone(),
                conn,
            };
            (target, Some(env))
        }
    };
    let at = match &opts.at {
        None => Utc::now(),
        Some(t) => crate::as_of::parse(t, Utc::now(), config.zone).map_err(Error::Config)?,
    };
    let repo = super::open_repo(config).await?;
    let manifest = super::snapshot_as_of(config, &repo, at, None, receiver).await?;
    let replay = crate::changes::replay::plan(&repo, &manifest, at).await?;
    Ok(Plan {
        repo,
        manifest,
        opts: DrillOptions {
            at,
            target,
            jobs: super::jobs(config, opts.jobs),
            pg_bin: super::pg_bin(config),
            smoke: config.drill.checks.clone(),
            replay,
        },
        report_dir: opts.report_dir.clone(),
    })
}

/// Plans and executes.
pub async fn run(config: &Config, opts: &Options) -> Result<DrillReport> {
    plan(config, opts).await?.execute().await
}

/// The drill's outcome as a result: an error naming every failed check.
pub fn verdict(report: &DrillReport) -> Result<()> {
    let failures = report.failures();
    if failures.is_empty() {
        return Ok(());
    }
    Err(Error::Verification(format!(
        "drill {} failed: {}",
        report.id,
        failures
            .iter()
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect::<Vec<_>>()
            .join("; ")
    )))
}

/// Past drills, stored in the repository.
pub async fn history(config: &Config) -> Result<Vec<DrillReport>> {
    let repo = super::open_repo(config).await?;
    crate::drill::history(&repo).await
}

/// Writes `drill-ID.json` and `drill-ID.md` into `dir`.
fn write_report(dir: &Path, report: &DrillReport) -> Result<()> {
    let io = |e: std::io::Error| Error::Config(format!("cannot write to {}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    let json = serde_json::to_string_pretty(report).expect("serializable");
    std::fs::write(dir.join(format!("drill-{}.json", report.id)), json).map_err(io)?;
    std::fs::write(
        dir.join(format!("drill-{}.md", report.id)),
        report.markdown(),
    )
    .map_err(io)
}
