//! Replay: a restored base brought forward to time T with the archived changes.
//!
//! [`plan`] finds the archive that extends the base and the segments that reach T; [`apply`]
//! applies, in commit order, every transaction the base's snapshot did not see and that
//! committed at or before T. Rows are found by their replica identity (the key columns, or
//! the whole old row for `REPLICA IDENTITY FULL`), and every UPDATE and DELETE must touch
//! exactly one row, or the replay stops: a target that drifted from the archive is reported,
//! never silently patched. Triggers and foreign keys are off while it runs
//! (`session_replication_role = replica`), as for PostgreSQL's own logical replication: the
//! changes are the source's, cascades included.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;
use tokio_postgres::Client;

use self::batch::{Change, Types};
use super::pgoutput::{self, Message, Relation};
use super::segment::{self, Archive, Frames, Segment};
use super::visibility::Visibility;
use crate::catalog::{qualified, quote_literal, TableName};
use crate::error::{pg, Error, Result};
use crate::repo::manifest::SequenceEntry;
use crate::repo::writer::read_stream;
use crate::repo::{Manifest, Repository};

mod batch;

/// The archived changes that bring one base to a time.
#[derive(Debug, Clone)]
pub struct ReplayPlan {
    /// The archive.
    pub archive: Archive,
    /// Its segments that may hold transactions after the base and at or before `until`.
    pub segments: Vec<Segment>,
    /// What the base saw.
    visibility: Visibility,
    /// The base's tables and their columns (generated ones left out), to refuse changes of
    /// another shape.
    columns: HashMap<TableName, Vec<String>>,
    /// The base.
    pub base: String,
    /// Replay transactions committed at or before this time.
    pub until: DateTime<Utc>,
    /// Things the user should know (the archive is complete only up to an earlier time,
    /// tables whose changes are not archived).
    pub warnings: Vec<String>,
}

/// What a replay applied.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct ReplayReport {
    /// The archive replayed from.
    pub archive: String,
    /// Transactions applied.
    pub transactions: u64,
    /// Row changes applied.
    pub changes: u64,
    /// Batches the changes were applied in (each one transaction on the target).
    #[serde(default)]
    pub batches: u64,
    /// Batches whose set-based statements failed (a unique constraint noticed their order)
    /// and that were applied again change by change.
    #[serde(default)]
    pub batches_one_by_one: u64,
    /// Transactions of the segments that the base already had.
    pub already_in_base: u64,
    /// Commit time of the last transaction applied.
    pub last_commit: Option<DateTime<Utc>>,
    /// The point restored: every transaction committed at or before it is in the target.
    pub until: Option<DateTime<Utc>>,
    /// Wall time of the replay in milliseconds.
    pub duration_ms: u64,
}

/// The replay that brings base `m` to `at`, if an archive extends it; `None` when none
/// does (the restore is then the base alone, as of its own time).
pub async fn plan(
    repo: &Repository,
    m: &Manifest,
    at: DateTime<Utc>,
) -> Result<Option<ReplayPlan>> {
    let Some(text) = &m.xid_snapshot else {
        return Ok(None);
    };
    let Some(visibility) = Visibility::parse(text) else {
        return Err(Error::Repository(format!(
            "snapshot {} records an unreadable transaction snapshot `{text}`",
            m.id
        )));
    };
    let Some(archive) = segment::archives(repo)
        .await?
        .into_iter()
        .filter(|a| a.extends(m))
        .max_by_key(|a| a.started)
    else {
        return Ok(None);
    };
    let progress = segment::progress(repo, &archive.id).await?;
    let mut warnings = Vec::new();
    let complete_to = progress.as_ref().and_then(|p| p.caught_up);
    let until = match complete_to {
        Some(c) if c < at => {
            // Never before the base itself: the base is as of its own time.
            let c = c.max(m.time.min(at));
            warnings.push(format!(
                "the change archive is complete only up to {} ({}), before the time asked \
                 ({}): the restore is as of {}",
                c.to_rfc3339(),
                match progress.as_ref().and_then(|p| p.ended.as_ref()) {
                    Some(e) => format!("it ended: {}", e.reason),
                    None => "`doppel changes run` has not stored anything later yet".into(),
                },
                at.to_rfc3339(),
                c.to_rfc3339()
            ));
            c
        }
        Some(_) => at,
        None => {
            warnings.push(format!(
                "the change archive {} has not stored anything yet: the restore is as of the \
                 base ({})",
                archive.id,
                m.time.to_rfc3339()
            ));
            m.time
        }
    };
    if !archive.unarchived.is_empty() && until > m.time {
        warnings.push(format!(
            "the change archive does not hold the changes of {} (no replica identity, or not \
             published when it started; `doppel changes status` lists them): they are as of the \
             base, {}",
            archive.unarchived.join(", "),
            m.time.to_rfc3339()
        ));
    }
    let slack = chrono::Duration::seconds(1);
    let segments = segment::segments(repo, &archive.id)
        .await?
        .into_iter()
        .filter(|s| s.last_commit + slack >= m.time && s.first_commit <= until)
        .collect();
    let columns = super::base_columns(m);
    Ok(Some(ReplayPlan {
        archive,
        segments,
        visibility,
        columns,
        base: m.id.clone(),
        until,
        warnings,
    }))
}

