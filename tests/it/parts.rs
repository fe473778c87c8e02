//! Large tables read in parts: the same rows, the same digest, the same anonymized values as
//! a table read whole, and unchanged parts deduplicate.

use crate::common::*;

fn set_part_size(ws: &Workspace, size: &str) {
    let config = ws.dir.path().join("doppel.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let base = text.split("\n[snapshot]").next().unwrap().to_string();
    std::fs::write(
        &config,
        format!("{base}\n[snapshot]\njobs = 2\npart_size = \"{size}\"\n"),
    )
    .unwrap();
}

fn events(ws: &Workspace, id: &str) -> serde_json::Value {
    ws.manifest(id)["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "events")
        .unwrap()
        .clone()
}

#[test]
fn a_table_read_in_parts_equals_the_table_read_whole() {
    let db = fresh_db(source(), "parts");
    psql(
        source(),
        &db,
        "CREATE TABLE events (id int PRIMARY KEY, email text NOT NULL UNIQUE, payload text); \
         INSERT INTO events SELECT g, 'user' || g || '@corp.example', repeat(md5(g::text), 3) \
           FROM generate_series(1, 60000) g; \
         CREATE TABLE small (x int); INSERT INTO small VALUES (1), (2)",
    );
    let mut ws = Workspace::with_source(&db);
    set_part_size(&ws, "1MB");
    let split = ws.snapshot();
    let split_events = events(&ws, &split);
    let parts = split_events["parts"]
        .as_array()
        .expect("read in parts")
        .len();
    assert!(parts >= 4, "{parts} parts");
    set_part_size(&ws, "1GB");
    let whole = ws.snapshot();
    let whole_events = events(&ws, &whole);
    assert!(whole_events.get("parts").is_none(), "{whole_events}");
    assert_eq!(split_events["rows"], 60000);
    assert_eq!(split_events["rows"], whole_events["rows"]);
    assert_eq!(split_events["digest"], whole_events["digest"]);

    let restored = ws.restore_verified(&split, "parts_restored");
    assert_same_database((source(), &db), (target(), &restored));

    // Rows appended at the end land in the last part: the earlier parts are stored once.
    set_part_size(&ws, "1MB");
    psql(
        source(),
        &db,
        "INSERT INTO events SELECT g, 'user' || g || '@corp.example', 'new' \
         FROM generate_series(60001, 60100) g",
    );
    let out = ws.ok(&["snapshot", "--json"]);
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    let first_bytes = ws.manifest(&split)["stats"]["bytes_stored_new"]
        .as_u64()
        .unwrap();
    let new_bytes = summary["bytes_stored_new"].as_u64().unwrap();
    assert!(
        new_bytes * 4 < first_bytes,
        "{new_bytes} new bytes after appending 100 rows (first snapshot: {first_bytes})"
    );

    // Anonymized in parts: the same values as anonymized whole, and the unique emails stay
    // unique across parts.
    ws.set("DOPPEL_ANON_KEY", "parts-test-anonymization-key-0123456789");
    let rules = ws.dir.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(
        rules.join("events.toml"),
        "version = 1\n[tables.\"public.events\".columns]\nid = \"keep\"\n\
         email = { transformer = \"email\", unique = true }\npayload = \"keep\"\n\
         [tables.\"public.small\"]\ndecision = \"keep\"\n",
    )
    .unwrap();
    let rules = rules.to_str().unwrap();
    let anon_split: serde_json::Value =
        serde_json::from_str(&ws.ok(&["snapshot", "--rules", rules, "--json"])).unwrap();
    set_part_size(&ws, "1GB");
    let anon_whole: serde_json::Value =
        serde_json::from_str(&ws.ok(&["snapshot", "--rules", rules, "--json"])).unwrap();
    let a = events(&ws, anon_split["id"].as_str().unwrap());
    let b = events(&ws, anon_whole["id"].as_str().unwrap());
    assert!(a["parts"].as_array().is_some_and(|p| p.len() > 1));
    assert_eq!(a["digest"], b["digest"]);
    assert_ne!(a["digest"], split_events["digest"]);
}
