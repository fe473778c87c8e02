//! `doppel status`: what each environment holds, since when and how far behind, from the
//! repository's own records.

use crate::common::*;

#[test]
fn status_tells_what_each_environment_holds_and_how_far_behind() {
    let db = fresh_db(source(), "status");
    psql(
        source(),
        &db,
        "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)",
    );
    let copy = unique("status_copy");
    let mut ws = Workspace::new(&[
        ("prod", "production", "PROD_URL"),
        ("copy", "prod-copy", "COPY_URL"),
        ("qa", "qa", "QA_URL"),
    ]);
    ws.set("PROD_URL", &source().url(&db));
    ws.set("COPY_URL", &target().url(&copy));
    ws.set("QA_URL", &target().url(&unique("status_qa")));
    let snap = |ws: &Workspace| -> serde_json::Value {
        serde_json::from_str(&ws.ok(&["snapshot", "--json"])).unwrap()
    };
    let first = snap(&ws);
    ws.ok(&["restore", first["id"].as_str().unwrap(), "--to", "copy"]);
    psql(source(), &db, "INSERT INTO t VALUES (2)");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = snap(&ws);
    let drill: serde_json::Value = serde_json::from_str(&ws.ok(&["drill", "--json"])).unwrap();

    let status: serde_json::Value = serde_json::from_str(&ws.ok(&["status", "--json"])).unwrap();
    let env = |name: &str| env_of(&status, name);
    assert_eq!(status["snapshots"], 2, "{status}");
    let prod = env("prod");
    assert_eq!(prod["role"], "production");
    assert_eq!(prod["series"][0]["series"], "prod/raw", "{prod}");
    assert_eq!(prod["series"][0]["snapshots"], 2, "{prod}");
    assert_eq!(prod["series"][0]["newest"], second["id"], "{prod}");
    assert_eq!(prod["last_drill"]["id"], drill["id"], "{prod}");
    assert_eq!(prod["last_drill"]["passed"], true, "{prod}");

    // copy holds the first snapshot, restored by `doppel restore`, one snapshot behind.
    let copy_env = env("copy");
    let holds = &copy_env["holds"];
    assert_eq!(holds["snapshot"], first["id"], "{copy_env}");
    assert_eq!(holds["series"], "prod/raw");
    assert_eq!(holds["command"], "restore");
    assert_eq!(holds["verify"], "loaded");
    let taken = |s: &serde_json::Value| {
        s["time"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    };
    assert_eq!(
        copy_env["behind_s"].as_i64().unwrap(),
        (taken(&second) - taken(&first)).num_seconds(),
        "{copy_env}"
    );
    assert!(copy_env["behind_s"].as_i64().unwrap() >= 1);
    assert!(env("qa")["holds"].is_null());

    // Production's side: what the repository stores, the schedule, what each tier keeps.
    let added: u64 = [&first, &second]
        .iter()
        .map(|s| {
            ws.manifest(s["id"].as_str().unwrap())["stats"]["bytes_stored_new"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert_eq!(status["storage"]["added_last_day"], added, "{status}");
    let packed: u64 = ws
        .repo_files("packs")
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert_eq!(
        status["storage"]["bytes"], packed,
        "the packs' sizes on disk: {status}"
    );
    assert!(status["schedule"]["daemon"].is_null(), "{status}");
    let scheduled = &status["schedule"]["environments"][0];
    assert_eq!(scheduled["name"], "prod", "{status}");
    assert_eq!(
        scheduled["newest_point"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap(),
        taken(&second),
        "{status}"
    );
    assert_eq!(scheduled["on_schedule"], true, "{status}");
    let tiers = prod["series"][0]["kept_by_tier"].as_array().unwrap();
    assert_eq!(tiers.len(), ws.config().retention.tiers().len(), "{prod}");
    assert!(
        tiers.iter().all(|t| t["kept"].as_u64().unwrap() >= 1),
        "{prod}"
    );
    assert!(status["last_verify"].is_null(), "{status}");
    ws.ok(&["verify", "--all"]);
    let status: serde_json::Value = serde_json::from_str(&ws.ok(&["status", "--json"])).unwrap();
    assert_eq!(status["last_verify"]["snapshots"], 2, "{status}");
    assert_eq!(status["last_verify"]["ok"], true, "{status}");

    let out = ws.run(&["status"]);
    assert!(out.status.success());
    assert_no_secrets(&out);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.contains(&format!(
            "holds {} of prod/raw",
            first["id"].as_str().unwrap()
        )),
        "{text}"
    );
    assert!(text.contains("holds nothing doppel restored"), "{text}");
    assert!(text.contains("last drill"), "{text}");

    // A newer restore into copy is what it holds now: nothing behind.
    ws.ok(&["restore", "latest", "--to", "copy", "--replace"]);
    let status: serde_json::Value = serde_json::from_str(&ws.ok(&["status", "--json"])).unwrap();
    let copy_env = env_of(&status, "copy");
    assert_eq!(copy_env["holds"]["snapshot"], second["id"], "{copy_env}");
    assert_eq!(copy_env["behind_s"], 0, "{copy_env}");
    // The database's own stamp agrees; qa's database does not exist, and says so.
    assert_eq!(copy_env["database"]["snapshot"], second["id"], "{copy_env}");
    assert_eq!(copy_env["database"]["agrees"], true, "{copy_env}");
    assert!(env_of(&status, "qa")["database"]["error"]
        .as_str()
        .is_some_and(|e| e.contains("does not exist")));

    // Someone replaces the database by hand: the repository still records the restore, the
    // database no longer carries the stamp, and status says so.
    psql(target(), "postgres", &format!("DROP DATABASE \"{copy}\""));
    psql(target(), "postgres", &format!("CREATE DATABASE \"{copy}\""));
    let status: serde_json::Value = serde_json::from_str(&ws.ok(&["status", "--json"])).unwrap();
    let copy_env = env_of(&status, "copy");
    assert_eq!(copy_env["holds"]["snapshot"], second["id"], "{copy_env}");
    assert!(copy_env["database"]["stamp"].is_null(), "{copy_env}");
    let text = ws.ok(&["status"]);
    assert!(text.contains("carries no doppel stamp"), "{text}");
    // --offline reads the repository alone.
    let offline: serde_json::Value =
        serde_json::from_str(&ws.ok(&["status", "--offline", "--json"])).unwrap();
    assert!(env_of(&offline, "copy")["database"].is_null());

    // A verify that finds a damaged chunk is remembered: status calls for attention.
    let chunk = ws.manifest(second["id"].as_str().unwrap())["tables"][0]["data"]["chunks"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    ws.flip_chunk_byte(&chunk);
    ws.fails(&["verify", "--all", "--read-data", "100"]);
    let text = ws.ok(&["status", "--offline"]);
    assert!(text.contains("ATTENTION: the last verify"), "{text}");
    assert!(text.contains(second["id"].as_str().unwrap()), "{text}");
}

/// Chromium, headless, on `url` with `args` (`--dump-dom`, `--screenshot=…`): its stdout.
fn chromium(url: &str, args: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .output()
        .expect("chromium not found: install Debian's chromium package");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn the_daemon_serves_the_status_page_a_browser_shows() {
    let db = fresh_db(source(), "status_page");
    psql(
        source(),
        &db,
        "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)",
    );
    let copy = unique("page_copy");
    let mut ws = Workspace::new(&[
        ("prod", "production", "PROD_URL"),
        ("copy", "prod-copy", "COPY_URL"),
    ]);
    ws.set("PROD_URL", &source().url(&db));
    ws.set("COPY_URL", &target().url(&copy));
    let snapshot: serde_json::Value =
        serde_json::from_str(&ws.ok(&["snapshot", "--json"])).unwrap();
    let id = snapshot["id"].as_str().unwrap();
    ws.ok(&["restore", id, "--to", "copy"]);
    let drill: serde_json::Value = serde_json::from_str(&ws.ok(&["drill", "--json"])).unwrap();

    // The same page, written by `status --html`.
    let file = ws.dir.path().join("status.html");
    ws.ok(&["status", "--html", file.to_str().unwrap()]);
    let html = std::fs::read_to_string(&file).unwrap();
    assert!(html.contains(id) && html.contains("<svg"), "{html}");

    let addr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().to_string()
    };
    let mut daemon = ws
        .command(&["schedule", "run", "--listen", &addr])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the daemon");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !http_get(&addr, "/").is_some_and(|r| r.starts_with("HTTP/1.1 200")) {
        assert!(
            std::time::Instant::now() < deadline,
            "no page at http://{addr}/"
        );
        assert!(daemon.try_wait().unwrap().is_none(), "the daemon exited");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let url = format!("http://{addr}/");
    // What a browser renders: the environments, what copy holds, the drill, the pictures.
    let dom = chromium(&url, &["--dump-dom"]);
    for expected in [
        "<h1>doppel status</h1>",
        "<b>prod</b>",
        "<b>copy</b>",
        &format!("<code>{id}</code> of prod/raw"),
        drill["started"]
            .as_str()
            .unwrap_or("")
            .get(..10)
            .unwrap_or(""),
        "Kept snapshots by tier",
        "Recovery drills",
        // The daemon serving the page holds the repository: the schedule names it.
        &format!("pid {}", daemon.id()),
        "prod: newest point",
        // copy's own stamp, read by the daemon as the page is made.
        &format!("database: stamp confirms snapshot {id}; unmodified since"),
    ] {
        assert!(
            dom.contains(expected),
            "the page lacks {expected:?}:\n{dom}"
        );
    }
    assert!(dom.contains("passed"), "{dom}");
    // A screenshot for people to look at, kept with the build's test files.
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page.png");
    let _ = std::fs::remove_file(&shot);
    chromium(
        &url,
        &[
            "--window-size=1280,1400",
            &format!("--screenshot={}", shot.display()),
        ],
    );
    let png = std::fs::read(&shot).expect("the screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{}",
        png.len()
    );
    std::process::Command::new("kill")
        .arg("-TERM")
        .arg(daemon.id().to_string())
        .status()
        .unwrap();
    assert!(daemon.wait().unwrap().success());
}
