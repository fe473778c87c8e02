//! `doppel.toml`: the repository, the environments and their roles, snapshot defaults.
//!
//! Every string may use `${VAR}` substitution so that staging and production differ only by
//! environment variables and no secret has to sit in the file. Unknown keys are errors that
//! name the file, line and column, like every other parse error; so are bad values, which
//! are located by the spans of the parsed document, never by searching the text
//! (where the same word may sit earlier in a comment or another section).

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::error::{Error, Result};
use crate::retention::Tiers;

/// Name of the config file looked up in the current directory when none is given.
pub const DEFAULT_FILE: &str = "doppel.toml";

/// The role an environment plays; it decides what may be restored into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The real thing: snapshots come from here, nothing is restored here without an override.
    Production,
    /// A full copy of production for engineers (raw data by default).
    ProdCopy,
    /// Pre-production, where recovery is rehearsed.
    Staging,
    /// Quality assurance.
    Qa,
    /// Automated tests.
    Test,
    /// A developer's database.
    Dev,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Role::Production => "production",
            Role::ProdCopy => "prod-copy",
            Role::Staging => "staging",
            Role::Qa => "qa",
            Role::Test => "test",
            Role::Dev => "dev",
        };
        f.write_str(s)
    }
}

/// Where snapshots are stored.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepositoryConfig {
    /// A folder, relative to the config file when not absolute.
    #[serde(default)]
    pub path: Option<String>,
    /// `s3://bucket/prefix`, `file:///folder` or a folder; instead of `path`.
    #[serde(default)]
    pub url: Option<String>,
    /// S3 endpoint of an S3-compatible store (`http://host:port`).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// S3 region.
    #[serde(default)]
    pub region: Option<String>,
    /// S3 path-style addressing.
    #[serde(default)]
    pub path_style: Option<bool>,
    /// zstd level for new chunks (1..=19).
    #[serde(default = "default_compression_level")]
    pub compression_level: i32,
    /// Client-side encryption: where the secret is.
    #[serde(default)]
    pub encryption: Option<EncryptionConfig>,
    /// Target size of pack objects in a new repository, like "16MiB".
    #[serde(default)]
    pub pack_size: Option<String>,
}

/// `encryption = { key_env = "DOPPEL_REPO_KEY" }` or `{ key_file = "/etc/doppel/repo.key" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptionConfig {
    /// The NAME of the environment variable holding the secret.
    #[serde(default)]
    pub key_env: Option<String>,
    /// A file holding the secret, relative to the config file when not absolute.
    #[serde(default)]
    pub key_file: Option<String>,
}

/// A repository resolved from the config: where it is and how to open it.
#[derive(Debug, Clone)]
pub struct RepoSpec {
    /// Where.
    pub location: crate::store::RepoLocation,
    /// How to open or create it (level, key, pack size).
    pub options: crate::repo::RepoOptions,
}

impl RepoSpec {
    /// Opens the store and the repository, which must exist.
    pub async fn open(&self) -> Result<crate::repo::Repository> {
        let store = self.connect().await?;
        crate::repo::Repository::open(store, &self.options).await
    }

    /// Opens the store and the repository, creating the repository if the store has none.
    pub async fn open_or_init(&self) -> Result<crate::repo::Repository> {
        let store = self.connect().await?;
        crate::repo::Repository::open_or_init(store, &self.options).await
    }

    /// Connects to the store.
    pub async fn connect(&self) -> Result<std::sync::Arc<dyn crate::store::Store>> {
        self.location
            .connect()
            .await
            .map_err(|e| Error::Repository(format!("repository {}: {e}", self.location)))
    }
}

fn default_compression_level() -> i32 {
    3
}

/// One named database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentConfig {
    /// What this environment is for.
    pub role: Role,
    /// A libpq URL (`postgresql://…`) or `key=value` connection string, substituted.
    pub url: String,
    /// Why `url` could not be substituted (a missing variable). Reported when the environment
    /// is used, so that a machine holding only production's variables can still snapshot it.
    #[serde(skip)]
    pub url_error: Option<String>,
    /// What data it may receive; `None`: the role's default ([`EnvironmentConfig::data`]).
    #[serde(default, rename = "data")]
    pub data_policy: Option<DataKind>,
    /// Receives subset snapshots (`snapshot --subset`, `derive --subset`) instead of whole
    /// ones when a snapshot is chosen for it (`restore --at`, `reseed`, `drill --to`).
    #[serde(default)]
    pub subset: bool,
    /// Keep a template copy of each restore on the same server, for `doppel reset`.
    #[serde(default)]
    pub pristine: bool,
    /// SQL files run after every restore into it (relative to the config file), in order:
    /// point integrations at sandboxes, disable jobs, so that the copy never talks to
    /// production's peers.
    #[serde(default)]
    pub after_restore: Vec<PathBuf>,
    /// Seed fixtures (`.sql`, or `schema.table.csv`) applied after the data of every restore
    /// into it and after `after_restore`, in order, in one transaction.
    #[serde(default)]
    pub seeds: Vec<PathBuf>,
}

