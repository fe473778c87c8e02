//! `doppel restore [SNAP | --at T] --to ENV | --target-url URL`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use chrono::Utc;

use super::human_bytes;
use super::progress::Progress;
use crate::as_of;
use crate::config::{Config, DataKind, EnvironmentConfig, Role};
use crate::error::{Error, Result};
use crate::pg::ConnInfo;
use crate::repo::{Manifest, Repository};
use crate::restore::scope::Scope;
use crate::restore::{restore, RestoreOptions, VerifyMode};

/// Arguments of `doppel restore`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["to", "target_url"])))]
#[command(group(clap::ArgGroup::new("which").required(true).args(["snapshot", "at"])))]
pub struct Args {
    /// Snapshot: full id, unique prefix, or "latest".
    pub snapshot: Option<String>,
    /// Restore production as of this time: the newest snapshot taken at or before it that
    /// the target may receive. RFC 3339, a local date-time ("2026-11-21 14:00"), relative
    /// ("1d ago", "-90m") or "yesterday 14:00".
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    pub at: Option<String>,
    /// With --at: the environment whose snapshots to choose from (default: the one with role
    /// production).
    #[arg(long, value_name = "ENV", requires = "at")]
    pub from: Option<String>,
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
    /// With --allow-production and no terminal: the target database's name, typed out, as
    /// the second confirmation a terminal would ask for.
    #[arg(long, value_name = "DBNAME", requires = "allow_production")]
    pub confirm: Option<String>,
    /// Load rows only for these tables (schema.table, comma-separated) and the tables they
    /// reference; the whole schema is created.
    #[arg(long, value_delimiter = ',', conflicts_with_all = ["schema_only", "data_only"])]
    pub tables: Vec<String>,
    /// The schema alone, every table empty.
    #[arg(long, conflicts_with = "data_only")]
    pub schema_only: bool,
    /// Rows only, into a database that already has the schema (each table emptied first).
    #[arg(long)]
    pub data_only: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Leave out the environment's `after_restore` files and seed fixtures: the caller
    /// applies them later (a synthetic reseed, after generating rows).
    #[arg(skip)]
    pub hold_fixtures: bool,
}

/// Restores a snapshot.
pub async fn run(config: &Config, args: Args) -> Result<()> {
    let report = restore_as_asked(config, &args).await?;
    if args.json {
        super::print_json(&report);
    } else {
        print_report(&report);
    }
    Ok(())
}

/// Everything `restore` does but the printing of its report; `reseed` builds on it.
pub async fn restore_as_asked(
    config: &Config,
    args: &Args,
) -> Result<crate::restore::RestoreReport> {
    let (target, env) = match (&args.to, &args.target_url) {
        (Some(name), _) => {
            let env = config.environment(name)?;
            let conn = ConnInfo::parse(&env.url)
                .map_err(|e| Error::Config(format!("environment '{name}' url: {e}")))?;
            (conn, Some((name.as_str(), env)))
        }
        (None, Some(url)) => (ConnInfo::parse(url)?, None),
        (None, None) => unreachable!("clap requires --to or --target-url"),
    };
    if let Some((name, env)) = env {
        if env.role == Role::Production {
            confirm_production(name, &target, args)?;
        }
    }
    let repo = super::open_repo(config).await?;
    let m = choose(config, &repo, args, env).await?;
    if let Some((name, env)) = env {
        check_policy(name, env, &m)?;
    }
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
        neutralize: env.is_none_or(|(_, e)| e.role != Role::Production),
        seeds: env
            .filter(|_| !args.hold_fixtures)
            .map(|(_, e)| e.seeds.clone())
            .unwrap_or_default(),
        after_restore: env
            .filter(|_| !args.hold_fixtures)
            .map(|(_, e)| e.after_restore.clone())
            .unwrap_or_default(),
        // A pristine copy taken before the held fixtures would not be the state to return to.
        pristine: env.is_some_and(|(_, e)| e.pristine) && !args.hold_fixtures,
        create_roles: false,
        scope: if args.schema_only {
            Scope::SchemaOnly
        } else if args.data_only {
            Scope::DataOnly
        } else if !args.tables.is_empty() {
            Scope::Tables(args.tables.clone())
        } else {
            Scope::All
        },
    };
    let report = {
        let _bar = Progress::start("restore", m.total_bytes(), counter);
        restore(repo, &m, &opts).await?
    };
    for w in &report.warnings {
        tracing::warn!("{w}");
    }
    Ok(report)
}

