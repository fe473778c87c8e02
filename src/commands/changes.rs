//! `changes setup | status | teardown`: the publication and replication slot of an
//! environment's change archive (default environment: the one with role production).
//!
//! Setup runs only on an environment whose config says `changes = "logical"` (which the config
//! allows only for role production). Teardown runs whatever the config says now: it only drops
//! the objects setup named after the environment, and it must stay possible after the setting
//! has been removed, since a forgotten slot keeps holding back WAL on the server.

use serde::Serialize;

use crate::changes::{setup, status, teardown};
use crate::config::{ChangesMode, Config, EnvironmentConfig};
use crate::error::{Error, Result};
use crate::pg::ConnInfo;

/// A report about one environment.
#[derive(Debug, Clone, Serialize)]
pub struct Report<T> {
    /// The environment.
    pub environment: String,
    /// Its database, the URL without password.
    pub target: String,
    /// `changes` in its config.
    pub changes: ChangesMode,
    /// What was found or done.
    #[serde(flatten)]
    pub report: T,
}

/// Checks the server of environment `env` and creates its publication and slot.
pub async fn setup(config: &Config, env: Option<&str>) -> Result<Report<setup::Report>> {
    let (name, settings, conn) = super::environment(config, env)?;
    if settings.changes != ChangesMode::Logical {
        return Err(Error::Config(format!(
            "environment '{name}' has changes = \"{}\": set changes = \"logical\" in its section \
             of {} to archive its changes, then run setup again",
            settings.changes,
            config.path.display()
        )));
    }
    let report = setup::setup(&conn, &name).await?;
    Ok(wrap(name, settings, &conn, report))
}

/// The state of environment `env`'s publication and slot.
pub async fn status(config: &Config, env: Option<&str>) -> Result<Report<status::Status>> {
    let (name, settings, conn) = super::environment(config, env)?;
    let report = status::status(&conn, &name, settings.max_lag_bytes()).await?;
    Ok(wrap(name, settings, &conn, report))
}

/// Drops environment `env`'s slot and publication.
pub async fn teardown(config: &Config, env: Option<&str>) -> Result<Report<teardown::Report>> {
    let (name, settings, conn) = super::environment(config, env)?;
    let report = teardown::teardown(&conn, &name).await?;
    Ok(wrap(name, settings, &conn, report))
}

fn wrap<T>(environment: String, env: &EnvironmentConfig, conn: &ConnInfo, report: T) -> Report<T> {
    Report {
        environment,
        target: conn.redacted(),
        changes: env.changes,
        report,
    }
}
