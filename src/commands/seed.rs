//! `seed generate`: synthetic rows for a non-production environment whose database has the
//! schema and no rows, shaped by the rules; also the generation options `reseed --synthetic`
//! shares.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::Config;
use crate::error::Result;
use crate::synth::{parse_rows, SynthOptions, SynthReport};

/// How many rows, from which seed, shaped by which rules: shared by `seed generate` and
/// `reseed --synthetic`.
#[derive(Debug, Clone, Default)]
pub struct Synthetic {
    /// Rows per table: schema.table=COUNT, comma-separated.
    pub rows: Option<String>,
    /// Rows of every table `rows` does not name (default: [`DEFAULT_ROWS`]).
    pub default_rows: Option<u64>,
    /// The seed: the same seed, schema, rules and counts give the same rows (default: 0).
    pub seed: Option<u64>,
    /// Rules whose column transformers shape the values (default: anonymization.rules in
    /// the config, when that folder has rules).
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

/// Rows of every table `rows` does not name, unless told.
pub const DEFAULT_ROWS: u64 = 10;

/// Generates rows into environment `env` (never one with role production).
pub async fn generate(config: &Config, env: &str, s: &Synthetic) -> Result<SynthReport> {
    let (_, conn) = super::non_production(
        config,
        env,
        "generating rows into it is never done to production",
    )?;
    let opts = options(config, s)?;
    let client = crate::pg::connect(&conn).await?;
    let report = crate::synth::generate(&client, &opts).await?;
    drop(client);
    let admin = crate::restore::target::admin(&conn).await?;
    crate::restore::target::reseal(
        &admin,
        &conn,
        &synthetic_note(report.seed),
        report.total_rows(),
    )
    .await?;
    Ok(report)
}

/// What a stamp says of synthetic rows generated into the restored schema.
pub fn synthetic_note(seed: u64) -> String {
    format!(" then filled with synthetic rows (seed {seed})")
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
