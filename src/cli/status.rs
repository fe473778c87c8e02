//! `doppel status [--json]`: every environment — role, data, what it holds and since when,
//! how far behind its series' newest snapshot, its last drill — and production's snapshots
//! and change archive.

use doppel::config::Config;
use doppel::error::Result;
use doppel::status::{time, EnvironmentStatus};

/// Arguments of `doppel status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Read the repository only: do not ask the environments' databases for their stamps.
    #[arg(long)]
    pub offline: bool,
    /// Write the status as a web page (as `schedule run` serves at `/`) to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<std::path::PathBuf>,
}

/// Shows where every environment stands.
pub async fn run(config: &Config, args: Args) -> Result<()> {
    if let Some(path) = &args.html {
        let html = doppel::commands::status::page(config, !args.offline).await?;
        std::fs::write(path, html).map_err(doppel::error::io(format!(
            "cannot write {}",
            path.display()
        )))?;
        crate::say!("wrote the status page to {}", path.display());
        return Ok(());
    }
    let status = doppel::commands::status::run(config, !args.offline).await?;
    if args.json {
        super::print_json(&status);
        return Ok(());
    }
    for alert in doppel::status::alerts(&status) {
        crate::say!("ATTENTION: {alert}");
    }
    for line in doppel::status::production::lines(&status) {
        crate::say!("{line}");
    }
    for env in &status.environments {
        for line in lines(env) {
            crate::say!("{line}");
        }
    }
    Ok(())
}

/// An environment as a heading and indented facts.
fn lines(env: &EnvironmentStatus) -> Vec<String> {
    let mut out = vec![format!(
        "\n{} ({}, {} data{})",
        env.name,
        env.role,
        env.data,
        match env.changes {
            doppel::config::ChangesMode::Logical => ", changes archived",
            doppel::config::ChangesMode::None => "",
        }
    )];
    match &env.holds {
        Some(h) => out.push(format!(
            "  holds {} of {} as of {}, restored {} by `doppel {}` (verified {}){}",
            h.snapshot,
            h.series,
            time(h.point()),
            time(h.restored_at),
            h.command,
            h.verify,
            match env.behind_s {
                Some(0) => ": the newest of its series".to_string(),
                Some(s) => format!(": {s} s behind the newest of its series"),
                None => String::new(),
            }
        )),
        None if env.role != doppel::config::Role::Production => {
            out.push("  holds nothing doppel restored".into())
        }
        None => {}
    }
    if let Some(d) = &env.database {
        out.extend(d.lines().into_iter().map(|l| format!("  {l}")));
    }
    for s in &env.series {
        out.push(format!(
            "  {}: {} snapshots, newest {} ({}); kept by tier: {}",
            s.series,
            s.snapshots,
            s.newest,
            time(s.newest_time),
            s.kept_by_tier
                .iter()
                .map(|t| format!("{} {}", t.tier, t.kept))
                .collect::<Vec<_>>()
                .join(" · ")
        ));
    }
    if let Some(a) = &env.archive {
        out.push(match (&a.ended, a.caught_up) {
            (Some(e), _) => format!("  change archive {} ended: {}", a.id, e.reason),
            (None, Some(c)) => format!(
                "  change archive {}: every second restorable up to {}",
                a.id,
                time(c)
            ),
            (None, None) => format!("  change archive {}: nothing stored yet", a.id),
        });
    }
    if let Some(d) = &env.last_drill {
        out.push(format!(
            "  last drill {} ({}): {}, RTO {:.1} s, RPO {:.0} s",
            d.id,
            time(d.started),
            if d.passed { "passed" } else { "FAILED" },
            d.rto_s,
            d.rpo_s
        ));
    }
    out
}
