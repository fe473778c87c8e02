//! `doppel reseed ENV [--from SNAP | --at T | --synthetic] [--seed N]`: drop and recreate a
//! non-production environment from a snapshot (or from the schema of one, filled with
//! synthetic rows), apply its `after_restore` files and seed fixtures, move sequences past
//! the values in use, check every foreign key, and report a content digest per table (equal
//! inputs give equal digests).

use serde::Serialize;

use super::restore::{restore_as_asked, Args as RestoreArgs};
use crate::config::{Config, Role};
use crate::error::{Error, Result};
use crate::pg::ConnInfo;
use crate::restore::VerifyMode;

/// Arguments of `doppel reseed`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The environment to reseed (never one with role production).
    pub env: String,
    /// The snapshot to load: full id, unique prefix, or "latest" (default: the newest the
    /// environment may receive).
    #[arg(long, value_name = "SNAP", conflicts_with = "at")]
    pub from: Option<String>,
    /// Load the newest snapshot taken at or before T that the environment may receive.
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    pub at: Option<String>,
    /// Fill the environment with synthetic rows generated from the schema of the snapshot
    /// chosen (as above) and the rules, instead of the snapshot's rows.
    #[arg(long)]
    pub synthetic: bool,
    /// With --synthetic: rows, seed and rules of the generation.
    #[command(flatten)]
    pub generation: super::seed::Synthetic,
    /// Parallel workers.
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    environment: String,
    restore: crate::restore::RestoreReport,
    seeds: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    synthetic: Option<crate::synth::SynthReport>,
    content: crate::reseed::DatabaseContent,
}

/// Reseeds an environment.
pub async fn run(config: &Config, args: Args) -> Result<()> {
    let env = config.environment(&args.env)?;
    if env.role == Role::Production {
        return Err(Error::Refused(format!(
            "environment '{}' has role production: reseeding drops and recreates the database, \
             so production is never reseeded",
            args.env
        )));
    }
    if args.generation.any() && !args.synthetic {
        return Err(Error::Config(
            "--rows, --default-rows, --seed and --rules shape synthetic rows: add --synthetic"
                .into(),
        ));
    }
    let generation = match args.synthetic {
        true => Some(super::seed::options(config, &args.generation)?),
        false => None,
    };
    // Without --from or --at: "now", which picks the newest snapshot the environment may
    // receive (anonymized ones for an anonymized environment).
    let at = match (&args.from, &args.at) {
        (None, None) => Some("0m ago".to_string()),
        _ => args.at.clone(),
    };
    let restore_args = RestoreArgs {
        snapshot: args.from.clone(),
        at,
        from: None,
        to: Some(args.env.clone()),
        target_url: None,
        jobs: args.jobs,
        replace: true,
        keep_owners: false,
        verify: VerifyMode::Full,
        allow_production: false,
        confirm: None,
        tables: Vec::new(),
        schema_only: generation.is_some(),
        data_only: false,
        json: args.json,
        hold_fixtures: generation.is_some(),
    };
    let mut restore = restore_as_asked(config, &restore_args).await?;
    let conn = ConnInfo::parse(&env.url)
        .map_err(|e| Error::Config(format!("environment '{}' url: {e}", args.env)))?;
    let client = crate::pg::connect(&conn).await?;
    let synthetic = match &generation {
        None => None,
        Some(opts) => {
            let report = crate::synth::generate(&client, opts).await?;
            crate::restore::neutralize::run_files(&client, &env.after_restore).await?;
            crate::restore::seeds::apply(&client, &env.seeds).await?;
            Some(report)
        }
    };
    let content = crate::reseed::content(&client).await?;
    drop(client);
    // The restore held its pristine copy back (the rows came after it): keep it now, so that
    // `doppel reset` returns to the generated data and its fixtures.
    if let (Some(s), true) = (&synthetic, env.pristine) {
        let admin = crate::restore::target::admin(&conn).await?;
        let note = format!(
            "doppel: synthetic data, seed {}, schema of snapshot {}",
            s.seed, restore.snapshot
        );
        restore.pristine = Some(crate::restore::pristine::save(&admin, &conn, &note).await?);
    }
    let report = Report {
        environment: args.env.clone(),
        seeds: env.seeds.iter().map(|p| p.display().to_string()).collect(),
        restore,
        synthetic,
        content,
    };
    if args.json {
        super::print_json(&report);
        return Ok(());
    }
    super::restore::print_report(&report.restore);
    if let Some(s) = &report.synthetic {
        super::seed::print_report(&report.environment, s);
    }
    if !report.seeds.is_empty() {
        crate::say!(
            "  seed fixtures applied in one transaction: {}",
            report.seeds.join(", ")
        );
    }
    crate::say!(
        "reseeded {}: {} tables, {} rows, {} foreign keys valid, content digest {}",
        report.environment,
        report.content.tables.len(),
        report.content.tables.iter().map(|t| t.rows).sum::<u64>(),
        report.content.foreign_keys,
        report.content.digest
    );
    Ok(())
}
