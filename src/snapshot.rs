//! The snapshot pipeline: one exported snapshot shared by N workers and `pg_dump`, every
//! table's COPY text streamed through the chunker into the repository, the manifest last.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio_postgres::Client;

use crate::anonymize::Key;
use crate::catalog::{
    copy_statement, copy_where, qualified, quote_ident, read_catalog, TableInfo, TableName,
};
use crate::error::{describe_pg, pg, Error, Result};
use crate::pg::catalog;
use crate::pg::{connect, ConnInfo};
use crate::repo::digest::TableDigest;
use crate::repo::lock::{Lock, LockKind};
use crate::repo::manifest::{
    self, DataKind, Kind, LargeObjectEntry, Manifest, MatviewEntry, SequenceEntry, Source,
    TableEntry,
};
use crate::repo::writer::write_stream;
use crate::repo::{new_snapshot_id, Repository, MANIFEST_FORMAT};

mod parts;

use crate::rules::compile::SeenKeys;
use crate::rules::{CompiledRules, Rewriter, RuleSet, TableAction};
use parts::PageRange;

/// What to snapshot and how.
#[derive(Debug, Clone)]
pub struct SnapshotOptions {
    /// Environment name recorded in the manifest.
    pub environment: String,
    /// The source database.
    pub conn: ConnInfo,
    /// Parallel COPY workers.
    pub jobs: usize,
    /// Tags recorded in the manifest.
    pub tags: Vec<String>,
    /// Folder of `pg_dump`, when not found by default.
    pub pg_bin: Option<PathBuf>,
    /// Bytes read so far, for a progress display.
    pub progress: Arc<AtomicU64>,
    /// Time to record instead of the server's clock (the scheduler's simulated clock).
    pub recorded_time: Option<DateTime<Utc>>,
    /// Rules and key for an anonymized snapshot; `None` for a raw one.
    pub anonymize: Option<Anonymize>,
    /// A table larger than two of these is read in parts by several workers at once.
    pub part_bytes: u64,
    /// Keep only a referentially complete subset of the rows.
    pub subset: Option<Arc<crate::source_subset::SubsetSpec>>,
    /// The stored snapshot this one is made from (`derive --subset` reads a scratch copy of
    /// it): its time, LSN and source are recorded instead of the scratch server's, and its
    /// id as `derived_from`.
    pub origin: Option<Arc<Manifest>>,
    /// Where to learn which tables are unchanged since an earlier snapshot (a running change
    /// archive): those are not read again, their entries are reused as they are.
    pub unchanged: Option<Arc<dyn Unchanged>>,
}

/// The tables a snapshot need not read again: those of `previous` that no transaction
/// committed between `previous` and the new snapshot touched.
#[derive(Debug, Clone)]
pub struct Reuse {
    /// The earlier snapshot (same series, kind, rules and key).
    pub previous: Arc<Manifest>,
    /// Tables (`schema.name`) whose entries may be reused.
    pub unchanged: std::collections::HashSet<String>,
}

/// Says which tables are unchanged since an earlier snapshot. Known exactly from a change
/// archive; a snapshot asks once its own snapshot is exported.
#[async_trait::async_trait]
pub trait Unchanged: Send + Sync + std::fmt::Debug {
    /// The reusable tables for a snapshot whose exported snapshot sees every transaction
    /// whose commit is before WAL position `insert_lsn`; `None`: read everything.
    async fn since(&self, repo: &Repository, insert_lsn: &str) -> Result<Option<Reuse>>;
}

/// How to anonymize a snapshot.
#[derive(Debug, Clone)]
pub struct Anonymize {
    /// The rules, checked strictly against the source's catalog before any row is read.
    pub rules: Arc<RuleSet>,
    /// The key; only its fingerprint is recorded.
    pub key: Arc<Key>,
}

