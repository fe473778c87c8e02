//! `doppel inspect SNAP`: one snapshot in detail.

use super::human_bytes;
use doppel::config::Config;
use doppel::error::Result;

/// Arguments of `doppel inspect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Snapshot: full id, unique prefix, or "latest".
    pub snapshot: String,
    /// Print the whole manifest as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Shows a manifest.
pub async fn run(config: &Config, args: Args) -> Result<()> {
    let m = doppel::commands::inspect::run(config, &args.snapshot).await?;
    if args.json {
        super::print_json(&m);
        return Ok(());
    }
    crate::say!("snapshot     {}", m.id);
    crate::say!(
        "time         {} (lsn {})",
        m.time.to_rfc3339(),
        m.lsn.as_deref().unwrap_or("unknown")
    );
    crate::say!(
        "source       {} / database {} / PostgreSQL {} / system {}",
        m.source.environment,
        m.source.database,
        m.source.server_version,
        m.source.system_identifier.as_deref().unwrap_or("unknown")
    );
    crate::say!("kind         {} (series {})", m.kind.kind, m.series());
    if let Some(s) = &m.kind.subset {
        crate::say!("subset       {} (digest {})", s.name(), s.digest);
        for t in &s.targets {
            crate::say!("  target     {t}");
        }
    }
    if !m.tags.is_empty() {
        crate::say!("tags         {}", m.tags.join(", "));
    }
    crate::say!(
        "stats        {} read, {} new, {} of {} chunks new, {:.1}s",
        human_bytes(m.stats.bytes_read),
        human_bytes(m.stats.bytes_stored_new),
        m.stats.chunks_new,
        m.stats.chunks_total,
        m.stats.duration_ms as f64 / 1000.0
    );
    crate::say!(
        "schema       {} in {} chunks",
        human_bytes(m.schema.bytes),
        m.schema.chunks.len()
    );
    crate::say!("tools        {}", tools_line(&m));
    crate::say!("tables       {}", m.tables.len());
    for t in &m.tables {
        crate::say!(
            "  {:<40} {:>12} rows {:>10} {:>5} chunks  {}",
            format!("{}.{}", t.schema, t.name),
            t.rows,
            human_bytes(t.data.bytes),
            t.data.chunks.len(),
            &t.digest[..16]
        );
    }
    crate::say!("sequences    {}", m.sequences.len());
    let populated = m.matviews.iter().filter(|v| v.populated).count();
    crate::say!(
        "matviews     {} ({} populated)",
        m.matviews.len(),
        populated
    );
    crate::say!("large objs   {}", m.large_objects.len());
    Ok(())
}

/// Which pg_dump made the snapshot's schema, which pg_restore reads it, and which servers
/// take it as it is.
fn tools_line(m: &doppel::repo::manifest::Manifest) -> String {
    let source = m.source.server_major;
    let into = format!(
        "restores into PostgreSQL {source} or newer; into an older server its schema is tried first and any object that server lacks is named before anything is created"
    );
    match &m.schema_tools {
        Some(t) => format!(
            "made by pg_dump {} (archive format {}); read by pg_restore {} or newer; {into}",
            t.pg_dump,
            t.archive,
            t.restore_major()
                .map_or_else(|| "as new as that pg_dump".to_string(), |v| v.to_string()),
        ),
        None => format!(
            "pg_dump version not recorded (snapshot made before doppel recorded it); {into}"
        ),
    }
}
