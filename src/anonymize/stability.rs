//! Pinned outputs of every transformer for one key. Anonymized snapshots dedup against earlier
//! ones, and tables anonymized apart stay joinable, only while the same key gives the same
//! output release after release. A change here — from our code, `fake`'s word lists, or the
//! ChaCha stream — changes every anonymized value: make it on purpose, and say so in the
//! release notes.

use super::testing::{key, DOMAIN};
use super::{Anonymizer, ColumnType, MapRow};

const CASES: &[(&str, &str, &str, &str)] = &[
    ("keep", "", "text", "Ada"),
    ("constant", "value = \"x\"", "text", "Ada"),
    ("hash", "", "text", "Ada"),
    ("hash", "format = \"base64\"\nlength = 20", "text", "Ada"),
    ("mask", "keep_last = 2", "text", "Ada Lovelace"),
    (
        "regex_replace",
        "pattern = 'a'\nreplacement = \"4\"",
        "text",
        "Ada Lovelace",
    ),
    ("password_hash", "", "text", "x"),
    ("permute", "", "int8", "123456"),
    ("permute", "min = 1\nmax = 1000", "int4", "17"),
    ("first_name", "", "text", "Ada"),
    ("last_name", "locale = \"fr_fr\"", "text", "Lovelace"),
    ("full_name", "", "text", "Ada Lovelace"),
    ("email", "", "text", "ada@example.org"),
    ("email", "unique = true", "text", "ada@example.org"),
    ("username", "", "text", "ada"),
    ("phone", "", "text", "+44 20 7946 0958"),
    ("street_address", "", "text", "12 Main St"),
    ("city", "", "text", "London"),
    ("postcode", "", "text", "SW1A 1AA"),
    ("country", "", "text", "UK"),
    ("company", "", "text", "Analytical Engines Ltd"),
    ("job_title", "", "text", "Mathematician"),
    // Values cut to short columns: names at any character, the others at a word boundary.
    ("first_name", "", "varchar(3)", "Ada"),
    ("last_name", "locale = \"fr_fr\"", "varchar(4)", "Lovelace"),
    ("full_name", "", "varchar(10)", "Ada Lovelace"),
    ("company", "", "varchar(12)", "Analytical Engines Ltd"),
    ("job_title", "", "varchar(15)", "Mathematician"),
    ("ip", "", "inet", "10.1.2.3"),
    ("ipv4", "", "inet", "192.168.0.1/24"),
    ("ipv6", "", "inet", "2001:db8::1"),
    ("mac", "", "macaddr", "08:00:2b:01:02:03"),
    ("url", "", "text", "https://ada.example.org/"),
    ("iban", "", "text", "GB29NWBK60161331926819"),
    ("card_number", "", "text", "4111111111111111"),
    ("national_id", "", "text", "078-05-1120"),
    ("uuid", "", "uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    ("words", "", "text", "x"),
    ("sentence", "", "text", "x"),
    (
        "paragraph",
        "min_sentences = 1\nmax_sentences = 2",
        "text",
        "x",
    ),
    ("date_of_birth", "", "date", "1815-12-10"),
    ("noise", "", "numeric(10,2)", "1000.00"),
    ("numeric_range", "min = 1\nmax = 100", "int4", "7"),
    ("date_shift", "", "timestamptz", "2024-03-15 13:45:12+01"),
    ("date_generalize", "", "date", "2024-03-15"),
    (
        "weighted_choice",
        "choices = [\"a\", \"b\", \"c\"]",
        "text",
        "x",
    ),
    (
        "template",
        "template = \"{first|lower}@example.com\"",
        "text",
        "x",
    ),
    (
        "json",
        "paths = { \"$.name\" = { transformer = \"first_name\" } }",
        "jsonb",
        "{\"name\": \"Ada\", \"n\": 1}",
    ),
    (
        "array",
        "element = { transformer = \"last_name\" }",
        "_text",
        "{Lovelace,Byron}",
    ),
];

const EXPECTED: &str = r#"keep: Ada
constant: x
hash: 9074349154e9e51f0b869e415920cf09
hash: kHQ0kVTp5R8Lhp5BWSDP
mask: **********ce
regex_replace: Ad4 Lovel4ce
password_hash: $2b$10$TnEBDcLPO0mIqvqxbkAIPOdRavtJzNd4r6hszYHToA24EaYQZMJGe
permute: 95001
permute: 760
first_name: Ayana
last_name: Delage
full_name: Sierra Fahey
email: rosemary.blanda56@example.com
email: rosemary.blanda56.jxqiufeviqm2rczfazxf@example.com
username: turner08
phone: +89 44 5151 2785
street_address: 11 Mollie Row
city: East Zboncak
postcode: XO2G 8RH
country: Croatia
company: Nolan and Boyle LLC
job_title: District Banking Technician
first_name: Aya
last_name: Dela
full_name: Sierra
company: Nolan and
job_title: District
ip: 96.58.203.13
ipv4: 62.221.49.160/24
ipv6: 889b:d79e:781:83c2:186f:1dd0:c17f:2260
mac: 99:98:5f:d7:65:c7
url: https://wilkinson.example.com/aliquid
iban: GB57IFXY14228733521726
card_number: 4880503739929503
national_id: 504-75-4281
uuid: 75fb7120-8419-418b-95a2-9001de966b25
words: facilis laudantium hic
sentence: Consectetur facere ea rerum maxime possimus minus deserunt ut harum non.
paragraph: Quam tenetur est inventore nihil cupiditate molestiae. Occaecati nostrum tenetur autem est est corrupti ullam quos.
date_of_birth: 1967-07-27
noise: 967.25
numeric_range: 39
date_shift: 2024-03-04 13:45:12+01
date_generalize: 2024-03-01
weighted_choice: b
template: ada@example.com
json: {"name": "Ayana", "n": 1}
array: {Gislason,Gottlieb}
"#;

fn outputs() -> String {
    let row = MapRow::new().with("first", Some("Ada"));
    CASES
        .iter()
        .map(|(name, params, column, input)| {
            // The path a snapshot takes: a rule's spec through an Anonymizer.
            let spec: toml::Table =
                toml::from_str(&format!("transformer = \"{name}\"\n{params}")).unwrap();
            let rule = Anonymizer::from_spec(&spec, &ColumnType::parse(column).unwrap()).unwrap();
            let out = rule.apply(Some(input), &key(), DOMAIN, &row).unwrap();
            format!("{name}: {}\n", out.unwrap_or_default())
        })
        .collect()
}

#[test]
fn outputs_are_stable_across_releases() {
    let got = outputs();
    if got != EXPECTED {
        panic!("anonymized outputs changed; if that is intended, pin the new ones:\n{got}");
    }
}
