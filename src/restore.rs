//! Restoring a snapshot into a database: pre-data, data with N workers, large objects,
//! sequences, populated materialized views, post-data in parallel; verified before it is
//! called done, and marked failed (renamed) when anything goes wrong.

pub mod load;
pub mod marker;
pub mod neutralize;
pub mod pristine;
pub mod roles;
pub mod schema;
pub mod scope;
pub mod seeds;
pub mod target;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use futures::StreamExt;
use serde::Serialize;

use crate::error::{pg, Error, Result};
use crate::pg::tools::{self, Tool};
use crate::pg::{connect, ConnInfo};
use crate::repo::writer::read_stream;
use crate::repo::{Manifest, Repository};
use roles::RoleStatements;
use schema::SchemaArchive;

/// How much checking a restore does before it reports success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum VerifyMode {
    /// Row counts from the server's COPY results and digests of the loaded bytes.
    Loaded,
    /// Also re-read every table from the target and digest it again.
    Full,
}

/// What to restore where.
#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// The target database (created by the restore).
    pub target: ConnInfo,
    /// Parallel workers.
    pub jobs: usize,
    /// Drop and recreate an existing non-empty target.
    pub replace: bool,
    /// Fail, instead of warning, when owners or grantees are missing on the target.
    pub keep_owners: bool,
    /// Verification depth.
    pub verify: VerifyMode,
    /// Folder of `pg_restore`, when not found by default.
    pub pg_bin: Option<PathBuf>,
    /// Skip the identity guard (restoring over the snapshot's own source).
    pub allow_production: bool,
    /// Bytes loaded so far, for a progress display.
    pub progress: Arc<AtomicU64>,
    /// Disable subscriptions after the load (every restore outside production).
    pub neutralize: bool,
    /// SQL files run after the load and its verification, in order.
    pub after_restore: Vec<PathBuf>,
    /// Seed fixtures applied after `after_restore`, in one transaction.
    pub seeds: Vec<PathBuf>,
    /// Keep a template copy of the result for `doppel reset`.
    pub pristine: bool,
    /// What to load: everything, some tables, the schema, or the data.
    pub scope: scope::Scope,
    /// Create missing owners and grantees as roles that cannot log in, so that ownership
    /// and grants survive (a throwaway server that is read back as a snapshot).
    pub create_roles: bool,
    /// Archived changes to apply after the load and its verification, bringing the snapshot
    /// forward to a later time (`restore --at T` with a change archive).
    pub replay: Option<crate::changes::replay::ReplayPlan>,
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    /// Snapshot restored.
    pub snapshot: String,
    /// Target, without password.
    pub target: String,
    /// Tables loaded.
    pub tables: usize,
    /// Rows loaded.
    pub rows: u64,
    /// Bytes of COPY text loaded.
    pub bytes: u64,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
    /// Verification done.
    pub verify: VerifyMode,
    /// Roles the target lacked.
    pub missing_roles: Vec<String>,
    /// Things the user should know.
    pub warnings: Vec<String>,
    /// Subscriptions disabled and detached from their slots.
    pub subscriptions_disabled: Vec<String>,
    /// The template copy `doppel reset` restores from, when kept.
    pub pristine: Option<String>,
    /// The archived changes applied after the snapshot, when restored to a later time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay: Option<crate::changes::replay::ReplayReport>,
}

