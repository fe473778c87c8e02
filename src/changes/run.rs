//! `changes run`: reads an environment's slot into the repository, segment by segment.
//!
//! Starting, it makes sure an archive is open: the slot exists (created if not), and a base
//! snapshot was exported while it did, recording the transactions it saw; replay applies
//! onto it exactly the others ([`super::visibility`]). Then, in a loop: peek at the slot's
//! changes (whole transactions, at most `max_changes` messages), store them as a segment
//! (chunks first, the segment's document last), and only then advance the slot past them. A
//! crash anywhere loses nothing (the slot still holds what was not stored) and applies
//! nothing twice (a stored segment's end is where the next run advances the slot first).
//!
//! A table whose columns are not the base's (a column added, a table newly published) ends
//! the segment before the transaction that shows it, and a new base snapshot is taken: replay
//! never applies changes of one shape onto a table of another.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Client;

use super::pgoutput;
use super::rewrite::ChangeRules;
use super::segment::{self, Archive, Ended, Progress, Segment};
use super::{object_name, server, PLUGIN};
use crate::catalog::TableName;
use crate::error::{pg, Error, Result};
use crate::pg::{catalog, connect, ConnInfo};
use crate::repo::lock::{Lock, LockKind};
use crate::repo::manifest::{Kind, SequenceEntry};
use crate::repo::{Manifest, Repository};
use crate::rules::CompiledRules;
use crate::snapshot::SnapshotOptions;

mod read;
mod slot;

use read::{read_segment, Shapes};
use slot::{advance, drop_slot, flushed_past, later, over_lag};

/// How often an idle archive records how far it is complete (and lets the slot go past WAL
/// no published table needed): a snapshot waiting for the archive to vouch for it waits
/// at most this long on an idle database.
const HEARTBEAT: Duration = Duration::from_secs(2);

/// How to run the archive.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The environment (role production, `changes = "logical"`).
    pub environment: String,
    /// Its database.
    pub conn: ConnInfo,
    /// How base snapshots are taken (raw, or anonymized with rules: the archive is the same).
    pub snapshot: SnapshotOptions,
    /// Messages per segment at most (whole transactions: a larger one is kept whole).
    pub max_changes: u32,
    /// Wait between looks at an idle slot.
    pub poll: Duration,
    /// Stop once everything committed so far is stored (instead of running until stopped).
    pub once: bool,
    /// WAL the slot may hold back; past it the slot is dropped and the archive ends.
    pub max_lag_bytes: u64,
    /// Where the running report is published after each segment and heartbeat (the
    /// scheduler's metrics and health read it).
    pub progress: Option<Arc<tokio::sync::watch::Sender<RunReport>>>,
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    /// The archive written to.
    pub archive: String,
    /// Whether this run started it (created or found its slot, took its first base).
    pub started: bool,
    /// Base snapshots taken (the first, and after schema changes).
    pub bases: Vec<String>,
    /// Segments written.
    pub segments: u64,
    /// Transactions stored.
    pub transactions: u64,
    /// Row changes stored.
    pub changes: u64,
    /// Every commit before this server time is stored.
    pub caught_up: Option<DateTime<Utc>>,
}

