//! The repository: a header, content-addressed zstd chunks and one manifest per snapshot
//! (format version 1, see DESIGN.md), on any [`Store`].

pub mod chunker;
pub mod digest;
pub mod lock;
pub mod manifest;
pub mod writer;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::{Store, StoreError};
pub use chunker::{Chunker, ChunkerParams};
pub use manifest::{ChunkRef, Manifest, MANIFEST_FORMAT};

/// Repository format this build writes and the newest it reads.
pub const REPO_FORMAT: u32 = 1;
const HEADER_KEY: &str = "doppel-repo.json";

/// `doppel-repo.json`: what every reader and writer must agree on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    /// Repository format version.
    pub format: u32,
    /// Random id of this repository.
    pub id: String,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// Chunk size bounds.
    pub chunker: ChunkerParams,
    /// Compression of chunk objects.
    pub compression: Compression,
    /// Encryption header; none in format 1.
    pub encryption: Option<serde_json::Value>,
}

/// How chunks are compressed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Compression {
    /// Always `zstd`.
    pub algorithm: String,
    /// Level used for new chunks.
    pub level: i32,
}

/// Why a snapshot is pinned.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pin {
    /// The user's reason.
    pub reason: Option<String>,
    /// When.
    pub pinned_at: DateTime<Utc>,
}

/// Counters of chunk writes, for the snapshot summary.
#[derive(Debug, Default)]
pub struct WriteStats {
    /// Chunks referenced.
    pub chunks_total: AtomicU64,
    /// Chunks that were new to the repository.
    pub chunks_new: AtomicU64,
    /// Compressed bytes written.
    pub bytes_new: AtomicU64,
}

/// An open repository.
#[derive(Debug)]
pub struct Repository {
    store: Arc<dyn Store>,
    header: Header,
    level: i32,
    /// Chunk ids known to exist; loaded lazily once for dedup without a request per chunk.
    known: Known,
    /// Counters since open.
    pub stats: WriteStats,
}

type Known = Arc<Mutex<Option<HashSet<String>>>>;

fn lock_known(known: &Known) -> std::sync::MutexGuard<'_, Option<HashSet<String>>> {
    // The set is only ever inserted into or replaced whole: a panic cannot leave it torn.
    known.lock().unwrap_or_else(|p| p.into_inner())
}

fn is_known(known: &Known, id: &str) -> bool {
    lock_known(known).as_ref().is_some_and(|s| s.contains(id))
}

fn store_err(location: String) -> impl Fn(StoreError) -> Error {
    move |e| Error::Repository(format!("repository {location}: {e}"))
}

/// The object key of a chunk.
pub fn chunk_key(id: &str) -> String {
    format!("chunks/{}/{}", &id[..2], id)
}

fn manifest_key(id: &str) -> String {
    format!("snapshots/{id}.json")
}

impl Repository {
    /// Opens an existing repository; `level` overrides the compression level for new chunks.
    pub async fn open(store: Arc<dyn Store>, level: Option<i32>) -> Result<Repository> {
        let loc = store.location();
        let raw = match store.get(HEADER_KEY).await {
            Ok(b) => b,
            Err(StoreError::NotFound(_)) => {
                return Err(Error::Repository(format!(
                    "no doppel repository at {loc} (the first `doppel snapshot` creates one)"
                )))
            }
            Err(e) => return Err(store_err(loc)(e)),
        };
        let header: Header = serde_json::from_slice(&raw).map_err(|e| {
            Error::Repository(format!("repository {loc}: {HEADER_KEY} is damaged: {e}"))
        })?;
        if header.format > REPO_FORMAT {
            return Err(Error::Repository(format!(
                "repository {loc} has format {}, this doppel reads up to {REPO_FORMAT}: upgrade doppel",
                header.format
            )));
        }
        let level = level.unwrap_or(header.compression.level);
        Ok(Repository {
            store,
            header,
            level,
            known: Arc::new(Mutex::new(None)),
            stats: WriteStats::default(),
        })
    }

