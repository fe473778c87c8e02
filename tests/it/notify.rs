//! Alerts: the daemon posts a JSON alert to `[notify] webhook` when a snapshot fails, retries
//! when the receiver fails, and never sends a password.

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use doppel::config::Config;

use crate::common::*;

/// A webhook receiver on a free port: it answers 500 to the first call, 200 to the others,
/// and keeps every body.
fn receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let mut all = seen.lock().unwrap();
            all.push(String::from_utf8_lossy(&body).to_string());
            let status = if all.len() == 1 {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    (addr, bodies)
}

#[test]
fn a_failed_snapshot_is_posted_to_the_webhook_retried_and_without_the_password() {
    let (addr, bodies) = receiver();
    let ws = Workspace::new(&[("prod", "production", "PROD_URL")]);
    let secret = "hunter2-not-for-alerts";
    let url = format!(
        "postgresql://postgres:{secret}@127.0.0.1:{}/no_such_database",
        source().port()
    );
    let path = ws.dir.path().join("doppel.toml");
    let text = format!(
        "{}\n[snapshot]\npg_bin = \"{}\"\n\n[notify]\nwebhook = \"${{HOOK}}\"\n",
        std::fs::read_to_string(&path).unwrap(),
        source().bin_dir().display()
    );
    let hook = format!("http://{addr}/alerts/token-in-path");
    let config = Config::parse(&path, &text, &|var| match var {
        "PROD_URL" => Some(url.clone()),
        "HOOK" => Some(hook.clone()),
        _ => None,
    })
    .expect("config");
    let start: DateTime<Utc> = "2030-01-01T00:00:00Z".parse().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let metrics = simulated_daemon(&config, start, start + TimeDelta::seconds(1)).await;
        assert!(metrics.render().contains("doppel_failures_total 1\n"));
        // Delivered in the background: the receiver failed the first call, so a second one
        // follows after a pause.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while bodies.lock().unwrap().len() < 2 {
            assert!(
                std::time::Instant::now() < deadline,
                "no retry reached the receiver"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let bodies = bodies.lock().unwrap().clone();
    assert_eq!(
        bodies.len(),
        2,
        "delivered once the receiver accepted: {bodies:?}"
    );
    assert_eq!(bodies[0], bodies[1], "the retry sends the same alert");
    let alert: serde_json::Value = serde_json::from_str(&bodies[1]).unwrap();
    assert_eq!(alert["source"], "doppel");
    assert_eq!(alert["kind"], "snapshot_failed", "{alert}");
    assert_eq!(alert["environment"], "prod", "{alert}");
    let message = alert["message"].as_str().unwrap();
    assert!(message.contains("no_such_database"), "{message}");
    assert!(
        !bodies[1].contains(secret),
        "a password reached the webhook: {alert}"
    );
}