/// What data an environment may receive (`data = "raw" | "anonymized"`): the snapshots'
/// own kind, so that the policy and a manifest compare directly. `anonymized`: only
/// anonymized snapshots; `raw`: raw ones too.
pub use crate::repo::manifest::DataKind;

impl EnvironmentConfig {
    /// The data it may receive: as configured, else raw for production and prod-copy and
    /// anonymized for staging, qa, test and dev.
    pub fn data(&self) -> DataKind {
        self.data_policy.unwrap_or(match self.role {
            Role::Production | Role::ProdCopy => DataKind::Raw,
            Role::Staging | Role::Qa | Role::Test | Role::Dev => DataKind::Anonymized,
        })
    }
}

/// Defaults for `doppel snapshot` and `doppel restore`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotConfig {
    /// Parallel workers (connections) when `-j` is not given.
    pub jobs: Option<usize>,
    /// Folder holding `pg_dump` and `pg_restore`, when the ones found by default are not right.
    pub pg_bin: Option<String>,
    /// A table larger than two of these is read in parts of this size (`64MB`, the default),
    /// by several workers at once.
    pub part_size: Option<String>,
}

impl SnapshotConfig {
    /// The part size in bytes.
    pub fn part_bytes(&self) -> u64 {
        self.part_size
            .as_deref()
            .and_then(|s| parse_size(s).ok())
            .unwrap_or(DEFAULT_PART_BYTES)
    }
}

/// Parts of a large table read by workers side by side.
pub const DEFAULT_PART_BYTES: u64 = 64 * 1024 * 1024;

/// Reads `64MB`, `512 kB`, `1GiB`, `1048576`: units are powers of 1024, as PostgreSQL's.
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a size: write e.g. 64MB"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "kib" | "k" => 1 << 10,
        "mb" | "mib" | "m" => 1 << 20,
        "gb" | "gib" | "g" => 1 << 30,
        _ => return Err(format!("'{text}': unknown unit; use B, kB, MB or GB")),
    };
    n.checked_mul(factor)
        .filter(|&b| b > 0)
        .ok_or_else(|| format!("'{text}' is not a usable size"))
}

/// `[anonymization]`: where the key and the rules are.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnonymizationConfig {
    /// The environment variable holding the anonymization secret. Only its name is in the
    /// file: the secret never is, and manifests record only the key's fingerprint.
    #[serde(default = "default_key_env")]
    pub key_env: String,
    /// The rules folder, relative to this file (`--rules` overrides).
    #[serde(default = "default_rules")]
    pub rules: String,
}

impl Default for AnonymizationConfig {
    fn default() -> Self {
        AnonymizationConfig {
            key_env: default_key_env(),
            rules: default_rules(),
        }
    }
}

fn default_key_env() -> String {
    "DOPPEL_ANON_KEY".into()
}

fn default_rules() -> String {
    crate::rules::DEFAULT_DIR.into()
}

/// `[drill]`: what every recovery drill checks besides the data.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrillConfig {
    /// Smoke queries, each returning a single `true` when the recovered database is fit for
    /// use (e.g. "SELECT count(*) > 0 FROM orders WHERE ordered_at > now() - interval '1 day'").
    #[serde(default)]
    pub checks: Vec<String>,
}

/// `[retention]`: the tiers, as `spacing@window` strings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetentionConfig {
    tiers: Option<Vec<String>>,
}

/// `[schedule]`: the daemon.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Environments to snapshot (default: the one with role production).
    #[serde(default)]
    pub environments: Vec<String>,
    /// Address of `/healthz` and `/metrics`.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// `/healthz` fails when the last success is older than this many finest spacings.
    #[serde(default = "default_max_missed")]
    pub healthz_max_missed: u32,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            environments: Vec::new(),
            listen: default_listen(),
            healthz_max_missed: default_max_missed(),
        }
    }
}

fn default_listen() -> String {
    "127.0.0.1:9187".into()
}

fn default_max_missed() -> u32 {
    3
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    repository: RepositoryConfig,
    #[serde(default)]
    repositories: BTreeMap<String, RepositoryConfig>,
    #[serde(default)]
    environments: BTreeMap<String, EnvironmentConfig>,
    #[serde(default)]
    snapshot: SnapshotConfig,
    #[serde(default)]
    retention: RetentionConfig,
    #[serde(default)]
    schedule: ScheduleConfig,
    #[serde(default)]
    anonymization: AnonymizationConfig,
    #[serde(default)]
    drill: DrillConfig,
    /// Time zone of local date-times such as `--at "2026-11-21 14:00"`.
    timezone: Option<String>,
}

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
    pub zone: crate::as_of::Zone,
    /// Recovery drills.
    pub drill: DrillConfig,
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
            None => crate::as_of::Zone::System,
            Some(name) => crate::as_of::Zone::parse(name).map_err(|e| {
                Error::Config(format!("{}: timezone: {e}", spans.at(&["timezone"])))
            })?,
        };
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

