//! `doppel drill [--at T] [--to ENV | --scratch] [--report DIR]` and `doppel drill history`.

use std::path::PathBuf;

use chrono::Utc;

use crate::config::{Config, Role};
use crate::drill::{self, DrillOptions, DrillTarget};
use crate::error::{Error, Result};
use crate::pg::ConnInfo;

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
    let (target, receiver) = match &args.to {
        None => (DrillTarget::Scratch, None),
        Some(name) => {
            let env = config.environment(name)?;
            if env.role == Role::Production {
                return Err(Error::Refused(format!(
                    "environment '{name}' has role production: a drill never restores there; \
                     use a staging environment or --scratch"
                )));
            }
            let conn = ConnInfo::parse(&env.url)
                .map_err(|e| Error::Config(format!("environment '{name}' url: {e}")))?;
            (
                DrillTarget::Database {
                    environment: name.clone(),
                    conn,
                },
                Some(env),
            )
        }
    };
    let at = match &args.at {
        None => Utc::now(),
        Some(t) => crate::as_of::parse(t, Utc::now(), config.zone).map_err(Error::Config)?,
    };
    let repo = super::open_repo(config).await?;
    let m = super::snapshot_as_of(config, &repo, at, None, receiver).await?;
    if !args.json {
        crate::say!(
            "drill: recovering {} as of {} from snapshot {} (taken {})",
            m.source.environment,
            at.to_rfc3339(),
            m.id,
            m.time.to_rfc3339()
        );
    }
    let opts = DrillOptions {
        at,
        target,
        jobs: args.jobs.or(config.snapshot.jobs).unwrap_or(2).max(1),
        pg_bin: config.snapshot.pg_bin.as_ref().map(PathBuf::from),
        smoke: config.drill.checks.clone(),
    };
    let report = drill::run(repo, &m, &opts).await?;
    if let Some(dir) = &args.report {
        let io =
            |e: std::io::Error| Error::Config(format!("cannot write to {}: {e}", dir.display()));
        std::fs::create_dir_all(dir).map_err(io)?;
        let json = serde_json::to_string_pretty(&report).expect("serializable");
        std::fs::write(dir.join(format!("drill-{}.json", report.id)), json).map_err(io)?;
        std::fs::write(
            dir.join(format!("drill-{}.md", report.id)),
            report.markdown(),
        )
        .map_err(io)?;
    }
    if args.json {
        super::print_json(&report);
    } else {
        crate::say!("{}", report.markdown().trim_end());
    }
    let failures = report.failures();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Error::Verification(format!(
            "drill {} failed: {}",
            report.id,
            failures
                .iter()
                .map(|c| format!("{}: {}", c.name, c.detail))
                .collect::<Vec<_>>()
                .join("; ")
        )))
    }
}

async fn history(config: &Config, args: HistoryArgs) -> Result<()> {
    let repo = super::open_repo(config).await?;
    let drills = drill::history(&repo).await?;
    if let Some(path) = &args.svg {
        std::fs::write(path, drill::history::svg(&drills))
            .map_err(|e| Error::Config(format!("cannot write {}: {e}", path.display())))?;
    }
    if args.json {
        super::print_json(&drills);
    } else if drills.is_empty() {
        crate::say!("no drills yet: `doppel drill` runs one");
    } else {
        crate::say!("{}", drill::history::table(&drills).trim_end());
    }
    Ok(())
}
