//! The slot's side of the archive loop: where the server's WAL stands, moving and dropping
//! the slot, and what it holds back.

use std::time::Duration;

use tokio_postgres::Client;

use crate::changes::pgoutput;
use crate::error::{pg, Result};

/// Waits (up to two seconds) until the server has flushed its WAL up to `inserted`; returns
/// the flushed position and whether it got there.
pub(super) async fn flushed_past(client: &Client, inserted: &str) -> Result<(String, bool)> {
    let target = pgoutput::parse_lsn(inserted).unwrap_or(0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        let flushed: String = client
            .query_one("SELECT pg_current_wal_flush_lsn()::text", &[])
            .await
            .map_err(pg("cannot read the server's WAL position"))?
            .get(0);
        let done = pgoutput::parse_lsn(&flushed).unwrap_or(0) >= target;
        if done || tokio::time::Instant::now() >= deadline {
            return Ok((flushed, done));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The later of two WAL positions (`a` when either cannot be read).
pub(super) fn later(a: &str, b: &str) -> String {
    match (pgoutput::parse_lsn(a), pgoutput::parse_lsn(b)) {
        (Some(x), Some(y)) if y > x => b.to_string(),
        _ => a.to_string(),
    }
}

pub(super) async fn advance(client: &Client, slot: &str, lsn: &str) -> Result<()> {
    client
        .query_one(
            "SELECT pg_replication_slot_advance($1, $2::text::pg_lsn)::text",
            &[&slot, &lsn],
        )
        .await
        .map_err(pg(format!("cannot advance slot {slot} to {lsn}")))?;
    Ok(())
}

pub(super) async fn drop_slot(client: &Client, slot: &str) -> Result<()> {
    client
        .execute("SELECT pg_drop_replication_slot($1)", &[&slot])
        .await
        .map_err(pg(format!("cannot drop slot {slot}")))?;
    Ok(())
}

/// Why the slot must go, if it holds back more WAL than allowed.
pub(super) async fn over_lag(client: &Client, slot: &str, max: u64) -> Result<Option<String>> {
    let row = client
        .query_opt(
            "SELECT (pg_current_wal_lsn() - restart_lsn)::bigint FROM pg_replication_slots \
             WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .map_err(pg(format!("cannot read slot {slot}")))?;
    let held: Option<i64> = row.and_then(|r| r.get(0));
    Ok(held
        .filter(|&b| u64::try_from(b).unwrap_or(0) > max)
        .map(|b| {
            format!(
                "slot {slot} held back {b} bytes of WAL, more than changes_max_lag ({max} bytes)"
            )
        }))
}
