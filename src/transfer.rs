//! `doppel copy`: snapshots from one repository into another (an offsite copy from disk to
//! S3, say), sending only the chunks the destination lacks.
//!
//! When both repositories name chunks alike (both unencrypted, or encrypted with the same
//! keys), a chunk the destination already has is skipped without being read. Otherwise every
//! chunk is read, checked and renamed under the destination's key, and only those it lacks
//! are stored. Every chunk sent is read back through the source's checks first, so a damaged
//! source is reported instead of copied. The manifest goes last, after the chunks it names:
//! an interrupted copy lists nothing in the destination.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use futures::{StreamExt, TryStreamExt};
use serde::Serialize;

use crate::error::Result;
use crate::repo::lock::{Lock, LockKind};
use crate::repo::{ChunkRef, Manifest, Repository};

/// Chunks read from the source at once.
const AHEAD: usize = 8;

/// What a copy did.
#[derive(Debug, Default, Serialize)]
pub struct CopyReport {
    /// Snapshots copied.
    pub copied: Vec<String>,
    /// Snapshots the destination had already.
    pub already_there: Vec<String>,
    /// Distinct chunks the copied snapshots name.
    pub chunks: u64,
    /// Chunks stored in the destination (the rest it had).
    pub chunks_sent: u64,
    /// Compressed bytes stored in the destination.
    pub bytes_sent: u64,
    /// Objects written to the destination (packs, indexes, manifests).
    pub objects_written: u64,
}

