//! Suggested rules for uncovered columns, guessed from the column's name and type. A guess
//! only saves typing: every suggestion is meant to be reviewed, and a column nothing is
//! guessed for is suggested as `keep` with a comment saying it needs review.

/// A suggested rule for one column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    /// The guessed transformer, or `None` when nothing was guessed (suggested as `keep`).
    pub transformer: Option<&'static str>,
    /// A line for the table's `columns` section, e.g. `email = { transformer = "email" }`.
    pub line: String,
}

/// Name fragments and the transformer they suggest, most specific first: the first entry
/// whose fragment appears in the column name (lower-cased, as `_`-separated words or
/// glued) wins.
const BY_NAME: &[(&[&str], &str)] = &[
    (&["password", "passwd", "pwd"], "password_hash"),
    (&["iban"], "iban"),
    (
        &[
            "card_number",
            "cardnumber",
            "credit_card",
            "cc_number",
            "pan",
        ],
        "card_number",
    ),
    (
        &[
            "ssn",
            "national_id",
            "nationalid",
            "passport",
            "tax_id",
            "nino",
            "nir",
        ],
        "national_id",
    ),
    (&["email", "e_mail", "mail"], "email"),
    (
        &["first_name", "firstname", "given_name", "forename"],
        "first_name",
    ),
    (
        &[
            "last_name",
            "lastname",
            "surname",
            "family_name",
            "maiden_name",
        ],
        "last_name",
    ),
    (
        &[
            "full_name",
            "fullname",
            "display_name",
            "contact_name",
            "customer_name",
            "shipping_name",
            "billing_name",
            "passenger_name",
            "guest_name",
            "patient_name",
            "employee_name",
            "member_name",
            "holder_name",
            "owner_name",
            "recipient_name",
            "client_name",
            "person_name",
            "traveler_name",
            "traveller_name",
            "student_name",
            "sender_name",
        ],
        "full_name",
    ),
    (
        &["username", "user_name", "login", "nickname", "handle"],
        "username",
    ),
    (&["phone", "mobile", "fax", "tel", "msisdn"], "phone"),
    (&["ipv6"], "ipv6"),
    (
        &["ip", "ip_address", "ipaddress", "remote_addr", "client_ip"],
        "ipv4",
    ),
    (&["mac", "mac_address", "macaddress"], "mac"),
    (
        &["street", "address_line", "address1", "address2", "address"],
        "street_address",
    ),
    (
        &["postcode", "postal_code", "postalcode", "zip", "zipcode"],
        "postcode",
    ),
    (&["city", "town", "hometown", "birthplace"], "city"),
    (&["country"], "country"),
    (
        &["company", "employer", "organization", "organisation"],
        "company",
    ),
    (&["job_title", "jobtitle", "occupation"], "job_title"),
    (&["birth", "dob", "birthday"], "date_of_birth"),
    (&["url", "website", "homepage", "avatar"], "url"),
    (
        &[
            "note",
            "notes",
            "comment",
            "comments",
            "bio",
            "message",
            "description",
        ],
        "paragraph",
    ),
];

/// Suggests a rule for column `name` of type `type_name` (as `format_type` writes it).
pub fn suggest(name: &str, type_name: &str) -> Suggestion {
    let key = toml_key(name);
    match guess(name, type_name) {
        Some(t) => Suggestion {
            transformer: Some(t),
            line: format!("{key} = {{ transformer = \"{t}\" }}  # guessed from the name: review"),
        },
        None => Suggestion {
            transformer: None,
            line: format!("{key} = \"keep\"  # needs review: kept as it is"),
        },
    }
}

fn guess(name: &str, type_name: &str) -> Option<&'static str> {
    let lower = name.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let joined = words.join("_");
    // Keys and references are ids, not personal data; timestamps and flags rarely are.
    if words
        .last()
        .is_some_and(|w| *w == "id" || *w == "uuid" || *w == "at")
    {
        return None;
    }
    match type_name {
        "inet" | "cidr" => return Some("ipv4"),
        "macaddr" | "macaddr8" => return Some("mac"),
        _ => {}
    }
    for (fragments, transformer) in BY_NAME {
        for fragment in *fragments {
            let matched = if fragment.contains('_') {
                // Also across spaces and case changes: "User Name", "user-name".
                lower.contains(fragment) || joined.contains(fragment)
            } else {
                // Single words match whole words only, or the name glued together
                // ("homephone"), but short ones such as "ip" or "tel" only as whole words.
                words.contains(fragment) || (fragment.len() >= 5 && lower.contains(fragment))
            };
            if matched {
                return Some(transformer);
            }
        }
    }
    None
}

/// `name` as a TOML key: bare when it can be, quoted otherwise.
pub(crate) fn toml_key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        name.to_string()
    } else {
        toml::Value::String(name.to_string()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_from_names_and_types() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("email", "text", Some("email")),
            ("actor_email", "text", Some("email")),
            ("first_name", "text", Some("first_name")),
            ("FirstName", "text", Some("first_name")),
            ("last_name", "text", Some("last_name")),
            ("shipping_name", "text", Some("full_name")),
            ("phone", "text", Some("phone")),
            ("homephone", "text", Some("phone")),
            ("street_address", "text", Some("street_address")),
            ("shipping_street", "text", Some("street_address")),
            ("shipping_city", "text", Some("city")),
            ("postcode", "text", Some("postcode")),
            ("zip", "text", Some("postcode")),
            ("date_of_birth", "date", Some("date_of_birth")),
            ("client_ip", "inet", Some("ipv4")),
            ("whatever", "inet", Some("ipv4")),
            ("password_hash", "text", Some("password_hash")),
            ("iban", "text", Some("iban")),
            ("ip_address", "text", Some("ipv4")),
            ("email_address", "text", Some("email")),
            ("billing_address", "text", Some("street_address")),
            ("notes", "text", Some("paragraph")),
            ("customer_id", "bigint", None),
            ("created_at", "timestamp with time zone", None),
            ("status", "text", None),
            ("tip", "numeric", None),
            ("description_id", "integer", None),
            ("User Name", "text", Some("username")),
            ("passenger_name", "text", Some("full_name")),
            ("cardholder_name", "text", Some("full_name")),
            ("hometown", "text", Some("city")),
        ];
        for (name, ty, want) in cases {
            assert_eq!(guess(name, ty), *want, "{name} {ty}");
        }
    }

    #[test]
    fn suggestion_lines_are_valid_toml() {
        for name in ["email", "weird name", "quo\"te", "x.y", "status"] {
            let s = suggest(name, "text");
            let parsed: toml::Table = toml::from_str(s.line.split("  #").next().unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", s.line));
            assert!(parsed.contains_key(name), "{}", s.line);
        }
    }
}
