use std::cmp::Ordering;

use proptest::prelude::*;

use super::like::{like, like_tokens};
use super::number::Number;
use super::*;

/// The row every case is evaluated against.
const ROW: &[(&str, Option<&str>)] = &[
    ("country", Some("FR")),
    ("is_admin", Some("f")),
    ("is_staff", Some("t")),
    ("age", Some("42")),
    ("price", Some("19.90")),
    ("big", Some("12345678901234567890")),
    ("email", Some("Alice.Martin@Example.com")),
    ("nothing", None),
    ("status", Some("paid")),
    ("pct", Some("50%")),
    ("path", Some("a\\b")),
    ("Mixed", Some("yes")),
    ("nan", Some("NaN")),
    ("ts", Some("2021-03-04 05:06:07+00")),
];

fn lookup(name: &str) -> Option<Option<&'static str>> {
    ROW.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

fn eval(clause: &str) -> Option<bool> {
    When::parse(clause)
        .unwrap_or_else(|e| panic!("{clause}: {e}"))
        .eval(&lookup)
}

const T: Option<bool> = Some(true);
const F: Option<bool> = Some(false);
const U: Option<bool> = None;

#[test]
fn evaluation_cases() {
    let cases: &[(&str, Option<bool>)] = &[
        // comparisons: text, numbers (exact), booleans
        ("country = 'FR'", T),
        ("country <> 'FR'", F),
        ("country != 'DE'", T),
        ("country < 'GB'", T),
        ("COUNTRY = 'FR'", T),
        ("\"country\" = 'FR'", T),
        ("age = 42", T),
        ("age = '42.0'", T),
        ("age > 9", T),
        ("age >= 42", T),
        ("age <= 41.999", F),
        ("age < -1", F),
        ("price = 19.9", T),
        ("price > 1e1", T),
        ("price < +20", T),
        ("big > 12345678901234567889", T),
        ("big = 12345678901234567891", F),
        ("nan > 1e300", T),
        ("nan = 'NaN'", T),
        ("age < 'Infinity'", T),
        ("is_admin = false", T),
        ("is_admin = 'false'", T),
        ("is_staff = TRUE", T),
        ("is_admin < is_staff", T),
        ("ts >= '2021-01-01'", T),
        ("ts < '2021-03-04 05:06:08'", T),
        // bare booleans and NOT
        ("is_staff", T),
        ("is_admin", F),
        ("NOT is_admin", T),
        ("NOT NOT is_admin", F),
        ("status", U),
        ("TRUE", T),
        ("NULL", U),
        // NULL propagation and three-valued AND/OR/NOT
        ("nothing = 1", U),
        ("nothing <> 1", U),
        ("NOT nothing = 1", U),
        ("nothing = 1 AND FALSE", F),
        ("FALSE AND nothing = 1", F),
        ("nothing = 1 AND TRUE", U),
        ("nothing = 1 OR TRUE", T),
        ("TRUE OR nothing = 1", T),
        ("nothing = 1 OR FALSE", U),
        ("country = 'FR' AND NOT is_admin", T),
        ("country = 'DE' OR age BETWEEN 40 AND 50", T),
        ("missing_column = 1", U),
        // IS [NOT] NULL / TRUE / FALSE / UNKNOWN / DISTINCT FROM
        ("nothing IS NULL", T),
        ("nothing IS NOT NULL", F),
        ("country IS NULL", F),
        ("missing_column IS NULL", T),
        ("(nothing = 1) IS UNKNOWN", T),
        ("(nothing = 1) IS NOT UNKNOWN", F),
        ("is_staff IS TRUE", T),
        ("is_admin IS NOT TRUE", T),
        ("(nothing = 1) IS NOT FALSE", T),
        ("is_admin IS FALSE", T),
        ("nothing IS DISTINCT FROM NULL", F),
        ("nothing IS NOT DISTINCT FROM NULL", T),
        ("age IS DISTINCT FROM 42.00", F),
        ("age IS DISTINCT FROM nothing", T),
        // IN
        ("country IN ('DE', 'FR')", T),
        ("country IN ('DE', 'GB')", F),
        ("country NOT IN ('DE', 'GB')", T),
        ("country IN ('DE', NULL)", U),
        ("country IN ('FR', NULL)", T),
        ("country NOT IN ('DE', NULL)", U),
        ("nothing IN (1, 2)", U),
        ("age IN (41, 42.0)", T),
        // BETWEEN
        ("age BETWEEN 42 AND 42", T),
        ("age NOT BETWEEN 1 AND 10", T),
        ("age BETWEEN 43 AND 50", F),
        ("age BETWEEN nothing AND 10", F),
        ("age BETWEEN nothing AND 50", U),
        ("nothing BETWEEN 1 AND 2", U),
        // LIKE / ILIKE
        ("email LIKE '%@Example.com'", T),
        ("email LIKE '%@example.com'", F),
        ("email ILIKE '%@EXAMPLE.COM'", T),
        ("email NOT ILIKE 'alice%'", F),
        ("email LIKE 'Alice._artin@%'", T),
        ("email LIKE 'Alice_Martin%'", T),
        ("email LIKE 'Alice__Martin%'", F),
        ("email LIKE '%'", T),
        ("email LIKE ''", F),
        ("pct LIKE '50\\%'", T),
        ("pct LIKE '5_\\%'", T),
        ("status LIKE 'p\\_id'", F),
        ("pct LIKE '50!%' ESCAPE '!'", T),
        ("path LIKE 'a\\\\b'", T),
        ("path LIKE 'a\\b' ESCAPE ''", T),
        ("nothing LIKE '%'", U),
        ("status LIKE country", F),
        ("status LIKE nothing", U),
        ("status LIKE '%a%d'", T),
        ("status LIKE '%a%x%'", F),
        ("status LIKE 'p%x%'", F),
        ("status LIKE '%ai%'", T),
        ("\"Mixed\" = 'yes'", T),
        // comments and layout do not matter
        ("country = 'FR' -- only France\n AND age > 18", T),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter(|(clause, want)| eval(clause) != *want)
        .map(|(clause, want)| format!("{clause}: got {:?}, want {want:?}", eval(clause)))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn parse_errors_name_the_construct_and_its_position() {
    let cases: &[(&str, &str, usize, usize)] = &[
        ("lower(email) = 'x'", "function call", 1, 1),
        (
            "country = 'FR' AND lower(email) = 'x'",
            "function call",
            1,
            20,
        ),
        ("age + 1 > 2", "operator +", 1, 1),
        ("age > (SELECT 1)", "subquery", 1, 8),
        // sqlparser places some nodes at an inner token: close enough to find it.
        ("EXISTS (SELECT 1)", "subquery", 1, 9),
        ("age::int > 1", "cast", 1, 1),
        ("CASE WHEN a THEN b END", "CASE", 1, 1),
        ("t.country = 'FR'", "qualified name", 1, 1),
        ("country = ", "does not parse", 1, 11),
        ("country = 'FR' extra", "unexpected `extra`", 1, 16),
        ("country = 'FR';", "unexpected `;`", 1, 15),
        ("country = 'FR'\n  AND age ~ '1'", "operator", 2, 7),
        ("", "empty", 1, 1),
        ("   ", "empty", 1, 1),
        ("'yes'", "literal used as a condition", 1, 1),
        ("42", "literal used as a condition", 1, 1),
        ("country = 'unterminated", "does not parse", 1, 11),
        ("name SIMILAR TO 'a%'", "regular expression", 1, 1),
        ("pct LIKE '50\\'", "ends with its escape", 1, 10),
        ("pct LIKE 'x' ESCAPE 'ab'", "ESCAPE takes a single", 1, 21),
        ("pct LIKE 1", "LIKE pattern", 1, 10),
        (
            "(a = 1) = (b = 2)",
            "condition where a column or literal",
            1,
            2,
        ),
        ("a IN (SELECT 1)", "subquery", 1, 1),
        ("-age > 1", "arithmetic", 1, 2),
        ("country = 'FR' AND", "does not parse", 1, 19),
        ("country = 'FR' AND\n", "does not parse", 2, 1),
        ("a = ANY(b)", "ANY/ALL", 1, 1),
    ];
    let mut wrong = Vec::new();
    for (clause, want, line, col) in cases {
        match When::parse(clause) {
            Ok(_) => wrong.push(format!("{clause}: accepted")),
            Err(e) if !e.message.contains(want) || (e.line, e.col) != (*line, *col) => {
                wrong.push(format!("{clause}: got {e}, want {line}:{col} {want}"))
            }
            Err(_) => {}
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    let nested = |n: usize| format!("{}a = 1{}", "(".repeat(n), ")".repeat(n));
    let e = When::parse(&nested(200)).unwrap_err();
    assert!(e.message.contains("nested"), "{e}");
    let e = When::parse(&nested(5000)).unwrap_err();
    assert!(e.message.contains("too long"), "{e}");
    let nots = format!("{}a", "NOT ".repeat(500));
    assert!(When::parse(&nots).is_err());
    let sums = format!("{} > 0", vec!["a"; 5000].join(" + "));
    assert!(When::parse(&sums).unwrap_err().message.contains("too long"));
    // Right at the limits, everything still works.
    let deepest = (1..200)
        .rev()
        .find(|n| When::parse(&nested(*n)).is_ok())
        .unwrap();
    assert!(deepest >= 10, "{deepest}");
    assert_eq!(
        When::parse(&nested(deepest))
            .unwrap()
            .eval(&|_| Some(Some("1"))),
        T
    );
    let long_and = vec!["a = 1"; 249].join(" AND ");
    assert_eq!(
        When::parse(&long_and).unwrap().eval(&|_| Some(Some("1"))),
        T
    );
    let nested_or = (0..8).fold("a = 1".to_string(), |acc, _| {
        format!("(a = 2 OR ({acc}) AND b IS NULL)")
    });
    assert_eq!(
        When::parse(&nested_or).unwrap().eval(&|_| Some(Some("1"))),
        F
    );
}

#[test]
fn columns_are_folded_and_listed() {
    let w = When::parse("Country = 'FR' AND NOT \"IsAdmin\" AND email LIKE x").unwrap();
    let cols: Vec<&str> = w.columns().iter().map(String::as_str).collect();
    assert_eq!(cols, ["IsAdmin", "country", "email", "x"]);
    assert_eq!(
        w.boolean_columns().into_iter().collect::<Vec<_>>(),
        ["IsAdmin"]
    );
    assert_eq!(w.column_position("email"), Some((1, 38)));
    assert_eq!(w.column_position("country"), Some((1, 1)));
    assert_eq!(w.column_position("nope"), None);
    let two_lines = When::parse("a = 1\n  AND b = 2 AND a = 3").unwrap();
    assert_eq!(two_lines.column_position("b"), Some((2, 7)));
    assert_eq!(two_lines.column_position("a"), Some((1, 1)));
}

#[test]
fn canonical_form_ignores_spelling_and_layout() {
    let a = When::parse("country='FR' and not is_admin").unwrap();
    let b = When::parse("  COUNTRY = 'FR'\n  AND (NOT \"is_admin\")  ").unwrap();
    assert_eq!(a, b);
    assert_eq!(a.to_string(), b.to_string());
    assert_eq!(
        a.to_string(),
        "((\"country\" = 'FR') AND (NOT \"is_admin\"))"
    );
    // AND and OR are associative: grouping does not matter either.
    let x = When::parse("(a = 1 AND b = 2) AND c = 3").unwrap();
    let y = When::parse("a = 1 AND (b = 2 AND c = 3)").unwrap();
    assert_eq!(x.to_string(), y.to_string());
    let c = When::parse("country = 'DE' AND NOT is_admin").unwrap();
    assert_ne!(a, c);
    // The canonical form parses back to the same clause.
    let again = When::parse(&a.to_string()).unwrap();
    assert_eq!(a, again);
}

#[test]
fn numbers_compare_exactly() {
    let cases: &[(&str, &str, Ordering)] = &[
        ("1", "1.0", Ordering::Equal),
        ("0", "-0", Ordering::Equal),
        ("0.000", "0e10", Ordering::Equal),
        ("-1", "1", Ordering::Less),
        ("-2", "-1", Ordering::Less),
        ("10", "9.99999999999999999999", Ordering::Greater),
        ("1e2", "100", Ordering::Equal),
        ("1.5E-3", "0.0015", Ordering::Equal),
        ("9007199254740993", "9007199254740992", Ordering::Greater),
        ("-Infinity", "-1e999999", Ordering::Less),
        ("Infinity", "NaN", Ordering::Less),
        ("NaN", "NaN", Ordering::Equal),
        (".5", "0.5", Ordering::Equal),
        ("5.", "5", Ordering::Equal),
        ("1e99999999999999999999", "1e1000", Ordering::Greater),
        ("1.23e1", "12.3", Ordering::Equal),
        ("0.00120", "1.2e-3", Ordering::Equal),
        ("100", "1e2", Ordering::Equal),
        ("-0.5", "-0.50", Ordering::Equal),
        ("-0.5", "-0.49", Ordering::Less),
        ("120", "12", Ordering::Greater),
        ("0.1", "0.09999", Ordering::Greater),
        ("-1e-5", "0", Ordering::Less),
    ];
    for (a, b, want) in cases {
        let (x, y) = (Number::parse(a).unwrap(), Number::parse(b).unwrap());
        assert_eq!(x.cmp(&y), *want, "{a} vs {b}");
        assert_eq!(y.cmp(&x), want.reverse(), "{b} vs {a}");
    }
    for not_a_number in [
        "", "-", ".", "1e", "e5", "1.2.3", "12a", " 1", "0x10", "-NaN",
    ] {
        assert_eq!(Number::parse(not_a_number), None, "{not_a_number:?}");
    }
}

fn operand() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec!["a", "b", "c", "\"D\""]).prop_map(String::from),
        "-?[0-9]{1,3}(\\.[0-9]{1,2})?".prop_map(String::from),
        "[a-z%_\\\\]{0,4}".prop_map(|s| format!("'{s}'")),
        Just("NULL".to_string()),
        Just("TRUE".to_string()),
    ]
}

fn clause() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        (
            operand(),
            prop::sample::select(vec!["=", "<>", "<", "<=", ">", ">="]),
            operand()
        )
            .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
        (operand(), any::<bool>())
            .prop_map(|(a, n)| format!("{a} IS {}NULL", if n { "NOT " } else { "" })),
        (operand(), prop::collection::vec(operand(), 1..4))
            .prop_map(|(a, l)| format!("{a} IN ({})", l.join(", "))),
        (operand(), operand(), operand()).prop_map(|(a, l, h)| format!("{a} BETWEEN {l} AND {h}")),
        (
            prop::sample::select(vec!["a", "b"]),
            prop::sample::select(vec!["LIKE", "ILIKE", "NOT LIKE"]),
            "[a-z%_]{0,4}"
        )
            .prop_map(|(a, op, p)| format!("{a} {op} '{p}'")),
        prop::sample::select(vec!["a", "b", "TRUE", "NULL"]).prop_map(String::from),
    ];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(x, y)| format!("({x}) AND ({y})")),
            (inner.clone(), inner.clone()).prop_map(|(x, y)| format!("({x}) OR ({y})")),
            inner.prop_map(|x| format!("NOT ({x})")),
        ]
    })
}

