use super::*;
use proptest::collection::vec;
use proptest::prelude::*;

/// Real output of a PostgreSQL 15 server, captured by `fixtures/capture.sh`.
const FIXTURE: &str = include_str!("../../../fixtures/pgoutput/pgoutput_v1.hex");
/// The 'M' messages of the same stream, peeked again with `'messages', 'true'`.
const FIXTURE_MESSAGES: &str = include_str!("../../../fixtures/pgoutput/pgoutput_v1_messages.hex");

fn unhex(line: &str) -> Vec<u8> {
    assert!(line.len().is_multiple_of(2), "odd hex line {line:?}");
    (0..line.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&line[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn fixture(text: &str) -> Vec<(Vec<u8>, Message)> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let bytes = unhex(line);
            let msg = decode(&bytes).unwrap_or_else(|e| panic!("{e}: {line}"));
            (bytes, msg)
        })
        .collect()
}

/// Concatenates the pieces of a hand-built message, so the layout stays visible.
fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn text(s: &str) -> Value {
    Value::Text(s.as_bytes().to_vec())
}

/// Decodes a hand-built message and checks that encoding gives the bytes back.
fn check(bytes: &[u8]) -> Message {
    let msg = decode(bytes).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(encode(&msg), bytes, "re-encoding {msg:?}");
    msg
}

fn err(bytes: &[u8]) -> String {
    decode(bytes).expect_err("should not decode").to_string()
}

const LSN: [u8; 8] = 0x0000_0016_B374_D848_u64.to_be_bytes();
const LSN2: [u8; 8] = 0x0000_0016_B374_D900_u64.to_be_bytes();
const TIME: [u8; 8] = 757_479_845_000_001_i64.to_be_bytes(); // 2024-01-02 03:04:05.000001
const REL: [u8; 4] = 16_391_u32.to_be_bytes();

#[test]
fn begin() {
    let msg = check(&cat(&[b"B", &LSN, &TIME, &[0, 0, 2, 0xDD]]));
    let Message::Begin {
        final_lsn,
        commit_time,
        xid,
    } = msg
    else {
        panic!("{msg:?}")
    };
    assert_eq!(lsn_text(final_lsn), "16/B374D848");
    assert_eq!(commit_time, 757_479_845_000_001);
    assert_eq!(
        commit_time_utc(commit_time).to_rfc3339(),
        "2024-01-02T03:04:05.000001+00:00"
    );
    assert_eq!(xid, 733);
}

#[test]
fn commit() {
    let msg = check(&cat(&[b"C", &[0], &LSN, &LSN2, &TIME]));
    let expected = Message::Commit {
        flags: 0,
        commit_lsn: 0x16_B374_D848,
        end_lsn: 0x16_B374_D900,
        commit_time: 757_479_845_000_001,
    };
    assert_eq!(msg, expected);
}

#[test]
fn origin() {
    let msg = check(&cat(&[b"O", &LSN, b"upstream\0"]));
    let expected = Message::Origin {
        commit_lsn: 0x16_B374_D848,
        name: "upstream".into(),
    };
    assert_eq!(msg, expected);
}

#[test]
fn relation_with_key_flags() {
    let bytes = cat(&[
        b"R",
        &REL,
        b"public\0",
        b"t_pk\0",
        b"i",
        &[0, 2],
        &[1],
        b"id\0",
        &23_u32.to_be_bytes(),
        &(-1_i32).to_be_bytes(),
        &[0],
        b"name\0",
        &1043_u32.to_be_bytes(),
        &24_i32.to_be_bytes(),
    ]);
    let Message::Relation(rel) = check(&bytes) else {
        panic!()
    };
    assert_eq!(rel.oid, 16_391);
    assert_eq!(
        (rel.namespace.as_str(), rel.name.as_str()),
        ("public", "t_pk")
    );
    assert_eq!(rel.replica_identity, ReplicaIdentity::Index);
    let id = Column {
        key: true,
        name: "id".into(),
        type_oid: 23,
        type_modifier: -1,
    };
    let name = Column {
        key: false,
        name: "name".into(),
        type_oid: 1043,
        type_modifier: 24,
    };
    assert_eq!(rel.columns, vec![id, name]);
}

