//! Reaching the cluster as a client: its URL, the libpq environment, client programs (psql,
//! pg_dump, ...) aimed at it.

use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};

use super::{Cluster, ClusterError, HOST, SUPERUSER};

impl Cluster {
    /// A connection URL for `dbname` as the superuser:
    /// `postgresql://postgres:PW@127.0.0.1:PORT/dbname` (dbname percent-encoded).
    pub fn url(&self, dbname: &str) -> String {
        format!(
            "postgresql://{SUPERUSER}:{}@{HOST}:{}/{}",
            self.password,
            self.port,
            percent_encode(dbname)
        )
    }

    /// Environment for libpq child processes (psql, pg_dump, pg_restore) to reach this
    /// cluster as the superuser: PGHOST, PGPORT, PGUSER, PGPASSWORD, plus PGDATABASE=postgres
    /// and PGSSLMODE=disable so that the caller's environment cannot change where they go.
    pub fn libpq_env(&self) -> Vec<(String, String)> {
        vec![
            ("PGHOST".into(), HOST.into()),
            ("PGPORT".into(), self.port.to_string()),
            ("PGUSER".into(), SUPERUSER.into()),
            ("PGPASSWORD".into(), self.password.clone()),
            ("PGDATABASE".into(), "postgres".into()),
            ("PGSSLMODE".into(), "disable".into()),
        ]
    }

    /// A `Command` for a PostgreSQL client program (`psql`, `pg_dump`, `pg_restore`, …) aimed
    /// at this cluster: the one in [`Cluster::bin_dir`] if present, else from PATH, with the
    /// caller's `PG*` variables removed and [`Cluster::libpq_env`] set.
    pub fn client_command(&self, program: &str) -> Command {
        let local = self.bin_dir.join(program);
        let mut cmd = if local.is_file() {
            Command::new(local)
        } else {
            Command::new(program)
        };
        clear_pg_env(&mut cmd);
        cmd.envs(self.libpq_env());
        cmd
    }

    /// Runs `sql` with `psql` in `dbname` and returns its unaligned, tuples-only output
    /// without the final newline: a quick way for tests and the demo to set up or inspect.
    pub fn psql(&self, dbname: &str, sql: &str) -> Result<String, ClusterError> {
        let out = self
            .client_command("psql")
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
            // Not `-d`: psql would parse a dbname containing '=' as a connection string.
            .env("PGDATABASE", dbname)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| ClusterError::Spawn {
                program: "psql".into(),
                source: e,
            })?;
        if !out.status.success() {
            return Err(ClusterError::Client {
                program: "psql".into(),
                status: out.status,
                stderr: self.redact(String::from_utf8_lossy(&out.stderr).trim()),
            });
        }
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.ends_with('\n') {
            text.pop();
        }
        Ok(text)
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters, for a URL path segment.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Removes every inherited `PG*` variable: a PGDATABASE, PGSSLMODE, PGSERVICE or PGOPTIONS
/// from the caller's environment would otherwise redirect or alter our connections.
pub(super) fn clear_pg_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.as_bytes().starts_with(b"PG") {
            cmd.env_remove(key);
        }
    }
}
