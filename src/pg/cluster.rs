//! Throwaway local PostgreSQL clusters.
//!
//! A [`Cluster`] is `initdb` into a fresh temp dir, started on a free port on 127.0.0.1 with
//! settings that trade durability for speed, and torn down by [`Cluster::stop`], by `Drop`,
//! or — when the owning process dies without running destructors, as it does for a cluster
//! kept in a `static` by the integration tests — by a detached watchdog process.
//!
//! Used by the integration tests, by `doppel demo` and by recovery drills. Everything here
//! blocks (it drives `initdb`, `pg_ctl` and `pg_isready` through `std::process`); from async
//! code call it inside `tokio::task::spawn_blocking`.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use rand::Rng;

/// Environment variable naming the directory of the PostgreSQL server binaries to use
/// (the one holding `initdb`, `pg_ctl` and `postgres`); it wins over every other lookup.
pub const BIN_DIR_ENV: &str = "DOPPEL_PG_BIN";

/// The unprivileged system user that runs the server when doppel itself runs as root
/// (`initdb` and `postgres` refuse to run as root).
pub const SERVICE_USER: &str = "doppel-pg";

/// Where distributions (Debian, Ubuntu) install one `<version>/bin` per server version.
const VERSIONED_ROOT: &str = "/usr/lib/postgresql";
const HOST: &str = "127.0.0.1";
const SUPERUSER: &str = "postgres";
const PASSWORD_LEN: usize = 32;
/// Attempts at starting the server, each on a newly picked port: between releasing the probe
/// listener and the postmaster binding, another process can take the port.
const START_ATTEMPTS: u32 = 5;
const PG_CTL_TIMEOUT_SECS: &str = "60";
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const LOG_TAIL_LINES: usize = 40;
/// Settings that `extra_conf` may not override: [`Cluster::host`], [`Cluster::port`] and the
/// socket directory must stay true.
const RESERVED_SETTINGS: [&str; 3] = ["listen_addresses", "port", "unix_socket_directories"];
/// `sun_path` is 108 bytes on Linux, including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;
const INSTALL_HINT: &str =
    "install the PostgreSQL server (Debian/Ubuntu: `apt-get install postgresql`, \
     which provides /usr/lib/postgresql/<version>/bin/initdb) or set DOPPEL_PG_BIN to the \
     directory that holds initdb, pg_ctl and postgres";

/// Why a throwaway cluster could not be found, started, used or stopped. Messages say what
/// failed and what to do about it, and never contain the cluster's password.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No PostgreSQL server binaries were found anywhere we look.
    #[error("PostgreSQL server binaries not found (looked at {searched}): {INSTALL_HINT}")]
    BinariesNotFound {
        /// The places that were tried, for the message.
        searched: String,
    },

    /// A bin directory was named explicitly but lacks a program the cluster needs.
    #[error(
        "{dir} (from {origin}) is not a usable PostgreSQL bin directory: it has no `{missing}`; \
         {INSTALL_HINT}"
    )]
    IncompleteBinDir {
        /// The directory that was named.
        dir: PathBuf,
        /// Who named it: `$DOPPEL_PG_BIN`, `ClusterOptions::bin_dir`, `pg_config --bindir`.
        origin: String,
        /// The program that is missing.
        missing: String,
    },

    /// Running as root, and the unprivileged user for the server could not be had.
    #[error(
        "PostgreSQL refuses to run as root and the unprivileged user `{SERVICE_USER}` could not \
         be set up: {reason}. Create it with `useradd --system --no-create-home --shell \
         /usr/sbin/nologin {SERVICE_USER}`, or run doppel as a non-root user"
    )]
    ServiceUser {
        /// What went wrong (useradd's own message when it failed).
        reason: String,
    },

    /// The cluster's directory cannot be reached by the unprivileged server user.
    #[error(
        "{dir} cannot be reached by the unprivileged user `{SERVICE_USER}` that runs the server \
         ({blocker} is not searchable by it); put throwaway clusters under a directory such as \
         /tmp (ClusterOptions::parent_dir)"
    )]
    UnreachableDir {
        /// The cluster directory.
        dir: PathBuf,
        /// The ancestor that blocks the way.
        blocker: PathBuf,
    },

    /// The Unix socket path would exceed the operating system's limit.
    #[error(
        "the server's Unix socket path under {dir} would be {len} bytes, over the limit of \
         {MAX_SOCKET_PATH}; use a shorter ClusterOptions::parent_dir such as /tmp"
    )]
    SocketPathTooLong {
        /// The socket directory.
        dir: PathBuf,
        /// The length the socket path would have.
        len: usize,
    },

    /// A setting in `ClusterOptions::extra_conf` cannot be written to postgresql.conf.
    #[error("invalid server setting {name:?} in ClusterOptions::extra_conf: {reason}")]
    InvalidSetting {
        /// The setting's name.
        name: String,
        /// Why it was refused.
        reason: String,
    },

    /// A file-system or socket operation failed.
    #[error("could not {action}: {source}")]
    Io {
        /// What was being done, with the path involved.
        action: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// A program could not be started at all.
    #[error("could not run {program}: {source}")]
    Spawn {
        /// The program's path.
        program: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// `initdb` failed.
    #[error("initdb failed ({status}) for {data_dir}:\n{output}")]
    Initdb {
        /// Where the cluster was being created.
        data_dir: PathBuf,
        /// initdb's exit status.
        status: ExitStatus,
        /// initdb's output (stderr then stdout).
        output: String,
    },

    /// The server did not start (after retries on fresh ports when the port was taken).
    #[error(
        "PostgreSQL did not start on {HOST}:{port} (attempts: {attempts}): {reason}\n\
         last lines of the server log:\n{log_tail}"
    )]
    Start {
        /// The port of the last attempt.
        port: u16,
        /// How many attempts were made.
        attempts: u32,
        /// What pg_ctl said.
        reason: String,
        /// The end of the server log for the last attempt (the log itself is removed with
        /// the cluster).
        log_tail: String,
    },

    /// The server started but never accepted connections.
    #[error(
        "PostgreSQL started but did not accept connections on {HOST}:{port} within {waited:?} \
         (pg_isready: {reason})\nlast lines of the server log:\n{log_tail}"
    )]
    NotReady {
        /// The server's port.
        port: u16,
        /// How long we waited.
        waited: Duration,
        /// pg_isready's last answer.
        reason: String,
        /// The end of the server log.
        log_tail: String,
    },

    /// `pg_ctl stop` failed.
    #[error("could not stop the PostgreSQL server in {data_dir} ({status}): {output}")]
    Stop {
        /// The cluster's data directory.
        data_dir: PathBuf,
        /// pg_ctl's exit status.
        status: ExitStatus,
        /// pg_ctl's output.
        output: String,
    },

    /// A client program (psql) run against the cluster failed.
    #[error("{program} failed ({status}): {stderr}")]
    Client {
        /// The program.
        program: String,
        /// Its exit status.
        status: ExitStatus,
        /// Its standard error.
        stderr: String,
    },
}

