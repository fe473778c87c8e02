//! `doppel reseed ENV [--from SNAP | --at T | --synthetic] [--seed N]`: drop and recreate a
//! non-production environment from a snapshot (or from the schema of one, filled with
//! synthetic rows), apply its `after_restore` files and seed fixtures, move sequences past
//! the values in use, check every foreign key, and report a content digest per table (equal
//! inputs give equal digests).

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use super::progress::Progress;
use doppel::commands::reseed::{self, Options};
use doppel::config::Config;
use doppel::error::Result;

/// Arguments of `doppel reseed`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The environment to reseed (never one with role production).
    pub env: String,
    /// The snapshot to load: full id, unique prefix, or "latest" (default: the newest the
    /// environment may receive).
    #[arg(long, value_name = "SNAP", conflicts_with = "at")]
    pub from: Option<String>,
    /// Load the newest snapshot taken at or before T that the environment may receive.
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    pub at: Option<String>,
    /// Fill the environment with synthetic rows generated from the schema of the snapshot
    /// chosen (as above) and the rules, instead of the snapshot's rows.
    #[arg(long)]
    pub synthetic: bool,
    /// With --synthetic: rows, seed and rules of the generation.
    #[command(flatten)]
    pub generation: super::seed::SyntheticArgs,
    /// Parallel workers.
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Reseeds an environment.
pub async fn run(config: &Config, args: Args) -> Result<()> {
    let counter = Arc::new(AtomicU64::new(0));
    let opts = Options {
        env: args.env.clone(),
        from: args.from.clone(),
        at: args.at.clone(),
        synthetic: args.synthetic,
        generation: args.generation.into(),
        jobs: args.jobs,
        progress: counter.clone(),
    };
    let plan = reseed::plan(config, &opts).await?;
    if let Some(a) = plan.restore().as_of() {
        super::restore::print_as_of(a, args.json);
    }
    let total = plan.restore().manifest().total_bytes();
    let report = {
        let _bar = Progress::start("restore", total, counter);
        plan.execute().await?
    };
    if args.json {
        super::print_json(&report);
        return Ok(());
    }
    super::restore::print_report(&report.restore);
    if let Some(s) = &report.synthetic {
        super::seed::print_report(&report.environment, s);
    }
    if !report.seeds.is_empty() {
        crate::say!(
            "  seed fixtures applied in one transaction: {}",
            report.seeds.join(", ")
        );
    }
    crate::say!(
        "reseeded {}: {} tables, {} rows, {} foreign keys valid, content digest {}",
        report.environment,
        report.content.tables.len(),
        report.content.tables.iter().map(|t| t.rows).sum::<u64>(),
        report.content.foreign_keys,
        report.content.digest
    );
    Ok(())
}
