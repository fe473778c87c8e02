//! The watchdog: a detached process that removes the cluster when its owner dies without
//! running destructors (a cluster kept in a `static`, a killed process).

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use super::{Cluster, ClusterError};

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
    /// Starts the watchdog for this cluster, watching process `owner`.
    pub(super) fn spawn_watchdog(&self, owner: u32) -> Result<Child, ClusterError> {
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
}