#[test]
fn relation_replica_identities_and_empty_namespace() {
    for (byte, identity) in [
        (b'd', ReplicaIdentity::Default),
        (b'n', ReplicaIdentity::Nothing),
        (b'f', ReplicaIdentity::Full),
        (b'i', ReplicaIdentity::Index),
    ] {
        let bytes = cat(&[b"R", &REL, b"\0", b"pg_class\0", &[byte], &[0, 0]]);
        let Message::Relation(rel) = check(&bytes) else {
            panic!()
        };
        assert_eq!(rel.replica_identity, identity);
        assert_eq!(rel.namespace, "");
        assert!(rel.columns.is_empty());
    }
}

#[test]
fn type_message() {
    let msg = check(&cat(&[b"Y", &16_385_u32.to_be_bytes(), b"public\0mood\0"]));
    let expected = Message::Type {
        oid: 16_385,
        namespace: "public".into(),
        name: "mood".into(),
    };
    assert_eq!(msg, expected);
}

#[test]
fn insert_with_every_column_kind() {
    let bytes = cat(&[
        b"I",
        &REL,
        b"N",
        &[0, 5],
        b"t",
        &[0, 0, 0, 2],
        b"42",
        b"n",
        b"u",
        b"t",
        &[0, 0, 0, 0],
        b"b",
        &[0, 0, 0, 3, 0, 0xFF, 0x80],
    ]);
    let Message::Insert { relation, new } = check(&bytes) else {
        panic!()
    };
    assert_eq!(relation, 16_391);
    let expected = vec![
        text("42"),
        Value::Null,
        Value::UnchangedToast,
        text(""),
        Value::Binary(vec![0, 0xFF, 0x80]),
    ];
    assert_eq!(new, expected);
}

#[test]
fn update_with_old_key() {
    let bytes = cat(&[
        b"U",
        &REL,
        b"K",
        &[0, 2],
        b"t\0\0\0\x012n",
        b"N",
        &[0, 2],
        b"t\0\0\0\x013u",
    ]);
    let msg = check(&bytes);
    let expected = Message::Update {
        relation: 16_391,
        old: Some(OldRow::Key(vec![text("2"), Value::Null])),
        new: vec![text("3"), Value::UnchangedToast],
    };
    assert_eq!(msg, expected);
}

#[test]
fn update_with_old_row() {
    let bytes = cat(&[
        b"U",
        &REL,
        b"O",
        &[0, 1],
        b"t\0\0\0\x03one",
        b"N",
        &[0, 1],
        b"t\0\0\0\x03uno",
    ]);
    let msg = check(&bytes);
    let expected = Message::Update {
        relation: 16_391,
        old: Some(OldRow::Full(vec![text("one")])),
        new: vec![text("uno")],
    };
    assert_eq!(msg, expected);
}

#[test]
fn update_without_old_row() {
    let msg = check(&cat(&[b"U", &REL, b"N", &[0, 1], b"n"]));
    let expected = Message::Update {
        relation: 16_391,
        old: None,
        new: vec![Value::Null],
    };
    assert_eq!(msg, expected);
}

#[test]
fn delete_with_key_and_with_full_row() {
    let msg = check(&cat(&[b"D", &REL, b"K", &[0, 2], b"t\0\0\0\x011n"]));
    let old = OldRow::Key(vec![text("1"), Value::Null]);
    assert_eq!(
        msg,
        Message::Delete {
            relation: 16_391,
            old
        }
    );
    let msg = check(&cat(&[b"D", &REL, b"O", &[0, 1], b"t\0\0\0\x011"]));
    let old = OldRow::Full(vec![text("1")]);
    assert_eq!(
        msg,
        Message::Delete {
            relation: 16_391,
            old
        }
    );
}

