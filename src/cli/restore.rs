//! `doppel restore [SNAP | --at T] --to ENV | --target-url URL`.

use std::io::IsTerminal;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use super::human_bytes;
use super::progress::Progress;
use doppel::as_of;
use doppel::commands::restore::{self, AsOf, Options, Target, Which};
use doppel::commands::ProductionWrite;
use doppel::config::Config;
use doppel::error::{Error, Result};
use doppel::restore::scope::Scope;
use doppel::restore::{RestoreReport, VerifyMode};

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

impl Args {
    /// The library options these arguments ask for.
    pub fn options(&self, progress: Arc<AtomicU64>) -> Options {
        let which = match &self.at {
            Some(at) => Which::At {
                at: at.clone(),
                from: self.from.clone(),
            },
            None => Which::Snapshot(self.snapshot.clone().unwrap_or_else(|| "latest".into())),
        };
        let target = match (&self.to, &self.target_url) {
            (Some(name), _) => Target::Environment(name.clone()),
            (None, Some(url)) => Target::Url(url.clone()),
            (None, None) => unreachable!("clap requires --to or --target-url"),
        };
        Options {
            which,
            target,
            jobs: self.jobs,
            replace: self.replace,
            keep_owners: self.keep_owners,
            verify: self.verify,
            allow_production: self.allow_production,
            scope: if self.schema_only {
                Scope::SchemaOnly
            } else if self.data_only {
                Scope::DataOnly
            } else if !self.tables.is_empty() {
                Scope::Tables(self.tables.clone())
            } else {
                Scope::All
            },
            hold_fixtures: false,
            progress,
        }
    }
}

/// Restores as `args` ask, with the progress bar and the "as of" line, without printing the
/// report.
async fn restore_as_asked(config: &Config, args: &Args) -> Result<RestoreReport> {
    let counter = Arc::new(AtomicU64::new(0));
    let opts = args.options(counter.clone());
    let confirm = |w: &ProductionWrite| ask_confirmation(w, args.confirm.as_deref());
    let plan = restore::plan(config, &opts, &confirm).await?;
    if let Some(a) = plan.as_of() {
        print_as_of(a, args.json);
    }
    let _bar = Progress::start("restore", plan.manifest().total_bytes(), counter);
    plan.execute().await
}

/// The snapshot chosen for `--at`: on stdout for people, in the log with `--json`.
pub fn print_as_of(a: &AsOf, json: bool) {
    let m = &a.snapshot;
    if json {
        tracing::info!("as of {}: snapshot {}", a.at.to_rfc3339(), m.id);
        return;
    }
    match a.changes_until {
        Some(until) => crate::say!(
            "as of {}: snapshot {} of {} ({}), taken {}, brought to {} with the change archive",
            a.at.to_rfc3339(),
            m.id,
            m.source.environment,
            m.kind,
            m.time.to_rfc3339(),
            until.to_rfc3339()
        ),
        None => crate::say!(
            "as of {}: snapshot {} of {} ({}), taken {}, {} before T",
            a.at.to_rfc3339(),
            m.id,
            m.source.environment,
            m.kind,
            m.time.to_rfc3339(),
            as_of::staleness(a.at - m.time)
        ),
    }
}

/// The restore report for people.
pub fn print_report(report: &RestoreReport) {
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
        if let Some(r) = &report.replay {
            crate::say!(
                "  then {} transaction(s), {} change(s) from change archive {} in {:.1}s: \
                 as of {}",
                r.transactions,
                r.changes,
                r.archive,
                r.duration_ms as f64 / 1000.0,
                r.until.map(|t| t.to_rfc3339()).unwrap_or_default()
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

/// The second confirmation of a restore into production: `--confirm`, else the database's
/// name typed on the terminal; without either, a refusal that says what to pass.
fn ask_confirmation(w: &ProductionWrite, given: Option<&str>) -> Result<String> {
    if let Some(c) = given {
        return Ok(c.to_string());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::Refused(format!(
            "environment '{}' has role production and there is no terminal to confirm \
             on: pass --confirm {} as well as --allow-production",
            w.environment, w.dbname
        )));
    }
    eprint!(
        "restoring into production database {} replaces what it holds; type its name to go on: ",
        w.dbname
    );
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| Error::Refused(format!("no confirmation read: {e}")))?;
    Ok(line.trim().to_string())
}