impl Anonymize {
    /// The manifest's kind for snapshots anonymized this way.
    pub fn kind(&self, derived_from: Option<String>) -> Kind {
        Kind {
            kind: DataKind::Anonymized,
            rules_digest: Some(self.rules.digest()),
            key_fingerprint: Some(self.key.fingerprint()),
            derived_from,
            subset: None,
        }
    }
}

/// Takes a snapshot and writes its manifest; returns the manifest.
pub async fn take(repo: Arc<Repository>, opts: &SnapshotOptions) -> Result<Manifest> {
    let started = Instant::now();
    // Shared: snapshots run side by side, but never while prune deletes chunks they may reuse.
    let (lock, _) = Lock::acquire(repo.store(), LockKind::Shared).await?;
    let coord = connect(&opts.conn).await?;
    coord
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .await
        .map_err(pg("cannot start the snapshot transaction"))?;
    let row = coord
        .query_one(
            "SELECT pg_export_snapshot(), now(), \
             CASE WHEN NOT pg_is_in_recovery() THEN pg_current_snapshot()::text END",
            &[],
        )
        .await
        .map_err(pg("cannot export a snapshot"))?;
    let snapshot_name: String = row.get(0);
    let xid_snapshot: Option<String> = row.get(2);
    let time: DateTime<Utc> = match &opts.origin {
        Some(origin) => origin.time,
        None => opts.recorded_time.unwrap_or_else(|| row.get(1)),
    };
    let lsn = catalog::optional_text(
        &coord,
        "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text",
    )
    .await?;
    let server = catalog::server_info(&coord).await?;
    // Refuse before reading any data: a pg_dump older than the server fails late or misses objects.
    let pg_dump = crate::pg::tools::find(
        "pg_dump",
        opts.pg_bin.as_deref(),
        server.major,
        server.major,
    )?;
    // One read of the catalog serves the plan of reads, the rules and the manifest.
    let source_catalog = read_catalog(&coord).await?;
    let tables = source_catalog.tables_with_rows();
    lock_tables(&coord, &tables).await?;
    let mut sequences = catalog::sequences(&coord).await?;
    let matviews = catalog::matviews(&coord).await?;
    let large_objects = catalog::large_objects(&coord).await?;
    // Anonymized: the rules are checked strictly and built before any row is read.
    let (tables, mut skipped) = match &opts.anonymize {
        None => (
            tables.into_iter().map(|t| (t, TableAction::Copy)).collect(),
            Vec::new(),
        ),
        Some(anon) => {
            let compiled = CompiledRules::prepare(&anon.rules, &source_catalog)?;
            plan_tables(&compiled, tables)?
        }
    };
    let tables = match &opts.subset {
        None => tables,
        Some(spec) => {
            let (tables, left_out) = apply_subset(&coord, &source_catalog, spec, tables).await?;
            skipped.extend(left_out);
            tables
        }
    };
    // A table left out takes its sequences along: a lingering one would tell how many rows
    // the table had.
    let mut left_out = Vec::new();
    for t in &skipped {
        for (schema, name) in catalog::owned_sequences(&coord, &t.schema, &t.name).await? {
            sequences.retain(|s| !(s.schema == schema && s.name == name));
            left_out.push(TableName::new(schema, name));
        }
    }
    // Tables no transaction touched since an earlier snapshot keep its entries (same rows,
    // same chunks, same digest) and are not read again.
    let mut reused: Vec<TableEntry> = Vec::new();
    let tables = match (&opts.unchanged, &opts.subset) {
        (Some(source), None) => {
            let insert_lsn: String = coord
                .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
                .await
                .map_err(pg("cannot read the WAL position"))?
                .get(0);
            match source.since(&repo, &insert_lsn).await? {
                Some(reuse) => {
                    let (read, kept) = split_reused(tables, &reuse);
                    reused = kept;
                    read
                }
                None => tables,
            }
        }
        _ => tables,
    };
    tracing::info!(tables = tables.len(), reused = reused.len(), snapshot = %snapshot_name, "snapshot transaction open");

    let schema = {
        let mut cmd = pg_dump.command(&opts.conn);
        cmd.args([
            "--format=custom",
            "--compress=0",
            "--schema-only",
            "--no-sync",
        ])
        .arg(format!("--snapshot={snapshot_name}"))
        .arg(format!("--dbname={}", opts.conn.libpq_conninfo()));
        // Inside double quotes pg_dump takes a pattern's characters literally.
        for t in skipped.iter().chain(&left_out) {
            cmd.arg(format!(
                "--exclude-table={}.{}",
                quote_ident(&t.schema),
                quote_ident(&t.name)
            ));
        }
        let repo = repo.clone();
        let progress = opts.progress.clone();
        let pg_dump_version = pg_dump.version.clone();
        async move {
            let out = crate::pg::tools::run(cmd, "pg_dump --schema-only").await?;
            progress.fetch_add(out.len() as u64, Ordering::Relaxed);
            let tools = crate::pg::archive::header_version(&out).map(|(major, minor)| {
                crate::pg::archive::SchemaTools {
                    pg_dump: pg_dump_version,
                    archive: format!("{major}.{minor}"),
                }
            });
            let stream =
                write_stream(&repo, futures::stream::iter([Ok(Bytes::from(out))]), |_| {}).await?;
            Ok::<_, Error>((stream, tools))
        }
    };
    let key = opts.anonymize.as_ref().map(|a| a.key.clone());
    let block_size: u64 = coord
        .query_one("SELECT current_setting('block_size')::bigint", &[])
        .await
        .map_err(pg("cannot read the block size"))?
        .get::<_, i64>(0) as u64;
    let data = copy_tables(repo.clone(), opts, &snapshot_name, tables, key, block_size);
    let ((schema, schema_tools), mut tables) = futures::future::try_join(schema, data).await?;
    // What was reused was not read: the figures say what this snapshot cost.
    let reused_bytes: u64 = reused.iter().map(|t| t.data.bytes).sum();
    if !reused.is_empty() {
        tables.extend(reused);
        // Largest first, as a full read orders them.
        tables.sort_by_key(|t| std::cmp::Reverse(t.data.bytes));
    }
    // Rules cannot say what is inside a large object: an anonymized snapshot keeps each
    // one's identity, owner and grants, and leaves its contents out.
    let lo_contents = opts.anonymize.is_none();
    if !lo_contents && !large_objects.is_empty() {
        tracing::warn!(
            count = large_objects.len(),
            "anonymized snapshot: large objects are restored empty (their contents are not covered by rules)"
        );
    }
    let large_objects =
        copy_large_objects(&repo, &coord, large_objects, lo_contents, &opts.progress).await?;
    coord
        .batch_execute("COMMIT")
        .await
        .map_err(pg("cannot end the snapshot transaction"))?;

    let bytes_read = schema.bytes + tables.iter().map(|t| t.data.bytes).sum::<u64>() - reused_bytes
        + large_objects.iter().map(|l| l.data.bytes).sum::<u64>();
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        id: new_snapshot_id(time),
        time,
        lsn: match &opts.origin {
            Some(origin) => origin.lsn.clone(),
            None => lsn,
        },
        xid_snapshot: match &opts.origin {
            Some(origin) => origin.xid_snapshot.clone(),
            None => xid_snapshot,
        },
        tags: opts.tags.clone(),
        source: match &opts.origin {
            Some(origin) => origin.source.clone(),
            None => Source {
                environment: opts.environment.clone(),
                database: server.database,
                system_identifier: server.system_identifier,
                server_version: server.server_version,
                server_major: server.major,
                encoding: server.encoding,
                collate: server.collate,
                ctype: server.ctype,
            },
        },
        kind: Kind {
            // Recorded, it puts the snapshot in a series of its own: a slice is never taken
            // for the whole database.
            subset: opts.subset.as_ref().map(|s| s.record()),
            ..match &opts.anonymize {
                None => Kind::raw(),
                Some(anon) => anon.kind(opts.origin.as_ref().map(|o| o.id.clone())),
            }
        },
        schema,
        schema_tools,
        tables,
        sequences: sequences
            .into_iter()
            .map(|s| SequenceEntry {
                schema: s.schema,
                name: s.name,
                last_value: s.last_value,
                is_called: s.is_called,
            })
            .collect(),
        matviews: matviews
            .into_iter()
            .map(|m| MatviewEntry {
                schema: m.schema,
                name: m.name,
                populated: m.populated,
            })
            .collect(),
        large_objects,
        stats: repo.finish_stats(started, bytes_read).await?,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        catalog: Some(source_catalog),
    };
    repo.put_manifest(&manifest).await?;
    lock.release().await?;
    Ok(manifest)
}

