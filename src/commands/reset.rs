//! `reset`: an environment's database back to the state of its last restore, from the
//! pristine copy kept on the same server; the repository is not read.

use std::time::Instant;

use serde::Serialize;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::restore::{marker, pristine, target};

/// What a reset did.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The database, its URL without password.
    pub target: String,
    /// The note of the pristine copy: which restore it is the state of.
    pub note: String,
    /// Wall time in seconds.
    pub duration_s: f64,
}

/// Resets environment `name` (never one with role production; it needs pristine = true).
pub async fn run(config: &Config, name: &str) -> Result<Report> {
    let (env, conn) = super::non_production(config, name, "reset would replace it; refusing")?;
    if !env.pristine {
        return Err(Error::Config(format!(
            "environment '{name}' keeps no pristine copy: set pristine = true on it in {}, then \
             restore into it once",
            config.path.display()
        )));
    }
    let started = Instant::now();
    let admin = target::admin(&conn).await?;
    let saved = pristine::reset(&admin, &conn).await?;
    // The copy's statistics start from zero: its marker is its own, not the restore's.
    let (note, _) = marker::Marker::split(&saved);
    let stamp = format!(
        "{note}{}{})",
        target::RESET,
        chrono::Utc::now().to_rfc3339()
    );
    target::seal(&admin, &conn, &stamp, None).await?;
    Ok(Report {
        target: conn.redacted(),
        note: note.to_string(),
        duration_s: started.elapsed().as_secs_f64(),
    })
}
