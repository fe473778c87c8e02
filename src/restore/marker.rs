//! The marker every restore, reseed and reset leaves at the end of the database's stamp, so
//! that `doppel status` can tell a database changed by hand since: the rows written to its
//! tables so far, and a fingerprint of their storage files.
//!
//! Both come from what PostgreSQL already keeps, so reading them costs one catalog query,
//! whatever the data's size (a digest of every table would read all of it). The row writes are
//! the cumulative statistics `n_tup_ins + n_tup_upd + n_tup_del`, which no vacuum or analyze
//! resets; TRUNCATE, VACUUM FULL and ALTER TABLE leave those counters alone but give the table a
//! new storage file, which the fingerprint of `(oid, relfilenode)` pairs catches. A database
//! copied from its template (`doppel reset`) keeps the fingerprint and starts its statistics
//! from zero, so a reset writes a marker of its own.

use std::time::Duration;

use serde::Serialize;
use tokio_postgres::Client;

use crate::error::{pg, Result};

/// What the database's statistics said when it was stamped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Marker {
    /// Rows inserted, updated and deleted in its tables, as its statistics count them.
    pub writes: i64,
    /// The fingerprint of its tables' storage files.
    pub tables: u32,
}

/// How a database compares with its marker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Change {
    /// No row written, no table rewritten, added or dropped since it was stamped.
    Unmodified,
    /// Changed since it was stamped.
    Modified {
        /// Rows written since (inserted, updated or deleted).
        writes: i64,
        /// Whether tables were rewritten (TRUNCATE, VACUUM FULL, ALTER TABLE), added or dropped.
        tables_changed: bool,
    },
    /// Its statistics were reset since (a crash, `pg_stat_reset()`), so row writes cannot be
    /// counted; tables changed or not.
    StatisticsReset {
        /// Whether tables were rewritten, added or dropped.
        tables_changed: bool,
    },
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const TABLES: &str = "tables rewritten (TRUNCATE, VACUUM FULL, ALTER), added or dropped";
        match self {
            Change::Unmodified => f.write_str("unmodified since"),
            Change::Modified {
                writes,
                tables_changed,
            } => {
                f.write_str("MODIFIED since: ")?;
                match (writes, tables_changed) {
                    (0, _) => f.write_str(TABLES),
                    (w, false) => write!(f, "{w} rows written"),
                    (w, true) => write!(f, "{w} rows written, {TABLES}"),
                }
            }
            Change::StatisticsReset { tables_changed } => write!(
                f,
                "its statistics were reset since (a crash, pg_stat_reset): rows written cannot be \
                 counted{}",
                if *tables_changed {
                    format!("; MODIFIED: {TABLES}")
                } else {
                    String::new()
                }
            ),
        }
    }
}

impl Marker {
    /// The marker as the stamp ends with it.
    pub fn render(&self) -> String {
        format!(" [writes {}, tables {:08x}]", self.writes, self.tables)
    }

    /// Splits `stamp` into its text and the marker it ends with, if any.
    pub fn split(stamp: &str) -> (&str, Option<Marker>) {
        let parsed = stamp.strip_suffix(']').and_then(|s| {
            let at = s.rfind(" [writes ")?;
            let (writes, tables) = s[at + " [writes ".len()..].split_once(", tables ")?;
            let marker = Marker {
                writes: writes.parse().ok()?,
                tables: u32::from_str_radix(tables, 16).ok()?,
            };
            Some((&stamp[..at], marker))
        });
        match parsed {
            Some((text, marker)) => (text, Some(marker)),
            None => (stamp, None),
        }
    }

    /// How `now` (read later from the same database) compares with this marker.
    pub fn compare(&self, now: &Marker) -> Change {
        let tables_changed = self.tables != now.tables;
        if now.writes < self.writes {
            Change::StatisticsReset { tables_changed }
        } else if now.writes > self.writes || tables_changed {
            Change::Modified {
                writes: now.writes - self.writes,
                tables_changed,
            }
        } else {
            Change::Unmodified
        }
    }
}

