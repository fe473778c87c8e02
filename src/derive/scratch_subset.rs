//! `derive SNAP --rules DIR --subset`: a referentially complete, anonymized subset made from
//! a stored raw snapshot, without touching the source.
//!
//! The closure needs a database to run in (it follows foreign keys row by row, by ctid,
//! inside one snapshot), so the stored snapshot is restored into a throwaway local cluster
//! and the subset is taken from there exactly as `snapshot --subset` takes it from the
//! source: same checks, same sampling, same rows. The result records the stored snapshot's
//! time, source and LSN, and its id as `derived_from`; the scratch cluster is gone after.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use crate::error::Result;
use crate::pg::cluster::Cluster;
use crate::pg::ConnInfo;
use crate::repo::manifest::Manifest;
use crate::repo::Repository;
use crate::restore::{restore, scope::Scope, RestoreOptions, VerifyMode};
use crate::snapshot::{take, Anonymize, SnapshotOptions};
use crate::source_subset::SubsetSpec;

/// How to derive a subset.
#[derive(Debug, Clone)]
pub struct SubsetDerive {
    /// Rules and key.
    pub anonymize: Anonymize,
    /// The `[subset]` of the rules.
    pub spec: Arc<SubsetSpec>,
    /// Parallel workers of the scratch restore and of the subset snapshot.
    pub jobs: usize,
    /// Folder of the PostgreSQL binaries, when not found by default.
    pub pg_bin: Option<PathBuf>,
    /// Part size of the subset snapshot.
    pub part_bytes: u64,
    /// Bytes read by the subset snapshot, for a progress display.
    pub progress: Arc<AtomicU64>,
}

/// Derives a subset snapshot of raw snapshot `source`.
pub async fn derive_subset(
    repo: Arc<Repository>,
    source: &Manifest,
    opts: &SubsetDerive,
) -> Result<Manifest> {
    super::raw_only(source)?;
    let cluster = crate::pg::scratch::start(
        opts.pg_bin.clone(),
        "throwaway local cluster that derive --subset restores into",
    )
    .await?;
    let result = subset_through(&cluster, repo, source, opts).await;
    crate::pg::scratch::stop(cluster).await;
    result
}

async fn subset_through(
    cluster: &Cluster,
    repo: Arc<Repository>,
    source: &Manifest,
    opts: &SubsetDerive,
) -> Result<Manifest> {
    let conn = ConnInfo::parse(&cluster.url(&source.source.database))?;
    tracing::info!(snapshot = %source.id, "restoring into a scratch cluster for the subset");
    restore(
        repo.clone(),
        source,
        &RestoreOptions {
            target: conn.clone(),
            jobs: opts.jobs,
            replace: false,
            keep_owners: false,
            verify: VerifyMode::Loaded,
            pg_bin: opts.pg_bin.clone(),
            // A scratch server: never the source, and never reached by anyone else.
            allow_production: true,
            progress: Arc::new(AtomicU64::new(0)),
            neutralize: true,
            after_restore: Vec::new(),
            seeds: Vec::new(),
            pristine: false,
            scope: Scope::All,
            create_roles: true,
            replay: None,
        },
    )
    .await?;
    take(
        repo,
        &SnapshotOptions {
            environment: source.source.environment.clone(),
            conn,
            jobs: opts.jobs,
            tags: source.tags.clone(),
            pg_bin: opts.pg_bin.clone(),
            progress: opts.progress.clone(),
            recorded_time: None,
            anonymize: Some(opts.anonymize.clone()),
            part_bytes: opts.part_bytes,
            subset: Some(opts.spec.clone()),
            origin: Some(Arc::new(source.clone())),
            unchanged: None,
        },
    )
    .await
}
