//! `doppel drill [--at T] [--to ENV | --scratch] [--report DIR]` and `doppel drill history`.

use std::path::PathBuf;

use doppel::commands::drill::{self, Options};
use doppel::config::Config;
use doppel::error::Result;

/// Arguments of `doppel drill`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    /// `history`, or nothing to run a drill.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Run a drill.
    #[command(flatten)]
    pub run: RunArgs,
}

/// `doppel drill` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List past drills (stored in the repository), and chart their RTO and RPO.
    History(HistoryArgs),
}

/// Arguments of a drill run.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Recover production as it was at T (default: now): RFC 3339, local, or relative.
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    pub at: Option<String>,
    /// Restore into this environment (not production) instead of a scratch cluster.
    #[arg(long, conflicts_with = "scratch")]
    pub to: Option<String>,
    /// Restore into a throwaway local cluster (the default).
    #[arg(long)]
    pub scratch: bool,
    /// Also write the JSON report and a Markdown summary into this folder.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Parallel restore workers (default: snapshot.jobs in the config, else 2).
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `doppel drill history`.
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write a chart of RTO and RPO over time.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
}

/// Runs a drill or shows the history.
pub async fn run(config: &Config, args: Args) -> Result<()> {
    match args.command {
        Some(Command::History(h)) => history(config, h).await,
        None => run_drill(config, args.run).await,
    }
}

async fn run_drill(config: &Config, args: RunArgs) -> Result<()> {
    let opts = Options {
        at: args.at,
        to: args.to,
        jobs: args.jobs,
        report_dir: args.report,
    };
    let plan = drill::plan(config, &opts).await?;
    if !args.json {
        let m = plan.manifest();
        crate::say!(
            "drill: recovering {} as of {} from snapshot {} (taken {})",
            m.source.environment,
            plan.at().to_rfc3339(),
            m.id,
            m.time.to_rfc3339()
        );
    }
    let report = plan.execute().await?;
    if args.json {
        super::print_json(&report);
    } else {
        crate::say!("{}", report.markdown().trim_end());
    }
    let verdict = drill::verdict(&report);
    if let Err(e) = &verdict {
        super::alert(
            config,
            doppel::schedule::notify::AlertKind::DrillFailed,
            Some(&report.target),
            &format!("drill {} failed: {e}", report.id),
        )
        .await;
    }
    verdict
}

async fn history(config: &Config, args: HistoryArgs) -> Result<()> {
    let drills = drill::history(config).await?;
    if let Some(path) = &args.svg {
        std::fs::write(path, doppel::drill::history::svg(&drills)).map_err(doppel::error::io(
            format!("cannot write {}", path.display()),
        ))?;
    }
    if args.json {
        super::print_json(&drills);
    } else if drills.is_empty() {
        crate::say!("no drills yet: `doppel drill` runs one");
    } else {
        crate::say!("{}", doppel::drill::history::table(&drills).trim_end());
    }
    Ok(())
}
