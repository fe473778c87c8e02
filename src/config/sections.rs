//! The sections of `doppel.toml` as serde reads them: roles, repositories, environments,
//! snapshot, anonymization, drill, retention and schedule settings.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::changes::{ChangesMode, DEFAULT_BASE_EVERY, DEFAULT_MAX_LAG};
use super::DataKind;
use crate::error::{Error, Result};

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
    /// Whether its changes are archived between snapshots through a logical replication
    /// slot (`changes = "logical"`, production only) or not (`"none"`, the default).
    #[serde(default)]
    pub changes: ChangesMode,
    /// The most WAL the slot may hold back on the server, like "4GiB" (with `changes =
    /// "logical"`); [`EnvironmentConfig::max_lag_bytes`] reads it.
    #[serde(default)]
    pub changes_max_lag: Option<String>,
    /// With `changes = "logical"`, how often the scheduler takes a base snapshot, like "1h"
    /// (the default); at its other slots the running archive serves every second, and no
    /// snapshot is taken. [`EnvironmentConfig::base_every`] reads it.
    #[serde(default)]
    pub changes_base_every: Option<String>,
}

impl EnvironmentConfig {
    /// The data it may receive: as configured, else raw for production and prod-copy and
    /// anonymized for staging, qa, test and dev.
    pub fn data(&self) -> DataKind {
        self.data_policy.unwrap_or(match self.role {
            Role::Production | Role::ProdCopy => DataKind::Raw,
            Role::Staging | Role::Qa | Role::Test | Role::Dev => DataKind::Anonymized,
        })
    }

    /// `changes_max_lag` in bytes, else [`DEFAULT_MAX_LAG`] (checked when the file is read).
    pub fn max_lag_bytes(&self) -> u64 {
        self.changes_max_lag
            .as_deref()
            .and_then(|s| parse_size(s).ok())
            .unwrap_or(DEFAULT_MAX_LAG)
    }

    /// `changes_base_every`, else [`DEFAULT_BASE_EVERY`] (checked when the file is read).
    pub fn base_every(&self) -> chrono::TimeDelta {
        self.changes_base_every
            .as_deref()
            .and_then(|s| crate::retention::duration::parse_span(s).ok())
            .unwrap_or(DEFAULT_BASE_EVERY)
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

/// `[notify]`: where the daemon sends alerts.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// A URL that receives a JSON POST per alert (failed or missed snapshots, failed prunes and
    /// drills, a stopped change archive), like "${ALERT_WEBHOOK}". Webhook URLs often carry
    /// their token: it is never printed.
    #[serde(default)]
    pub webhook: Option<String>,
}

impl std::fmt::Debug for NotifyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyConfig")
            .field("webhook", &self.webhook.as_ref().map(|_| "(set)"))
            .finish()
    }
}

/// `[retention]`: the tiers, as `spacing@window` strings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RetentionConfig {
    pub(super) tiers: Option<Vec<String>>,
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
pub(super) struct RawConfig {
    pub(super) repository: RepositoryConfig,
    #[serde(default)]
    pub(super) repositories: BTreeMap<String, RepositoryConfig>,
    #[serde(default)]
    pub(super) environments: BTreeMap<String, EnvironmentConfig>,
    #[serde(default)]
    pub(super) snapshot: SnapshotConfig,
    #[serde(default)]
    pub(super) retention: RetentionConfig,
    #[serde(default)]
    pub(super) schedule: ScheduleConfig,
    #[serde(default)]
    pub(super) anonymization: AnonymizationConfig,
    #[serde(default)]
    pub(super) drill: DrillConfig,
    #[serde(default)]
    pub(super) notify: NotifyConfig,
    /// Time zone of local date-times such as `--at "2026-11-21 14:00"`.
    pub(super) timezone: Option<String>,
}
