//! The manifest: one JSON document per snapshot, written last. A snapshot exists exactly when
//! its manifest does.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Manifest format this build writes and the newest it reads.
pub const MANIFEST_FORMAT: u32 = 1;

/// A stored chunk: BLAKE3 of its plaintext and the plaintext length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkRef {
    /// Hex BLAKE3 of the plaintext; also the object's name.
    pub id: String,
    /// Plaintext bytes.
    pub len: u32,
}

/// A stream stored as chunks (a table's COPY text, the schema archive, a large object).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stream {
    /// The chunks in order.
    pub chunks: Vec<ChunkRef>,
    /// Total plaintext bytes.
    pub bytes: u64,
}

/// Where the snapshot came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Source {
    /// Environment name in the config that took it.
    pub environment: String,
    /// Database name.
    pub database: String,
    /// The cluster's `system_identifier`, when readable: the identity guard compares it.
    pub system_identifier: Option<String>,
    /// `server_version`.
    pub server_version: String,
    /// Major version.
    pub server_major: u32,
    /// Database encoding, collation and ctype.
    pub encoding: String,
    /// `datcollate`.
    pub collate: String,
    /// `datctype`.
    pub ctype: String,
}

/// Raw or anonymized: what a snapshot holds, and what an environment may receive (its
/// `data` policy in the config). One type for both, so that "may this environment receive
/// this snapshot" compares like with like. Serialized as `"raw"` / `"anonymized"`, as
/// manifests have always recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataKind {
    /// Exact copies of the source's rows.
    Raw,
    /// Rows rewritten by the anonymization rules.
    Anonymized,
}

impl DataKind {
    /// `raw` or `anonymized`, as in manifests and the config.
    pub fn as_str(self) -> &'static str {
        match self {
            DataKind::Raw => "raw",
            DataKind::Anonymized => "anonymized",
        }
    }
}

impl std::fmt::Display for DataKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Hex digits of a subset's digest in its series name: enough to tell specs apart in one
/// repository, short enough to read in `doppel list`.
pub const SUBSET_SHORT_DIGEST: usize = 12;

/// The subset a snapshot keeps (`snapshot --subset`, `derive --subset`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubsetRecord {
    /// BLAKE3 (hex) of the `[subset]` spec (see `SubsetSpec::digest`): a changed spec makes
    /// another series, as its slices are not comparable with the old ones.
    pub digest: String,
    /// The targets in words (`public.orders where …`, `public.reviews 5%`), for `inspect`.
    #[serde(default)]
    pub targets: Vec<String>,
}

impl SubsetRecord {
    /// `subset-<short digest>`: the last part of the series name.
    pub fn name(&self) -> String {
        let short: String = self.digest.chars().take(SUBSET_SHORT_DIGEST).collect();
        format!("subset-{short}")
    }
}

/// Raw or anonymized, and how.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Kind {
    /// Raw or anonymized.
    pub kind: DataKind,
    /// Digest of the rules applied (anonymized only).
    pub rules_digest: Option<String>,
    /// Fingerprint of the anonymization key (anonymized only); never the key.
    pub key_fingerprint: Option<String>,
    /// The raw snapshot this one was derived from.
    pub derived_from: Option<String>,
    /// The subset kept, when only a slice of the rows was taken. Absent in manifests written
    /// before subsets were recorded, which are whole snapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subset: Option<SubsetRecord>,
}

impl Kind {
    /// A whole raw snapshot.
    pub fn raw() -> Kind {
        Kind {
            kind: DataKind::Raw,
            rules_digest: None,
            key_fingerprint: None,
            derived_from: None,
            subset: None,
        }
    }
}

/// `anonymized`, or `anonymized/subset-<short digest>`: the kind part of a series name.
impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.subset {
            None => write!(f, "{}", self.kind),
            Some(s) => write!(f, "{}/{}", self.kind, s.name()),
        }
    }
}

/// One table's rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableEntry {
    /// Schema name.
    pub schema: String,
    /// Table name.
    pub name: String,
    /// Columns in the order of the COPY text.
    pub columns: Vec<String>,
    /// Row count.
    pub rows: u64,
    /// Order-independent content digest (see `repo::digest`).
    pub digest: String,
    /// The COPY text.
    pub data: Stream,
    /// Catalog OIDs, in the schema archive, of the table's own indexes and key constraints.
    #[serde(default)]
    pub index_oids: Vec<u32>,
    /// For a table read in parts (page ranges, in order): how many of `data`'s chunks each
    /// part has, so that a restore can load the parts side by side. Empty: one part.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<u64>,
}

