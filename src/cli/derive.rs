//! `doppel derive SNAP --rules DIR`: an anonymized snapshot made from a stored raw one.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use super::progress::Progress;
use super::snapshot::Summary;
use crate::config::Config;
use crate::error::Result;

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
    let dir = args.rules.unwrap_or_else(|| config.rules_path.clone());
    let anonymize = super::anonymize_options(config, &dir)?;
    let repo = super::open_repo(config).await?;
    let source = repo.resolve(&args.snapshot).await?;
    let counter = Arc::new(AtomicU64::new(0));
    let jobs = args.jobs.or(config.snapshot.jobs).unwrap_or(2).max(1);
    let m = {
        let _bar = Progress::start(&format!("derive {}", source.id), 0, counter.clone());
        if args.subset {
            let spec = Arc::new(crate::source_subset::SubsetSpec::load(
                anonymize.rules.files(),
            )?);
            let opts = crate::derive::scratch_subset::SubsetDerive {
                anonymize,
                spec,
                jobs,
                pg_bin: config.snapshot.pg_bin.as_ref().map(PathBuf::from),
                part_bytes: config.snapshot.part_bytes(),
                progress: counter,
            };
            crate::derive::scratch_subset::derive_subset(repo, &source, &opts).await?
        } else {
            crate::derive::derive(repo, &source, &anonymize, jobs, counter).await?
        }
    };
    let summary = Summary::of(&m);
    if args.json {
        super::print_json(&summary);
    } else {
        summary.print();
        crate::say!("  derived from {}", source.id);
    }
    Ok(())
}
