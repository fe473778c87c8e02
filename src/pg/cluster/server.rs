//! Running the server: initdb, pg_ctl start with retries on a taken port, waiting until it
//! accepts connections, and stopping it and removing its directory.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::client::clear_pg_env;
use super::{Cluster, ClusterError, HOST, SERVICE_USER, SUPERUSER};

/// Attempts at starting the server, each on a newly picked port: between releasing the probe
/// listener and the postmaster binding, another process can take the port.
pub(super) const START_ATTEMPTS: u32 = 5;
const PG_CTL_TIMEOUT_SECS: &str = "60";
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const LOG_TAIL_LINES: usize = 40;

/// How `pg_ctl stop` shuts the server down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StopMode {
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

impl Cluster {
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
    pub(super) fn give_to_server_user(&self, path: &Path) -> Result<(), ClusterError> {
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

    /// Writes a file only the server's user may read (it may hold the password), owned by
    /// that user.
    pub(super) fn write_file(
        &self,
        path: &Path,
        contents: &str,
        append: bool,
    ) -> Result<(), ClusterError> {
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

    /// Creates the data directory, with the superuser's password passed in a file that is
    /// removed afterwards (never on a command line).
    pub(super) fn initdb(&self) -> Result<(), ClusterError> {
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

    /// Starts the server, retrying on a new port when the chosen one was taken meanwhile.
    pub(super) fn launch(
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
            let out = self.pg_ctl_start()?;
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

    /// `pg_ctl start` on the configured port, waiting until it is up; the caller reads the
    /// outcome.
    fn pg_ctl_start(&self) -> Result<Output, ClusterError> {
        let mut cmd = self.server_command("pg_ctl");
        cmd.arg("-D")
            .arg(&self.data_dir)
            .args(["-w", "-t", PG_CTL_TIMEOUT_SECS, "-l"])
            .arg(&self.log_path)
            .arg("start");
        self.run(cmd, "pg_ctl")
    }

    /// Stops the server as a crash would (immediate mode: no shutdown checkpoint, so what
    /// was not yet checkpointed, such as a replication slot's position, is recovered from
    /// the last checkpoint) and starts it again on the same port with its data.
    pub fn crash_and_restart(&self) -> Result<(), ClusterError> {
        self.stop_server(StopMode::Immediate)?;
        let log_offset = fs::metadata(&self.log_path).map_or(0, |m| m.len());
        let out = self.pg_ctl_start()?;
        if !out.status.success() {
            return Err(ClusterError::Start {
                port: self.port,
                attempts: 1,
                reason: self
                    .redact(String::from_utf8_lossy(&out.stderr).trim())
                    .replace('\n', " "),
                log_tail: self.log_tail(log_offset),
            });
        }
        self.wait_ready()
    }

    /// Waits until the server accepts connections over TCP, as clients will use it.
    pub(super) fn wait_ready(&self) -> Result<(), ClusterError> {
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
    pub(super) fn teardown(&mut self, mode: StopMode) -> Result<(), ClusterError> {
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