/// Reads the marker of the database `client` is connected to; `None` when its statistics
/// count nothing (`track_counts` off).
pub async fn read(client: &Client) -> Result<Option<Marker>> {
    let row = client
        .query_one(
            "SELECT current_setting('track_counts')::bool, \
                    coalesce(sum(s.n_tup_ins + s.n_tup_upd + s.n_tup_del), 0)::int8, \
                    coalesce(string_agg(c.oid::text || ':' || c.relfilenode::text, ',' \
                                        ORDER BY c.oid), '') \
             FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid",
            &[],
        )
        .await
        .map_err(pg("cannot read the database's table statistics"))?;
    if !row.get::<_, bool>(0) {
        return Ok(None);
    }
    let files: String = row.get(2);
    let digest = blake3::hash(files.as_bytes());
    let tables = u32::from_be_bytes(digest.as_bytes()[..4].try_into().expect("4 bytes"));
    Ok(Some(Marker {
        writes: row.get(1),
        tables,
    }))
}

/// How long the statistics may take to settle.
const SETTLE_WITHIN: Duration = Duration::from_secs(5);

/// How far apart two reads of the statistics must be to see new counts: PostgreSQL 15 keeps
/// them in shared memory (a read sees every count reported); 13 and 14 let a session read a
/// statistics file up to half a second old.
fn settle_every(server_version_num: i32) -> Duration {
    if server_version_num >= 150_000 {
        Duration::from_millis(50)
    } else {
        Duration::from_millis(550)
    }
}

/// Reads the marker once the statistics have settled: sessions that just ended (a restore's
/// loaders) report their counts as they exit, a moment after their client let go. So the
/// marker is taken when the writes counted reach `at_least` (the rows the caller knows it
/// loaded) and a second read agrees, or after five seconds.
pub async fn settled(client: &Client, at_least: u64) -> Result<Option<Marker>> {
    let started = std::time::Instant::now();
    let version: i32 = client
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .await
        .map_err(pg("cannot read the server's version"))?
        .get(0);
    let at_least = i64::try_from(at_least).unwrap_or(i64::MAX);
    let mut last = read(client).await?;
    loop {
        tokio::time::sleep(settle_every(version)).await;
        // PostgreSQL 13 and 14 keep the statistics read in a transaction until its end; each
        // query here is a transaction of its own, but a cleared snapshot costs nothing.
        let _ = client
            .batch_execute("SELECT pg_stat_clear_snapshot()")
            .await;
        let now = read(client).await?;
        let reached = now.is_none_or(|m| m.writes >= at_least);
        if (reached && now == last) || started.elapsed() >= SETTLE_WITHIN {
            return Ok(now);
        }
        last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_is_read_back_from_the_end_of_a_stamp() {
        let m = Marker {
            writes: 1234,
            tables: 0x00ab_cdef,
        };
        let stamp = format!(
            "doppel: snapshot x restored [sic] and verified{}",
            m.render()
        );
        assert_eq!(
            Marker::split(&stamp),
            ("doppel: snapshot x restored [sic] and verified", Some(m))
        );
        for plain in [
            "doppel: snapshot x restored",
            "doppel: snapshot x [writes many, tables 1]",
            "doppel: snapshot x [writes 1, tables zz]",
        ] {
            assert_eq!(Marker::split(plain), (plain, None));
        }
    }

    #[test]
    fn a_later_reading_tells_what_changed() {
        let then = Marker {
            writes: 100,
            tables: 7,
        };
        let at = |writes, tables| then.compare(&Marker { writes, tables });
        assert_eq!(at(100, 7), Change::Unmodified);
        assert_eq!(
            at(103, 7),
            Change::Modified {
                writes: 3,
                tables_changed: false
            }
        );
        assert_eq!(
            at(100, 8),
            Change::Modified {
                writes: 0,
                tables_changed: true
            }
        );
        assert_eq!(
            at(0, 7),
            Change::StatisticsReset {
                tables_changed: false
            }
        );
    }
}
