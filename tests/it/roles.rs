//! Owners and grantees that the target lacks: warned about and skipped by default, an error
//! with --keep-owners.

use crate::common::*;

#[test]
fn missing_roles_are_warned_about_or_refused() {
    let owner = unique("lonely_owner");
    let reader = unique("lonely_reader");
    let db = fresh_db(source(), "roles");
    psql(
        source(),
        "postgres",
        &format!("CREATE ROLE {owner} NOLOGIN; CREATE ROLE {reader} NOLOGIN"),
    );
    psql(
        source(),
        &db,
        &format!(
            "CREATE TABLE owned (id int PRIMARY KEY, v text); INSERT INTO owned SELECT g, 'v' || g FROM generate_series(1, 100) g; \
             ALTER TABLE owned OWNER TO {owner}; GRANT SELECT ON owned TO {reader}; \
             CREATE TABLE kept (id int); GRANT SELECT ON kept TO PUBLIC;"
        ),
    );
    let ws = Workspace::with_source(&db);
    let id = ws.snapshot();

    let refused = unique("refused");
    let err = ws.fails(&[
        "restore",
        &id,
        "--target-url",
        &target().url(&refused),
        "--keep-owners",
    ]);
    assert!(err.contains(&owner) && err.contains(&reader), "{err}");
    let exists = psql(
        target(),
        "postgres",
        &format!("SELECT count(*) FROM pg_database WHERE datname = '{refused}'"),
    );
    assert_eq!(exists, "0", "a refused restore must not create the target");

    let restored = unique("restored");
    let out = ws.ok(&["restore", &id, "--target-url", &target().url(&restored)]);
    assert!(
        out.contains("warning: roles missing on the target") && out.contains(&owner),
        "{out}"
    );
    let table_owner = psql(
        target(),
        &restored,
        "SELECT tableowner FROM pg_tables WHERE tablename = 'owned'",
    );
    assert_eq!(table_owner, "postgres");
    assert_eq!(
        psql(target(), &restored, "SELECT count(*) FROM owned"),
        "100"
    );
    let public_grant = psql(
        target(),
        &restored,
        "SELECT has_table_privilege('public', 'kept', 'SELECT')",
    );
    assert_eq!(public_grant, "t", "grants to roles that exist are kept");
}
