//! Loading data into the target: tables by N workers (largest first), large objects,
//! sequence values and the materialized views that were populated.

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::{SinkExt, StreamExt};
use tokio_postgres::Client;

use super::schema::SchemaArchive;
use crate::catalog::copy_statement;
use crate::catalog::{qualified, quote_ident, quote_literal};
use crate::error::{describe_pg, pg, Error, Result};
use crate::pg::{connect, ConnInfo};
use crate::repo::digest::TableDigest;
use crate::repo::manifest::{LargeObjectEntry, Stream, TableEntry};
use crate::repo::writer::read_stream;
use crate::repo::{Manifest, Repository};

/// Chunks fetched ahead of the one being loaded, per worker.
const READ_AHEAD: usize = 4;

/// Loads every table with `jobs` connections, checking row counts and digests as it goes.
pub async fn tables(
    repo: Arc<Repository>,
    target: &ConnInfo,
    m: &Manifest,
    jobs: usize,
    progress: Arc<AtomicU64>,
    schema: Option<Arc<SchemaArchive>>,
) -> Result<()> {
    let into_existing = schema.is_none();
    if into_existing && !m.tables.is_empty() {
        // Tables that reference each other can only be emptied together.
        let names: Vec<String> = m
            .tables
            .iter()
            .map(|t| qualified(&t.schema, &t.name))
            .collect();
        connect(target)
            .await?
            .batch_execute(&format!("TRUNCATE ONLY {}", names.join(", ")))
            .await
            .map_err(pg("cannot empty the tables to reload"))?;
    }
    // Largest first; a table snapshotted in parts is loaded in those parts side by side, so
    // that one large table keeps every worker busy.
    let mut order: Vec<TableEntry> = m.tables.clone();
    order.sort_by_key(|t| std::cmp::Reverse(t.data.bytes));
    let mut pending = VecDeque::new();
    let mut state = Vec::with_capacity(order.len());
    for (i, t) in order.iter().enumerate() {
        let counts: Vec<usize> =
            if t.parts.len() > 1 && t.parts.iter().sum::<u64>() == t.data.chunks.len() as u64 {
                t.parts.iter().map(|&c| c as usize).collect()
            } else {
                vec![t.data.chunks.len()]
            };
        let mut start = 0;
        for &count in &counts {
            pending.push_back(Part {
                table: i,
                chunks: start..start + count,
                whole: counts.len() == 1,
            });
            start += count;
        }
        state.push(Mutex::new(Loaded {
            remaining: counts.len(),
            rows: 0,
            digest: TableDigest::new(),
        }));
    }
    let n = pending.len();
    let order = Arc::new(order);
    let state = Arc::new(state);
    let queue = Arc::new(Mutex::new(pending));
    let mut handles = Vec::new();
    for _ in 0..jobs.clamp(1, n.max(1)) {
        let schema = schema.clone();
        let (repo, queue, target, progress, order, state) = (
            repo.clone(),
            queue.clone(),
            target.clone(),
            progress.clone(),
            order.clone(),
            state.clone(),
        );
        handles.push(tokio::spawn(async move {
            let client = connect(&target).await?;
            client
                .batch_execute("SET synchronous_commit = off")
                .await
                .map_err(pg("cannot set up a load session"))?;
            if schema.is_none() {
                // Into an existing schema: its foreign keys and triggers would fire row by
                // row, in whatever order the tables load. Replica mode holds them off, as
                // pg_restore --disable-triggers does; it needs a superuser.
                client
                    .batch_execute("SET session_replication_role = replica")
                    .await
                    .map_err(pg(
                        "a data-only restore holds off triggers and foreign keys during the \
                         load, which needs a superuser",
                    ))?;
            }
            loop {
                let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                let Some(part) = next else { break };
                let table = &order[part.table];
                let (rows, digest) = load_part(
                    &repo,
                    &client,
                    table,
                    part.chunks.clone(),
                    part.whole && !into_existing,
                    &progress,
                )
                .await?;
                let done = {
                    let mut s = state[part.table].lock().unwrap_or_else(|p| p.into_inner());
                    s.rows += rows;
                    s.digest.merge(&digest);
                    s.remaining -= 1;
                    (s.remaining == 0).then(|| (s.rows, std::mem::take(&mut s.digest)))
                };
                if let Some((rows, digest)) = done {
                    check_table(table, rows, &digest, "loaded")?;
                    if let Some(schema) = &schema {
                        schema.after_load(table, jobs).await?;
                    }
                }
            }
            Ok::<(), Error>(())
        }));
    }
    let mut first_err = None;
    for h in handles {
        let r = h
            .await
            .unwrap_or_else(|e| Err(Error::Postgres(format!("a load worker failed: {e}"))));
        if let Err(e) = r {
            first_err.get_or_insert(e);
        }
    }
    first_err.map_or(Ok(()), Err)
}

