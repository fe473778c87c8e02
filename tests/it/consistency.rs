//! Consistency: every worker reads the one exported snapshot, so rows committed while the
//! snapshot runs never appear in it, and tables copied at different moments still agree.

use crate::common::*;
use std::process::Stdio;

#[test]
fn rows_written_during_a_snapshot_do_not_appear_in_it() {
    let db = fresh_db(source(), "consistency");
    psql(
        source(),
        &db,
        "CREATE TABLE padding AS SELECT g AS id, repeat(md5(g::text), 4) AS filler FROM generate_series(1, 400000) g; \
         CREATE TABLE a (id int PRIMARY KEY, filler text); CREATE TABLE b (id int PRIMARY KEY, filler text); \
         INSERT INTO a SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g; \
         INSERT INTO b SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g;",
    );
    // One transaction per id, inserting into both tables: any consistent snapshot holds the
    // same ids in a and b.
    let mut writer = source()
        .client_command("psql")
        .args(["-X", "-q", "-c"])
        .arg(
            "DO $$ BEGIN FOR i IN 20001..2000000 LOOP \
               INSERT INTO a VALUES (i, repeat('y', 200)); INSERT INTO b VALUES (i, repeat('y', 200)); COMMIT; \
             END LOOP; END $$",
        )
        .env("PGDATABASE", &db)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start writer");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let ws = Workspace::with_source(&db);
    // Small parts: every table here is read in page ranges by both workers, and a and b keep
    // growing between the planning of their ranges and their reading (the last range is
    // open); the exported snapshot still decides what is read.
    let config = ws.dir.path().join("doppel.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[snapshot]\njobs = 2\npart_size = \"1MB\"\n");
    std::fs::write(&config, text).unwrap();
    let id = ws.snapshot();
    let manifest = ws.manifest(&id);
    let split = manifest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["parts"].as_array().is_some_and(|p| p.len() > 1))
        .count();
    assert_eq!(split, 3, "padding, a and b are read in parts");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let _ = writer.kill();
    let _ = writer.wait();

    let restored = ws.restore_verified(&id, "consistent");
    let count_a: i64 = psql(target(), &restored, "SELECT count(*) FROM a")
        .parse()
        .unwrap();
    let count_b: i64 = psql(target(), &restored, "SELECT count(*) FROM b")
        .parse()
        .unwrap();
    let live: i64 = psql(source(), &db, "SELECT count(*) FROM a")
        .parse()
        .unwrap();
    assert!(
        count_a > 20000,
        "the writer had not started before the snapshot"
    );
    assert!(
        live > count_a,
        "the writer did not write during and after the snapshot ({live} vs {count_a})"
    );
    assert_eq!(count_a, count_b, "a and b were read at different moments");
    let mismatched = psql(
        target(),
        &restored,
        "SELECT count(*) FROM a FULL JOIN b USING (id) WHERE a.id IS NULL OR b.id IS NULL",
    );
    assert_eq!(mismatched, "0");
}
