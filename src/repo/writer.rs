//! Turning a stream of byte pieces (COPY messages, pg_dump output, large object reads) into
//! stored chunks, with chunk hashing, compression and storage overlapping the reading.

use bytes::Bytes;
use futures::{SinkExt, Stream, StreamExt, TryStreamExt};

use super::manifest::{self, ChunkRef};
use super::Repository;
use crate::error::Result;

/// How many chunks may be compressing or uploading at once per stream; with a bounded
/// channel in front this caps memory at a few chunks per worker, whatever the table size.
const IN_FLIGHT: usize = 2;

/// Chunks, stores and describes a stream; `inspect` sees every piece in order (digests, progress).
pub async fn write_stream<S, F>(
    repo: &Repository,
    pieces: S,
    mut inspect: F,
) -> Result<manifest::Stream>
where
    S: Stream<Item = Result<Bytes>>,
    F: FnMut(&[u8]),
{
    let mut chunker = repo.chunker();
    let (mut tx, rx) = futures::channel::mpsc::channel::<Bytes>(IN_FLIGHT * 2);
    let store_all = rx
        .map(|c| repo.put_chunk(c))
        .buffered(IN_FLIGHT)
        .try_collect::<Vec<ChunkRef>>();
    let feed = async move {
        let mut bytes = 0u64;
        futures::pin_mut!(pieces);
        while let Some(piece) = pieces.next().await {
            let piece = piece?;
            bytes += piece.len() as u64;
            inspect(&piece);
            for c in chunker.push(&piece) {
                // A closed channel means storing failed; try_join below reports that error.
                if tx.send(c).await.is_err() {
                    return Ok(bytes);
                }
            }
        }
        for c in chunker.finish() {
            if tx.send(c).await.is_err() {
                break;
            }
        }
        Ok(bytes)
    };
    let (bytes, chunks) = futures::future::try_join(feed, store_all).await?;
    Ok(manifest::Stream { chunks, bytes })
}

/// The stream's pieces read back in order, each chunk fetched and checked, `ahead` at a time.
pub fn read_stream<'a>(
    repo: &'a Repository,
    stream: &'a manifest::Stream,
    ahead: usize,
) -> impl Stream<Item = Result<Bytes>> + 'a {
    futures::stream::iter(stream.chunks.iter())
        .map(move |c| repo.get_chunk(c))
        .buffered(ahead.max(1))
}