/// Changes applied in one transaction on the target (whole transactions: a batch ends at the
/// first commit past it).
const BATCH_CHANGES: usize = 10_000;

/// Applies `plan` to the restored base in `client`'s database, then sets the sequences to
/// the values recorded with the last segment replayed.
pub async fn apply(repo: &Repository, plan: &ReplayPlan, client: &Client) -> Result<ReplayReport> {
    let started = std::time::Instant::now();
    client
        .batch_execute(
            "SET session_replication_role = replica; SET TimeZone = 'UTC'; \
             SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; \
             SET extra_float_digits = 3; \
             CREATE FUNCTION pg_temp.doppel_check(n bigint, expected bigint, what text) \
             RETURNS void LANGUAGE plpgsql AS $f$ BEGIN IF n <> expected THEN RAISE EXCEPTION \
             'replay: % matched % rows, expected %: the target is not the base the archive \
             extends', what, n, expected; END IF; END $f$;",
        )
        .await
        .map_err(pg(
            "cannot prepare the target for replay (it needs a role that may set \
             session_replication_role: a superuser)",
        ))?;
    let mut report = ReplayReport {
        archive: plan.archive.id.clone(),
        until: Some(plan.until),
        ..ReplayReport::default()
    };
    let mut state = State {
        plan,
        relations: HashMap::new(),
        checked: HashSet::new(),
        pending: Vec::new(),
        types: Types::new(),
        skip: true,
    };
    let mut sequences: Option<&[SequenceEntry]> = None;
    'segments: for seg in &plan.segments {
        let mut frames = Frames::default();
        let pieces = read_stream(repo, &seg.data, 4);
        futures::pin_mut!(pieces);
        let name = format!("{}/{}", seg.archive, seg.seq);
        while let Some(piece) = pieces.next().await {
            let piece =
                piece.map_err(|e| Error::Repository(format!("change segment {name}: {e}")))?;
            for raw in frames.feed(&piece) {
                let message = pgoutput::decode(&raw).map_err(|e| {
                    Error::Repository(format!("change segment {name} is damaged: {e}"))
                })?;
                if let Message::Begin { commit_time, .. } = &message {
                    if pgoutput::commit_time_utc(*commit_time) > plan.until {
                        break 'segments;
                    }
                    sequences = Some(&seg.sequences);
                }
                state.message(message, &mut report, client).await?;
            }
        }
        frames.finish(&name)?;
    }
    state.flush(client, &mut report).await?;
    if let Some(values) = sequences {
        let mut sql = String::new();
        for s in values {
            sql.push_str(&format!(
                "SELECT setval({}, {}, {}) WHERE to_regclass({}) IS NOT NULL;",
                quote_literal(&qualified(&s.schema, &s.name)),
                s.last_value,
                s.is_called,
                quote_literal(&qualified(&s.schema, &s.name)),
            ));
        }
        client
            .batch_execute(&sql)
            .await
            .map_err(pg("cannot set the sequences after replay"))?;
    }
    client
        .batch_execute("RESET session_replication_role")
        .await
        .map_err(pg("cannot end the replay session"))?;
    report.duration_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

struct State<'p> {
    plan: &'p ReplayPlan,
    relations: HashMap<u32, Arc<Relation>>,
    /// Relations whose columns were checked against the base.
    checked: HashSet<u32>,
    /// Changes of the batch being gathered.
    pending: Vec<Change>,
    /// The target's column types of the tables changed so far.
    types: Types,
    /// Whether the open transaction is one the base already has.
    skip: bool,
}