/// One unit of loading: a whole table, or one part of a table snapshotted in parts.
struct Part {
    table: usize,
    /// The part's chunks in the table's stream.
    chunks: std::ops::Range<usize>,
    /// The whole table in one transaction (it may then be frozen as it loads).
    whole: bool,
}

/// A table's parts loaded so far.
struct Loaded {
    remaining: usize,
    rows: u64,
    digest: TableDigest,
}

/// Loads chunks `chunks` of a table's stream in one transaction; returns the rows the server
/// took and the digest of what was sent. `fresh`: the whole table, created by this restore,
/// is loaded in this one transaction, so it is truncated in it, which lets COPY FREEZE write
/// rows already frozen (the copy never needs an anti-wraparound vacuum rewriting every
/// page). Parts of a table load side by side in separate transactions, without FREEZE, and
/// tables reloaded into an existing schema were emptied beforehand.
async fn load_part(
    repo: &Repository,
    client: &Client,
    t: &TableEntry,
    chunks: std::ops::Range<usize>,
    fresh: bool,
    progress: &AtomicU64,
) -> Result<(u64, TableDigest)> {
    let label = format!("{}.{}", t.schema, t.name);
    let (begin, options) = if fresh {
        (
            format!("BEGIN; TRUNCATE ONLY {}", qualified(&t.schema, &t.name)),
            "FROM STDIN (FREEZE)",
        )
    } else {
        ("BEGIN".to_string(), "FROM STDIN")
    };
    client
        .batch_execute(&begin)
        .await
        .map_err(pg(format!("cannot prepare table {label}")))?;
    let stmt = copy_statement(&t.schema, &t.name, &t.columns, options);
    let sink = client
        .copy_in::<_, bytes::Bytes>(stmt.as_str())
        .await
        .map_err(pg(format!("cannot load table {label}")))?;
    futures::pin_mut!(sink);
    let mut digest = TableDigest::new();
    let part = Stream {
        bytes: t.data.chunks[chunks.clone()]
            .iter()
            .map(|c| u64::from(c.len))
            .sum(),
        chunks: t.data.chunks[chunks].to_vec(),
    };
    let pieces = read_stream(repo, &part, READ_AHEAD);
    futures::pin_mut!(pieces);
    while let Some(piece) = pieces.next().await {
        let piece = piece.map_err(|e| Error::Repository(format!("table {label}: {e}")))?;
        digest.update(&piece);
        progress.fetch_add(piece.len() as u64, Ordering::Relaxed);
        sink.send(piece)
            .await
            .map_err(pg(format!("loading table {label} failed")))?;
    }
    let rows = sink
        .finish()
        .await
        .map_err(pg(format!("loading table {label} failed")))?;
    client
        .batch_execute("COMMIT")
        .await
        .map_err(pg(format!("cannot commit table {label}")))?;
    if digest.has_partial_row() {
        return Err(Error::Repository(format!(
            "table {label}: a part of its stream ends inside a row"
        )));
    }
    Ok((rows, digest))
}

