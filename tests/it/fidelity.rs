//! Round trips: snapshot on one cluster, restore on another, and compare what a user would
//! compare — data digests, `pg_dump --schema-only` text, sequences, large objects.

use crate::common::*;
use std::path::Path;

fn ensure_role(cluster: &doppel::pg::cluster::Cluster, role: &str) {
    psql(
        cluster,
        "postgres",
        &format!("DO $$ BEGIN CREATE ROLE {role} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$"),
    );
}

fn round_trip(db: &str, roles: &[&str]) {
    for r in roles {
        ensure_role(target(), r);
    }
    let ws = Workspace::with_source(db);
    let id = ws.snapshot();
    let restored = unique("restored");
    let out = ws.ok(&[
        "restore",
        &id,
        "--target-url",
        &target().url(&restored),
        "--verify",
        "full",
        "-j",
        "2",
    ]);
    assert!(out.contains("restored snapshot"), "{out}");
    assert_same_database((source(), db), (target(), &restored));
    let comment = psql(target(), "postgres", &format!("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '{restored}'"));
    assert!(
        comment.contains(&id) && comment.contains("verified"),
        "{comment}"
    );
}

#[test]
fn our_fidelity_fixture_round_trips_into_another_cluster() {
    let db = fresh_db(source(), "fidelity");
    load_file(source(), &db, &fixtures().join("fidelity.sql"));
    round_trip(&db, &["doppel_fixture_reader"]);
}

#[test]
fn the_demo_fixture_round_trips() {
    let db = fresh_db(source(), "demo");
    load_file(source(), &db, &fixtures().join("demo.sql"));
    round_trip(&db, &[]);
}

fn load_dataset(name: &str) -> String {
    let dir = datasets().join(name);
    assert!(
        dir.join("load.sh").is_file(),
        "dataset {name} is missing from {}",
        dir.display()
    );
    let db = unique(name);
    let out = std::process::Command::new("sh")
        .arg(dir.join("load.sh"))
        .arg(&db)
        .envs(source().libpq_env())
        .env(
            "PATH",
            format!(
                "{}:{}",
                source().bin_dir().display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run load.sh");
    assert!(
        out.status.success(),
        "loading {name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    db
}

fn dataset_round_trip(name: &str, roles: &[&str]) {
    let db = load_dataset(name);
    round_trip(&db, roles);
}

#[test]
fn dataset_chinook() {
    dataset_round_trip("chinook", &[]);
}

#[test]
fn dataset_northwind() {
    dataset_round_trip("northwind", &[]);
}

#[test]
fn dataset_pgexercises() {
    dataset_round_trip("pgexercises", &["pgexercises"]);
}

#[test]
fn dataset_neon_misc() {
    dataset_round_trip("neon_misc", &[]);
}

#[test]
fn dataset_airlines_demo_schema() {
    dataset_round_trip("airlines_demo_schema", &[]);
}

#[test]
fn every_fixture_file_is_described() {
    let readme = std::fs::read_to_string(fixtures().join("README.md")).unwrap();
    for e in std::fs::read_dir(fixtures()).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if Path::new(&name).extension().is_some_and(|x| x == "sql") {
            assert!(
                readme.contains(&name),
                "fixtures/README.md does not describe {name}"
            );
        }
    }
}

#[test]
fn the_comparison_notices_a_changed_row_and_a_changed_sequence() {
    let a = fresh_db(source(), "oracle_a");
    let b = fresh_db(source(), "oracle_b");
    let setup = "CREATE SEQUENCE s; CREATE TABLE t (id int, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 50) g;";
    psql(source(), &a, setup);
    psql(source(), &b, setup);
    assert_same_database((source(), &a), (source(), &b));
    psql(source(), &b, "UPDATE t SET v = 'changed' WHERE id = 17");
    let row = std::panic::catch_unwind(|| assert_same_database((source(), &a), (source(), &b)));
    assert!(row.is_err(), "a changed row went unnoticed");
    psql(
        source(),
        &b,
        "UPDATE t SET v = 'v17' WHERE id = 17; SELECT nextval('s')",
    );
    let seq = std::panic::catch_unwind(|| assert_same_database((source(), &a), (source(), &b)));
    assert!(seq.is_err(), "a changed sequence went unnoticed");
}
