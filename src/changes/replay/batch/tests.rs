use super::*;
use crate::changes::pgoutput::Column;

fn rel(oid: u32, name: &str, identity: ReplicaIdentity) -> Arc<Relation> {
    Arc::new(Relation {
        oid,
        namespace: "public".into(),
        name: name.into(),
        replica_identity: identity,
        columns: vec![
            Column {
                key: true,
                name: "id".into(),
                type_oid: 23,
                type_modifier: -1,
            },
            Column {
                key: identity == ReplicaIdentity::Full,
                name: "v".into(),
                type_oid: 25,
                type_modifier: -1,
            },
        ],
    })
}

fn t(s: &str) -> Value {
    Value::Text(s.as_bytes().to_vec())
}

fn update(r: &Arc<Relation>, id: &str, v: &str) -> Change {
    Change::Update {
        rel: r.clone(),
        old: None,
        new: vec![t(id), t(v)],
    }
}

/// Statements without the identifier quotes, easier to read in assertions.
fn plain(sql: Vec<String>) -> Vec<String> {
    sql.into_iter().map(|s| s.replace('"', "")).collect()
}

fn types() -> Types {
    Types::from([
        (1, vec!["integer".into(), "text".into()]),
        (2, vec!["integer".into(), "text".into()]),
    ])
}

#[test]
fn interleaved_tables_become_one_statement_each_in_the_order_they_first_changed() {
    let (a, b) = (
        rel(1, "a", ReplicaIdentity::Default),
        rel(2, "b", ReplicaIdentity::Default),
    );
    let changes = vec![
        update(&a, "1", "x"),
        update(&b, "7", "y"),
        update(&a, "2", "z"),
        Change::Insert {
            rel: b.clone(),
            new: vec![t("8"), Value::Null],
        },
    ];
    let sql = plain(set_based(&changes, &types()).unwrap());
    assert_eq!(sql.len(), 3, "{sql:#?}");
    assert!(sql[0].starts_with("WITH c AS (UPDATE public.a AS doppel_t SET id = doppel_v.n0, v = doppel_v.n1 FROM (VALUES ('1'::integer, '1'::integer, 'x'::text), ('2', '2', 'z'))"), "{}", sql[0]);
    assert!(
        sql[0].contains("doppel_check(count(*), 2, 'an update of public.a')"),
        "{}",
        sql[0]
    );
    assert!(sql[1].contains("UPDATE public.b"), "{}", sql[1]);
    assert_eq!(sql[2], "INSERT INTO public.b (id, v) VALUES ('8', NULL)");
}

#[test]
fn a_row_updated_again_takes_its_last_image() {
    let a = rel(1, "a", ReplicaIdentity::Default);
    let changes = vec![
        update(&a, "1", "first"),
        update(&a, "2", "other"),
        update(&a, "1", "last"),
    ];
    let sql = plain(set_based(&changes, &types()).unwrap());
    assert_eq!(sql.len(), 1, "{sql:#?}");
    assert!(
        sql[0].contains("'1'::integer, '1'::integer, 'last'::text), ('2', '2', 'other')"),
        "{}",
        sql[0]
    );
    assert!(!sql[0].contains("first"), "{}", sql[0]);
    assert!(sql[0].contains("doppel_check(count(*), 2,"), "{}", sql[0]);
}

#[test]
fn a_key_seen_again_after_a_key_change_starts_a_new_statement() {
    let a = rel(1, "a", ReplicaIdentity::Default);
    let changes = vec![
        Change::Update {
            rel: a.clone(),
            old: Some(OldRow::Key(vec![t("1"), Value::Null])),
            new: vec![t("5"), t("moved")],
        },
        update(&a, "5", "again"),
        Change::Delete {
            rel: a.clone(),
            old: OldRow::Key(vec![t("5"), Value::Null]),
        },
        Change::Insert {
            rel: a.clone(),
            new: vec![t("5"), t("back")],
        },
        Change::Delete {
            rel: a.clone(),
            old: OldRow::Key(vec![t("5"), Value::Null]),
        },
    ];
    let sql = plain(set_based(&changes, &types()).unwrap());
    assert_eq!(sql.len(), 5, "{sql:#?}");
    assert!(
        sql[0].contains("('1'::integer, '5'::integer, 'moved'::text)"),
        "{}",
        sql[0]
    );
    assert!(
        sql[1].contains("('5'::integer, '5'::integer, 'again'::text)"),
        "{}",
        sql[1]
    );
    assert!(
        sql[2].starts_with(
            "WITH c AS (DELETE FROM public.a AS doppel_t USING (VALUES ('5'::integer))"
        ),
        "{}",
        sql[2]
    );
    assert!(sql[3].starts_with("INSERT INTO public.a"), "{}", sql[3]);
    assert!(sql[4].starts_with("WITH c AS (DELETE"), "{}", sql[4]);
}