/// Runs the archive of `opts.environment` until stopped (or, `once`, until caught up).
/// Dropping the future at any point is safe: what was not recorded as a segment is read
/// again by the next run.
pub async fn run(repo: Arc<Repository>, opts: &RunOptions) -> Result<RunReport> {
    let name = object_name(&opts.environment);
    let client = connect(&opts.conn).await?;
    // Output functions run in this session: fixed settings make the archived text of
    // timestamps and floats the same whatever the role's defaults. The name shows the
    // archiver in pg_stat_activity.
    client
        .batch_execute(
            "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET extra_float_digits = 3; \
             SET IntervalStyle = 'postgres'; SET application_name = 'doppel changes run'",
        )
        .await
        .map_err(pg("cannot set the archive session's settings"))?;
    if server::publication(&client, &name).await?.is_none() {
        return Err(Error::Refused(format!(
            "environment '{}' has no publication {name} on {}: run `doppel changes setup {}` \
             first",
            opts.environment,
            opts.conn.redacted(),
            opts.environment
        )));
    }
    let kind = match &opts.snapshot.anonymize {
        None => Kind::raw(),
        Some(a) => a.kind(None),
    };
    let mut report = RunReport::default();
    let (archive, mut base) = open(&client, &repo, opts, &name, &kind, &mut report).await?;
    report.archive = archive.id.clone();
    let (mut seq, mut position) = stored_end(&repo, &archive).await?;
    // Where the slot stands: the segments' end, or later after an idle stretch.
    let mut slot_at = match segment::progress(&repo, &archive.id).await? {
        Some(p) => later(&p.confirmed_lsn, &position),
        None => position.clone(),
    };
    let mut shapes = Shapes::of(&base)?;
    let mut rules = change_rules(opts, &base)?;
    let mut last_beat = std::time::Instant::now();
    let mut last_sweep: Option<Vec<u8>> = None;
    // The WAL insert position of the last look that read everything up to it.
    let mut quiet_at: Option<String> = None;
    loop {
        if let Some(reason) = over_lag(&client, &name, opts.max_lag_bytes).await? {
            drop_slot(&client, &name).await?;
            end(&repo, &archive, seq, &position, &reason).await?;
            return Err(Error::Refused(format!(
                "change archive of '{}' stopped: {reason}; the slot was dropped so production \
                 keeps its disk, and scheduled snapshots are full snapshots again until \
                 `doppel changes run` starts a new archive",
                opts.environment
            )));
        }
        let row = client
            .query_one("SELECT now(), pg_current_wal_insert_lsn()::text", &[])
            .await
            .map_err(pg("cannot read the server's clock"))?;
        let looked_at: DateTime<Utc> = row.get(0);
        // Changes are decoded up to the flushed WAL only: "complete up to now" holds once
        // what was written by now is flushed (at once with synchronous commits, within a few
        // wal_writer_delay with asynchronous ones). The peek below reads at least to
        // `flushed`.
        let insert_lsn: String = row.get(1);
        let (flushed, complete) = flushed_past(&client, &insert_lsn).await?;
        // No WAL written since a look that read everything up to it: nothing new to decode.
        // Skipping the peek matters on a quiet server: the slot's functions decode again from
        // its restart point at every call, which can lie before a large transaction.
        let quiet = quiet_at.as_deref() == Some(insert_lsn.as_str());
        // Shared, like a snapshot: prune never sweeps chunks of a segment being written. The
        // lock is released whatever happens: a lock left behind would keep prune out.
        let lock = match quiet {
            true => None,
            false => Some(Lock::acquire(repo.store(), LockKind::Shared).await?.0),
        };
        let stored = async {
            if quiet {
                return Ok((true, None, None));
            }
            let swept = repo.get_file(crate::repo::SWEPT_KEY).await.ok();
            if swept != last_sweep {
                repo.forget_known();
                last_sweep = swept;
            }
            let read = read_segment(
                &client,
                &repo,
                &name,
                opts.max_changes,
                &shapes,
                rules.as_mut(),
            )
            .await?;
            let Some(body) = read.segment else {
                return Ok::<_, Error>((read.drained, read.schema_change, None));
            };
            let sequences = catalog::sequences(&client)
                .await?
                .into_iter()
                .map(|s| SequenceEntry {
                    schema: s.schema,
                    name: s.name,
                    last_value: s.last_value,
                    is_called: s.is_called,
                })
                .collect();
            let seg = Segment {
                format: segment::FORMAT,
                archive: archive.id.clone(),
                seq: seq + 1,
                start_lsn: position.clone(),
                end_lsn: body.end_lsn.clone(),
                first_commit: body.first_commit,
                last_commit: body.last_commit,
                transactions: body.transactions,
                changes: body.changes,
                tables: body.tables,
                sequences,
                schema_change: body.schema_change.clone(),
                data: body.data,
                written: Utc::now(),
            };
            segment::put_segment(&repo, &seg).await?;
            Ok((read.drained, read.schema_change, Some(seg)))
        }
        .await;
        if let Some(lock) = lock {
            lock.release().await?;
        }
        let (drained, read_change, stored) = stored?;
        quiet_at = (drained && complete && read_change.is_none()).then_some(insert_lsn);
        let caught_up =
            (drained && complete).then(|| looked_at - chrono::Duration::milliseconds(100));
        if let Some(seg) = stored {
            // Stored: only now may the slot let go of these changes.
            advance(&client, &name, &seg.end_lsn).await?;
            seq = seg.seq;
            position = seg.end_lsn.clone();
            slot_at = seg.end_lsn.clone();
            report.segments += 1;
            report.transactions += seg.transactions;
            report.changes += seg.changes;
            report.caught_up = caught_up.or(report.caught_up);
            put_progress(&repo, &archive, seq, &slot_at, report.caught_up, false).await?;
            publish(opts, &report);
            tracing::info!(
                segment = seq,
                transactions = seg.transactions,
                changes = seg.changes,
                "change segment stored"
            );
        } else if drained {
            // An idle archive still says how far it is complete, every HEARTBEAT.
            report.caught_up = caught_up.or(report.caught_up);
            if opts.once || last_beat.elapsed() >= HEARTBEAT {
                // Nothing published changed up to `flushed`: the slot may let go of that
                // WAL (else writes to unpublished tables alone would make it hold WAL
                // forever). The progress says so first, so that a run stopped in between
                // does not take the slot's move for another reader's.
                let to = later(&flushed, &slot_at);
                // A run about to return says so: nothing reads the slot until the next one.
                let paused = opts.once && complete;
                put_progress(&repo, &archive, seq, &to, report.caught_up, paused).await?;
                if to != slot_at {
                    advance(&client, &name, &to).await?;
                    slot_at = to;
                }
                last_beat = std::time::Instant::now();
            }
            publish(opts, &report);
        }
        if let Some(change) = &read_change {
            tracing::warn!(
                "{}: {}; taking a new base snapshot",
                change.table,
                change.what
            );
            base = crate::snapshot::take(repo.clone(), &opts.snapshot).await?;
            shapes = Shapes::of(&base)?;
            report.bases.push(base.id.clone());
            rules = change_rules(opts, &base)?;
        }
        if drained {
            if opts.once && complete {
                return Ok(report);
            }
            tokio::time::sleep(opts.poll).await;
        }
    }
}

