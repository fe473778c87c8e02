//! `snapshot`: a snapshot of an environment (default: the one with role production), raw or
//! anonymized with a rules folder, whole or the subset the rules describe.
//!
//! [`plan`] resolves the environment and loads the rules and the key before anything is
//! connected to or written; [`Plan::take`] takes the snapshot. The scheduler daemon takes its
//! snapshots through the same plans.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::error::Result;
use crate::repo::{Manifest, Repository};
use crate::snapshot::{take, SnapshotOptions};

/// Options of a snapshot.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The environment (default: the one with role production).
    pub env: Option<String>,
    /// Parallel workers (default: snapshot.jobs in the config, else 2).
    pub jobs: Option<usize>,
    /// Tags to record.
    pub tags: Vec<String>,
    /// Take an anonymized snapshot with the rules in this folder; the key comes from the
    /// variable the config names.
    pub rules: Option<PathBuf>,
    /// Keep only the subset the rules' `[subset]` section describes (with `rules`).
    pub subset: bool,
    /// Bytes read so far, for a progress display.
    pub progress: Arc<AtomicU64>,
}

/// A snapshot whose environment, rules and key have been resolved.
#[derive(Debug, Clone)]
pub struct Plan {
    opts: SnapshotOptions,
    archived: Option<Archived>,
}

/// A whole snapshot of an environment whose changes are archived: the archive of its series
/// serves every second between base snapshots.
#[derive(Debug, Clone)]
pub struct Archived {
    /// The series' kind, which the archive must have (same rules and key).
    pub kind: crate::repo::manifest::Kind,
    /// How often a base snapshot is due (`changes_base_every`).
    pub base_every: chrono::TimeDelta,
}

impl Plan {
    /// The environment snapshotted.
    pub fn environment(&self) -> &str {
        &self.opts.environment
    }

    /// The snapshot's options, for the pipelines that take snapshots of their own (the
    /// change archive's bases).
    pub fn options(&self) -> &SnapshotOptions {
        &self.opts
    }

    /// Set when the environment's changes are archived (and the snapshot is whole).
    pub fn archived(&self) -> Option<&Archived> {
        self.archived.as_ref()
    }

    /// Records `time` instead of the server's clock (the scheduler's simulated clock).
    pub fn recorded_at(mut self, time: Option<DateTime<Utc>>) -> Plan {
        self.opts.recorded_time = time;
        self
    }

    /// Takes the snapshot into `repo`.
    pub async fn take(&self, repo: Arc<Repository>) -> Result<Manifest> {
        take(repo, &self.opts).await
    }
}

/// Resolves the environment and loads the rules, the key and the subset: a wrong name, rules
/// or key fail here, before the source is contacted or the repository created.
pub fn plan(config: &Config, opts: &Options) -> Result<Plan> {
    let (name, conn) = super::environment_conn(config, opts.env.as_deref())?;
    let anonymize = match &opts.rules {
        Some(dir) => Some(super::anonymize_options(config, dir)?),
        None => None,
    };
    let subset = match (&anonymize, opts.subset) {
        (Some(anon), true) => Some(Arc::new(crate::source_subset::SubsetSpec::load(
            anon.rules.files(),
        )?)),
        _ => None,
    };
    // While the environment's changes are archived, a whole snapshot reads only the tables
    // that changed since the previous one.
    let archived = match config.environment(&name) {
        Ok(e) if e.changes == crate::config::ChangesMode::Logical && subset.is_none() => {
            Some(Archived {
                kind: match &anonymize {
                    None => crate::repo::manifest::Kind::raw(),
                    Some(a) => a.kind(None),
                },
                base_every: e.base_every(),
            })
        }
        _ => None,
    };
    let unchanged: Option<Arc<dyn crate::snapshot::Unchanged>> = archived.as_ref().map(|a| {
        Arc::new(crate::changes::incremental::FromArchive {
            environment: name.clone(),
            kind: a.kind.clone(),
            wait: std::time::Duration::from_secs(15),
        }) as Arc<dyn crate::snapshot::Unchanged>
    });
    Ok(Plan {
        archived,
        opts: SnapshotOptions {
            environment: name,
            conn,
            jobs: super::jobs(config, opts.jobs),
            tags: opts.tags.clone(),
            pg_bin: super::pg_bin(config),
            progress: opts.progress.clone(),
            recorded_time: None,
            anonymize,
            part_bytes: config.snapshot.part_bytes(),
            subset,
            origin: None,
            unchanged,
        },
    })
}

/// Opens the configured repository (creating it if needed) and takes the planned snapshot.
pub async fn execute(config: &Config, plan: &Plan) -> Result<Manifest> {
    let repo = Arc::new(config.repo.open_or_init().await?);
    plan.take(repo).await
}

/// Plans and executes.
pub async fn run(config: &Config, opts: &Options) -> Result<Manifest> {
    execute(config, &plan(config, opts)?).await
}
