//! `doppel list`: every snapshot, oldest first, with its series (a subset's is its own).

use serde::Serialize;

use super::human_bytes;
use crate::config::Config;
use crate::error::Result;

/// Arguments of `doppel list`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Row {
    id: String,
    time: String,
    environment: String,
    kind: crate::repo::DataKind,
    /// `subset-<short digest>` for a subset, else null: a whole snapshot.
    subset: Option<String>,
    /// What retention and `restore --at` group it with.
    series: String,
    tables: usize,
    rows: u64,
    bytes: u64,
    tags: Vec<String>,
}

/// Lists snapshots.
pub async fn run(config: &Config, args: Args) -> Result<()> {
    let repo = super::open_repo(config).await?;
    let rows: Vec<Row> = repo
        .manifests()
        .await?
        .into_iter()
        .map(|m| Row {
            time: m.time.to_rfc3339(),
            environment: m.source.environment.clone(),
            kind: m.kind.kind,
            subset: m.kind.subset.as_ref().map(|s| s.name()),
            series: m.series(),
            tables: m.tables.len(),
            rows: m.total_rows(),
            bytes: m.total_bytes(),
            tags: m.tags.clone(),
            id: m.id,
        })
        .collect();
    if args.json {
        super::print_json(&rows);
        return Ok(());
    }
    if rows.is_empty() {
        crate::say!("no snapshots in {}", repo.location());
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
