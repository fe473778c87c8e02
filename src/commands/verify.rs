//! `verify`: prove that snapshots can be read back — every chunk present, and with
//! `read_data` re-hashed (and, when all are read, every table re-counted).

use serde::Serialize;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::verify::Verification;

/// Options of a verification.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Snapshot: full id, unique prefix, or "latest" (default: latest).
    pub snapshot: Option<String>,
    /// Every snapshot in the repository.
    pub all: bool,
    /// Also read back this percentage of the chunks (above 0, at most 100).
    pub read_data: Option<f64>,
}

/// What a verification found.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Per snapshot, and the storage's own faults and notes.
    #[serde(flatten)]
    pub found: Verification,
    /// The share of chunks read back, when any were.
    pub read_data_percent: Option<f64>,
    /// Whether nothing was wrong.
    pub ok: bool,
}

/// Verifies the snapshots asked for; faults are in the report (see [`verdict`]).
pub async fn run(config: &Config, opts: &Options) -> Result<Report> {
    if let Some(p) = opts.read_data {
        if !(p > 0.0 && p <= 100.0) {
            return Err(Error::Config(format!(
                "--read-data={p}: give a percentage above 0 and at most 100"
            )));
        }
    }
    let repo = super::open_repo(config).await?;
    let snapshots = if opts.all {
        repo.manifests().await?
    } else {
        vec![
            repo.resolve(opts.snapshot.as_deref().unwrap_or("latest"))
                .await?,
        ]
    };
    let found = crate::verify::verify(&repo, &snapshots, opts.read_data).await?;
    let record = crate::status::production::VerifyRecord {
        at: chrono::Utc::now(),
        snapshots: found.snapshots.len(),
        read_data_percent: opts.read_data,
        ok: found.ok(),
        faulty: found
            .snapshots
            .iter()
            .filter(|s| !s.ok())
            .map(|s| s.snapshot.clone())
            .collect(),
        storage_faults: found.storage_faults.len(),
    };
    crate::status::production::record_verify(&repo, &record).await;
    Ok(Report {
        ok: found.ok(),
        found,
        read_data_percent: opts.read_data,
    })
}

/// The verification's outcome as a result: an error naming the faulty snapshots.
pub fn verdict(report: &Report) -> Result<()> {
    if report.ok {
        return Ok(());
    }
    let faulty: Vec<&str> = report
        .found
        .snapshots
        .iter()
        .filter(|r| !r.ok())
        .map(|r| r.snapshot.as_str())
        .collect();
    Err(Error::Verification(if faulty.is_empty() {
        format!(
            "{} fault(s) in how chunks are stored (packs and indexes disagree)",
            report.found.storage_faults.len()
        )
    } else {
        format!("faults found in snapshot(s) {}", faulty.join(", "))
    }))
}