/// Narrows every table's rows to the subset: kept tables get a `ctid` condition (or no rows
/// at all), the others keep theirs; also returns the tables `unreached = "none"` leaves out.
async fn apply_subset(
    coord: &Client,
    catalog: &crate::catalog::Catalog,
    spec: &crate::source_subset::SubsetSpec,
    tables: PlannedTables,
) -> Result<(PlannedTables, Vec<TableName>)> {
    spec.check(catalog)?;
    let kept = crate::source_subset::compute(coord, catalog, spec).await?;
    let left_out = crate::source_subset::left_out(catalog, spec, &kept);
    let tables = tables
        .into_iter()
        .filter(|(info, _)| !left_out.contains(&TableName::new(&info.schema, &info.name)))
        .map(|(mut info, action)| {
            let name = TableName::new(&info.schema, &info.name);
            match (kept.get(&name), action) {
                (Some(ctids), TableAction::Copy | TableAction::Transform(_))
                    if ctids.is_empty() =>
                {
                    (info, TableAction::SchemaOnly)
                }
                (Some(ctids), action @ (TableAction::Copy | TableAction::Transform(_))) => {
                    info.filter = Some(
                        format!(
                            "ctid = ANY({}::tid[])",
                            crate::source_subset::tid_array(ctids.iter())
                        )
                        .into(),
                    );
                    (info, action)
                }
                (_, action) => (info, action),
            }
        })
        .collect();
    Ok((tables, left_out.into_iter().collect()))
}