/// How to create a throwaway cluster. `Default` gives a cluster built with the binaries from
/// [`find_bin_dir`], in a temp dir under /tmp (or `$TMPDIR` when not root).
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// The directory of `initdb`, `pg_ctl` and `postgres`; `None` means [`find_bin_dir`].
    pub bin_dir: Option<PathBuf>,
    /// Extra `postgresql.conf` settings as (name, value), written after doppel's own so they
    /// win; values are quoted for you (e.g. `("shared_buffers", "64MB")`).
    pub extra_conf: Vec<(String, String)>,
    /// Where the cluster's temp dir is created. `None` means /tmp when running as root (the
    /// unprivileged server user must be able to reach it) and the system temp dir otherwise.
    pub parent_dir: Option<PathBuf>,
}

/// The user that runs the server processes; `None` in [`Cluster`] means the current user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RunAs {
    uid: u32,
    gid: u32,
}

/// How `pg_ctl stop` shuts the server down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopMode {
    /// Lets sessions end and checkpoints: the polite way for an explicit stop.
    Fast,
    /// Kills everything at once; the cluster is thrown away, so nothing is lost.
    Immediate,
}

impl StopMode {
    fn as_arg(self) -> &'static str {
        match self {
            StopMode::Fast => "fast",
            StopMode::Immediate => "immediate",
        }
    }
}

/// A running throwaway PostgreSQL server on 127.0.0.1, with superuser `postgres` and a random
/// password, whose data lives in a temp dir that is removed when the cluster is stopped,
/// dropped, or its owning process dies.
pub struct Cluster {
    bin_dir: PathBuf,
    /// `None` once torn down; owns the removal of the whole tree.
    temp: Option<tempfile::TempDir>,
    root: PathBuf,
    data_dir: PathBuf,
    log_path: PathBuf,
    port: u16,
    password: String,
    run_as: Option<RunAs>,
    watchdog: Option<Child>,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("host", &HOST)
            .field("port", &self.port)
            .field("superuser", &SUPERUSER)
            .field("password", &"<redacted>")
            .field("data_dir", &self.data_dir)
            .field("bin_dir", &self.bin_dir)
            .field("run_as", &self.run_as)
            .field("running", &self.temp.is_some())
            .finish()
    }
}

