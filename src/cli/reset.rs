//! `doppel reset ENV`: the database back to the state of its last restore, from the pristine
//! copy kept on the same server; the repository is not read.

use std::time::Instant;

use crate::config::{Config, Role};
use crate::error::{Error, Result};
use crate::pg::ConnInfo;
use crate::restore::{pristine, target};

/// Arguments of `doppel reset`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The environment (it needs pristine = true in the config).
    pub env: String,
}

/// Resets an environment's database.
pub async fn run(config: &Config, args: Args) -> Result<()> {
    let env = config.environment(&args.env)?;
    if env.role == Role::Production {
        return Err(Error::Refused(format!(
            "environment '{}' has role production: reset would replace it; refusing",
            args.env
        )));
    }
    if !env.pristine {
        return Err(Error::Config(format!(
            "environment '{}' keeps no pristine copy: set pristine = true on it in {}, then \
             restore into it once",
            args.env,
            config.path.display()
        )));
    }
    let conn = ConnInfo::parse(&env.url)
        .map_err(|e| Error::Config(format!("environment '{}' url: {e}", args.env)))?;
    let started = Instant::now();
    let admin = target::admin(&conn).await?;
    let note = pristine::reset(&admin, &conn).await?;
    let stamp = format!(
        "{note} (reset to this state {})",
        chrono::Utc::now().to_rfc3339()
    );
    target::stamp(&admin, &conn.dbname, &stamp).await?;
    crate::say!(
        "reset {} to its pristine copy in {:.1}s: {note}",
        conn.redacted(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
