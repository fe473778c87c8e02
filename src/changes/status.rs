//! Where an environment's publication and slot stand: whether they exist, what the slot holds
//! back on the server against `changes_max_lag`, and which tables cannot be archived row by
//! row.

use serde::Serialize;

use super::server::{self, Publication, Slot};
use super::{object_name, Unidentified};
use crate::error::Result;
use crate::pg::ConnInfo;

/// The state of an environment's archive on its server.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The slot's and the publication's name.
    pub name: String,
    /// The server's `wal_level` (`logical` is needed).
    pub wal_level: String,
    /// The slot, if it exists.
    pub slot: Option<Slot>,
    /// The most WAL the slot may hold back (`changes_max_lag`).
    pub max_lag_bytes: u64,
    /// Whether the slot holds back more than that.
    pub over_max_lag: bool,
    /// The publication, if it exists.
    pub publication: Option<Publication>,
    /// Tables whose changes cannot be archived row by row (read whole at each snapshot).
    pub unidentified: Vec<Unidentified>,
    /// The environment's newest archive in the repository (filled in by the command, which
    /// knows the repository).
    pub archive: Option<super::segment::Summary>,
}

/// Reads the state of environment `env`'s slot and publication in the database of `conn`;
/// changes nothing.
pub async fn status(conn: &ConnInfo, env: &str, max_lag_bytes: u64) -> Result<Status> {
    let name = object_name(env);
    let seen = server::observe(conn, &name).await?;
    let slot = seen.slot;
    let over_max_lag = slot
        .as_ref()
        .and_then(|s| s.retained_bytes)
        .is_some_and(|b| u64::try_from(b).unwrap_or(0) > max_lag_bytes);
    Ok(Status {
        name,
        wal_level: seen.facts.wal_level,
        slot,
        max_lag_bytes,
        over_max_lag,
        unidentified: server::unidentified(&seen.tables, seen.publication.as_ref()),
        publication: seen.publication,
        archive: None,
    })
}
