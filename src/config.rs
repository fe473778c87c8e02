//! `doppel.toml`: the repository, the environments and their roles, snapshot defaults.
//!
//! Every string may use `${VAR}` substitution so that staging and production differ only by
//! environment variables and no secret has to sit in the file. Unknown keys are errors that
//! name the file, line and column, like every other parse error; so are bad values, which
//! are located by the spans of the parsed document, never by searching the text
//! (where the same word may sit earlier in a comment or another section).

mod changes;
mod repository;
mod sections;
mod spans;
mod template;
mod zone;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{line_col, Error, Result};
use crate::retention::Tiers;
use repository::resolve_repo;
use sections::RawConfig;
use spans::Spans;

/// What data an environment may receive (`data = "raw" | "anonymized"`): the snapshots'
/// own kind, so that the policy and a manifest compare directly. `anonymized`: only
/// anonymized snapshots; `raw`: raw ones too.
pub use crate::repo::manifest::DataKind;
pub use changes::{ChangesMode, DEFAULT_BASE_EVERY, DEFAULT_MAX_LAG};
pub use sections::{
    parse_size, AnonymizationConfig, DrillConfig, EncryptionConfig, EnvironmentConfig,
    NotifyConfig, RepoSpec, RepositoryConfig, Role, ScheduleConfig, SnapshotConfig,
    DEFAULT_PART_BYTES,
};
pub use spans::substitute;
pub use template::TEMPLATE;
pub use zone::Zone;

/// Name of the config file looked up in the current directory when none is given.
pub const DEFAULT_FILE: &str = "doppel.toml";

/// A loaded, substituted and checked `doppel.toml`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from.
    pub path: PathBuf,
    /// The repository section as written (substituted).
    pub repository: RepositoryConfig,
    /// The repository, resolved.
    pub repo: RepoSpec,
    /// Other repositories by name (`[repositories.NAME]`), for `doppel copy --to-repo NAME`.
    pub repositories: BTreeMap<String, RepoSpec>,
    /// Environments by name.
    pub environments: BTreeMap<String, EnvironmentConfig>,
    /// Snapshot and restore defaults.
    pub snapshot: SnapshotConfig,
    /// Retention tiers (the defaults when the file has none).
    pub retention: Tiers,
    /// The scheduler daemon.
    pub schedule: ScheduleConfig,
    /// The anonymization key variable and rules folder.
    pub anonymization: AnonymizationConfig,
    /// The rules folder, absolute.
    pub rules_path: PathBuf,
    /// Time zone of local date-times (`timezone`, else the system's).
    pub zone: Zone,
    /// Recovery drills.
    pub drill: DrillConfig,
    /// `[notify]`: where alerts go.
    pub notify: NotifyConfig,
}

