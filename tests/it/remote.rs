//! Repositories on S3 (a real SeaweedFS) and encrypted repositories, the way a user runs
//! them: snapshot, restore, verify, copy; wrong or missing keys and credentials; the server
//! stopping in the middle of a snapshot.

use std::time::{Duration, Instant};

use bytes::Bytes;
use doppel::store::Store;

use crate::common::*;
use crate::seaweed::{self, server, Seaweed};

const REPO_SECRET: &str = "correct horse battery staple 2026";

fn pii_db() -> String {
    let db = fresh_db(source(), "remote");
    load_file(source(), &db, &fixtures().join("pii.sql"));
    db
}

/// A workspace whose repository is `prefix` in the test bucket of `srv`, encrypted.
fn s3_workspace(srv: &Seaweed, db: &str, prefix: &str) -> Workspace {
    let mut ws = Workspace::with_source(db);
    ws.use_repository(&format!(
        "url = \"{}\"\nencryption = {{ key_env = \"DOPPEL_REPO_KEY\" }}\npack_size = \"1MiB\"",
        srv.url(prefix)
    ));
    ws.set("DOPPEL_REPO_KEY", REPO_SECRET);
    ws.set("AWS_ACCESS_KEY_ID", seaweed::ACCESS_KEY);
    ws.set("AWS_SECRET_ACCESS_KEY", seaweed::SECRET_KEY);
    ws.set("AWS_EC2_METADATA_DISABLED", "true");
    ws
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

/// Every object under `prefix`, with its bytes (objects deleted meanwhile, such as another
/// process's probe or lock, are left out).
fn objects(srv: &Seaweed, prefix: &str) -> Vec<(String, Bytes)> {
    rt().block_on(async {
        let store = srv.store(prefix).await.unwrap();
        let mut out = Vec::new();
        for k in store.list("").await.unwrap() {
            match store.get(&k).await {
                Ok(b) => out.push((k, b)),
                Err(doppel::store::StoreError::NotFound(_)) => {}
                Err(e) => panic!("{e}"),
            }
        }
        out
    })
}

/// Personal values of the fixture, whole (a 3-byte marker alone would turn up by chance in
/// megabytes of ciphertext).
fn personal_values(db: &str) -> Vec<String> {
    psql(
        source(),
        db,
        "SELECT string_agg(v, E'\\n') FROM (SELECT email AS v FROM app.people UNION ALL \
         SELECT username FROM app.people UNION ALL SELECT phone FROM app.people WHERE phone IS NOT NULL) s",
    )
    .lines()
    .filter(|l| l.len() >= 8)
    .map(str::to_string)
    .collect()
}

/// Fails when any stored object (locks aside) holds one of `needles`.
fn assert_no_plaintext(srv: &Seaweed, prefix: &str, needles: &[String]) {
    let stored = objects(srv, prefix);
    assert!(!stored.is_empty());
    for (key, bytes) in &stored {
        if key.starts_with("locks/") {
            continue;
        }
        for n in needles {
            assert!(
                !bytes.windows(n.len()).any(|w| w == n.as_bytes()),
                "object {key} holds plaintext {n:?}"
            );
        }
    }
}

fn summary(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn an_encrypted_s3_repository_round_trips_and_stores_no_plaintext() {
    let srv = server();
    let db = pii_db();
    let prefix = unique("enc");
    let ws = s3_workspace(srv, &db, &prefix);
    let first = summary(&ws.ok(&["snapshot", "--json"]));
    let id = first["id"].as_str().unwrap().to_string();

    // Every stored byte: no personal value, no password, no secret, no table name.
    let mut needles = personal_values(&db);
    assert!(needles.len() > 100, "{needles:?}");
    needles.extend([source().password(), REPO_SECRET, "people", "sessions"].map(str::to_string));
    assert_no_plaintext(srv, &prefix, &needles);
    // The same snapshot unencrypted shows them: the scan can find what it looks for.
    let control_prefix = unique("plain");
    let control = s3_workspace(srv, &db, &control_prefix);
    let config = control.dir.path().join("doppel.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("encryption = { key_env = \"DOPPEL_REPO_KEY\" }\n", ""),
    )
    .unwrap();
    control.ok(&["snapshot"]);
    let plain = objects(srv, &control_prefix);
    let found = |n: &String| {
        plain
            .iter()
            .any(|(_, b)| b.windows(n.len()).any(|w| w == n.as_bytes()))
    };
    assert!(
        found(&"people".to_string()),
        "the control repository shows no table name"
    );
    let leaked = needles.iter().filter(|n| found(n)).count();
    // Compression hides most values even without encryption; some stay whole.
    assert!(leaked >= 1, "no value visible in the unencrypted control");
    let stored = objects(srv, &prefix);
    // Few objects: packs and their indexes, the header, the manifest.
    let packs = stored
        .iter()
        .filter(|(k, _)| k.starts_with("packs/"))
        .count();
    let indexes = stored
        .iter()
        .filter(|(k, _)| k.starts_with("index/"))
        .count();
    assert!(
        packs >= 1 && packs == indexes,
        "{packs} packs, {indexes} indexes"
    );
    assert!(stored.len() <= packs * 2 + 3, "{} objects", stored.len());

    let restored = ws.restore_verified(&id, "from_s3");
    assert_same_database((source(), &db), (target(), &restored));
    let v = summary(&ws.ok(&["verify", "--read-data", "--json"]));
    assert_eq!(v["ok"], true, "{v}");

    // An unchanged second snapshot uploads almost nothing.
    let second = summary(&ws.ok(&["snapshot", "--json"]));
    let new_bytes = second["bytes_stored_new"].as_u64().unwrap();
    assert!(
        new_bytes < 64 * 1024,
        "unchanged snapshot stored {new_bytes} bytes"
    );

    // Wrong key, no key, wrong credentials: clear refusals that show no secret.
    let out = ws.run_with(
        &["list"],
        &[("DOPPEL_REPO_KEY", "not the right secret at all")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("wrong key"), "{err}");
    assert!(!err.contains("not the right secret"), "{err}");
    let mut no_key = s3_workspace(srv, &db, &prefix);
    no_key.vars.remove("DOPPEL_REPO_KEY");
    let err = no_key.fails(&["list"]);
    assert!(
        err.contains("$DOPPEL_REPO_KEY") && err.contains("not set"),
        "{err}"
    );
    let out = ws.run_with(
        &["list"],
        &[("AWS_SECRET_ACCESS_KEY", "wrong-secret-value")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("access denied")
            || err.contains("SignatureDoesNotMatch")
            || err.contains("AccessDenied"),
        "{err}"
    );
    assert!(
        !err.contains("wrong-secret-value") && !err.contains(seaweed::SECRET_KEY),
        "{err}"
    );
    // The same repository without encryption configured is refused, not read as plaintext.
    let plain = Workspace::with_source(&db);
    plain.use_repository(&format!("url = \"{}\"", srv.url(&prefix)));
    let mut plain = plain;
    plain.set("AWS_ACCESS_KEY_ID", seaweed::ACCESS_KEY);
    plain.set("AWS_SECRET_ACCESS_KEY", seaweed::SECRET_KEY);
    let err = plain.fails(&["list"]);
    assert!(err.contains("is encrypted"), "{err}");
}

#[test]
fn a_stopped_s3_server_fails_the_snapshot_cleanly_and_the_next_one_succeeds() {
    let srv = Seaweed::launch();
    let db = fresh_db(source(), "s3_outage");
    psql(
        source(),
        &db,
        "CREATE TABLE big AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS payload FROM generate_series(1, 600000) g",
    );
    let prefix = unique("outage");
    let ws = s3_workspace(&srv, &db, &prefix);
    let mut child = ws
        .command(&["snapshot", "-j", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while objects(&srv, &prefix)
        .iter()
        .filter(|(k, _)| k.starts_with("packs/"))
        .count()
        < 2
    {
        assert!(Instant::now() < deadline, "the snapshot uploaded no packs");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the snapshot finished before the server could be stopped"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    srv.stop();
    let out = child.wait_with_output().unwrap();
    assert_no_secrets(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the snapshot succeeded without its store: {err}"
    );
    assert!(err.contains("repository") || err.contains("s3://"), "{err}");

    srv.restart();
    assert!(
        ws.ok(&["list"]).contains("no snapshots"),
        "a failed snapshot is listed"
    );
    let id = summary(&ws.ok(&["snapshot", "--json"]))["id"]
        .as_str()
        .unwrap()
        .to_string();
    let v = summary(&ws.ok(&["verify", "--read-data", "--json"]));
    assert_eq!(v["ok"], true, "{v}");
    let restored = ws.restore_verified(&id, "after_outage");
    assert_eq!(
        psql(target(), &restored, "SELECT count(*) FROM big"),
        "600000"
    );
}

#[test]
fn copy_sends_a_local_snapshot_offsite_encrypted_and_then_only_what_changed() {
    let srv = server();
    let db = pii_db();
    psql(
        source(),
        &db,
        "CREATE TABLE app.events AS SELECT g AS id, md5(g::text) AS body FROM generate_series(1, 200000) g",
    );
    let prefix = unique("offsite");
    let mut ws = Workspace::with_source(&db);
    let config = ws.dir.path().join("doppel.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[repositories.offsite]\nurl = \"{}\"\nencryption = {{ key_env = \"OFFSITE_KEY\" }}\n",
        srv.url(&prefix)
    ));
    std::fs::write(&config, text).unwrap();
    ws.set("OFFSITE_KEY", REPO_SECRET);
    ws.set("AWS_ACCESS_KEY_ID", seaweed::ACCESS_KEY);
    ws.set("AWS_SECRET_ACCESS_KEY", seaweed::SECRET_KEY);
    ws.set("AWS_EC2_METADATA_DISABLED", "true");

    let first = ws.snapshot();
    let r = summary(&ws.ok(&["copy", &first, "--to-repo", "offsite", "--json"]));
    assert_eq!(r["copied"][0], first.as_str(), "{r}");
    let all_chunks = r["chunks"].as_u64().unwrap();
    assert_eq!(r["chunks_sent"].as_u64().unwrap(), all_chunks, "{r}");
    // Copying it again sends nothing.
    let r = summary(&ws.ok(&["copy", &first, "--to-repo", "offsite", "--json"]));
    assert_eq!(r["already_there"][0], first.as_str(), "{r}");
    assert_eq!(r["chunks_sent"], 0, "{r}");

    // A small change: the second copy sends a small share of the chunks.
    psql(
        source(),
        &db,
        "UPDATE app.events SET body = 'changed' WHERE id > 199000",
    );
    let second = ws.snapshot();
    let r = summary(&ws.ok(&["copy", "latest", "--to-repo", "offsite", "--json"]));
    assert_eq!(r["copied"][0], second.as_str(), "{r}");
    let sent = r["chunks_sent"].as_u64().unwrap();
    let named = r["chunks"].as_u64().unwrap();
    assert!(
        sent * 4 <= named,
        "{sent} of {named} chunks sent for a 0.5% change"
    );

    // The offsite repository restores on its own, the way a user recovers from it.
    let offsite = s3_workspace(srv, &db, &prefix);
    let listed = offsite.ok(&["list"]);
    assert!(
        listed.contains(&first) && listed.contains(&second),
        "{listed}"
    );
    let restored = offsite.restore_verified(&second, "from_offsite");
    assert_same_database((source(), &db), (target(), &restored));
    assert_no_plaintext(srv, &prefix, &personal_values(&db));

    let err = ws.fails(&["copy", &first, "--to-repo", "gs://elsewhere"]);
    assert!(
        err.contains("unsupported scheme") && err.contains("offsite"),
        "{err}"
    );
}
