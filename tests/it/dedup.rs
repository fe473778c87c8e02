//! The dedup bar: an unchanged database costs almost nothing the second time, and a 1%
//! change costs a small multiple of the changed data.

use crate::common::*;

fn stored(ws: &Workspace, id: &str) -> (u64, u64) {
    let m = ws.manifest(id);
    (
        m["stats"]["bytes_stored_new"].as_u64().unwrap(),
        m["stats"]["bytes_read"].as_u64().unwrap(),
    )
}

#[test]
fn unchanged_database_stores_under_one_percent_the_second_time() {
    let db = fresh_db(source(), "dedup");
    load_file(source(), &db, &fixtures().join("demo.sql"));
    psql(
        source(),
        &db,
        "CREATE TABLE events AS SELECT g AS id, md5(g::text) AS a, md5((g * 7)::text) AS b, now() - g * interval '1 minute' AS at FROM generate_series(1, 200000) g",
    );
    let ws = Workspace::with_source(&db);
    let first = ws.snapshot();
    let second = ws.snapshot();
    let (a, _) = stored(&ws, &first);
    let (b, _) = stored(&ws, &second);
    assert!(a > 0);
    assert!(b * 100 < a, "second snapshot stored {b} bytes, first {a}");
}

#[test]
fn updating_one_percent_of_a_large_table_stores_a_small_multiple_of_the_change() {
    let db = fresh_db(source(), "dedup_update");
    psql(
        source(),
        &db,
        "CREATE TABLE events (id int PRIMARY KEY, payload text, at timestamptz) WITH (fillfactor = 100); \
         INSERT INTO events SELECT g, repeat(md5(g::text), 3), '2026-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, 300000) g",
    );
    let ws = Workspace::with_source(&db);
    let first = ws.snapshot();
    // The most recent 1% of rows change, as in an orders or events table.
    psql(
        source(),
        &db,
        "UPDATE events SET payload = upper(payload) WHERE id > 297000",
    );
    let second = ws.snapshot();
    let (full, _) = stored(&ws, &first);
    let (new, _) = stored(&ws, &second);
    let changed_compressed_estimate = full / 100;
    assert!(
        new <= 8 * changed_compressed_estimate.max(1),
        "after a 1% update the snapshot stored {new} bytes; the whole table is {full}"
    );
}
