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

/// Raw or anonymized, and how.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Kind {
    /// `raw` or `anonymized`.
    pub kind: String,
    /// Digest of the rules applied (anonymized only).
    pub rules_digest: Option<String>,
    /// Fingerprint of the anonymization key (anonymized only); never the key.
    pub key_fingerprint: Option<String>,
    /// The raw snapshot this one was derived from.
    pub derived_from: Option<String>,
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
    pub catalog: Option<crate::rules::Catalog>,
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

    /// The series retention works on: environment and kind.
    pub fn series(&self) -> String {
        format!("{}/{}", self.source.environment, self.kind.kind)
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
