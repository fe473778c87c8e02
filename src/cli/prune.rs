//! `doppel prune`, `doppel pin`, `doppel unpin`.

use doppel::commands::pin;
use doppel::commands::prune::{self, Options};
use doppel::config::Config;
use doppel::error::Result;

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
    let opts = Options {
        dry_run: args.dry_run,
    };
    let report = prune::run(config, &opts).await?;
    if args.json {
        super::print_json(&report);
        return Ok(());
    }
    crate::say!("{}", report.plan.render_table().trim_end());
    for d in &report.segments {
        crate::say!(
            "change segment {}: {} ({})",
            d.segment,
            if d.keep { "keep" } else { "delete" },
            d.reason
        );
    }
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
    let id = pin::pin(config, &args.snapshot, args.reason.as_deref()).await?;
    crate::say!("pinned {id}: retention keeps it until `doppel unpin {id}`");
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
    let id = pin::unpin(config, &args.snapshot).await?;
    crate::say!("unpinned {id}");
    Ok(())
}