/// A sequence's value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SequenceEntry {
    /// Schema name.
    pub schema: String,
    /// Sequence name.
    pub name: String,
    /// `last_value`.
    pub last_value: i64,
    /// `is_called`.
    pub is_called: bool,
}

/// A materialized view and whether it held data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MatviewEntry {
    /// Schema name.
    pub schema: String,
    /// View name.
    pub name: String,
    /// Whether to refresh it after restore.
    pub populated: bool,
}

/// A large object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LargeObjectEntry {
    /// OID, kept on restore.
    pub oid: u32,
    /// Owning role.
    pub owner: String,
    /// Its comment.
    #[serde(default)]
    pub comment: Option<String>,
    /// Grants to other roles.
    #[serde(default)]
    pub grants: Vec<LargeObjectGrant>,
    /// BLAKE3 of its bytes.
    pub digest: String,
    /// Its bytes.
    pub data: Stream,
}

/// One privilege on a large object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LargeObjectGrant {
    /// Role, or `PUBLIC`.
    pub grantee: String,
    /// `SELECT` or `UPDATE`.
    pub privilege: String,
    /// WITH GRANT OPTION.
    pub grantable: bool,
}

/// Figures of the run that took the snapshot.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Stats {
    /// Wall time in milliseconds.
    pub duration_ms: u64,
    /// Bytes read from the source (COPY text, schema, large objects).
    pub bytes_read: u64,
    /// Compressed bytes of the chunks this snapshot added to the repository.
    pub bytes_stored_new: u64,
    /// Chunks referenced.
    pub chunks_total: u64,
    /// Chunks written because the repository lacked them.
    pub chunks_new: u64,
    /// Objects written to the store (packs, indexes, the manifest); 0 in older manifests.
    #[serde(default)]
    pub objects_written: u64,
}

/// A snapshot's manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Manifest format version.
    pub format: u32,
    /// Snapshot id; sorts by time.
    pub id: String,
    /// The server's clock inside the snapshot transaction.
    pub time: DateTime<Utc>,
    /// WAL position of the snapshot.
    pub lsn: Option<String>,
    /// The transactions the snapshot sees, as `pg_current_snapshot()` writes them
    /// (`xmin:xmax:xip,…`): a change archive replays onto this snapshot exactly the
    /// transactions it does not see. Absent in snapshots written before it was recorded, and
    /// in those of a standby.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xid_snapshot: Option<String>,
    /// User tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Where it came from.
    pub source: Source,
    /// Raw or anonymized.
    pub kind: Kind,
    /// `pg_dump --schema-only -Fc` archive (pre-data and post-data).
    pub schema: Stream,
    /// The pg_dump that wrote `schema`, and the archive's format version: which pg_restore
    /// can read it. Absent in snapshots written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_tools: Option<crate::pg::archive::SchemaTools>,
    /// Tables, largest first.
    pub tables: Vec<TableEntry>,
    /// Sequence values.
    pub sequences: Vec<SequenceEntry>,
    /// Materialized views.
    pub matviews: Vec<MatviewEntry>,
    /// Large objects.
    pub large_objects: Vec<LargeObjectEntry>,
    /// Run figures.
    pub stats: Stats,
    /// doppel version that wrote it.
    pub tool_version: String,
    /// The source's tables, columns, keys and foreign keys as the rules see them, so that
    /// rules can be checked against a snapshot and applied to it (`derive`) without the
    /// source. Absent in snapshots written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<crate::catalog::Catalog>,
}

impl Manifest {
    /// Every chunk the snapshot needs.
    pub fn chunk_ids(&self) -> impl Iterator<Item = &str> {
        self.chunk_refs().map(|c| c.id.as_str())
    }

    /// Every chunk reference, in stream order (a chunk may appear more than once).
    pub fn chunk_refs(&self) -> impl Iterator<Item = &ChunkRef> {
        self.schema
            .chunks
            .iter()
            .chain(self.tables.iter().flat_map(|t| t.data.chunks.iter()))
            .chain(self.large_objects.iter().flat_map(|l| l.data.chunks.iter()))
    }

