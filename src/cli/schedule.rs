//! `doppel schedule run` (the daemon) and `doppel schedule plan`.

use doppel::config::Config;
use doppel::error::Result;
use doppel::schedule::run::{self as schedule, Options};

/// `doppel schedule …`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run the daemon: snapshot at every finest-tier spacing, prune after each.
    Run(RunArgs),
    /// Show what will run and what would be kept over time.
    Plan(super::schedule_plan::PlanArgs),
}

/// Arguments of `doppel schedule run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Parallel workers per snapshot (default: snapshot.jobs, else 2).
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,
    /// Address for /healthz and /metrics (default: schedule.listen).
    #[arg(long)]
    pub listen: Option<String>,
}

/// Runs a `schedule` subcommand.
pub async fn run(config: &Config, command: Command) -> Result<()> {
    match command {
        Command::Run(args) => daemon(config, args).await,
        Command::Plan(args) => super::schedule_plan::run(&config.retention, args),
    }
}

async fn daemon(config: &Config, args: RunArgs) -> Result<()> {
    let opts = Options {
        jobs: args.jobs,
        listen: args.listen,
    };
    let started = schedule::start(config, &opts).await?;
    let addr = started.addr();
    eprintln!(
        "doppel scheduler: every {}s; http://{addr}/healthz and /metrics; stop with SIGTERM or Ctrl-C",
        started.daemon().spacing().num_seconds()
    );
    started.run(super::signal()).await
}
