//! What one sampled value looks like: pure tests on a single string (an e-mail address, a
//! card number passing Luhn, an IBAN passing mod-97, a crypt-style password hash, ...), the
//! fuzzier ones drawing on small embedded word lists (given names, surnames, cities, street
//! words: see `words`). The scanner counts how many sampled values pass each test; a single
//! value proves nothing, and nothing here keeps or returns the value itself.

use std::net::IpAddr;
use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate};
use regex::Regex;

use crate::anonymize::check_digits::{iban_valid, luhn_valid};

mod words;

use words::{CITIES, GIVEN_NAMES, PARTICLES, STREET_SUFFIXES, STREET_WORDS, SURNAMES};

/// Which family an IP address belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IpFamily {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

/// `user@domain.tld`, with no spaces and a dot in the domain. Deliberately loose: the
/// majority rule, not the pattern, keeps a column of odd strings from passing.
pub(crate) fn is_email(v: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r"^[^\s@<>(),;:]+@[^\s@<>(),;:.]+(\.[^\s@<>(),;:.]+)*\.\p{L}{2,}$")
            .expect("valid regex")
    });
    re.is_match(v.trim())
}

/// An IP address, with or without a `/prefix` (as `inet` and `cidr` print them).
pub(crate) fn ip_family(v: &str) -> Option<IpFamily> {
    let v = v.trim();
    let addr = match v.split_once('/') {
        Some((a, prefix)) if !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_digit()) => a,
        Some(_) => return None,
        None => v,
    };
    match addr.parse::<IpAddr>().ok()? {
        IpAddr::V4(_) => Some(IpFamily::V4),
        IpAddr::V6(_) => Some(IpFamily::V6),
    }
}

/// A payment card number: 13 to 19 digits (spaces and dashes allowed between them) whose
/// Luhn checksum holds. One random digit string in ten passes Luhn, which is why a column
/// needs a majority of them.
pub(crate) fn is_card_number(v: &str) -> bool {
    let v = v.trim();
    if v.is_empty()
        || !v
            .chars()
            .all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
    {
        return false;
    }
    let digits: Vec<u8> = v
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect();
    if !(13..=19).contains(&digits.len()) || digits.iter().all(|d| *d == digits[0]) {
        return false;
    }
    luhn_valid(&digits)
}

/// An IBAN: country code, two check digits and 11 to 30 letters or digits (spaces
/// allowed), whose ISO 7064 mod-97 remainder is 1.
pub(crate) fn is_iban(v: &str) -> bool {
    let compact: String = v
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let b = compact.as_bytes();
    if !(15..=34).contains(&b.len())
        || !b[..2].iter().all(u8::is_ascii_uppercase)
        || !b[2..4].iter().all(u8::is_ascii_digit)
        || !b[4..].iter().all(u8::is_ascii_alphanumeric)
    {
        return false;
    }
    iban_valid(b)
}

/// The password-hash scheme a value is written in, when it is a crypt-style or framework
/// hash string. Bare hex digests are not recognized here: they only mean a password when
/// the column's name says so (see [`is_hex_digest`]).
pub(crate) fn password_scheme(v: &str) -> Option<&'static str> {
    static RE: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    let res = RE.get_or_init(|| {
        [
            (r"^\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}$", "bcrypt"),
            (r"^\$argon2(id|i|d)\$\S+$", "argon2id"),
            (r"^pbkdf2_sha256\$\d+\$\S+$", "pbkdf2_sha256"),
            (r"^\$(1|5|6|y|7|md5|sha1|apr1)\$\S+$", "crypt"),
            (
                r"^(pbkdf2_sha1|bcrypt_sha256|argon2|scrypt|sha1|md5)\$\S+$",
                "framework",
            ),
            (
                r"^\{(SSHA|SHA|SSHA256|SSHA512|CRYPT|PBKDF2)[^}]*\}\S+$",
                "ldap",
            ),
        ]
        .into_iter()
        .map(|(re, scheme)| (Regex::new(re).expect("valid regex"), scheme))
        .collect()
    });
    let v = v.trim();
    res.iter().find(|(re, _)| re.is_match(v)).map(|(_, s)| *s)
}

