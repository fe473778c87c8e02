//! `reseed`: drop and recreate a non-production environment from a snapshot (or from the
//! schema of one, filled with synthetic rows), apply its `after_restore` files and seed
//! fixtures, move sequences past the values in use, check every foreign key, and report a
//! content digest per table (equal inputs give equal digests).

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use serde::Serialize;

use super::restore::{Target, Which};
use super::seed::Synthetic;
use crate::config::{Config, EnvironmentConfig};
use crate::error::{Error, Result};
use crate::pg::ConnInfo;
use crate::restore::scope::Scope;
use crate::restore::{RestoreReport, VerifyMode};
use crate::synth::SynthOptions;

/// Options of a reseed.
#[derive(Debug, Clone)]
pub struct Options {
    /// The environment to reseed (never one with role production).
    pub env: String,
    /// The snapshot to load: full id, unique prefix, or "latest" (default: the newest the
    /// environment may receive).
    pub from: Option<String>,
    /// Load the newest snapshot taken at or before this time that the environment may receive.
    pub at: Option<String>,
    /// Fill the environment with synthetic rows generated from the schema of the snapshot
    /// chosen, instead of the snapshot's rows.
    pub synthetic: bool,
    /// With `synthetic`: rows, seed and rules of the generation (refused without it).
    pub generation: Synthetic,
    /// Parallel workers.
    pub jobs: Option<usize>,
    /// Bytes restored so far, for a progress display.
    pub progress: Arc<AtomicU64>,
}

/// What a reseed did and left.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The environment.
    pub environment: String,
    /// The restore.
    pub restore: RestoreReport,
    /// Seed fixtures applied, in order.
    pub seeds: Vec<String>,
    /// The synthetic rows generated, with `synthetic`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synthetic: Option<crate::synth::SynthReport>,
    /// Tables, rows, foreign keys and digests of the database left.
    pub content: crate::reseed::DatabaseContent,
}

/// A reseed that has passed its guards, with its snapshot chosen.
pub struct Plan {
    environment: String,
    env: EnvironmentConfig,
    conn: ConnInfo,
    generation: Option<SynthOptions>,
    restore: super::restore::Plan,
}

impl Plan {
    /// The restore it starts with: its snapshot, and how `at` was resolved.
    pub fn restore(&self) -> &super::restore::Plan {
        &self.restore
    }

    /// Restores, generates the rows if asked, applies the fixtures, and reads the content.
    pub async fn execute(self) -> Result<Report> {
        let Plan {
            environment,
            env,
            conn,
            generation,
            restore,
        } = self;
        let mut restore = restore.execute().await?;
        let client = crate::pg::connect(&conn).await?;
        let synthetic = match &generation {
            None => None,
            Some(g) => {
                let report = crate::synth::generate(&client, g).await?;
                crate::restore::neutralize::run_files(&client, &env.after_restore).await?;
                crate::restore::seeds::apply(&client, &env.seeds).await?;
                Some(report)
            }
        };
        let content = crate::reseed::content(&client).await?;
        drop(client);
        if let Some(s) = &synthetic {
            // The generated rows and fixtures are part of the state doppel left.
            let admin = crate::restore::target::admin(&conn).await?;
            let note = crate::restore::target::reseal(
                &admin,
                &conn,
                &super::seed::synthetic_note(s.seed),
                s.total_rows(),
            )
            .await?
            .unwrap_or_else(|| {
                format!(
                    "doppel: synthetic data, seed {}, schema of snapshot {}",
                    s.seed, restore.snapshot
                )
            });
            // The restore held its pristine copy back (the rows came after it): keep it now,
            // so that `doppel reset` returns to the generated data and its fixtures.
            if env.pristine {
                restore.pristine =
                    Some(crate::restore::pristine::save(&admin, &conn, &note).await?);
            }
        }
        Ok(Report {
            environment,
            seeds: env.seeds.iter().map(|p| p.display().to_string()).collect(),
            restore,
            synthetic,
            content,
        })
    }
}

/// Passes the guards (never production; generation options only with `synthetic`) and plans
/// the restore.
pub async fn plan(config: &Config, opts: &Options) -> Result<Plan> {
    let (env, conn) = super::non_production(
        config,
        &opts.env,
        "reseeding drops and recreates the database, so production is never reseeded",
    )?;
    if opts.generation.any() && !opts.synthetic {
        return Err(Error::Config(
            "--rows, --default-rows, --seed and --rules shape synthetic rows: add --synthetic"
                .into(),
        ));
    }
    let generation = match opts.synthetic {
        true => Some(super::seed::options(config, &opts.generation)?),
        false => None,
    };
    // Without `from` or `at`: "now", which picks the newest snapshot the environment may
    // receive (anonymized ones for an anonymized environment).
    let which = match (&opts.from, &opts.at) {
        (Some(snap), _) => Which::Snapshot(snap.clone()),
        (None, at) => Which::At {
            at: at.clone().unwrap_or_else(|| "0m ago".to_string()),
            from: None,
        },
    };
    let restore_opts = super::restore::Options {
        which,
        target: Target::Environment(opts.env.clone()),
        jobs: opts.jobs,
        replace: true,
        keep_owners: false,
        verify: VerifyMode::Full,
        allow_production: false,
        scope: match generation {
            Some(_) => Scope::SchemaOnly,
            None => Scope::All,
        },
        hold_fixtures: generation.is_some(),
        progress: opts.progress.clone(),
    };
    let restore = super::restore::plan(config, &restore_opts, &super::no_confirmation)
        .await?
        .recorded_as("reseed");
    Ok(Plan {
        environment: opts.env.clone(),
        env: env.clone(),
        conn,
        generation,
        restore,
    })
}

/// Plans and executes.
pub async fn run(config: &Config, opts: &Options) -> Result<Report> {
    plan(config, opts).await?.execute().await
}
