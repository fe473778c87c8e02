use super::*;

#[test]
fn word_lists_are_sorted_folded_and_unique() {
    for (name, list) in [
        ("STREET_WORDS", STREET_WORDS.as_slice()),
        ("GIVEN_NAMES", GIVEN_NAMES.as_slice()),
        ("SURNAMES", SURNAMES.as_slice()),
        ("CITIES", CITIES.as_slice()),
    ] {
        for pair in list.windows(2) {
            assert!(pair[0] < pair[1], "{name}: {} before {}", pair[0], pair[1]);
        }
        for w in list {
            assert_eq!(fold(w), *w, "{name}: {w} is not folded");
        }
    }
    for w in STREET_SUFFIXES.iter().chain(PARTICLES.iter()) {
        assert_eq!(fold(w), *w, "{w} is not folded");
    }
}

type Case = (
    fn(&str) -> bool,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
);

#[test]
fn each_test_accepts_its_shapes_and_refuses_near_misses() {
    let cases: &[Case] = &[
        (
            is_email,
            "e-mail",
            &[
                "anna.smith@example.com",
                "j+tag@mail.example.co.uk",
                " x@y.org ",
            ],
            &[
                "anna.smith",
                "a@b",
                "@example.com",
                "a b@example.com",
                "x@y.c0m",
            ],
        ),
        (
            is_card_number,
            "card number",
            &[
                "4111111111111111",
                "4111 1111 1111 1111",
                "378282246310005",
                "5555-5555-5555-4444",
            ],
            &[
                "4111111111111112",
                "1234567890",
                "0000000000000000",
                "4111x111111111111",
            ],
        ),
        (
            is_iban,
            "IBAN",
            &[
                "DE89370400440532013000",
                "GB82 WEST 1234 5698 7654 32",
                "fr1420041010050500013m02606",
            ],
            &[
                "DE89370400440532013001",
                "DE8937040044",
                "1234567890123456",
                "XX00 0000",
            ],
        ),
        (
            is_phone,
            "phone number",
            &[
                "+44 7700 900123",
                "+1 212-555-0142",
                "(212) 555-0142",
                "06 39 98 12 34",
                "0612345678",
                "+33639981234",
                "030 23125 001",
            ],
            &[
                "2024-01-02",
                "198.51.100.7",
                "12345678",
                "12.50",
                "12-34",
                "phone",
                "+",
                "1+2345678",
            ],
        ),
        (
            is_hex_digest,
            "hex digest",
            &[
                "5f4dcc3b5aa765d61d8327deb882cf99",
                "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            ],
            &[
                "5f4dcc3b5aa765d61d8327deb882cf9",
                "zzzzcc3b5aa765d61d8327deb882cf99",
            ],
        ),
        (
            is_uuid,
            "uuid",
            &["550e8400-e29b-41d4-a716-446655440000"],
            &[
                "550e8400e29b41d4a716446655440000",
                "550e8400-e29b-41d4-a716-44665544000g",
            ],
        ),
        (
            is_given_name,
            "given name",
            &["Emma", "Chloé", "søren", "JOSÉ"],
            &["Emma Smith", "Kitchen", "pending", "42"],
        ),
        (
            is_surname,
            "surname",
            &["Smith", "Müller", "de Vries", "O'Connor"],
            &["Smith Jones Brown Lee", "Kitchen", "de", "van der de Vries"],
        ),
        (
            is_full_name,
            "full name",
            &[
                "Emma Smith",
                "Chloé de Vries",
                "Mary Ann Johnson",
                "Zbigniew Nowak",
            ],
            &[
                "Emma",
                "buy more milk",
                "Cookbook (Red)",
                "Wooden Puzzle",
                "Order Placed Today",
            ],
        ),
        (
            is_city,
            "city",
            &["London", "München", "new york"],
            &["Londonderry Road", "Books", ""],
        ),
        (
            is_distinctive_postcode,
            "postcode",
            &[
                "SW1A 1AA", "M1 1AE", "1012 AB", "1100-148", "00-950", "K1A 0B1",
            ],
            &["75001", "hello", "SW1A1AA1", "12"],
        ),
        (
            is_street_address,
            "street address",
            &[
                "12 High Street",
                "4 rue de Rivoli",
                "Friedrichstraße 12",
                "Calle Mayor 3",
                "221B Baker Street, Apt 2",
                "Prinsengracht 263",
            ],
            &[
                "High Street",
                "Cookbook (Red)",
                "12 apples",
                "Order 12 shipped",
                "3 rue",
                "12 Street",
            ],
        ),
    ];
    for (test, what, yes, no) in cases {
        for v in *yes {
            assert!(test(v), "{v:?} should look like a {what}");
        }
        for v in *no {
            assert!(!test(v), "{v:?} should not look like a {what}");
        }
    }
}

#[test]
fn ip_addresses_keep_their_family() {
    let cases = [
        ("198.51.100.7", Some(IpFamily::V4)),
        ("198.51.100.7/32", Some(IpFamily::V4)),
        ("2001:db8::1", Some(IpFamily::V6)),
        ("2001:db8::/32", Some(IpFamily::V6)),
        ("198.51.100", None),
        ("198.51.100.7/x", None),
        ("localhost", None),
    ];
    for (v, want) in cases {
        assert_eq!(ip_family(v), want, "{v}");
    }
}

#[test]
fn password_hashes_name_their_scheme() {
    let cases = [
        (
            "$2b$10$TnEBDcLPO0mIqvqxbkAIPOdRavtJzNd4r6hszYHToA24EaYQZMJGe",
            Some("bcrypt"),
        ),
        (
            "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA",
            Some("argon2id"),
        ),
        ("$6$rounds=5000$salt$hash", Some("crypt")),
        ("pbkdf2_sha256$600000$salt$hash=", Some("pbkdf2_sha256")),
        ("{SSHA}abcdefgh", Some("ldap")),
        ("$2b$10$short", None),
        ("5f4dcc3b5aa765d61d8327deb882cf99", None),
        ("password", None),
    ];
    for (v, want) in cases {
        assert_eq!(password_scheme(v), want, "{v}");
    }
}

#[test]
fn tokens_are_long_mixed_and_random() {
    let cases = [
        ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", false, true),
        (
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N",
            false,
            true,
        ),
        ("9f86d081884c7d659a2feaa0c55ad015", false, false),
        ("9f86d081884c7d659a2feaa0c55ad015", true, true),
        ("550e8400-e29b-41d4-a716-446655440000", true, false),
        ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaA1", false, false),
        ("this is a sentence, not a token at all", true, false),
        ("ORD-2024-000123-ABCDEFGH", false, false),
        ("short1A", true, false),
    ];
    for (v, hinted, want) in cases {
        assert_eq!(is_token(v, hinted), want, "{v} hinted={hinted}");
    }
}

#[test]
fn birth_dates_are_ages_up_to_110() {
    let today = NaiveDate::from_ymd_opt(2025, 6, 15).unwrap();
    let cases = [
        ("1980-03-04", true),
        ("1980-03-04 00:00:00+00", true),
        ("04/03/1980", true),
        ("31.12.1999", true),
        ("2025-06-15", true),
        ("2025-06-16", false),
        ("1915-06-15", true),
        ("1914-06-16", true),
        ("1914-06-15", false),
        ("1850-01-01", false),
        ("not a date", false),
        ("1980-13-45", false),
    ];
    for (v, want) in cases {
        let got = parse_date(v).is_some_and(|d| is_plausible_birth_date(d, today));
        assert_eq!(got, want, "{v}");
    }
}

#[test]
fn prose_counts_sentences() {
    let cases = [
        (
            "Please leave the parcel with the neighbour at number twelve.",
            Some(1),
        ),
        (
            "Called twice. No answer, will try again tomorrow! Customer prefers mornings.",
            Some(3),
        ),
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36", None),
        ("too short", None),
        ("SKU-1 SKU-2 SKU-3 SKU-4 SKU-5 SKU-6", None),
    ];
    for (v, want) in cases {
        assert_eq!(prose_sentences(v), want, "{v}");
    }
}
