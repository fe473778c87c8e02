//! A throwaway cluster is cleaned up even when its owner dies without running destructors,
//! as a test binary holding a cluster in a static does.
//!
//! This binary plays both parts: run plainly, it is the test and starts itself again as the
//! owner (`DOPPEL_WATCHDOG_OWNER=1`), which starts a cluster, reports it and exits at once.

use std::io::{BufRead, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use doppel::pg::cluster::{Cluster, ClusterOptions};

fn main() -> ExitCode {
    if std::env::var_os("DOPPEL_WATCHDOG_OWNER").is_some() {
        let cluster = Cluster::start(ClusterOptions::default()).expect("start a cluster");
        println!(
            "OWNER {} {}",
            cluster.port(),
            cluster.data_dir().parent().unwrap().display()
        );
        std::io::stdout().flush().unwrap();
        std::mem::forget(cluster);
        std::process::exit(0);
    }
    match watchdog_cleans_up_after_the_owner_dies() {
        Ok(()) => {
            println!("test watchdog_cleans_up_after_the_owner_dies ... ok\n\ntest result: ok. 1 passed; 0 failed; 0 ignored");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("test watchdog_cleans_up_after_the_owner_dies ... FAILED: {e}\n\ntest result: FAILED. 0 passed; 1 failed; 0 ignored");
            ExitCode::FAILURE
        }
    }
}

fn watchdog_cleans_up_after_the_owner_dies() -> Result<(), String> {
    let mut child = Command::new(std::env::current_exe().map_err(|e| e.to_string())?)
        .env("DOPPEL_WATCHDOG_OWNER", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start the owner: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = mpsc::channel();
    // Reading to EOF proves that nothing left behind (watchdog, postmaster) holds the pipe
    // open; a timeout instead of a hang if something does.
    std::thread::spawn(move || {
        let lines: Vec<String> = std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect();
        let _ = tx.send(lines);
    });
    let lines = rx
        .recv_timeout(Duration::from_secs(120))
        .map_err(|_| "the owner's stdout stayed open: a leftover process holds the pipe")?;
    if !child.wait().map_err(|e| e.to_string())?.success() {
        return Err("the owner failed".into());
    }
    let line = lines
        .iter()
        .find_map(|l| l.strip_prefix("OWNER "))
        .ok_or_else(|| format!("the owner printed no cluster: {lines:?}"))?;
    let (port, root) = line.split_once(' ').ok_or("bad owner line")?;
    let port: u16 = port.parse().map_err(|_| "bad port")?;
    let root = PathBuf::from(root);
    let deadline = Instant::now() + Duration::from_secs(30);
    while root.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    if root.exists() {
        return Err(format!("the watchdog did not remove {}", root.display()));
    }
    if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
        return Err(format!("a server still listens on port {port}"));
    }
    Ok(())
}