/// The restore report for people.
pub fn print_report(report: &crate::restore::RestoreReport) {
    {
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
        if !report.subscriptions_disabled.is_empty() {
            crate::say!(
                "  subscriptions disabled and detached from their slots: {}",
                report.subscriptions_disabled.join(", ")
            );
        }
        if let Some(t) = &report.pristine {
            crate::say!("  pristine copy kept as {t}: `doppel reset` returns to this state");
        }
        for w in &report.warnings {
            crate::say!("  warning: {w}");
        }
    }
}

/// The snapshot named, or the one serving `--at`.
async fn choose(
    config: &Config,
    repo: &Repository,
    args: &Args,
    env: Option<(&str, &EnvironmentConfig)>,
) -> Result<Manifest> {
    let Some(at) = &args.at else {
        let spec = args.snapshot.as_deref().unwrap_or("latest");
        return repo.resolve(spec).await;
    };
    let t = as_of::parse(at, Utc::now(), config.zone).map_err(Error::Config)?;
    let m =
        super::snapshot_as_of(config, repo, t, args.from.as_deref(), env.map(|(_, e)| e)).await?;
    if args.json {
        tracing::info!("as of {}: snapshot {}", t.to_rfc3339(), m.id);
        return Ok(m);
    }
    crate::say!(
        "as of {}: snapshot {} of {} ({}), taken {}, {} before T",
        t.to_rfc3339(),
        m.id,
        m.source.environment,
        m.kind,
        m.time.to_rfc3339(),
        as_of::staleness(t - m.time)
    );
    Ok(m)
}

/// A raw snapshot never goes into an environment that receives anonymized data.
fn check_policy(name: &str, env: &EnvironmentConfig, m: &Manifest) -> Result<()> {
    if env.data() == DataKind::Anonymized && m.kind.kind != DataKind::Anonymized {
        return Err(Error::Refused(format!(
            "environment '{name}' receives anonymized data only (data = \"anonymized\", the \
             default for role {}), and snapshot {} is {}: restore an anonymized snapshot \
             (`doppel snapshot --rules`, or `doppel derive {}`), or set data = \"raw\" on the \
             environment if raw personal data may really go there",
            env.role, m.id, m.kind.kind, m.id
        )));
    }
    Ok(())
}

/// Production is restored into only with `--allow-production` and a second confirmation:
/// the database name typed on a terminal, or given with `--confirm` without one.
fn confirm_production(name: &str, target: &ConnInfo, args: &Args) -> Result<()> {
    if !args.allow_production {
        return Err(Error::Refused(format!(
            "environment '{name}' has role production: refusing to restore into it without --allow-production"
        )));
    }
    let typed = match &args.confirm {
        Some(c) => c.clone(),
        None if std::io::stdin().is_terminal() => {
            eprint!(
                "restoring into production database {} replaces what it holds; type its name to go on: ",
                target.dbname
            );
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| Error::Refused(format!("no confirmation read: {e}")))?;
            line.trim().to_string()
        }
        None => {
            return Err(Error::Refused(format!(
                "environment '{name}' has role production and there is no terminal to confirm \
                 on: pass --confirm {} as well as --allow-production",
                target.dbname
            )))
        }
    };
    if typed != target.dbname {
        return Err(Error::Refused(format!(
            "the confirmation does not match the database name {}: nothing was restored",
            target.dbname
        )));
    }
    Ok(())
}
