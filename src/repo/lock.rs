//! Repository locks, as objects under `locks/`.
//!
//! Snapshots hold a shared lock while they write; `prune` holds an exclusive one while it
//! deletes, because a running snapshot may reuse an existing chunk (dedup) that only a
//! deleted snapshot referenced: sweeping it then would leave the new snapshot broken.
//! A lock is refreshed while held; one whose refresh is older than [`STALE_AFTER`], or whose
//! process is gone on this host, is stale: reported, ignored, and removed by the next prune.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::Store;

/// A lock not refreshed for this long belongs to a process that died.
pub const STALE_AFTER: TimeDelta = TimeDelta::minutes(30);
/// How often a held lock is refreshed.
const REFRESH_EVERY: Duration = Duration::from_secs(300);
/// How long a shared lock waits for an exclusive one (a prune) to go, before giving up.
const SHARED_WAITS: Duration = Duration::from_secs(15 * 60);
/// How long a prune waits for shared locks to go.
const EXCLUSIVE_WAITS: Duration = Duration::from_secs(60);

/// One try at taking a lock.
enum Attempt {
    Taken(Lock, LockReport),
    /// A conflicting lock is held: why (naming its holder), and its kind.
    Busy {
        why: String,
        holder: LockKind,
    },
}

/// What the lock holder does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockKind {
    /// Writing a snapshot: many may run at once.
    Shared,
    /// Deleting (prune): nothing else may run.
    Exclusive,
    /// The scheduler daemon: one per repository.
    Daemon,
}

/// The content of a lock object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockInfo {
    /// Kind of lock.
    pub kind: LockKind,
    /// Host name of the holder.
    pub host: String,
    /// Process id of the holder.
    pub pid: u32,
    /// When it was taken.
    pub created: DateTime<Utc>,
    /// Last refresh.
    pub refreshed: DateTime<Utc>,
}

impl LockInfo {
    /// Whether the holder is gone: not refreshed for [`STALE_AFTER`], or a dead process here.
    pub fn is_stale(&self, now: DateTime<Utc>) -> bool {
        if now - self.refreshed > STALE_AFTER {
            return true;
        }
        self.host == hostname() && !std::path::Path::new(&format!("/proc/{}", self.pid)).exists()
    }

    fn describe(&self) -> String {
        format!(
            "{:?} lock held by {} pid {} since {}",
            self.kind,
            self.host,
            self.pid,
            self.created.to_rfc3339()
        )
        .to_lowercase()
    }
}

/// This machine's name, for lock ownership.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// A held lock; released on drop (best effort) or explicitly with [`Lock::release`].
#[derive(Debug)]
pub struct Lock {
    store: Arc<dyn Store>,
    key: String,
    refresher: tokio::task::JoinHandle<()>,
}

/// Other locks found while taking one.
#[derive(Debug, Default)]
pub struct LockReport {
    /// Stale locks that were ignored.
    pub stale: Vec<String>,
}

fn conflicts(mine: LockKind, other: LockKind) -> bool {
    match mine {
        LockKind::Shared => other == LockKind::Exclusive,
        LockKind::Exclusive => other != LockKind::Daemon,
        LockKind::Daemon => other == LockKind::Daemon,
    }
}

impl Lock {
    /// Takes a lock of `kind`, or fails naming the holder of a conflicting one. A shared lock
    /// (snapshot, verify, copy, an archive's segment) waits for a prune to finish, up to 15
    /// minutes: a scheduled snapshot should not fail because retention ran at the same
    /// moment. An exclusive lock (prune) waits up to a minute for shared ones to go, as the
    /// daemon's prune must while its archive writes a segment every few seconds; it never
    /// waits for another exclusive one, so two prunes cannot wait on each other.
    pub async fn acquire(store: Arc<dyn Store>, kind: LockKind) -> Result<(Lock, LockReport)> {
        let started = tokio::time::Instant::now();
        let mut pause = Duration::from_millis(100);
        loop {
            let (why, holder) = match Self::try_acquire(store.clone(), kind).await? {
                Attempt::Taken(lock, report) => return Ok((lock, report)),
                Attempt::Busy { why, holder } => (why, holder),
            };
            let patience = match (kind, holder) {
                (LockKind::Shared, _) => SHARED_WAITS,
                (LockKind::Exclusive, LockKind::Shared) => EXCLUSIVE_WAITS,
                _ => Duration::ZERO,
            };
            if started.elapsed() >= patience {
                return Err(Error::Refused(why));
            }
            if pause == Duration::from_millis(100) {
                tracing::info!("waiting for the repository: {why}");
            }
            // Jittered, so that a prune finds the gaps between an archive's segments.
            tokio::time::sleep(pause.mul_f64(0.5 + rand::random::<f64>())).await;
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }

    /// One attempt at [`Lock::acquire`].
    async fn try_acquire(store: Arc<dyn Store>, kind: LockKind) -> Result<Attempt> {
        let now = Utc::now();
        let info = LockInfo {
            kind,
            host: hostname(),
            pid: std::process::id(),
            created: now,
            refreshed: now,
        };
        let key = format!(
            "locks/{}-{}.json",
            now.format("%Y%m%dT%H%M%S%.6fZ"),
            hex::encode(rand::random::<[u8; 6]>())
        );
        let body = Bytes::from(serde_json::to_vec(&info).expect("lock serializes"));
        store.put_new(&key, body).await.map_err(|e| {
            Error::Repository(format!("cannot take a lock in {}: {e}", store.location()))
        })?;
        // Write first, then look: two processes racing both see each other and both back
        // off, which is safe; neither can miss the other.
        let mut report = LockReport::default();
        for (other_key, other) in list(store.as_ref()).await? {
            if other_key == key {
                continue;
            }
            if other.is_stale(Utc::now()) {
                report
                    .stale
                    .push(format!("{} ({other_key})", other.describe()));
                continue;
            }
            if conflicts(kind, other.kind) {
                let _ = store.delete(&key).await;
                return Ok(Attempt::Busy {
                    holder: other.kind,
                    why: format!(
                    "repository {} is busy: {}; try again later (a lock not refreshed for {} minutes is ignored)",
                    store.location(),
                    other.describe(),
                    STALE_AFTER.num_minutes()
                ),
                });
            }
        }
        for s in &report.stale {
            tracing::warn!("ignoring stale lock: {s}");
        }
        let refresher = {
            let (store, key, mut info) = (store.clone(), key.clone(), info.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(REFRESH_EVERY).await;
                    info.refreshed = Utc::now();
                    let body = Bytes::from(serde_json::to_vec(&info).expect("lock serializes"));
                    if let Err(e) = store.put(&key, body).await {
                        tracing::warn!("cannot refresh lock {key}: {e}");
                    }
                }
            })
        };
        Ok(Attempt::Taken(
            Lock {
                store,
                key,
                refresher,
            },
            report,
        ))
    }

    /// The lock's object key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Releases the lock.
    pub async fn release(self) -> Result<()> {
        self.refresher.abort();
        self.store
            .delete(&self.key)
            .await
            .map_err(|e| Error::Repository(format!("cannot release lock {}: {e}", self.key)))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        self.refresher.abort();
        // Dropped without release (an error or a signal): remove it if a runtime is still
        // there; otherwise it goes stale and is ignored after STALE_AFTER or when the
        // process is seen gone.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let (store, key) = (self.store.clone(), self.key.clone());
            handle.spawn(async move {
                let _ = store.delete(&key).await;
            });
        }
    }
}