/// Tables to copy, each with what the rules do to it.
type PlannedTables = Vec<(TableInfo, TableAction)>;

/// The tables to read, and the entries of `reuse.previous` kept for the others: a table is
/// kept when it is unchanged, read the same way (its rows are copied or rewritten, not left
/// out) and has the same columns.
fn split_reused(tables: PlannedTables, reuse: &Reuse) -> (PlannedTables, Vec<TableEntry>) {
    let mut read = Vec::with_capacity(tables.len());
    let mut kept = Vec::new();
    for (info, action) in tables {
        let key = format!("{}.{}", info.schema, info.name);
        let previous =
            reuse.previous.tables.iter().find(|e| {
                e.schema == info.schema && e.name == info.name && e.columns == info.columns
            });
        match previous {
            Some(e)
                if reuse.unchanged.contains(&key)
                    && matches!(action, TableAction::Copy | TableAction::Transform(_)) =>
            {
                kept.push(TableEntry {
                    // The new schema archive's object ids.
                    index_oids: info.index_oids.clone(),
                    ..e.clone()
                });
            }
            _ => read.push((info, action)),
        }
    }
    (read, kept)
}

/// Each table with what the rules do to it; the tables they leave out come back apart.
fn plan_tables(
    compiled: &CompiledRules,
    tables: Vec<TableInfo>,
) -> Result<(PlannedTables, Vec<TableName>)> {
    let mut kept = Vec::with_capacity(tables.len());
    let mut skipped = Vec::new();
    for t in tables {
        let name = TableName::new(t.schema.as_str(), t.name.as_str());
        match compiled.bind(&name, &t.columns)? {
            TableAction::Skip => skipped.push(name),
            action => kept.push((t, action)),
        }
    }
    Ok((kept, skipped))
}