/// Replaces every `${NAME}` in `s`; `$$` stands for a literal `$`. Returns the first missing name.
pub fn substitute(
    s: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').ok_or_else(|| body.to_string())?;
            let name = &body[..end];
            out.push_str(&lookup(name).ok_or_else(|| name.to_string())?);
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Where the keys and values of the config text are, from toml's spanned document: errors
/// found after deserializing point at the value that caused them, never at an earlier
/// mention of the same word (a commented-out line, another section).
struct Spans<'a> {
    path: &'a Path,
    text: &'a str,
    root: Option<Spanned<DeTable<'a>>>,
}

impl<'a> Spans<'a> {
    /// The spans of `text`, read from `path` (named in the locations).
    fn new(path: &'a Path, text: &'a str) -> Spans<'a> {
        Spans {
            path,
            text,
            root: DeTable::parse(text).ok(),
        }
    }

    /// The key and the value at `keys` (`["repositories", "offsite", "url"]`).
    fn entry(&self, keys: &[&str]) -> Option<(Range<usize>, &Spanned<DeValue<'a>>)> {
        fn find<'t, 'a>(
            table: &'t DeTable<'a>,
            key: &str,
        ) -> Option<(Range<usize>, &'t Spanned<DeValue<'a>>)> {
            table
                .iter()
                .find(|(k, _)| k.get_ref() == key)
                .map(|(k, v)| (k.span(), v))
        }
        let (first, rest) = keys.split_first()?;
        let mut found = find(self.root.as_ref()?.get_ref(), first)?;
        for key in rest {
            let DeValue::Table(table) = found.1.get_ref() else {
                return None;
            };
            found = find(table, key)?;
        }
        Some(found)
    }

    /// The span of the value at `keys`; of the nearest enclosing key that is written when the
    /// value is not (a key left out of its section).
    fn span(&self, keys: &[&str]) -> Option<Range<usize>> {
        (1..=keys.len()).rev().find_map(|n| {
            let (key, value) = self.entry(&keys[..n])?;
            // A table's span may cover its whole body: its key is where it starts.
            Some(match value.get_ref() {
                DeValue::Table(_) => key,
                _ => value.span(),
            })
        })
    }

    /// `file:line:col` of `offset`.
    fn location(&self, offset: Option<usize>) -> String {
        let (line, col) = line_col(self.text, offset.unwrap_or(0));
        format!("{}:{line}:{col}", self.path.display())
    }

    /// `file:line:col` of the value at `keys` (see [`Spans::span`]).
    fn at(&self, keys: &[&str]) -> String {
        self.location(self.span(keys).map(|s| s.start))
    }

    /// `file:line:col` of item `index` of the array at `keys`.
    fn at_item(&self, keys: &[&str], index: usize) -> String {
        let item = self.entry(keys).and_then(|(_, v)| match v.get_ref() {
            DeValue::Array(items) => items.get(index).map(|i| i.span().start),
            _ => None,
        });
        match item {
            Some(offset) => self.location(Some(offset)),
            None => self.at(keys),
        }
    }

    /// The error for `${var}` unset in the value at `keys`, located at the reference itself.
    fn missing_var(&self, keys: &[&str], var: &str) -> Error {
        let offset = self.span(keys).map(|s| {
            let within = self.text.get(s.clone()).unwrap_or("");
            s.start + within.find(&format!("${{{var}")).unwrap_or(0)
        });
        Error::Config(format!(
            "{}: environment variable {var} is not set (export it before running doppel)",
            self.location(offset)
        ))
    }
}

