//! `restore`: a snapshot, or production as of a time, into an environment or a database URL.
//!
//! [`plan`] resolves the target and the snapshot and passes every guard (production needs
//! `allow_production` and a confirmation; an environment that receives anonymized data never
//! gets a raw snapshot); [`Plan::execute`] restores. A [`Plan`] can only come from [`plan`],
//! so nothing restores without the guards. The engine's identity guard (never over the
//! snapshot's own source without `allow_production`) runs inside the restore itself.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{Confirm, ProductionWrite};
use crate::config::{Config, DataKind, EnvironmentConfig, Role};
use crate::error::{Error, Result};
use crate::pg::ConnInfo;
use crate::repo::{Manifest, Repository};
use crate::restore::scope::Scope;
use crate::restore::{RestoreOptions, RestoreReport, VerifyMode};

/// Which snapshot to restore.
#[derive(Debug, Clone)]
pub enum Which {
    /// Full id, unique prefix, or "latest".
    Snapshot(String),
    /// The newest snapshot taken at or before a time (as `--at` writes it) that the target
    /// may receive, from environment `from` (default: the one with role production).
    At {
        /// The time, RFC 3339, local, or relative.
        at: String,
        /// The environment whose snapshots to choose from.
        from: Option<String>,
    },
}

/// Where to restore.
#[derive(Debug, Clone)]
pub enum Target {
    /// A configured environment: its URL, role, data policy and fixtures.
    Environment(String),
    /// A database URL, outside any environment.
    Url(String),
}

/// Options of a restore.
#[derive(Debug, Clone)]
pub struct Options {
    /// The snapshot.
    pub which: Which,
    /// The target.
    pub target: Target,
    /// Parallel workers (default: snapshot.jobs in the config, else 2).
    pub jobs: Option<usize>,
    /// Drop and recreate the target database if it exists and is not empty.
    pub replace: bool,
    /// Fail when roles owning objects or holding grants are missing on the target.
    pub keep_owners: bool,
    /// Verification before success.
    pub verify: VerifyMode,
    /// Allow restoring into production or over the snapshot's own source.
    pub allow_production: bool,
    /// Everything, the schema alone, rows alone, or some tables.
    pub scope: Scope,
    /// Leave out the environment's `after_restore` files and seed fixtures (and its pristine
    /// copy): the caller applies them later (a synthetic reseed, after generating rows).
    pub hold_fixtures: bool,
    /// Bytes restored so far, for a progress display.
    pub progress: Arc<AtomicU64>,
}

/// How an `--at` was resolved.
#[derive(Debug, Clone)]
pub struct AsOf {
    /// The time asked for.
    pub at: DateTime<Utc>,
    /// The snapshot serving it (the base, when archived changes bring it forward).
    pub snapshot: Manifest,
    /// The time the archived changes bring the snapshot to, when a change archive extends
    /// it: `at`, or earlier when the archive is complete only up to then.
    pub changes_until: Option<DateTime<Utc>>,
}

/// A restore that has passed its guards, with its snapshot chosen.
pub struct Plan {
    repo: Arc<Repository>,
    manifest: Manifest,
    as_of: Option<AsOf>,
    opts: RestoreOptions,
    /// The environment restored into, for the restore record.
    environment: Option<String>,
    /// The command the restore record names.
    command: &'static str,
}

impl Plan {
    /// The snapshot to restore.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// How `--at` was resolved, when the snapshot was chosen by time.
    pub fn as_of(&self) -> Option<&AsOf> {
        self.as_of.as_ref()
    }

    /// Names the command in the restore record (`reseed` restores through this plan too).
    pub fn recorded_as(mut self, command: &'static str) -> Plan {
        self.command = command;
        self
    }

    /// Restores, then records what the target now holds in the repository (for `doppel
    /// status`); warnings are logged and kept in the report.
    pub async fn execute(self) -> Result<RestoreReport> {
        let report = crate::restore::restore(self.repo.clone(), &self.manifest, &self.opts).await?;
        for w in &report.warnings {
            tracing::warn!("{w}");
        }
        let record = crate::status::RestoreRecord::of(
            &self.manifest,
            &report,
            self.environment.as_deref(),
            self.command,
        );
        crate::status::record_or_warn(&self.repo, &record).await;
        Ok(report)
    }
}

/// Resolves the target and the snapshot and passes the guards; `confirm` is asked before a
/// write into production.
pub async fn plan(config: &Config, opts: &Options, confirm: Confirm<'_>) -> Result<Plan> {
    let (target, env) = match &opts.target {
        Target::Environment(name) => {
            let env = config.environment(name)?;
            (super::env_conn(name, env)?, Some((name.as_str(), env)))
        }
        Target::Url(url) => (ConnInfo::parse(url)?, None),
    };
    if let Some((name, env)) = env {
        if env.role == Role::Production {
            confirm_production(name, &target, opts.allow_production, confirm)?;
        }
    }
    let repo = super::open_repo(config).await?;
    let (manifest, mut as_of) = choose(config, &repo, &opts.which, env.map(|(_, e)| e)).await?;
    // Only a whole restore can take the changes: a partial one lacks tables they touch.
    let replay = match &mut as_of {
        Some(a) if opts.scope == Scope::All => {
            let plan = crate::changes::replay::plan(&repo, &manifest, a.at).await?;
            a.changes_until = plan.as_ref().map(|p| p.until);
            plan
        }
        _ => None,
    };
    if let Some((name, env)) = env {
        check_policy(name, env, &manifest)?;
    }
    let fixtures = env.filter(|_| !opts.hold_fixtures).map(|(_, e)| e);
    let restore = RestoreOptions {
        target,
        jobs: super::jobs(config, opts.jobs),
        replace: opts.replace,
        keep_owners: opts.keep_owners,
        verify: opts.verify,
        pg_bin: super::pg_bin(config),
        allow_production: opts.allow_production,
        progress: opts.progress.clone(),
        neutralize: env.is_none_or(|(_, e)| e.role != Role::Production),
        seeds: fixtures.map(|e| e.seeds.clone()).unwrap_or_default(),
        after_restore: fixtures
            .map(|e| e.after_restore.clone())
            .unwrap_or_default(),
        // A pristine copy taken before the held fixtures would not be the state to return to.
        pristine: fixtures.is_some_and(|e| e.pristine),
        create_roles: false,
        scope: opts.scope.clone(),
        replay,
    };
    Ok(Plan {
        repo,
        manifest,
        as_of,
        opts: restore,
        environment: env.map(|(name, _)| name.to_string()),
        command: "restore",
    })
}