/// Removes every lock this process holds except `keep`: after abandoning work whose locks
/// were dropped without release, so that they do not outlive the process while a dropped
/// lock's own clean-up races the runtime's shutdown.
pub async fn remove_own(store: &dyn Store, keep: &str) -> Result<()> {
    let (host, pid) = (hostname(), std::process::id());
    for (key, info) in list(store).await? {
        if key != keep && info.host == host && info.pid == pid {
            let _ = store.delete(&key).await;
        }
    }
    Ok(())
}

/// Every lock in the repository.
pub async fn list(store: &dyn Store) -> Result<Vec<(String, LockInfo)>> {
    let keys = store.list("locks/").await.map_err(|e| {
        Error::Repository(format!("cannot list locks in {}: {e}", store.location()))
    })?;
    let mut out = Vec::new();
    for k in keys {
        // A lock released between list and get is simply gone.
        if let Ok(raw) = store.get(&k).await {
            if let Ok(info) = serde_json::from_slice::<LockInfo>(&raw) {
                out.push((k, info));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    // Paused time: the waits pass at once.
    #[tokio::test(start_paused = true)]
    async fn exclusive_and_shared_exclude_each_other() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let (a, _) = Lock::acquire(store.clone(), LockKind::Shared)
            .await
            .unwrap();
        let (b, _) = Lock::acquire(store.clone(), LockKind::Shared)
            .await
            .unwrap();
        // A prune gives up on shared locks held for longer than it waits, naming them.
        let err = Lock::acquire(store.clone(), LockKind::Exclusive)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("busy") && err.contains("shared lock held by"),
            "{err}"
        );
        // It waits for shared locks that go meanwhile (an archive between two segments).
        let release = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            a.release().await.unwrap();
            b.release().await.unwrap();
        });
        let (x, _) = Lock::acquire(store.clone(), LockKind::Exclusive)
            .await
            .unwrap();
        release.await.unwrap();
        assert!(matches!(
            Lock::try_acquire(store.clone(), LockKind::Shared)
                .await
                .unwrap(),
            Attempt::Busy {
                holder: LockKind::Exclusive,
                ..
            }
        ));
        // Never for another prune.
        let started = tokio::time::Instant::now();
        assert!(Lock::acquire(store.clone(), LockKind::Exclusive)
            .await
            .is_err());
        assert!(started.elapsed() < Duration::from_secs(1));
        let (d, _) = Lock::acquire(store.clone(), LockKind::Daemon)
            .await
            .unwrap();
        assert!(Lock::acquire(store.clone(), LockKind::Daemon)
            .await
            .is_err());
        // A shared lock waits for the exclusive one to go instead of failing.
        let release = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            x.release().await.unwrap();
        });
        let (s, _) = Lock::acquire(store.clone(), LockKind::Shared)
            .await
            .unwrap();
        release.await.unwrap();
        s.release().await.unwrap();
        d.release().await.unwrap();
        assert!(list(store.as_ref()).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn stale_locks_are_reported_and_ignored() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let old = Utc::now() - TimeDelta::hours(2);
        let dead = LockInfo {
            kind: LockKind::Exclusive,
            host: "elsewhere".into(),
            pid: 1,
            created: old,
            refreshed: old,
        };
        store
            .put(
                "locks/old.json",
                Bytes::from(serde_json::to_vec(&dead).unwrap()),
            )
            .await
            .unwrap();
        let (l, report) = Lock::acquire(store.clone(), LockKind::Shared)
            .await
            .unwrap();
        assert_eq!(report.stale.len(), 1);
        assert!(report.stale[0].contains("elsewhere"));
        l.release().await.unwrap();
    }
}
