//! Garbage collection and structural checks of stored chunks, for both layouts.
//!
//! Format 1 deletes unreferenced chunk objects. Format 2 deletes packs none of whose chunks
//! is referenced, rewrites packs that are more than half unused (copying the still-used
//! blobs as they are, so nothing is decompressed or re-encrypted), and removes orphan packs
//! left by an interrupted upload. New packs and indexes are stored before old ones are
//! deleted, so an interruption at any point leaves every kept chunk readable.

use std::collections::HashSet;

use bytes::Bytes;
use serde::Serialize;

use super::pack::{self, PackIndex};
use super::{chunk_key, store_err, Repository};
use crate::error::Result;

/// How chunks are stored, as `verify` sees it.
#[derive(Debug, Default)]
pub struct StorageCheck {
    /// Ids of every stored chunk: for packs, those an index names in a pack that exists.
    pub stored: HashSet<String>,
    /// Packs and indexes that disagree.
    pub faults: Vec<String>,
    /// Harmless findings (orphan packs).
    pub notes: Vec<String>,
}

/// What a sweep did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Sweep {
    /// Chunks no longer stored.
    pub chunks_deleted: usize,
    /// Chunks still referenced.
    pub chunks_kept: usize,
    /// Packs deleted (emptied, rewritten or orphaned).
    pub packs_deleted: usize,
    /// Packs whose used chunks were copied into new packs.
    pub packs_rewritten: usize,
}

impl Repository {
    /// Deletes every chunk not in `referenced`. The caller holds the exclusive lock.
    pub async fn sweep(&self, referenced: &HashSet<&str>) -> Result<Sweep> {
        let mut out = Sweep::default();
        let err = store_err(self.location());
        if self.packer.is_none() {
            for id in self.object_names("chunks/").await? {
                if referenced.contains(id.as_str()) {
                    out.chunks_kept += 1;
                } else {
                    self.store.delete(&chunk_key(&id)).await.map_err(&err)?;
                    out.chunks_deleted += 1;
                }
            }
            self.forget_known();
            return Ok(out);
        }
        let master = self.load_index().await?;
        for key in self.store.list("packs/").await.map_err(&err)? {
            let id = key.rsplit('/').next().unwrap_or_default();
            if !master.packs.contains_key(id) {
                self.store.delete(&key).await.map_err(&err)?;
                out.packs_deleted += 1;
            }
        }
        // A chunk kept by one pack need not be copied again from another.
        let mut placed: HashSet<String> = HashSet::new();
        for index in master.packs.values() {
            let used: Vec<_> = index
                .blobs
                .iter()
                .filter(|b| referenced.contains(b.id.as_str()))
                .collect();
            let used_bytes: u64 = used.iter().map(|b| u64::from(b.length)).sum();
            let rewrite = !used.is_empty() && used_bytes * 2 < index.size;
            if !used.is_empty() && !rewrite {
                out.chunks_kept += used.len();
                out.chunks_deleted += index.blobs.len() - used.len();
                placed.extend(used.iter().map(|b| b.id.clone()));
                continue;
            }
            if rewrite {
                let packer = self.packer.as_ref().expect("format 2 has a packer");
                let key = pack::pack_key(&index.pack);
                for b in &used {
                    if !placed.insert(b.id.clone()) {
                        continue;
                    }
                    let blob = self
                        .store
                        .get_range(&key, b.offset, Some(u64::from(b.length)))
                        .await
                        .map_err(&err)?;
                    if let Some(full) = packer.add(b.id.clone(), &blob, b.raw) {
                        self.store_pack(full).await?;
                    }
                }
                self.flush().await?;
                out.packs_rewritten += 1;
                out.chunks_kept += used.len();
            }
            out.chunks_deleted += index.blobs.len() - used.len();
            self.delete_pack(index).await?;
            out.packs_deleted += 1;
        }
        self.forget_known();
        Ok(out)
    }

    /// Ids of the pack objects in the store.
    async fn stored_packs(&self) -> Result<HashSet<String>> {
        self.object_names("packs/").await
    }

    /// The last path segment of every object under `prefix` (chunk or pack ids).
    async fn object_names(&self, prefix: &str) -> Result<HashSet<String>> {
        Ok(self
            .store
            .list(prefix)
            .await
            .map_err(store_err(self.location()))?
            .iter()
            .filter_map(|k| k.rsplit('/').next().map(str::to_string))
            .collect())
    }

    /// Deletes a pack's index, then the pack: never an index without its pack.
    async fn delete_pack(&self, index: &PackIndex) -> Result<()> {
        let err = store_err(self.location());
        self.store
            .delete(&pack::index_key(&index.pack))
            .await
            .map_err(&err)?;
        self.store
            .delete(&pack::pack_key(&index.pack))
            .await
            .map_err(&err)
    }

    /// The stored chunks, and faults in how they are stored, independent of any snapshot: every index names a
    /// pack that exists with at least the size the index records, and its blobs lie inside
    /// it without overlapping. Packs without an index are reported as notes, not faults:
    /// an interrupted upload leaves them, and prune removes them.
    pub async fn check_storage(&self) -> Result<StorageCheck> {
        let (mut faults, mut notes) = (Vec::new(), Vec::new());
        if self.packer.is_none() {
            return Ok(StorageCheck {
                stored: self.object_names("chunks/").await?,
                ..StorageCheck::default()
            });
        }
        // The index and the pack listing are read once, for the chunks and the checks both.
        let master = self.load_index().await?;
        let stored = self.stored_packs().await?;
        for index in master.packs.values() {
            let key = pack::pack_key(&index.pack);
            if !stored.contains(&index.pack) {
                faults.push(format!(
                    "index {} names pack {key}, which is missing",
                    pack::index_key(&index.pack)
                ));
                continue;
            }
            let mut end = 0u64;
            for b in &index.blobs {
                if b.offset < end {
                    faults.push(format!(
                        "index of pack {key}: chunk {} overlaps the one before it",
                        b.id
                    ));
                }
                end = b.offset + u64::from(b.length);
            }
            if end > index.size {
                faults.push(format!(
                    "index of pack {key}: chunks run past the pack's recorded size {}",
                    index.size
                ));
            }
            if index.size > 0 {
                if let Err(e) = self.store.get_range(&key, index.size - 1, Some(1)).await {
                    faults.push(format!(
                        "pack {key} is shorter than its index says ({} bytes): {e}",
                        index.size
                    ));
                }
            }
        }
        for id in stored.iter().filter(|p| !master.packs.contains_key(*p)) {
            notes.push(format!(
                "pack {} has no index (left by an interrupted snapshot; prune removes it)",
                pack::pack_key(id)
            ));
        }
        let chunks = master
            .blobs
            .into_iter()
            .filter(|(_, l)| stored.contains(&*l.pack))
            .map(|(id, _)| id)
            .collect();
        Ok(StorageCheck {
            stored: chunks,
            faults,
            notes,
        })
    }

    /// A blob exactly as stored (compressed, sealed), for copying between repositories that
    /// name and seal chunks alike.
    pub async fn raw_blob(&self, id: &str) -> Result<Option<Bytes>> {
        let Some((key, start, len)) = self.blob_source(id).await? else {
            return Ok(None);
        };
        match self.store.get_range(&key, start, len).await {
            Ok(b) => Ok(Some(b)),
            Err(crate::store::StoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(store_err(self.location())(e)),
        }
    }
}
