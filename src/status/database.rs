//! What each non-production database says of itself: the stamp every restore, reseed and
//! reset leaves in its comment, the marker that stamp ends with (changes by hand since), and
//! its pristine copy.

use serde::Serialize;

use super::{RestoreRecord, Status};
use crate::config::{Config, Role};
use crate::restore::marker::Marker;
use crate::restore::target::{RESET, STAMP};

/// What a database's own stamp says: every restore and reset writes one in the database's
/// comment, so it tells the truth about restores made with another repository, and its
/// absence tells of a database replaced by something else.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DatabaseCheck {
    /// The stamp, as the database's comment holds it.
    pub stamp: Option<String>,
    /// The snapshot the stamp names.
    pub snapshot: Option<String>,
    /// When it was reset (to the state of its restore) since, as the stamp says.
    pub reset_at: Option<String>,
    /// Whether it changed since doppel stamped it (rows written, tables rewritten), by the
    /// stamp's [marker](crate::restore::marker); `None` when the stamp has no marker.
    pub modified: Option<crate::restore::marker::Change>,
    /// Its pristine copy (environments with `pristine = true`).
    pub pristine: Option<PristineCheck>,
    /// Whether the stamp names the snapshot the repository recorded last; `None` when either
    /// is missing.
    pub agrees: Option<bool>,
    /// Why the database could not be asked (unreachable, no such database).
    pub error: Option<String>,
}

/// An environment's pristine copy, as its server has it.
#[derive(Debug, Clone, Serialize)]
pub struct PristineCheck {
    /// The template database's name.
    pub database: String,
    /// Whether it exists.
    pub exists: bool,
    /// The snapshot its stamp names (what `doppel reset` returns to).
    pub snapshot: Option<String>,
}

/// The snapshot a stamp names.
fn stamped_snapshot(stamp: &str) -> Option<String> {
    stamp
        .strip_prefix(STAMP)
        .and_then(|rest| rest.split_whitespace().next())
        .map(String::from)
}

impl DatabaseCheck {
    /// Reads the stamp of `comment` (the database's comment) against `holds`, and the
    /// database's marker as it reads `now`.
    pub fn of(
        comment: Option<&str>,
        holds: Option<&RestoreRecord>,
        now: Option<Marker>,
    ) -> DatabaseCheck {
        let stamp = comment.filter(|c| c.starts_with(STAMP));
        let snapshot = stamp.and_then(stamped_snapshot);
        let (text, marker) = stamp.map_or(("", None), Marker::split);
        DatabaseCheck {
            stamp: stamp.map(|_| text.to_string()),
            reset_at: text.split_once(RESET).and_then(|(_, rest)| {
                rest.split(|c: char| c == ')' || c.is_whitespace())
                    .next()
                    .map(String::from)
            }),
            modified: marker.zip(now).map(|(then, now)| then.compare(&now)),
            agrees: match (&snapshot, holds) {
                (Some(s), Some(h)) => Some(*s == h.snapshot),
                _ => None,
            },
            snapshot,
            pristine: None,
            error: None,
        }
    }
}

impl DatabaseCheck {
    /// What the check found, as lines of text (status prints them, the page shows them).
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![match (&self.error, &self.snapshot, self.agrees) {
            (Some(e), _, _) => format!("database: not asked ({e})"),
            (None, None, _) => "database: carries no doppel stamp: restored or recreated by \
                                something else since"
                .to_string(),
            (None, Some(s), Some(false)) => format!(
                "database: its stamp names snapshot {s}, not the one recorded here: restored \
                 since from another repository"
            ),
            (None, Some(s), _) => format!(
                "database: stamp confirms snapshot {s}{}; {}",
                match &self.reset_at {
                    Some(t) => format!(", reset to it {t}"),
                    None => String::new(),
                },
                match &self.modified {
                    Some(m) => m.to_string(),
                    None => "changes since cannot be told (no marker in the stamp)".into(),
                }
            ),
        }];
        if let Some(p) = &self.pristine {
            out.push(match (p.exists, &p.snapshot) {
                (false, _) => format!(
                    "pristine copy {}: missing (the next restore keeps one)",
                    p.database
                ),
                (true, Some(s)) => format!(
                    "pristine copy {}: snapshot {s}, what `doppel reset` returns to",
                    p.database
                ),
                (true, None) => format!("pristine copy {}: carries no doppel stamp", p.database),
            });
        }
        out
    }
}

