//! Finding `pg_dump` and `pg_restore` that can handle the server, and running them with the
//! connection's password in the environment rather than on the command line.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::error::{Error, Result};
use crate::pg::ConnInfo;

/// A located PostgreSQL client program and its major version.
#[derive(Debug, Clone)]
pub struct Tool {
    /// Full path of the executable.
    pub path: PathBuf,
    /// Major version it reported (`15` for 15.4).
    pub major: u32,
}

/// Finds `name` (pg_dump or pg_restore) able to work with a server of `server_major`.
///
/// Looks in `pg_bin` (config or `$DOPPEL_PG_BIN`) when given, else in the Debian/Ubuntu folder
/// for the server's major version, else on `PATH`. Refuses a tool older than the server: it
/// would fail half-way, or silently miss objects it does not know.
pub fn find(name: &str, pg_bin: Option<&Path>, server_major: u32) -> Result<Tool> {
    let env_bin = std::env::var_os("DOPPEL_PG_BIN").map(PathBuf::from);
    let candidates: Vec<PathBuf> = match pg_bin.map(Path::to_path_buf).or(env_bin) {
        Some(dir) => vec![dir.join(name)],
        None => {
            let mut v = vec![PathBuf::from(format!(
                "/usr/lib/postgresql/{server_major}/bin/{name}"
            ))];
            if let Some(path) = std::env::var_os("PATH") {
                v.extend(std::env::split_paths(&path).map(|d| d.join(name)));
            }
            v
        }
    };
    let path = candidates.iter().find(|p| p.is_file()).ok_or_else(|| {
        Error::Tool(format!(
            "{name} not found (looked in {}): install the PostgreSQL {server_major} client (apt-get install postgresql-client-{server_major}) or set snapshot.pg_bin / DOPPEL_PG_BIN",
            candidates.iter().take(3).map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        ))
    })?;
    let out = std::process::Command::new(path)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Tool(format!("cannot run {}: {e}", path.display())))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let major = parse_major(&text).ok_or_else(|| {
        Error::Tool(format!(
            "cannot tell the version of {} (it printed {:?})",
            path.display(),
            text.trim()
        ))
    })?;
    if major < server_major {
        return Err(Error::Tool(format!(
            "{} is version {major}, older than the server (PostgreSQL {server_major}): install postgresql-client-{server_major} or point snapshot.pg_bin / DOPPEL_PG_BIN at a newer one",
            path.display()
        )));
    }
    Ok(Tool {
        path: path.clone(),
        major,
    })
}

/// `pg_dump (PostgreSQL) 15.18 (Debian …)` → 15.
pub fn parse_major(version_output: &str) -> Option<u32> {
    let after = version_output.split(')').nth(1)?.trim_start();
    let digits: String = after.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

impl Tool {
    /// A command for this tool, connected to `conn` through the environment.
    pub fn command(&self, conn: &ConnInfo) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(&self.path);
        cmd.envs(conn.child_env())
            .env(
                "PGCONNECT_TIMEOUT",
                conn.connect_timeout.unwrap_or(30).to_string(),
            )
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    }
}

/// Runs a prepared command, returning stdout, or an error with the tool's stderr.
pub async fn run(mut cmd: tokio::process::Command, what: &str) -> Result<Vec<u8>> {
    let out = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .map_err(|e| Error::Tool(format!("cannot start {what}: {e}")))?;
    if !out.status.success() {
        return Err(Error::Tool(format!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(out.stdout)
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_versions() {
        assert_eq!(
            super::parse_major("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n"),
            Some(15)
        );
        assert_eq!(super::parse_major("pg_restore (PostgreSQL) 9.6.2"), Some(9));
        assert_eq!(super::parse_major("garbage"), None);
    }
}
