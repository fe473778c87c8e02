//! `changes setup | status | teardown`: the publication and replication slot of an
//! environment's change archive (default environment: the one with role production).
//!
//! Setup runs only on an environment whose config says `changes = "logical"` (which the config
//! allows only for role production). Teardown runs whatever the config says now: it only drops
//! the objects setup named after the environment, and it must stay possible after the setting
//! has been removed, since a forgotten slot keeps holding back WAL on the server.

use serde::Serialize;

use std::path::PathBuf;
use std::time::Duration;

use crate::changes::{run as archive, setup, status, teardown};
use crate::config::{ChangesMode, Config, EnvironmentConfig};
use crate::error::{Error, Result};
use crate::pg::ConnInfo;

/// A report about one environment.
#[derive(Debug, Clone, Serialize)]
pub struct Report<T> {
    /// The environment.
    pub environment: String,
    /// Its database, the URL without password.
    pub target: String,
    /// `changes` in its config.
    pub changes: ChangesMode,
    /// What was found or done.
    #[serde(flatten)]
    pub report: T,
}

/// Checks the server of environment `env` and creates its publication and slot.
pub async fn setup(config: &Config, env: Option<&str>) -> Result<Report<setup::Report>> {
    let (name, settings, conn) = super::environment(config, env)?;
    if settings.changes != ChangesMode::Logical {
        return Err(Error::Config(format!(
            "environment '{name}' has changes = \"{}\": set changes = \"logical\" in its section \
             of {} to archive its changes, then run setup again",
            settings.changes,
            config.path.display()
        )));
    }
    let report = setup::setup(&conn, &name).await?;
    Ok(wrap(name, settings, &conn, report))
}

/// Options of `changes run`.
#[derive(Debug, Clone, Default)]
pub struct RunArgs {
    /// The environment (default: the one with role production).
    pub env: Option<String>,
    /// Keep an anonymized archive (and anonymized bases) with the rules in this folder, as
    /// `snapshot --rules` does; raw otherwise.
    pub rules: Option<PathBuf>,
    /// Stop once everything committed so far is stored.
    pub once: bool,
    /// Messages per segment at most (default 100 000).
    pub max_changes: Option<u32>,
    /// Seconds between looks at an idle slot (default 1).
    pub poll: Option<Duration>,
    /// Where the running report is published (the scheduler's health and metrics).
    pub progress: Option<std::sync::Arc<tokio::sync::watch::Sender<archive::RunReport>>>,
}

/// Keeps environment `env`'s change archive: opens it (slot and first base snapshot) or
/// resumes it, then stores its changes until stopped (or, `once`, until caught up).
pub async fn run(config: &Config, args: &RunArgs) -> Result<Report<archive::RunReport>> {
    let (name, settings, conn) = super::environment(config, args.env.as_deref())?;
    if settings.changes != ChangesMode::Logical {
        return Err(Error::Config(format!(
            "environment '{name}' has changes = \"{}\": set changes = \"logical\" in its section \
             of {} and run `doppel changes setup {name}` to archive its changes",
            settings.changes,
            config.path.display()
        )));
    }
    let plan = super::snapshot::plan(
        config,
        &super::snapshot::Options {
            env: Some(name.clone()),
            rules: args.rules.clone(),
            ..Default::default()
        },
    )?;
    let opts = archive::RunOptions {
        environment: name.clone(),
        conn: conn.clone(),
        snapshot: crate::snapshot::SnapshotOptions {
            // A base is read whole: it is what the archive's changes are replayed onto.
            unchanged: None,
            ..plan.options().clone()
        },
        max_changes: args.max_changes.unwrap_or(100_000),
        poll: args.poll.unwrap_or(Duration::from_secs(1)),
        once: args.once,
        max_lag_bytes: settings.max_lag_bytes(),
        progress: args.progress.clone(),
    };
    let repo = std::sync::Arc::new(config.repo.open_or_init().await?);
    let report = archive::run(repo, &opts).await?;
    Ok(wrap(name, settings, &conn, report))
}

/// The state of environment `env`'s publication and slot.
pub async fn status(config: &Config, env: Option<&str>) -> Result<Report<status::Status>> {
    let (name, settings, conn) = super::environment(config, env)?;
    let mut report = status::status(&conn, &name, settings.max_lag_bytes()).await?;
    // No repository yet means no archive yet, not an error.
    if let Ok(repo) = config.repo.open().await {
        report.archive = crate::changes::segment::summary(&repo, &name).await?;
    }
    Ok(wrap(name, settings, &conn, report))
}

/// Drops environment `env`'s slot and publication.
pub async fn teardown(config: &Config, env: Option<&str>) -> Result<Report<teardown::Report>> {
    let (name, settings, conn) = super::environment(config, env)?;
    let report = teardown::teardown(&conn, &name).await?;
    // Without its slot the archive cannot go on: it says so at once, so that snapshots and
    // the scheduler stop counting on it (its segments still serve restores).
    if report.slot_dropped {
        if let Ok(repo) = config.repo.open().await {
            archive::end_all(
                &repo,
                &name,
                &report.name,
                "its slot was dropped by `doppel changes teardown`",
            )
            .await?;
        }
    }
    Ok(wrap(name, settings, &conn, report))
}

fn wrap<T>(environment: String, env: &EnvironmentConfig, conn: &ConnInfo, report: T) -> Report<T> {
    Report {
        environment,
        target: conn.redacted(),
        changes: env.changes,
        report,
    }
}