#[test]
fn a_truncate_comes_after_every_change_before_it_and_before_every_one_after() {
    let (a, b) = (
        rel(1, "a", ReplicaIdentity::Default),
        rel(2, "b", ReplicaIdentity::Default),
    );
    let changes = vec![
        update(&a, "1", "x"),
        update(&b, "1", "x"),
        Change::Truncate {
            rels: vec![a.clone()],
            cascade: false,
            restart_identity: true,
        },
        update(&b, "2", "y"),
        Change::Insert {
            rel: a.clone(),
            new: vec![t("1"), t("new")],
        },
    ];
    let sql = plain(set_based(&changes, &types()).unwrap());
    assert_eq!(sql.len(), 5, "{sql:#?}");
    assert!(sql[0].contains("UPDATE public.a"));
    assert!(sql[1].contains("UPDATE public.b"));
    assert_eq!(sql[2], "TRUNCATE ONLY public.a RESTART IDENTITY");
    assert!(sql[3].contains("UPDATE public.b"));
    assert!(sql[4].starts_with("INSERT INTO public.a"));
}

#[test]
fn full_identity_rows_and_unmatchable_keys_keep_a_statement_of_their_own() {
    let full = rel(1, "f", ReplicaIdentity::Full);
    let a = rel(2, "a", ReplicaIdentity::Default);
    let changes = vec![
        Change::Update {
            rel: full.clone(),
            old: Some(OldRow::Full(vec![t("1"), t("a")])),
            new: vec![t("1"), t("b")],
        },
        Change::Delete {
            rel: full.clone(),
            old: OldRow::Full(vec![t("1"), Value::Null]),
        },
        // Only the key present and it is unchanged TOAST: nothing to join on.
        Change::Update {
            rel: a.clone(),
            old: None,
            new: vec![Value::UnchangedToast, t("z")],
        },
    ];
    let sql = set_based(&changes, &types());
    // The key lacks its value: the change cannot be applied at all, and says why.
    let err = sql.unwrap_err().to_string();
    assert!(err.contains("carries no replica identity"), "{err}");
    let sql = plain(set_based(&changes[..2], &types()).unwrap());
    assert_eq!(sql.len(), 2, "{sql:#?}");
    assert!(
        sql[0].contains(
            "ctid = (SELECT ctid FROM public.f WHERE id::text = '1' AND v::text = 'a' LIMIT 1)"
        ),
        "{}",
        sql[0]
    );
    assert!(sql[1].contains("v IS NULL"), "{}", sql[1]);
}

#[test]
fn one_by_one_keeps_commit_order_and_joins_consecutive_inserts() {
    let (a, b) = (
        rel(1, "a", ReplicaIdentity::Default),
        rel(2, "b", ReplicaIdentity::Default),
    );
    let ins = |r: &Arc<Relation>, id: &str| Change::Insert {
        rel: r.clone(),
        new: vec![t(id), Value::Null],
    };
    let changes = vec![
        ins(&a, "1"),
        ins(&a, "2"),
        update(&b, "1", "x"),
        ins(&a, "3"),
        update(&a, "1", "y"),
    ];
    let sql = plain(exact_all(&changes).unwrap());
    assert_eq!(
        sql,
        vec![
            "INSERT INTO public.a (id, v) VALUES ('1', NULL), ('2', NULL)".to_string(),
            "WITH c AS (UPDATE public.b SET id = '1', v = 'x' WHERE id = '1' RETURNING 1) SELECT pg_temp.doppel_check(count(*), 1, 'an update of public.b') FROM c".into(),
            "INSERT INTO public.a (id, v) VALUES ('3', NULL)".into(),
            "WITH c AS (UPDATE public.a SET id = '1', v = 'y' WHERE id = '1' RETURNING 1) SELECT pg_temp.doppel_check(count(*), 1, 'an update of public.a') FROM c".into(),
        ]
    );
}
