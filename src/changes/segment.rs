//! The change archive as stored in the repository: one folder per archive (one stretch of
//! reading a slot without a gap), holding what it is (`archive.json`, written once), how far
//! it has got (`progress.json`, rewritten) and its segments (`segments/<seq>.json`, each
//! written once, after the chunks it names and before the slot is advanced past it).
//!
//! A segment's data is the pgoutput messages of whole transactions, as the server sent them
//! (anonymized ones rewritten by the rules), each preceded by its length as a 4-byte
//! big-endian integer: the stored form is the wire form, so replay reads it with the same
//! decoder as the archiver.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::repo::manifest::{Kind, SequenceEntry, Stream};
use crate::repo::Repository;
use crate::store::StoreError;

/// Format of the archive's documents that this build writes and the newest it reads.
pub const FORMAT: u32 = 1;

/// An archive: the changes read from one slot, without a gap, from `start_lsn` on.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Archive {
    /// Document format.
    pub format: u32,
    /// Its id: its start time and a random suffix, so that ids sort by time.
    pub id: String,
    /// The environment whose changes it holds.
    pub environment: String,
    /// Raw or anonymized, as the snapshots it extends: only snapshots of the same kind
    /// (and, anonymized, the same rules and key) serve as its bases.
    pub kind: Kind,
    /// The replication slot it reads.
    pub slot: String,
    /// The database.
    pub database: String,
    /// The cluster's `system_identifier`.
    pub system_identifier: Option<String>,
    /// Server time once the slot existed: a snapshot exported later is a base it can extend.
    pub started: DateTime<Utc>,
    /// The slot's position when the archive started.
    pub start_lsn: String,
    /// Tables the publication did not list when it started (no replica identity, or created
    /// after setup): their changes are not archived, so a restore at T has them as of the
    /// base.
    #[serde(default)]
    pub unarchived: Vec<String>,
    /// Tables (`schema.name`) the publication listed when it started: every change of theirs
    /// is in the archive, so a snapshot may reuse an earlier entry of one no change touched.
    #[serde(default)]
    pub published: Vec<String>,
}

impl Archive {
    /// The series it extends (`production/anonymized`), as [`crate::repo::Manifest::series`].
    pub fn series(&self) -> String {
        format!("{}/{}", self.environment, self.kind)
    }

    /// Whether snapshot `m` can be the base of a replay from this archive: same source and
    /// kind, exported while the slot existed, with the transactions it saw recorded.
    pub fn extends(&self, m: &crate::repo::Manifest) -> bool {
        m.series() == self.series()
            && m.kind.rules_digest == self.kind.rules_digest
            && m.kind.key_fingerprint == self.kind.key_fingerprint
            && m.source.database == self.database
            && m.source.system_identifier == self.system_identifier
            && m.time >= self.started
            && m.xid_snapshot.is_some()
    }
}

/// How far an archive has got; rewritten as it goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Progress {
    /// Segments written (the last one's `seq`).
    pub segments: u64,
    /// The slot's position after the last segment.
    pub confirmed_lsn: String,
    /// Every transaction that committed before this server time is in a segment: a
    /// restore to any time up to here is complete.
    pub caught_up: Option<DateTime<Utc>>,
    /// When this was written.
    pub updated: DateTime<Utc>,
    /// Set when the archive stopped for good: why, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<Ended>,
    /// Set by a run that returned once caught up (`changes run --once`): nothing reads the
    /// slot until the next run, so snapshots do not wait for it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
}

/// Why an archive stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ended {
    /// When it was found stopped.
    pub at: DateTime<Utc>,
    /// What happened, for status and alerts.
    pub reason: String,
}

/// Inserts, updates, deletes and truncates of one table in a segment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    /// Rows inserted.
    pub inserts: u64,
    /// Rows updated.
    pub updates: u64,
    /// Rows deleted.
    pub deletes: u64,
    /// Times truncated.
    pub truncates: u64,
    /// The newest (in xid order) transaction that changed the table in the segment: a
    /// snapshot whose oldest running transaction is newer saw every one of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_xid: Option<u32>,
}

/// A table whose columns differ from the base's: replay cannot go past this transaction
/// onto a base that does not have the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaChange {
    /// The table.
    pub table: String,
    /// What differs.
    pub what: String,
    /// The transaction that carried the first change under the new shape.
    pub xid: u32,
    /// Its commit time.
    pub commit_time: DateTime<Utc>,
}

