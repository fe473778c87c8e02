//! Recovery drills end to end: a scratch cluster, the checks, the reports, the history.

use crate::common::*;

fn config(ws: &Workspace, checks: &[&str]) {
    let list = checks
        .iter()
        .map(|c| format!("{c:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    std::fs::write(
        ws.dir.path().join("doppel.toml"),
        format!(
            "[repository]\npath = \"repo\"\n\n[drill]\nchecks = [{list}]\n\n\
             [environments.prod]\nrole = \"production\"\nurl = \"${{PROD_URL}}\"\n"
        ),
    )
    .unwrap();
}

#[test]
fn a_drill_checks_the_recovered_database_and_a_failing_check_fails_it() {
    let db = fresh_db(source(), "drill");
    psql(
        source(),
        &db,
        "CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
           amount numeric NOT NULL CHECK (amount >= 0)); \
         INSERT INTO orders (amount) SELECT g FROM generate_series(1, 500) g; \
         CREATE MATERIALIZED VIEW order_totals AS SELECT count(*) AS n, sum(amount) AS total FROM orders",
    );
    let mut ws = Workspace::new(&[]);
    ws.set("PROD_URL", &source().url(&db));
    config(
        &ws,
        &[
            "SELECT count(*) = 500 FROM orders",
            "SELECT count(*) > 1000 FROM orders",
        ],
    );
    let id = ws.snapshot();
    let reports = ws.dir.path().join("reports");

    let out = ws.run(&["drill", "--report", reports.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4), "a failed check exits 4");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("**FAILED**"), "{stdout}");
    assert!(
        stderr.contains("smoke check 2") && stderr.contains("returned f, not true"),
        "{stderr}"
    );
    // The data itself checked out; only the smoke check failed.
    assert!(stdout.contains("| restore and data | pass |"), "{stdout}");
    assert!(stdout.contains("| sequences | pass |"), "{stdout}");
    assert!(stdout.contains("| materialized views | pass |"), "{stdout}");
    let files: Vec<String> = std::fs::read_dir(&reports)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    let json = files.iter().find(|f| f.ends_with(".json")).unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(reports.join(json)).unwrap()).unwrap();
    assert_eq!(report["snapshot"], id.as_str());
    assert_eq!(report["passed"], false);
    assert!(report["rto_s"].as_f64().unwrap() > 0.0);
    assert!(report["rpo_s"].as_f64().unwrap() >= 0.0);

    config(&ws, &["SELECT count(*) = 500 FROM orders"]);
    let out = ws.ok(&["drill", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["passed"], true, "{out}");
    assert_eq!(report["checks"].as_array().unwrap().len(), 5, "{out}");

    // Both drills are in the repository's history, with a chart.
    let svg = ws.dir.path().join("drills.svg");
    let out = ws.ok(&["drill", "history", "--svg", svg.to_str().unwrap()]);
    assert_eq!(out.lines().filter(|l| l.contains(&id)).count(), 2, "{out}");
    assert!(out.contains("FAILED") && out.contains("passed"), "{out}");
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert_eq!(chart.matches("<circle").count(), 4, "{chart}");

    // As of a time before any snapshot: nothing to recover.
    let err = ws.fails(&["drill", "--at", "2001-01-01 00:00"]);
    assert!(err.contains("no snapshot is old enough"), "{err}");
}
