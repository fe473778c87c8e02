//! Applying retention: deciding with the pure policy, deleting manifests first, then a
//! mark-and-sweep of the chunks no remaining manifest references, under an exclusive lock.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::Result;
use crate::repo::lock::{self, Lock, LockKind};
use crate::repo::Repository;
use crate::retention::{plan, Plan, SnapshotInfo, Tiers};

/// What a prune did (or, dry, would do).
#[derive(Debug, Serialize)]
pub struct PruneReport {
    /// Every snapshot with its decision and reasons.
    pub plan: Plan,
    /// Whether anything was deleted.
    pub dry_run: bool,
    /// Snapshots deleted.
    pub deleted: Vec<String>,
    /// Chunks swept.
    pub chunks_deleted: usize,
    /// Chunks still referenced.
    pub chunks_kept: usize,
    /// Pack objects deleted (format 2).
    pub packs_deleted: usize,
    /// Packs rewritten to drop their unused chunks (format 2).
    pub packs_rewritten: usize,
    /// Stale locks removed.
    pub stale_locks_removed: usize,
}

/// Prunes the repository as of `now`.
pub async fn prune(
    repo: &Repository,
    tiers: &Tiers,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<PruneReport> {
    let held = if dry_run {
        None
    } else {
        Some(Lock::acquire(repo.store(), LockKind::Exclusive).await?.0)
    };
    // Any manifest that cannot be read stops the prune here: sweeping without knowing its
    // chunks could destroy a snapshot.
    let manifests = repo.manifests().await?;
    let pins = repo.pins().await?;
    let infos: Vec<SnapshotInfo> = manifests
        .iter()
        .map(|m| SnapshotInfo {
            id: m.id.clone(),
            series: m.series(),
            time: m.time,
            pinned: pins.contains_key(&m.id),
            complete: true,
        })
        .collect();
    let plan = plan(tiers, &infos, now);
    for w in &plan.warnings {
        tracing::warn!("{w}");
    }
    let mut report = PruneReport {
        dry_run,
        deleted: Vec::new(),
        chunks_deleted: 0,
        chunks_kept: 0,
        packs_deleted: 0,
        packs_rewritten: 0,
        stale_locks_removed: 0,
        plan,
    };
    let Some(held) = held else { return Ok(report) };

    let keep: HashSet<&str> = report
        .plan
        .decisions
        .iter()
        .filter(|d| d.keep)
        .map(|d| d.id.as_str())
        .collect();
    for m in &manifests {
        if !keep.contains(m.id.as_str()) {
            repo.delete_manifest(&m.id).await?;
            report.deleted.push(m.id.clone());
        }
    }
    let referenced: HashSet<&str> = manifests
        .iter()
        .filter(|m| keep.contains(m.id.as_str()))
        .flat_map(|m| m.chunk_ids())
        .collect();
    let sweep = repo.sweep(&referenced).await?;
    report.chunks_deleted = sweep.chunks_deleted;
    report.chunks_kept = sweep.chunks_kept;
    report.packs_deleted = sweep.packs_deleted;
    report.packs_rewritten = sweep.packs_rewritten;
    let store = repo.store();
    for (key, info) in lock::list(store.as_ref()).await? {
        if info.is_stale(Utc::now()) {
            tracing::warn!(
                "removing stale lock {key} of {} pid {}",
                info.host,
                info.pid
            );
            let _ = store.delete(&key).await;
            report.stale_locks_removed += 1;
        }
    }
    held.release().await?;
    Ok(report)
}