/// Compares what was loaded or re-read with the manifest.
pub fn check_table(
    t: &TableEntry,
    server_rows: u64,
    digest: &TableDigest,
    what: &str,
) -> Result<()> {
    let label = format!("{}.{}", t.schema, t.name);
    if server_rows != t.rows || digest.rows() != t.rows {
        return Err(Error::Verification(format!(
            "table {label}: {what} {server_rows} rows, the snapshot has {}",
            t.rows
        )));
    }
    if digest.hex() != t.digest {
        return Err(Error::Verification(format!(
            "table {label}: content digest of the {what} rows differs from the snapshot's"
        )));
    }
    Ok(())
}

/// Recreates the large objects with their OIDs; owners that exist on the target are kept.
pub async fn large_objects(
    repo: &Repository,
    client: &Client,
    objects: &[LargeObjectEntry],
    missing_roles: &BTreeSet<String>,
) -> Result<()> {
    for lo in objects {
        let oid = lo.oid;
        client
            .query_one("SELECT lo_create($1)", &[&oid])
            .await
            .map_err(pg(format!("cannot create large object {oid}")))?;
        let mut offset = 0i64;
        let mut hasher = blake3::Hasher::new();
        let pieces = read_stream(repo, &lo.data, READ_AHEAD);
        futures::pin_mut!(pieces);
        while let Some(piece) = pieces.next().await {
            let piece = piece.map_err(|e| Error::Repository(format!("large object {oid}: {e}")))?;
            hasher.update(&piece);
            client
                .execute(
                    "SELECT lo_put($1, $2, $3)",
                    &[&oid, &offset, &piece.as_ref()],
                )
                .await
                .map_err(pg(format!("cannot write large object {oid}")))?;
            offset += piece.len() as i64;
        }
        if hasher.finalize().to_hex().as_str() != lo.digest {
            return Err(Error::Verification(format!(
                "large object {oid}: content differs from the snapshot's"
            )));
        }
        let mut sql = Vec::new();
        if !missing_roles.contains(&lo.owner) {
            sql.push(format!(
                "ALTER LARGE OBJECT {oid} OWNER TO {}",
                quote_ident(&lo.owner)
            ));
        }
        if let Some(c) = &lo.comment {
            sql.push(format!(
                "COMMENT ON LARGE OBJECT {oid} IS {}",
                quote_literal(c)
            ));
        }
        for g in lo
            .grants
            .iter()
            .filter(|g| !missing_roles.contains(&g.grantee))
        {
            let grantee = if g.grantee == "PUBLIC" {
                "PUBLIC".to_string()
            } else {
                quote_ident(&g.grantee)
            };
            let option = if g.grantable {
                " WITH GRANT OPTION"
            } else {
                ""
            };
            sql.push(format!(
                "GRANT {} ON LARGE OBJECT {oid} TO {grantee}{option}",
                g.privilege
            ));
        }
        if !sql.is_empty() {
            client
                .batch_execute(&sql.join("; "))
                .await
                .map_err(pg(format!(
                    "cannot set the owner, comment or grants of large object {oid}"
                )))?;
        }
    }
    Ok(())
}

/// Sets every sequence to its snapshot value.
pub async fn sequences(client: &Client, m: &Manifest) -> Result<()> {
    for s in &m.sequences {
        let name = qualified(&s.schema, &s.name);
        client
            .execute(
                "SELECT pg_catalog.setval($1::text::regclass, $2, $3)",
                &[&name, &s.last_value, &s.is_called],
            )
            .await
            .map_err(pg(format!("cannot set sequence {}.{}", s.schema, s.name)))?;
    }
    if m.kind.kind != crate::repo::DataKind::Raw {
        // Anonymized keys (a permutation) can lie past the value their sequence recorded:
        // move each owned, ascending sequence past the largest value its column now holds,
        // so that the copy's next insert does not collide.
        client
            .batch_execute(SEQUENCES_PAST_KEYS)
            .await
            .map_err(pg("cannot move sequences past the anonymized keys"))?;
    }
    Ok(())
}

