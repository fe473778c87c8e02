//! [`ClusterError`]: everything that can go wrong with a throwaway cluster, each message
//! saying what to do about it.

use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use super::{HOST, MAX_SOCKET_PATH, SERVICE_USER};

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
