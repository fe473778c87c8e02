//! Snapshots that cost what changed: while an archive runs, the tables no transaction touched
//! since the previous snapshot are known exactly, and a new snapshot reuses their entries
//! (chunks, rows, digest) instead of reading them again.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::pgoutput::parse_lsn;
use super::segment::{self, Archive};
use super::visibility::Visibility;
use crate::error::Result;
use crate::repo::manifest::Kind;
use crate::repo::Repository;
use crate::snapshot::{Reuse, Unchanged};

/// The archive of one environment's series, as the source of unchanged tables.
#[derive(Debug, Clone)]
pub struct FromArchive {
    /// The environment.
    pub environment: String,
    /// The snapshot's kind: only an archive (and an earlier snapshot) of the same kind,
    /// rules and key serves.
    pub kind: Kind,
    /// How long to wait for the archive to have stored every transaction the new snapshot
    /// sees; past it the snapshot reads everything.
    pub wait: Duration,
}

/// How long an archive may go without writing its progress and still count as running: its
/// heartbeat is every 2 s.
const QUIET: chrono::TimeDelta = chrono::TimeDelta::seconds(20);

/// Whether the archive behind `progress` is running: not ended, not paused by a run that
/// returned, and beating.
fn beating(progress: &segment::Progress) -> bool {
    progress.ended.is_none() && !progress.paused && progress.updated + QUIET >= chrono::Utc::now()
}

/// The newest archive of `environment`'s series of `kind` (same rules and key).
async fn newest(repo: &Repository, environment: &str, kind: &Kind) -> Result<Option<Archive>> {
    let series = format!("{environment}/{kind}");
    Ok(segment::archives(repo).await?.into_iter().rev().find(|a| {
        a.series() == series
            && a.kind.rules_digest == kind.rules_digest
            && a.kind.key_fingerprint == kind.key_fingerprint
    }))
}

/// The running archive of `environment`'s series of `kind` and the time it is complete up
/// to, when it is complete up to `behind` ago at most: then every second since its base can
/// be restored (`restore --at`) without a snapshot. `None` when no archive runs, it ended,
/// or it fell behind.
pub async fn serving(
    repo: &Repository,
    environment: &str,
    kind: &Kind,
    behind: chrono::TimeDelta,
) -> Result<Option<(Archive, chrono::DateTime<chrono::Utc>)>> {
    let Some(archive) = newest(repo, environment, kind).await? else {
        return Ok(None);
    };
    let Some(progress) = segment::progress(repo, &archive.id).await? else {
        return Ok(None);
    };
    Ok(match progress.caught_up {
        Some(c) if beating(&progress) && c + behind >= chrono::Utc::now() => Some((archive, c)),
        _ => None,
    })
}

#[async_trait::async_trait]
impl Unchanged for FromArchive {
    async fn since(&self, repo: &Repository, insert_lsn: &str) -> Result<Option<Reuse>> {
        let Some(archive) = newest(repo, &self.environment, &self.kind).await? else {
            return Ok(None);
        };
        let Some(target) = parse_lsn(insert_lsn) else {
            return Ok(None);
        };
        // Every transaction the new snapshot sees committed before `insert_lsn`: the archive
        // must have stored up to there, or a change could be missed.
        let deadline = tokio::time::Instant::now() + self.wait;
        loop {
            let progress = segment::progress(repo, &archive.id).await?;
            // An archive that ended, paused or has not beaten for a while is not running: no
            // use waiting.
            if !progress.as_ref().is_some_and(beating) {
                tracing::info!(
                    archive = %archive.id,
                    "the change archive is not running: reading every table"
                );
                return Ok(None);
            }
            let at = progress
                .as_ref()
                .and_then(|p| parse_lsn(&p.confirmed_lsn))
                .unwrap_or(0);
            if at >= target {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::info!(
                    archive = %archive.id,
                    "the change archive has not stored up to this snapshot yet: reading every table"
                );
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let Some(previous) = repo
            .manifests()
            .await?
            .into_iter()
            .filter(|m| archive.extends(m))
            .max_by_key(|m| m.time)
        else {
            return Ok(None);
        };
        let Some(seen) = previous.xid_snapshot.as_deref().and_then(Visibility::parse) else {
            return Ok(None);
        };
        let slack = chrono::Duration::seconds(1);
        let mut changed: HashSet<String> = HashSet::new();
        for s in segment::segments(repo, &archive.id).await? {
            if s.last_commit + slack < previous.time {
                continue;
            }
            if s.schema_change.is_some() {
                return Ok(None);
            }
            // A table whose every change in the segment the previous snapshot already saw
            // is unchanged since: exact, where a time margin would count a busy table that
            // stopped just before the snapshot as changed.
            changed.extend(
                s.tables
                    .iter()
                    .filter(|(_, c)| !c.max_xid.is_some_and(|x| seen.sees_all_through(x)))
                    .map(|(t, _)| t.clone()),
            );
        }
        // Only tables published since the archive started have all their changes in it.
        let unchanged = archive
            .published
            .iter()
            .filter(|t| !changed.contains(*t))
            .cloned()
            .collect();
        Ok(Some(Reuse {
            previous: Arc::new(previous),
            unchanged,
        }))
    }
}