/// Plans and executes.
pub async fn run(config: &Config, opts: &Options, confirm: Confirm<'_>) -> Result<RestoreReport> {
    plan(config, opts, confirm).await?.execute().await
}

/// The snapshot named, or the one serving `At`.
async fn choose(
    config: &Config,
    repo: &Repository,
    which: &Which,
    env: Option<&EnvironmentConfig>,
) -> Result<(Manifest, Option<AsOf>)> {
    match which {
        Which::Snapshot(spec) => Ok((repo.resolve(spec).await?, None)),
        Which::At { at, from } => {
            let t = crate::as_of::parse(at, Utc::now(), config.zone).map_err(Error::Config)?;
            let m = super::snapshot_as_of(config, repo, t, from.as_deref(), env).await?;
            let as_of = AsOf {
                at: t,
                snapshot: m.clone(),
                changes_until: None,
            };
            Ok((m, Some(as_of)))
        }
    }
}

/// A raw snapshot never goes into an environment that receives anonymized data.
pub fn check_policy(name: &str, env: &EnvironmentConfig, m: &Manifest) -> Result<()> {
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

/// Production is restored into only with `allow_production` and a second confirmation: the
/// database's name, as `confirm` answers it.
pub fn confirm_production(
    name: &str,
    target: &ConnInfo,
    allow_production: bool,
    confirm: Confirm<'_>,
) -> Result<()> {
    if !allow_production {
        return Err(Error::Refused(format!(
            "environment '{name}' has role production: refusing to restore into it without --allow-production"
        )));
    }
    let typed = confirm(&ProductionWrite {
        environment: name.to_string(),
        dbname: target.dbname.clone(),
    })?;
    if typed.trim() != target.dbname {
        return Err(Error::Refused(format!(
            "the confirmation does not match the database name {}: nothing was restored",
            target.dbname
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> ConnInfo {
        ConnInfo::parse("postgresql://u@127.0.0.1:5432/shop").unwrap()
    }

    #[test]
    fn production_needs_the_flag_then_the_database_name() {
        let typed_right = |_: &ProductionWrite| Ok("shop".to_string());
        let err = confirm_production("prod", &target(), false, &typed_right).unwrap_err();
        assert!(matches!(err, Error::Refused(ref m) if m.contains("--allow-production")));
        assert!(confirm_production("prod", &target(), true, &typed_right).is_ok());

        let typed_wrong = |_: &ProductionWrite| Ok("shop2".to_string());
        let err = confirm_production("prod", &target(), true, &typed_wrong).unwrap_err();
        assert!(matches!(err, Error::Refused(ref m) if m.contains("does not match")));
    }

    #[test]
    fn a_caller_with_nobody_to_ask_is_refused_and_the_question_names_the_database() {
        let asked = std::sync::Mutex::new(None);
        let record = |w: &ProductionWrite| {
            *asked.lock().unwrap() = Some((w.environment.clone(), w.dbname.clone()));
            crate::commands::no_confirmation(w)
        };
        let err = confirm_production("prod", &target(), true, &record).unwrap_err();
        assert!(matches!(err, Error::Refused(ref m) if m.contains("nobody to confirm")));
        assert_eq!(
            asked.into_inner().unwrap(),
            Some(("prod".to_string(), "shop".to_string()))
        );
    }

    #[test]
    fn production_is_refused_through_the_library_before_the_repository_is_read() {
        // The repository does not exist: reaching it would fail with another error.
        let config = Config::parse(
            std::path::Path::new("/nonexistent/doppel.toml"),
            "[repository]\npath = \"repo\"\n\n[environments.prod]\nrole = \"production\"\n\
             url = \"postgresql://u@127.0.0.1:1/shop\"\n",
            &|_| None,
        )
        .unwrap();
        let opts = Options {
            which: Which::Snapshot("latest".into()),
            target: Target::Environment("prod".into()),
            jobs: None,
            replace: true,
            keep_owners: false,
            verify: VerifyMode::Full,
            allow_production: false,
            scope: Scope::All,
            hold_fixtures: false,
            progress: Default::default(),
        };
        let rt = tokio::runtime::Runtime::new().unwrap();
        let refused = |opts: &Options| {
            rt.block_on(plan(&config, opts, &crate::commands::no_confirmation))
                .err()
                .expect("refused")
        };
        let err = refused(&opts);
        assert!(matches!(err, Error::Refused(ref m) if m.contains("--allow-production")));
        let opts = Options {
            allow_production: true,
            ..opts
        };
        let err = refused(&opts);
        assert!(matches!(err, Error::Refused(ref m) if m.contains("nobody to confirm")));
    }
}
