//! `reset`: an environment's database back to the state of its last restore, from the
//! pristine copy kept on the same server; the repository is not read.

use std::time::Instant;

use serde::Serialize;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::restore::{pristine, target};

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
    let note = pristine::reset(&admin, &conn).await?;
    let stamp = format!(
        "{note} (reset to this state {})",
        chrono::Utc::now().to_rfc3339()
    );
    target::stamp(&admin, &conn.dbname, &stamp).await?;
    Ok(Report {
        target: conn.redacted(),
        note,
        duration_s: started.elapsed().as_secs_f64(),
    })
}
