//! `derive`: an anonymized snapshot made from a stored raw one, whole or the subset the
//! rules describe; the source database is not contacted.
//!
//! [`plan`] loads the rules and the key (before the repository is read) and resolves the
//! raw snapshot; [`Plan::execute`] derives. The engine refuses a source that is not raw.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use crate::config::Config;
use crate::error::Result;
use crate::repo::{Manifest, Repository};
use crate::snapshot::Anonymize;

/// Options of a derive.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The raw snapshot: full id, unique prefix, or "latest".
    pub snapshot: String,
    /// Rules folder (default: anonymization.rules in the config).
    pub rules: Option<PathBuf>,
    /// Keep only the referentially complete subset the rules' `[subset]` section describes
    /// (the snapshot is restored into a throwaway local cluster to compute it).
    pub subset: bool,
    /// Tables rewritten at once (default: snapshot.jobs in the config, else 2).
    pub jobs: Option<usize>,
    /// Bytes processed so far, for a progress display.
    pub progress: Arc<AtomicU64>,
}

/// A derive whose rules, key and source snapshot have been resolved.
pub struct Plan {
    repo: Arc<Repository>,
    source: Manifest,
    anonymize: Anonymize,
    subset: bool,
    jobs: usize,
    pg_bin: Option<PathBuf>,
    part_bytes: u64,
    progress: Arc<AtomicU64>,
}

impl Plan {
    /// The raw snapshot derived from.
    pub fn source(&self) -> &Manifest {
        &self.source
    }

    /// Derives the anonymized snapshot.
    pub async fn execute(self) -> Result<Manifest> {
        if !self.subset {
            return crate::derive::derive(
                self.repo,
                &self.source,
                &self.anonymize,
                self.jobs,
                self.progress,
            )
            .await;
        }
        let spec = Arc::new(crate::source_subset::SubsetSpec::load(
            self.anonymize.rules.files(),
        )?);
        let opts = crate::derive::scratch_subset::SubsetDerive {
            anonymize: self.anonymize,
            spec,
            jobs: self.jobs,
            pg_bin: self.pg_bin,
            part_bytes: self.part_bytes,
            progress: self.progress,
        };
        crate::derive::scratch_subset::derive_subset(self.repo, &self.source, &opts).await
    }
}

/// Loads the rules and the key, opens the repository and resolves the source snapshot.
pub async fn plan(config: &Config, opts: &Options) -> Result<Plan> {
    let dir = opts
        .rules
        .clone()
        .unwrap_or_else(|| config.rules_path.clone());
    let anonymize = super::anonymize_options(config, &dir)?;
    let repo = super::open_repo(config).await?;
    let source = repo.resolve(&opts.snapshot).await?;
    Ok(Plan {
        repo,
        source,
        anonymize,
        subset: opts.subset,
        jobs: super::jobs(config, opts.jobs),
        pg_bin: super::pg_bin(config),
        part_bytes: config.snapshot.part_bytes(),
        progress: opts.progress.clone(),
    })
}

/// Plans and executes.
pub async fn run(config: &Config, opts: &Options) -> Result<Manifest> {
    plan(config, opts).await?.execute().await
}
