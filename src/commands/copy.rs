//! `copy`: snapshots into another repository (a named one of the config, or a location),
//! sending only the chunks it lacks; never into the repository itself.

use std::path::PathBuf;

use serde::Serialize;

use crate::config::{Config, RepoSpec};
use crate::error::{Error, Result};
use crate::repo::crypto::KeySource;
use crate::repo::RepoOptions;
use crate::store::RepoLocation;
use crate::transfer::CopyReport;

/// Options of a copy.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Snapshots: full ids, unique prefixes, or "latest".
    pub snapshots: Vec<String>,
    /// Every snapshot in the repository instead.
    pub all: bool,
    /// The destination: a `[repositories.NAME]` of the config, or a location. Created if
    /// empty.
    pub to_repo: String,
    /// For a destination given as a location: the name of the variable holding its secret.
    pub to_key_env: Option<String>,
    /// For a destination given as a location: a file holding its secret.
    pub to_key_file: Option<PathBuf>,
}

/// What a copy did.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The destination's location.
    pub destination: String,
    /// Snapshots and chunks sent.
    #[serde(flatten)]
    pub copy: CopyReport,
}

/// Copies snapshots.
pub async fn run(config: &Config, opts: &Options) -> Result<Report> {
    let src = super::open_repo(config).await?;
    let dst_spec = destination(config, opts)?;
    if dst_spec.location == config.repo.location {
        return Err(Error::Refused(
            "--to-repo is this repository itself: name another one".into(),
        ));
    }
    let snapshots = if opts.all {
        src.manifests().await?
    } else {
        let mut out = Vec::new();
        for s in &opts.snapshots {
            out.push(src.resolve(s).await?);
        }
        out
    };
    let dst = dst_spec.open_or_init().await?;
    let copy = crate::transfer::copy(&src, &dst, &snapshots).await?;
    Ok(Report {
        destination: dst.location(),
        copy,
    })
}

/// The destination `to_repo` names: a repository of the config (which sets its own
/// encryption), else a location with the key given.
fn destination(config: &Config, opts: &Options) -> Result<RepoSpec> {
    if let Some(spec) = config.repositories.get(&opts.to_repo) {
        if opts.to_key_env.is_some() || opts.to_key_file.is_some() {
            return Err(Error::Config(format!(
                "--to-repo {} names a repository of the config, which sets its own encryption: \
                 drop --to-key-env/--to-key-file",
                opts.to_repo
            )));
        }
        return Ok(spec.clone());
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    let location = RepoLocation::parse(&opts.to_repo, &cwd).map_err(|e| {
        Error::Config(format!(
            "--to-repo: {e}{}",
            if config.repositories.is_empty() {
                String::new()
            } else {
                format!(
                    " (named repositories: {})",
                    config
                        .repositories
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ))
    })?;
    let key = match (&opts.to_key_env, &opts.to_key_file) {
        (Some(var), _) => Some(KeySource::Env(var.clone())),
        (None, Some(file)) => Some(KeySource::File(file.clone())),
        (None, None) => None,
    };
    Ok(RepoSpec {
        location,
        options: RepoOptions {
            level: Some(config.repository.compression_level),
            key,
            pack_size: None,
        },
    })
}