#[test]
fn truncate() {
    let msg = check(&cat(&[
        b"T",
        &[0, 0, 0, 2],
        &[2],
        &REL,
        &[0, 0, 0x40, 0x0E],
    ]));
    let expected = Message::Truncate {
        relations: vec![16_391, 16_398],
        cascade: false,
        restart_identity: true,
    };
    assert_eq!(msg, expected);
    let msg = check(&cat(&[b"T", &[0, 0, 0, 0], &[1]]));
    let expected = Message::Truncate {
        relations: vec![],
        cascade: true,
        restart_identity: false,
    };
    assert_eq!(msg, expected);
}

#[test]
fn logical_decoding_message() {
    let msg = check(&cat(&[
        b"M",
        &[1],
        &LSN,
        b"doppel\0",
        &[0, 0, 0, 2],
        &[0, 0xFF],
    ]));
    let expected = Message::Message {
        transactional: true,
        lsn: 0x16_B374_D848,
        prefix: "doppel".into(),
        content: vec![0, 0xFF],
    };
    assert_eq!(msg, expected);
    let msg = check(&cat(&[b"M", &[0], &LSN, b"\0", &[0, 0, 0, 0]]));
    assert!(matches!(
        msg,
        Message::Message {
            transactional: false,
            ..
        }
    ));
}

#[test]
fn error_messages_name_type_offset_and_problem() {
    assert_eq!(
        err(b""),
        "empty input: a pgoutput message needs at least its type byte"
    );
    assert_eq!(err(b"X"), "unknown message type 'X' (0x58)");
    assert_eq!(err(b"\x00"), "unknown message type '\\x00' (0x00)");
    assert_eq!(
        err(&cat(&[
            b"I",
            &REL,
            b"N",
            &[0, 1],
            b"t",
            &[0, 0, 0, 5],
            b"abc"
        ])),
        "truncated at byte 16 of an Insert message, expected 2 more bytes for the text value"
    );
    assert_eq!(
        err(&cat(&[b"I", &REL, b"N", &[0xFF, 0xFF], b"nnn"])),
        "tuple column count 65535 at byte 6 of an Insert message cannot fit in the 3 bytes that remain"
    );
    assert_eq!(
        err(&cat(&[b"I", &REL, b"N", &[0, 2], b"nx"])),
        "unknown tuple column kind 'x' (0x78) at byte 9 of an Insert message"
    );
    assert_eq!(
        err(&cat(&[b"C", &[0], &LSN, &LSN2, &TIME, b"abc"])),
        "trailing 3 bytes after a Commit message"
    );
    assert_eq!(
        err(&cat(&[b"R", &REL, b"public\0", b"t\xFF\0", b"d", &[0, 0]])),
        "invalid UTF-8 in the relation name at byte 13 of a Relation message"
    );
    assert_eq!(
        err(&cat(&[b"Y", &REL, b"public\0mood"])),
        "unterminated type name (no NUL before the end) at byte 12 of a Type message"
    );
    assert_eq!(
        err(&cat(&[
            b"I",
            &REL,
            b"N",
            &[0, 1],
            b"t",
            &(-1_i32).to_be_bytes()
        ])),
        "negative text value length -1 at byte 9 of an Insert message"
    );
    assert_eq!(
        err(&cat(&[b"I", &REL, b"K", &[0, 0]])),
        "unexpected tuple marker 'K' (0x4B), expected 'N' at byte 5 of an Insert message"
    );
    assert_eq!(
        err(&cat(&[b"U", &REL, b"X", &[0, 0]])),
        "unexpected tuple marker 'X' (0x58), expected 'K' or 'O' or 'N' at byte 5 of an Update message"
    );
    assert_eq!(
        err(&cat(&[b"U", &REL, b"K", &[0, 0], b"K", &[0, 0]])),
        "unexpected tuple marker 'K' (0x4B), expected 'N' at byte 8 of an Update message"
    );
    assert_eq!(
        err(&cat(&[b"D", &REL, b"N", &[0, 0]])),
        "unexpected tuple marker 'N' (0x4E), expected 'K' or 'O' at byte 5 of a Delete message"
    );
    assert_eq!(
        err(&cat(&[b"R", &REL, b"\0t\0", b"x", &[0, 0]])),
        "unknown replica identity 'x' (0x78) at byte 8 of a Relation message"
    );
    assert_eq!(
        err(&cat(&[
            b"R",
            &REL,
            b"\0t\0",
            b"d",
            &[0, 1],
            &[2],
            b"c\0",
            &[0; 8]
        ])),
        "unknown column flags bits 0x02 at byte 11 of a Relation message"
    );
    assert_eq!(
        err(&cat(&[b"T", &[0, 0, 0, 0], &[4]])),
        "unknown truncate options bits 0x04 at byte 5 of a Truncate message"
    );
    assert_eq!(
        err(&cat(&[b"T", &[0xFF, 0xFF, 0xFF, 0xFF], &[0], &REL])),
        "relation count 4294967295 at byte 1 of a Truncate message cannot fit in the 4 bytes that remain"
    );
    assert_eq!(
        err(&cat(&[b"M", &[3], &LSN, b"\0", &[0, 0, 0, 0]])),
        "unknown message flags bits 0x02 at byte 1 of a Message message"
    );
    assert_eq!(
        err(b"B\0\0"),
        "truncated at byte 3 of a Begin message, expected 6 more bytes for the final LSN"
    );
}