/// Finds the PostgreSQL server binaries: `$DOPPEL_PG_BIN` if set (it must hold initdb,
/// pg_ctl and postgres), else the highest-version `/usr/lib/postgresql/*/bin` that has
/// `initdb`, else `pg_config --bindir`. The error says how to install PostgreSQL.
pub fn find_bin_dir() -> Result<PathBuf, ClusterError> {
    if let Some(dir) = std::env::var_os(BIN_DIR_ENV).filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(dir);
        check_bin_dir(&dir, "$DOPPEL_PG_BIN")?;
        return Ok(dir);
    }
    let mut searched = vec![
        format!("${BIN_DIR_ENV} (unset)"),
        format!("{VERSIONED_ROOT}/*/bin/initdb"),
    ];
    if let Some(dir) = highest_versioned_bin(Path::new(VERSIONED_ROOT)) {
        return Ok(dir);
    }
    match Command::new("pg_config")
        .arg("--bindir")
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => {
            let dir = PathBuf::from(OsStr::from_bytes(out.stdout.trim_ascii_end()));
            if dir.join("initdb").is_file() {
                return Ok(dir);
            }
            searched.push(format!(
                "`pg_config --bindir` = {} (no initdb)",
                dir.display()
            ));
        }
        Ok(_) => searched.push("`pg_config --bindir` (failed)".into()),
        Err(_) => searched.push("`pg_config --bindir` (no pg_config on PATH)".into()),
    }
    Err(ClusterError::BinariesNotFound {
        searched: searched.join(", "),
    })
}

/// The `<version>/bin` under `root` with the highest version that has an `initdb`.
fn highest_versioned_bin(root: &Path) -> Option<PathBuf> {
    let entries = fs::read_dir(root).ok()?;
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name();
            let version = parse_version(name.to_str()?)?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, bin)| bin)
}

