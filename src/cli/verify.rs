//! `doppel verify [SNAP | --all] [--read-data[=PERCENT]] [--json]`.

use serde::Serialize;

use super::human_bytes;
use crate::config::Config;
use crate::error::{Error, Result};

/// Arguments of `doppel verify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Snapshot: full id, unique prefix, or "latest" (default: latest).
    #[arg(conflicts_with = "all")]
    pub snapshot: Option<String>,
    /// Every snapshot in the repository.
    #[arg(long)]
    pub all: bool,
    /// Also fetch, decompress and re-hash chunks (all of them, or PERCENT of them at
    /// random), re-counting each table's rows against the manifest when all are read.
    #[arg(long, value_name = "PERCENT", num_args = 0..=1, default_missing_value = "100")]
    pub read_data: Option<f64>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Summary<'a> {
    snapshots: &'a [crate::verify::SnapshotVerification],
    storage_faults: &'a [String],
    notes: &'a [String],
    read_data_percent: Option<f64>,
    ok: bool,
}

/// Verifies snapshots; exits 4 when anything is wrong.
pub async fn run(config: &Config, args: Args) -> Result<()> {
    if let Some(p) = args.read_data {
        if !(p > 0.0 && p <= 100.0) {
            return Err(Error::Config(format!(
                "--read-data={p}: give a percentage above 0 and at most 100"
            )));
        }
    }
    let repo = super::open_repo(config).await?;
    let snapshots = if args.all {
        repo.manifests().await?
    } else {
        vec![
            repo.resolve(args.snapshot.as_deref().unwrap_or("latest"))
                .await?,
        ]
    };
    let found = crate::verify::verify(&repo, &snapshots, args.read_data).await?;
    let ok = found.ok();
    let results = &found.snapshots;
    if args.json {
        super::print_json(&Summary {
            snapshots: results,
            storage_faults: &found.storage_faults,
            notes: &found.notes,
            read_data_percent: args.read_data,
            ok,
        });
    } else {
        for f in &found.storage_faults {
            crate::say!("storage: FAULT {f}");
        }
        for n in &found.notes {
            crate::say!("storage: note: {n}");
        }
        for r in results {
            crate::say!(
                "snapshot {}: {} — {} chunks present{}",
                r.snapshot,
                if r.ok() { "ok" } else { "FAULTY" },
                r.chunks,
                match args.read_data {
                    None => String::new(),
                    Some(_) => format!(
                        ", {} read back ({}), {} tables re-counted",
                        r.chunks_read,
                        human_bytes(r.bytes_read),
                        r.tables_recounted
                    ),
                }
            );
            for p in &r.problems {
                crate::say!("  {p}");
            }
        }
        crate::say!(
            "checked {} snapshot{}: {}",
            results.len(),
            if results.len() == 1 { "" } else { "s" },
            match args.read_data {
                None =>
                    "every chunk named is present (structure only; --read-data reads them back)"
                        .to_string(),
                Some(p) if p >= 100.0 =>
                    "every chunk read back and re-hashed, every table re-counted".to_string(),
                Some(p) => format!("{p}% of the chunks read back and re-hashed"),
            }
        );
    }
    if ok {
        Ok(())
    } else {
        let faulty: Vec<&str> = results
            .iter()
            .filter(|r| !r.ok())
            .map(|r| r.snapshot.as_str())
            .collect();
        Err(Error::Verification(if faulty.is_empty() {
            format!(
                "{} fault(s) in how chunks are stored (packs and indexes disagree)",
                found.storage_faults.len()
            )
        } else {
            format!("faults found in snapshot(s) {}", faulty.join(", "))
        }))
    }
}