#[test]
fn errors_are_typed() {
    let e = decode(&cat(&[b"I", &REL, b"N", &[0xFF, 0xFF], b"nnn"])).unwrap_err();
    let expected = DecodeError::CountTooLarge {
        kind: "Insert",
        offset: 6,
        count: 65_535,
        remaining: 3,
        what: "tuple column",
    };
    assert_eq!(e, expected);
    let e = decode(b"O\0").unwrap_err();
    let expected = DecodeError::Truncated {
        kind: "Origin",
        offset: 2,
        needed: 7,
        what: "commit LSN",
    };
    assert_eq!(e, expected);
}

#[test]
fn lsn_text_and_parse() {
    assert_eq!(lsn_text(0x16_B374_D848), "16/B374D848");
    assert_eq!(lsn_text(0), "0/0");
    assert_eq!(lsn_text(u64::MAX), "FFFFFFFF/FFFFFFFF");
    assert_eq!(lsn_text(0x1_0000_000A), "1/A");
    assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
    assert_eq!(parse_lsn("16/b374d848"), Some(0x16_B374_D848));
    assert_eq!(parse_lsn("00000000/00000001"), Some(1));
    for bad in [
        "",
        "/",
        "1/",
        "/1",
        "+1/2",
        "1/-2",
        "123456789/0",
        "1/2/3",
        " 1/2",
        "g/1",
        "1 /2",
    ] {
        assert_eq!(parse_lsn(bad), None, "{bad:?}");
    }
}

#[test]
fn commit_time_conversion() {
    assert_eq!(commit_time_utc(0).to_rfc3339(), "2000-01-01T00:00:00+00:00");
    assert_eq!(
        commit_time_utc(-1).to_rfc3339(),
        "1999-12-31T23:59:59.999999+00:00"
    );
    assert_eq!(commit_time_utc(-946_684_800_000_000).timestamp(), 0);
    // PostgreSQL's infinities are far outside chrono's range: saturate, never panic
    assert_eq!(commit_time_utc(i64::MAX), DateTime::<Utc>::MAX_UTC);
    assert_eq!(commit_time_utc(i64::MIN), DateTime::<Utc>::MIN_UTC);
}

fn kinds(messages: &[(Vec<u8>, Message)]) -> String {
    messages
        .iter()
        .map(|(bytes, _)| char::from(bytes[0]))
        .collect()
}

