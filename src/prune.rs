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
    /// Change segments deleted (or, dry, to delete), `archive/seq`: every transaction in
    /// them predates each kept snapshot they could extend, so no restore point needs them.
    pub segments_deleted: Vec<String>,
    /// Change segments kept: each serves restore points after a kept snapshot.
    pub segments_kept: usize,
    /// Every change segment with its decision and the restore points it serves.
    pub segments: Vec<SegmentDecision>,
}

/// What prune does with one change segment, and why.
#[derive(Debug, Serialize)]
pub struct SegmentDecision {
    /// `archive/seq`.
    pub segment: String,
    /// Commit time of its first transaction.
    pub first_commit: DateTime<Utc>,
    /// Commit time of its last transaction.
    pub last_commit: DateTime<Utc>,
    /// Whether it is kept.
    pub keep: bool,
    /// Why: the restore points it serves and the snapshot they start from, or that none
    /// needs it.
    pub reason: String,
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
    let infos = infos(&manifests, &pins);
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
        segments_deleted: Vec::new(),
        segments_kept: 0,
        segments: Vec::new(),
        plan,
    };
    let keep: HashSet<String> = report
        .plan
        .decisions
        .iter()
        .filter(|d| d.keep)
        .map(|d| d.id.clone())
        .collect();
    let kept: Vec<&crate::repo::Manifest> =
        manifests.iter().filter(|m| keep.contains(&m.id)).collect();
    let archives = segments_to_keep(repo, &kept).await?;
    for (archive, segments, oldest_base) in &archives {
        for s in segments {
            let id = format!("{}/{}", archive.id, s.seq);
            let keep = serves(s, *oldest_base);
            // The restore points in the segment start from the newest kept snapshot before
            // them.
            let from = kept
                .iter()
                .filter(|m| archive.extends(m) && m.time <= s.last_commit)
                .max_by_key(|m| m.time);
            let reason = match (keep, from) {
                (true, Some(m)) => format!(
                    "serves restore points {} … {} from snapshot {}",
                    s.first_commit.to_rfc3339(),
                    s.last_commit.to_rfc3339(),
                    m.id
                ),
                (true, None) => "serves restore points before the next kept snapshot".into(),
                (false, _) => "every transaction in it predates each kept snapshot it could \
                               extend"
                    .into(),
            };
            if keep {
                report.segments_kept += 1;
            } else {
                report.segments_deleted.push(id.clone());
            }
            report.segments.push(SegmentDecision {
                segment: id,
                first_commit: s.first_commit,
                last_commit: s.last_commit,
                keep,
                reason,
            });
        }
    }
    let Some(held) = held else { return Ok(report) };

    for m in &manifests {
        if !keep.contains(&m.id) {
            repo.delete_manifest(&m.id).await?;
            report.deleted.push(m.id.clone());
        }
    }
    let mut referenced: HashSet<&str> = kept.iter().flat_map(|m| m.chunk_ids()).collect();
    for (archive, segments, oldest_base) in &archives {
        let mut left = 0;
        for s in segments {
            if serves(s, *oldest_base) {
                referenced.extend(s.data.chunks.iter().map(|c| c.id.as_str()));
                left += 1;
            } else {
                crate::changes::segment::delete_segment(repo, &archive.id, s.seq).await?;
            }
        }
        let ended = crate::changes::segment::progress(repo, &archive.id)
            .await?
            .is_some_and(|p| p.ended.is_some());
        if left == 0 && ended {
            crate::changes::segment::delete_archive(repo, &archive.id).await?;
        }
    }
    let sweep = repo.sweep(&referenced).await?;
    // Long-running writers (the change archive) keep a list of the chunks that exist:
    // this tells them it may be stale.
    repo.put_file(
        crate::repo::SWEPT_KEY,
        Utc::now().to_rfc3339().into_bytes(),
        false,
    )
    .await?;
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

/// What retention needs to know of each snapshot: its series, its time, whether it is pinned.
pub fn infos<V>(
    manifests: &[crate::repo::Manifest],
    pins: &std::collections::BTreeMap<String, V>,
) -> Vec<SnapshotInfo> {
    manifests
        .iter()
        .map(|m| SnapshotInfo {
            id: m.id.clone(),
            series: m.series(),
            time: m.time,
            pinned: pins.contains_key(&m.id),
            complete: true,
        })
        .collect()
}

