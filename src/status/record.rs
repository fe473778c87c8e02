//! Restore records: every restore, reseed and demo restore stores one under [`PREFIX`] in the
//! repository, so that status tells what each environment holds without a database.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::repo::Repository;

/// Where the repository keeps restore records.
pub const PREFIX: &str = "restores/";

/// A restore doppel made, as the repository remembers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreRecord {
    /// The environment restored into; `None` for a database named by URL.
    pub environment: Option<String>,
    /// The target, its password redacted.
    pub target: String,
    /// The command that restored (`restore`, `reseed`).
    pub command: String,
    /// The snapshot restored.
    pub snapshot: String,
    /// Its series (`production/anonymized`).
    pub series: String,
    /// When the snapshot was taken.
    pub snapshot_time: DateTime<Utc>,
    /// With archived changes replayed: the time the database is as of (else the snapshot's).
    pub as_of: Option<DateTime<Utc>>,
    /// When the restore finished.
    pub restored_at: DateTime<Utc>,
    /// How the restore was verified (`loaded`, `full`).
    pub verify: String,
}

impl RestoreRecord {
    /// The record of `report`, the restore of `m` into `environment` by `command`, now.
    pub fn of(
        m: &crate::repo::Manifest,
        report: &crate::restore::RestoreReport,
        environment: Option<&str>,
        command: &str,
    ) -> RestoreRecord {
        RestoreRecord {
            environment: environment.map(String::from),
            target: report.target.clone(),
            command: command.to_string(),
            snapshot: m.id.clone(),
            series: m.series(),
            snapshot_time: m.time,
            as_of: report.replay.as_ref().and_then(|r| r.until),
            restored_at: Utc::now(),
            verify: serde_json::to_value(report.verify)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
        }
    }

    /// The moment of production the database holds.
    pub fn point(&self) -> DateTime<Utc> {
        self.as_of.unwrap_or(self.snapshot_time)
    }
}

/// Stores `record` (sealed like every repository document); a failure is only logged: the data
/// is in place, and status merely stays unaware of it.
pub async fn record_or_warn(repo: &Repository, record: &RestoreRecord) {
    if let Err(e) = self::record(repo, record).await {
        tracing::warn!(
            "the restore is done, but its record for `doppel status` could not be stored: {e}"
        );
    }
}

/// Stores `record` (sealed like every repository document).
pub async fn record(repo: &Repository, record: &RestoreRecord) -> Result<()> {
    put_record(repo, PREFIX, record.restored_at, record).await
}

/// Stores `record` under `prefix`, named by its time `at` and a random suffix, so that
/// records written at once by several processes never collide.
pub(super) async fn put_record<T: Serialize>(
    repo: &Repository,
    prefix: &str,
    at: DateTime<Utc>,
    record: &T,
) -> Result<()> {
    let key = format!(
        "{prefix}{}-{}.json",
        at.format("%Y%m%dT%H%M%S%.6fZ"),
        hex::encode(rand::random::<[u8; 4]>())
    );
    let json = serde_json::to_vec_pretty(record).expect("a record serializes");
    repo.put_file(&key, json, true).await
}

/// Every restore record, oldest first; one that cannot be read is skipped with a warning.
pub async fn records(repo: &Repository) -> Result<Vec<RestoreRecord>> {
    let mut out: Vec<RestoreRecord> = repo.documents(PREFIX, "restore record").await?;
    out.sort_by_key(|r: &RestoreRecord| r.restored_at);
    Ok(out)
}
