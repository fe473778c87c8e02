//! The schema archive restored around the data: pre-data first; post-data (indexes,
//! constraints, triggers…) in two passes so that index builds overlap loading as pg_restore's
//! own scheduler does: a large table's own indexes and key constraints are built as soon as
//! its rows are in, while other tables are still loading; everything else follows in one
//! parallel pass at the end.

use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

mod check;
mod keys;
pub mod replay;

pub use check::downgrade_check;

use crate::error::{pg, Error, Result};
use crate::pg::tools::{self, Tool};
use crate::pg::{connect, ConnInfo};
use crate::repo::manifest::TableEntry;
use keys::SplitKey;
use replay::{Entry, Script};

/// The settings of every index-building session, pg_restore's and doppel's own. Memory for
/// sorts stays the server's `maintenance_work_mem`: on a 10M-row text index, 256MB built
/// 20% slower than the default 64MB (smaller sorted runs stay in the CPU caches), and the
/// server's owner may have tuned it for the machine.
const INDEX_SETTINGS: [(&str, &str); 1] = [("synchronous_commit", "off")];

/// Tables with at least this much COPY text get their indexes built right after loading;
/// below it, one pg_restore run per table would cost more than it overlaps.
pub const EARLY_THRESHOLD: u64 = 8 * 1024 * 1024;

/// The schema archive, its post-data entries, and which of them were built already.
#[derive(Debug)]
pub struct SchemaArchive {
    tool: Tool,
    archive: PathBuf,
    target: ConnInfo,
    /// Pass --no-owner --no-acl (roles missing on the target).
    without_roles: bool,
    /// The target's settings, when pg_restore is newer than the target and its SQL is run
    /// through doppel's own sessions ([`replay`]); `None` lets pg_restore run it.
    replay: Option<HashSet<String>>,
    /// `pg_restore -l` lines of the post-data section, in order, with their catalog OIDs.
    entries: Vec<(u32, String)>,
    done: Mutex<HashSet<u32>>,
    workdir: PathBuf,
}

