//! `list`: every snapshot of the repository, oldest first, with its series (a subset's is its
//! own).

use serde::Serialize;

use crate::config::Config;
use crate::error::Result;

/// One snapshot of the list.
#[derive(Debug, Serialize)]
pub struct Entry {
    /// Snapshot id.
    pub id: String,
    /// Snapshot time, RFC 3339.
    pub time: String,
    /// The environment it was taken of.
    pub environment: String,
    /// `raw` or `anonymized`.
    pub kind: crate::repo::DataKind,
    /// `subset-<short digest>` for a subset, else null: a whole snapshot.
    pub subset: Option<String>,
    /// What retention and `restore --at` group it with.
    pub series: String,
    /// Tables.
    pub tables: usize,
    /// Rows.
    pub rows: u64,
    /// Bytes of table data.
    pub bytes: u64,
    /// Tags recorded.
    pub tags: Vec<String>,
}

/// The snapshots, and the repository's location (to say where none were found).
#[derive(Debug)]
pub struct Listing {
    /// Where the repository is.
    pub location: String,
    /// Its snapshots, oldest first.
    pub entries: Vec<Entry>,
}

/// Lists the repository's snapshots.
pub async fn run(config: &Config) -> Result<Listing> {
    let repo = super::open_repo(config).await?;
    let entries = repo
        .manifests()
        .await?
        .into_iter()
        .map(|m| Entry {
            time: m.time.to_rfc3339(),
            environment: m.source.environment.clone(),
            kind: m.kind.kind,
            subset: m.kind.subset.as_ref().map(|s| s.name()),
            series: m.series(),
            tables: m.tables.len(),
            rows: m.total_rows(),
            bytes: m.total_bytes(),
            tags: m.tags.clone(),
            id: m.id,
        })
        .collect();
    Ok(Listing {
        location: repo.location(),
        entries,
    })
}
