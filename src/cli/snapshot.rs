//! `doppel snapshot [ENV]`: take a snapshot and print its summary.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use serde::Serialize;

use super::human_bytes;
use super::progress::Progress;
use doppel::commands::snapshot::{self, Options};
use doppel::config::Config;
use doppel::error::Result;
use doppel::repo::Manifest;

/// Arguments of `doppel snapshot`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Environment to snapshot (default: the one with role production).
    pub env: Option<String>,
    /// Parallel workers (default: snapshot.jobs in the config, else 2).
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,
    /// Tag to record (repeatable).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Take an anonymized snapshot with the rules in this folder (checked strictly against
    /// the database before any row is read); the key comes from the variable named by
    /// anonymization.key_env in the config.
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// Keep only the referentially complete subset the rules' [subset] section describes.
    #[arg(long, requires = "rules")]
    pub subset: bool,
}

/// The summary printed at the end.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Snapshot id.
    pub id: String,
    /// Environment.
    pub environment: String,
    /// `raw` or `anonymized`.
    pub kind: doppel::repo::DataKind,
    /// Its series: environment, kind, and subset if one (`prod/anonymized/subset-…`).
    pub series: String,
    /// Snapshot time (server clock).
    pub time: String,
    /// Tables copied.
    pub tables: usize,
    /// Rows copied.
    pub rows: u64,
    /// Bytes read from the source.
    pub bytes_read: u64,
    /// Compressed bytes added to the repository.
    pub bytes_stored_new: u64,
    /// Objects written to the store (packs, indexes, the manifest).
    pub objects_written: u64,
    /// Wall time in seconds.
    pub duration_s: f64,
    /// Read throughput.
    pub mb_per_s: f64,
}

impl Summary {
    /// Summarizes a manifest.
    pub fn of(m: &Manifest) -> Summary {
        let secs = (m.stats.duration_ms as f64 / 1000.0).max(0.001);
        Summary {
            id: m.id.clone(),
            environment: m.source.environment.clone(),
            kind: m.kind.kind,
            series: m.series(),
            time: m.time.to_rfc3339(),
            tables: m.tables.len(),
            rows: m.total_rows(),
            bytes_read: m.stats.bytes_read,
            bytes_stored_new: m.stats.bytes_stored_new,
            objects_written: m.stats.objects_written,
            duration_s: secs,
            mb_per_s: m.stats.bytes_read as f64 / 1e6 / secs,
        }
    }

    /// Prints it for humans.
    pub fn print(&self) {
        crate::say!(
            "{} snapshot {} of {} at {} (series {})",
            self.kind,
            self.id,
            self.environment,
            self.time,
            self.series
        );
        crate::say!(
            "  {} tables, {} rows, {} read, {} new in the repository, {:.1}s ({:.1} MB/s)",
            self.tables,
            self.rows,
            human_bytes(self.bytes_read),
            human_bytes(self.bytes_stored_new),
            self.duration_s,
            self.mb_per_s
        );
    }
}

/// Takes a snapshot of the chosen environment.
pub async fn run(config: &Config, args: Args) -> Result<()> {
    let counter = Arc::new(AtomicU64::new(0));
    let opts = Options {
        env: args.env,
        jobs: args.jobs,
        tags: args.tags,
        rules: args.rules,
        subset: args.subset,
        progress: counter.clone(),
    };
    let plan = snapshot::plan(config, &opts)?;
    let m = {
        let _bar = Progress::start(&format!("snapshot {}", plan.environment()), 0, counter);
        snapshot::execute(config, &plan).await?
    };
    let summary = Summary::of(&m);
    if args.json {
        super::print_json(&summary);
    } else {
        summary.print();
    }
    Ok(())
}
