//! Commands as a new user meets them: `init`, connections completed from libpq variables,
//! `list`/`inspect` output.

use crate::common::*;

#[test]
fn init_writes_a_config_that_loads_and_refuses_to_overwrite() {
    let ws = Workspace::new(&[]);
    std::fs::remove_file(ws.dir.path().join("doppel.toml")).unwrap();
    let out = ws.ok(&["init"]);
    assert!(out.contains("DATABASE_URL"), "{out}");
    assert!(ws.dir.path().join("rules").is_dir());
    let text = std::fs::read_to_string(ws.dir.path().join("doppel.toml")).unwrap();
    assert!(text.contains("role = \"production\""));
    let err = ws.fails(&["init"]);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    // The written config is usable as is once its variables are set.
    let db = fresh_db(source(), "init");
    let out = ws.run_with(
        &["snapshot", "--json"],
        &[("DATABASE_URL", &source().url(&db))],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn libpq_variables_complete_the_connection_string() {
    let db = fresh_db(source(), "libpq");
    psql(source(), &db, "CREATE TABLE t AS SELECT 1 AS x");
    let mut ws = Workspace::with_source(&db);
    ws.set("PROD_URL", &format!("host=127.0.0.1 dbname={db}"));
    let port = source().port().to_string();
    let out = ws.run_with(
        &["snapshot", "--json"],
        &[
            ("PGPORT", port.as_str()),
            ("PGUSER", "postgres"),
            ("PGPASSWORD", source().password()),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let pgpass = ws.dir.path().join("pgpass");
    std::fs::write(
        &pgpass,
        format!("127.0.0.1:{port}:*:postgres:{}\n", source().password()),
    )
    .unwrap();
    let out = ws.run_with(
        &["snapshot", "--json"],
        &[
            ("PGPORT", port.as_str()),
            ("PGUSER", "postgres"),
            ("PGPASSFILE", pgpass.to_str().unwrap()),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        ws.ok(&["list"]).lines().count() == 3,
        "two snapshots and a header"
    );
}

#[test]
fn inspect_shows_tables_rows_and_source() {
    let db = fresh_db(source(), "inspect");
    psql(source(), &db, "CREATE TABLE people AS SELECT g AS id FROM generate_series(1, 1234) g; CREATE SEQUENCE s START 77");
    let ws = Workspace::with_source(&db);
    let id = ws.snapshot();
    let out = ws.ok(&["inspect", &id[..10]]);
    assert!(
        out.contains(&id) && out.contains("public.people") && out.contains("1234"),
        "{out}"
    );
    assert!(out.contains(&format!("database {db}")), "{out}");
    let m = ws.manifest("latest");
    assert_eq!(m["sequences"][0]["name"], "s");
    assert_eq!(m["kind"]["kind"], "raw");
    assert!(m["source"]["system_identifier"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
}

#[test]
fn the_demo_runs_the_whole_cycle_and_shows_anonymized_customers() {
    let ws = Workspace::new(&[]);
    let dir = ws.dir.path().join("demo");
    let out = ws.ok(&["demo", "--dir", dir.to_str().unwrap()]);
    assert_eq!(out.matches("verified (full)").count(), 2, "{out}");
    assert!(out.contains("anonymized snapshot"), "{out}");
    assert!(
        out.contains("- result: **passed**"),
        "the demo ends with a passing drill: {out}"
    );
    // Each shown customer's e-mail changed, and the original never reaches the qa column.
    let emails: Vec<&str> = out
        .lines()
        .filter(|l| l.trim_start().starts_with("email "))
        .collect();
    assert_eq!(emails.len(), 3, "{out}");
    for line in emails {
        let (before, after) = line.trim_start()["email".len()..].split_once('→').unwrap();
        assert_ne!(before.trim(), after.trim(), "{line}");
    }
    // The repository it leaves holds both kinds.
    let cfg = dir.join("doppel.toml");
    let list = ws.ok(&["--config", cfg.to_str().unwrap(), "list"]);
    assert!(
        list.contains("anonymized") && list.contains("raw"),
        "{list}"
    );
    // Status after the quick start: staging and qa hold what the demo restored, each within
    // its data policy (an anonymized environment holds an anonymized series).
    let status: serde_json::Value = serde_json::from_str(&ws.ok(&[
        "--config",
        cfg.to_str().unwrap(),
        "status",
        "--offline",
        "--json",
    ]))
    .unwrap();
    for name in ["staging", "qa"] {
        let env = env_of(&status, name);
        let series = env["holds"]["series"].as_str().unwrap_or_default();
        assert!(!series.is_empty(), "{env}");
        if env["data"] == "anonymized" {
            assert!(series.ends_with("/anonymized"), "{env}");
        }
    }
}

#[test]
fn completions_and_manual_pages_come_from_the_command_line_itself() {
    let ws = Workspace::new(&[]);
    let bash = ws.ok(&["completions", "bash"]);
    assert!(
        bash.contains("complete -F") && bash.contains("changes") && bash.contains("--at"),
        "{}",
        &bash[..bash.len().min(400)]
    );
    for shell in ["zsh", "fish"] {
        assert!(
            ws.ok(&["completions", shell]).contains("restore"),
            "{shell}"
        );
    }
    let err = ws.fails(&["completions", "tcsh"]);
    assert!(err.contains("invalid value 'tcsh'"), "{err}");

    let page = ws.ok(&["man"]);
    assert!(
        page.contains(".TH doppel 1"),
        "{}",
        &page[..page.len().min(400)]
    );
    let dir = ws.dir.path().join("man");
    ws.ok(&["man", "--out", dir.to_str().unwrap()]);
    for name in ["doppel.1", "doppel-restore.1", "doppel-changes-run.1"] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        assert!(text.contains(".TH"), "{name}: {text}");
    }
    let restore = std::fs::read_to_string(dir.join("doppel-restore.1")).unwrap();
    assert!(restore.contains("\\-\\-at"), "{restore}");
}
