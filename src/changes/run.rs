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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{SinkExt, StreamExt};
use serde::Serialize;
use tokio_postgres::Client;

use super::pgoutput::{self, Message, Relation};
use super::rewrite::ChangeRules;
use super::segment::{self, Archive, Counts, Ended, Progress, SchemaChange, Segment};
use super::visibility::Visibility;
use super::{object_name, server, PLUGIN};
use crate::catalog::TableName;
use crate::error::{pg, Error, Result};
use crate::pg::{catalog, connect, ConnInfo};
use crate::repo::lock::{Lock, LockKind};
use crate::repo::manifest::{Kind, SequenceEntry};
use crate::repo::writer::write_stream;
use crate::repo::{Manifest, Repository};
use crate::rules::CompiledRules;
use crate::snapshot::SnapshotOptions;

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

/// The current base as changes must fit it: what its snapshot saw, and its tables' columns
/// (generated ones left out, as pgoutput leaves them out), as replay will compare them.
struct Shapes {
    visibility: Visibility,
    columns: HashMap<TableName, Vec<String>>,
}

impl Shapes {
    fn of(base: &Manifest) -> Result<Shapes> {
        let visibility = base
            .xid_snapshot
            .as_deref()
            .and_then(Visibility::parse)
            .ok_or_else(|| {
                Error::Repository(format!(
                    "base snapshot {} records no transaction snapshot: take a new one",
                    base.id
                ))
            })?;
        let columns = base
            .catalog
            .as_ref()
            .map(|c| {
                c.tables
                    .iter()
                    .map(|t| {
                        (
                            TableName::new(t.schema.clone(), t.name.clone()),
                            t.columns
                                .iter()
                                .filter(|c| !c.generated)
                                .map(|c| c.name.clone())
                                .collect(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Shapes {
            visibility,
            columns,
        })
    }

    /// How `rel` differs from the base's table, if it does.
    fn differs(&self, rel: &Relation) -> Option<String> {
        let table = TableName::new(rel.namespace.clone(), rel.name.clone());
        let now: Vec<String> = rel.columns.iter().map(|c| c.name.clone()).collect();
        match self.columns.get(&table) {
            None => Some("the table is not in the base snapshot".into()),
            Some(cols) if *cols != now => Some(format!(
                "its columns changed from [{}] to [{}]",
                cols.join(", "),
                now.join(", ")
            )),
            Some(_) => None,
        }
    }
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
    let mut seq = segment::segments(&repo, &archive.id)
        .await?
        .last()
        .map_or(0, |s| s.seq);
    let mut position = current_position(&repo, &archive).await?;
    // Where the slot stands: the segments' end, or later after an idle stretch.
    let mut slot_at = match segment::progress(&repo, &archive.id).await? {
        Some(p) => later(&p.confirmed_lsn, &position),
        None => position.clone(),
    };
    let mut shapes = Shapes::of(&base)?;
    let mut rules = change_rules(opts, &base)?;
    let mut last_beat = std::time::Instant::now();
    let mut last_sweep: Option<Vec<u8>> = None;
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
        let (flushed, complete) = flushed_past(&client, &row.get::<_, String>(1)).await?;
        // Shared, like a snapshot: prune never sweeps chunks of a segment being written. The
        // lock is released whatever happens: a lock left behind would keep prune out.
        let (lock, _) = Lock::acquire(repo.store(), LockKind::Shared).await?;
        let stored = async {
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
        lock.release().await?;
        let (drained, read_change, stored) = stored?;
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
            put_progress(&repo, &archive, seq, &slot_at, report.caught_up).await?;
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
                put_progress(&repo, &archive, seq, &to, report.caught_up).await?;
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

/// Waits (up to two seconds) until the server has flushed its WAL up to `inserted`; returns
/// the flushed position and whether it got there.
async fn flushed_past(client: &Client, inserted: &str) -> Result<(String, bool)> {
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
        let seq = segment::segments(repo, &archive.id)
            .await?
            .last()
            .map_or(0, |s| s.seq);
        let stored = current_position(repo, &archive).await?;
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
    put_progress(repo, &archive, 0, &archive.start_lsn, None).await?;
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

/// The later of two WAL positions (`a` when either cannot be read).
fn later(a: &str, b: &str) -> String {
    match (pgoutput::parse_lsn(a), pgoutput::parse_lsn(b)) {
        (Some(x), Some(y)) if y > x => b.to_string(),
        _ => a.to_string(),
    }
}

/// Where the archive's stored changes end.
async fn current_position(repo: &Repository, archive: &Archive) -> Result<String> {
    Ok(segment::segments(repo, &archive.id)
        .await?
        .last()
        .map_or_else(|| archive.start_lsn.clone(), |s| s.end_lsn.clone()))
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
        },
    )
    .await
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
        });
    p.updated = Utc::now();
    p.ended = Some(Ended {
        at: Utc::now(),
        reason: reason.to_string(),
    });
    segment::put_progress(repo, &archive.id, &p).await
}

async fn advance(client: &Client, slot: &str, lsn: &str) -> Result<()> {
    client
        .query_one(
            "SELECT pg_replication_slot_advance($1, $2::text::pg_lsn)::text",
            &[&slot, &lsn],
        )
        .await
        .map_err(pg(format!("cannot advance slot {slot} to {lsn}")))?;
    Ok(())
}

async fn drop_slot(client: &Client, slot: &str) -> Result<()> {
    client
        .execute("SELECT pg_drop_replication_slot($1)", &[&slot])
        .await
        .map_err(pg(format!("cannot drop slot {slot}")))?;
    Ok(())
}

/// Why the slot must go, if it holds back more WAL than allowed.
async fn over_lag(client: &Client, slot: &str, max: u64) -> Result<Option<String>> {
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

/// A segment's content as read, before it is recorded.
struct Body {
    end_lsn: String,
    first_commit: DateTime<Utc>,
    last_commit: DateTime<Utc>,
    transactions: u64,
    changes: u64,
    tables: BTreeMap<String, Counts>,
    schema_change: Option<SchemaChange>,
    data: crate::repo::manifest::Stream,
}

struct Read {
    /// `None` when no transaction was read.
    segment: Option<Body>,
    /// The schema change the read stopped at or went through, if any.
    schema_change: Option<SchemaChange>,
    /// Whether the slot had nothing more (the read did not stop at `max_changes` or at a
    /// schema change).
    drained: bool,
}

/// How often an idle archive records how far it is complete (and lets the slot go past WAL
/// no published table needed): a snapshot waiting for the archive to vouch for it waits
/// at most this long on an idle database.
const HEARTBEAT: Duration = Duration::from_secs(2);

/// A transaction held back until its commit, so that one showing a schema change can be
/// left out of the segment whole. One larger than this is stored as it arrives.
const HOLD_MAX: usize = 32 << 20;

/// Peeks at the slot's changes and stores them as a segment's data (not its document).
async fn read_segment(
    client: &Client,
    repo: &Repository,
    slot: &str,
    max_changes: u32,
    shapes: &Shapes,
    mut rules: Option<&mut ChangeRules>,
) -> Result<Read> {
    let limit = i32::try_from(max_changes.max(1)).unwrap_or(i32::MAX);
    let rows = client
        .query_raw(
            "SELECT data FROM pg_logical_slot_peek_binary_changes($1, NULL, $2, \
             VARIADIC ARRAY['proto_version', '1', 'publication_names', $3::text])",
            [
                &slot as &(dyn tokio_postgres::types::ToSql + Sync),
                &limit,
                &slot,
            ],
        )
        .await
        .map_err(pg(format!("cannot read the changes of slot {slot}")))?;
    let (mut tx, rx) = futures::channel::mpsc::channel::<Bytes>(4);
    let anonymized = rules.is_some();
    let produce = async move {
        futures::pin_mut!(rows);
        let mut seen = 0u64;
        let mut names: HashMap<u32, String> = HashMap::new();
        let mut body = Body {
            end_lsn: String::new(),
            first_commit: DateTime::<Utc>::MIN_UTC,
            last_commit: DateTime::<Utc>::MIN_UTC,
            transactions: 0,
            changes: 0,
            tables: BTreeMap::new(),
            schema_change: None,
            data: Default::default(),
        };
        // The open transaction's messages, its counts, and whether it was already sent.
        let mut held: Vec<u8> = Vec::new();
        let mut sent_early = false;
        let mut counts: BTreeMap<String, Counts> = BTreeMap::new();
        let mut current: Option<(u32, i64)> = None;
        let mut stopped_at_change = false;
        let mut unseen = false;
        let mut relations: HashMap<u32, Relation> = HashMap::new();
        let mut checked: HashSet<u32> = HashSet::new();
        while let Some(row) = rows.next().await {
            let row = row.map_err(pg(format!("cannot read the changes of slot {slot}")))?;
            seen += 1;
            let data: &[u8] = row.get(0);
            let message = pgoutput::decode(data).map_err(|e| {
                Error::Postgres(format!(
                    "slot {slot} sent a message doppel cannot read: {e}"
                ))
            })?;
            let mut schema_change = None;
            match &message {
                Message::Begin {
                    xid, commit_time, ..
                } => {
                    current = Some((*xid, *commit_time));
                    // Only what the base did not see is replayed onto it: only that must fit.
                    unseen = !shapes.visibility.sees(*xid);
                    held.clear();
                    counts.clear();
                    sent_early = false;
                }
                Message::Relation(rel) => {
                    names.insert(rel.oid, format!("{}.{}", rel.namespace, rel.name));
                    checked.remove(&rel.oid);
                    relations.insert(rel.oid, rel.clone());
                }
                Message::Insert { relation, .. } => {
                    count(&mut counts, &names, *relation).inserts += 1
                }
                Message::Update { relation, .. } => {
                    count(&mut counts, &names, *relation).updates += 1
                }
                Message::Delete { relation, .. } => {
                    count(&mut counts, &names, *relation).deletes += 1
                }
                Message::Truncate { relations, .. } => {
                    for r in relations {
                        count(&mut counts, &names, *r).truncates += 1;
                    }
                }
                _ => {}
            }
            if unseen {
                for oid in changed_relations(&message) {
                    if !checked.insert(oid) {
                        continue;
                    }
                    if let Some(rel) = relations.get(&oid) {
                        if let Some(what) = shapes.differs(rel) {
                            schema_change = Some((format!("{}.{}", rel.namespace, rel.name), what));
                        }
                    }
                }
            }
            if let Some((table, what)) = schema_change {
                let (xid, time) = current.unwrap_or((0, 0));
                let change = SchemaChange {
                    table,
                    what,
                    xid,
                    commit_time: pgoutput::commit_time_utc(time),
                };
                if !sent_early {
                    // Left out whole: the next base sees it, and the next segment holds it.
                    body.schema_change = Some(change);
                    stopped_at_change = true;
                    break;
                }
                if anonymized {
                    return Err(Error::Anonymization(format!(
                        "{}: {} in a transaction larger than {} MiB, part of which is already \
                         stored: the anonymized archive stops here. Take a snapshot with the \
                         rules (`doppel snapshot --rules …`; `doppel rules check` says what \
                         the new columns need), then run `doppel changes run` again",
                        change.table,
                        change.what,
                        HOLD_MAX >> 20
                    )));
                }
                body.schema_change.get_or_insert(change);
            }
            let message = match rules.as_deref_mut() {
                Some(r) => r.apply(message)?,
                None => Some(message),
            };
            if let Some(m) = &message {
                segment::frame(&pgoutput::encode(m), &mut held);
            }
            if let Some(Message::Commit {
                end_lsn,
                commit_time,
                ..
            }) = &message
            {
                let time = pgoutput::commit_time_utc(*commit_time);
                if body.transactions == 0 {
                    body.first_commit = time;
                }
                body.last_commit = time;
                body.transactions += 1;
                body.end_lsn = pgoutput::lsn_text(*end_lsn);
                let xid = current.map(|(x, _)| x);
                for (t, c) in std::mem::take(&mut counts) {
                    let total = body.tables.entry(t).or_default();
                    total.inserts += c.inserts;
                    total.updates += c.updates;
                    total.deletes += c.deletes;
                    total.truncates += c.truncates;
                    // Newer in xid order: the wrapping difference is positive.
                    total.max_xid = match (total.max_xid, xid) {
                        (Some(m), Some(x)) if (x.wrapping_sub(m) as i32) <= 0 => Some(m),
                        (m, x) => x.or(m),
                    };
                    body.changes += c.inserts + c.updates + c.deletes + c.truncates;
                }
                current = None;
                if tx
                    .send(Bytes::from(std::mem::take(&mut held)))
                    .await
                    .is_err()
                {
                    break;
                }
                if body.schema_change.is_some() {
                    stopped_at_change = true;
                    break;
                }
            } else if held.len() > HOLD_MAX {
                sent_early = true;
                if tx
                    .send(Bytes::from(std::mem::take(&mut held)))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }
        if current.is_some() && !stopped_at_change {
            return Err(Error::Postgres(format!(
                "slot {slot} ended its changes inside a transaction (a Begin without its \
                 Commit)"
            )));
        }
        drop(tx);
        let drained = !stopped_at_change && seen < u64::from(max_changes.max(1));
        Ok::<_, Error>((body, drained))
    };
    let store = write_stream(repo, rx.map(Ok), |_| {});
    let ((mut body, drained), data) = futures::future::try_join(produce, store).await?;
    body.data = data;
    Ok(Read {
        schema_change: body.schema_change.clone(),
        segment: (body.transactions > 0).then_some(body),
        drained,
    })
}

/// The relations a change message touches.
fn changed_relations(message: &Message) -> Vec<u32> {
    match message {
        Message::Insert { relation, .. }
        | Message::Update { relation, .. }
        | Message::Delete { relation, .. } => vec![*relation],
        Message::Truncate { relations, .. } => relations.clone(),
        _ => Vec::new(),
    }
}

fn count<'c>(
    counts: &'c mut BTreeMap<String, Counts>,
    names: &HashMap<u32, String>,
    relation: u32,
) -> &'c mut Counts {
    let name = names
        .get(&relation)
        .cloned()
        .unwrap_or_else(|| format!("relation {relation}"));
    counts.entry(name).or_default()
}