/// For every ascending sequence owned by a column (serial or identity): `setval` to the
/// column's largest value when that is at or past the sequence's last value.
pub(crate) const SEQUENCES_PAST_KEYS: &str = "DO $doppel$
DECLARE
    r record;
    top bigint;
BEGIN
    FOR r IN
        SELECT s.seqrelid::regclass AS seq, d.refobjid::regclass AS tbl, a.attname
        FROM pg_catalog.pg_sequence s
        JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::regclass
            AND d.objid = s.seqrelid AND d.refclassid = 'pg_catalog.pg_class'::regclass
            AND d.deptype IN ('a', 'i')
        JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
        WHERE s.seqincrement > 0
    LOOP
        EXECUTE format('SELECT max(%I)::bigint FROM %s', r.attname, r.tbl) INTO top;
        IF top IS NOT NULL AND top >= coalesce(pg_catalog.pg_sequence_last_value(r.seq), top) THEN
            PERFORM pg_catalog.setval(r.seq, top, true);
        END IF;
    END LOOP;
END
$doppel$";

/// Refreshes the materialized views that were populated, and only those. A view built on
/// another one fails until that one is refreshed, so failures are retried round by round.
pub async fn matviews(client: &Client, m: &Manifest) -> Result<()> {
    let mut pending: Vec<String> = m
        .matviews
        .iter()
        .filter(|v| v.populated)
        .map(|v| qualified(&v.schema, &v.name))
        .collect();
    while !pending.is_empty() {
        let mut failed = Vec::new();
        for name in &pending {
            if let Err(e) = client
                .batch_execute(&format!("REFRESH MATERIALIZED VIEW {name}"))
                .await
            {
                failed.push((name.clone(), describe_pg(&e)));
            }
        }
        if failed.len() == pending.len() {
            let (name, err) = &failed[0];
            return Err(Error::Postgres(format!(
                "cannot refresh materialized view {name}: {err}"
            )));
        }
        pending = failed.into_iter().map(|(n, _)| n).collect();
    }
    Ok(())
}

/// Runs a `COPY … TO STDOUT` and digests the rows it returns (`label` names the table).
pub async fn read_digest(client: &Client, stmt: &str, label: &str) -> Result<TableDigest> {
    let stream = client
        .copy_out(stmt)
        .await
        .map_err(pg(format!("cannot re-read table {label}")))?;
    futures::pin_mut!(stream);
    let mut digest = TableDigest::new();
    while let Some(piece) = stream.next().await {
        digest.update(&piece.map_err(pg(format!("re-reading table {label} failed")))?);
    }
    Ok(digest)
}

/// Re-reads every table and large object from the target and checks them against the
/// manifest: what a drill or a cautious user trusts, independent of the load path.
pub async fn verify_full(target: &ConnInfo, m: &Manifest) -> Result<()> {
    let client = connect(target).await?;
    for t in &m.tables {
        let stmt = copy_statement(&t.schema, &t.name, &t.columns, "TO STDOUT");
        let digest = read_digest(&client, &stmt, &format!("{}.{}", t.schema, t.name)).await?;
        check_table(t, digest.rows(), &digest, "re-read")?;
    }
    for lo in &m.large_objects {
        let data: Vec<u8> = client
            .query_one("SELECT lo_get($1)", &[&lo.oid])
            .await
            .map_err(pg(format!("cannot re-read large object {}", lo.oid)))?
            .get(0);
        if blake3::hash(&data).to_hex().as_str() != lo.digest {
            return Err(Error::Verification(format!(
                "large object {}: re-read content differs from the snapshot's",
                lo.oid
            )));
        }
    }
    Ok(())
}
