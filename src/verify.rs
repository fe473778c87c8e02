//! `verify`: proof that snapshots can be read back, without restoring them.
//!
//! Structurally, every chunk a manifest names must exist in the store. With `read_data`,
//! chunks are fetched, decompressed and re-hashed (all of them, or a random share), and when
//! every chunk of a table is read its rows are re-counted and its content digest recomputed
//! against the manifest.

use std::collections::HashSet;

use futures::StreamExt;
use rand::seq::SliceRandom;
use serde::Serialize;

use crate::error::Result;
use crate::repo::digest::TableDigest;
use crate::repo::lock::{Lock, LockKind};
use crate::repo::manifest::Stream;
use crate::repo::writer::read_stream;
use crate::repo::{Manifest, Repository};

/// Chunks fetched ahead while reading data back.
const READ_AHEAD: usize = 8;

/// What a verification found.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// Per snapshot.
    pub snapshots: Vec<SnapshotVerification>,
    /// Faults of the storage itself (packs and indexes that disagree), whatever the snapshot.
    pub storage_faults: Vec<String>,
    /// Harmless findings (orphan packs).
    pub notes: Vec<String>,
}

impl Verification {
    /// Whether nothing was wrong.
    pub fn ok(&self) -> bool {
        self.storage_faults.is_empty() && self.snapshots.iter().all(SnapshotVerification::ok)
    }
}

/// What one snapshot's verification found.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotVerification {
    /// The snapshot.
    pub snapshot: String,
    /// Chunks the manifest names.
    pub chunks: usize,
    /// Chunks fetched, decompressed and re-hashed.
    pub chunks_read: usize,
    /// Tables whose rows were re-counted and digest recomputed.
    pub tables_recounted: usize,
    /// Bytes of data read back (uncompressed).
    pub bytes_read: u64,
    /// Every fault, naming the table (or schema, large object) and the chunk.
    pub problems: Vec<String>,
}

impl SnapshotVerification {
    /// Whether nothing was wrong.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verifies `snapshots`; `read_data` is the share of chunks to read back, in percent
/// (`None`: structure only). Holds a shared lock, so that prune cannot delete chunks while
/// they are checked.
pub async fn verify(
    repo: &Repository,
    snapshots: &[Manifest],
    read_data: Option<f64>,
) -> Result<Verification> {
    let (lock, _) = Lock::acquire(repo.store(), LockKind::Shared).await?;
    let storage = repo.check_storage().await?;
    let mut snapshots_out = Vec::with_capacity(snapshots.len());
    for m in snapshots {
        snapshots_out.push(verify_one(repo, m, &storage.stored, read_data).await);
    }
    lock.release().await?;
    Ok(Verification {
        snapshots: snapshots_out,
        storage_faults: storage.faults,
        notes: storage.notes,
    })
}

/// One stream of a snapshot.
struct Part<'m> {
    /// What it holds, for messages: "table public.orders".
    what: String,
    stream: &'m Stream,
    /// For a table: the rows and digest the manifest records.
    table: Option<(u64, &'m str)>,
}

/// Every stream of a snapshot.
fn streams(m: &Manifest) -> Vec<Part<'_>> {
    let mut all = vec![Part {
        what: "the schema".into(),
        stream: &m.schema,
        table: None,
    }];
    for t in &m.tables {
        all.push(Part {
            what: format!("table {}.{}", t.schema, t.name),
            stream: &t.data,
            table: Some((t.rows, t.digest.as_str())),
        });
    }
    for lo in &m.large_objects {
        all.push(Part {
            what: format!("large object {}", lo.oid),
            stream: &lo.data,
            table: None,
        });
    }
    all
}

async fn verify_one(
    repo: &Repository,
    m: &Manifest,
    stored: &HashSet<String>,
    read_data: Option<f64>,
) -> SnapshotVerification {
    let mut v = SnapshotVerification {
        snapshot: m.id.clone(),
        chunks: 0,
        chunks_read: 0,
        tables_recounted: 0,
        bytes_read: 0,
        problems: Vec::new(),
    };
    let streams = streams(m);
    for part in &streams {
        v.chunks += part.stream.chunks.len();
        for c in &part.stream.chunks {
            if !stored.contains(&c.id) {
                v.problems.push(format!(
                    "{}: chunk {} is missing from the store",
                    part.what, c.id
                ));
            }
        }
    }
    let Some(percent) = read_data else {
        return v;
    };
    if percent >= 100.0 {
        for part in &streams {
            read_whole(repo, part, &mut v).await;
        }
    } else {
        // A random share of every chunk reference, each read once.
        let mut refs: Vec<(&String, &crate::repo::manifest::ChunkRef)> = streams
            .iter()
            .flat_map(|p| p.stream.chunks.iter().map(move |c| (&p.what, c)))
            .collect();
        refs.shuffle(&mut rand::rng());
        let n = ((refs.len() as f64) * percent / 100.0).ceil() as usize;
        let mut seen = HashSet::new();
        for (what, c) in refs.into_iter().take(n) {
            if !seen.insert(&c.id) {
                continue;
            }
            v.chunks_read += 1;
            match repo.get_chunk(c).await {
                Ok(b) => v.bytes_read += b.len() as u64,
                Err(e) => v.problems.push(format!("{what}: {e}")),
            }
        }
    }
    v
}

/// Reads a whole stream back; for a table, re-counts its rows and recomputes its digest.
async fn read_whole(repo: &Repository, part: &Part<'_>, v: &mut SnapshotVerification) {
    let (what, stream, table) = (&part.what, part.stream, part.table);
    let mut digest = TableDigest::new();
    let pieces = read_stream(repo, stream, READ_AHEAD);
    futures::pin_mut!(pieces);
    let mut failed = false;
    while let Some(piece) = pieces.next().await {
        match piece {
            Ok(p) => {
                v.chunks_read += 1;
                v.bytes_read += p.len() as u64;
                if table.is_some() {
                    digest.update(&p);
                }
            }
            Err(e) => {
                v.problems.push(format!("{what}: {e}"));
                failed = true;
                break;
            }
        }
    }
    let Some((rows, expected)) = table else {
        return;
    };
    if failed {
        return;
    }
    v.tables_recounted += 1;
    if digest.rows() != rows || digest.hex() != expected || digest.has_partial_row() {
        v.problems.push(format!(
            "{what}: read back {} rows with digest {}, the manifest records {rows} rows with digest {expected}",
            digest.rows(),
            digest.hex()
        ));
    }
}
