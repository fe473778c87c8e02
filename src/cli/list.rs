//! `doppel list`: every snapshot, oldest first, with its series (a subset's is its own).

use super::human_bytes;
use doppel::config::Config;
use doppel::error::Result;

/// Arguments of `doppel list`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Lists snapshots.
pub async fn run(config: &Config, args: Args) -> Result<()> {
    let listing = doppel::commands::list::run(config).await?;
    let rows = listing.entries;
    if args.json {
        super::print_json(&rows);
        return Ok(());
    }
    if rows.is_empty() {
        crate::say!("no snapshots in {}", listing.location);
        return Ok(());
    }
    // The series' kind part: `anonymized/subset-…` tells a slice at a glance.
    let kinds: Vec<String> = rows
        .iter()
        .map(|r| match &r.subset {
            None => r.kind.to_string(),
            Some(s) => format!("{}/{s}", r.kind),
        })
        .collect();
    let kw = kinds.iter().map(String::len).max().unwrap_or(0).max(4);
    crate::say!(
        "{:<32} {:<32} {:<12} {:<kw$} {:>7} {:>12} {:>10}  tags",
        "id",
        "time",
        "environment",
        "kind",
        "tables",
        "rows",
        "size"
    );
    for (r, kind) in rows.iter().zip(kinds) {
        crate::say!(
            "{:<32} {:<32} {:<12} {:<kw$} {:>7} {:>12} {:>10}  {}",
            r.id,
            r.time,
            r.environment,
            kind,
            r.tables,
            r.rows,
            human_bytes(r.bytes),
            r.tags.join(",")
        );
    }
    Ok(())
}
