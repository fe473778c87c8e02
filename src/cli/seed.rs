//! `doppel seed generate --env ENV --rows public.customer=1000,… [--seed N]`: synthetic rows
//! for an environment whose database has the schema and no rows.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{Config, Role};
use crate::error::{Error, Result};
use crate::pg::ConnInfo;
use crate::synth::{parse_rows, SynthOptions, SynthReport};

/// `doppel seed …`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Generate rows for an empty database from its schema and the rules.
    Generate(GenerateArgs),
}

/// How many rows, from which seed, shaped by which rules: shared by `seed generate` and
/// `reseed --synthetic`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Synthetic {
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

impl Synthetic {
    /// Whether any option was given.
    pub fn any(&self) -> bool {
        self.rows.is_some()
            || self.default_rows.is_some()
            || self.seed.is_some()
            || self.rules.is_some()
    }
}

/// Rows of every table `--rows` does not name, unless told.
pub const DEFAULT_ROWS: u64 = 10;

/// Arguments of `doppel seed generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// The environment whose database gets the rows (never one with role production).
    #[arg(long)]
    pub env: String,
    /// Rows, seed and rules of the generation.
    #[command(flatten)]
    pub synthetic: Synthetic,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `doppel seed …`.
pub async fn run(config: &Config, command: Command) -> Result<()> {
    let Command::Generate(args) = command;
    let conn = environment(config, &args.env, "generating rows into it")?;
    let opts = options(config, &args.synthetic)?;
    let client = crate::pg::connect(&conn).await?;
    let report = crate::synth::generate(&client, &opts).await?;
    if args.json {
        super::print_json(&report);
    } else {
        print_report(&args.env, &report);
    }
    Ok(())
}

/// A non-production environment's connection; `what` says what production is spared.
pub fn environment(config: &Config, name: &str, what: &str) -> Result<ConnInfo> {
    let env = config.environment(name)?;
    if env.role == Role::Production {
        return Err(Error::Refused(format!(
            "environment '{name}' has role production: {what} is never done to production"
        )));
    }
    ConnInfo::parse(&env.url).map_err(|e| Error::Config(format!("environment '{name}' url: {e}")))
}

/// The generation options `s` asks for.
pub fn options(config: &Config, s: &Synthetic) -> Result<SynthOptions> {
    let rows = match &s.rows {
        Some(spec) => parse_rows(spec)?,
        None => Default::default(),
    };
    let rules = match &s.rules {
        Some(dir) => Some(load_rules(dir)?),
        // The configured folder is used when it holds rules; without one, types alone.
        None if config.rules_path.is_dir() => {
            Some(load_rules(&config.rules_path)?).filter(|r| !r.is_empty())
        }
        None => None,
    };
    Ok(SynthOptions {
        rows,
        default_rows: s.default_rows.unwrap_or(DEFAULT_ROWS),
        seed: s.seed.unwrap_or(0),
        rules,
    })
}

fn load_rules(dir: &Path) -> Result<Arc<crate::rules::RuleSet>> {
    Ok(Arc::new(crate::rules::RuleSet::load_dir(dir)?))
}

/// The report for people.
pub fn print_report(env: &str, report: &SynthReport) {
    let rows: u64 = report.tables.iter().map(|t| t.rows).sum();
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