/// A bare hex digest of an MD5, SHA-1 or SHA-2 size (32, 40, 64 or 128 hex digits).
pub(crate) fn is_hex_digest(v: &str) -> bool {
    let v = v.trim();
    matches!(v.len(), 32 | 40 | 64 | 128) && v.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A phone number: 7 to 15 digits written with the usual separators, and either a leading
/// `+`, grouping separators, or a national leading zero. Dates, IP addresses, decimals and
/// bare numbers without a leading zero are not phone numbers.
pub(crate) fn is_phone(v: &str) -> bool {
    let v = v.trim();
    if v.is_empty()
        || !v
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().\u{a0}/".contains(c))
    {
        return false;
    }
    let digits = v.chars().filter(char::is_ascii_digit).count();
    if !(7..=15).contains(&digits) || v.rfind('+').is_some_and(|i| i > 0) {
        return false;
    }
    if looks_like_date(v) || ip_family(v).is_some() {
        return false;
    }
    if v.starts_with('+') {
        return true;
    }
    let separated = v.contains([' ', '-', '(', '/', '\u{a0}']) || v.matches('.').count() >= 2;
    if separated {
        return digits >= 8 || v.starts_with('(') || v.starts_with('0');
    }
    // Bare digits: only national formats with a leading zero; anything else is a number.
    !v.contains('.') && v.starts_with('0') && digits >= 9
}

/// `YYYY-MM-DD…` or `DD/MM/YYYY`, `DD.MM.YYYY`, `MM-DD-YYYY`.
fn looks_like_date(v: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r"^(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4})")
            .expect("valid regex")
    });
    re.is_match(v)
}

/// The date at the start of a value: ISO `YYYY-MM-DD` (dates, timestamps as PostgreSQL
/// prints them) or `DD/MM/YYYY`-like with the year last. Day and month are only told apart
/// when one of them is over 12; for an age, either reading is close enough.
pub(crate) fn parse_date(v: &str) -> Option<NaiveDate> {
    static RE: OnceLock<(Regex, Regex)> = OnceLock::new();
    let (iso, year_last) = RE.get_or_init(|| {
        (
            Regex::new(r"^(\d{4})-(\d{1,2})-(\d{1,2})").expect("valid regex"),
            Regex::new(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})\b").expect("valid regex"),
        )
    });
    let v = v.trim();
    let num = |s: &str| s.parse::<u32>().ok();
    if let Some(c) = iso.captures(v) {
        let year = c[1].parse::<i32>().ok()?;
        return NaiveDate::from_ymd_opt(year, num(&c[2])?, num(&c[3])?);
    }
    let c = year_last.captures(v)?;
    let year = c[3].parse::<i32>().ok()?;
    let (a, b) = (num(&c[1])?, num(&c[2])?);
    NaiveDate::from_ymd_opt(year, b, a).or_else(|| NaiveDate::from_ymd_opt(year, a, b))
}

/// Whether `date` is the birth date of someone aged 0 to 110 on `today`.
pub(crate) fn is_plausible_birth_date(date: NaiveDate, today: NaiveDate) -> bool {
    if date > today {
        return false;
    }
    let mut age = today.year() - date.year();
    if (today.month(), today.day()) < (date.month(), date.day()) {
        age -= 1;
    }
    (0..=110).contains(&age)
}