    /// Every chunk reference, to rename chunks when a snapshot moves to a repository that
    /// names them with another key.
    pub fn chunk_refs_mut(&mut self) -> impl Iterator<Item = &mut ChunkRef> {
        self.schema
            .chunks
            .iter_mut()
            .chain(
                self.tables
                    .iter_mut()
                    .flat_map(|t| t.data.chunks.iter_mut()),
            )
            .chain(
                self.large_objects
                    .iter_mut()
                    .flat_map(|l| l.data.chunks.iter_mut()),
            )
    }

    /// The series retention, `restore --at` and `list` work on: environment, kind and, for a
    /// subset, the subset (`production/anonymized/subset-1f3a…`), so that a slice never
    /// stands in for a whole database.
    pub fn series(&self) -> String {
        format!("{}/{}", self.source.environment, self.kind)
    }

    /// Total rows over all tables.
    pub fn total_rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }

    /// Total plaintext bytes of table data.
    pub fn total_bytes(&self) -> u64 {
        self.tables.iter().map(|t| t.data.bytes).sum()
    }
}

/// A manifest document in the form doppel wrote before subsets were recorded (no `subset`
/// in its kind) and with no data: what tests of snapshot choice and retention start from.
#[cfg(test)]
pub(crate) fn sample_json(
    id: &str,
    time: &str,
    environment: &str,
    kind: &str,
) -> serde_json::Value {
    serde_json::json!({
        "format": 1, "id": id, "time": time, "lsn": "0/1000", "tags": [],
        "source": {"environment": environment, "database": "shop",
            "system_identifier": "7000", "server_version": "15.8", "server_major": 15,
            "encoding": "UTF8", "collate": "C", "ctype": "C"},
        "kind": {"kind": kind, "rules_digest": null, "key_fingerprint": null,
            "derived_from": null},
        "schema": {"chunks": [], "bytes": 0},
        "tables": [], "sequences": [], "matviews": [], "large_objects": [],
        "stats": {"duration_ms": 0, "bytes_read": 0, "bytes_stored_new": 0,
            "chunks_total": 0, "chunks_new": 0},
        "tool_version": "0.1.0"
    })
}

/// [`sample_json`], read.
#[cfg(test)]
pub(crate) fn sample(id: &str, time: &str, environment: &str, kind: &str) -> Manifest {
    serde_json::from_value(sample_json(id, time, environment, kind)).expect("a sample manifest")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A manifest as doppel wrote it before subsets were recorded: no `subset` in its kind.
    fn old_manifest(kind: &str) -> serde_json::Value {
        sample_json(
            "20261121T120000Z-0001",
            "2026-11-21T12:00:00Z",
            "production",
            kind,
        )
    }

    #[test]
    fn manifests_without_a_subset_read_as_whole_snapshots() {
        for (text, kind) in [("raw", DataKind::Raw), ("anonymized", DataKind::Anonymized)] {
            let m: Manifest = serde_json::from_value(old_manifest(text)).unwrap();
            assert_eq!(m.kind.kind, kind);
            assert_eq!(m.kind.subset, None);
            assert_eq!(m.series(), format!("production/{text}"));
            // Written back, it is the same document: no subset key appears.
            let again = serde_json::to_value(&m).unwrap();
            assert_eq!(again["kind"], old_manifest(text)["kind"]);
        }
    }

    #[test]
    fn an_unknown_kind_is_refused_by_name() {
        let e = serde_json::from_value::<Manifest>(old_manifest("partial"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("partial") && e.contains("anonymized"), "{e}");
    }

    #[test]
    fn a_subset_is_a_series_of_its_own_named_by_its_digest() {
        let mut m: Manifest = serde_json::from_value(old_manifest("anonymized")).unwrap();
        let whole = m.series();
        m.kind.subset = Some(SubsetRecord {
            digest: "0123456789abcdef".repeat(4),
            targets: vec!["public.orders 5%".into()],
        });
        assert_eq!(m.series(), "production/anonymized/subset-0123456789ab");
        assert_ne!(m.series(), whole);
        // Another spec, another series.
        let mut other = m.clone();
        other.kind.subset.as_mut().unwrap().digest = "fedcba9876543210".repeat(4);
        assert_ne!(other.series(), m.series());
        // And the record survives a round trip through JSON.
        let back: Manifest = serde_json::from_value(serde_json::to_value(&m).unwrap()).unwrap();
        assert_eq!(back.kind.subset, m.kind.subset);
        assert_eq!(back.series(), m.series());
    }
}
