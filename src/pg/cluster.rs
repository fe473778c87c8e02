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

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Instant;

use rand::Rng;

use crate::catalog::quote_ident;

mod binaries;
mod client;
mod conf;
mod error;
mod server;
mod service_user;
mod watchdog;

pub use binaries::{find_bin_dir, BIN_DIR_ENV};
pub use error::ClusterError;
pub use service_user::SERVICE_USER;

use binaries::check_bin_dir;
use conf::validate_setting;
use server::StopMode;
use service_user::{check_reachable, running_as_root, service_user, RunAs};

const HOST: &str = "127.0.0.1";
const SUPERUSER: &str = "postgres";
const PASSWORD_LEN: usize = 32;
/// `sun_path` is 108 bytes on Linux, including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

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

fn random_password() -> String {
    // Alphanumeric only, so it needs no escaping in URLs, pwfiles or environment variables.
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(PASSWORD_LEN)
        .map(char::from)
        .collect()
}

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
mod tests;
