//! `prune`: apply retention — delete the snapshots the tiers do not keep (pinned ones are
//! kept), then the chunks no snapshot references. The scheduler daemon prunes through
//! [`apply`] after every slot, on its own clock.

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::error::Result;
use crate::prune::PruneReport;
use crate::repo::Repository;
use crate::retention::Tiers;

/// Options of a prune.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Decide and report only; delete nothing.
    pub dry_run: bool,
}

/// Applies the configured retention now.
pub async fn run(config: &Config, opts: &Options) -> Result<PruneReport> {
    let repo = super::open_repo(config).await?;
    apply(&repo, &config.retention, Utc::now(), opts.dry_run).await
}

/// Applies `tiers` to an open repository as of `now`, and logs what was deleted.
pub async fn apply(
    repo: &Repository,
    tiers: &Tiers,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<PruneReport> {
    let report = crate::prune::prune(repo, tiers, now, dry_run).await?;
    if !report.deleted.is_empty() {
        tracing::info!(
            deleted = report.deleted.len(),
            chunks_swept = report.chunks_deleted,
            "pruned"
        );
    }
    Ok(report)
}
