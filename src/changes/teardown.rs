//! Drops an environment's slot and publication, so that nothing holds back WAL on the server
//! once the archive is given up; run again, it finds nothing to drop.

use serde::Serialize;

use super::object_name;
use super::server;
use crate::catalog::quote_ident;
use crate::error::{pg, Error, Result};
use crate::pg::ConnInfo;

/// What teardown dropped.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The slot's and the publication's name.
    pub name: String,
    /// Whether the slot existed and was dropped.
    pub slot_dropped: bool,
    /// Whether the publication existed and was dropped.
    pub publication_dropped: bool,
}

/// Drops environment `env`'s slot and publication in the database of `conn`. Refused, with
/// nothing dropped, when the slot is active (a process is streaming from it) or is not the
/// one setup makes for this database.
pub async fn teardown(conn: &ConnInfo, env: &str) -> Result<Report> {
    let name = object_name(env);
    let seen = server::observe(conn, &name).await?;
    let (client, slot, publication) = (&seen.client, &seen.slot, &seen.publication);
    if let Some(s) = &slot {
        if let Some(why) = s.foreign(&seen.facts.database) {
            return Err(Error::Refused(format!(
                "replication slot {name} is not this environment's ({why}): nothing was dropped"
            )));
        }
        if s.active {
            let pid = s
                .active_pid
                .map(|p| format!(" (pid {p})"))
                .unwrap_or_default();
            return Err(Error::Refused(format!(
                "replication slot {name} is active: a process{pid} is streaming from it; stop \
                 it, then run teardown again. Nothing was dropped"
            )));
        }
        client
            .execute("SELECT pg_drop_replication_slot($1)", &[&name])
            .await
            .map_err(pg(format!("cannot drop replication slot {name}")))?;
    }
    if publication.is_some() {
        client
            .batch_execute(&format!(
                "DROP PUBLICATION IF EXISTS {}",
                quote_ident(&name)
            ))
            .await
            .map_err(pg(format!("cannot drop publication {name}")))?;
    }
    Ok(Report {
        name,
        slot_dropped: slot.is_some(),
        publication_dropped: publication.is_some(),
    })
}
