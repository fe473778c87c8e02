//! `doppel schedule run` (the daemon) and `doppel schedule plan`.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::pg::ConnInfo;
use crate::schedule::http::{serve, HealthState};
use crate::schedule::{check, Clock, Daemon, Metrics, Source, SystemClock};

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

/// The environments to snapshot: `schedule.environments`, else the production one.
pub fn sources(config: &Config) -> Result<Vec<Source>> {
    let names: Vec<String> = if config.schedule.environments.is_empty() {
        vec![config.production()?.0.to_string()]
    } else {
        config.schedule.environments.clone()
    };
    names
        .into_iter()
        .map(|name| {
            let env = config.environment(&name)?;
            let conn = ConnInfo::parse(&env.url)
                .map_err(|e| Error::Config(format!("environment '{name}' url: {e}")))?;
            Ok(Source {
                environment: name,
                conn,
            })
        })
        .collect()
}

async fn daemon(config: &Config, args: RunArgs) -> Result<()> {
    let sources = sources(config)?;
    check(&config.retention, &sources)?;
    let repo = Arc::new(config.repo.open_or_init().await?);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let metrics = Arc::new(Metrics::new(Utc::now()));
    let daemon = Daemon {
        repo,
        sources,
        tiers: config.retention.clone(),
        clock: clock.clone(),
        metrics: metrics.clone(),
        jobs: args.jobs.or(config.snapshot.jobs).unwrap_or(2).max(1),
        part_bytes: config.snapshot.part_bytes(),
        pg_bin: config.snapshot.pg_bin.as_ref().map(PathBuf::from),
    };
    let listen = args
        .listen
        .unwrap_or_else(|| config.schedule.listen.clone());
    let state = HealthState {
        metrics,
        clock,
        spacing: daemon.spacing(),
        max_missed: config.schedule.healthz_max_missed,
    };
    let (addr, server) = serve(&listen, state).await?;
    tracing::info!(
        every_s = daemon.spacing().num_seconds(),
        environments = ?daemon.sources.iter().map(|s| s.environment.as_str()).collect::<Vec<_>>(),
        "scheduler started; health on http://{addr}/healthz, metrics on http://{addr}/metrics"
    );
    eprintln!("doppel scheduler: every {}s; http://{addr}/healthz and /metrics; stop with SIGTERM or Ctrl-C", daemon.spacing().num_seconds());
    let result = daemon.run(crate::cli::signal(), None).await;
    server.abort();
    tracing::info!("scheduler stopped");
    result
}