/// Checks and resolves one repository section (`[repository]` or `[repositories.NAME]`,
/// `section_keys`).
fn resolve_repo(
    section: &mut RepositoryConfig,
    section_keys: &[&str],
    spans: &Spans<'_>,
    base: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<RepoSpec> {
    let name = section_keys.join(".");
    let keys = |key: &[&'static str]| {
        let mut all = section_keys.to_vec();
        all.extend_from_slice(key);
        all
    };
    let at = |key: &[&'static str]| spans.at(&keys(key));
    let subst = |key: &[&'static str], s: &str| {
        substitute(s, lookup).map_err(|var| spans.missing_var(&keys(key), &var))
    };
    let spec = match (&section.path, &section.url) {
        (Some(p), None) => subst(&["path"], p)?,
        (None, Some(u)) => subst(&["url"], u)?,
        (Some(_), Some(_)) => {
            return Err(Error::Config(format!(
                "{}: {name} sets both `path` and `url`: keep one",
                at(&["url"])
            )))
        }
        (None, None) => {
            return Err(Error::Config(format!(
                "{}: {name} needs `path = \"folder\"` or `url = \"s3://bucket/prefix\"`",
                at(&[])
            )))
        }
    };
    if !(1..=19).contains(&section.compression_level) {
        return Err(Error::Config(format!(
            "{}: {name}.compression_level = {} is out of range: use 1 to 19",
            at(&["compression_level"]),
            section.compression_level
        )));
    }
    let mut location = crate::store::RepoLocation::parse(&spec, base).map_err(|e| {
        Error::Config(format!(
            "{}: {name}: {e}",
            at(&[if section.url.is_some() { "url" } else { "path" }])
        ))
    })?;
    let s3_only = [
        ("endpoint", section.endpoint.is_some()),
        ("region", section.region.is_some()),
        ("path_style", section.path_style.is_some()),
    ];
    match &mut location {
        crate::store::RepoLocation::S3(l) => {
            if let Some(e) = &section.endpoint {
                l.endpoint = Some(subst(&["endpoint"], e)?);
            }
            if let Some(r) = &section.region {
                l.region = Some(subst(&["region"], r)?);
            }
            if let Some(p) = section.path_style {
                l.path_style = p;
            }
        }
        crate::store::RepoLocation::Local(_) => {
            if let Some((key, _)) = s3_only.iter().find(|(_, set)| *set) {
                return Err(Error::Config(format!(
                    "{}: {name}.{key} applies only to an s3:// repository",
                    at(&[*key])
                )));
            }
        }
    }
    let key = match &section.encryption {
        None => None,
        Some(enc) => Some(match (&enc.key_env, &enc.key_file) {
            (Some(var), None) => {
                if var.is_empty() || var.contains(['$', '=', ' ']) {
                    return Err(Error::Config(format!(
                        "{}: {name}.encryption.key_env must be the NAME of an environment \
                         variable (like \"DOPPEL_REPO_KEY\"), not its value: keep the secret \
                         itself out of files",
                        at(&["encryption", "key_env"])
                    )));
                }
                crate::repo::crypto::KeySource::Env(var.clone())
            }
            (None, Some(file)) => crate::repo::crypto::KeySource::File(
                base.join(subst(&["encryption", "key_file"], file)?),
            ),
            _ => {
                return Err(Error::Config(format!(
                    "{}: {name}.encryption needs exactly one of key_env or key_file",
                    at(&["encryption"])
                )))
            }
        }),
    };
    let pack_size = match &section.pack_size {
        None => None,
        Some(size) => Some(parse_size(size).map_err(|e| {
            Error::Config(format!("{}: {name}.pack_size: {e}", at(&["pack_size"])))
        })?),
    };
    Ok(RepoSpec {
        location,
        options: crate::repo::RepoOptions {
            level: Some(section.compression_level),
            key,
            pack_size,
        },
    })
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

/// The commented file `doppel init` writes.
pub const TEMPLATE: &str = r#"# doppel configuration. Every string may use ${VAR}: keep secrets in the environment.

# Time zone of local date-times such as `restore --at "2026-11-21 14:00"` (default: the system's).
# timezone = "Europe/Paris"

[repository]
# Where snapshots are stored: a folder, relative to this file...
path = "doppel-repo"
# ...or a bucket (credentials from the standard AWS chain: AWS_ACCESS_KEY_ID, AWS_PROFILE, ...):
# url = "s3://my-bucket/doppel/prod"
# endpoint = "http://127.0.0.1:8333"   # an S3-compatible store
# region = "us-east-1"
# path_style = true
# zstd level for new chunks (1 = fastest, 19 = smallest).
compression_level = 3
# Client-side encryption of everything stored (set when the repository is created):
# encryption = { key_env = "DOPPEL_REPO_KEY" }    # or { key_file = "/etc/doppel/repo.key" }
# Chunks are stored in packs of about this size.
# pack_size = "16MiB"

# Other repositories, for `doppel copy SNAP --to-repo offsite`.
# [repositories.offsite]
# url = "s3://offsite-bucket/doppel"
# encryption = { key_env = "DOPPEL_OFFSITE_KEY" }

[snapshot]
# Parallel connections for snapshot and restore (-j overrides).
jobs = 2
# Folder with pg_dump/pg_restore matching the server's major version (default: found automatically).
# pg_bin = "/usr/lib/postgresql/15/bin"
# A table larger than two parts is read in parts of this size by several workers at once.
# part_size = "64MB"

[retention]
# spacing@window, finest first: keep one snapshot per spacing for the length of the window.
tiers = ["1m@15m", "2m@30m", "5m@1h", "10m@3h", "1h@1d", "3h@3d", "6h@7d", "1d@30d"]

[schedule]
# environments = ["production"]   # default: the environment with role production
listen = "127.0.0.1:9187"          # /healthz and /metrics
healthz_max_missed = 3             # /healthz fails after this many missed spacings

[drill]
# Smoke queries every recovery drill runs; each must return true.
# checks = ["SELECT count(*) > 0 FROM orders"]

[anonymization]
key_env = "DOPPEL_ANON_KEY"        # the variable holding the anonymization secret (never the secret)
rules = "rules"                    # rules folder for --rules, relative to this file

# One section per database. role: production, prod-copy, staging, qa, test or dev.
# url: a libpq URL or key=value string; PGHOST, PGUSER, PGPASSWORD, ~/.pgpass … apply as in psql.
[environments.production]
role = "production"
url = "${DATABASE_URL}"

[environments.staging]
role = "staging"
url = "${STAGING_DATABASE_URL}"
# data = "anonymized"              # what it may receive: staging, qa, test, dev default to anonymized
# subset = true                    # receive subset snapshots (snapshot --subset), not whole ones
# after_restore = ["sql/staging-neutralize.sql"]   # run after every restore into it
# seeds = ["seeds/qa-accounts.sql", "seeds/public.feature_flags.csv"]   # then these, in one transaction

# [environments.prod-copy]
# role = "prod-copy"               # receives raw snapshots by default
# url = "${PROD_COPY_DATABASE_URL}"
# pristine = true                  # keep a template of each restore: `doppel reset prod-copy`
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "PROD" => Some("postgresql://u:secret@db/prod".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn parse(text: &str) -> Result<Config> {
        Config::parse(Path::new("/etc/doppel/doppel.toml"), text, &env)
    }

    #[test]
    fn substitution_cases() {
        let cases: &[(&str, std::result::Result<&str, &str>)] = &[
            ("plain", Ok("plain")),
            ("${PROD}", Ok("postgresql://u:secret@db/prod")),
            ("a${EMPTY}b", Ok("ab")),
            ("cost $$5", Ok("cost $5")),
            ("lone $ sign", Ok("lone $ sign")),
            ("${NOPE}", Err("NOPE")),
            ("x${UNCLOSED", Err("UNCLOSED")),
        ];
        for (input, want) in cases {
            let got = substitute(input, &env);
            assert_eq!(
                got.as_deref().map_err(|e| e.as_str()),
                *want,
                "input {input}"
            );
        }
    }

    #[test]
    fn reference_config_sets_every_option() {
        let text = r#"
timezone = "Europe/Paris"
[repository]
path = "repo"
compression_level = 5
encryption = { key_file = "repo.key" }
pack_size = "8MiB"
[repositories.offsite]
url = "s3://backups/doppel/prod"
endpoint = "http://127.0.0.1:8333"
region = "us-east-1"
path_style = true
compression_level = 3
encryption = { key_env = "OFFSITE_KEY" }
pack_size = "32MiB"
[snapshot]
jobs = 4
pg_bin = "/usr/lib/postgresql/15/bin"
part_size = "16MB"
[retention]
tiers = ["1m@10m", "1h@1d"]
[schedule]
environments = ["prod"]
listen = "127.0.0.1:9999"
healthz_max_missed = 5
[anonymization]
key_env = "SHOP_ANON_KEY"
rules = "anon-rules"
[drill]
checks = ["SELECT count(*) > 0 FROM orders"]
[environments.prod]
role = "production"
url = "${PROD}"
[environments.copy]
role = "prod-copy"
url = "host=localhost dbname=copy"
pristine = true
after_restore = ["sql/neutralize.sql"]
seeds = ["seeds/accounts.sql", "seeds/public.flags.csv"]
[environments.qa]
role = "qa"
url = "host=localhost dbname=qa"
data = "raw"
subset = true
"#;
        let c = parse(text).unwrap();
        assert_eq!(
            c.repo.location,
            crate::store::RepoLocation::Local("/etc/doppel/repo".into())
        );
        assert_eq!(
            c.repositories["offsite"].location.to_string(),
            "s3://backups/doppel/prod at http://127.0.0.1:8333"
        );
        assert_eq!(
            c.repositories["offsite"].options.key,
            Some(crate::repo::crypto::KeySource::Env("OFFSITE_KEY".into()))
        );
        assert_eq!(c.repositories["offsite"].options.pack_size, Some(32 << 20));
        assert_eq!(c.repository.compression_level, 5);
        assert_eq!(c.snapshot.jobs, Some(4));
        assert_eq!(c.snapshot.part_bytes(), 16 << 20);
        assert_eq!(c.environments["prod"].url, "postgresql://u:secret@db/prod");
        assert_eq!(c.environments["copy"].role, Role::ProdCopy);
        assert_eq!(c.production().unwrap().0, "prod");
        assert_eq!(
            c.retention,
            Tiers::parse(&["1m@10m".into(), "1h@1d".into()]).unwrap()
        );
        assert_eq!(c.schedule.environments, vec!["prod"]);
        assert_eq!(
            (c.schedule.listen.as_str(), c.schedule.healthz_max_missed),
            ("127.0.0.1:9999", 5)
        );
        assert_eq!(c.anonymization.key_env, "SHOP_ANON_KEY");
        assert_eq!(c.drill.checks, ["SELECT count(*) > 0 FROM orders"]);
        assert_eq!(c.zone, crate::as_of::Zone::Named(chrono_tz::Europe::Paris));
        let copy = &c.environments["copy"];
        assert!(copy.pristine);
        assert_eq!(
            copy.seeds,
            vec![
                PathBuf::from("/etc/doppel/seeds/accounts.sql"),
                PathBuf::from("/etc/doppel/seeds/public.flags.csv")
            ]
        );
        assert_eq!(
            copy.after_restore,
            [Path::new("/etc/doppel/sql/neutralize.sql")]
        );
        assert_eq!(copy.data(), DataKind::Raw);
        assert_eq!(c.environments["qa"].data(), DataKind::Raw);
        assert_eq!(c.environments["prod"].data(), DataKind::Raw);
        assert!(c.environments["qa"].subset && !copy.subset && !c.environments["prod"].subset);
        assert_eq!(c.rules_path, Path::new("/etc/doppel/anon-rules"));
    }

    #[test]
    fn a_key_value_in_place_of_its_variable_name_is_refused() {
        for value in ["${PROD}", "0f3a9c 77be12d4e5"] {
            let text =
                format!("[repository]\npath = \"r\"\n[anonymization]\nkey_env = \"{value}\"\n");
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains("doppel.toml:4:"), "{err}");
            assert!(
                !err.contains("77be12d4e5") && !err.contains("u:secret"),
                "the value must not be echoed: {err}"
            );
        }
    }

    #[test]
    fn sizes() {
        for (text, want) in [
            ("64MB", Ok(64 << 20)),
            ("512 kB", Ok(512 << 10)),
            ("1GiB", Ok(1 << 30)),
            ("4096", Ok(4096)),
            ("0MB", Err(())),
            ("MB", Err(())),
            ("12 parsecs", Err(())),
        ] {
            assert_eq!(parse_size(text).map_err(|_| ()), want, "{text}");
        }
        let text = "[repository]\npath = \"r\"\n[snapshot]\npart_size = \"big\"\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(
            err.contains("doppel.toml:4:") && err.contains("part_size"),
            "{err}"
        );
    }

    #[test]
    fn bad_tiers_name_the_line_and_the_tier() {
        let text = "[repository]\npath = \"r\"\n[retention]\ntiers = [\"1m@15m\", \"5x@1h\"]\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(
            err.contains("doppel.toml:4:") && err.contains("5x@1h"),
            "{err}"
        );
        let text = "[repository]\npath = \"r\"\n[retention]\ntiers = []\n";
        assert!(parse(text).is_err(), "an empty policy must be refused");
    }

    #[test]
    fn template_parses_with_its_variables_set() {
        let c = Config::parse(Path::new("doppel.toml"), TEMPLATE, &|_| Some("x".into())).unwrap();
        assert_eq!(c.production().unwrap().0, "production");
    }

    #[test]
    fn unknown_key_names_file_line_and_column() {
        let text = "[repository]\npath = \"r\"\ncompresion = 3\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(err.starts_with("/etc/doppel/doppel.toml:3:1:"), "{err}");
        assert!(err.contains("compresion"), "{err}");
    }

    #[test]
    fn missing_variable_is_named_with_its_line_and_no_value_leaks() {
        let text = "[repository]\npath = \"r\"\n[environments.s]\nrole = \"staging\"\nurl = \"${STAGING_URL}\"\n[environments.p]\nrole = \"production\"\nurl = \"${PROD}\"\n";
        let config = parse(text).unwrap();
        assert!(
            config.environment("p").is_ok(),
            "an environment with its variables set is usable"
        );
        let err = config.environment("s").unwrap_err().to_string();
        assert!(err.contains("doppel.toml:5:"), "{err}");
        assert!(err.contains("STAGING_URL"), "{err}");
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn bad_role_and_unknown_environment() {
        let text = "[repository]\npath = \"r\"\n[environments.s]\nrole = \"prod\"\nurl = \"x\"\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(err.contains(":4:"), "{err}");
        let ok = parse("[repository]\npath = \"r\"\n").unwrap();
        let err = ok.environment("staging").unwrap_err().to_string();
        assert!(err.contains("unknown environment 'staging'"), "{err}");
        assert!(ok.production().is_err());
    }

    /// Parses `marked` without its `‸` and checks that the error starts with the file, line
    /// and column where the `‸` stood, and says `says`.
    fn error_at(marked: &str, says: &str) {
        let at = marked.find('‸').expect("a ‸ marks where the error is");
        let text = marked.replacen('‸', "", 1);
        let (line, col) = line_col(&text, at);
        let err = match parse(&text) {
            Err(e) => e.to_string(),
            // A missing variable in an environment's URL is reported when it is used.
            Ok(c) => c
                .environments
                .keys()
                .find_map(|name| c.environment(name).err())
                .unwrap_or_else(|| panic!("no error in:\n{text}"))
                .to_string(),
        };
        let want = format!("/etc/doppel/doppel.toml:{line}:{col}: ");
        assert!(err.starts_with(&want), "want {want}…, got: {err}\n{text}");
        assert!(err.contains(says), "want `{says}` in: {err}");
        assert!(
            !err.contains("u:secret") && !err.contains("s3cr3t"),
            "{err}"
        );
    }

    #[test]
    fn repository_errors_point_at_the_key_not_at_a_comment_mentioning_it() {
        let head = "# compression_level = 3\n# url = \"s3://bucket/prefix\"\n# endpoint = \"http://x\"\n\
                    # pack_size = \"16MiB\"\n# encryption = { key_env = \"DOPPEL_REPO_KEY\" }\n[repository]\n";
        for (body, says) in [
            ("path = \"r\"\ncompression_level = ‸40\n", "out of range"),
            (
                "path = \"r\"\n‸compresion_level = 3\n",
                "unknown field `compresion_level`",
            ),
            (
                "path = \"r\"\ncompression_level = ‸\"high\"\n",
                "invalid type",
            ),
            (
                "path = \"r\"\nurl = ‸\"s3://b/p\"\n",
                "sets both `path` and `url`",
            ),
            (
                "path = \"r\"\nendpoint = ‸\"http://x\"\n",
                "applies only to an s3://",
            ),
            ("url = ‸\"s3://b?colour=red\"\n", "unknown option 'colour'"),
            (
                "path = \"r\"\npack_size = ‸\"huge\"\n",
                "repository.pack_size",
            ),
            (
                "path = \"r\"\nencryption = { key_env = ‸\"s3cr3t value\" }\n",
                "must be the NAME",
            ),
            (
                "path = \"r\"\n‸encryption = {}\n",
                "exactly one of key_env or key_file",
            ),
            (
                "path = \"r\"\nencryption = { ‸key_envv = \"K\" }\n",
                "unknown field `key_envv`",
            ),
            ("path = \"r/‸${NOPE}\"\n", "NOPE is not set"),
        ] {
            error_at(&format!("{head}{body}"), says);
        }
        // A section without a location is named at its header.
        error_at(
            "# path = \"doppel-repo\"\n[‸repository]\ncompression_level = 3\n",
            "needs `path",
        );
    }

    #[test]
    fn other_repositories_are_located_in_their_own_section() {
        let head =
            "[repository]\nurl = \"s3://main/${PROD_BUCKET_SUFFIX_NOPE}\"\npack_size = \"8MiB\"\n\
                    region = \"eu-west-3\"\n";
        // The first repository has the same keys, and the same missing variable: the error is
        // about the second one, so it must be located there.
        let text = head.replace("${PROD_BUCKET_SUFFIX_NOPE}", "p");
        for (body, says) in [
            (
                "url = \"s3://b\"\npack_size = ‸\"huge\"\n",
                "repositories.off.pack_size",
            ),
            (
                "path = \"x\"\nregion = ‸\"eu\"\n",
                "repositories.off.region applies only",
            ),
            (
                "url = \"s3://b/‸${PROD_BUCKET_SUFFIX_NOPE}\"\n",
                "PROD_BUCKET_SUFFIX_NOPE",
            ),
            (
                "url = \"s3://b\"\n‸colour = \"red\"\n",
                "unknown field `colour`",
            ),
            (
                "url = \"s3://b\"\ncompression_level = ‸0\n",
                "repositories.off.compression_level",
            ),
        ] {
            error_at(&format!("{text}[repositories.off]\n{body}"), says);
        }
    }

    #[test]
    fn snapshot_errors_are_located() {
        let head = "[repository]\npath = \"r\"\n# [snapshot]\n# jobs = 2\n# part_size = \"64MB\"\n\
                    # pg_bin = \"${PG_BIN}\"\n[snapshot]\n";
        for (body, says) in [
            ("jobs = ‸0\n", "snapshot.jobs must be at least 1"),
            ("jobs = ‸\"two\"\n", "invalid type"),
            ("part_size = ‸\"big\"\n", "snapshot.part_size"),
            ("pg_bin = \"‸${PG_BIN}\"\n", "PG_BIN is not set"),
            ("‸job = 2\n", "unknown field `job`"),
        ] {
            error_at(&format!("{head}{body}"), says);
        }
    }

    #[test]
    fn retention_errors_point_at_the_tier() {
        let head = "[repository]\npath = \"r\"\n# tiers = [\"1m@15m\", \"5x@1h\"]\n[retention]\n";
        for (body, says) in [
            ("tiers = [\"1m@15m\", ‸\"5x@1h\"]\n", "5x@1h"),
            (
                "tiers = [\"1m@15m\",\n  \"2m@30m\",\n  ‸\"1h@5m\"]\n",
                "1h@5m",
            ),
            ("tiers = ‸[\"1h@1d\", \"1m@15m\"]\n", "retention.tiers"),
            ("tiers = ‸\"1m@15m\"\n", "invalid type"),
            ("‸tier = [\"1m@15m\"]\n", "unknown field `tier`"),
        ] {
            error_at(&format!("{head}{body}"), says);
        }
        assert!(
            parse(&format!("{head}tiers = []\n")).is_err(),
            "an empty policy"
        );
    }

    #[test]
    fn schedule_errors_point_at_the_environment_named() {
        let head = "[repository]\npath = \"r\"\n[environments.prod]\nrole = \"production\"\n\
                    url = \"x\"\n# environments = [\"stagin\"]\n[schedule]\n";
        for (body, says) in [
            (
                "environments = [\"prod\", ‸\"stagin\"]\n",
                "names 'stagin', which is not an environment",
            ),
            ("healthz_max_missed = ‸-1\n", "expected u32"),
            (
                "‸listen_on = \"127.0.0.1:1\"\n",
                "unknown field `listen_on`",
            ),
        ] {
            error_at(&format!("{head}{body}"), says);
        }
    }

    #[test]
    fn anonymization_errors_are_not_located_at_another_section_s_key() {
        // [repository] has a key_env too, valid; the anonymization one is wrong.
        let head = "[repository]\npath = \"r\"\nencryption = { key_env = \"REPO_KEY\" }\n\
                    # rules = \"${RULES_DIR}\"\n[anonymization]\n";
        for (body, says) in [
            (
                "key_env = ‸\"${PROD}\"\n",
                "anonymization.key_env must be the NAME",
            ),
            ("rules = \"‸${RULES_DIR}/x\"\n", "RULES_DIR is not set"),
            ("key_env = ‸7\n", "invalid type"),
            ("‸key = \"K\"\n", "unknown field `key`"),
        ] {
            error_at(&format!("{head}{body}"), says);
        }
    }

    #[test]
    fn drill_errors_are_located() {
        let head = "[repository]\npath = \"r\"\n# [drill]\n# check = [\"SELECT true\"]\n[drill]\n";
        for (body, says) in [
            ("‸check = [\"SELECT true\"]\n", "unknown field `check`"),
            ("checks = ‸\"SELECT true\"\n", "invalid type"),
        ] {
            error_at(&format!("{head}{body}"), says);
        }
    }

    #[test]
    fn environment_errors_are_located_in_the_environment_at_fault() {
        let head = "[repository]\npath = \"r\"\n# url = \"${STAGING_URL}\"\n\
                    [environments.prod]\nrole = \"production\"\nurl = \"${PROD}\"\ndata = \"raw\"\n\
                    pristine = true\n[environments.staging]\n";
        for (body, says) in [
            ("role = ‸\"prod\"\nurl = \"x\"\n", "unknown variant `prod`"),
            (
                "role = \"staging\"\nurl = \"‸${STAGING_URL}\"\n",
                "STAGING_URL is not set",
            ),
            (
                "role = \"staging\"\nurl = \"host=h password=${PROD} user=‸${STAGING_URL}\"\n",
                "STAGING_URL is not set",
            ),
            (
                "role = \"staging\"\nurl = \"x\"\ndata = ‸\"rough\"\n",
                "unknown variant `rough`",
            ),
            (
                "role = \"staging\"\nurl = \"x\"\n‸pristin = true\n",
                "unknown field `pristin`",
            ),
            (
                "role = \"staging\"\nurl = \"x\"\npristine = ‸\"yes\"\n",
                "invalid type",
            ),
            (
                "role = \"staging\"\nurl = \"x\"\nseeds = ‸\"a.sql\"\n",
                "invalid type",
            ),
        ] {
            error_at(&format!("{head}{body}"), says);
        }
        // A key left out is located at the header of its section.
        let head = head.replace("[environments.staging]", "‸[environments.staging]");
        error_at(&format!("{head}url = \"x\"\n"), "missing field `role`");
    }

    #[test]
    fn timezone_errors_point_at_the_setting_not_its_comment() {
        error_at(
            "# timezone = \"Europe/Paris\"\ntimezone = ‸\"Mars/Olympus\"\n[repository]\npath = \"r\"\n",
            "unknown time zone 'Mars/Olympus'",
        );
        error_at(
            "# timezone = \"UTC\"\ntimezone = ‸3\n[repository]\npath = \"r\"\n",
            "invalid type",
        );
        error_at(
            "# timezone = \"UTC\"\n‸time_zone = \"UTC\"\n[repository]\npath = \"r\"\n",
            "unknown field `time_zone`",
        );
    }

    #[test]
    fn errors_in_the_template_are_located_below_its_commented_lines() {
        // `doppel init`'s file comments out most keys: uncommenting one and getting it wrong
        // must point at the line written, not at the comment above it.
        let text = TEMPLATE.replace(
            "# part_size = \"64MB\"",
            "# part_size = \"64MB\"\npart_size = ‸\"64 parsecs\"",
        );
        let text = text
            .replace("${DATABASE_URL}", "x")
            .replace("${STAGING_DATABASE_URL}", "y");
        error_at(&text, "snapshot.part_size");
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }
}
