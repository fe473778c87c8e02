//! `doppel seed generate --env ENV --rows public.customer=1000,… [--seed N]`: synthetic rows
//! for an environment whose database has the schema and no rows.

use std::path::PathBuf;

use doppel::commands::seed::{self, Synthetic};
use doppel::config::Config;
use doppel::error::Result;
use doppel::synth::SynthReport;

/// `doppel seed …`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Generate rows for an empty database from its schema and the rules.
    Generate(GenerateArgs),
}

/// How many rows, from which seed, shaped by which rules: shared by `seed generate` and
/// `reseed --synthetic`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SyntheticArgs {
    /// Rows per table: schema.table=COUNT, comma-separated.
    #[arg(long, value_name = "TABLE=N,…")]
    pub rows: Option<String>,
    /// Rows of every table --rows does not name [default: 10].
    #[arg(long, value_name = "N")]
    pub default_rows: Option<u64>,
    /// The seed: the same seed, schema, rules and counts give the same rows [default: 0].
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Rules whose column transformers shape the values (default: anonymization.rules in
    /// the config, when that folder has rules).
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
}

impl From<SyntheticArgs> for Synthetic {
    fn from(a: SyntheticArgs) -> Synthetic {
        Synthetic {
            rows: a.rows,
            default_rows: a.default_rows,
            seed: a.seed,
            rules: a.rules,
        }
    }
}

/// Arguments of `doppel seed generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// The environment whose database gets the rows (never one with role production).
    #[arg(long)]
    pub env: String,
    /// Rows, seed and rules of the generation.
    #[command(flatten)]
    pub synthetic: SyntheticArgs,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `doppel seed …`.
pub async fn run(config: &Config, command: Command) -> Result<()> {
    let Command::Generate(args) = command;
    let report = seed::generate(config, &args.env, &args.synthetic.into()).await?;
    if args.json {
        super::print_json(&report);
    } else {
        print_report(&args.env, &report);
    }
    Ok(())
}

/// The report for people.
pub fn print_report(env: &str, report: &SynthReport) {
    let rows = report.total_rows();
    crate::say!(
        "generated {rows} rows in {} tables of {env} (seed {})",
        report.tables.len(),
        report.seed
    );
    for t in &report.tables {
        crate::say!("  {:>8}  {}", t.rows, t.table);
    }
    for w in &report.warnings {
        crate::say!("  warning: {w}");
    }
}
