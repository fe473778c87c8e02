//! `derive`: an anonymized snapshot made from a stored raw one, without touching the source.
//!
//! The raw snapshot's manifest carries the source's catalog as the rules see it, so the
//! rules are checked and built exactly as a direct anonymized snapshot would check them;
//! tables no rule changes keep their chunks, the others are read back, rewritten and stored.
//! The result holds the same rows as an anonymized snapshot taken at the same moment.

pub mod scratch_subset;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::catalog::TableName;
use crate::error::{Error, Result};
use crate::repo::digest::TableDigest;
use crate::repo::lock::{Lock, LockKind};
use crate::repo::manifest::{LargeObjectEntry, Manifest, TableEntry};
use crate::repo::writer::{read_stream, write_stream};
use crate::repo::{new_snapshot_id, Repository};
use crate::rules::{CompiledRules, Rewriter, TableAction};
use crate::snapshot::Anonymize;

/// Chunks fetched ahead of the rewriting, per table.
const READ_AHEAD: usize = 4;

/// Derives an anonymized snapshot from raw snapshot `source` with `anonymize`'s rules and
/// key, `jobs` tables at a time; returns the new manifest. `progress` counts the bytes read
/// back.
pub async fn derive(
    repo: Arc<Repository>,
    source: &Manifest,
    anonymize: &Anonymize,
    jobs: usize,
    progress: Arc<AtomicU64>,
) -> Result<Manifest> {
    let started = Instant::now();
    raw_only(source)?;
    let catalog = source.catalog.as_ref().ok_or_else(|| {
        Error::Refused(format!(
            "snapshot {} was taken by a version of doppel that did not record the catalog the \
             rules need; take a new snapshot, or an anonymized one directly with --rules",
            source.id
        ))
    })?;
    let compiled = CompiledRules::prepare(&anonymize.rules, catalog)?;
    let mut planned = Vec::with_capacity(source.tables.len());
    for t in &source.tables {
        let name = TableName::new(t.schema.as_str(), t.name.as_str());
        match compiled.bind(&name, &t.columns)? {
            TableAction::Skip => {
                return Err(Error::Refused(format!(
                    "the rules leave out table {name} (decision \"skip\"), but the stored schema \
                     of snapshot {} creates it and derive cannot rewrite a schema; use \
                     decision = \"schema-only\" for derive, or take the anonymized snapshot \
                     directly from the source",
                    source.id
                )))
            }
            action => planned.push((t.clone(), action)),
        }
    }

    let (lock, _) = Lock::acquire(repo.store(), LockKind::Shared).await?;
    let semaphore = Arc::new(tokio::sync::Semaphore::new(jobs.max(1)));
    let mut tasks = Vec::with_capacity(planned.len());
    for (entry, action) in planned {
        let (repo, key, semaphore, progress) = (
            repo.clone(),
            anonymize.key.clone(),
            semaphore.clone(),
            progress.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            rewrite_table(&repo, entry, action, key, &progress).await
        }));
    }
    let aborter = AbortOnDrop(tasks.iter().map(|t| t.abort_handle()).collect());
    let mut tables = Vec::with_capacity(tasks.len());
    for task in tasks {
        match task.await {
            Ok(r) => tables.push(r?),
            Err(e) => return Err(Error::Repository(format!("a derive worker failed: {e}"))),
        }
    }
    drop(aborter);
    // As in a direct anonymized snapshot: large objects keep identity, owner and grants,
    // not their contents, which no rule covers.
    let mut large_objects = Vec::with_capacity(source.large_objects.len());
    for lo in &source.large_objects {
        let data = write_stream(&repo, futures::stream::empty(), |_| {}).await?;
        large_objects.push(LargeObjectEntry {
            digest: blake3::hash(b"").to_hex().to_string(),
            data,
            ..lo.clone()
        });
    }
    let manifest = Manifest {
        id: new_snapshot_id(source.time),
        kind: anonymize.kind(Some(source.id.clone())),
        tables,
        large_objects,
        stats: repo
            .finish_stats(started, progress.load(Ordering::Relaxed))
            .await?,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        ..source.clone()
    };
    repo.put_manifest(&manifest).await?;
    lock.release().await?;
    Ok(manifest)
}

/// Refuses a snapshot that is not raw: rules apply to original values only.
fn raw_only(source: &Manifest) -> Result<()> {
    if source.kind.kind != crate::repo::DataKind::Raw {
        return Err(Error::Refused(format!(
            "snapshot {} is already {}; derive works from a raw snapshot",
            source.id, source.kind.kind
        )));
    }
    Ok(())
}

async fn rewrite_table(
    repo: &Repository,
    entry: TableEntry,
    action: TableAction,
    key: Arc<crate::anonymize::Key>,
    progress: &AtomicU64,
) -> Result<TableEntry> {
    let transform = match action {
        // Unchanged rows: the same chunks serve both snapshots.
        TableAction::Copy => {
            progress.fetch_add(entry.data.bytes, Ordering::Relaxed);
            return Ok(entry);
        }
        TableAction::Transform(t) => t,
        TableAction::SchemaOnly | TableAction::Skip => {
            let data = write_stream(repo, futures::stream::empty(), |_| {}).await?;
            let digest = TableDigest::new();
            return Ok(TableEntry {
                rows: 0,
                digest: digest.hex(),
                data,
                parts: Vec::new(),
                ..entry
            });
        }
    };
    let pieces = futures::StreamExt::inspect(read_stream(repo, &entry.data, READ_AHEAD), |p| {
        if let Ok(p) = p {
            progress.fetch_add(p.len() as u64, Ordering::Relaxed);
        }
    });
    let mut digest = TableDigest::new();
    let rows = Rewriter::new(transform, key).stream(pieces);
    let data = write_stream(repo, rows, |piece| digest.update(piece)).await?;
    if digest.rows() != entry.rows {
        return Err(Error::Repository(format!(
            "table {}.{}: {} rows were rewritten where the snapshot records {}",
            entry.schema,
            entry.name,
            digest.rows(),
            entry.rows
        )));
    }
    Ok(TableEntry {
        rows: digest.rows(),
        digest: digest.hex(),
        data,
        // Rewritten as one stream: the raw snapshot's part boundaries do not apply.
        parts: Vec::new(),
        ..entry
    })
}

/// Stops the remaining workers when derive fails or is interrupted.
struct AbortOnDrop(Vec<tokio::task::AbortHandle>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for h in &self.0 {
            h.abort();
        }
    }
}
