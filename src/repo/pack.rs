//! Packs (repository format 2): chunks are gathered into pack objects of a target size, each
//! with an index object that says where every chunk sits, so that a database of a thousand
//! small tables writes tens of objects instead of thousands, and a chunk is read back with
//! one ranged read.
//!
//! A pack is the concatenation of its blobs (a blob is a compressed, possibly sealed chunk)
//! and is named by the BLAKE3 hash of its bytes. Its index, `index/<pack>.json` (sealed in an
//! encrypted repository), is written only after the pack is stored: an index never names a
//! pack that is not there, and a pack without an index is an orphan that prune removes.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Default target size of a pack.
pub const DEFAULT_PACK_BYTES: u64 = 16 * 1024 * 1024;

/// The object key of a pack.
pub fn pack_key(id: &str) -> String {
    format!("packs/{}/{}", &id[..2], id)
}

/// The object key of a pack's index.
pub fn index_key(pack: &str) -> String {
    format!("index/{pack}.json")
}

/// The pack id of an index key, if it is one.
pub fn pack_of_index_key(key: &str) -> Option<&str> {
    key.strip_prefix("index/")?.strip_suffix(".json")
}

/// One chunk inside a pack.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IndexEntry {
    /// The chunk id.
    pub id: String,
    /// Where its blob starts in the pack.
    pub offset: u64,
    /// The blob's length in the pack.
    pub length: u32,
    /// The chunk's uncompressed length.
    pub raw: u32,
}

/// The index of one pack.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PackIndex {
    /// The pack it describes.
    pub pack: String,
    /// The pack's total size.
    pub size: u64,
    /// Its chunks in order.
    pub blobs: Vec<IndexEntry>,
}

/// Where a chunk's blob is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobLocation {
    /// The pack id.
    pub pack: std::sync::Arc<str>,
    /// Offset in the pack.
    pub offset: u64,
    /// Blob length.
    pub length: u32,
}

/// Every chunk of the repository by id, built from the index objects.
#[derive(Debug, Default)]
pub struct MasterIndex {
    /// Chunk id → location. A chunk in two packs (after an interrupted repack) keeps either.
    pub blobs: HashMap<String, BlobLocation>,
    /// Every index, by pack id.
    pub packs: HashMap<String, PackIndex>,
}

impl MasterIndex {
    /// Adds one pack's index.
    pub fn add(&mut self, index: PackIndex) {
        let pack: std::sync::Arc<str> = index.pack.as_str().into();
        for b in &index.blobs {
            self.blobs.insert(
                b.id.clone(),
                BlobLocation {
                    pack: pack.clone(),
                    offset: b.offset,
                    length: b.length,
                },
            );
        }
        self.packs.insert(index.pack.clone(), index);
    }

    /// Forgets one pack (after prune deleted it); chunks that live in another pack stay.
    pub fn remove(&mut self, pack: &str) {
        if let Some(index) = self.packs.remove(pack) {
            for b in &index.blobs {
                if self.blobs.get(&b.id).is_some_and(|l| &*l.pack == pack) {
                    self.blobs.remove(&b.id);
                }
            }
        }
    }
}

/// A full pack ready to store: its bytes and its index.
#[derive(Debug)]
pub struct SealedPack {
    /// The pack's bytes.
    pub bytes: Vec<u8>,
    /// Its index (with `pack` set to the hash of `bytes`).
    pub index: PackIndex,
}

/// Gathers blobs into packs; shared by every worker of a snapshot.
#[derive(Debug)]
pub struct Packer {
    target: usize,
    open: Mutex<(Vec<u8>, Vec<IndexEntry>)>,
}

impl Packer {
    /// A packer that closes a pack once it reaches `target` bytes.
    pub fn new(target: u64) -> Packer {
        Packer {
            target: target.max(1) as usize,
            open: Mutex::new((Vec::new(), Vec::new())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Vec<u8>, Vec<IndexEntry>)> {
        // Each change is one append of a blob with its entry; a panic cannot tear them apart.
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends a blob; returns the pack when this blob filled it.
    pub fn add(&self, id: String, blob: &[u8], raw: u32) -> Option<SealedPack> {
        let mut open = self.lock();
        let offset = open.0.len() as u64;
        open.0.extend_from_slice(blob);
        open.1.push(IndexEntry {
            id,
            offset,
            length: blob.len() as u32,
            raw,
        });
        if open.0.len() >= self.target {
            let (bytes, blobs) = std::mem::take(&mut *open);
            Some(close(bytes, blobs))
        } else {
            None
        }
    }

    /// Closes the open pack, if it holds anything.
    pub fn flush(&self) -> Option<SealedPack> {
        let mut open = self.lock();
        if open.1.is_empty() {
            return None;
        }
        let (bytes, blobs) = std::mem::take(&mut *open);
        Some(close(bytes, blobs))
    }

    /// Whether `id` waits in the open pack.
    pub fn holds(&self, id: &str) -> bool {
        self.lock().1.iter().any(|e| e.id == id)
    }
}

fn close(bytes: Vec<u8>, blobs: Vec<IndexEntry>) -> SealedPack {
    let pack = blake3::hash(&bytes).to_hex().to_string();
    SealedPack {
        index: PackIndex {
            pack,
            size: bytes.len() as u64,
            blobs,
        },
        bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_close_at_target_and_index_every_blob() {
        let p = Packer::new(10);
        assert!(p.add("a".into(), b"1234", 40).is_none());
        assert!(p.holds("a"));
        let full = p.add("b".into(), b"567890", 60).expect("full at 10 bytes");
        assert_eq!(full.bytes, b"1234567890");
        assert_eq!(full.index.size, 10);
        assert_eq!(
            full.index.pack,
            blake3::hash(b"1234567890").to_hex().to_string()
        );
        assert_eq!(
            full.index.blobs[1],
            IndexEntry {
                id: "b".into(),
                offset: 4,
                length: 6,
                raw: 60
            }
        );
        assert!(p.flush().is_none());
        p.add("c".into(), b"x", 1);
        let rest = p.flush().unwrap();
        assert_eq!(rest.index.blobs.len(), 1);

        let mut master = MasterIndex::default();
        master.add(full.index.clone());
        master.add(rest.index.clone());
        assert_eq!(master.blobs["b"].offset, 4);
        master.remove(&full.index.pack);
        assert!(!master.blobs.contains_key("a") && master.blobs.contains_key("c"));
    }
}
