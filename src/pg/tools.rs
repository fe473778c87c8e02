//! Finding `pg_dump` and `pg_restore` that can handle the server, and running them with the
//! connection's password in the environment rather than on the command line.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::error::{Error, Result};
use crate::pg::ConnInfo;

/// A located PostgreSQL client program and its version.
#[derive(Debug, Clone)]
pub struct Tool {
    /// Full path of the executable.
    pub path: PathBuf,
    /// Major version it reported (`15` for 15.4).
    pub major: u32,
    /// The version it reported (`15.4`), as the manifest records it.
    pub version: String,
}

/// Finds `name` (pg_dump or pg_restore) of major `need` or newer, the one that best suits a
/// server of major `server`.
///
/// When `pg_bin` (config or `$DOPPEL_PG_BIN`) names a folder, only that folder is used.
/// Otherwise every `/usr/lib/postgresql/*/bin` and the `PATH` are candidates, and the choice
/// is the newest one not newer than `server` (its SQL is the server's own dialect), else the
/// oldest newer one (whose statements doppel then replays, leaving out what the server does
/// not know). A tool older than `need` is refused: it would fail half-way, or silently miss
/// objects it does not know.
pub fn find(name: &str, pg_bin: Option<&Path>, need: u32, server: u32) -> Result<Tool> {
    let env_bin = std::env::var_os("DOPPEL_PG_BIN")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let candidates: Vec<PathBuf> = match pg_bin.map(Path::to_path_buf).or(env_bin) {
        Some(dir) => vec![dir.join(name)],
        None => {
            let mut v: Vec<PathBuf> = std::fs::read_dir(VERSIONED_ROOT)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path().join("bin").join(name))
                .collect();
            v.sort();
            if let Some(path) = std::env::var_os("PATH") {
                v.extend(std::env::split_paths(&path).map(|d| d.join(name)));
            }
            v
        }
    };
    let (found, broken): (Vec<_>, Vec<_>) = candidates
        .iter()
        .filter(|p| p.is_file())
        .map(|p| probe(p))
        .partition(Result::is_ok);
    let found: Vec<Tool> = found.into_iter().flatten().collect();
    if let (true, Some(Err(e))) = (found.is_empty(), broken.into_iter().next()) {
        return Err(e);
    }
    if found.is_empty() {
        return Err(Error::Tool(format!(
            "{name} not found (looked in {}): install the PostgreSQL {need} client (apt-get install postgresql-client-{need}) or set snapshot.pg_bin / DOPPEL_PG_BIN",
            candidates.iter().take(3).map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        )));
    }
    choose(found, need, server).map_err(|newest| {
        let why = if need == server {
            format!("older than the server (PostgreSQL {server})")
        } else {
            format!("too old for this snapshot's schema archive ({name} {need} or newer reads it)")
        };
        Error::Tool(format!(
            "{} is version {}, {why}: install postgresql-client-{need} or point snapshot.pg_bin / DOPPEL_PG_BIN at a newer one",
            newest.path.display(),
            newest.major
        ))
    })
}

/// Where distributions (Debian, Ubuntu) install one `<version>/bin` per PostgreSQL version.
const VERSIONED_ROOT: &str = "/usr/lib/postgresql";

/// The best of `found` for `need` and `server` (see [`find`]), or the newest when every one
/// is too old.
fn choose(found: Vec<Tool>, need: u32, server: u32) -> std::result::Result<Tool, Tool> {
    let usable = || found.iter().filter(|t| t.major >= need);
    let best = usable()
        .filter(|t| t.major <= server)
        .max_by_key(|t| t.major)
        .or_else(|| usable().min_by_key(|t| t.major));
    match best {
        Some(t) => Ok(t.clone()),
        None => Err(found
            .into_iter()
            .max_by_key(|t| t.major)
            .expect("at least one tool")),
    }
}

/// Runs `path --version` and reads its version.
fn probe(path: &Path) -> Result<Tool> {
    let out = std::process::Command::new(path)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Tool(format!("cannot run {}: {e}", path.display())))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let (major, version) = parse_version(&text).ok_or_else(|| {
        Error::Tool(format!(
            "cannot tell the version of {} (it printed {:?})",
            path.display(),
            text.trim()
        ))
    })?;
    Ok(Tool {
        path: path.to_path_buf(),
        major,
        version,
    })
}

/// `pg_dump (PostgreSQL) 15.18 (Debian …)` → (15, "15.18").
pub fn parse_version(version_output: &str) -> Option<(u32, String)> {
    let after = version_output.split(')').nth(1)?.trim_start();
    let version: String = after
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let major = version.split('.').next()?.parse().ok()?;
    Some((major, version.trim_end_matches('.').to_string()))
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
    use super::*;

    #[test]
    fn parses_versions() {
        assert_eq!(
            parse_version("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n"),
            Some((15, "15.18".into()))
        );
        assert_eq!(
            parse_version("pg_restore (PostgreSQL) 9.6.2"),
            Some((9, "9.6.2".into()))
        );
        assert_eq!(
            parse_version("pg_dump (PostgreSQL) 18beta1"),
            Some((18, "18".into()))
        );
        assert_eq!(parse_version("garbage"), None);
    }

    fn tools(majors: &[u32]) -> Vec<Tool> {
        majors
            .iter()
            .map(|&m| Tool {
                path: PathBuf::from(format!("/pg/{m}/pg_restore")),
                major: m,
                version: format!("{m}.1"),
            })
            .collect()
    }

    #[test]
    fn chooses_the_servers_own_dialect_when_it_can() {
        // (installed majors, need, server) → chosen major, or Err(newest) when all are too old.
        type Case<'a> = (&'a [u32], u32, u32, std::result::Result<u32, u32>);
        let cases: &[Case] = &[
            (&[15, 18], 15, 15, Ok(15)),
            (&[15, 18], 13, 13, Ok(15)),
            (&[15, 18], 16, 16, Ok(18)),
            (&[15, 18], 15, 16, Ok(15)),
            (&[15, 16, 18], 15, 17, Ok(16)),
            (&[15, 18], 18, 15, Ok(18)),
            (&[18, 15, 17], 17, 13, Ok(17)),
            (&[14, 15], 16, 16, Err(15)),
        ];
        for (installed, need, server, want) in cases {
            let got = choose(tools(installed), *need, *server)
                .map(|t| t.major)
                .map_err(|t| t.major);
            assert_eq!(
                &got, want,
                "installed {installed:?}, need {need}, server {server}"
            );
        }
    }
}
