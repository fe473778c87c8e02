//! The schema archive restored around the data: pre-data first; post-data (indexes,
//! constraints, triggers…) in two passes so that index builds overlap loading as pg_restore's
//! own scheduler does: a large table's own indexes and key constraints are built as soon as
//! its rows are in, while other tables are still loading; everything else follows in one
//! parallel pass at the end.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::pg::tools::{self, Tool};
use crate::pg::ConnInfo;
use crate::repo::manifest::TableEntry;

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
    /// Reads the post-data table of contents of `archive`.
    pub async fn read(
        tool: &Tool,
        archive: &Path,
        target: &ConnInfo,
        without_roles: bool,
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
    /// have nothing left but its indexes.
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
        let list = self.workdir.join(format!(
            "early-{}.list",
            hex::encode(rand::random::<[u8; 6]>())
        ));
        write_list(&list, &lines)?;
        self.pg_restore(
            &format!("--use-list={}", list.display()),
            jobs.clamp(1, lines.len()),
            &format!("indexes of {}.{}", table.schema, table.name),
        )
        .await?;
        tracing::info!(table = %format!("{}.{}", table.schema, table.name), entries = lines.len(), "indexes built right after loading");
        let mut done = self.done.lock().unwrap_or_else(|p| p.into_inner());
        done.extend(
            self.entries
                .iter()
                .filter(|(oid, l)| wanted.contains(oid) && lines.contains(&l.as_str()))
                .map(|(o, _)| *o),
        );
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

    /// Runs pg_restore on the archive for `selection` (`--section=…` or `--use-list=…`).
    async fn pg_restore(&self, selection: &str, jobs: usize, what: &str) -> Result<()> {
        let mut cmd = self.tool.command(&self.target);
        cmd.env(
            "PGOPTIONS",
            "-c synchronous_commit=off -c maintenance_work_mem=256MB",
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