/// Takes the same ACCESS SHARE locks pg_dump takes, in the snapshot transaction, so that no
/// table is dropped or altered under the workers.
async fn lock_tables(coord: &Client, tables: &[TableInfo]) -> Result<()> {
    for batch in tables.chunks(500) {
        let names: Vec<String> = batch
            .iter()
            .map(|t| qualified(&t.schema, &t.name))
            .collect();
        coord
            .batch_execute(&format!(
                "LOCK TABLE {} IN ACCESS SHARE MODE",
                names.join(", ")
            ))
            .await
            .map_err(pg(
                "cannot lock the tables to snapshot (the role needs SELECT on every table)",
            ))?;
    }
    Ok(())
}

/// Aborts spawned workers when the snapshot is abandoned (an error elsewhere, or a signal).
struct AbortOnDrop(Vec<tokio::task::JoinHandle<Result<()>>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for h in &self.0 {
            h.abort();
        }
    }
}

/// One unit of work: a table, or one part of a large one.
struct Job {
    table: usize,
    part: usize,
    range: Option<PageRange>,
}

/// What a part left: its stream and the digest of its rows.
type PartResult = (manifest::Stream, TableDigest);

async fn copy_tables(
    repo: Arc<Repository>,
    opts: &SnapshotOptions,
    snapshot_name: &str,
    tables: Vec<(TableInfo, TableAction)>,
    key: Option<Arc<Key>>,
    block_size: u64,
) -> Result<Vec<TableEntry>> {
    // Largest first (the catalog's order), every part of a large table before the next
    // table, so that all workers start on it.
    let mut jobs = VecDeque::new();
    let mut results: Vec<Vec<Option<PartResult>>> = Vec::with_capacity(tables.len());
    for (i, (info, action)) in tables.iter().enumerate() {
        // A subset table is read whole by one worker: its condition is its own range.
        let reads_rows = matches!(action, TableAction::Copy | TableAction::Transform(_))
            && info.filter.is_none();
        let ranges = reads_rows
            .then(|| {
                parts::plan(
                    info.size_bytes.max(0) as u64,
                    block_size,
                    opts.part_bytes,
                    opts.jobs,
                )
            })
            .flatten()
            .filter(|_| !info.columns.is_empty());
        match ranges {
            None => jobs.push_back(Job {
                table: i,
                part: 0,
                range: None,
            }),
            Some(ranges) => {
                for (part, range) in ranges.into_iter().enumerate() {
                    jobs.push_back(Job {
                        table: i,
                        part,
                        range: Some(range),
                    });
                }
            }
        }
        results.push(Vec::new());
    }
    for job in &jobs {
        let r = &mut results[job.table];
        let len = r.len().max(job.part + 1);
        r.resize_with(len, || None);
    }
    // Each anonymized table's record of unique values, shared by its parts.
    let seen: Vec<Option<SeenKeys>> = tables
        .iter()
        .map(|(_, a)| match a {
            TableAction::Transform(t) => Some(Rewriter::seen_keys(t)),
            _ => None,
        })
        .collect();
    let n_jobs = jobs.len();
    let tables = Arc::new(tables);
    let seen = Arc::new(seen);
    let queue = Arc::new(Mutex::new(jobs));
    let results = Arc::new(Mutex::new(results));
    let mut workers = AbortOnDrop(Vec::new());
    for _ in 0..opts.jobs.clamp(1, n_jobs.max(1)) {
        let (repo, queue, results, tables, seen) = (
            repo.clone(),
            queue.clone(),
            results.clone(),
            tables.clone(),
            seen.clone(),
        );
        let (conn, progress, snapshot_name, key) = (
            opts.conn.clone(),
            opts.progress.clone(),
            snapshot_name.to_string(),
            key.clone(),
        );
        workers.0.push(tokio::spawn(async move {
            let client = connect(&conn).await?;
            client
                .batch_execute(&format!(
                    "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT {}",
                    crate::catalog::quote_literal(&snapshot_name)
                ))
                .await
                .map_err(pg("a worker cannot import the exported snapshot"))?;
            loop {
                let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                let Some(job) = next else { break };
                let (info, action) = &tables[job.table];
                let part = CopyPart {
                    info,
                    action,
                    range: job.range,
                    key: key.as_ref(),
                    seen: seen[job.table].as_ref(),
                };
                let result = copy_part(&repo, &client, part, &progress).await?;
                results.lock().unwrap_or_else(|p| p.into_inner())[job.table][job.part] =
                    Some(result);
            }
            client
                .batch_execute("COMMIT")
                .await
                .map_err(pg("worker commit"))?;
            Ok(())
        }));
    }
    for handle in std::mem::take(&mut workers.0) {
        match handle.await {
            Ok(r) => r?,
            Err(e) => return Err(Error::Postgres(format!("a snapshot worker failed: {e}"))),
        }
    }
    let results = std::mem::take(&mut *results.lock().unwrap_or_else(|p| p.into_inner()));
    let tables = Arc::try_unwrap(tables)
        .map_err(|_| Error::Postgres("a snapshot worker still holds the table list".into()))?;
    let mut out = Vec::with_capacity(tables.len());
    for ((info, _), parts) in tables.into_iter().zip(results) {
        out.push(assemble(info, parts)?);
    }
    Ok(out)
}

