//! `doppel copy SNAP... --to-repo URL|NAME`: snapshots into another repository, sending
//! only the chunks it lacks.

use super::human_bytes;
use doppel::commands::copy::{self, Options};
use doppel::config::Config;
use doppel::error::Result;

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

/// Copies snapshots.
pub async fn run(config: &Config, args: Args) -> Result<()> {
    let opts = Options {
        snapshots: args.snapshots,
        all: args.all,
        to_repo: args.to_repo,
        to_key_env: args.to_key_env,
        to_key_file: args.to_key_file,
    };
    let report = copy::run(config, &opts).await?;
    if args.json {
        super::print_json(&report);
        return Ok(());
    }
    let done = &report.copy;
    for id in &done.copied {
        crate::say!("copied {id}");
    }
    for id in &done.already_there {
        crate::say!("{id}: already in the destination");
    }
    crate::say!(
        "{} snapshot(s) copied to {}: {} of {} chunks sent ({}, {} objects written)",
        done.copied.len(),
        report.destination,
        done.chunks_sent,
        done.chunks,
        human_bytes(done.bytes_sent),
        done.objects_written
    );
    Ok(())
}