/// Copies `snapshots` from `src` into `dst`.
pub async fn copy(
    src: &Repository,
    dst: &Repository,
    snapshots: &[Manifest],
) -> Result<CopyReport> {
    let (src_lock, _) = Lock::acquire(src.store(), LockKind::Shared).await?;
    let (dst_lock, _) = Lock::acquire(dst.store(), LockKind::Shared).await?;
    let same_names = src.same_chunk_names(dst);
    let mut report = CopyReport::default();
    let before = (
        dst.stats.chunks_new.load(Ordering::Relaxed),
        dst.stats.bytes_new.load(Ordering::Relaxed),
        dst.stats.objects_written.load(Ordering::Relaxed),
    );
    // Source id → destination id, over every snapshot of this run.
    let mut renamed: HashMap<String, String> = HashMap::new();
    for m in snapshots {
        if dst.has_snapshot(&m.id).await? {
            report.already_there.push(m.id.clone());
            continue;
        }
        let mut todo: Vec<ChunkRef> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for c in m.chunk_refs() {
            if renamed.contains_key(&c.id) || !seen.insert(c.id.clone()) {
                continue;
            }
            if same_names && dst.has_chunk(&c.id).await? {
                renamed.insert(c.id.clone(), c.id.clone());
                continue;
            }
            todo.push(c.clone());
        }
        report.chunks += seen.len() as u64;
        let moved: Vec<(String, String)> = futures::stream::iter(todo)
            .map(|c| async move {
                let plain = src.get_chunk(&c).await.map_err(|e| {
                    crate::error::Error::Repository(format!("snapshot {}: {e}", m.id))
                })?;
                let new = dst.put_chunk(plain).await?;
                Ok::<_, crate::error::Error>((c.id, new.id))
            })
            .buffered(AHEAD)
            .try_collect()
            .await?;
        renamed.extend(moved);
        let mut copy = m.clone();
        for c in copy.chunk_refs_mut() {
            if let Some(new) = renamed.get(&c.id) {
                c.id = new.clone();
            }
        }
        dst.put_manifest(&copy).await?;
        report.copied.push(m.id.clone());
    }
    report.chunks_sent = dst.stats.chunks_new.load(Ordering::Relaxed) - before.0;
    report.bytes_sent = dst.stats.bytes_new.load(Ordering::Relaxed) - before.1;
    report.objects_written = dst.stats.objects_written.load(Ordering::Relaxed) - before.2;
    dst_lock.release().await?;
    src_lock.release().await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::crypto::KeySource;
    use crate::repo::RepoOptions;
    use crate::store::{MemoryStore, Store};
    use bytes::Bytes;
    use std::sync::Arc;

    async fn snapshot_of(repo: &Repository, id: &str, texts: &[&[u8]]) -> Manifest {
        let mut m: Manifest = serde_json::from_value(serde_json::json!({
            "format": 1, "id": id, "time": "2026-11-22T00:00:00Z", "lsn": null,
            "source": {"environment": "prod", "database": "shop", "system_identifier": null,
                "server_version": "15", "server_major": 15, "encoding": "UTF8",
                "collate": "C", "ctype": "C"},
            "kind": {"kind": "raw"},
            "schema": {"chunks": [], "bytes": 0},
            "tables": [], "sequences": [], "matviews": [], "large_objects": [],
            "stats": {"duration_ms": 0, "bytes_read": 0, "bytes_stored_new": 0,
                "chunks_total": 0, "chunks_new": 0},
            "tool_version": "test"
        }))
        .unwrap();
        for t in texts {
            let c = repo.put_chunk(Bytes::copy_from_slice(t)).await.unwrap();
            m.schema.bytes += t.len() as u64;
            m.schema.chunks.push(c);
        }
        repo.put_manifest(&m).await.unwrap();
        m
    }

    async fn plain_of(repo: &Repository, m: &Manifest) -> Vec<Bytes> {
        let mut out = Vec::new();
        for c in &m.schema.chunks {
            out.push(repo.get_chunk(c).await.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn only_missing_chunks_travel_and_keys_are_renamed() {
        let src = Repository::open_or_init(Arc::new(MemoryStore::new()), &RepoOptions::default())
            .await
            .unwrap();
        let a = snapshot_of(&src, "20261122T000000000000Z-aaaaaa", &[b"one", b"two"]).await;
        let b = snapshot_of(&src, "20261122T010000000000Z-bbbbbb", &[b"one", b"three"]).await;

        // Same naming: the second copy sends only "three".
        let dst = Repository::open_or_init(Arc::new(MemoryStore::new()), &RepoOptions::default())
            .await
            .unwrap();
        let r = copy(&src, &dst, std::slice::from_ref(&a)).await.unwrap();
        assert_eq!((r.copied.len(), r.chunks_sent), (1, 2));
        let r = copy(&src, &dst, &[a.clone(), b.clone()]).await.unwrap();
        assert_eq!(r.already_there, vec![a.id.clone()]);
        assert_eq!(r.chunks_sent, 1);
        assert_eq!(
            plain_of(&dst, &dst.manifest(&b.id).await.unwrap()).await,
            plain_of(&src, &b).await
        );

        // Into an encrypted repository: names change, contents do not.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k"), "offsite repository secret").unwrap();
        let enc_store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let enc = Repository::open_or_init(
            enc_store.clone(),
            &RepoOptions {
                key: Some(KeySource::File(dir.path().join("k"))),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let r = copy(&src, &enc, &[a.clone(), b.clone()]).await.unwrap();
        assert_eq!((r.copied.len(), r.chunks, r.chunks_sent), (2, 3, 3));
        let copied = enc.manifest(&b.id).await.unwrap();
        assert_ne!(copied.schema.chunks[0].id, b.schema.chunks[0].id);
        assert_eq!(plain_of(&enc, &copied).await, plain_of(&src, &b).await);
    }

    #[tokio::test]
    async fn a_damaged_source_chunk_stops_the_copy_and_lists_nothing() {
        let src_store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let src = Repository::open_or_init(src_store.clone(), &RepoOptions::default())
            .await
            .unwrap();
        let a = snapshot_of(&src, "20261122T000000000000Z-aaaaaa", &[b"one"]).await;
        let pack = src_store.list("packs/").await.unwrap()[0].clone();
        let mut bytes = src_store.get(&pack).await.unwrap().to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        src_store.put(&pack, Bytes::from(bytes)).await.unwrap();
        let dst = Repository::open_or_init(Arc::new(MemoryStore::new()), &RepoOptions::default())
            .await
            .unwrap();
        let err = copy(&src, &dst, std::slice::from_ref(&a))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(&a.id) && err.contains("corrupted"), "{err}");
        assert!(dst.snapshot_ids().await.unwrap().is_empty());
    }
}
