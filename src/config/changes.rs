//! `changes = "none" | "logical"`, `changes_max_lag` and `changes_base_every` of an
//! environment: whether doppel keeps a continuous archive of its changes through a logical
//! replication slot, how much WAL that slot may hold back on the server, and how often the
//! scheduler takes a base snapshot while the archive serves the slots between.

use serde::Deserialize;

use super::sections::{parse_size, EnvironmentConfig, Role};
use super::spans::Spans;
use crate::error::{Error, Result};

/// Whether an environment's changes are archived between snapshots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangesMode {
    /// Full snapshots only.
    #[default]
    None,
    /// A publication and a logical replication slot (`pgoutput`) on the server.
    Logical,
}

impl std::fmt::Display for ChangesMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ChangesMode::None => "none",
            ChangesMode::Logical => "logical",
        })
    }
}

/// WAL a slot may hold back on the server when `changes_max_lag` is not set: 4 GiB.
pub const DEFAULT_MAX_LAG: u64 = 4 << 30;

/// How often the scheduler takes a base snapshot of an archived environment when
/// `changes_base_every` is not set: hourly, the first coarse tier of the default retention.
pub const DEFAULT_BASE_EVERY: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// Checks the `changes` keys of environment `name`, locating errors at the key at fault.
///
/// Only an environment with role production may archive its changes: every other role
/// receives restores, and a replication slot in its database makes `DROP DATABASE` — the
/// first step of a restore — fail, while the archive of a database that restores overwrite
/// has no use. `changes_max_lag` or `changes_base_every` without `changes = "logical"` would
/// silently do nothing, so they are refused too.
pub(super) fn check(name: &str, env: &EnvironmentConfig, spans: &Spans<'_>) -> Result<()> {
    let keys = |key: &'static str| ["environments", name, key];
    if env.changes == ChangesMode::Logical && env.role != Role::Production {
        return Err(Error::Config(format!(
            "{}: environments.{name}.changes = \"logical\" is only for an environment with role \
             production ('{name}' has role {}): it receives restores, which a replication slot \
             in its database would block",
            spans.at(&keys("changes")),
            env.role
        )));
    }
    if let Some(lag) = &env.changes_max_lag {
        if env.changes != ChangesMode::Logical {
            return Err(Error::Config(format!(
                "{}: environments.{name}.changes_max_lag applies only with changes = \"logical\"",
                spans.at(&keys("changes_max_lag"))
            )));
        }
        parse_size(lag).map_err(|e| {
            Error::Config(format!(
                "{}: environments.{name}.changes_max_lag: {e}",
                spans.at(&keys("changes_max_lag"))
            ))
        })?;
    }
    if let Some(every) = &env.changes_base_every {
        if env.changes != ChangesMode::Logical {
            return Err(Error::Config(format!(
                "{}: environments.{name}.changes_base_every applies only with changes = \"logical\"",
                spans.at(&keys("changes_base_every"))
            )));
        }
        crate::retention::duration::parse_span(every).map_err(|e| {
            Error::Config(format!(
                "{}: environments.{name}.changes_base_every: {e}",
                spans.at(&keys("changes_base_every"))
            ))
        })?;
    }
    Ok(())
}
