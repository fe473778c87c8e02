//! Reading one segment: peek at the slot's changes, check that each transaction the base did
//! not see fits the base's tables, apply the rules, and store the messages as the segment's
//! data (its document is written by the caller).

use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{SinkExt, StreamExt};
use tokio_postgres::Client;

use crate::catalog::TableName;
use crate::changes::pgoutput::{self, Message, Relation};
use crate::changes::rewrite::ChangeRules;
use crate::changes::segment::{self, Counts, SchemaChange};
use crate::changes::visibility::Visibility;
use crate::error::{pg, Error, Result};
use crate::repo::writer::write_stream;
use crate::repo::{Manifest, Repository};

/// The current base as changes must fit it: what its snapshot saw, and its tables' columns
/// (generated ones left out, as pgoutput leaves them out), as replay will compare them.
pub(super) struct Shapes {
    visibility: Visibility,
    columns: HashMap<TableName, Vec<String>>,
}

impl Shapes {
    pub(super) fn of(base: &Manifest) -> Result<Shapes> {
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
        let columns = crate::changes::base_columns(base);
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

/// A segment's content as read, before it is recorded.
pub(super) struct Body {
    pub(super) end_lsn: String,
    pub(super) first_commit: DateTime<Utc>,
    pub(super) last_commit: DateTime<Utc>,
    pub(super) transactions: u64,
    pub(super) changes: u64,
    pub(super) tables: BTreeMap<String, Counts>,
    pub(super) schema_change: Option<SchemaChange>,
    pub(super) data: crate::repo::manifest::Stream,
}

/// What one read found.
pub(super) struct Read {
    /// `None` when no transaction was read.
    pub(super) segment: Option<Body>,
    /// The schema change the read stopped at or went through, if any.
    pub(super) schema_change: Option<SchemaChange>,
    /// Whether the slot had nothing more (the read did not stop at `max_changes` or at a
    /// schema change).
    pub(super) drained: bool,
}

/// A transaction held back until its commit, so that one showing a schema change can be
/// left out of the segment whole. One larger than this is stored as it arrives.
const HOLD_MAX: usize = 32 << 20;

/// Peeks at the slot's changes and stores them as a segment's data (not its document).
pub(super) async fn read_segment(
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