/// `"15"` → `[15]`, `"9.6"` → `[9, 6]`; compared numerically so that 10 sorts above 9.6.
fn parse_version(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

fn check_bin_dir(dir: &Path, origin: &str) -> Result<(), ClusterError> {
    for program in ["initdb", "pg_ctl", "postgres"] {
        if !dir.join(program).is_file() {
            return Err(ClusterError::IncompleteBinDir {
                dir: dir.to_path_buf(),
                origin: origin.to_string(),
                missing: program.to_string(),
            });
        }
    }
    Ok(())
}

/// True when the effective uid is 0: what `initdb` and `postgres` check before refusing.
fn running_as_root() -> bool {
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
fn service_user() -> Result<RunAs, ClusterError> {
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
fn check_reachable(dir: &Path, user: RunAs) -> Result<(), ClusterError> {
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

/// A port that was free a moment ago on 127.0.0.1. The listener is released before the server
/// binds, so the caller retries on a fresh port when the bind loses a race.
fn free_port() -> Result<u16, ClusterError> {
    for _ in 0..10 {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| ClusterError::Io {
                action: format!("bind a probe socket on {HOST} to find a free port"),
                source: e,
            })?;
        let port = listener
            .local_addr()
            .map_err(|e| ClusterError::Io {
                action: "read the probe socket's port".into(),
                source: e,
            })?
            .port();
        // Never the default port, so that a stray client default can't hit us or a real server.
        if port != 5432 {
            return Ok(port);
        }
    }
    Err(ClusterError::Io {
        action: format!("find a free port on {HOST}"),
        source: io::Error::other("the OS kept handing out port 5432"),
    })
}

/// Quotes a postgresql.conf value: single quotes, with `'` and `\` escaped.
fn conf_quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('\'');
    for c in value.chars() {
        match c {
            '\'' => quoted.push_str("''"),
            '\\' => quoted.push_str("\\\\"),
            c => quoted.push(c),
        }
    }
    quoted.push('\'');
    quoted
}

fn validate_setting(name: &str, value: &str) -> Result<(), ClusterError> {
    let invalid = |reason: &str| ClusterError::InvalidSetting {
        name: name.to_string(),
        reason: reason.to_string(),
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        return Err(invalid(
            "a setting name has only ASCII letters, digits, '_' and '.'",
        ));
    }
    if RESERVED_SETTINGS
        .iter()
        .any(|reserved| name.eq_ignore_ascii_case(reserved))
    {
        return Err(invalid(
            "the cluster sets it itself: it listens only on 127.0.0.1, on a port it picks, \
             with its socket in the data dir",
        ));
    }
    if value.contains(['\n', '\r', '\0']) {
        return Err(invalid("the value contains a line break or NUL"));
    }
    Ok(())
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
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
fn clear_pg_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.as_bytes().starts_with(b"PG") {
            cmd.env_remove(key);
        }
    }
}

fn random_password() -> String {
    // Alphanumeric only, so it needs no escaping in URLs, pwfiles or environment variables.
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(PASSWORD_LEN)
        .map(char::from)
        .collect()
}

/// Last `n` lines of `text`.
fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn output_text(out: &Output) -> String {
    let mut text = String::from_utf8_lossy(&out.stderr).trim().to_string();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stdout = stdout.trim();
    if !stdout.is_empty() {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(stdout);
    }
    text
}

/// The watchdog's script. It runs as the server's user, so it can run pg_ctl; as that user
/// `kill -0` on a root owner fails with EPERM, hence the /proc fallback. If it cannot observe
/// the owner even at its start (e.g. /proc mounted with hidepid), it gives up rather than
/// destroy a live cluster. It ignores SIGHUP/SIGINT because a Ctrl-C that kills the owner
/// must leave the watchdog alive to clean up.
const WATCHDOG_SCRIPT: &str = r#"trap '' HUP INT
owner=$1 pg_ctl=$2 data=$3 dir=$4
alive() { kill -0 "$owner" 2>/dev/null || [ -d "/proc/$owner" ]; }
alive || exit 0
while alive; do sleep 1; done
if [ -f "$data/postmaster.pid" ]; then
  "$pg_ctl" -D "$data" stop -m immediate -w -t 30
fi
rm -rf "$dir"
"#;

impl Cluster {
    /// Creates and starts a throwaway cluster: initdb into a fresh temp dir, a free port on
    /// 127.0.0.1, and a watchdog that cleans up if this process dies. Blocks until the server
    /// accepts connections. As root, the server runs as [`SERVICE_USER`] (created if
    /// missing).
    pub fn start(opts: ClusterOptions) -> Result<Cluster, ClusterError> {
        Self::start_with_ports(opts, &mut free_port)
    }

    /// [`Cluster::start`] with the port picker as a parameter, so that a test can hand out a
    /// taken port and watch the retry.
    fn start_with_ports(
        opts: ClusterOptions,
        next_port: &mut dyn FnMut() -> Result<u16, ClusterError>,
    ) -> Result<Cluster, ClusterError> {
        let started = Instant::now();
        let bin_dir = match opts.bin_dir {
            Some(dir) => {
                check_bin_dir(&dir, "ClusterOptions::bin_dir")?;
                dir
            }
            None => find_bin_dir()?,
        };
        for (name, value) in &opts.extra_conf {
            validate_setting(name, value)?;
        }
        let run_as = if running_as_root() {
            Some(service_user()?)
        } else {
            None
        };

        let mut parent = match (&opts.parent_dir, run_as) {
            (Some(dir), _) => dir.clone(),
            // $TMPDIR may well be under /root, which the server user cannot enter.
            (None, Some(_)) => PathBuf::from("/tmp"),
            (None, None) => std::env::temp_dir(),
        };
        // ".s.PGSQL.65535" under "<parent>/doppel-pg-XXXXXX/data": keep within sun_path.
        let socket_len =
            |p: &Path| p.as_os_str().len() + "/doppel-pg-XXXXXX/data/.s.PGSQL.65535".len();
        if socket_len(&parent) > MAX_SOCKET_PATH && opts.parent_dir.is_none() {
            parent = PathBuf::from("/tmp");
        }
        if socket_len(&parent) > MAX_SOCKET_PATH {
            return Err(ClusterError::SocketPathTooLong {
                dir: parent.join("doppel-pg-XXXXXX/data"),
                len: socket_len(&parent),
            });
        }

        // tempfile creates the directory with mode 0700.
        let temp = tempfile::Builder::new()
            .prefix("doppel-pg-")
            .tempdir_in(&parent)
            .map_err(|e| ClusterError::Io {
                action: format!("create a temp dir under {}", parent.display()),
                source: e,
            })?;
        let root = temp.path().to_path_buf();
        let mut cluster = Cluster {
            bin_dir,
            data_dir: root.join("data"),
            log_path: root.join("server.log"),
            root,
            temp: Some(temp),
            port: 0,
            password: random_password(),
            run_as,
            watchdog: None,
        };
        // From here on, an error drops `cluster`, which stops whatever was started and
        // removes the directory.
        if let Some(user) = run_as {
            check_reachable(&cluster.root, user)?;
        }
        cluster.give_to_server_user(&cluster.root)?;
        cluster.watchdog = Some(cluster.spawn_watchdog(std::process::id())?);
        cluster.initdb()?;
        cluster.prepare_conf()?;
        cluster.launch(&opts.extra_conf, next_port)?;
        cluster.wait_ready()?;
        tracing::info!(
            port = cluster.port,
            data_dir = %cluster.data_dir.display(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "started throwaway PostgreSQL cluster"
        );
        Ok(cluster)
    }

    /// The address the server listens on: always "127.0.0.1".
    pub fn host(&self) -> &str {
        HOST
    }

    /// The TCP port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The superuser's name: "postgres".
    pub fn superuser(&self) -> &str {
        SUPERUSER
    }

    /// The superuser's password, random per cluster. Required over TCP (scram-sha-256).
    pub fn password(&self) -> &str {
        &self.password
    }

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

    /// The directory of the server binaries this cluster runs (and whose client programs
    /// [`Cluster::client_command`] prefers).
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The cluster's data directory (PGDATA); also the directory of its Unix socket.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server's log file, for diagnosing a test that failed against this cluster.
    pub fn log_path(&self) -> &Path {
        &self.log_path
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

    /// Creates database `name` (UTF8, like the cluster), e.g. one per test.
    pub fn create_database(&self, name: &str) -> Result<(), ClusterError> {
        self.psql(
            "postgres",
            &format!("CREATE DATABASE {}", quote_ident(name)),
        )
        .map(drop)
    }

    /// Stops the server (fast shutdown, immediate if that fails) and removes the temp dir.
    pub fn stop(mut self) -> Result<(), ClusterError> {
        self.teardown(StopMode::Fast)
    }

    /// A command for a server program (initdb, pg_ctl), run as the server's user, in the
    /// cluster's directory (the server user may not be allowed into our cwd, and PostgreSQL
    /// <= 15 programs fail when they cannot resolve it), with stdin closed.
    fn server_command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin_dir.join(program));
        clear_pg_env(&mut cmd);
        cmd.current_dir(&self.root).stdin(Stdio::null());
        if let Some(user) = self.run_as {
            cmd.uid(user.uid).gid(user.gid);
        }
        cmd
    }

    fn run(&self, mut cmd: Command, program: &str) -> Result<Output, ClusterError> {
        cmd.output().map_err(|e| ClusterError::Spawn {
            program: self.bin_dir.join(program).display().to_string(),
            source: e,
        })
    }

    /// Hands a path we created as root to the server's user.
    fn give_to_server_user(&self, path: &Path) -> Result<(), ClusterError> {
        if let Some(user) = self.run_as {
            std::os::unix::fs::lchown(path, Some(user.uid), Some(user.gid)).map_err(|e| {
                ClusterError::Io {
                    action: format!("chown {} to {SERVICE_USER}", path.display()),
                    source: e,
                }
            })?;
        }
        Ok(())
    }

    fn write_file(&self, path: &Path, contents: &str, append: bool) -> Result<(), ClusterError> {
        let io_err = |e| ClusterError::Io {
            action: format!("write {}", path.display()),
            source: e,
        };
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .append(append)
            .truncate(!append)
            .mode(0o600)
            .open(path)
            .map_err(io_err)?;
        file.write_all(contents.as_bytes()).map_err(io_err)?;
        drop(file);
        self.give_to_server_user(path)
    }

    fn spawn_watchdog(&self, owner: u32) -> Result<Child, ClusterError> {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(WATCHDOG_SCRIPT)
            .arg("doppel-pg-watchdog")
            .arg(owner.to_string())
            .arg(self.bin_dir.join("pg_ctl"))
            .arg(&self.data_dir)
            .arg(&self.root)
            // Null stdio: an inherited pipe would keep `cargo test`'s output capture (or any
            // caller reading our stdout) waiting until the watchdog exits.
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .current_dir("/")
            // Its own process group, so that a Ctrl-C sent to the owner's group spares it.
            .process_group(0);
        if let Some(user) = self.run_as {
            cmd.uid(user.uid).gid(user.gid);
        }
        cmd.spawn().map_err(|e| ClusterError::Spawn {
            program: "sh (cluster watchdog)".into(),
            source: e,
        })
    }

    fn initdb(&self) -> Result<(), ClusterError> {
        let pwfile = self.root.join("pwfile");
        self.write_file(&pwfile, &format!("{}\n", self.password), false)?;
        let mut pwfile_arg = OsString::from("--pwfile=");
        pwfile_arg.push(&pwfile);

        let mut result = Ok(());
        // C.UTF-8 gives UTF-8 character classification; plain C sorts the same and exists
        // everywhere, so it is the fallback where the C.UTF-8 locale is not installed.
        for locale in ["C.UTF-8", "C"] {
            let mut cmd = self.server_command("initdb");
            cmd.arg("-D")
                .arg(&self.data_dir)
                .args([
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "-U",
                    SUPERUSER,
                    "--encoding=UTF8",
                    "--no-sync",
                ])
                .arg(&pwfile_arg)
                .arg(format!("--locale={locale}"));
            let out = self.run(cmd, "initdb")?;
            if out.status.success() {
                result = Ok(());
                break;
            }
            let output = self.redact(&output_text(&out));
            result = Err(ClusterError::Initdb {
                data_dir: self.data_dir.clone(),
                status: out.status,
                output: output.clone(),
            });
            if !output.contains("locale") {
                break;
            }
            tracing::debug!(locale, "initdb rejected the locale; trying the next one");
            // initdb cleans up after itself, but make sure the retry starts from nothing.
            if self.data_dir.exists() {
                let _ = fs::remove_dir_all(&self.data_dir);
            }
        }
        let _ = fs::remove_file(&pwfile);
        result
    }

    /// Makes postgresql.conf include doppel.conf, which [`Cluster::write_conf`] rewrites for
    /// each start attempt; being last, it overrides initdb's values.
    fn prepare_conf(&self) -> Result<(), ClusterError> {
        self.write_file(
            &self.data_dir.join("postgresql.conf"),
            "\n# doppel: settings of a throwaway cluster\ninclude 'doppel.conf'\n",
            true,
        )
    }

    fn write_conf(&self, port: u16, extra: &[(String, String)]) -> Result<(), ClusterError> {
        let socket_dir = self.data_dir.to_string_lossy();
        let mut conf = format!(
            "listen_addresses = '{HOST}'\n\
             port = {port}\n\
             unix_socket_directories = {}\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n\
             max_connections = 100\n\
             wal_level = minimal\n\
             max_wal_senders = 0\n",
            conf_quote(&socket_dir),
        );
        for (name, value) in extra {
            conf.push_str(&format!("{name} = {}\n", conf_quote(value)));
        }
        self.write_file(&self.data_dir.join("doppel.conf"), &conf, false)
    }

    /// Starts the server, retrying on a new port when the chosen one was taken meanwhile.
    fn launch(
        &mut self,
        extra: &[(String, String)],
        next_port: &mut dyn FnMut() -> Result<u16, ClusterError>,
    ) -> Result<(), ClusterError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = next_port()?;
            self.port = port;
            self.write_conf(port, extra)?;
            let log_offset = fs::metadata(&self.log_path).map_or(0, |m| m.len());
            let mut cmd = self.server_command("pg_ctl");
            cmd.arg("-D")
                .arg(&self.data_dir)
                .args(["-w", "-t", PG_CTL_TIMEOUT_SECS, "-l"])
                .arg(&self.log_path)
                .arg("start");
            let out = self.run(cmd, "pg_ctl")?;
            if out.status.success() {
                return Ok(());
            }
            // pg_ctl gives up waiting after its timeout but leaves the postmaster running.
            if self.data_dir.join("postmaster.pid").exists() {
                let _ = self.stop_server(StopMode::Immediate);
            }
            let log_tail = self.log_tail(log_offset);
            let port_taken = log_tail.contains("Address already in use")
                || log_tail.contains("could not bind")
                || log_tail.contains("could not create any TCP/IP sockets");
            if port_taken && attempt < START_ATTEMPTS {
                tracing::debug!(
                    port,
                    attempt,
                    "port taken before the server bound it; retrying"
                );
                continue;
            }
            return Err(ClusterError::Start {
                port,
                attempts: attempt,
                reason: self
                    .redact(String::from_utf8_lossy(&out.stderr).trim())
                    .replace('\n', " "),
                log_tail,
            });
        }
    }

    /// Waits until the server accepts connections over TCP, as clients will use it.
    fn wait_ready(&self) -> Result<(), ClusterError> {
        let started = Instant::now();
        let pg_isready = self.bin_dir.join("pg_isready");
        let program = if pg_isready.is_file() {
            pg_isready.into_os_string()
        } else {
            OsString::from("pg_isready")
        };
        let port = self.port.to_string();
        loop {
            let mut cmd = Command::new(&program);
            clear_pg_env(&mut cmd);
            let out = cmd
                .args(["-h", HOST, "-p", &port, "-U", SUPERUSER, "-d", "postgres"])
                .args(["-t", "5"])
                .stdin(Stdio::null())
                .output()
                .map_err(|e| ClusterError::Spawn {
                    program: program.to_string_lossy().into_owned(),
                    source: e,
                })?;
            if out.status.success() {
                return Ok(());
            }
            if started.elapsed() >= READY_TIMEOUT {
                return Err(ClusterError::NotReady {
                    port: self.port,
                    waited: started.elapsed(),
                    reason: output_text(&out),
                    log_tail: self.log_tail(0),
                });
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop_server(&self, mode: StopMode) -> Result<(), ClusterError> {
        let mut cmd = self.server_command("pg_ctl");
        cmd.arg("-D").arg(&self.data_dir).args([
            "stop",
            "-m",
            mode.as_arg(),
            "-w",
            "-t",
            PG_CTL_TIMEOUT_SECS,
        ]);
        let out = self.run(cmd, "pg_ctl")?;
        if out.status.success() {
            Ok(())
        } else {
            Err(ClusterError::Stop {
                data_dir: self.data_dir.clone(),
                status: out.status,
                output: self.redact(&output_text(&out)),
            })
        }
    }

    /// Stops the server, ends the watchdog and removes the directory; idempotent.
    fn teardown(&mut self, mode: StopMode) -> Result<(), ClusterError> {
        let Some(temp) = self.temp.take() else {
            return Ok(());
        };
        let mut failure = None;
        if self.data_dir.join("postmaster.pid").exists() {
            if let Err(err) = self.stop_server(mode) {
                let retried =
                    mode != StopMode::Immediate && self.stop_server(StopMode::Immediate).is_ok();
                if retried {
                    tracing::warn!(error = %err, "fast shutdown failed; stopped immediately");
                } else {
                    // Removing the directory below still ends the server: the postmaster
                    // shuts itself down within a minute once its lock file is gone.
                    failure = Some(err);
                }
            }
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        match temp.close() {
            Ok(()) => {}
            // The watchdog may have got there first.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                failure.get_or_insert(ClusterError::Io {
                    action: format!("remove {}", self.root.display()),
                    source: e,
                });
            }
        }
        match failure {
            None => {
                tracing::debug!(port = self.port, "throwaway cluster removed");
                Ok(())
            }
            Some(err) => Err(err),
        }
    }

    /// The last lines of the server log written after byte `offset`, password redacted.
    fn log_tail(&self, offset: u64) -> String {
        let read = || -> io::Result<String> {
            let mut file = fs::File::open(&self.log_path)?;
            file.seek(SeekFrom::Start(offset))?;
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)?;
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        };
        match read() {
            Ok(text) if text.trim().is_empty() => "(the log is empty)".into(),
            Ok(text) => self.redact(&tail_lines(&text, LOG_TAIL_LINES)),
            Err(e) => format!("(could not read the log: {e})"),
        }
    }

    /// Masks the password wherever it appears, as a last line of defence for text that
    /// ends up in errors and logs.
    fn redact(&self, text: &str) -> String {
        if self.password.is_empty() {
            text.to_string()
        } else {
            text.replace(&self.password, "********")
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Err(err) = self.teardown(StopMode::Immediate) {
            tracing::warn!(error = %err, "could not fully clean up a throwaway cluster");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start() -> Cluster {
        Cluster::start(ClusterOptions::default()).unwrap_or_else(|e| {
            panic!("cannot start a throwaway PostgreSQL cluster: {e}");
        })
    }

    fn psql_raw(cluster: &Cluster, sql: &str, password: Option<&str>) -> Output {
        let mut cmd = cluster.client_command("psql");
        cmd.args(["-X", "-w", "-tAc", sql]).stdin(Stdio::null());
        match password {
            Some(pw) => cmd.env("PGPASSWORD", pw),
            None => cmd.env_remove("PGPASSWORD"),
        };
        cmd.output().expect("run psql")
    }

    #[test]
    fn finds_postgres_or_says_how_to_install_it() {
        let dir = find_bin_dir().unwrap_or_else(|e| panic!("{e}"));
        assert!(dir.join("initdb").is_file(), "{}", dir.display());
        let msg = ClusterError::BinariesNotFound {
            searched: "x".into(),
        }
        .to_string();
        assert!(msg.contains("apt-get install postgresql"), "{msg}");
    }

    #[test]
    fn picks_the_highest_versioned_bin_dir() {
        let root = tempfile::tempdir().unwrap();
        for version in ["9.6", "15", "16", "10", "notaversion", "17"] {
            let bin = root.path().join(version).join("bin");
            fs::create_dir_all(&bin).unwrap();
            // 17 has no initdb (a client-only install), so it must be passed over.
            if version != "17" {
                fs::write(bin.join("initdb"), "").unwrap();
            }
        }
        assert_eq!(
            highest_versioned_bin(root.path()),
            Some(root.path().join("16/bin"))
        );
        assert_eq!(highest_versioned_bin(&root.path().join("nope")), None);
    }

    #[test]
    fn starts_and_answers_psql_over_tcp() {
        let cluster = start();
        let out = psql_raw(&cluster, "select 1", Some(cluster.password()));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");

        assert_eq!(cluster.host(), "127.0.0.1");
        assert_eq!(cluster.superuser(), "postgres");
        assert_ne!(cluster.port(), 5432);
        assert_eq!(
            cluster.psql("postgres", "show server_encoding").unwrap(),
            "UTF8"
        );
        assert_eq!(
            cluster
                .psql("template1", "select pg_encoding_to_char(encoding) from pg_database where datname = 'template0'")
                .unwrap(),
            "UTF8"
        );
        assert_eq!(
            cluster.psql("postgres", "show listen_addresses").unwrap(),
            "127.0.0.1"
        );
        assert_eq!(cluster.psql("postgres", "show fsync").unwrap(), "off");
        assert_eq!(
            cluster.psql("postgres", "show wal_level").unwrap(),
            "minimal"
        );
        assert_eq!(
            cluster
                .psql("postgres", "show unix_socket_directories")
                .unwrap(),
            cluster.data_dir().to_string_lossy()
        );

        cluster.create_database("per test \"db\"").unwrap();
        assert_eq!(
            cluster
                .psql("per test \"db\"", "select current_database()")
                .unwrap(),
            "per test \"db\""
        );
        assert!(cluster
            .url("a b")
            .ends_with(&format!("@127.0.0.1:{}/a%20b", cluster.port())));
        assert_eq!(
            cluster.url("postgres"),
            format!(
                "postgresql://postgres:{}@127.0.0.1:{}/postgres",
                cluster.password(),
                cluster.port()
            )
        );
        let env = cluster.libpq_env();
        for key in ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD"] {
            assert!(env.iter().any(|(k, _)| k == key), "{key} missing");
        }
    }

    #[test]
    fn password_is_enforced_over_tcp() {
        let cluster = start();
        let wrong = psql_raw(&cluster, "select 1", Some("not-the-password"));
        assert!(!wrong.status.success());
        let stderr = String::from_utf8_lossy(&wrong.stderr);
        assert!(
            stderr.contains("password authentication failed"),
            "{stderr}"
        );

        let none = psql_raw(&cluster, "select 1", None);
        assert!(!none.status.success());
    }

    #[test]
    fn two_clusters_run_at_once_with_different_identities() {
        let (a, b) = thread::scope(|s| {
            let a = s.spawn(start);
            let b = s.spawn(start);
            (a.join().unwrap(), b.join().unwrap())
        });
        assert_ne!(a.port(), b.port());
        assert_ne!(a.data_dir(), b.data_dir());
        let id = |c: &Cluster| {
            c.psql(
                "postgres",
                "select system_identifier from pg_control_system()",
            )
            .unwrap()
        };
        let (ida, idb) = (id(&a), id(&b));
        assert!(!ida.is_empty() && ida.parse::<u64>().is_ok(), "{ida:?}");
        assert_ne!(ida, idb);
        // Each password works only on its own cluster.
        assert!(!psql_raw(&a, "select 1", Some(b.password()))
            .status
            .success());
        a.stop().unwrap();
        b.stop().unwrap();
    }

    #[test]
    fn stop_removes_the_data_dir_and_frees_the_port() {
        let cluster = start();
        let data = cluster.data_dir().to_path_buf();
        let root = data.parent().unwrap().to_path_buf();
        let port = cluster.port();
        assert!(data.join("PG_VERSION").is_file());
        cluster.stop().unwrap();
        assert!(!data.exists());
        assert!(!root.exists());
        assert!(std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err());
    }

    #[test]
    fn drop_removes_the_data_dir() {
        let cluster = start();
        let root = cluster.data_dir().parent().unwrap().to_path_buf();
        drop(cluster);
        assert!(!root.exists());
    }

    #[test]
    fn debug_and_errors_never_show_the_password() {
        let cluster = start();
        let debug = format!("{cluster:?}");
        assert!(!debug.contains(cluster.password()), "{debug}");
        assert!(debug.contains(&cluster.port().to_string()));
        assert_eq!(cluster.password().len(), PASSWORD_LEN);

        let bad = cluster.psql("postgres", &format!("select '{}'::int", cluster.password()));
        let msg = bad.unwrap_err().to_string();
        assert!(!msg.contains(cluster.password()), "{msg}");
    }

    #[test]
    fn extra_conf_is_applied_and_validated() {
        let cluster = Cluster::start(ClusterOptions {
            extra_conf: vec![
                ("work_mem".into(), "7MB".into()),
                ("cluster_name".into(), "it's \\ quoted".into()),
            ],
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cluster.psql("postgres", "show work_mem").unwrap(), "7MB");
        assert_eq!(
            cluster.psql("postgres", "show cluster_name").unwrap(),
            "it's \\ quoted"
        );

        for (name, value) in [
            ("work_mem = 1\nfsync", "on"),
            ("Port", "5432"),
            ("work_mem", "1\n"),
        ] {
            let err = Cluster::start(ClusterOptions {
                extra_conf: vec![(name.into(), value.into())],
                ..Default::default()
            })
            .unwrap_err();
            assert!(matches!(err, ClusterError::InvalidSetting { .. }), "{err}");
        }
    }

    #[test]
    fn retries_on_a_new_port_when_the_port_is_taken() {
        let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let taken_port = taken.local_addr().unwrap().port();
        let mut handed_out = Vec::new();
        let mut picker = || {
            let port = if handed_out.is_empty() {
                taken_port
            } else {
                free_port()?
            };
            handed_out.push(port);
            Ok(port)
        };
        let cluster = Cluster::start_with_ports(ClusterOptions::default(), &mut picker)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(handed_out.len(), 2, "{handed_out:?}");
        assert_eq!(cluster.port(), handed_out[1]);
        assert_eq!(cluster.psql("postgres", "select 1").unwrap(), "1");
        drop(taken);
    }

    #[test]
    fn gives_up_after_a_few_taken_ports_with_the_log() {
        let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = taken.local_addr().unwrap().port();
        let err =
            Cluster::start_with_ports(ClusterOptions::default(), &mut || Ok(port)).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(
                err,
                ClusterError::Start {
                    attempts: START_ATTEMPTS,
                    ..
                }
            ),
            "{msg}"
        );
        assert!(msg.contains("Address already in use"), "{msg}");
    }

    #[test]
    fn an_incomplete_bin_dir_is_refused_with_install_advice() {
        let empty = tempfile::tempdir().unwrap();
        let err = Cluster::start(ClusterOptions {
            bin_dir: Some(empty.path().to_path_buf()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            matches!(err, ClusterError::IncompleteBinDir { .. }),
            "{err}"
        );
        assert!(
            err.to_string().contains("apt-get install postgresql"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_setting_fails_start_with_the_server_log() {
        let err = Cluster::start(ClusterOptions {
            extra_conf: vec![("no_such_setting_xyz".into(), "1".into())],
            ..Default::default()
        })
        .unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ClusterError::Start { .. }), "{msg}");
        assert!(msg.contains("no_such_setting_xyz"), "{msg}");
    }

    #[test]
    fn cluster_can_live_in_a_static() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Cluster>();
    }
}