/// A segment: whole transactions, in commit order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    /// Document format.
    pub format: u32,
    /// The archive it belongs to.
    pub archive: String,
    /// 1, 2, 3 … within the archive, without gaps.
    pub seq: u64,
    /// The slot's position before it.
    pub start_lsn: String,
    /// The slot's position after it (the end of its last commit).
    pub end_lsn: String,
    /// Commit time of its first transaction.
    pub first_commit: DateTime<Utc>,
    /// Commit time of its last transaction.
    pub last_commit: DateTime<Utc>,
    /// Transactions.
    pub transactions: u64,
    /// Row changes (inserts, updates, deletes) and truncates.
    pub changes: u64,
    /// Per table (`schema.name`).
    pub tables: BTreeMap<String, Counts>,
    /// Sequence values read on the source when the segment was closed: at least every value
    /// its rows hold, so a replay that ends in it sets them and no later insert collides.
    pub sequences: Vec<SequenceEntry>,
    /// Set when the segment ends at a schema change (the transaction is included; a replay
    /// onto an older base stops before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_change: Option<SchemaChange>,
    /// The messages.
    pub data: Stream,
    /// When it was written.
    pub written: DateTime<Utc>,
}

/// An archive as `changes status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The archive's id.
    pub id: String,
    /// Its series (`production/raw`).
    pub series: String,
    /// When it started.
    pub started: DateTime<Utc>,
    /// Segments stored.
    pub segments: u64,
    /// Transactions stored.
    pub transactions: u64,
    /// Row changes stored.
    pub changes: u64,
    /// Bytes of stored messages (before compression).
    pub bytes: u64,
    /// Commit time of the last transaction stored.
    pub last_commit: Option<DateTime<Utc>>,
    /// Every commit before this time is stored.
    pub caught_up: Option<DateTime<Utc>>,
    /// When the archive last recorded its progress.
    pub updated: Option<DateTime<Utc>>,
    /// Why it stopped, if it did.
    pub ended: Option<Ended>,
}

/// The newest archive of environment `env`, summed up; `None` when it has none.
pub async fn summary(repo: &Repository, env: &str) -> Result<Option<Summary>> {
    let Some(a) = archives(repo)
        .await?
        .into_iter()
        .rev()
        .find(|a| a.environment == env)
    else {
        return Ok(None);
    };
    let segments = segments(repo, &a.id).await?;
    let progress = progress(repo, &a.id).await?;
    Ok(Some(Summary {
        series: a.series(),
        started: a.started,
        segments: segments.len() as u64,
        transactions: segments.iter().map(|s| s.transactions).sum(),
        changes: segments.iter().map(|s| s.changes).sum(),
        bytes: segments.iter().map(|s| s.data.bytes).sum(),
        last_commit: segments.last().map(|s| s.last_commit),
        caught_up: progress.as_ref().and_then(|p| p.caught_up),
        updated: progress.as_ref().map(|p| p.updated),
        ended: progress.and_then(|p| p.ended),
        id: a.id,
    }))
}

/// Root of every archive in a repository.
const ROOT: &str = "changes/";

fn archive_key(id: &str) -> String {
    format!("{ROOT}{id}/archive.json")
}

fn progress_key(id: &str) -> String {
    format!("{ROOT}{id}/progress.json")
}

fn segment_key(archive: &str, seq: u64) -> String {
    format!("{ROOT}{archive}/segments/{seq:010}.json")
}

fn store_err(repo: &Repository) -> impl Fn(StoreError) -> Error + '_ {
    move |source| Error::Store {
        location: repo.location(),
        source: Box::new(source),
    }
}

fn parse<T: serde::de::DeserializeOwned>(key: &str, raw: &[u8]) -> Result<T> {
    let value: serde_json::Value = serde_json::from_slice(raw)
        .map_err(|e| Error::Repository(format!("{key} is not valid JSON: {e}")))?;
    let format = value.get("format").and_then(|f| f.as_u64()).unwrap_or(0);
    if format > u64::from(FORMAT) {
        return Err(Error::Repository(format!(
            "{key} has format {format}, newer than this doppel reads ({FORMAT}): upgrade doppel"
        )));
    }
    serde_json::from_value(value).map_err(|e| Error::Repository(format!("{key}: {e}")))
}

async fn get<T: serde::de::DeserializeOwned>(repo: &Repository, key: &str) -> Result<Option<T>> {
    match repo.get_file(key).await {
        Ok(raw) => parse(key, &raw).map(Some),
        Err(StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(store_err(repo)(e)),
    }
}

fn json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec_pretty(value).expect("archive documents serialize")
}

/// Writes a new archive's document (never overwrites).
pub async fn put_archive(repo: &Repository, a: &Archive) -> Result<()> {
    repo.put_file(&archive_key(&a.id), json(a), true).await
}

/// Writes an archive's progress.
pub async fn put_progress(repo: &Repository, archive: &str, p: &Progress) -> Result<()> {
    repo.put_file(&progress_key(archive), json(p), false).await
}

