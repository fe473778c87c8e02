//! `doppel reseed` and seed fixtures: a QA environment dropped and recreated from a snapshot,
//! the accounts and flags QA relies on applied after the data in one transaction, sequences
//! past the seeded keys, every foreign key checked, equal content digests for equal inputs.

use crate::common::*;

fn qa_workspace(db: &str, qa_db: &str, seeds: &[(&str, &str)]) -> Workspace {
    let list = seeds
        .iter()
        .map(|(n, _)| format!("\"seeds/{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let ws = Workspace::with_qa(db, qa_db, &format!("data = \"raw\"\nseeds = [{list}]\n"));
    std::fs::create_dir_all(ws.dir.path().join("seeds")).unwrap();
    for (name, text) in seeds {
        std::fs::write(ws.dir.path().join("seeds").join(name), text).unwrap();
    }
    ws
}

fn shop_db() -> String {
    let db = fresh_db(source(), "reseed");
    psql(
        source(),
        &db,
        "CREATE TABLE accounts (id serial PRIMARY KEY, email text UNIQUE NOT NULL); \
         CREATE TABLE flags (name text PRIMARY KEY, enabled boolean NOT NULL); \
         CREATE TABLE orders (id serial PRIMARY KEY, account_id int NOT NULL REFERENCES accounts, total numeric); \
         INSERT INTO accounts (email) SELECT 'user' || g || '@example.org' FROM generate_series(1, 500) g; \
         INSERT INTO orders (account_id, total) SELECT 1 + g % 500, g FROM generate_series(1, 3000) g; \
         INSERT INTO flags VALUES ('dark_mode', false);",
    );
    db
}

fn report(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn reseed_applies_seed_fixtures_and_twice_gives_the_same_digests() {
    let db = shop_db();
    let qa = unique("qa");
    let ws = qa_workspace(
        &db,
        &qa,
        &[
            (
                "accounts.sql",
                "-- QA's own login, with a known key\nINSERT INTO accounts (id, email) VALUES (100000, 'qa@example.test');\n\
                 INSERT INTO orders (account_id, total) VALUES (100000, 1);\n",
            ),
            ("public.flags.csv", "name,enabled\nnew_checkout,true\n\"beta, with comma\",false\n"),
        ],
    );
    let id = ws.snapshot();
    let first = report(&ws.ok(&["reseed", "qa", "--json"]));
    assert_eq!(first["restore"]["snapshot"], id.as_str(), "{first}");
    assert_eq!(
        psql(
            target(),
            &qa,
            "SELECT email FROM accounts WHERE id = 100000"
        ),
        "qa@example.test"
    );
    assert_eq!(
        psql(
            target(),
            &qa,
            "SELECT string_agg(name || '=' || enabled, ';' ORDER BY name) FROM flags"
        ),
        "beta, with comma=false;dark_mode=false;new_checkout=true"
    );
    // The next insert does not collide with the seeded key.
    let next: i64 = psql(
        target(),
        &qa,
        "INSERT INTO accounts (email) VALUES ('new@x') RETURNING id",
    )
    .lines()
    .next()
    .unwrap()
    .parse()
    .unwrap();
    assert!(
        next > 100000,
        "sequence not moved past the seeded key: {next}"
    );
    assert_eq!(first["content"]["foreign_keys"], 1, "{first}");
    let orders = first["content"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "public.orders")
        .unwrap();
    assert_eq!(orders["rows"], 3001);

    // Whatever QA did meanwhile, the same inputs give the same database.
    psql(
        target(),
        &qa,
        "DELETE FROM orders WHERE id < 100; UPDATE flags SET enabled = true",
    );
    let second = report(&ws.ok(&["reseed", "qa", "--from", &id, "--json"]));
    assert_eq!(second["content"]["digest"], first["content"]["digest"]);
    assert_eq!(second["content"]["tables"], first["content"]["tables"]);

    let err = ws.fails(&["reseed", "prod"]);
    assert!(err.contains("production is never reseeded"), "{err}");
}

#[test]
fn a_bad_seed_fixture_names_its_file_and_line_and_applies_nothing() {
    let db = shop_db();
    for (file, text, at) in [
        (
            "public.flags.csv",
            "name,enabled\nok_flag,true\nbroken,maybe\n",
            "public.flags.csv:3",
        ),
        (
            "accounts.sql",
            "INSERT INTO accounts (id, email) VALUES (100001, 'a@x');\nINSERT INTO acounts (email) VALUES ('b@x');\n",
            "accounts.sql:2",
        ),
    ] {
        let qa = unique("qa_bad");
        // A good file first: the bad one must take it down with it.
        let ws = qa_workspace(
            &db,
            &qa,
            &[
                ("first.sql", "INSERT INTO flags VALUES ('seeded_first', true);\n"),
                (file, text),
            ],
        );
        ws.snapshot();
        let err = ws.fails(&["reseed", "qa"]);
        assert!(err.contains(at), "{file}: {err}");
        // The failed restore is set aside under another name; nothing of the seeds remains.
        let failed = format!("{qa}_doppel_failed");
        assert_eq!(
            psql(target(), &failed, "SELECT count(*) FROM flags WHERE name = 'seeded_first'"),
            "0",
            "{file}: the seed transaction was not rolled back"
        );
    }
}