#[test]
fn real_postgres_15_stream() {
    let stream = fixture(FIXTURE);
    assert_eq!(
        kinds(&stream),
        concat!(
            "BRIIC",    // insert two rows into t_pk
            "BUC",      // update a non-key column: no old row
            "BUC",      // change the key: old key sent
            "BDC",      // delete by key
            "BYRIIUDC", // t_full (REPLICA IDENTITY FULL, enum column): Type first
            "BRUC",     // update next to the 1 MB TOASTed value
            "BRYRTC",   // truncate, relations announced again first
            "BORIC"     // from a replication origin
        )
    );
    for (bytes, msg) in &stream {
        assert_eq!(&encode(msg), bytes, "real bytes re-encode exactly: {msg:?}");
    }
    let msgs: Vec<&Message> = stream.iter().map(|(_, m)| m).collect();

    // Transactions: Begin and Commit agree, xids grow, changes only use announced tables.
    let mut announced = Vec::new();
    let mut open: Option<(u64, i64, u32)> = None;
    let mut last_xid = 0;
    for msg in &msgs {
        match msg {
            Message::Begin {
                final_lsn,
                commit_time,
                xid,
            } => {
                assert!(open.is_none() && *xid > last_xid);
                last_xid = *xid;
                open = Some((*final_lsn, *commit_time, *xid));
            }
            Message::Commit {
                flags,
                commit_lsn,
                end_lsn,
                commit_time,
            } => {
                let (final_lsn, begin_time, _) = open.take().expect("Commit after Begin");
                assert_eq!(
                    (*flags, *commit_lsn, *commit_time),
                    (0, final_lsn, begin_time)
                );
                assert!(end_lsn > commit_lsn);
            }
            Message::Relation(rel) => announced.push(rel.oid),
            Message::Insert { relation, .. }
            | Message::Update { relation, .. }
            | Message::Delete { relation, .. } => assert!(announced.contains(relation)),
            _ => {}
        }
    }

    let Message::Relation(t_pk) = msgs[1] else {
        panic!("{:?}", msgs[1])
    };
    assert_eq!(
        (t_pk.namespace.as_str(), t_pk.name.as_str()),
        ("public", "t_pk")
    );
    assert_eq!(t_pk.replica_identity, ReplicaIdentity::Default);
    let col = |key, name: &str, type_oid, type_modifier| Column {
        key,
        name: name.into(),
        type_oid,
        type_modifier,
    };
    assert_eq!(
        t_pk.columns,
        vec![
            col(true, "id", 23, -1),
            col(false, "name", 1043, 20 + 4), // varchar(20)
            col(false, "score", 1700, (10 << 16) + 2 + 4), // numeric(10,2)
            col(false, "note", 25, -1),
        ]
    );
    let alice = vec![
        text("1"),
        text("alice"),
        text("10.50"),
        text("héllo \"wörld\""),
    ];
    let insert = |new| Message::Insert {
        relation: t_pk.oid,
        new,
    };
    assert_eq!(*msgs[2], insert(alice.clone()));
    assert_eq!(
        *msgs[3],
        insert(vec![text("2"), text("bob"), Value::Null, Value::Null])
    );

    let mut alice_11 = alice;
    alice_11[2] = text("11.00");
    assert_eq!(
        *msgs[6],
        Message::Update {
            relation: t_pk.oid,
            old: None,
            new: alice_11
        }
    );
    assert_eq!(
        *msgs[9],
        Message::Update {
            relation: t_pk.oid,
            old: Some(OldRow::Key(vec![
                text("2"),
                Value::Null,
                Value::Null,
                Value::Null
            ])),
            new: vec![text("3"), text("bob"), Value::Null, Value::Null],
        }
    );
    assert_eq!(
        *msgs[12],
        Message::Delete {
            relation: t_pk.oid,
            old: OldRow::Key(vec![text("1"), Value::Null, Value::Null, Value::Null]),
        }
    );

    let Message::Type {
        oid: mood,
        namespace,
        name,
    } = msgs[15]
    else {
        panic!()
    };
    assert_eq!((namespace.as_str(), name.as_str()), ("public", "mood"));
    let Message::Relation(t_full) = msgs[16] else {
        panic!()
    };
    assert_eq!(t_full.name, "t_full");
    assert_eq!(t_full.replica_identity, ReplicaIdentity::Full);
    assert!(
        t_full.columns.iter().all(|c| c.key),
        "FULL marks every column as key"
    );
    assert_eq!(t_full.columns[2].type_oid, *mood);
    assert_eq!(
        *msgs[19],
        Message::Update {
            relation: t_full.oid,
            old: Some(OldRow::Full(vec![text("1"), text("one"), text("ok")])),
            new: vec![text("1"), text("uno"), text("ok")],
        }
    );
    assert_eq!(
        *msgs[20],
        Message::Delete {
            relation: t_full.oid,
            old: OldRow::Full(vec![text("2"), Value::Null, Value::Null]),
        }
    );

    let Message::Relation(t_toast) = msgs[23] else {
        panic!()
    };
    assert_eq!(t_toast.name, "t_toast");
    assert_eq!(
        *msgs[24],
        Message::Update {
            relation: t_toast.oid,
            old: None,
            new: vec![text("1"), Value::UnchangedToast, text("1")],
        }
    );

    assert_eq!(
        *msgs[30],
        Message::Truncate {
            relations: vec![t_pk.oid, t_full.oid],
            cascade: true,
            restart_identity: true,
        }
    );

    let Message::Begin { commit_time, .. } = msgs[32] else {
        panic!()
    };
    assert_eq!(
        commit_time_utc(*commit_time).to_rfc3339(),
        "2024-01-02T03:04:05+00:00"
    );
    let Message::Origin { commit_lsn, name } = msgs[33] else {
        panic!()
    };
    assert_eq!(
        (lsn_text(*commit_lsn).as_str(), name.as_str()),
        ("16/B374D848", "upstream")
    );
    let Message::Insert { new, .. } = msgs[35] else {
        panic!()
    };
    assert_eq!(new[1], text("from-origin"));
}

