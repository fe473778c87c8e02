//! `doppel derive SNAP --rules DIR`: an anonymized snapshot made from a stored raw one.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use super::progress::Progress;
use super::snapshot::Summary;
use doppel::commands::derive::{self, Options};
use doppel::config::Config;
use doppel::error::Result;

/// Arguments of `doppel derive`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The raw snapshot: full id, unique prefix, or "latest".
    pub snapshot: String,
    /// Rules folder (default: anonymization.rules in the config).
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// Keep only the referentially complete subset the rules' [subset] section describes
    /// (the snapshot is restored into a throwaway local cluster to compute it).
    #[arg(long)]
    pub subset: bool,
    /// Tables rewritten at once (default: snapshot.jobs in the config, else 2).
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Derives an anonymized snapshot; the source database is not contacted.
pub async fn run(config: &Config, args: Args) -> Result<()> {
    let counter = Arc::new(AtomicU64::new(0));
    let opts = Options {
        snapshot: args.snapshot,
        rules: args.rules,
        subset: args.subset,
        jobs: args.jobs,
        progress: counter.clone(),
    };
    let plan = derive::plan(config, &opts).await?;
    let source = plan.source().id.clone();
    let m = {
        let _bar = Progress::start(&format!("derive {source}"), 0, counter);
        plan.execute().await?
    };
    let summary = Summary::of(&m);
    if args.json {
        super::print_json(&summary);
    } else {
        summary.print();
        crate::say!("  derived from {source}");
    }
    Ok(())
}