/// The catalog OID of a `pg_restore -l` line (`3218; 2606 16431 CONSTRAINT …` → 16431).
fn catalog_oid(line: &str) -> Option<u32> {
    let (_, rest) = line.split_once("; ")?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

impl SchemaArchive {
    /// Reads the post-data table of contents of `archive`. With `replay` (the target's
    /// settings), the archive's SQL is run by doppel rather than by pg_restore.
    pub async fn read(
        tool: &Tool,
        archive: &Path,
        target: &ConnInfo,
        without_roles: bool,
        replay: Option<HashSet<String>>,
        workdir: &Path,
    ) -> Result<SchemaArchive> {
        let mut cmd = tokio::process::Command::new(&tool.path);
        cmd.args(["--list", "--section=post-data"])
            .arg(archive)
            .kill_on_drop(true);
        let out = tools::run(cmd, "pg_restore --list").await?;
        let entries = String::from_utf8_lossy(&out)
            .lines()
            .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
            .map(|l| (catalog_oid(l).unwrap_or(0), l.to_string()))
            .collect();
        Ok(SchemaArchive {
            tool: tool.clone(),
            archive: archive.to_path_buf(),
            target: target.clone(),
            without_roles,
            replay,
            entries,
            done: Mutex::new(HashSet::new()),
            workdir: workdir.to_path_buf(),
        })
    }

    /// Types, tables, functions…: everything the data needs, nothing that slows loading.
    pub async fn pre_data(&self) -> Result<()> {
        self.pg_restore("--section=pre-data", 1, "pre-data").await
    }

    /// Builds a freshly loaded table's own indexes and key constraints, if it is large, with
    /// up to `jobs` sessions: when a large table is the last one loading, the other workers
    /// have nothing left but its indexes. Plain primary keys and unique constraints are built
    /// as unique indexes beside the table's other indexes, then made constraints
    /// ([`keys`]).
    pub async fn after_load(&self, table: &TableEntry, jobs: usize) -> Result<()> {
        if table.data.bytes < EARLY_THRESHOLD || table.index_oids.is_empty() {
            return Ok(());
        }
        let wanted: HashSet<u32> = table.index_oids.iter().copied().collect();
        let lines: Vec<&str> = self
            .entries
            .iter()
            .filter(|(oid, line)| wanted.contains(oid) && !line.contains(" FK CONSTRAINT "))
            .map(|(_, l)| l.as_str())
            .collect();
        if lines.is_empty() {
            return Ok(());
        }
        let label = format!("{}.{}", table.schema, table.name);
        let (split, rest) = self.split_keys(&lines, jobs).await?;
        let others = async {
            if rest.is_empty() {
                return Ok(());
            }
            let list = self.workdir.join(format!(
                "early-{}.list",
                hex::encode(rand::random::<[u8; 6]>())
            ));
            write_list(&list, &rest)?;
            let sessions = jobs.saturating_sub(usize::from(!split.is_empty()));
            self.pg_restore(
                &format!("--use-list={}", list.display()),
                sessions.clamp(1, rest.len()),
                &format!("indexes of {label}"),
            )
            .await
        };
        let keys = async {
            if split.is_empty() {
                return Ok(None);
            }
            let client = connect(&self.target).await?;
            client
                .batch_execute(
                    &INDEX_SETTINGS
                        .map(|(name, value)| format!("SET {name} = '{value}';"))
                        .concat(),
                )
                .await
                .map_err(pg("cannot set up an index session"))?;
            for key in &split {
                client
                    .batch_execute(&key.build_index())
                    .await
                    .map_err(pg(format!(
                        "cannot build the index of {} on {label}",
                        key.name()
                    )))?;
            }
            Ok::<_, Error>(Some(client))
        };
        let (others, keys) = tokio::join!(others, keys);
        others?;
        if let Some(client) = keys? {
            // After the other builds: the exclusive lock this takes would make them wait.
            for key in &split {
                client
                    .batch_execute(&key.attach())
                    .await
                    .map_err(pg(format!(
                        "cannot create constraint {} on {label}",
                        key.name()
                    )))?;
            }
        }
        tracing::info!(table = %label, entries = lines.len(), keys_beside = split.len(), "indexes built right after loading");
        let mut done = self.done.lock().unwrap_or_else(|p| p.into_inner());
        done.extend(
            self.entries
                .iter()
                .filter(|(oid, l)| wanted.contains(oid) && lines.contains(&l.as_str()))
                .map(|(o, _)| *o),
        );
        Ok(())
    }

    /// Separates the plain key constraints among `lines`, built beside the other entries,
    /// from the entries pg_restore builds. Nothing is split with one session, or when there
    /// is nothing to build beside.
    async fn split_keys<'a>(
        &self,
        lines: &[&'a str],
        jobs: usize,
    ) -> Result<(Vec<SplitKey>, Vec<&'a str>)> {
        // `… CONSTRAINT schema table name owner`; foreign keys and checks read `FK
        // CONSTRAINT` and `CHECK CONSTRAINT` there.
        let is_key = |l: &str| l.split_whitespace().nth(3) == Some("CONSTRAINT");
        if jobs < 2 || lines.iter().all(|l| is_key(l)) {
            return Ok((Vec::new(), lines.to_vec()));
        }
        let mut split = Vec::new();
        let mut rest = Vec::new();
        for &line in lines {
            let key = if is_key(line) {
                SplitKey::parse(&self.entry_sql(line).await?)
            } else {
                None
            };
            match key {
                Some(key) => split.push(key),
                None => rest.push(line),
            }
        }
        Ok((split, rest))
    }

    /// The SQL pg_restore would run for one entry of the table of contents.
    async fn entry_sql(&self, line: &str) -> Result<String> {
        let list = self.workdir.join(format!(
            "entry-{}.list",
            hex::encode(rand::random::<[u8; 6]>())
        ));
        write_list(&list, &[line])?;
        archive_sql(&self.tool, &self.archive, Some(&list)).await
    }

    /// Runs a script's entries on `jobs` sessions of doppel's own: the independent ones
    /// (indexes, key and check constraints) side by side, then the others one by one in the
    /// archive's order, as their dependencies require.
    async fn run_script(&self, script: &Script, jobs: usize, what: &str) -> Result<()> {
        let setup = format!(
            "{}{}",
            script.preamble,
            INDEX_SETTINGS
                .map(|(name, value)| format!("SET {name} = '{value}';"))
                .concat()
        );
        let (side, ordered): (Vec<&Entry>, Vec<&Entry>) = if jobs > 1 {
            script.entries.iter().partition(|e| e.independent())
        } else {
            (Vec::new(), script.entries.iter().collect())
        };
        let queue = Mutex::new(side.into_iter().collect::<VecDeque<_>>());
        let session = || async {
            let client = connect(&self.target).await?;
            client
                .batch_execute(&setup)
                .await
                .map_err(pg(format!("cannot set up a session for {what}")))?;
            loop {
                let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                let Some(entry) = next else {
                    return Ok::<_, Error>(client);
                };
                run_entry(&client, entry, what).await?;
            }
        };
        let sessions = jobs.clamp(1, script.entries.len().max(1));
        let mut clients = futures::future::try_join_all((0..sessions).map(|_| session())).await?;
        let client = clients.swap_remove(0);
        for entry in ordered {
            run_entry(&client, entry, what).await?;
        }
        Ok(())
    }

    /// Everything not built yet, with `jobs` parallel sessions.
    pub async fn finish(&self, jobs: usize) -> Result<()> {
        let done = self.done.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let lines: Vec<&str> = self
            .entries
            .iter()
            .filter(|(oid, _)| *oid == 0 || !done.contains(oid))
            .map(|(_, l)| l.as_str())
            .collect();
        if lines.is_empty() {
            return Ok(());
        }
        let list = self.workdir.join("post-data.list");
        write_list(&list, &lines)?;
        self.pg_restore(&format!("--use-list={}", list.display()), jobs, "post-data")
            .await
    }

    /// Runs pg_restore on the archive for `selection` (`--section=…` or `--use-list=…`), or
    /// replays its SQL when pg_restore is newer than the target.
    async fn pg_restore(&self, selection: &str, jobs: usize, what: &str) -> Result<()> {
        if let Some(settings) = &self.replay {
            let script = script(
                &self.tool,
                &self.archive,
                Some(selection),
                self.without_roles,
                settings,
            )
            .await?;
            return self.run_script(&script, jobs, what).await;
        }
        let mut cmd = self.tool.command(&self.target);
        cmd.env(
            "PGOPTIONS",
            INDEX_SETTINGS
                .map(|(name, value)| format!("-c {name}={value}"))
                .join(" "),
        )
        .arg("--exit-on-error")
        .arg(format!("--jobs={}", jobs.max(1)))
        .arg(selection)
        .arg(format!("--dbname={}", self.target.libpq_conninfo()));
        if self.without_roles {
            cmd.args(["--no-owner", "--no-acl"]);
        }
        cmd.arg(&self.archive);
        tools::run(cmd, &format!("pg_restore ({what})")).await?;
        Ok(())
    }
}

/// The SQL text of `archive`, or of the entries `list` selects, as pg_restore would run it.
pub async fn archive_sql(tool: &Tool, archive: &Path, list: Option<&Path>) -> Result<String> {
    let mut cmd = tokio::process::Command::new(&tool.path);
    if let Some(list) = list {
        cmd.arg(format!("--use-list={}", list.display()));
    }
    cmd.arg("--file=-")
        .arg(archive)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = tools::run(cmd, "pg_restore --file=-").await?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// The archive's SQL for `selection` (everything when `None`), split into entries for
/// [`replay`], the settings the target lacks (those not in `settings`) left out.
pub async fn script(
    tool: &Tool,
    archive: &Path,
    selection: Option<&str>,
    without_roles: bool,
    settings: &HashSet<String>,
) -> Result<Script> {
    let mut cmd = tokio::process::Command::new(&tool.path);
    cmd.args(selection);
    if without_roles {
        cmd.args(["--no-owner", "--no-acl"]);
    }
    cmd.arg("--file=-")
        .arg(archive)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = tools::run(cmd, "pg_restore --file=-").await?;
    let script = replay::split(&String::from_utf8_lossy(&out), &|name| {
        settings.contains(name)
    });
    if !script.dropped.is_empty() {
        tracing::debug!(dropped = ?script.dropped, "settings the target does not know were left out");
    }
    Ok(script)
}

/// Runs one entry, naming its object when the server refuses it.
async fn run_entry(client: &tokio_postgres::Client, entry: &Entry, what: &str) -> Result<()> {
    client
        .batch_execute(&entry.text())
        .await
        .map_err(pg(format!("{what}: cannot create {}", entry.label)))
}

fn write_list(path: &Path, lines: &[&str]) -> Result<()> {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text)
        .map_err(|e| Error::Repository(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_catalog_oids_from_list_lines() {
        assert_eq!(
            super::catalog_oid("3218; 2606 16431 CONSTRAINT public acc acc_pkey postgres"),
            Some(16431)
        );
        assert_eq!(
            super::catalog_oid("3224; 0 0 INDEX ATTACH public part1_id_idx postgres"),
            Some(0)
        );
        assert_eq!(super::catalog_oid("garbage"), None);
    }
}