fn publish(opts: &RunOptions, report: &RunReport) {
    if let Some(p) = &opts.progress {
        p.send_replace(report.clone());
    }
}

/// The open archive of this environment, its slot checked and positioned; or a new one,
/// with its slot and first base snapshot. Returns it with its newest base.
async fn open(
    client: &Client,
    repo: &Arc<Repository>,
    opts: &RunOptions,
    name: &str,
    kind: &Kind,
    report: &mut RunReport,
) -> Result<(Archive, Manifest)> {
    // server_info reads what the role may not see inside a savepoint: a transaction.
    client
        .batch_execute("BEGIN READ ONLY")
        .await
        .map_err(pg("cannot read the server's identity"))?;
    let server = catalog::server_info(client).await;
    client
        .batch_execute("COMMIT")
        .await
        .map_err(pg("cannot read the server's identity"))?;
    let server = server?;
    let version: i32 = client
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .await
        .map_err(pg("cannot read the server's version"))?
        .get(0);
    let slot = server::slot(client, name, version).await?;
    let mut found = None;
    for a in segment::archives(repo).await?.into_iter().rev() {
        if a.environment == opts.environment
            && a.slot == name
            && a.database == server.database
            && a.system_identifier == server.system_identifier
            && a.kind.to_string() == kind.to_string()
            && a.kind.rules_digest == kind.rules_digest
            && a.kind.key_fingerprint == kind.key_fingerprint
        {
            let ended = segment::progress(repo, &a.id)
                .await?
                .is_some_and(|p| p.ended.is_some());
            if !ended {
                found = Some(a);
            }
            break;
        }
    }
    if let Some(archive) = found {
        let (seq, stored) = stored_end(repo, &archive).await?;
        let vouched = match segment::progress(repo, &archive.id).await? {
            Some(p) => later(&p.confirmed_lsn, &stored),
            None => stored.clone(),
        };
        let problem = match &slot {
            None => Some("its replication slot is gone (dropped by hand or by teardown)".into()),
            Some(s) => match s
                .confirmed_flush_lsn
                .as_deref()
                .and_then(pgoutput::parse_lsn)
            {
                Some(at) if at > pgoutput::parse_lsn(&vouched).unwrap_or(0) => Some(format!(
                    "its slot was advanced to {} past what the archive stored ({vouched}): \
                     another reader consumed changes",
                    s.confirmed_flush_lsn.as_deref().unwrap_or("?")
                )),
                _ => None,
            },
        };
        match problem {
            None => {
                // A run that stored a segment and stopped before advancing the slot: the
                // segment is the truth, the slot catches up to it.
                let at = slot.as_ref().and_then(|s| s.confirmed_flush_lsn.clone());
                if at.is_none_or(|at| later(&at, &stored) != at) {
                    advance(client, name, &stored).await?;
                }
                let base = newest_base(repo, &archive).await?;
                if let Some(base) = base {
                    return Ok((archive, base));
                }
            }
            Some(reason) => {
                tracing::warn!("change archive {} ends: {reason}", archive.id);
                end(repo, &archive, seq, &stored, &reason).await?;
            }
        }
    }
    // A new archive: the slot first, then a base exported while it exists.
    let slot = match slot {
        Some(s) => {
            if let Some(why) = s.foreign(&server.database) {
                return Err(Error::Refused(format!(
                    "slot {name} is not this environment's ({why}): drop it or rename the \
                     environment"
                )));
            }
            // Changes the slot kept from before are in the new base: skip reading them.
            client
                .query_one(
                    "SELECT pg_replication_slot_advance($1, pg_current_wal_lsn())::text",
                    &[&name],
                )
                .await
                .map_err(pg(format!("cannot advance slot {name}")))?;
            name.to_string()
        }
        None => {
            client
                .query_one(
                    "SELECT lsn::text FROM pg_create_logical_replication_slot($1, $2)",
                    &[&name, &PLUGIN],
                )
                .await
                .map_err(pg(format!("cannot create replication slot {name}")))?;
            report.started = true;
            name.to_string()
        }
    };
    let row = client
        .query_one(
            "SELECT now(), confirmed_flush_lsn::text FROM pg_replication_slots \
             WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .map_err(pg(format!("cannot read slot {slot}")))?;
    let started: DateTime<Utc> = row.get(0);
    let start_lsn: String = row.get(1);
    report.started = true;
    let seen = server::observe(&opts.conn, name).await?;
    let published: Vec<TableName> = seen.publication.map(|p| p.tables).unwrap_or_default();
    let unarchived = seen
        .tables
        .iter()
        .filter(|t| !published.contains(&t.table))
        .map(|t| t.table.to_string())
        .collect();
    let base = crate::snapshot::take(repo.clone(), &opts.snapshot).await?;
    report.bases.push(base.id.clone());
    let archive = Archive {
        format: segment::FORMAT,
        id: crate::repo::new_snapshot_id(started),
        environment: opts.environment.clone(),
        kind: kind.clone(),
        slot,
        database: server.database,
        system_identifier: server.system_identifier,
        started,
        start_lsn,
        unarchived,
        published: published
            .iter()
            .map(|t| format!("{}.{}", t.schema, t.name))
            .collect(),
    };
    segment::put_archive(repo, &archive).await?;
    put_progress(repo, &archive, 0, &archive.start_lsn, None, false).await?;
    Ok((archive, base))
}

/// The newest snapshot an archive can extend.
pub async fn newest_base(repo: &Repository, archive: &Archive) -> Result<Option<Manifest>> {
    Ok(repo
        .manifests()
        .await?
        .into_iter()
        .filter(|m| archive.extends(m))
        .max_by_key(|m| m.time))
}

/// The archive's last segment number and the position its stored changes end at (the
/// archive's start before its first segment), from one read of its segments.
async fn stored_end(repo: &Repository, archive: &Archive) -> Result<(u64, String)> {
    Ok(segment::segments(repo, &archive.id)
        .await?
        .last()
        .map_or_else(
            || (0, archive.start_lsn.clone()),
            |s| (s.seq, s.end_lsn.clone()),
        ))
}

fn change_rules(opts: &RunOptions, base: &Manifest) -> Result<Option<ChangeRules>> {
    let Some(anon) = &opts.snapshot.anonymize else {
        return Ok(None);
    };
    let catalog = base.catalog.as_ref().ok_or_else(|| {
        Error::Repository(format!(
            "base snapshot {} has no catalog recorded: take a new snapshot",
            base.id
        ))
    })?;
    let compiled = CompiledRules::prepare(&anon.rules, catalog)?;
    Ok(Some(ChangeRules::new(Arc::new(compiled), anon.key.clone())))
}

async fn put_progress(
    repo: &Repository,
    archive: &Archive,
    segments: u64,
    position: &str,
    caught_up: Option<DateTime<Utc>>,
    paused: bool,
) -> Result<()> {
    segment::put_progress(
        repo,
        &archive.id,
        &Progress {
            segments,
            confirmed_lsn: position.to_string(),
            caught_up,
            updated: Utc::now(),
            ended: None,
            paused,
        },
    )
    .await
}

/// Records every archive of environment `env` read from `slot` that has not ended as ended
/// for `reason` (its slot was dropped: nothing can extend it any more); their segments stay
/// and still serve restores up to where they reach.
pub async fn end_all(repo: &Repository, env: &str, slot: &str, reason: &str) -> Result<()> {
    for archive in segment::archives(repo).await? {
        if archive.environment != env || archive.slot != slot {
            continue;
        }
        let progress = segment::progress(repo, &archive.id).await?;
        if progress.as_ref().is_some_and(|p| p.ended.is_some()) {
            continue;
        }
        let (segments, position) = progress
            .map(|p| (p.segments, p.confirmed_lsn))
            .unwrap_or_else(|| (0, archive.start_lsn.clone()));
        end(repo, &archive, segments, &position, reason).await?;
    }
    Ok(())
}

async fn end(
    repo: &Repository,
    archive: &Archive,
    segments: u64,
    position: &str,
    reason: &str,
) -> Result<()> {
    let mut p = segment::progress(repo, &archive.id)
        .await?
        .unwrap_or(Progress {
            segments,
            confirmed_lsn: position.to_string(),
            caught_up: None,
            updated: Utc::now(),
            ended: None,
            paused: false,
        });
    p.updated = Utc::now();
    p.ended = Some(Ended {
        at: Utc::now(),
        reason: reason.to_string(),
    });
    segment::put_progress(repo, &archive.id, &p).await
}
