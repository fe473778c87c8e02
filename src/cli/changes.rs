//! `doppel changes setup | status | teardown [ENV]`: the publication and replication slot of
//! an environment's change archive.

use clap::Subcommand;
use serde::Serialize;

use super::human_bytes;
use doppel::changes::{run as archive, setup, status, teardown, Slot, Unidentified};
use doppel::commands::changes::{self, Report};
use doppel::config::Config;
use doppel::error::Result;

/// `doppel changes …`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the server (wal_level, privileges, a free slot for when archiving starts), then
    /// create the publication doppel_<ENV>; changes nothing when it exists. No replication
    /// slot is created: nothing holds back WAL before archiving starts.
    Setup(Args),
    /// Show the slot (active, positions, WAL it holds back against changes_max_lag), the
    /// published tables and the tables without a replica identity.
    Status(Args),
    /// Keep the change archive: create the slot and take a base snapshot inside it the first
    /// time, then store every committed change in the repository, segment by segment, until
    /// stopped (Ctrl-C) or, with --once, until caught up. Safe to stop at any point.
    Run(RunArgs),
    /// Drop the slot and the publication (refused while something streams from the slot).
    Teardown(Args),
}

/// Arguments of each `doppel changes` command.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The environment (default: the one with role production).
    pub env: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `doppel changes run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The environment (default: the one with role production).
    pub env: Option<String>,
    /// Anonymize the archive and its base snapshots with the rules in this folder (the key
    /// comes from the variable the config names); without it the archive is raw.
    #[arg(long)]
    pub rules: Option<std::path::PathBuf>,
    /// Stop once every change committed so far is stored.
    #[arg(long)]
    pub once: bool,
    /// Messages per segment at most (whole transactions).
    #[arg(long, default_value_t = 100_000)]
    pub max_changes: u32,
    /// Seconds between looks at an idle slot.
    #[arg(long, default_value_t = 1.0)]
    pub poll: f64,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs a `doppel changes` command.
pub async fn run(config: &Config, command: Command) -> Result<()> {
    match command {
        Command::Setup(a) => show(
            a.json,
            &changes::setup(config, a.env.as_deref()).await?,
            print_setup,
        ),
        Command::Status(a) => show(
            a.json,
            &changes::status(config, a.env.as_deref()).await?,
            print_status,
        ),
        Command::Run(a) => {
            let args = changes::RunArgs {
                env: a.env.clone(),
                rules: a.rules.clone(),
                once: a.once,
                max_changes: Some(a.max_changes),
                poll: Some(std::time::Duration::from_secs_f64(a.poll.max(0.05))),
                progress: None,
            };
            let report = tokio::select! {
                r = changes::run(config, &args) => r?,
                _ = tokio::signal::ctrl_c() => {
                    // Stopping between two segments or inside one loses nothing: what was
                    // not recorded stays in the slot for the next run.
                    crate::say!("stopped; `doppel changes run` resumes where this left off");
                    return Ok(());
                }
            };
            show(a.json, &report, print_run)
        }
        Command::Teardown(a) => show(
            a.json,
            &changes::teardown(config, a.env.as_deref()).await?,
            print_teardown,
        ),
    }
    Ok(())
}

/// Prints `report` as JSON, or as text with `text`.
fn show<T: Serialize>(json: bool, report: &Report<T>, text: fn(&Report<T>)) {
    if json {
        super::print_json(report);
    } else {
        text(report);
    }
}

fn print_run(r: &Report<archive::RunReport>) {
    let s = &r.report;
    crate::say!("environment {} ({})", r.environment, r.target);
    crate::say!(
        "archive {}{}",
        s.archive,
        if s.started { " (started now)" } else { "" }
    );
    for b in &s.bases {
        crate::say!("base snapshot {b}");
    }
    crate::say!(
        "stored {} segment(s): {} transaction(s), {} change(s)",
        s.segments,
        s.transactions,
        s.changes
    );
    if let Some(t) = s.caught_up {
        crate::say!("complete up to {}", t.to_rfc3339());
    }
}

fn print_setup(r: &Report<setup::Report>) {
    let s = &r.report;
    crate::say!("environment {} ({})", r.environment, r.target);
    let tables = names(s.published.iter());
    if s.publication_created {
        crate::say!("publication {}: created, publishing {tables}", s.name);
    } else if s.tables_added.is_empty() {
        crate::say!("publication {}: exists, unchanged ({tables})", s.name);
    } else {
        let added = names(s.tables_added.iter());
        crate::say!("publication {}: exists, added {added}", s.name);
    }
    match &s.slot {
        None => crate::say!(
            "replication slot {}: not created: it is created when archiving starts, with its \
             base snapshot, so nothing holds back WAL on the server before then",
            s.name
        ),
        Some(slot) => crate::say!("replication slot {}: exists; {}", s.name, slot_line(slot)),
    }
    unidentified(&s.unidentified);
    crate::say!("tables created later are published by running setup again");
}

fn print_status(r: &Report<status::Status>) {
    let s = &r.report;
    crate::say!(
        "environment {} ({}): changes = \"{}\", wal_level = {}",
        r.environment,
        r.target,
        r.changes,
        s.wal_level
    );
    match &s.slot {
        None => crate::say!("replication slot {}: none", s.name),
        Some(slot) => {
            crate::say!("replication slot {}: {}", s.name, slot_line(slot));
            if let Some(b) = slot.retained_bytes {
                crate::say!(
                    "  WAL held back: {} of {} allowed (changes_max_lag){}",
                    human_bytes(u64::try_from(b).unwrap_or(0)),
                    human_bytes(s.max_lag_bytes),
                    if s.over_max_lag {
                        ": OVER THE LIMIT"
                    } else {
                        ""
                    }
                );
            }
        }
    }
    match &s.publication {
        None => crate::say!("publication {}: none", s.name),
        Some(p) if p.all_tables => crate::say!("publication {}: FOR ALL TABLES", s.name),
        Some(p) => crate::say!("publication {}: {}", s.name, names(p.tables.iter())),
    }
    unidentified(&s.unidentified);
    match &s.archive {
        None => crate::say!("archive: none in the repository (`doppel changes run` starts one)"),
        Some(a) => {
            crate::say!(
                "archive {} ({}): {} segment(s), {} transaction(s), {} change(s), {}",
                a.id,
                a.series,
                a.segments,
                a.transactions,
                a.changes,
                human_bytes(a.bytes)
            );
            if let Some(t) = a.last_commit {
                crate::say!("  last archived commit: {}", t.to_rfc3339());
            }
            if let Some(t) = a.caught_up {
                crate::say!("  complete up to: {}", t.to_rfc3339());
            }
            if let Some(e) = &a.ended {
                crate::say!("  ENDED at {}: {}", e.at.to_rfc3339(), e.reason);
            }
        }
    }
}

fn print_teardown(r: &Report<teardown::Report>) {
    let s = &r.report;
    let done = |dropped: bool| if dropped { "dropped" } else { "none" };
    crate::say!("environment {} ({})", r.environment, r.target);
    crate::say!("replication slot {}: {}", s.name, done(s.slot_dropped));
    crate::say!("publication {}: {}", s.name, done(s.publication_dropped));
}

fn names<T: std::fmt::Display>(items: impl ExactSizeIterator<Item = T>) -> String {
    match items.len() {
        0 => "no tables".into(),
        n => {
            let list: Vec<String> = items.map(|t| t.to_string()).collect();
            format!(
                "{n} table{} ({})",
                if n == 1 { "" } else { "s" },
                list.join(", ")
            )
        }
    }
}

fn slot_line(s: &Slot) -> String {
    let mut line = format!(
        "{} {}, {}",
        s.slot_type,
        s.plugin.as_deref().unwrap_or("-"),
        if s.active { "active" } else { "inactive" }
    );
    for (label, value) in [
        ("restart_lsn", &s.restart_lsn),
        ("confirmed_flush_lsn", &s.confirmed_flush_lsn),
        ("wal_status", &s.wal_status),
    ] {
        if let Some(v) = value {
            line.push_str(&format!(", {label} {v}"));
        }
    }
    line
}

fn unidentified(tables: &[Unidentified]) {
    if tables.is_empty() {
        return;
    }
    crate::say!("cannot be archived row by row; read whole at each snapshot:");
    for t in tables {
        let why = match t.replica_identity.as_str() {
            "default" => "no primary key, REPLICA IDENTITY DEFAULT",
            "nothing" => "REPLICA IDENTITY NOTHING",
            _ => "REPLICA IDENTITY USING INDEX on an index that is gone",
        };
        crate::say!("  {} ({why})", t.table);
        if t.published {
            crate::say!(
                "    published anyway: UPDATE and DELETE on it fail on the server; give it a \
                 primary key or take it out of the publication (ALTER PUBLICATION … DROP TABLE)"
            );
        }
    }
}
