//! The repository: a header, content-addressed zstd chunks and one manifest per snapshot, on
//! any [`Store`]. Format 2 (written by this build) gathers chunks into packs with an index
//! per pack and may be encrypted; format 1 (one object per chunk) is still read and written.

pub mod chunker;
pub mod crypto;
pub mod digest;
pub mod gc;
pub mod lock;
pub mod manifest;
pub mod pack;
pub mod writer;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::{Store, StoreError};
pub use chunker::{Chunker, ChunkerParams};
use crypto::{EncryptionHeader, KeySource, Keys};
pub use manifest::{ChunkRef, DataKind, Manifest, MANIFEST_FORMAT};
use pack::{MasterIndex, PackIndex, Packer, SealedPack};

/// Repository format this build writes and the newest it reads.
pub const REPO_FORMAT: u32 = 2;
const HEADER_KEY: &str = "doppel-repo.json";
/// Index objects fetched at once when the index is loaded.
const INDEX_FETCH_AHEAD: usize = 16;

/// `doppel-repo.json`: what every reader and writer must agree on. Never encrypted: it holds
/// only public parameters.
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
    /// How objects are encrypted; `None`: they are not.
    #[serde(default)]
    pub encryption: Option<EncryptionHeader>,
    /// Target pack size (format 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pack_size: Option<u64>,
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
    /// Objects written (packs, indexes, loose chunks, manifests).
    pub objects_written: AtomicU64,
}

/// How to open (or create) a repository.
#[derive(Debug, Clone, Default)]
pub struct RepoOptions {
    /// zstd level for new chunks; the header's when unset.
    pub level: Option<i32>,
    /// The secret of an encrypted repository (and, on creation, encrypts the new one).
    pub key: Option<KeySource>,
    /// Target pack size of a new repository.
    pub pack_size: Option<u64>,
}

/// An open repository.
#[derive(Debug)]
pub struct Repository {
    store: Arc<dyn Store>,
    header: Header,
    level: i32,
    keys: Option<Keys>,
    /// Chunk ids known to exist; loaded lazily once for dedup without a request per chunk.
    known: Known,
    /// Format 2: the open pack and the index of every stored one (loaded with `known`).
    packer: Option<Packer>,
    index: Mutex<Option<MasterIndex>>,
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
    move |source| Error::Store {
        location: location.clone(),
        source: Box::new(source),
    }
}

/// Rewritten by each sweep: a long-running writer that finds it changed forgets which
/// chunks it believed stored ([`Repository::forget_known`]), since some may be gone.
pub const SWEPT_KEY: &str = "swept";

/// The object key of a chunk in a format 1 repository.
pub fn chunk_key(id: &str) -> String {
    format!("chunks/{}/{}", &id[..2], id)
}

fn manifest_key(id: &str) -> String {
    format!("snapshots/{id}.json")
}

/// What a chunk is stored as: compressed, then sealed when the repository is encrypted.
fn encode_blob(keys: Option<&Keys>, id: &str, plain: &[u8], level: i32) -> Result<Vec<u8>> {
    let packed = zstd::bulk::compress(plain, level)
        .map_err(|e| Error::Repository(format!("zstd compression failed: {e}")))?;
    Ok(match keys {
        Some(k) => k.seal(id.as_bytes(), &packed),
        None => packed,
    })
}

impl Repository {
    /// Opens an existing repository.
    pub async fn open(store: Arc<dyn Store>, opts: &RepoOptions) -> Result<Repository> {
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
        let keys = match (&header.encryption, &opts.key) {
            (None, None) => None,
            (Some(enc), Some(source)) => {
                let secret = source.read()?;
                let (enc, loc2) = (enc.clone(), loc.clone());
                // Argon2 takes a noticeable moment of CPU: keep it off the async workers.
                Some(
                    tokio::task::spawn_blocking(move || Keys::open(&secret, &enc, &loc2))
                        .await
                        .map_err(|e| {
                            Error::Repository(format!("key derivation task failed: {e}"))
                        })??,
                )
            }
            (Some(_), None) => {
                return Err(Error::Refused(format!(
                    "repository {loc} is encrypted: give its secret with \
                     [repository] encryption = {{ key_env = \"VAR\" }} (or key_file)"
                )))
            }
            (None, Some(source)) => {
                return Err(Error::Refused(format!(
                    "repository {loc} is not encrypted, but the config gives it a key ({}): \
                     remove `encryption` from the repository settings, or use a new, empty \
                     location for an encrypted repository (doppel never writes plaintext where \
                     you asked for encryption)",
                    source.describe()
                )))
            }
        };
        let level = opts.level.unwrap_or(header.compression.level);
        let packer = (header.format >= 2)
            .then(|| Packer::new(header.pack_size.unwrap_or(pack::DEFAULT_PACK_BYTES)));
        Ok(Repository {
            store,
            header,
            level,
            keys,
            known: Arc::new(Mutex::new(None)),
            packer,
            index: Mutex::new(None),
            stats: WriteStats::default(),
        })
    }

