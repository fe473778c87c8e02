//! `doppel verify`: a damaged repository is found and named, a sound one passes.

use crate::common::*;

#[test]
fn verify_finds_missing_and_damaged_chunks_and_names_them() {
    let db = fresh_db(source(), "verify");
    psql(
        source(),
        &db,
        "CREATE TABLE events (id int PRIMARY KEY, body text); \
         INSERT INTO events SELECT g, repeat(md5(g::text), 20) FROM generate_series(1, 20000) g; \
         CREATE TABLE tags (name text)",
    );
    let ws = Workspace::with_source(&db);
    let id = ws.snapshot();
    let out = ws.ok(&["verify"]);
    assert!(out.contains(&format!("snapshot {id}: ok")), "{out}");
    let out = ws.ok(&["verify", "--all", "--read-data", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["snapshots"][0]["tables_recounted"], 2, "{out}");
    let chunks = v["snapshots"][0]["chunks"].as_u64().unwrap();
    assert_eq!(v["snapshots"][0]["chunks_read"].as_u64().unwrap(), chunks);

    // A random half: about half the chunks read, no table re-counted (none is read whole).
    let out = ws.ok(&["verify", "--read-data=50", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let read = v["snapshots"][0]["chunks_read"].as_u64().unwrap();
    assert!(read >= chunks / 2 && read < chunks, "{read} of {chunks}");
    assert_eq!(v["snapshots"][0]["tables_recounted"], 0);

    // One byte of one chunk of `events` flipped: the structure looks fine, reading finds it.
    let manifest = ws.manifest(&id);
    let events = manifest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "events")
        .unwrap();
    let chunk = events["data"]["chunks"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = ws.flip_chunk_byte(&chunk);
    ws.ok(&["verify"]);
    let out = ws.run(&["verify", "--read-data"]);
    assert_eq!(out.status.code(), Some(4));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("snapshot {id}: FAULTY"))
            && text.contains("table public.events")
            && text.contains(&chunk)
            && text.contains(path.file_name().unwrap().to_str().unwrap()),
        "{text}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains(&id));

    // The chunk gone: the structural check names the table and the chunk.
    std::fs::remove_file(&path).unwrap();
    let out = ws.run(&["verify"]);
    assert_eq!(out.status.code(), Some(4));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("table public.events: chunk {chunk} is missing")),
        "{text}"
    );
    let err = ws.fails(&["verify", "--read-data=0"]);
    assert!(err.contains("percentage"), "{err}");
}