fn value() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        any::<String>().prop_map(Some),
        "-?[0-9]{0,25}(\\.[0-9]{0,5})?([eE][-+]?[0-9]{1,4})?".prop_map(Some),
        prop::sample::select(vec!["t", "f", "true", "NaN", "-Infinity", "%", "\\"])
            .prop_map(|s| Some(s.to_string())),
    ]
}

proptest! {
    #[test]
    fn evaluation_never_panics(
        c in clause(),
        a in value(), b in value(), cc in value(), d in value(),
    ) {
        // Generated clauses may still be refused (a literal as a condition): fine.
        if let Ok(w) = When::parse(&c) {
            let row = |name: &str| -> Option<Option<&str>> {
                match name {
                    "a" => Some(a.as_deref()),
                    "b" => Some(b.as_deref()),
                    "c" => Some(cc.as_deref()),
                    "D" => Some(d.as_deref()),
                    _ => None,
                }
            };
            let v = w.eval(&row);
            // NOT flips TRUE and FALSE and keeps UNKNOWN.
            let negated = When::parse(&format!("NOT ({c})")).unwrap();
            prop_assert_eq!(negated.eval(&row), v.map(|x| !x));
            // The canonical form means the same.
            let canonical = When::parse(&w.to_string()).unwrap();
            prop_assert_eq!(canonical.eval(&row), v);
        }
    }

    #[test]
    fn numbers_order_like_floats_where_floats_are_exact(
        a in "-?[0-9]{1,6}(\\.[0-9]{1,6})?([eE]-?[0-9])?",
        b in "-?[0-9]{1,6}(\\.[0-9]{1,6})?([eE]-?[0-9])?",
    ) {
        let (x, y) = (Number::parse(&a).unwrap(), Number::parse(&b).unwrap());
        let (fx, fy): (f64, f64) = (a.parse().unwrap(), b.parse().unwrap());
        prop_assert_eq!(Some(x.cmp(&y)), fx.partial_cmp(&fy), "{} vs {}", a, b);
    }

    #[test]
    fn parsing_never_panics(s in any::<String>()) {
        let _ = When::parse(&s);
    }

    #[test]
    fn like_agrees_with_a_reference_matcher(p in "[aé%_]{0,6}", s in "[aé]{0,6}") {
        let tokens = like_tokens(&p, Some('\\'), false).unwrap();
        prop_assert_eq!(like(&tokens, &s, false), reference_like(&p.chars().collect::<Vec<_>>(), &s.chars().collect::<Vec<_>>()));
    }
}

/// Exponential but obviously right: the definition of LIKE.
fn reference_like(p: &[char], s: &[char]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some(('%', rest)) => (0..=s.len()).any(|i| reference_like(rest, &s[i..])),
        Some(('_', rest)) => !s.is_empty() && reference_like(rest, &s[1..]),
        Some((c, rest)) => s.first() == Some(c) && reference_like(rest, &s[1..]),
    }
}