    /// Opens the repository, creating it first when the store holds none.
    pub async fn open_or_init(store: Arc<dyn Store>, level: i32) -> Result<Repository> {
        let loc = store.location();
        let exists = store.exists(HEADER_KEY).await.map_err(|e| {
            Error::Repository(format!(
                "cannot create a repository at {loc}: {e} (check that the folder is writable)"
            ))
        })?;
        if !exists {
            let header = Header {
                format: REPO_FORMAT,
                id: hex::encode(rand::random::<[u8; 8]>()),
                created: Utc::now(),
                chunker: ChunkerParams::default(),
                compression: Compression {
                    algorithm: "zstd".into(),
                    level,
                },
                encryption: None,
            };
            let body = serde_json::to_vec_pretty(&header).expect("header serializes");
            match store.put_new(HEADER_KEY, Bytes::from(body)).await {
                Ok(()) | Err(StoreError::AlreadyExists(_)) => {}
                Err(e) => {
                    return Err(Error::Repository(format!(
                    "cannot create a repository at {loc}: {e} (check that the folder is writable)"
                )))
                }
            }
        }
        Self::open(store, Some(level)).await
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The store underneath, for locks.
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Where the repository is, for messages.
    pub fn location(&self) -> String {
        self.store.location()
    }

    /// A chunker with this repository's parameters.
    pub fn chunker(&self) -> Chunker {
        Chunker::new(self.header.chunker)
    }

    async fn known_chunks(&self) -> Result<()> {
        if self
            .known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
        {
            return Ok(());
        }
        let keys = self
            .store
            .list("chunks/")
            .await
            .map_err(store_err(self.location()))?;
        let set: HashSet<String> = keys
            .iter()
            .filter_map(|k| k.rsplit('/').next().map(str::to_string))
            .collect();
        *lock_known(&self.known) = Some(set);
        Ok(())
    }

    /// Forgets which chunks exist; called after chunks are deleted, so that a later snapshot
    /// through this handle writes them again instead of trusting a stale list.
    pub fn forget_known(&self) {
        *lock_known(&self.known) = None;
    }

    /// Stores a chunk unless the repository has it already. Hashing, the dedup check and
    /// compression run in one hop to a blocking thread, so that the async workers keep
    /// reading meanwhile.
    pub async fn put_chunk(&self, plain: Bytes) -> Result<ChunkRef> {
        self.known_chunks().await?;
        let len = plain.len() as u32;
        let (level, known) = (self.level, self.known.clone());
        let (id, body) = tokio::task::spawn_blocking(move || {
            let id = blake3::hash(&plain).to_hex().to_string();
            if is_known(&known, &id) {
                return Ok((id, None));
            }
            zstd::bulk::compress(&plain, level).map(|body| (id, Some(body)))
        })
        .await
        .map_err(|e| Error::Repository(format!("compression task failed: {e}")))?
        .map_err(|e| Error::Repository(format!("zstd compression failed: {e}")))?;
        self.stats.chunks_total.fetch_add(1, Ordering::Relaxed);
        if let Some(body) = body {
            let n = body.len() as u64;
            self.store
                .put(&chunk_key(&id), Bytes::from(body))
                .await
                .map_err(store_err(self.location()))?;
            if let Some(set) = lock_known(&self.known).as_mut() {
                set.insert(id.clone());
            }
            self.stats.chunks_new.fetch_add(1, Ordering::Relaxed);
            self.stats.bytes_new.fetch_add(n, Ordering::Relaxed);
        }
        Ok(ChunkRef { id, len })
    }

    /// Reads, decompresses and checks a chunk against its name.
    pub async fn get_chunk(&self, chunk: &ChunkRef) -> Result<Bytes> {
        let key = chunk_key(&chunk.id);
        let body = match self.store.get(&key).await {
            Ok(b) => b,
            Err(StoreError::NotFound(_)) => {
                return Err(Error::Repository(format!(
                    "chunk {} is missing from {}",
                    chunk.id,
                    self.location()
                )))
            }
            Err(e) => return Err(store_err(self.location())(e)),
        };
        let expected = chunk.clone();
        tokio::task::spawn_blocking(move || {
            let plain = zstd::bulk::decompress(&body, expected.len as usize).map_err(|e| {
                Error::Repository(format!(
                    "chunk {} is corrupted (cannot decompress: {e})",
                    expected.id
                ))
            })?;
            let actual = blake3::hash(&plain).to_hex();
            if actual.as_str() != expected.id || plain.len() != expected.len as usize {
                return Err(Error::Repository(format!(
                    "chunk {} is corrupted (its content hashes to {actual})",
                    expected.id
                )));
            }
            Ok(Bytes::from(plain))
        })
        .await
        .map_err(|e| Error::Repository(format!("decompression task failed: {e}")))?
    }

    /// Writes a manifest: the snapshot's commit point. Never overwrites.
    pub async fn put_manifest(&self, m: &Manifest) -> Result<()> {
        let body = serde_json::to_vec_pretty(m).expect("manifest serializes");
        self.store
            .put_new(&manifest_key(&m.id), Bytes::from(body))
            .await
            .map_err(store_err(self.location()))
    }

    /// Ids of every snapshot, oldest first.
    pub async fn snapshot_ids(&self) -> Result<Vec<String>> {
        let keys = self
            .store
            .list("snapshots/")
            .await
            .map_err(store_err(self.location()))?;
        Ok(keys
            .iter()
            .filter_map(|k| {
                k.strip_prefix("snapshots/")?
                    .strip_suffix(".json")
                    .map(str::to_string)
            })
            .collect())
    }

    /// Loads a manifest by full id.
    pub async fn manifest(&self, id: &str) -> Result<Manifest> {
        let raw = self
            .store
            .get(&manifest_key(id))
            .await
            .map_err(|e| match e {
                StoreError::NotFound(_) => {
                    Error::NotFound(format!("snapshot {id} not found in {}", self.location()))
                }
                e => store_err(self.location())(e),
            })?;
        parse_manifest(id, &raw)
    }

    /// Every manifest, oldest first.
    pub async fn manifests(&self) -> Result<Vec<Manifest>> {
        let mut out = Vec::new();
        for id in self.snapshot_ids().await? {
            out.push(self.manifest(&id).await?);
        }
        Ok(out)
    }

    /// Deletes a snapshot's manifest: from then on it does not exist.
    pub async fn delete_manifest(&self, id: &str) -> Result<()> {
        self.store
            .delete(&manifest_key(id))
            .await
            .map_err(store_err(self.location()))
    }

    /// Pins a snapshot so that retention keeps it.
    pub async fn pin(&self, id: &str, reason: Option<&str>) -> Result<()> {
        let pin = Pin {
            reason: reason.map(str::to_string),
            pinned_at: Utc::now(),
        };
        let body = serde_json::to_vec_pretty(&pin).expect("pin serializes");
        self.store
            .put(&format!("pins/{id}.json"), Bytes::from(body))
            .await
            .map_err(store_err(self.location()))
    }

    /// Removes a pin; false when there was none.
    pub async fn unpin(&self, id: &str) -> Result<bool> {
        let key = format!("pins/{id}.json");
        let existed = self
            .store
            .exists(&key)
            .await
            .map_err(store_err(self.location()))?;
        self.store
            .delete(&key)
            .await
            .map_err(store_err(self.location()))?;
        Ok(existed)
    }

    /// Pinned snapshot ids with their pins.
    pub async fn pins(&self) -> Result<std::collections::BTreeMap<String, Pin>> {
        let mut out = std::collections::BTreeMap::new();
        for key in self
            .store
            .list("pins/")
            .await
            .map_err(store_err(self.location()))?
        {
            let Some(id) = key
                .strip_prefix("pins/")
                .and_then(|k| k.strip_suffix(".json"))
            else {
                continue;
            };
            let raw = self
                .store
                .get(&key)
                .await
                .map_err(store_err(self.location()))?;
            let pin: Pin = serde_json::from_slice(&raw)
                .map_err(|e| Error::Repository(format!("pin {key} is damaged: {e}")))?;
            out.insert(id.to_string(), pin);
        }
        Ok(out)
    }

    /// Ids of every stored chunk.
    pub async fn chunk_ids(&self) -> Result<Vec<String>> {
        let keys = self
            .store
            .list("chunks/")
            .await
            .map_err(store_err(self.location()))?;
        Ok(keys
            .iter()
            .filter_map(|k| k.rsplit('/').next().map(str::to_string))
            .collect())
    }

    /// Deletes a chunk (garbage collection only).
    pub async fn delete_chunk(&self, id: &str) -> Result<()> {
        self.store
            .delete(&chunk_key(id))
            .await
            .map_err(store_err(self.location()))
    }

    /// Resolves what the user typed: a full id, a unique prefix, or `latest`.
    pub async fn resolve(&self, spec: &str) -> Result<Manifest> {
        let ids = self.snapshot_ids().await?;
        let id = resolve_id(&ids, spec)
            .map_err(|e| Error::NotFound(format!("{e} (in {})", self.location())))?;
        self.manifest(&id).await
    }
}

/// Parses a manifest, refusing formats newer than this build understands.
pub fn parse_manifest(id: &str, raw: &[u8]) -> Result<Manifest> {
    #[derive(Deserialize)]
    struct Probe {
        format: u32,
    }
    let probe: Probe = serde_json::from_slice(raw)
        .map_err(|e| Error::Repository(format!("manifest of snapshot {id} is damaged: {e}")))?;
    if probe.format > MANIFEST_FORMAT {
        return Err(Error::Repository(format!(
            "snapshot {id} has manifest format {}, this doppel reads up to {MANIFEST_FORMAT}: upgrade doppel",
            probe.format
        )));
    }
    serde_json::from_slice(raw)
        .map_err(|e| Error::Repository(format!("manifest of snapshot {id} is damaged: {e}")))
}

/// Picks one id from `ids` (sorted oldest first) by full id, unique prefix or `latest`.
pub fn resolve_id(ids: &[String], spec: &str) -> std::result::Result<String, String> {
    if spec == "latest" {
        return ids
            .last()
            .cloned()
            .ok_or_else(|| "there are no snapshots yet".to_string());
    }
    if ids.iter().any(|i| i == spec) {
        return Ok(spec.to_string());
    }
    let matches: Vec<&String> = ids.iter().filter(|i| i.starts_with(spec)).collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(format!("no snapshot matches '{spec}' (see `doppel list`)")),
        many => Err(format!(
            "'{spec}' is ambiguous: it matches {} snapshots ({}{}); type more of the id",
            many.len(),
            many.iter()
                .take(5)
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            if many.len() > 5 { ", …" } else { "" }
        )),
    }
}