/// Whether segment `s` may hold transactions a snapshot taken at `oldest_base` did not see
/// (a second of slack for the clock reads).
fn serves(s: &crate::changes::segment::Segment, oldest_base: Option<DateTime<Utc>>) -> bool {
    oldest_base.is_some_and(|t| s.last_commit + chrono::Duration::seconds(1) >= t)
}

/// Every change archive with its segments and the time of the oldest kept snapshot it
/// extends (`None`: none is kept, so no segment serves a restore point).
async fn segments_to_keep(
    repo: &Repository,
    kept: &[&crate::repo::Manifest],
) -> Result<
    Vec<(
        crate::changes::segment::Archive,
        Vec<crate::changes::segment::Segment>,
        Option<DateTime<Utc>>,
    )>,
> {
    let mut out = Vec::new();
    for archive in crate::changes::segment::archives(repo).await? {
        let segments = crate::changes::segment::segments(repo, &archive.id).await?;
        let oldest = kept
            .iter()
            .filter(|m| archive.extends(m))
            .map(|m| m.time)
            .min();
        out.push((archive, segments, oldest));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::repo::manifest::SubsetRecord;
    use crate::repo::RepoOptions;
    use crate::store::MemoryStore;

    /// An anonymized snapshot of production at `time` (UTC, `HH:MM` on one day), a subset of
    /// the spec digested as `subset` when given; it references one chunk of its own.
    async fn anonymized(repo: &Repository, time: &str, subset: Option<&str>) -> String {
        let t = format!("2026-11-21T{time}:00Z");
        let id = format!(
            "20261121T{}00000000Z-{}",
            time.replace(':', ""),
            subset.unwrap_or("whole")
        );
        let mut m = crate::repo::manifest::sample(&id, &t, "production", "anonymized");
        m.kind.subset = subset.map(|d| SubsetRecord {
            digest: d.repeat(64 / d.len()),
            targets: Vec::new(),
        });
        let chunk = repo
            .put_chunk(bytes::Bytes::from(format!("schema of {id}")))
            .await
            .unwrap();
        m.schema.chunks.push(chunk);
        repo.put_manifest(&m).await.unwrap();
        id
    }

    #[tokio::test]
    async fn whole_snapshots_and_subsets_are_retained_apart() {
        let repo = Repository::open_or_init(Arc::new(MemoryStore::new()), &RepoOptions::default())
            .await
            .unwrap();
        let whole: Vec<String> = [
            anonymized(&repo, "10:00", None).await,
            anonymized(&repo, "10:10", None).await,
            anonymized(&repo, "10:20", None).await,
        ]
        .into();
        let subsets: Vec<String> = [
            anonymized(&repo, "10:30", Some("5e")).await,
            anonymized(&repo, "10:40", Some("5e")).await,
        ]
        .into();
        let other_spec = anonymized(&repo, "10:15", Some("c7")).await;
        // One snapshot an hour: in one series only 10:00 and the newest (10:40) would stay.
        let tiers = Tiers::parse(&["1h@1d".to_string()]).unwrap();
        let now = "2026-11-21T11:00:00Z".parse().unwrap();
        let report = prune(&repo, &tiers, now, false).await.unwrap();
        let left: Vec<String> = repo.snapshot_ids().await.unwrap();
        // Each series keeps its newest and the oldest of each hour.
        for kept in [&whole[0], &whole[2], &subsets[0], &subsets[1], &other_spec] {
            assert!(left.contains(kept), "{kept} deleted: {left:?}");
        }
        assert_eq!(report.deleted, [whole[1].clone()]);
        let series: HashSet<&str> = report
            .plan
            .decisions
            .iter()
            .map(|d| d.series.as_str())
            .collect();
        assert_eq!(
            series,
            HashSet::from([
                "production/anonymized",
                "production/anonymized/subset-5e5e5e5e5e5e",
                "production/anonymized/subset-c7c7c7c7c7c7",
            ])
        );
        // The deleted snapshot's chunk went with it; the kept ones' stayed.
        assert_eq!((report.chunks_deleted, report.chunks_kept), (1, 5));
    }
}