/// Writes a segment's document: its commit point, after every chunk it names is stored.
/// Never overwrites: a second writer of the same segment fails here instead of forking the
/// archive.
pub async fn put_segment(repo: &Repository, s: &Segment) -> Result<()> {
    repo.flush().await?;
    repo.put_file(&segment_key(&s.archive, s.seq), json(s), true)
        .await
}

/// Every archive, oldest first.
pub async fn archives(repo: &Repository) -> Result<Vec<Archive>> {
    let keys = repo.store().list(ROOT).await.map_err(store_err(repo))?;
    let mut out = Vec::new();
    for key in keys.iter().filter(|k| k.ends_with("/archive.json")) {
        let Some(id) = key
            .strip_prefix(ROOT)
            .and_then(|k| k.strip_suffix("/archive.json"))
        else {
            continue;
        };
        if let Some(a) = get::<Archive>(repo, &archive_key(id)).await? {
            out.push(a);
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// An archive's progress (`None` before its first segment or heartbeat).
pub async fn progress(repo: &Repository, archive: &str) -> Result<Option<Progress>> {
    get(repo, &progress_key(archive)).await
}

/// An archive's segments in order, checked to follow each other without a gap.
pub async fn segments(repo: &Repository, archive: &str) -> Result<Vec<Segment>> {
    let prefix = format!("{ROOT}{archive}/segments/");
    let mut keys = repo.store().list(&prefix).await.map_err(store_err(repo))?;
    keys.sort();
    let mut out: Vec<Segment> = Vec::with_capacity(keys.len());
    for key in keys.iter().filter(|k| k.ends_with(".json")) {
        let Some(s) = get::<Segment>(repo, key).await? else {
            continue;
        };
        if let Some(prev) = out.last() {
            if s.seq != prev.seq + 1 || s.start_lsn != prev.end_lsn {
                return Err(Error::Repository(format!(
                    "change archive {archive}: segment {} does not follow segment {} \
                     (positions {} then {}): the archive has a gap; run `doppel verify`",
                    s.seq, prev.seq, prev.end_lsn, s.start_lsn
                )));
            }
        }
        out.push(s);
    }
    Ok(out)
}

/// Deletes a segment's document (prune; its chunks go with the next sweep).
pub async fn delete_segment(repo: &Repository, archive: &str, seq: u64) -> Result<()> {
    repo.store()
        .delete(&segment_key(archive, seq))
        .await
        .map_err(store_err(repo))
}

/// Deletes an archive's own documents once it has no segment left.
pub async fn delete_archive(repo: &Repository, archive: &str) -> Result<()> {
    for key in [progress_key(archive), archive_key(archive)] {
        match repo.store().delete(&key).await {
            Ok(()) | Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(store_err(repo)(e)),
        }
    }
    Ok(())
}

/// Appends `message` to `out` as the segment stores it.
pub fn frame(message: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
}

/// Splits a segment's stored bytes back into messages, across the pieces they arrive in.
#[derive(Debug, Default)]
pub struct Frames {
    pending: Vec<u8>,
}

impl Frames {
    /// The messages `piece` completes; a message cut by the end of the piece waits.
    pub fn feed(&mut self, piece: &Bytes) -> Vec<Vec<u8>> {
        self.pending.extend_from_slice(piece);
        let mut out = Vec::new();
        let mut at = 0;
        while let Some(len) = self
            .pending
            .get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        {
            let Some(body) = self.pending.get(at + 4..at + 4 + len) else {
                break;
            };
            out.push(body.to_vec());
            at += 4 + len;
        }
        self.pending.drain(..at);
        out
    }

    /// Checks that the data ended on a message boundary.
    pub fn finish(self, segment: &str) -> Result<()> {
        if self.pending.is_empty() {
            Ok(())
        } else {
            Err(Error::Repository(format!(
                "change segment {segment} ends inside a message ({} bytes left over): it is \
                 damaged; run `doppel verify`",
                self.pending.len()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_come_back_whole_whatever_the_piece_boundaries() {
        let messages: Vec<Vec<u8>> = vec![b"B12345".to_vec(), Vec::new(), vec![7; 300]];
        let mut stored = Vec::new();
        for m in &messages {
            frame(m, &mut stored);
        }
        for cut in [1, 3, 4, 5, 7, 64, stored.len()] {
            let mut frames = Frames::default();
            let mut back = Vec::new();
            for piece in stored.chunks(cut) {
                back.extend(frames.feed(&Bytes::copy_from_slice(piece)));
            }
            frames.finish("t").unwrap();
            assert_eq!(back, messages, "pieces of {cut}");
        }
        let mut frames = Frames::default();
        frames.feed(&Bytes::copy_from_slice(&stored[..stored.len() - 1]));
        let e = frames.finish("7").unwrap_err().to_string();
        assert!(e.contains("ends inside a message"), "{e}");
    }
}