/// A table's entry from its parts, in page order: one stream (the parts' chunks one after
/// another, which is itself valid COPY text), the rows and digest of them all.
fn assemble(info: TableInfo, parts: Vec<Option<PartResult>>) -> Result<TableEntry> {
    let mut chunks = Vec::new();
    let mut bytes = 0;
    let mut digest = TableDigest::new();
    let mut counts = Vec::with_capacity(parts.len());
    for part in parts {
        let Some((stream, d)) = part else {
            return Err(Error::Postgres(format!(
                "table {}.{}: a part was never read",
                info.schema, info.name
            )));
        };
        counts.push(stream.chunks.len() as u64);
        chunks.extend(stream.chunks);
        bytes += stream.bytes;
        digest.merge(&d);
    }
    let data = manifest::Stream { chunks, bytes };
    let mut entry = table_entry(info, digest, data);
    if counts.len() > 1 {
        entry.parts = counts;
    }
    Ok(entry)
}

/// One table, or one page range of it, to read.
struct CopyPart<'a> {
    info: &'a TableInfo,
    action: &'a TableAction,
    range: Option<PageRange>,
    key: Option<&'a Arc<Key>>,
    seen: Option<&'a SeenKeys>,
}

async fn copy_part(
    repo: &Repository,
    client: &Client,
    part: CopyPart<'_>,
    progress: &AtomicU64,
) -> Result<PartResult> {
    let table = part.info;
    let label = format!("{}.{}", table.schema, table.name);
    let transform = match part.action {
        TableAction::Copy => None,
        TableAction::Transform(t) => Some(t.clone()),
        // Skipped tables never get here; a schema-only table is stored with no rows.
        TableAction::SchemaOnly | TableAction::Skip => {
            let data = write_stream(repo, futures::stream::empty(), |_| {}).await?;
            return Ok((data, TableDigest::new()));
        }
    };
    let stmt = match (part.range, &table.filter) {
        (None, Some(filter)) => copy_where(&table.schema, &table.name, &table.columns, filter),
        (None, None) => copy_statement(&table.schema, &table.name, &table.columns, "TO STDOUT"),
        (Some(range), _) => {
            parts::copy_statement(&table.schema, &table.name, &table.columns, range)
        }
    };
    let out = client
        .copy_out(stmt.as_str())
        .await
        .map_err(pg(format!("cannot read table {label}")))?;
    let label_for_err = label.clone();
    // The error context is built only on error: this closure runs once per row.
    let pieces = out.map(move |r| {
        r.map_err(|e| {
            Error::Postgres(format!(
                "reading table {label_for_err} failed: {}",
                describe_pg(&e)
            ))
        })
    });
    let mut digest = TableDigest::new();
    let data = match transform {
        None => {
            write_stream(repo, pieces, |piece| {
                digest.update(piece);
                progress.fetch_add(piece.len() as u64, Ordering::Relaxed);
            })
            .await?
        }
        Some(t) => {
            let key = part
                .key
                .ok_or_else(|| Error::Anonymization("no key to anonymize with".into()))?;
            // Progress counts what is read from the source; the digest, what is stored.
            let pieces = pieces.inspect(|p| {
                if let Ok(p) = p {
                    progress.fetch_add(p.len() as u64, Ordering::Relaxed);
                }
            });
            let seen = match part.seen {
                Some(s) => s.clone(),
                None => Rewriter::seen_keys(&t),
            };
            let rows = Rewriter::for_part(t, key.clone(), seen).stream(pieces);
            write_stream(repo, rows, |piece| digest.update(piece)).await?
        }
    };
    if digest.has_partial_row() {
        return Err(Error::Postgres(format!(
            "table {label}: the COPY stream ended inside a row"
        )));
    }
    tracing::debug!(table = %label, range = ?part.range, rows = digest.rows(), bytes = data.bytes, "copied");
    Ok((data, digest))
}

