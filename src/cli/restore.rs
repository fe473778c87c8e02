//! `doppel restore SNAP --to ENV | --target-url URL`.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use super::human_bytes;
use super::progress::Progress;
use crate::config::{Config, Role};
use crate::error::{Error, Result};
use crate::pg::ConnInfo;
use crate::restore::{restore, RestoreOptions, VerifyMode};

/// Arguments of `doppel restore`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["to", "target_url"])))]
pub struct Args {
    /// Snapshot: full id, unique prefix, or "latest".
    pub snapshot: String,
    /// Environment to restore into (its URL names the database to create).
    #[arg(long)]
    pub to: Option<String>,
    /// Database URL to restore into, instead of an environment.
    #[arg(long)]
    pub target_url: Option<String>,
    /// Parallel workers (default: snapshot.jobs in the config, else 2).
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,
    /// Drop and recreate the target database if it exists and is not empty.
    #[arg(long)]
    pub replace: bool,
    /// Fail when roles owning objects or holding grants are missing on the target.
    #[arg(long)]
    pub keep_owners: bool,
    /// Verification before success: loaded (counts and digests of what was loaded) or full (re-read the target).
    #[arg(long, value_enum, default_value = "loaded")]
    pub verify: VerifyMode,
    /// Allow restoring into a production environment or over the snapshot's own source.
    #[arg(long)]
    pub allow_production: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Restores a snapshot.
pub async fn run(config: &Config, args: Args) -> Result<()> {
    let target = match (&args.to, &args.target_url) {
        (Some(name), _) => {
            let env = config.environment(name)?;
            if env.role == Role::Production && !args.allow_production {
                return Err(Error::Refused(format!(
                    "environment '{name}' has role production: refusing to restore into it without --allow-production"
                )));
            }
            ConnInfo::parse(&env.url)
                .map_err(|e| Error::Config(format!("environment '{name}' url: {e}")))?
        }
        (None, Some(url)) => ConnInfo::parse(url)?,
        (None, None) => unreachable!("clap requires --to or --target-url"),
    };
    let repo = super::open_repo(config).await?;
    let m = repo.resolve(&args.snapshot).await?;
    let counter = Arc::new(AtomicU64::new(0));
    let opts = RestoreOptions {
        target,
        jobs: args.jobs.or(config.snapshot.jobs).unwrap_or(2).max(1),
        replace: args.replace,
        keep_owners: args.keep_owners,
        verify: args.verify,
        pg_bin: config.snapshot.pg_bin.as_ref().map(PathBuf::from),
        allow_production: args.allow_production,
        progress: counter.clone(),
    };
    let report = {
        let _bar = Progress::start("restore", m.total_bytes(), counter);
        restore(repo, &m, &opts).await?
    };
    for w in &report.warnings {
        tracing::warn!("{w}");
    }
    if args.json {
        super::print_json(&report);
    } else {
        crate::say!(
            "restored snapshot {} into {}",
            report.snapshot,
            report.target
        );
        crate::say!(
            "  {} tables, {} rows, {}, {:.1}s, verified ({:?})",
            report.tables,
            report.rows,
            human_bytes(report.bytes),
            report.duration_ms as f64 / 1000.0,
            report.verify
        );
        for w in &report.warnings {
            crate::say!("  warning: {w}");
        }
    }
    Ok(())
}
