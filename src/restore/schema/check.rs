//! Before a snapshot goes into an older PostgreSQL than the one it was taken on: its schema
//! is tried in a scratch database on the target server, so that an object the older server
//! cannot create (a function it lacks, a syntax it does not parse) is named before anything
//! of the restore exists, instead of failing it half-way.

use tokio_postgres::Client;

use super::replay;
use crate::catalog::quote_ident;
use crate::error::{describe_pg, pg, Error, Result};
use crate::pg::{connect, ConnInfo};
use crate::repo::manifest::Manifest;

/// At most this many refused objects are named; the count says how many there are.
const NAMED: usize = 8;

/// Runs every entry of `script` (the whole schema archive, see [`super::script`]) in a
/// scratch database on the target's server, then drops it. Refuses, naming each object the
/// server would not create and why, when any fails.
pub async fn downgrade_check(
    admin: &Client,
    target: &ConnInfo,
    script: &replay::Script,
    m: &Manifest,
    target_major: u32,
) -> Result<()> {
    let scratch = format!("doppel_check_{}", hex::encode(rand::random::<[u8; 5]>()));
    let mut ignored = Vec::new();
    super::super::target::create_database(admin, &scratch, m, &mut ignored).await?;
    let mut conn = target.clone();
    conn.dbname = scratch.clone();
    let failures = try_entries(&conn, script).await;
    // The scratch database goes whatever happened; FORCE ends our own session if it lingers.
    let dropped = admin
        .batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(&scratch)
        ))
        .await
        .map_err(pg(format!("cannot drop the scratch database {scratch}")));
    let failures = failures?;
    dropped?;
    if failures.is_empty() {
        return Ok(());
    }
    let named: Vec<String> = failures
        .iter()
        .take(NAMED)
        .map(|(label, why)| format!("{label}: {why}"))
        .collect();
    let more = failures.len().saturating_sub(NAMED);
    Err(Error::Refused(format!(
        "snapshot {} was taken on PostgreSQL {} and {} of its schema object(s) cannot be created on PostgreSQL {target_major}, the target's version: {}{}; nothing was restored. Restore into PostgreSQL {} or newer, or change these objects at the source",
        m.id,
        m.source.server_major,
        failures.len(),
        named.join("; "),
        if more > 0 { format!("; and {more} more") } else { String::new() },
        m.source.server_major,
    )))
}

/// Runs each entry in its own transaction and returns those the server refused, with its
/// reason (an object that depends on a refused one is refused too, and named as well).
async fn try_entries(conn: &ConnInfo, script: &replay::Script) -> Result<Vec<(String, String)>> {
    let client = connect(conn).await?;
    client
        .batch_execute(&script.preamble)
        .await
        .map_err(pg("cannot set up the schema check session"))?;
    let mut failures = Vec::new();
    for entry in &script.entries {
        if let Err(e) = client.batch_execute(&entry.text()).await {
            failures.push((entry.label.clone(), describe_pg(&e)));
        }
    }
    Ok(failures)
}