impl Config {
    /// Finds the config file: an explicit path, `$DOPPEL_CONFIG`, or `./doppel.toml`.
    pub fn locate(explicit: Option<&Path>) -> PathBuf {
        if let Some(p) = explicit {
            return p.to_path_buf();
        }
        match std::env::var_os("DOPPEL_CONFIG") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => PathBuf::from(DEFAULT_FILE),
        }
    }

    /// Reads and checks a config file, substituting `${VAR}` from the process environment.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Config(format!(
                "cannot read config {}: {e} (create one with `doppel init`, or pass --config)",
                path.display()
            ))
        })?;
        Self::parse(path, &text, &|name| std::env::var(name).ok())
    }

    /// Parses config text; `lookup` resolves `${VAR}` (the environment, or a map in tests).
    pub fn parse(
        path: &Path,
        text: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            Error::Config(format!(
                "{}:{line}:{col}: {}",
                path.display(),
                e.message().trim_end()
            ))
        })?;
        let spans = Spans::new(path, text);
        let subst = |keys: &[&str], s: &str| {
            substitute(s, lookup).map_err(|var| spans.missing_var(keys, &var))
        };
        let base = path.parent().unwrap_or(Path::new("."));
        let mut repository = raw.repository;
        let repo = resolve_repo(&mut repository, &["repository"], &spans, base, lookup)?;
        let mut repositories = BTreeMap::new();
        for (name, mut section) in raw.repositories {
            let keys = ["repositories", name.as_str()];
            let spec = resolve_repo(&mut section, &keys, &spans, base, lookup)?;
            repositories.insert(name, spec);
        }
        let mut environments = BTreeMap::new();
        for (name, mut env) in raw.environments {
            changes::check(&name, &env, &spans)?;
            match subst(&["environments", &name, "url"], &env.url) {
                Ok(url) => env.url = url,
                Err(e) => env.url_error = Some(e.to_string()),
            }
            environments.insert(name, env);
        }
        let mut snapshot = raw.snapshot;
        if let Some(bin) = &snapshot.pg_bin {
            snapshot.pg_bin = Some(subst(&["snapshot", "pg_bin"], bin)?);
        }
        if let Some(size) = &snapshot.part_size {
            parse_size(size).map_err(|e| {
                Error::Config(format!(
                    "{}: snapshot.part_size: {e}",
                    spans.at(&["snapshot", "part_size"])
                ))
            })?;
        }
        if snapshot.jobs == Some(0) {
            return Err(Error::Config(format!(
                "{}: snapshot.jobs must be at least 1",
                spans.at(&["snapshot", "jobs"])
            )));
        }
        let retention = match &raw.retention.tiers {
            None => Tiers::default(),
            Some(list) => {
                // A tier wrong on its own is pointed at; one at odds with another, the list.
                let keys = ["retention", "tiers"];
                let alone = list
                    .iter()
                    .enumerate()
                    .find_map(|(i, t)| crate::retention::Tier::parse(t).err().map(|e| (i, e)));
                if let Some((i, e)) = alone {
                    return Err(Error::Config(format!(
                        "{}: retention.tiers: {e}",
                        spans.at_item(&keys, i)
                    )));
                }
                Tiers::parse(list).map_err(|e| {
                    Error::Config(format!("{}: retention.tiers: {e}", spans.at(&keys)))
                })?
            }
        };
        for (i, name) in raw.schedule.environments.iter().enumerate() {
            if !environments.contains_key(name) {
                return Err(Error::Config(format!(
                    "{}: schedule.environments names '{name}', which is not an environment in \
                     this file",
                    spans.at_item(&["schedule", "environments"], i)
                )));
            }
        }
        let mut anonymization = raw.anonymization;
        anonymization.rules = subst(&["anonymization", "rules"], &anonymization.rules)?;
        if anonymization.key_env.is_empty() || anonymization.key_env.contains(['$', '=', ' ']) {
            return Err(Error::Config(format!(
                "{}: anonymization.key_env must be the NAME of an environment variable \
                 (like \"DOPPEL_ANON_KEY\"), not its value: keep the secret itself out of files",
                spans.at(&["anonymization", "key_env"])
            )));
        }
        let rules_path = base.join(&anonymization.rules);
        let zone = match &raw.timezone {
            None => Zone::System,
            Some(name) => Zone::parse(name).map_err(|e| {
                Error::Config(format!("{}: timezone: {e}", spans.at(&["timezone"])))
            })?,
        };
        let mut notify = raw.notify;
        if let Some(url) = &notify.webhook {
            let keys = ["notify", "webhook"];
            let url = subst(&keys, url)?;
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(Error::Config(format!(
                    "{}: notify.webhook must be an http:// or https:// URL",
                    spans.at(&keys)
                )));
            }
            notify.webhook = Some(url);
        }
        for env in environments.values_mut() {
            env.after_restore = env.after_restore.iter().map(|f| base.join(f)).collect();
            env.seeds = env.seeds.iter().map(|f| base.join(f)).collect();
        }
        Ok(Config {
            path: path.to_path_buf(),
            repository,
            repo,
            repositories,
            environments,
            snapshot,
            retention,
            schedule: raw.schedule,
            anonymization,
            rules_path,
            zone,
            drill: raw.drill,
            notify,
        })
    }

    /// The named environment, or an error listing the ones that exist.
    pub fn environment(&self, name: &str) -> Result<&EnvironmentConfig> {
        let env = self.environments.get(name).ok_or_else(|| {
            Error::Config(format!(
                "unknown environment '{name}' in {}: known environments are {}",
                self.path.display(),
                self.known_environments()
            ))
        })?;
        usable(env)
    }

    /// The one environment with role production (the default snapshot source).
    pub fn production(&self) -> Result<(&str, &EnvironmentConfig)> {
        let prods: Vec<_> = self
            .environments
            .iter()
            .filter(|(_, e)| e.role == Role::Production)
            .collect();
        match prods.as_slice() {
            [(name, env)] => Ok((name.as_str(), usable(env)?)),
            [] => Err(Error::Config(format!(
                "no environment with role = \"production\" in {}: name the environment to snapshot (known: {})",
                self.path.display(),
                self.known_environments()
            ))),
            _ => Err(Error::Config(format!(
                "several environments have role = \"production\" in {}: name the one to snapshot ({})",
                self.path.display(),
                prods.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    fn known_environments(&self) -> String {
        if self.environments.is_empty() {
            "none".into()
        } else {
            self.environments
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        }
    }
}

fn usable(env: &EnvironmentConfig) -> Result<&EnvironmentConfig> {
    match &env.url_error {
        Some(e) => Err(Error::Config(e.clone())),
        None => Ok(env),
    }
}

#[cfg(test)]
mod tests;
