//! Bad input: each case gets a clear, specific error, nothing is recorded that looks
//! complete, and no secret is printed (checked on every run by the harness).

use crate::common::*;

fn small_db() -> String {
    let db = fresh_db(source(), "errors");
    psql(
        source(),
        &db,
        "CREATE TABLE people (id int PRIMARY KEY, name text); INSERT INTO people SELECT g, 'name ' || g FROM generate_series(1, 5000) g;",
    );
    db
}

#[test]
fn unreachable_server() {
    let mut ws = Workspace::with_source("x");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    ws.set(
        "PROD_URL",
        &format!("postgresql://postgres:hunter2@127.0.0.1:{port}/x?connect_timeout=5"),
    );
    let err = ws.fails(&["snapshot"]);
    assert!(
        err.contains("cannot connect to postgres@127.0.0.1") && err.contains("server is running"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
    assert!(ws.repo_files("snapshots").is_empty());
}

#[test]
fn wrong_password() {
    let db = small_db();
    let mut ws = Workspace::with_source(&db);
    ws.set(
        "PROD_URL",
        &format!(
            "postgresql://postgres:not-the-password@127.0.0.1:{}/{db}",
            source().port()
        ),
    );
    let err = ws.fails(&["snapshot"]);
    assert!(err.contains("password authentication failed"), "{err}");
    assert!(!err.contains("not-the-password"), "{err}");
}

#[test]
fn missing_variable_and_unknown_environment() {
    let ws = Workspace::new(&[("prod", "production", "SURELY_UNSET_VAR")]);
    let err = ws.fails(&["snapshot"]);
    assert!(
        err.contains("doppel.toml:6") && err.contains("SURELY_UNSET_VAR"),
        "{err}"
    );
    let mut ws = Workspace::with_source("x");
    ws.set("STAGING_URL", "x");
    let err = ws.fails(&["snapshot", "nope"]);
    assert!(
        err.contains("unknown environment 'nope'") && err.contains("prod, staging"),
        "{err}"
    );
}

#[test]
fn unknown_config_key_names_file_and_line() {
    let ws = Workspace::new(&[]);
    std::fs::write(
        ws.dir.path().join("doppel.toml"),
        "[repository]\npath = \"repo\"\ncompresion_level = 3\n",
    )
    .unwrap();
    let err = ws.fails(&["list"]);
    assert!(
        err.contains("doppel.toml:3:1") && err.contains("compresion_level"),
        "{err}"
    );
}

#[test]
fn a_mistake_in_an_init_written_config_is_located_on_its_line_not_on_the_comment() {
    // `doppel init` comments most keys out; a user uncomments some and gets them wrong. Each
    // error names the line written, though the same key sits in a comment above it.
    let ws = Workspace::new(&[]);
    let config = ws.dir.path().join("doppel.toml");
    std::fs::remove_file(&config).unwrap();
    ws.ok(&["init"]);
    let template = std::fs::read_to_string(&config).unwrap();
    for (comment, written, says) in [
        ("# part_size = \"64MB\"", "part_size = \"64 parsecs\"", "snapshot.part_size"),
        ("# pack_size = \"16MiB\"", "pack_size = \"a lot\"", "repository.pack_size"),
        (
            "# timezone = \"Europe/Paris\"",
            "timezone = \"Mars/Olympus\"",
            "unknown time zone",
        ),
        (
            "# pristine = true                  # keep a template of each restore: `doppel reset prod-copy`",
            "pristine = \"yes\"",
            "invalid type",
        ),
    ] {
        assert!(template.contains(comment), "{comment}");
        let text = template.replacen(comment, &format!("{comment}\n{written}"), 1);
        // The prod-copy section is commented out too: bring it back for its key.
        let text = text
            .replace("# [environments.prod-copy]", "[environments.prod-copy]")
            .replace("# role = \"prod-copy\"", "role = \"prod-copy\"")
            .replace("# url = \"${PROD_COPY_DATABASE_URL}\"", "url = \"x\"");
        std::fs::write(&config, &text).unwrap();
        let line = text.lines().position(|l| l == written).unwrap() + 1;
        // Every one is about the value, which starts after `= `.
        let col = written.find('=').unwrap() + 3;
        let err = ws.fails(&["list"]);
        assert!(
            err.contains(&format!("doppel.toml:{line}:{col}: ")) && err.contains(says),
            "{written}: {err}"
        );
    }
}

#[test]
fn repository_not_writable() {
    let db = small_db();
    let ws = Workspace::with_source(&db);
    // A file where the repository folder should be: no user, root included, can write there.
    std::fs::write(ws.repo(), "not a folder").unwrap();
    let err = ws.fails(&["snapshot"]);
    assert!(
        err.contains("cannot create a repository at") && err.contains("writable"),
        "{err}"
    );
}

#[test]
fn snapshot_ids_unknown_ambiguous_and_newer_format() {
    let db = small_db();
    let ws = Workspace::with_source(&db);
    let a = ws.snapshot();
    let b = ws.snapshot();
    let err = ws.fails(&["inspect", "2099"]);
    assert!(err.contains("no snapshot matches '2099'"), "{err}");
    let common: String = a
        .chars()
        .zip(b.chars())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x)
        .collect();
    let err = ws.fails(&["inspect", &common[..4]]);
    assert!(
        err.contains("ambiguous") && err.contains(&a) && err.contains(&b),
        "{err}"
    );
    assert!(ws.ok(&["inspect", "latest"]).contains(&b));
    let path = ws.repo().join("snapshots").join(format!("{b}.json"));
    let text =
        std::fs::read_to_string(&path)
            .unwrap()
            .replacen("\"format\": 1", "\"format\": 7", 1);
    std::fs::write(&path, text).unwrap();
    let err = ws.fails(&[
        "restore",
        &b,
        "--target-url",
        &target().url(&unique("never")),
    ]);
    assert!(
        err.contains("format 7") && err.contains("upgrade doppel"),
        "{err}"
    );
}

#[test]
fn corrupted_or_missing_chunk_names_the_table_and_marks_the_target_failed() {
    let db = small_db();
    let ws = Workspace::with_source(&db);
    let id = ws.snapshot();
    let m = ws.manifest(&id);
    let table = m["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "people")
        .unwrap();
    let chunk = table["data"]["chunks"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = ws.flip_chunk_byte(&chunk);
    let pack = path.file_name().unwrap().to_str().unwrap().to_string();

    let target_db = unique("corrupt");
    let err = ws.fails(&["restore", &id, "--target-url", &target().url(&target_db)]);
    assert!(
        err.contains("public.people")
            && err.contains(&chunk)
            && err.contains("corrupted")
            && err.contains(&pack)
            && err.contains(&id),
        "the error names the table, chunk, object and snapshot: {err}"
    );
    assert!(
        err.contains(&format!("renamed to {target_db}_doppel_failed")),
        "{err}"
    );
    let left = psql(
        target(),
        "postgres",
        &format!("SELECT count(*) FROM pg_database WHERE datname = '{target_db}'"),
    );
    assert_eq!(
        left, "0",
        "a failed restore must not leave a database under the target's name"
    );
    let comment = psql(
        target(),
        "postgres",
        &format!("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '{target_db}_doppel_failed'"),
    );
    assert!(comment.contains("FAILED"), "{comment}");

    ws.forget_chunk(&chunk);
    let err = ws.fails(&[
        "restore",
        &id,
        "--target-url",
        &target().url(&unique("missing")),
    ]);
    assert!(
        err.contains("public.people") && err.contains(&chunk) && err.contains("missing"),
        "{err}"
    );
}

#[test]
fn existing_target_needs_replace() {
    let db = small_db();
    let ws = Workspace::with_source(&db);
    let id = ws.snapshot();
    let target_db = unique("exists");
    let url = target().url(&target_db);
    ws.ok(&["restore", &id, "--target-url", &url]);
    psql(target(), &target_db, "DELETE FROM people WHERE id <= 10");
    let err = ws.fails(&["restore", &id, "--target-url", &url]);
    assert!(
        err.contains("already exists and is not empty") && err.contains("--replace"),
        "{err}"
    );
    assert_eq!(
        psql(target(), &target_db, "SELECT count(*) FROM people"),
        "4990",
        "a refused restore changed the target"
    );
    ws.ok(&["restore", &id, "--target-url", &url, "--replace"]);
    assert_eq!(
        psql(target(), &target_db, "SELECT count(*) FROM people"),
        "5000"
    );
}

#[test]
fn restoring_over_the_source_or_into_production_is_refused() {
    let db = small_db();
    let mut ws = Workspace::with_source(&db);
    let id = ws.snapshot();
    let err = ws.fails(&["restore", &id, "--to", "prod"]);
    assert!(
        err.contains("role production") && err.contains("--allow-production"),
        "{err}"
    );
    // The identity guard, through an environment that may receive raw data but whose URL
    // in fact points at production's database.
    ws.set("STAGING_URL", &source().url(&db));
    let config = ws.dir.path().join("doppel.toml");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("role = \"staging\"", "role = \"staging\"\ndata = \"raw\"");
    std::fs::write(&config, text).unwrap();
    let err = ws.fails(&["restore", &id, "--to", "staging", "--replace"]);
    assert!(
        err.contains("it is the database snapshot") && err.contains("--allow-production"),
        "{err}"
    );
    assert_eq!(psql(source(), &db, "SELECT count(*) FROM people"), "5000");
}

#[test]
fn pg_dump_missing_or_older_than_the_server() {
    let db = small_db();
    let ws = Workspace::with_source(&db);
    let empty = tempfile::tempdir().unwrap();
    let out = ws.run_with(
        &["snapshot"],
        &[("DOPPEL_PG_BIN", empty.path().to_str().unwrap())],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("pg_dump not found")
            && err.contains("apt-get install"),
        "{err}"
    );

    let old = tempfile::tempdir().unwrap();
    let script = old.path().join("pg_dump");
    std::fs::write(&script, "#!/bin/sh\necho 'pg_dump (PostgreSQL) 12.9'\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = ws.run_with(
        &["snapshot"],
        &[("DOPPEL_PG_BIN", old.path().to_str().unwrap())],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("version 12, older than the server"),
        "{err}"
    );
    assert!(
        ws.repo_files("snapshots").is_empty(),
        "a refused snapshot left a manifest"
    );
}

#[test]
fn manifests_hold_no_password() {
    let db = small_db();
    let ws = Workspace::with_source(&db);
    ws.snapshot();
    for f in ws.repo_files("") {
        let bytes = std::fs::read(&f).unwrap();
        let needle = source().password().as_bytes();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "{} holds the password",
            f.display()
        );
    }
}