#[test]
fn real_postgres_15_logical_decoding_messages() {
    let stream = fixture(FIXTURE_MESSAGES);
    let [(tx_bytes, tx), (_, non_tx)] = &stream[..] else {
        panic!("{stream:?}")
    };
    assert_eq!(&encode(tx), tx_bytes);
    let Message::Message {
        transactional: true,
        lsn,
        prefix,
        content,
    } = tx
    else {
        panic!()
    };
    assert!(*lsn > 0);
    assert_eq!(
        (prefix.as_str(), content.as_slice()),
        ("doppel", &b"in-tx"[..])
    );
    let Message::Message {
        transactional: false,
        prefix,
        content,
        ..
    } = non_tx
    else {
        panic!()
    };
    assert_eq!(
        (prefix.as_str(), content.as_slice()),
        ("doppel", &[0, 0xFF][..])
    );
}

fn arb_string() -> impl Strategy<Value = String> {
    "\\PC{0,8}"
}

fn arb_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(Value::UnchangedToast),
        vec(any::<u8>(), 0..12).prop_map(Value::Text),
        vec(any::<u8>(), 0..12).prop_map(Value::Binary),
    ]
}

fn arb_tuple() -> impl Strategy<Value = Vec<Value>> {
    vec(arb_value(), 0..6)
}

fn arb_old() -> impl Strategy<Value = OldRow> {
    prop_oneof![
        arb_tuple().prop_map(OldRow::Key),
        arb_tuple().prop_map(OldRow::Full)
    ]
}