impl State<'_> {
    async fn message(
        &mut self,
        message: Message,
        report: &mut ReplayReport,
        client: &Client,
    ) -> Result<()> {
        match message {
            Message::Begin { xid, .. } => {
                self.skip = self.plan.visibility.sees(xid);
                if self.skip {
                    report.already_in_base += 1;
                }
            }
            Message::Commit { commit_time, .. } => {
                if !self.skip {
                    report.transactions += 1;
                    report.last_commit = Some(pgoutput::commit_time_utc(commit_time));
                    if self.pending.len() >= BATCH_CHANGES {
                        self.flush(client, report).await?;
                    }
                }
            }
            Message::Relation(rel) => {
                self.checked.remove(&rel.oid);
                self.types.remove(&rel.oid);
                self.relations.insert(rel.oid, Arc::new(rel));
            }
            _ if self.skip => {}
            Message::Insert { relation, new } => {
                let rel = self.relation(relation)?;
                self.pending.push(Change::Insert { rel, new });
            }
            Message::Update { relation, old, new } => {
                let rel = self.relation(relation)?;
                self.pending.push(Change::Update { rel, old, new });
            }
            Message::Delete { relation, old } => {
                let rel = self.relation(relation)?;
                self.pending.push(Change::Delete { rel, old });
            }
            Message::Truncate {
                relations,
                cascade,
                restart_identity,
            } => {
                let rels = relations
                    .into_iter()
                    .map(|r| self.relation(r))
                    .collect::<Result<_>>()?;
                self.pending.push(Change::Truncate {
                    rels,
                    cascade,
                    restart_identity,
                });
            }
            Message::Origin { .. } | Message::Type { .. } | Message::Message { .. } => {}
        }
        Ok(())
    }

    /// The relation of a change, checked once against the base's shape of it.
    fn relation(&mut self, oid: u32) -> Result<Arc<Relation>> {
        let rel = self.relations.get(&oid).ok_or_else(|| {
            Error::Repository(format!(
                "change archive {}: a change of relation {oid} comes before its description",
                self.plan.archive.id
            ))
        })?;
        if self.checked.insert(oid) && !self.plan.columns.is_empty() {
            let table = TableName::new(rel.namespace.clone(), rel.name.clone());
            let now: Vec<String> = rel.columns.iter().map(|c| c.name.clone()).collect();
            let base = self.plan.columns.get(&table);
            if base != Some(&now) {
                return Err(Error::Refused(format!(
                    "table {table} changed shape after base snapshot {} (it has columns [{}] in \
                     the archive, [{}] in the base): changes cannot be replayed past a schema \
                     change onto an older base. Restore to a time before the change, or to one \
                     after the next base snapshot (`doppel list` shows them)",
                    self.plan.base,
                    now.join(", "),
                    base.map(|c| c.join(", "))
                        .unwrap_or_else(|| "no such table".into())
                )));
            }
        }
        Ok(rel.clone())
    }

    /// Applies the gathered changes: set-based, or one by one when that fails (see
    /// [`batch`]).
    async fn flush(&mut self, client: &Client, report: &mut ReplayReport) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.load_types(client).await?;
        let fast = batch::set_based(&self.pending, &self.types)?;
        if let Err(e) = run(client, &fast).await {
            tracing::debug!(error = %e, "a set-based replay batch failed: applying it change by change");
            report.batches_one_by_one += 1;
            let exact = batch::exact_all(&self.pending)?;
            run(client, &exact)
                .await
                .map_err(|source| Error::Database {
                    context: format!(
                        "replaying change archive {} onto base {} failed",
                        self.plan.archive.id, self.plan.base
                    ),
                    source,
                })?;
        }
        report.changes += self.pending.len() as u64;
        report.batches += 1;
        self.pending.clear();
        Ok(())
    }

    /// Reads the target's column types of the tables in the batch not yet known.
    async fn load_types(&mut self, client: &Client) -> Result<()> {
        for change in &self.pending {
            let rel = match change {
                Change::Update { rel, .. } | Change::Delete { rel, .. } => rel,
                Change::Insert { .. } | Change::Truncate { .. } => continue,
            };
            if self.types.contains_key(&rel.oid) {
                continue;
            }
            let rows = client
                .query(
                    "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute \
                     WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped",
                    &[&qualified(&rel.namespace, &rel.name)],
                )
                .await
                .map_err(pg("cannot read the column types of the replay's target"))?;
            let found: HashMap<String, String> =
                rows.iter().map(|r| (r.get(0), r.get(1))).collect();
            let types = rel
                .columns
                .iter()
                .map(|c| found.get(&c.name).cloned().unwrap_or_default())
                .collect();
            self.types.insert(rel.oid, types);
        }
        Ok(())
    }
}

/// Runs statements as one transaction; a failure rolls it back.
async fn run(
    client: &Client,
    statements: &[String],
) -> std::result::Result<(), tokio_postgres::Error> {
    let mut sql = String::from("BEGIN;");
    for s in statements {
        sql.push_str(s);
        sql.push(';');
    }
    sql.push_str("COMMIT;");
    let result = client.batch_execute(&sql).await;
    if result.is_err() {
        // The failed block leaves the session in an aborted transaction.
        let _ = client.batch_execute("ROLLBACK").await;
    }
    result
}
