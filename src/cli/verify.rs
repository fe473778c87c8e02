//! `doppel verify [SNAP | --all] [--read-data[=PERCENT]] [--json]`.

use super::human_bytes;
use doppel::commands::verify::{self, Options, Report};
use doppel::config::Config;
use doppel::error::Result;

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

/// Verifies snapshots; exits 4 when anything is wrong.
pub async fn run(config: &Config, args: Args) -> Result<()> {
    let opts = Options {
        snapshot: args.snapshot,
        all: args.all,
        read_data: args.read_data,
    };
    let report = verify::run(config, &opts).await?;
    if args.json {
        super::print_json(&report);
    } else {
        print_report(&report);
    }
    let verdict = verify::verdict(&report);
    if let Err(e) = &verdict {
        super::alert(
            config,
            doppel::schedule::notify::AlertKind::VerifyFailed,
            None,
            &e.to_string(),
        )
        .await;
    }
    verdict
}

/// The report for people.
fn print_report(report: &Report) {
    let found = &report.found;
    let results = &found.snapshots;
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
            match report.read_data_percent {
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
        match report.read_data_percent {
            None => "every chunk named is present (structure only; --read-data reads them back)"
                .to_string(),
            Some(p) if p >= 100.0 =>
                "every chunk read back and re-hashed, every table re-counted".to_string(),
            Some(p) => format!("{p}% of the chunks read back and re-hashed"),
        }
    );
}