    /// Opens the repository, creating it first (format 2) when the store holds none.
    pub async fn open_or_init(store: Arc<dyn Store>, opts: &RepoOptions) -> Result<Repository> {
        let loc = store.location();
        let exists = store.exists(HEADER_KEY).await.map_err(|e| {
            Error::Repository(format!(
                "cannot create a repository at {loc}: {e} (check that the location is writable)"
            ))
        })?;
        if !exists {
            let encryption = match &opts.key {
                Some(source) => {
                    let secret = source.read()?;
                    let (_, header) = tokio::task::spawn_blocking(move || Keys::create(&secret))
                        .await
                        .map_err(|e| {
                            Error::Repository(format!("key derivation task failed: {e}"))
                        })??;
                    Some(header)
                }
                None => None,
            };
            let header = Header {
                format: REPO_FORMAT,
                id: hex::encode(rand::random::<[u8; 8]>()),
                created: Utc::now(),
                chunker: ChunkerParams::default(),
                compression: Compression {
                    algorithm: "zstd".into(),
                    level: opts.level.unwrap_or(3),
                },
                encryption,
                pack_size: Some(opts.pack_size.unwrap_or(pack::DEFAULT_PACK_BYTES)),
            };
            let body = serde_json::to_vec_pretty(&header).expect("header serializes");
            match store.put_new(HEADER_KEY, Bytes::from(body)).await {
                // Another process created it first: open theirs.
                Ok(()) | Err(StoreError::AlreadyExists(_)) => {}
                Err(e) => {
                    return Err(Error::Repository(format!(
                        "cannot create a repository at {loc}: {e} (check that the location is writable)"
                    )))
                }
            }
        }
        Self::open(store, opts).await
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Whether objects are encrypted, and the keys' public fingerprint.
    pub fn key_fingerprint(&self) -> Option<&str> {
        self.keys.as_ref().map(|k| k.fingerprint())
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

    /// The id a chunk with this content has in this repository.
    pub fn chunk_id(&self, plain: &[u8]) -> String {
        match &self.keys {
            Some(k) => k.chunk_id(plain),
            None => blake3::hash(plain).to_hex().to_string(),
        }
    }

    /// Whether this repository and `other` name equal chunks alike, so that chunk ids can be
    /// compared between them without reading the chunks.
    pub fn same_chunk_names(&self, other: &Repository) -> bool {
        self.chunk_id(b"doppel chunk naming probe") == other.chunk_id(b"doppel chunk naming probe")
    }

    /// Whether the repository stores a chunk with this id (packed, or waiting in the open pack).
    pub async fn has_chunk(&self, id: &str) -> Result<bool> {
        self.known_chunks().await?;
        Ok(is_known(&self.known, id))
    }

    /// Whether a snapshot with this id exists.
    pub async fn has_snapshot(&self, id: &str) -> Result<bool> {
        self.store
            .exists(&manifest_key(id))
            .await
            .map_err(store_err(self.location()))
    }

    /// Writes a small object (manifest, pin, drill report), sealed when encrypted; `new`:
    /// only if the key is free.
    pub async fn put_file(&self, key: &str, plain: Vec<u8>, new: bool) -> Result<()> {
        let body = Bytes::from(match &self.keys {
            Some(k) => k.seal(key.as_bytes(), &plain),
            None => plain,
        });
        let r = if new {
            self.store.put_new(key, body).await
        } else {
            self.store.put(key, body).await
        };
        self.stats.objects_written.fetch_add(1, Ordering::Relaxed);
        r.map_err(store_err(self.location()))
    }

    /// Every JSON document under `prefix` (drill reports, restore records), in key order. One
    /// that cannot be read or parsed is skipped with a warning naming it as `what`: these
    /// histories inform, they never gate.
    pub async fn documents<T: serde::de::DeserializeOwned>(
        &self,
        prefix: &str,
        what: &str,
    ) -> Result<Vec<T>> {
        let mut keys = self
            .store
            .list(prefix)
            .await
            .map_err(|e| Error::Repository(format!("cannot list {what}s: {e}")))?;
        keys.sort();
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            match self
                .get_file(&key)
                .await
                .map(|b| serde_json::from_slice(&b))
            {
                Ok(Ok(doc)) => out.push(doc),
                Ok(Err(e)) => tracing::warn!("{what} {key} does not parse: {e}"),
                Err(e) => tracing::warn!("cannot read {what} {key}: {e}"),
            }
        }
        Ok(out)
    }

    /// Reads what [`Repository::put_file`] wrote. `NotFound` stays a store error the caller
    /// can match.
    pub async fn get_file(&self, key: &str) -> std::result::Result<Vec<u8>, StoreError> {
        let raw = self.store.get(key).await?;
        match &self.keys {
            Some(k) => k
                .unseal(key.as_bytes(), &raw)
                .ok_or_else(|| StoreError::Backend {
                    op: "read",
                    key: key.to_string(),
                    message:
                        "cannot be opened with this key: it is damaged or not from this repository"
                            .into(),
                }),
            None => Ok(raw.to_vec()),
        }
    }

    async fn known_chunks(&self) -> Result<()> {
        if lock_known(&self.known).is_some() {
            return Ok(());
        }
        let set: HashSet<String> = if self.packer.is_some() {
            let index = self.load_index().await?;
            let ids = index.blobs.keys().cloned().collect();
            *self.index.lock().unwrap_or_else(|p| p.into_inner()) = Some(index);
            ids
        } else {
            self.store
                .list("chunks/")
                .await
                .map_err(store_err(self.location()))?
                .iter()
                .filter_map(|k| k.rsplit('/').next().map(str::to_string))
                .collect()
        };
        *lock_known(&self.known) = Some(set);
        Ok(())
    }

    /// Reads every pack index (format 2).
    pub async fn load_index(&self) -> Result<MasterIndex> {
        let keys = self
            .store
            .list("index/")
            .await
            .map_err(store_err(self.location()))?;
        let indexes: Vec<PackIndex> = futures::stream::iter(keys)
            .map(|key| async move {
                let raw = self
                    .get_file(&key)
                    .await
                    .map_err(store_err(self.location()))?;
                serde_json::from_slice::<PackIndex>(&raw).map_err(|e| {
                    Error::Repository(format!(
                        "repository {}: index {key} is damaged: {e}",
                        self.location()
                    ))
                })
            })
            .buffer_unordered(INDEX_FETCH_AHEAD)
            .try_collect()
            .await?;
        let mut master = MasterIndex::default();
        for i in indexes {
            master.add(i);
        }
        Ok(master)
    }

    /// Bytes and count of the packs holding chunks, from their indexes; `None` in a
    /// repository of loose chunks (format 1), whose store lists no sizes.
    pub async fn packed_size(&self) -> Result<Option<(u64, usize)>> {
        if self.packer.is_none() {
            return Ok(None);
        }
        // The index this handle keeps serves (it follows the packs this handle writes and is
        // read again after every prune): the daemon's page need not read every index per load.
        self.known_chunks().await?;
        let index = self.index.lock().unwrap_or_else(|p| p.into_inner());
        Ok(index.as_ref().map(|index| {
            (
                index.packs.values().map(|p| p.size).sum(),
                index.packs.len(),
            )
        }))
    }

    /// Forgets which chunks exist; called after chunks are deleted, so that a later snapshot
    /// through this handle writes them again instead of trusting a stale list.
    pub fn forget_known(&self) {
        *lock_known(&self.known) = None;
        *self.index.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Stores a chunk unless the repository has it already. Hashing, the dedup check and
    /// compression run in one hop to a blocking thread, so that the async workers keep
    /// reading meanwhile.
    pub async fn put_chunk(&self, plain: Bytes) -> Result<ChunkRef> {
        self.known_chunks().await?;
        let len = plain.len() as u32;
        let (level, known, keys) = (self.level, self.known.clone(), self.keys.clone());
        let (id, blob) = tokio::task::spawn_blocking(move || {
            let id = match &keys {
                Some(k) => k.chunk_id(&plain),
                None => blake3::hash(&plain).to_hex().to_string(),
            };
            if is_known(&known, &id) {
                return Ok((id, None));
            }
            encode_blob(keys.as_ref(), &id, &plain, level).map(|b| (id, Some(b)))
        })
        .await
        .map_err(|e| Error::Repository(format!("compression task failed: {e}")))??;
        self.stats.chunks_total.fetch_add(1, Ordering::Relaxed);
        let Some(blob) = blob else {
            return Ok(ChunkRef { id, len });
        };
        // Claim the id first: a twin chunk compressed by another worker meanwhile is dropped.
        if let Some(set) = lock_known(&self.known).as_mut() {
            if !set.insert(id.clone()) {
                return Ok(ChunkRef { id, len });
            }
        }
        self.stats.chunks_new.fetch_add(1, Ordering::Relaxed);
        self.stats
            .bytes_new
            .fetch_add(blob.len() as u64, Ordering::Relaxed);
        match &self.packer {
            Some(packer) => {
                if let Some(full) = packer.add(id.clone(), &blob, len) {
                    self.store_pack(full).await?;
                }
            }
            None => {
                let r = self.store.put(&chunk_key(&id), Bytes::from(blob)).await;
                self.stats.objects_written.fetch_add(1, Ordering::Relaxed);
                if let Err(e) = r {
                    // Not stored after all: a retry must write it again.
                    if let Some(set) = lock_known(&self.known).as_mut() {
                        set.remove(&id);
                    }
                    return Err(store_err(self.location())(e));
                }
            }
        }
        Ok(ChunkRef { id, len })
    }

    /// Stores a full pack, then its index; then its chunks can be read through this handle.
    async fn store_pack(&self, full: SealedPack) -> Result<()> {
        let SealedPack { bytes, index } = full;
        let key = pack::pack_key(&index.pack);
        let stored = self.store.put(&key, Bytes::from(bytes)).await;
        self.stats.objects_written.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = stored {
            // Its chunks are not stored: forget them, so that nothing later counts on them.
            if let Some(set) = lock_known(&self.known).as_mut() {
                for b in &index.blobs {
                    set.remove(&b.id);
                }
            }
            return Err(store_err(self.location())(e));
        }
        let body = serde_json::to_vec(&index).expect("index serializes");
        self.put_file(&pack::index_key(&index.pack), body, false)
            .await?;
        if let Some(master) = self
            .index
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
        {
            master.add(index);
        }
        Ok(())
    }

    /// Stores the open pack, if any: called before a manifest is written, so that every
    /// chunk it names is in a stored pack with a stored index.
    pub async fn flush(&self) -> Result<()> {
        if let Some(full) = self.packer.as_ref().and_then(Packer::flush) {
            self.store_pack(full).await?;
        }
        Ok(())
    }

    /// Where a chunk's blob is stored, for messages and reads.
    async fn blob_source(&self, id: &str) -> Result<Option<(String, u64, Option<u64>)>> {
        if self.packer.is_none() {
            return Ok(Some((chunk_key(id), 0, None)));
        }
        self.known_chunks().await?;
        let index = self.index.lock().unwrap_or_else(|p| p.into_inner());
        Ok(index
            .as_ref()
            .and_then(|i| i.blobs.get(id))
            .map(|l| (pack::pack_key(&l.pack), l.offset, Some(u64::from(l.length)))))
    }

    /// Reads, opens, decompresses and checks a chunk against its name.
    pub async fn get_chunk(&self, chunk: &ChunkRef) -> Result<Bytes> {
        let missing = || {
            Error::Repository(format!(
                "chunk {} is missing from {}",
                chunk.id,
                self.location()
            ))
        };
        let Some((key, start, len)) = self.blob_source(&chunk.id).await? else {
            return Err(missing());
        };
        let body = match self.store.get_range(&key, start, len).await {
            Ok(b) => b,
            Err(StoreError::NotFound(_)) => return Err(missing()),
            Err(e) => {
                return Err(Error::Repository(format!(
                    "chunk {} (object {key}): {e}",
                    chunk.id
                )))
            }
        };
        let expected = chunk.clone();
        let keys = self.keys.clone();
        tokio::task::spawn_blocking(move || {
            let corrupted = |why: String| {
                Error::Repository(format!(
                    "chunk {} is corrupted (object {key}{}: {why})",
                    expected.id,
                    if start > 0 || len.is_some() {
                        format!(" at byte {start}")
                    } else {
                        String::new()
                    }
                ))
            };
            let packed = match &keys {
                Some(k) => k.unseal(expected.id.as_bytes(), &body).ok_or_else(|| {
                    corrupted(
                        "it fails authentication: a byte changed, or it is not this chunk".into(),
                    )
                })?,
                None => body.to_vec(),
            };
            let plain = zstd::bulk::decompress(&packed, expected.len as usize)
                .map_err(|e| corrupted(format!("cannot decompress: {e}")))?;
            let actual = match &keys {
                Some(k) => k.chunk_id(&plain),
                None => blake3::hash(&plain).to_hex().to_string(),
            };
            if actual != expected.id || plain.len() != expected.len as usize {
                return Err(corrupted(format!("its content hashes to {actual}")));
            }
            Ok(Bytes::from(plain))
        })
        .await
        .map_err(|e| Error::Repository(format!("decompression task failed: {e}")))?
    }

    /// Stores the open pack and returns the figures of this handle's writes for a manifest
    /// about to be written (counted among the objects).
    pub async fn finish_stats(
        &self,
        started: std::time::Instant,
        bytes_read: u64,
    ) -> Result<manifest::Stats> {
        self.flush().await?;
        Ok(manifest::Stats {
            duration_ms: started.elapsed().as_millis() as u64,
            bytes_read,
            bytes_stored_new: self.stats.bytes_new.load(Ordering::Relaxed),
            chunks_total: self.stats.chunks_total.load(Ordering::Relaxed),
            chunks_new: self.stats.chunks_new.load(Ordering::Relaxed),
            objects_written: self.stats.objects_written.load(Ordering::Relaxed) + 1,
        })
    }

    /// Writes a manifest: the snapshot's commit point, after every chunk it names is stored.
    /// Never overwrites.
    pub async fn put_manifest(&self, m: &Manifest) -> Result<()> {
        self.flush().await?;
        let body = serde_json::to_vec_pretty(m).expect("manifest serializes");
        self.put_file(&manifest_key(&m.id), body, true).await
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
            .get_file(&manifest_key(id))
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
        self.put_file(&format!("pins/{id}.json"), body, false).await
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
                .get_file(&key)
                .await
                .map_err(store_err(self.location()))?;
            let pin: Pin = serde_json::from_slice(&raw)
                .map_err(|e| Error::Repository(format!("pin {key} is damaged: {e}")))?;
            out.insert(id.to_string(), pin);
        }
        Ok(out)
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

    /// Every object of a store, for scanning.
    async fn all_objects(store: &dyn Store) -> Vec<(String, Bytes)> {
        let mut out = Vec::new();
        for k in store.list("").await.unwrap() {
            out.push((k.clone(), store.get(&k).await.unwrap()));
        }
        out
    }

    #[tokio::test]
    async fn packed_chunks_dedup_and_corruption_is_caught() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let repo = Repository::open_or_init(store.clone(), &RepoOptions::default())
            .await
            .unwrap();
        assert_eq!(repo.header().format, 2);
        let a = repo
            .put_chunk(Bytes::from_static(b"hello hello hello"))
            .await
            .unwrap();
        let b = repo
            .put_chunk(Bytes::from_static(b"hello hello hello"))
            .await
            .unwrap();
        let c = repo
            .put_chunk(Bytes::from_static(b"another"))
            .await
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(repo.stats.chunks_new.load(Ordering::Relaxed), 2);
        repo.flush().await.unwrap();
        // Two chunks, one pack and its index.
        let keys = store.list("").await.unwrap();
        assert_eq!(
            keys.iter().filter(|k| k.starts_with("packs/")).count(),
            1,
            "{keys:?}"
        );
        assert_eq!(
            keys.iter().filter(|k| k.starts_with("index/")).count(),
            1,
            "{keys:?}"
        );
        // A fresh handle finds them through the index.
        let again = Repository::open(store.clone(), &RepoOptions::default())
            .await
            .unwrap();
        assert_eq!(
            again.get_chunk(&a).await.unwrap(),
            Bytes::from_static(b"hello hello hello")
        );
        assert_eq!(
            again.get_chunk(&c).await.unwrap(),
            Bytes::from_static(b"another")
        );

        let pack = keys
            .iter()
            .find(|k| k.starts_with("packs/"))
            .unwrap()
            .clone();
        let mut bytes = store.get(&pack).await.unwrap().to_vec();
        bytes[5] ^= 0x40;
        store.put(&pack, Bytes::from(bytes)).await.unwrap();
        let err = again.get_chunk(&a).await.unwrap_err().to_string();
        assert!(
            err.contains(&a.id) && err.contains("corrupted") && err.contains(&pack),
            "{err}"
        );
        store.delete(&pack).await.unwrap();
        let err = again.get_chunk(&c).await.unwrap_err().to_string();
        assert!(err.contains("missing"), "{err}");
        let check = again.check_storage().await.unwrap();
        assert!(check.faults[0].contains("missing"), "{:?}", check.faults);
        assert!(
            !check.stored.contains(&c.id),
            "a chunk of a missing pack counts as stored"
        );
    }

    #[tokio::test]
    async fn format_1_repositories_are_still_read_and_written() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let v1 = r#"{"format":1,"id":"0011223344556677","created":"2026-01-01T00:00:00Z",
            "chunker":{"min_size":65536,"avg_size":262144,"max_size":1048576},
            "compression":{"algorithm":"zstd","level":3},"encryption":null}"#;
        store
            .put(HEADER_KEY, Bytes::from_static(v1.as_bytes()))
            .await
            .unwrap();
        let old = zstd::bulk::compress(b"stored by format 1", 3).unwrap();
        let old_id = blake3::hash(b"stored by format 1").to_hex().to_string();
        store
            .put(&chunk_key(&old_id), Bytes::from(old))
            .await
            .unwrap();
        let repo = Repository::open(store.clone(), &RepoOptions::default())
            .await
            .unwrap();
        let old_ref = ChunkRef {
            id: old_id,
            len: 18,
        };
        assert_eq!(
            repo.get_chunk(&old_ref).await.unwrap(),
            Bytes::from_static(b"stored by format 1")
        );
        let new = repo
            .put_chunk(Bytes::from_static(b"new chunk"))
            .await
            .unwrap();
        assert!(store.exists(&chunk_key(&new.id)).await.unwrap());
        assert!(store.list("packs/").await.unwrap().is_empty());
        let err = Repository::open(
            store.clone(),
            &RepoOptions {
                key: Some(KeySource::Env("PATH".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(err.contains("is not encrypted"), "{err}");
    }

    #[tokio::test]
    async fn encrypted_repository_stores_no_plaintext_and_needs_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("key");
        std::fs::write(&key_file, "a long enough repository secret\n").unwrap();
        let opts = RepoOptions {
            key: Some(KeySource::File(key_file.clone())),
            ..Default::default()
        };
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let repo = Repository::open_or_init(store.clone(), &opts)
            .await
            .unwrap();
        let secret_text = b"qzv-customer alice@example.org 4111111111111111 ".repeat(50);
        let c = repo
            .put_chunk(Bytes::from(secret_text.clone()))
            .await
            .unwrap();
        assert_ne!(c.id, blake3::hash(&secret_text).to_hex().to_string());
        repo.pin("20260101T000000000000Z-aaaaaa", Some("qzv-pin-reason"))
            .await
            .unwrap();
        repo.flush().await.unwrap();
        for (key, bytes) in all_objects(store.as_ref()).await {
            for needle in [
                &b"qzv"[..],
                b"alice@example.org",
                b"4111111111111111",
                c.id.as_bytes(),
            ] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle),
                    "{key} holds plaintext {:?}",
                    String::from_utf8_lossy(needle)
                );
            }
        }
        let again = Repository::open(store.clone(), &opts).await.unwrap();
        assert_eq!(again.get_chunk(&c).await.unwrap(), Bytes::from(secret_text));
        assert!(again
            .pins()
            .await
            .unwrap()
            .contains_key("20260101T000000000000Z-aaaaaa"));

        let err = Repository::open(store.clone(), &RepoOptions::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("is encrypted"), "{err}");
        std::fs::write(&key_file, "another repository secret").unwrap();
        let err = Repository::open(store.clone(), &opts)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("wrong key") && !err.contains("another repository"),
            "{err}"
        );
    }
}