fn arb_relation() -> impl Strategy<Value = Relation> {
    let identity = prop_oneof![
        Just(ReplicaIdentity::Default),
        Just(ReplicaIdentity::Nothing),
        Just(ReplicaIdentity::Full),
        Just(ReplicaIdentity::Index),
    ];
    let column = (any::<bool>(), arb_string(), any::<u32>(), any::<i32>()).prop_map(
        |(key, name, type_oid, type_modifier)| Column {
            key,
            name,
            type_oid,
            type_modifier,
        },
    );
    (
        any::<u32>(),
        arb_string(),
        arb_string(),
        identity,
        vec(column, 0..5),
    )
        .prop_map(
            |(oid, namespace, name, replica_identity, columns)| Relation {
                oid,
                namespace,
                name,
                replica_identity,
                columns,
            },
        )
}

fn arb_message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (any::<u64>(), any::<i64>(), any::<u32>()).prop_map(|(final_lsn, commit_time, xid)| {
            Message::Begin {
                final_lsn,
                commit_time,
                xid,
            }
        }),
        (any::<u8>(), any::<u64>(), any::<u64>(), any::<i64>()).prop_map(
            |(flags, commit_lsn, end_lsn, commit_time)| Message::Commit {
                flags,
                commit_lsn,
                end_lsn,
                commit_time
            }
        ),
        (any::<u64>(), arb_string())
            .prop_map(|(commit_lsn, name)| Message::Origin { commit_lsn, name }),
        arb_relation().prop_map(Message::Relation),
        (any::<u32>(), arb_string(), arb_string()).prop_map(|(oid, namespace, name)| {
            Message::Type {
                oid,
                namespace,
                name,
            }
        }),
        (any::<u32>(), arb_tuple()).prop_map(|(relation, new)| Message::Insert { relation, new }),
        (any::<u32>(), proptest::option::of(arb_old()), arb_tuple())
            .prop_map(|(relation, old, new)| Message::Update { relation, old, new }),
        (any::<u32>(), arb_old()).prop_map(|(relation, old)| Message::Delete { relation, old }),
        (vec(any::<u32>(), 0..5), any::<bool>(), any::<bool>()).prop_map(
            |(relations, cascade, restart_identity)| Message::Truncate {
                relations,
                cascade,
                restart_identity
            }
        ),
        (
            any::<bool>(),
            any::<u64>(),
            arb_string(),
            vec(any::<u8>(), 0..12)
        )
            .prop_map(|(transactional, lsn, prefix, content)| Message::Message {
                transactional,
                lsn,
                prefix,
                content
            }),
    ]
}

proptest! {
    #[test]
    fn round_trip(msg in arb_message()) {
        prop_assert_eq!(decode(&encode(&msg)), Ok(msg));
    }

    #[test]
    fn every_truncation_and_any_extension_fails(msg in arb_message(), extra in 1_u8..=255) {
        let bytes = encode(&msg);
        for len in 0..bytes.len() {
            prop_assert!(decode(&bytes[..len]).is_err(), "prefix of {} bytes decoded", len);
        }
        let mut longer = bytes;
        longer.push(extra);
        let trailing = decode(&longer);
        prop_assert!(matches!(trailing, Err(DecodeError::TrailingBytes { count: 1, .. })), "{:?}", trailing);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..64)) {
        // anything that decodes is in the one canonical form, so it re-encodes exactly
        if let Ok(msg) = decode(&bytes) {
            prop_assert_eq!(encode(&msg), bytes);
        }
    }

    #[test]
    fn corrupted_messages_never_panic(
        msg in arb_message(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = encode(&msg);
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if let Ok(msg) = decode(&bytes) {
            prop_assert_eq!(encode(&msg), bytes);
        }
    }

    #[test]
    fn lsn_text_parses_back(lsn in any::<u64>()) {
        prop_assert_eq!(parse_lsn(&lsn_text(lsn)), Some(lsn));
        prop_assert_eq!(parse_lsn(&lsn_text(lsn).to_lowercase()), Some(lsn));
    }
}
