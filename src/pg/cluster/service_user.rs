//! The unprivileged user that runs the server when doppel runs as root, since `initdb` and
//! `postgres` refuse to run as root.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::ClusterError;

/// The unprivileged system user that runs the server when doppel itself runs as root
/// (`initdb` and `postgres` refuse to run as root).
pub const SERVICE_USER: &str = "doppel-pg";

/// The user that runs the server processes; `None` in [`Cluster`] means the current user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RunAs {
    pub(super) uid: u32,
    pub(super) gid: u32,
}

/// True when the effective uid is 0: what `initdb` and `postgres` check before refusing.
pub(super) fn running_as_root() -> bool {
    if let Ok(status) = fs::read_to_string("/proc/self/status") {
        // "Uid:\treal\teffective\tsaved\tfs"
        if let Some(euid) = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
        {
            return euid == "0";
        }
    }
    Command::new("id")
        .arg("-u")
        .stdin(Stdio::null())
        .output()
        .map(|o| o.status.success() && o.stdout.trim_ascii_end() == b"0")
        .unwrap_or(false)
}

/// The uid/gid of [`SERVICE_USER`], creating the user if it is missing.
///
/// Parallel useradd runs do not exclude one another: eight at once here all exited 0, each
/// writing its own uid to /etc/passwd in turn, so a server could be started under a uid that
/// a moment later no longer existed ("could not look up effective user ID"). Creators (threads
/// and processes alike) therefore take an exclusive lock on the /etc directory itself, which
/// exists everywhere and, unlike /etc/passwd, is never replaced by a rename.
pub(super) fn service_user() -> Result<RunAs, ClusterError> {
    static CACHE: OnceLock<RunAs> = OnceLock::new();
    if let Some(ids) = CACHE.get() {
        return Ok(*ids);
    }
    if let Some(ids) = lookup_user(SERVICE_USER)? {
        return Ok(*CACHE.get_or_init(|| ids));
    }
    let lock = fs::File::open("/etc").and_then(|dir| dir.lock().map(|()| dir));
    if let Err(e) = &lock {
        tracing::warn!(error = %e, "could not lock /etc; creating the user unserialized");
    }
    // Another process may have created the user while we waited for the lock.
    if let Some(ids) = lookup_user(SERVICE_USER)? {
        return Ok(*CACHE.get_or_init(|| ids));
    }
    tracing::info!(
        user = SERVICE_USER,
        "creating a system user to run PostgreSQL"
    );
    let out = Command::new("useradd")
        .args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
        ])
        .arg(SERVICE_USER)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| ClusterError::ServiceUser {
            reason: format!("could not run useradd: {e}"),
        })?;
    let found = lookup_user(SERVICE_USER)?;
    drop(lock);
    match found {
        Some(ids) => Ok(*CACHE.get_or_init(|| ids)),
        None if !out.status.success() => Err(ClusterError::ServiceUser {
            reason: format!(
                "useradd failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        }),
        None => Err(ClusterError::ServiceUser {
            reason: "useradd succeeded but the user cannot be looked up".into(),
        }),
    }
}

/// uid and gid of `name` from `getent passwd` (which also sees NSS sources), or from
/// /etc/passwd where getent is missing.
fn lookup_user(name: &str) -> Result<Option<RunAs>, ClusterError> {
    let passwd = match Command::new("getent")
        .args(["passwd", name])
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
        // getent exits 2 for "no such key".
        Ok(_) => return Ok(None),
        Err(_) => fs::read_to_string("/etc/passwd").map_err(|e| ClusterError::Io {
            action: "read /etc/passwd".into(),
            source: e,
        })?,
    };
    Ok(passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        if fields.next()? != name {
            return None;
        }
        let _password = fields.next()?;
        let uid = fields.next()?.parse().ok()?;
        let gid = fields.next()?.parse().ok()?;
        Some(RunAs { uid, gid })
    }))
}

/// Every ancestor of `dir` must be searchable by `user` for the server to reach its data.
/// Approximates the kernel's check by mode bits (ACLs aside), which is enough to turn a
/// cryptic initdb "Permission denied" into a message that says what to change.
pub(super) fn check_reachable(dir: &Path, user: RunAs) -> Result<(), ClusterError> {
    for ancestor in dir.ancestors().skip(1) {
        let Ok(meta) = fs::metadata(ancestor) else {
            continue;
        };
        let mode = meta.mode();
        let searchable = if meta.uid() == user.uid {
            mode & 0o100 != 0
        } else if meta.gid() == user.gid {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if !searchable {
            return Err(ClusterError::UnreachableDir {
                dir: dir.to_path_buf(),
                blocker: ancestor.to_path_buf(),
            });
        }
    }
    Ok(())
}
