//! `doppel copy SNAP... --to-repo URL|NAME`: snapshots into another repository, sending
//! only the chunks it lacks.

use serde::Serialize;

use super::human_bytes;
use crate::config::{Config, RepoSpec};
use crate::error::{Error, Result};
use crate::repo::crypto::KeySource;
use crate::repo::RepoOptions;
use crate::store::RepoLocation;

/// Arguments of `doppel copy`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Snapshots: full ids, unique prefixes, or "latest".
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub snapshots: Vec<String>,
    /// Every snapshot in the repository.
    #[arg(long)]
    pub all: bool,
    /// The destination: a `[repositories.NAME]` of the config, or a location
    /// (`s3://bucket/prefix?endpoint=…&path_style=true`, a folder). Created if empty.
    #[arg(long, value_name = "URL|NAME")]
    pub to_repo: String,
    /// For a destination given as a location: the NAME of the variable holding its secret
    /// (encrypts a new destination; required for an encrypted one).
    #[arg(long, value_name = "VAR", conflicts_with = "to_key_file")]
    pub to_key_env: Option<String>,
    /// For a destination given as a location: a file holding its secret.
    #[arg(long, value_name = "FILE")]
    pub to_key_file: Option<std::path::PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Summary<'a> {
    destination: String,
    #[serde(flatten)]
    report: &'a crate::transfer::CopyReport,
}

fn destination(config: &Config, args: &Args) -> Result<RepoSpec> {
    if let Some(spec) = config.repositories.get(&args.to_repo) {
        if args.to_key_env.is_some() || args.to_key_file.is_some() {
            return Err(Error::Config(format!(
                "--to-repo {} names a repository of the config, which sets its own encryption: \
                 drop --to-key-env/--to-key-file",
                args.to_repo
            )));
        }
        return Ok(spec.clone());
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    let location = RepoLocation::parse(&args.to_repo, &cwd).map_err(|e| {
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
    let key = match (&args.to_key_env, &args.to_key_file) {
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

/// Copies snapshots.
pub async fn run(config: &Config, args: Args) -> Result<()> {
    let src = super::open_repo(config).await?;
    let dst_spec = destination(config, &args)?;
    if dst_spec.location == config.repo.location {
        return Err(Error::Refused(
            "--to-repo is this repository itself: name another one".into(),
        ));
    }
    let snapshots = if args.all {
        src.manifests().await?
    } else {
        let mut out = Vec::new();
        for s in &args.snapshots {
            out.push(src.resolve(s).await?);
        }
        out
    };
    let dst = dst_spec.open_or_init().await?;
    let report = crate::transfer::copy(&src, &dst, &snapshots).await?;
    if args.json {
        super::print_json(&Summary {
            destination: dst.location(),
            report: &report,
        });
    } else {
        for id in &report.copied {
            crate::say!("copied {id}");
        }
        for id in &report.already_there {
            crate::say!("{id}: already in the destination");
        }
        crate::say!(
            "{} snapshot(s) copied to {}: {} of {} chunks sent ({}, {} objects written)",
            report.copied.len(),
            dst.location(),
            report.chunks_sent,
            report.chunks,
            human_bytes(report.bytes_sent),
            report.objects_written
        );
    }
    Ok(())
}