/// A UUID in its usual 8-4-4-4-12 hex form: an identifier, not a secret.
pub(crate) fn is_uuid(v: &str) -> bool {
    let b = v.trim().as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A long random-looking string: an API key, a session or reset token, a secret. `hinted`
/// (the column's name says token or secret) accepts shorter and hex-only strings; without
/// a hint only strings of 24+ characters mixing upper case, lower case and digits count, so
/// that checksums, codes and references are not taken for secrets.
pub(crate) fn is_token(v: &str, hinted: bool) -> bool {
    let v = v.trim();
    let min_len = if hinted { 16 } else { 24 };
    if v.chars().count() < min_len
        || is_uuid(v)
        || !v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.+/=~:".contains(c))
    {
        return false;
    }
    let classes = [
        v.bytes().any(|b| b.is_ascii_lowercase()),
        v.bytes().any(|b| b.is_ascii_uppercase()),
        v.bytes().any(|b| b.is_ascii_digit()),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    let (needed_classes, needed_bits) = if hinted { (2, 3.0) } else { (3, 3.5) };
    classes >= needed_classes && entropy_bits_per_char(v) >= needed_bits
}

/// Shannon entropy of the string's characters, in bits per character.
fn entropy_bits_per_char(v: &str) -> f64 {
    let mut counts = std::collections::HashMap::new();
    let mut n = 0usize;
    for c in v.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    counts
        .values()
        .map(|&k| {
            let p = k as f64 / n as f64;
            -p * p.log2()
        })
        .sum()
}

/// A value folded to lower-case ASCII (`Chloé` → `chloe`, `Müller` → `muller`) so that
/// the word lists need one spelling.
fn fold(v: &str) -> String {
    deunicode::deunicode(v.trim()).to_lowercase()
}

/// A name-like word: starts with a letter, then letters, apostrophes or hyphens.
fn name_word(w: &str) -> bool {
    let mut chars = w.chars();
    chars.next().is_some_and(char::is_alphabetic)
        && chars.all(|c| c.is_alphabetic() || c == '\'' || c == '-' || c == '’')
}

/// One word that is a common given name.
pub(crate) fn is_given_name(v: &str) -> bool {
    let v = v.trim();
    name_word(v) && GIVEN_NAMES.binary_search(&fold(v).as_str()).is_ok()
}

/// A common surname, possibly after particles (`de Vries`).
pub(crate) fn is_surname(v: &str) -> bool {
    let folded = fold(v);
    let words: Vec<&str> = folded.split_whitespace().collect();
    match words.split_last() {
        Some((last, particles)) if particles.len() <= 2 => {
            particles.iter().all(|p| PARTICLES.contains(p))
                && name_word(last)
                && SURNAMES.binary_search(last).is_ok()
        }
        _ => false,
    }
}

/// A person's full name: two to five name-like words, capitalized as names are, whose first
/// word is a common given name or whose last is a common surname.
pub(crate) fn is_full_name(v: &str) -> bool {
    let words: Vec<&str> = v.split_whitespace().collect();
    if !(2..=5).contains(&words.len()) || !words.iter().all(|w| name_word(w)) {
        return false;
    }
    let folded: Vec<String> = words.iter().map(|w| fold(w)).collect();
    // Every word but particles is capitalized: "Emma de Vries", not "buy more milk".
    let capitalized = words.iter().zip(&folded).all(|(w, f)| {
        w.chars().next().is_some_and(char::is_uppercase) || PARTICLES.contains(&f.as_str())
    });
    capitalized
        && (GIVEN_NAMES.binary_search(&folded[0].as_str()).is_ok()
            || SURNAMES
                .binary_search(&folded[folded.len() - 1].as_str())
                .is_ok())
}

/// One of the cities in the embedded list (major cities, in English and local spelling).
pub(crate) fn is_city(v: &str) -> bool {
    let f = fold(v);
    !f.is_empty() && CITIES.binary_search(&f.as_str()).is_ok()
}

/// A postcode in a format distinctive enough to be told from other codes: UK, Canada,
/// Netherlands, Portugal, Poland, Brazil, Japan, US ZIP+4. Plain four- or five-digit codes
/// look like any number and are left to the column's name.
pub(crate) fn is_distinctive_postcode(v: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(concat!(
            r"^(?i:[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}|[A-Z]\d[A-Z] ?\d[A-Z]\d|\d{4} ?[A-Z]{2})$",
            r"|^(\d{4}-\d{3}|\d{2}-\d{3}|\d{5}-\d{3}|\d{3}-\d{4}|\d{5}-\d{4})$",
        ))
        .expect("valid regex")
    });
    re.is_match(v.trim())
}

/// A street address: a house number, a street word, and a street name (`12 High Street`,
/// `rue de Rivoli 4`, `Friedrichstraße 12`, `Calle Mayor 3, 2º`).
pub(crate) fn is_street_address(v: &str) -> bool {
    let folded = fold(v);
    let words: Vec<&str> = folded
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .collect();
    if !(2..=14).contains(&words.len()) {
        return false;
    }
    let house_number = |w: &&str| {
        let digits = w.chars().take_while(char::is_ascii_digit).count();
        (1..=5).contains(&digits)
            && w[digits..].chars().count() <= 2
            && w[digits..].chars().all(|c| c.is_ascii_alphabetic())
    };
    let glued = |w: &&str| {
        STREET_SUFFIXES
            .iter()
            .any(|s| w.len() > s.len() + 2 && w.ends_with(s))
    };
    let street_word = |w: &&str| STREET_WORDS.binary_search(w).is_ok();
    // The name of the street: a word of three letters or more that is not only "Street".
    let street_name = |w: &&str| {
        w.chars().filter(|c| c.is_alphabetic()).count() >= 3 && (!street_word(w) || glued(w))
    };
    words.iter().any(house_number)
        && words.iter().any(|w| street_word(w) || glued(w))
        && words.iter().any(street_name)
}

/// How many sentences a free-text value has, or `None` for values that are not prose.
/// Prose has five or more words, mostly plain words (not codes, paths or user agents).
pub(crate) fn prose_sentences(v: &str) -> Option<usize> {
    let v = v.trim();
    let words: Vec<&str> = v.split_whitespace().collect();
    if words.len() < 5 || v.chars().count() < 25 {
        return None;
    }
    let plain = words
        .iter()
        .filter(|w| {
            let core = w.trim_matches(|c: char| ".,;:!?\"'()«»“”-".contains(c));
            !core.is_empty()
                && core
                    .chars()
                    .all(|c| c.is_alphabetic() || c == '\'' || c == '’')
        })
        .count();
    if plain * 10 < words.len() * 7 {
        return None;
    }
    let sentences = v
        .split_inclusive(['.', '!', '?'])
        .filter(|s| s.split_whitespace().count() >= 2)
        .count();
    Some(sentences.max(1))
}

#[cfg(test)]
mod tests;
