//! The verbs as library commands, one file each: options in, report out. Each holds the whole
//! pipeline of its verb — which environment, which snapshot, every safety guard, what runs
//! after a restore — so that the command line (`cli/`), the daemon and tests go through the
//! same checks. The engine modules (`snapshot`, `restore`, `derive`, …) are the machinery they
//! call; `cli/` only turns arguments into options and prints reports.

pub mod changes;
pub mod copy;
pub mod derive;
pub mod drill;
pub mod inspect;
pub mod list;
pub mod pin;
pub mod prune;
pub mod reseed;
pub mod reset;
pub mod restore;
pub mod rules;
pub mod seed;
pub mod snapshot;
pub mod status;
pub mod verify;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{Config, EnvironmentConfig, Role};
use crate::error::{Error, Result};
use crate::pg::ConnInfo;
use crate::repo::{Manifest, Repository};
use crate::snapshot::Anonymize;

/// A write into a production database waiting for its second confirmation.
#[derive(Debug, Clone)]
pub struct ProductionWrite {
    /// The environment with role production.
    pub environment: String,
    /// The database the write replaces: the name to type.
    pub dbname: String,
}

/// Asks whoever runs the command to confirm a [`ProductionWrite`] and returns what they
/// answered: the command goes on only when it is the database's name. The command line reads
/// the terminal (or `--confirm`); the daemon, a web page or a test supply their own.
pub type Confirm<'a> = &'a (dyn Fn(&ProductionWrite) -> Result<String> + Send + Sync);

/// The answer of a caller that has nobody to ask: production writes are refused.
pub fn no_confirmation(w: &ProductionWrite) -> Result<String> {
    Err(Error::Refused(format!(
        "environment '{}' has role production and there is nobody to confirm the write into \
         database {}: nothing was done",
        w.environment, w.dbname
    )))
}

/// Workers asked for, else `snapshot.jobs` in the config, else 2.
pub fn jobs(config: &Config, asked: Option<usize>) -> usize {
    asked.or(config.snapshot.jobs).unwrap_or(2).max(1)
}

/// The folder of the PostgreSQL tools the config names, if it names one.
pub fn pg_bin(config: &Config) -> Option<PathBuf> {
    config.snapshot.pg_bin.as_ref().map(PathBuf::from)
}

/// Opens the configured repository (it must exist).
pub async fn open_repo(config: &Config) -> Result<Arc<Repository>> {
    Ok(Arc::new(config.repo.open().await?))
}

/// The connection of environment `name`.
pub fn env_conn(name: &str, env: &EnvironmentConfig) -> Result<ConnInfo> {
    ConnInfo::parse(&env.url).map_err(|e| Error::Config(format!("environment '{name}' url: {e}")))
}

/// The environment `name` (default: the one with role production) and its connection.
pub fn environment_conn(config: &Config, name: Option<&str>) -> Result<(String, ConnInfo)> {
    let (name, _, conn) = environment(config, name)?;
    Ok((name, conn))
}

/// The environment `name` (default: the one with role production), its settings and its
/// connection.
pub fn environment<'c>(
    config: &'c Config,
    name: Option<&str>,
) -> Result<(String, &'c EnvironmentConfig, ConnInfo)> {
    let (name, env) = match name {
        Some(n) => (n, config.environment(n)?),
        None => config.production()?,
    };
    Ok((name.to_string(), env, env_conn(name, env)?))
}

/// Environment `name` and its connection, refused when it has role production: `what` says
/// what is never done to production, and why.
pub fn non_production<'c>(
    config: &'c Config,
    name: &str,
    what: &str,
) -> Result<(&'c EnvironmentConfig, ConnInfo)> {
    let env = config.environment(name)?;
    if env.role == Role::Production {
        return Err(Error::Refused(format!(
            "environment '{name}' has role production: {what}"
        )));
    }
    Ok((env, env_conn(name, env)?))
}

/// The rules in `dir` and the key from the variable the config names: everything an
/// anonymized snapshot or `derive` needs besides the data, checked before connecting.
pub fn anonymize_options(config: &Config, dir: &Path) -> Result<Anonymize> {
    let rules = crate::rules::RuleSet::load_dir(dir)?;
    if rules.is_empty() {
        return Err(Error::Config(format!(
            "the rules folder {} has no rules; `doppel rules scan ENV --write {}/suggested.toml` \
             writes a first draft to review",
            dir.display(),
            dir.display()
        )));
    }
    let key = crate::anonymize::Key::from_env(&config.anonymization.key_env)
        .map_err(|e| Error::Config(e.to_string()))?;
    Ok(Anonymize {
        rules: Arc::new(rules),
        key: Arc::new(key),
    })
}

/// The snapshot serving "as of `at`" for `target` (`None`: no environment, whole raw
/// snapshots): the newest snapshot taken at or before `at` in the series of `from` (default:
/// the environment with role production) that the target may receive — of its data policy's
/// kind, whole, or subsets when it declares `subset = true` ([`crate::as_of::Wanted`]).
/// Shared by `restore --at`, `reseed` and `drill`.
pub async fn snapshot_as_of(
    config: &Config,
    repo: &Repository,
    at: chrono::DateTime<chrono::Utc>,
    from: Option<&str>,
    target: Option<&EnvironmentConfig>,
) -> Result<Manifest> {
    let source = match from {
        Some(name) => {
            config.environment(name)?;
            name.to_string()
        }
        None => config.production()?.0.to_string(),
    };
    let wanted = crate::as_of::Wanted::for_target(&source, target);
    let all = repo.manifests().await?;
    let m = crate::as_of::choose(&all, at, &wanted).map_err(|e| {
        Error::NotFound(format!(
            "as of {} ({}): {e}",
            at.to_rfc3339(),
            wanted.describe()
        ))
    })?;
    Ok(m.clone())
}