fn table_entry(table: TableInfo, digest: TableDigest, data: manifest::Stream) -> TableEntry {
    TableEntry {
        schema: table.schema,
        name: table.name,
        columns: table.columns,
        rows: digest.rows(),
        digest: digest.hex(),
        data,
        index_oids: table.index_oids,
        parts: Vec::new(),
    }
}

/// Large object pieces read per request.
const LO_PIECE: i32 = 1024 * 1024;

async fn copy_large_objects(
    repo: &Repository,
    coord: &Client,
    objects: Vec<catalog::LargeObjectInfo>,
    contents: bool,
    progress: &AtomicU64,
) -> Result<Vec<LargeObjectEntry>> {
    let mut out = Vec::with_capacity(objects.len());
    for lo in objects {
        let oid = lo.oid;
        let start = contents.then_some(0i64);
        let pieces = futures::stream::unfold(start, move |offset| async move {
            let offset = offset?;
            let r = coord
                .query_one("SELECT lo_get($1, $2, $3)", &[&oid, &offset, &LO_PIECE])
                .await
                .map_err(pg(format!(
                    "cannot read large object {oid} (the role needs SELECT on it, or use a superuser)"
                )));
            match r {
                Ok(row) => {
                    let data: Vec<u8> = row.get(0);
                    if data.is_empty() {
                        return None;
                    }
                    let next =
                        (data.len() == LO_PIECE as usize).then_some(offset + data.len() as i64);
                    Some((Ok(Bytes::from(data)), next))
                }
                Err(e) => Some((Err(e), None)),
            }
        });
        let mut hasher = blake3::Hasher::new();
        let data: manifest::Stream = write_stream(repo, pieces, |p| {
            hasher.update(p);
            progress.fetch_add(p.len() as u64, Ordering::Relaxed);
        })
        .await?;
        out.push(LargeObjectEntry {
            oid,
            owner: lo.owner,
            comment: lo.comment,
            grants: lo
                .grants
                .into_iter()
                .map(
                    |(grantee, privilege, grantable)| manifest::LargeObjectGrant {
                        grantee,
                        privilege,
                        grantable,
                    },
                )
                .collect(),
            digest: hasher.finalize().to_hex().to_string(),
            data,
        });
    }
    Ok(out)
}
