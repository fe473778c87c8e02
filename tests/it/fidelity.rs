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

#[test]
fn large_tables_get_their_indexes_built_early_and_the_schema_still_matches() {
    let db = fresh_db(source(), "early_indexes");
    psql(
        source(),
        &db,
        "CREATE TABLE big (id int PRIMARY KEY, email text UNIQUE, v text, n int UNIQUE DEFERRABLE INITIALLY DEFERRED, \
             \"Odd Key\" int, CONSTRAINT no_overlap EXCLUDE USING btree (v WITH =), \
             CONSTRAINT \"odd, unique\" UNIQUE (\"Odd Key\", id)); \
         INSERT INTO big SELECT g, 'user' || g || '@example.com', md5(g::text) || md5((g * 3)::text), g, -g FROM generate_series(1, 150000) g; \
         CREATE INDEX big_lower_email ON big (lower(email)); \
         CREATE TABLE ref (id int PRIMARY KEY, big_id int REFERENCES big (id)); \
         INSERT INTO ref SELECT g, g FROM generate_series(1, 1000) g; \
         CREATE TABLE parted (k int, v text) PARTITION BY RANGE (k); \
         CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (100000); \
         CREATE TABLE parted_2 PARTITION OF parted FOR VALUES FROM (100000) TO (300000); \
         INSERT INTO parted SELECT g, repeat(md5(g::text), 2) FROM generate_series(1, 250000) g; \
         CREATE INDEX ON parted (k); ALTER TABLE parted ADD PRIMARY KEY (k);",
    );
    let ws = Workspace::with_source(&db);
    let id = ws.snapshot();
    let m = ws.manifest(&id);
    let big = m["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "big")
        .unwrap();
    assert!(
        big["data"]["bytes"].as_u64().unwrap() > 8 << 20,
        "the table must be large enough to take the early path"
    );
    assert_eq!(
        big["index_oids"].as_array().unwrap().len(),
        6,
        "pkey, two unique, deferrable unique, exclusion, expression index"
    );
    let restored = unique("early_restored");
    let out = ws.run(&[
        "restore",
        &id,
        "--target-url",
        &target().url(&restored),
        "--verify",
        "full",
        "-v",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("indexes built right after loading")
            && err.contains("public.big")
            && err.contains("entries=6"),
        "{err}"
    );
    // The primary key and the two plain unique constraints are built beside the other
    // indexes; the deferrable one, like the exclusion, as pg_restore builds it.
    assert!(err.contains("keys_beside=3"), "{err}");
    assert_same_database((source(), &db), (target(), &restored));
}
