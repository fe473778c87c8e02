//! `doppel prune`, `doppel pin`, `doppel unpin`.

use chrono::Utc;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::prune::prune;

/// Arguments of `doppel prune`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show every snapshot with keep/delete and why; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Applies retention.
pub async fn run(config: &Config, args: Args) -> Result<()> {
    let repo = super::open_repo(config).await?;
    let report = prune(&repo, &config.retention, Utc::now(), args.dry_run).await?;
    if args.json {
        super::print_json(&report);
        return Ok(());
    }
    crate::say!("{}", report.plan.render_table().trim_end());
    let kept = report.plan.decisions.iter().filter(|d| d.keep).count();
    let total = report.plan.decisions.len();
    if report.dry_run {
        crate::say!(
            "dry run: would keep {kept} of {total} snapshots and delete {}",
            total - kept
        );
    } else {
        crate::say!(
            "kept {kept} of {total} snapshots, deleted {}; swept {} unreferenced chunks, {} remain{}",
            report.deleted.len(),
            report.chunks_deleted,
            report.chunks_kept,
            if report.stale_locks_removed > 0 {
                format!("; removed {} stale lock(s)", report.stale_locks_removed)
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

/// Arguments of `doppel pin`.
#[derive(Debug, clap::Args)]
pub struct PinArgs {
    /// Snapshot: full id, unique prefix, or "latest".
    pub snapshot: String,
    /// Why it must be kept.
    #[arg(long)]
    pub reason: Option<String>,
}

/// Pins a snapshot.
pub async fn pin(config: &Config, args: PinArgs) -> Result<()> {
    let repo = super::open_repo(config).await?;
    let m = repo.resolve(&args.snapshot).await?;
    repo.pin(&m.id, args.reason.as_deref()).await?;
    crate::say!(
        "pinned {}: retention keeps it until `doppel unpin {}`",
        m.id,
        m.id
    );
    Ok(())
}

/// Arguments of `doppel unpin`.
#[derive(Debug, clap::Args)]
pub struct UnpinArgs {
    /// Snapshot: full id, unique prefix, or "latest".
    pub snapshot: String,
}

/// Unpins a snapshot.
pub async fn unpin(config: &Config, args: UnpinArgs) -> Result<()> {
    let repo = super::open_repo(config).await?;
    let m = repo.resolve(&args.snapshot).await?;
    if !repo.unpin(&m.id).await? {
        return Err(Error::NotFound(format!("snapshot {} is not pinned", m.id)));
    }
    crate::say!("unpinned {}", m.id);
    Ok(())
}
