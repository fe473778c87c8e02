//! Content-defined chunking of a byte stream with FastCDC (v2020), fed in pieces of any size.
//!
//! Cut points depend only on content: a cut is searched only once at least `max` bytes are
//! buffered (or at the end), and FastCDC never looks past `max`, so how the stream arrives
//! (one row per message, 256 KiB batches) never moves a boundary.

use bytes::{Bytes, BytesMut};
use fastcdc::v2020::{cut, select_masks, Normalization};
use serde::{Deserialize, Serialize};

/// Chunk size bounds, recorded in the repository header so every writer cuts alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkerParams {
    /// Smallest chunk, except the last of a stream.
    pub min_size: u32,
    /// Target average.
    pub avg_size: u32,
    /// Largest chunk.
    pub max_size: u32,
}

impl Default for ChunkerParams {
    /// 64 KiB / 256 KiB / 1 MiB: small enough that a local change re-stores little, large
    /// enough that a 100 GB table is some 400,000 objects, not millions.
    fn default() -> Self {
        ChunkerParams {
            min_size: 64 * 1024,
            avg_size: 256 * 1024,
            max_size: 1024 * 1024,
        }
    }
}

/// Splits a stream into chunks.
#[derive(Debug)]
pub struct Chunker {
    params: ChunkerParams,
    masks: (u64, u64),
    buf: BytesMut,
}

impl Chunker {
    /// A chunker with the given bounds.
    pub fn new(params: ChunkerParams) -> Chunker {
        Chunker {
            params,
            masks: select_masks(params.avg_size as usize, Normalization::Level1),
            buf: BytesMut::with_capacity(params.max_size as usize * 2),
        }
    }

    /// Adds bytes; returns the chunks now complete.
    pub fn push(&mut self, data: &[u8]) -> Vec<Bytes> {
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        while self.buf.len() >= self.params.max_size as usize {
            let n = self.next_cut();
            out.push(self.buf.split_to(n).freeze());
        }
        out
    }

    /// Ends the stream; returns the remaining chunks.
    pub fn finish(mut self) -> Vec<Bytes> {
        let mut out = Vec::new();
        while !self.buf.is_empty() {
            let n = self.next_cut();
            out.push(self.buf.split_to(n).freeze());
        }
        out
    }

    fn next_cut(&self) -> usize {
        let p = self.params;
        let (mask_s, mask_l) = self.masks;
        let (_, n) = cut(
            &self.buf,
            p.min_size as usize,
            p.avg_size as usize,
            p.max_size as usize,
            mask_s,
            mask_l,
            mask_s << 1,
            mask_l << 1,
        );
        n.clamp(1, self.buf.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn small() -> ChunkerParams {
        ChunkerParams {
            min_size: 256,
            avg_size: 1024,
            max_size: 4096,
        }
    }

    fn data(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 251) as u8
            })
            .collect()
    }

    fn chunk_in_pieces(d: &[u8], piece: usize) -> Vec<Bytes> {
        let mut c = Chunker::new(small());
        let mut out = Vec::new();
        for p in d.chunks(piece.max(1)) {
            out.extend(c.push(p));
        }
        out.extend(c.finish());
        out
    }

    proptest! {
        #[test]
        fn boundaries_do_not_depend_on_how_the_stream_arrives(len in 0usize..40_000, piece in 1usize..9000, seed in any::<u64>()) {
            let d = data(len, seed);
            let whole = chunk_in_pieces(&d, d.len().max(1));
            let pieces = chunk_in_pieces(&d, piece);
            prop_assert_eq!(&whole, &pieces);
            prop_assert_eq!(whole.concat(), d);
            for c in &whole {
                prop_assert!(c.len() <= 4096);
            }
        }
    }

    #[test]
    fn an_insertion_changes_only_nearby_chunks() {
        let d = data(200_000, 7);
        let mut e = d.clone();
        e.splice(100_000..100_000, b"inserted row\n".iter().copied());
        let a: std::collections::HashSet<_> = chunk_in_pieces(&d, 1000).into_iter().collect();
        let b = chunk_in_pieces(&e, 1000);
        let new = b.iter().filter(|c| !a.contains(*c)).count();
        assert!(new <= 3, "{new} of {} chunks changed", b.len());
    }
}
