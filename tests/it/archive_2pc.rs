//! Two-phase commits and the change archive: a prepared transaction is archived when it
//! commits (`COMMIT PREPARED`), at its commit time, and never when it is rolled back.

use crate::common::{fresh_db, logical, production_workspace, psql, server_clock, target, unique};

#[test]
fn a_prepared_transaction_is_archived_when_it_commits() {
    let db = fresh_db(logical(), "archive_2pc");
    psql(
        logical(),
        &db,
        "CREATE TABLE t (id int PRIMARY KEY, v text)",
    );
    let ws = production_workspace(
        "archive_2pc",
        &logical().url(&db),
        "changes = \"logical\"\n",
    );
    ws.ok(&["changes", "setup"]);
    ws.ok(&["changes", "run", "--once"]);
    let (kept, dropped) = (unique("gid_kept"), unique("gid_dropped"));
    psql(
        logical(),
        &db,
        &format!(
            "BEGIN; INSERT INTO t VALUES (1, 'prepared'); UPDATE t SET v = 'x' WHERE id = 1; \
             PREPARE TRANSACTION '{kept}'"
        ),
    );
    psql(
        logical(),
        &db,
        &format!("BEGIN; INSERT INTO t VALUES (3, 'rolled back'); PREPARE TRANSACTION '{dropped}'"),
    );
    psql(logical(), &db, "INSERT INTO t VALUES (2, 'plain')");
    std::thread::sleep(std::time::Duration::from_millis(50));
    let prepared_only = server_clock(logical(), &db);
    std::thread::sleep(std::time::Duration::from_millis(50));
    psql(logical(), &db, &format!("COMMIT PREPARED '{kept}'"));
    psql(logical(), &db, &format!("ROLLBACK PREPARED '{dropped}'"));
    std::thread::sleep(std::time::Duration::from_millis(50));
    let committed = server_clock(logical(), &db);
    std::thread::sleep(std::time::Duration::from_millis(300));
    ws.ok(&["changes", "run", "--once"]);

    let rows_at = |at: &str| {
        let restored = unique("at_2pc");
        ws.ok(&[
            "restore",
            "--at",
            at.trim(),
            "--target-url",
            &target().url(&restored),
        ]);
        psql(
            target(),
            &restored,
            "SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM t",
        )
    };
    // Prepared is not committed: only the plain insert is there.
    assert_eq!(rows_at(&prepared_only), "2=plain");
    assert_eq!(rows_at(&committed), "1=x,2=plain");
    let status: serde_json::Value =
        serde_json::from_str(&ws.ok(&["changes", "status", "--json"])).unwrap();
    assert_eq!(
        status["archive"]["transactions"].as_u64(),
        Some(2),
        "the plain insert and the committed prepared transaction: {status}"
    );
    ws.ok(&["changes", "teardown"]);
}