/// Restores `m` into `opts.target`.
pub async fn restore(
    repo: Arc<Repository>,
    m: &Manifest,
    opts: &RestoreOptions,
) -> Result<RestoreReport> {
    let started = Instant::now();
    let target = &opts.target;
    let mut warnings: Vec<String> = opts
        .replay
        .iter()
        .flat_map(|p| p.warnings.iter().cloned())
        .collect();
    let admin = target::admin(target).await?;
    if !opts.allow_production {
        target::identity_guard(&admin, target, m).await?;
    }
    let server_major = server_major(&admin).await?;

    // Everything that can refuse runs before the target is touched.
    let workdir =
        tempfile::tempdir().map_err(crate::error::io("cannot create a temporary folder"))?;
    let archive = workdir.path().join("schema.dump");
    write_archive(&repo, m, &archive).await?;
    let need =
        crate::pg::archive::restore_major(&archive, m.schema_tools.as_ref(), m.source.server_major)
            .map_err(|e| Error::Repository(format!("the schema of snapshot {}: {e}", m.id)))?;
    let pg_restore = tools::find("pg_restore", opts.pg_bin.as_deref(), need, server_major)?;
    // A pg_restore newer than the server sends settings the server does not know: its SQL
    // is then run through doppel's own sessions, without them.
    let replay = if pg_restore.major > server_major {
        Some(schema::replay::settings(&admin).await?)
    } else {
        None
    };
    let statements = RoleStatements::scan(&schema::archive_sql(&pg_restore, &archive, None).await?);
    let mut referenced = statements.roles();
    for lo in &m.large_objects {
        referenced.insert(lo.owner.clone());
        referenced.extend(
            lo.grants
                .iter()
                .map(|g| g.grantee.clone())
                .filter(|g| g != "PUBLIC"),
        );
    }
    let existing: BTreeSet<String> = admin
        .query("SELECT rolname::text FROM pg_roles", &[])
        .await
        .map_err(pg("cannot list roles on the target"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut missing: BTreeSet<String> = referenced.difference(&existing).cloned().collect();
    if opts.create_roles {
        for role in std::mem::take(&mut missing) {
            admin
                .batch_execute(&format!(
                    "CREATE ROLE {} NOLOGIN",
                    crate::catalog::quote_ident(&role)
                ))
                .await
                .map_err(pg(format!("cannot create role {role}")))?;
        }
    }
    if !missing.is_empty() {
        let list = missing.iter().cloned().collect::<Vec<_>>().join(", ");
        if opts.keep_owners {
            return Err(Error::Refused(format!(
                "the target server lacks roles that own objects or hold grants in snapshot {}: {list}; create them, or restore without --keep-owners to give ownership to {} and skip those grants",
                m.id, target.user
            )));
        }
        warnings.push(format!(
            "roles missing on the target: {list}; their objects are owned by {} and {} grant(s) to them were skipped",
            target.user,
            statements.skipped_privileges(&missing)
        ));
    }

    let scoped = scope::apply(m, &opts.scope)?;
    let data_only = opts.scope == scope::Scope::DataOnly;
    if server_major < m.source.server_major && !data_only {
        let settings = match &replay {
            Some(settings) => settings.clone(),
            None => schema::replay::settings(&admin).await?,
        };
        let script =
            schema::script(&pg_restore, &archive, None, !missing.is_empty(), &settings).await?;
        schema::downgrade_check(&admin, target, &script, m, server_major).await?;
    }
    match target::state(&admin, target).await? {
        Some(true) if data_only => {}
        _ if data_only => {
            return Err(Error::Refused(format!(
                "--data-only loads rows into an existing schema, and {} has none: restore the schema first (--schema-only), or restore everything",
                target.redacted()
            )))
        }
        None => target::create_database(&admin, &target.dbname, m, &mut warnings).await?,
        Some(false) => {}
        Some(true) if opts.replace => {
            target::drop_subscriptions(target).await?;
            target::drop_database(&admin, &target.dbname).await?;
            target::create_database(&admin, &target.dbname, m, &mut warnings).await?;
        }
        Some(true) => {
            return Err(Error::Refused(format!(
            "database {} already exists and is not empty: pass --replace to drop and recreate it",
            target.redacted()
        )))
        }
    }
    target::stamp(
        &admin,
        &target.dbname,
        &format!(
            "doppel: restore of snapshot {} in progress (incomplete)",
            m.id
        ),
    )
    .await?;

    let steps = Steps {
        repo,
        m: &scoped,
        data_only,
        opts,
        pg_restore: &pg_restore,
        replay_settings: replay,
        archive: &archive,
        workdir: workdir.path(),
        replay: (!missing.is_empty()).then(|| statements.replayable(&missing)),
        missing: &missing,
    };
    let run = steps.run().await;
    if let Err(e) = run {
        let moved = target::mark_failed(&admin, &target.dbname, &m.id, &e.to_string()).await;
        let where_ = match moved {
            Some(n) => format!("the partial database was renamed to {n} (drop it when done)"),
            None => format!(
                "the partial database {} is marked FAILED in its comment",
                target.dbname
            ),
        };
        return Err(e.context(format!("restore of snapshot {} failed; {where_}", m.id)));
    }
    let (subscriptions_disabled, replay) = run.unwrap_or_default();
    let note = format!(
        "{}{} (taken {}){} restored {} and verified ({})",
        target::STAMP,
        m.id,
        m.time.to_rfc3339(),
        match &replay {
            Some(r) => format!(
                " brought to {} with change archive {} ({} transactions)",
                r.until.map(|t| t.to_rfc3339()).unwrap_or_default(),
                r.archive,
                r.transactions
            ),
            None => String::new(),
        },
        Utc::now().to_rfc3339(),
        if opts.verify == VerifyMode::Full {
            "full"
        } else {
            "loaded"
        }
    );
    let note = target::seal(&admin, target, &note, Some(scoped.total_rows())).await?;
    let pristine = if opts.pristine {
        Some(pristine::save(&admin, target, &note).await?)
    } else {
        None
    };
    Ok(RestoreReport {
        snapshot: m.id.clone(),
        target: target.redacted(),
        tables: scoped.tables.len(),
        rows: scoped.total_rows(),
        bytes: scoped.total_bytes(),
        duration_ms: started.elapsed().as_millis() as u64,
        verify: opts.verify,
        missing_roles: missing.into_iter().collect(),
        warnings,
        subscriptions_disabled,
        pristine,
        replay,
    })
}

struct Steps<'a> {
    repo: Arc<Repository>,
    /// The manifest restricted to the restore's scope.
    m: &'a Manifest,
    /// Rows only, into the schema already there.
    data_only: bool,
    opts: &'a RestoreOptions,
    pg_restore: &'a Tool,
    /// The target's settings when pg_restore is newer than it (see [`schema::replay`]).
    replay_settings: Option<std::collections::HashSet<String>>,
    archive: &'a Path,
    workdir: &'a Path,
    /// Owner and grant statements to replay when roles are missing (pg_restore then runs
    /// with --no-owner --no-acl).
    replay: Option<Vec<String>>,
    missing: &'a BTreeSet<String>,
}

impl Steps<'_> {
    /// Loads, verifies and replays; returns the subscriptions it disabled and what the
    /// replay applied.
    async fn run(&self) -> Result<(Vec<String>, Option<crate::changes::replay::ReplayReport>)> {
        let target = &self.opts.target;
        let schema = if self.data_only {
            None
        } else {
            let schema = SchemaArchive::read(
                self.pg_restore,
                self.archive,
                target,
                self.replay.is_some(),
                self.replay_settings.clone(),
                self.workdir,
            )
            .await?;
            schema.pre_data().await?;
            Some(Arc::new(schema))
        };
        load::tables(
            self.repo.clone(),
            target,
            self.m,
            self.opts.jobs,
            self.opts.progress.clone(),
            schema.clone(),
        )
        .await?;
        let client = connect(target).await?;
        load::large_objects(&self.repo, &client, &self.m.large_objects, self.missing).await?;
        load::sequences(&client, self.m).await?;
        load::matviews(&client, self.m).await?;
        if let Some(schema) = &schema {
            schema.finish(self.opts.jobs).await?;
        }
        if let (Some(statements), false) = (&self.replay, self.data_only) {
            for s in statements {
                client
                    .batch_execute(s)
                    .await
                    .map_err(pg(format!("cannot apply owner or grant statement `{s}`")))?;
            }
        }
        if self.opts.verify == VerifyMode::Full {
            load::verify_full(target, self.m).await?;
        }
        // After the base is verified: each replayed change is checked to touch one row.
        let replayed = match &self.opts.replay {
            Some(plan) => Some(crate::changes::replay::apply(&self.repo, plan, &client).await?),
            None => None,
        };
        // After verification: these may change data on purpose.
        let disabled = if self.opts.neutralize {
            neutralize::subscriptions(&client).await?
        } else {
            Vec::new()
        };
        neutralize::run_files(&client, &self.opts.after_restore).await?;
        seeds::apply(&client, &self.opts.seeds).await?;
        Ok((disabled, replayed))
    }
}

async fn server_major(client: &tokio_postgres::Client) -> Result<u32> {
    let v: i32 = client
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .await
        .map_err(pg("cannot read the target's version"))?
        .get(0);
    Ok((v / 10000) as u32)
}

/// Writes the schema archive to a file: pg_restore needs a seekable file to run in parallel.
async fn write_archive(repo: &Repository, m: &Manifest, path: &Path) -> Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut f = tokio::fs::File::create(path)
        .await
        .map_err(crate::error::io(format!("cannot write {}", path.display())))?;
    let pieces = read_stream(repo, &m.schema, 4);
    futures::pin_mut!(pieces);
    while let Some(piece) = pieces.next().await {
        let piece =
            piece.map_err(|e| Error::Repository(format!("schema of snapshot {}: {e}", m.id)))?;
        f.write_all(&piece)
            .await
            .map_err(crate::error::io(format!("cannot write {}", path.display())))?;
    }
    f.flush()
        .await
        .map_err(crate::error::io(format!("cannot write {}", path.display())))?;
    Ok(())
}