/// Reads the stamp and marker of the database `conn` names, and its pristine copy's stamp
/// when `pristine`.
async fn ask(
    conn: &crate::pg::ConnInfo,
    holds: Option<&RestoreRecord>,
    pristine: bool,
) -> std::result::Result<DatabaseCheck, String> {
    let client = crate::pg::connect(conn).await.map_err(|e| e.to_string())?;
    let comment = |name: String| {
        let client = &client;
        async move {
            crate::restore::target::comment(client, &name)
                .await
                .map_err(|e| e.to_string())
        }
    };
    let own = comment(conn.dbname.clone()).await?.flatten();
    let now = crate::restore::marker::read(&client)
        .await
        .map_err(|e| e.to_string())?;
    let mut check = DatabaseCheck::of(own.as_deref(), holds, now);
    if pristine {
        let database = crate::restore::pristine::template_name(&conn.dbname);
        let found = comment(database.clone()).await?;
        check.pristine = Some(PristineCheck {
            exists: found.is_some(),
            snapshot: found.flatten().as_deref().and_then(stamped_snapshot),
            database,
        });
    }
    Ok(check)
}

/// Asks the database of every non-production environment for its stamp (see
/// [`DatabaseCheck`]), all at once, each within a few seconds.
pub async fn check_databases(config: &Config, status: &mut Status) {
    let asked = status.environments.iter().map(|env| async move {
        let settings = config.environments.get(&env.name)?;
        if settings.role == Role::Production {
            return None;
        }
        let asked = async {
            if let Some(e) = &settings.url_error {
                return Err(e.clone());
            }
            let conn = crate::pg::ConnInfo::parse(&settings.url).map_err(|e| e.to_string())?;
            ask(&conn, env.holds.as_ref(), settings.pristine).await
        };
        let answer = tokio::time::timeout(std::time::Duration::from_secs(5), asked).await;
        Some(match answer {
            Ok(Ok(check)) => check,
            Ok(Err(e)) => DatabaseCheck {
                error: Some(crate::error::redact(&e)),
                ..DatabaseCheck::default()
            },
            Err(_) => DatabaseCheck {
                error: Some("no answer within 5 s".into()),
                ..DatabaseCheck::default()
            },
        })
    });
    let checks = futures::future::join_all(asked).await;
    for (env, check) in status.environments.iter_mut().zip(checks) {
        env.database = check;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::restore::marker::Change;
    use chrono::Utc;

    fn record(snapshot: &str) -> RestoreRecord {
        RestoreRecord {
            environment: Some("copy".into()),
            target: "postgresql://u@h/copy".into(),
            command: "restore".into(),
            snapshot: snapshot.into(),
            series: "prod/raw".into(),
            snapshot_time: Utc::now(),
            as_of: None,
            restored_at: Utc::now(),
            verify: "loaded".into(),
        }
    }

    #[test]
    fn a_database_stamp_is_read_against_the_recorded_restore() {
        let marker = Marker {
            writes: 500,
            tables: 9,
        };
        let text = "doppel: snapshot 20261206T1000Z-ab (taken 2026-12-06T10:00:00Z) restored \
                    2026-12-06T10:01:00Z and verified (loaded)";
        let stamp = format!("{text}{}", marker.render());
        let check = DatabaseCheck::of(
            Some(&stamp),
            Some(&record("20261206T1000Z-ab")),
            Some(marker),
        );
        assert_eq!(check.snapshot.as_deref(), Some("20261206T1000Z-ab"));
        assert_eq!(check.stamp.as_deref(), Some(text));
        assert_eq!((check.agrees, check.reset_at), (Some(true), None));
        assert_eq!(check.modified, Some(Change::Unmodified));
        let reset = format!(
            "{text} (reset to this state 2026-12-06T11:00:00Z){}",
            marker.render()
        );
        let later = Marker {
            writes: 502,
            ..marker
        };
        let check = DatabaseCheck::of(Some(&reset), Some(&record("other")), Some(later));
        assert_eq!(check.agrees, Some(false));
        assert_eq!(check.reset_at.as_deref(), Some("2026-12-06T11:00:00Z"));
        assert_eq!(
            check.modified,
            Some(Change::Modified {
                writes: 2,
                tables_changed: false
            })
        );
        // A stamp without a marker (an older doppel's): changes cannot be told.
        let check = DatabaseCheck::of(Some(text), None, Some(later));
        assert_eq!((check.agrees, check.modified), (None, None));
        // Someone else's comment, or none: no stamp.
        for comment in [Some("shop database"), None] {
            let check = DatabaseCheck::of(comment, Some(&record("x")), Some(marker));
            assert_eq!(
                (check.stamp, check.snapshot, check.agrees, check.modified),
                (None, None, None, None)
            );
        }
    }
}
