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

use crate::error::{describe_pg, pg, Error, Result};
use crate::pg::catalog::{self, TableInfo};
use crate::pg::{connect, qualified, quote_ident, ConnInfo};
use crate::repo::digest::TableDigest;
use crate::repo::lock::{Lock, LockKind};
use crate::repo::manifest::{
    self, Kind, LargeObjectEntry, Manifest, MatviewEntry, SequenceEntry, Source, Stats, TableEntry,
};
use crate::repo::writer::write_stream;
use crate::repo::{new_snapshot_id, Repository, MANIFEST_FORMAT};

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
        .query_one("SELECT pg_export_snapshot(), now()", &[])
        .await
        .map_err(pg("cannot export a snapshot"))?;
    let snapshot_name: String = row.get(0);
    let time: DateTime<Utc> = opts.recorded_time.unwrap_or_else(|| row.get(1));
    let lsn = catalog::optional_text(
        &coord,
        "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text",
    )
    .await?;
    let server = catalog::server_info(&coord).await?;
    // Refuse before reading any data: a pg_dump older than the server fails late or misses objects.
    let pg_dump = crate::pg::tools::find("pg_dump", opts.pg_bin.as_deref(), server.major)?;
    let tables = catalog::tables(&coord).await?;
    lock_tables(&coord, &tables).await?;
    let sequences = catalog::sequences(&coord).await?;
    let matviews = catalog::matviews(&coord).await?;
    let large_objects = catalog::large_objects(&coord).await?;
    tracing::info!(tables = tables.len(), snapshot = %snapshot_name, "snapshot transaction open");

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
        let repo = repo.clone();
        let progress = opts.progress.clone();
        async move {
            let out = crate::pg::tools::run(cmd, "pg_dump --schema-only").await?;
            progress.fetch_add(out.len() as u64, Ordering::Relaxed);
            write_stream(&repo, futures::stream::iter([Ok(Bytes::from(out))]), |_| {}).await
        }
    };
    let data = copy_tables(repo.clone(), opts, &snapshot_name, tables);
    let (schema, tables) = futures::future::try_join(schema, data).await?;
    let large_objects = copy_large_objects(&repo, &coord, large_objects, &opts.progress).await?;
    coord
        .batch_execute("COMMIT")
        .await
        .map_err(pg("cannot end the snapshot transaction"))?;

    let bytes_read = schema.bytes
        + tables.iter().map(|t| t.data.bytes).sum::<u64>()
        + large_objects.iter().map(|l| l.data.bytes).sum::<u64>();
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        id: new_snapshot_id(time),
        time,
        lsn,
        tags: opts.tags.clone(),
        source: Source {
            environment: opts.environment.clone(),
            database: server.database,
            system_identifier: server.system_identifier,
            server_version: server.server_version,
            server_major: server.major,
            encoding: server.encoding,
            collate: server.collate,
            ctype: server.ctype,
        },
        kind: Kind {
            kind: "raw".into(),
            rules_digest: None,
            key_fingerprint: None,
            derived_from: None,
        },
        schema,
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
        stats: Stats {
            duration_ms: started.elapsed().as_millis() as u64,
            bytes_read,
            bytes_stored_new: repo.stats.bytes_new.load(Ordering::Relaxed),
            chunks_total: repo.stats.chunks_total.load(Ordering::Relaxed),
            chunks_new: repo.stats.chunks_new.load(Ordering::Relaxed),
        },
        tool_version: env!("CARGO_PKG_VERSION").into(),
    };
    repo.put_manifest(&manifest).await?;
    lock.release().await?;
    Ok(manifest)
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

async fn copy_tables(
    repo: Arc<Repository>,
    opts: &SnapshotOptions,
    snapshot_name: &str,
    tables: Vec<TableInfo>,
) -> Result<Vec<TableEntry>> {
    let n = tables.len();
    let queue = Arc::new(Mutex::new(
        tables.into_iter().enumerate().collect::<VecDeque<_>>(),
    ));
    let results: Arc<Mutex<Vec<Option<TableEntry>>>> = Arc::new(Mutex::new(vec![None; n]));
    let mut workers = AbortOnDrop(Vec::new());
    for _ in 0..opts.jobs.clamp(1, n.max(1)) {
        let (repo, queue, results) = (repo.clone(), queue.clone(), results.clone());
        let (conn, progress, snapshot_name) = (
            opts.conn.clone(),
            opts.progress.clone(),
            snapshot_name.to_string(),
        );
        workers.0.push(tokio::spawn(async move {
            let client = connect(&conn).await?;
            client
                .batch_execute(&format!(
                    "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT {}",
                    crate::pg::quote_literal(&snapshot_name)
                ))
                .await
                .map_err(pg("a worker cannot import the exported snapshot"))?;
            loop {
                let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                let Some((i, table)) = next else { break };
                let entry = copy_table(&repo, &client, table, &progress).await?;
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(entry);
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
    Ok(results.into_iter().flatten().collect())
}

/// `COPY "s"."t" ("a", "b") TO STDOUT`; a table without columns is copied without a list.
pub fn copy_statement(schema: &str, name: &str, columns: &[String], direction: &str) -> String {
    let cols = if columns.is_empty() {
        String::new()
    } else {
        format!(
            " ({})",
            columns
                .iter()
                .map(|c| quote_ident(c))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    format!("COPY {}{cols} {direction}", qualified(schema, name))
}

async fn copy_table(
    repo: &Repository,
    client: &Client,
    table: TableInfo,
    progress: &AtomicU64,
) -> Result<TableEntry> {
    let label = format!("{}.{}", table.schema, table.name);
    let stmt = copy_statement(&table.schema, &table.name, &table.columns, "TO STDOUT");
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
    let data = write_stream(repo, pieces, |piece| {
        digest.update(piece);
        progress.fetch_add(piece.len() as u64, Ordering::Relaxed);
    })
    .await?;
    if digest.has_partial_row() {
        return Err(Error::Postgres(format!(
            "table {label}: the COPY stream ended inside a row"
        )));
    }
    tracing::debug!(table = %label, rows = digest.rows(), bytes = data.bytes, "table copied");
    Ok(TableEntry {
        schema: table.schema,
        name: table.name,
        columns: table.columns,
        rows: digest.rows(),
        digest: digest.hex(),
        data,
        index_oids: table.index_oids,
    })
}

/// Large object pieces read per request.
const LO_PIECE: i32 = 1024 * 1024;

async fn copy_large_objects(
    repo: &Repository,
    coord: &Client,
    objects: Vec<catalog::LargeObjectInfo>,
    progress: &AtomicU64,
) -> Result<Vec<LargeObjectEntry>> {
    let mut out = Vec::with_capacity(objects.len());
    for lo in objects {
        let oid = lo.oid;
        let pieces = futures::stream::unfold(Some(0i64), move |offset| async move {
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
