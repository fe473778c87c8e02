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
    let env = |name: &str| {
        status["environments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {status}"))
            .clone()
    };
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
    let copy_env = status["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "copy")
        .unwrap()
        .clone();
    assert_eq!(copy_env["holds"]["snapshot"], second["id"], "{copy_env}");
    assert_eq!(copy_env["behind_s"], 0, "{copy_env}");
}
