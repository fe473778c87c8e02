//! Faults of the store, injected by the wrapper (writes that fail half-way, objects stored
//! truncated or with a byte flipped) under real snapshots, and two processes snapshotting and
//! pruning one repository at once. Every fault is reported; none leaves a snapshot listed
//! that cannot be restored.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use doppel::pg::ConnInfo;
use doppel::repo::{RepoOptions, Repository};
use doppel::snapshot::{take, SnapshotOptions};
use doppel::store::faulty::{Faults, FaultyStore};
use doppel::store::{LocalStore, Store};

use crate::common::*;

fn options(db: &str) -> SnapshotOptions {
    SnapshotOptions {
        environment: "prod".into(),
        conn: ConnInfo::parse_with(&source().url(db), &|_| None).unwrap(),
        jobs: 2,
        tags: Vec::new(),
        pg_bin: Some(source().bin_dir().to_path_buf()),
        progress: Arc::new(AtomicU64::new(0)),
        recorded_time: None,
        anonymize: None,
        part_bytes: doppel::config::DEFAULT_PART_BYTES,
        subset: None,
        origin: None,
        unchanged: None,
    }
}

fn data_db(prefix: &str) -> String {
    let db = fresh_db(source(), prefix);
    psql(
        source(),
        &db,
        "CREATE TABLE events (id int PRIMARY KEY, body text); \
         INSERT INTO events SELECT g, md5(g::text) || md5((g * 3)::text) FROM generate_series(1, 150000) g; \
         CREATE TABLE small (id int, v text); INSERT INTO small VALUES (1, 'one');",
    );
    db
}

fn small_packs() -> RepoOptions {
    RepoOptions {
        pack_size: Some(256 * 1024),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_failing_half_way_lists_nothing_and_the_next_snapshot_succeeds() {
    let db = data_db("fault_upload");
    let dir = tempfile::tempdir().unwrap();
    let disk: Arc<dyn Store> = Arc::new(LocalStore::new(dir.path()));
    Repository::open_or_init(disk.clone(), &small_packs())
        .await
        .unwrap();
    // The header is written; the fifth write from here on fails (lock, then packs).
    let faulty: Arc<dyn Store> = Arc::new(FaultyStore::new(
        disk.clone(),
        Faults {
            writes_before_failure: Some(5),
            ..Default::default()
        },
    ));
    let repo = Arc::new(
        Repository::open(faulty, &RepoOptions::default())
            .await
            .unwrap(),
    );
    let err = take(repo, &options(&db)).await.unwrap_err().to_string();
    assert!(err.contains("injected failure"), "{err}");
    assert!(
        !disk.list("packs/").await.unwrap().is_empty(),
        "the failure came before any pack: the test proves nothing"
    );

    let repo = Arc::new(
        Repository::open(disk.clone(), &RepoOptions::default())
            .await
            .unwrap(),
    );
    assert!(
        repo.snapshot_ids().await.unwrap().is_empty(),
        "a failed snapshot is listed"
    );
    let m = take(repo.clone(), &options(&db)).await.unwrap();
    let found = doppel::verify::verify(&repo, &[m], Some(100.0))
        .await
        .unwrap();
    assert!(found.ok(), "{found:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn truncated_or_flipped_objects_are_found_by_verify_naming_snapshot_table_and_object() {
    let db = data_db("fault_damage");
    for faults in [
        Faults {
            truncate_prefix: Some("packs/".into()),
            ..Default::default()
        },
        Faults {
            flip_prefix: Some("packs/".into()),
            ..Default::default()
        },
    ] {
        let dir = tempfile::tempdir().unwrap();
        let disk: Arc<dyn Store> = Arc::new(LocalStore::new(dir.path()));
        let faulty = Arc::new(FaultyStore::new(disk.clone(), faults.clone()));
        let repo = Arc::new(
            Repository::open_or_init(faulty.clone(), &small_packs())
                .await
                .unwrap(),
        );
        let m = take(repo.clone(), &options(&db)).await.unwrap();
        let damaged = faulty.damaged();
        assert!(!damaged.is_empty());

        let repo = Repository::open(disk.clone(), &RepoOptions::default())
            .await
            .unwrap();
        let found = doppel::verify::verify(&repo, std::slice::from_ref(&m), Some(100.0))
            .await
            .unwrap();
        assert!(!found.ok(), "{faults:?} went unnoticed");
        let problems = &found.snapshots[0].problems;
        assert_eq!(found.snapshots[0].snapshot, m.id);
        assert!(
            problems.iter().any(|p| p.contains("table public.events")
                && damaged.iter().any(|k| p.contains(k.as_str()))),
            "{faults:?}: {problems:?} {damaged:?}"
        );
        if faults.truncate_prefix.is_some() {
            // Truncation shows even without reading the data.
            assert!(
                found.storage_faults.iter().any(|f| f.contains("shorter")),
                "{:?}",
                found.storage_faults
            );
        }
    }
}

#[test]
fn two_processes_snapshotting_and_pruning_one_repository_never_corrupt_it() {
    let db = data_db("fault_race");
    let ws = Workspace::with_source(&db);
    let config = ws.dir.path().join("doppel.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    // Keep almost nothing, so that every prune deletes and sweeps.
    text.push_str("\n[retention]\ntiers = [\"1m@2m\"]\n");
    std::fs::write(&config, text).unwrap();
    ws.snapshot();
    let piped = |args: &[&str]| {
        ws.command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    for round in 0..5 {
        psql(
            source(),
            &db,
            &format!("UPDATE events SET body = 'round {round}' WHERE id % 7 = {round}"),
        );
        // Started together: whichever takes the repository first, the other either waits
        // its turn (snapshot: shared lock) or refuses as busy (prune: exclusive lock).
        let (snap, prune) = (piped(&["snapshot"]), piped(&["prune"]));
        let (snap, prune) = (
            snap.wait_with_output().unwrap(),
            prune.wait_with_output().unwrap(),
        );
        assert_no_secrets(&snap);
        assert_no_secrets(&prune);
        assert!(
            snap.status.success(),
            "{}",
            String::from_utf8_lossy(&snap.stderr)
        );
        let err = String::from_utf8_lossy(&prune.stderr);
        assert!(
            prune.status.success() || err.contains("busy"),
            "prune failed otherwise: {err}"
        );
    }
    ws.ok(&["prune"]);
    let v: serde_json::Value =
        serde_json::from_str(&ws.ok(&["verify", "--all", "--read-data", "--json"])).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    let latest = ws.ok(&["list", "--json"]);
    let latest: serde_json::Value = serde_json::from_str(&latest).unwrap();
    let id = latest.as_array().unwrap().last().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let restored = ws.restore_verified(&id, "after_race");
    assert_same_database((source(), &db), (target(), &restored));
}