/// A new snapshot id: UTC time to the microsecond, then randomness; ids sort by time.
pub fn new_snapshot_id(time: DateTime<Utc>) -> String {
    format!(
        "{}-{}",
        time.format("%Y%m%dT%H%M%S%.6fZ")
            .to_string()
            .replace('.', ""),
        hex::encode(rand::random::<[u8; 3]>())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[test]
    fn resolve_cases() {
        let ids: Vec<String> = [
            "20260101T000000000000Z-aa",
            "20260102T000000000000Z-bb",
            "20260102T000000000000Z-bc",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(resolve_id(&ids, "latest").unwrap(), ids[2]);
        assert_eq!(resolve_id(&ids, "20260101").unwrap(), ids[0]);
        assert_eq!(resolve_id(&ids, &ids[1]).unwrap(), ids[1]);
        assert!(resolve_id(&ids, "20260102")
            .unwrap_err()
            .contains("ambiguous"));
        assert!(resolve_id(&ids, "2027")
            .unwrap_err()
            .contains("no snapshot matches"));
        assert!(resolve_id(&[], "latest")
            .unwrap_err()
            .contains("no snapshots"));
    }

    #[test]
    fn ids_sort_by_time() {
        let a = new_snapshot_id("2026-01-01T00:00:00.5Z".parse().unwrap());
        let b = new_snapshot_id("2026-01-01T00:00:01Z".parse().unwrap());
        assert!(a < b, "{a} {b}");
        assert!(a.starts_with("20260101T000000500000Z-"), "{a}");
    }

    #[test]
    fn newer_manifest_format_is_refused() {
        let err = parse_manifest("x", br#"{"format": 99}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("format 99") && err.contains("upgrade doppel"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn chunks_dedup_and_corruption_is_caught() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let repo = Repository::open_or_init(store.clone(), 3).await.unwrap();
        let a = repo
            .put_chunk(Bytes::from_static(b"hello hello hello"))
            .await
            .unwrap();
        let b = repo
            .put_chunk(Bytes::from_static(b"hello hello hello"))
            .await
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(repo.stats.chunks_new.load(Ordering::Relaxed), 1);
        assert_eq!(
            repo.get_chunk(&a).await.unwrap(),
            Bytes::from_static(b"hello hello hello")
        );
        let other = zstd::bulk::compress(b"jello hello hello", 3).unwrap();
        store
            .put(&chunk_key(&a.id), Bytes::from(other))
            .await
            .unwrap();
        let err = repo.get_chunk(&a).await.unwrap_err().to_string();
        assert!(err.contains(&a.id) && err.contains("corrupted"), "{err}");
        store.delete(&chunk_key(&a.id)).await.unwrap();
        let err = repo.get_chunk(&a).await.unwrap_err().to_string();
        assert!(err.contains("missing"), "{err}");
    }
}
