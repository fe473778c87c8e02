//! Classifying one column: evidence from its name and its sampled values, combined into a
//! rule that exists, fits the column's type and keeps its keys unique.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::detect::{self, IpFamily};
use super::trial::{prove, Proven};
use super::{Constraints, Finding, PiiKind, CONTRADICTED, MAJORITY, MIN_VALUES};
use crate::anonymize::{ColumnType, TypeKind};
use crate::catalog::ColumnId;
use crate::rules::model::KEEP;
use crate::rules::suggest::{suggest, toml_key};

/// Classifies one column from its name, its type (as `format_type` writes it) and a sample
/// of its non-null values as text, taking it to be in no unique key ([`scan`] also fits the
/// rule to the column's keys). `None`: nothing personal found.
pub fn classify(column: &ColumnId, type_name: &str, values: &[String]) -> Option<Finding> {
    let ty = ColumnType::parse(type_name).ok();
    classify_at(
        today(),
        column,
        type_name,
        ty.as_ref(),
        values,
        &Constraints::default(),
    )
}

/// The day ages are counted to.
pub(super) fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// Whole words of a column name that mean a secret, which `suggest`'s name table has no
/// entry for: suggested as a keyed hash.
const TOKEN_WORDS: &[&str] = &[
    "token", "tokens", "secret", "secrets", "apikey", "nonce", "otp", "totp",
];
/// Name endings that mean a secret even glued to another word (`accesstoken`,
/// `clientSecret`), where a glued "secret" anywhere would also match `secretary`.
const TOKEN_SUFFIXES: &[&str] = &["token", "secret", "apikey"];
/// Adjacent words that name a key to something (`api_key`, `private_key`).
const TOKEN_PAIRS: &[(&str, &str)] = &[
    ("api", "key"),
    ("access", "key"),
    ("private", "key"),
    ("secret", "key"),
];
/// Name fragments that hint at a birth date without saying it: they only count when most
/// sampled dates are ages of 0 to 110.
const WEAK_BIRTH_HINTS: &[&str] = &[
    "born",
    "bday",
    "bdate",
    "geburt",
    "naissance",
    "nacimiento",
    "nascimento",
];

/// What the name (or, for `inet`-like types, the type) suggests.
#[derive(Debug, Clone, Copy)]
pub(super) struct NameGuess {
    pub(super) kind: PiiKind,
    /// The transformer the name table gave, for kinds without one of their own.
    transformer: &'static str,
    /// Only a hint: the values must confirm it.
    weak: bool,
    /// The type, not the name, made the guess (`inet`, `macaddr`).
    from_type: bool,
    /// The table's name made the guess: a `name` column of a table of people.
    from_table: bool,
}

/// Table names (one word of them, singular or plural) whose rows are people: their `name`
/// column is a person's name, where elsewhere (`products.name`) it is not.
const PEOPLE_TABLES: &[&str] = &[
    "customer",
    "employee",
    "user",
    "people",
    "person",
    "member",
    "patient",
    "passenger",
    "contact",
    "staff",
    "student",
    "author",
    "client",
    "guest",
    "traveler",
    "traveller",
    "subscriber",
    "applicant",
    "candidate",
    "volunteer",
    "donor",
    "driver",
    "teacher",
    "doctor",
    "player",
];

/// A `name` (or `name_…`) column of a table of people: a person's full name.
fn people_table_guess(table: &str, column: &str) -> Option<NameGuess> {
    let (_, words) = name_words(column);
    if words.first().map(String::as_str) != Some("name") {
        return None;
    }
    let (_, table_words) = name_words(table);
    let people = table_words.iter().any(|w| {
        let singular = w.strip_suffix('s').unwrap_or(w);
        PEOPLE_TABLES.contains(&w.as_str()) || PEOPLE_TABLES.contains(&singular)
    });
    people.then_some(NameGuess {
        kind: PiiKind::FullName,
        transformer: "full_name",
        weak: false,
        from_type: false,
        from_table: true,
    })
}

/// The name lower-cased, and its words (split at anything not alphanumeric).
fn name_words(name: &str) -> (String, Vec<String>) {
    let lower = name.to_lowercase();
    let words = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    (lower, words)
}

/// What the column's name suggests: a secret, then `suggest`'s name table, then a weak
/// hint of a birth date.
pub(super) fn name_guess(name: &str, type_name: &str) -> Option<NameGuess> {
    let (lower, words) = name_words(name);
    // Keys and references are ids, not personal data (as in `suggest`).
    if words.last().is_some_and(|w| w == "id" || w == "uuid") {
        return None;
    }
    let tokenish = words.iter().any(|w| TOKEN_WORDS.contains(&w.as_str()))
        || TOKEN_SUFFIXES.iter().any(|s| lower.ends_with(s))
        || words
            .windows(2)
            .any(|p| TOKEN_PAIRS.contains(&(p[0].as_str(), p[1].as_str())));
    if tokenish {
        return Some(NameGuess {
            kind: PiiKind::Token,
            transformer: "hash",
            weak: false,
            from_type: false,
            from_table: false,
        });
    }
    if let Some(t) = suggest(name, type_name).transformer {
        return Some(NameGuess {
            kind: PiiKind::of_transformer(t),
            transformer: t,
            weak: false,
            from_type: suggest(name, "text").transformer.is_none(),
            from_table: false,
        });
    }
    if WEAK_BIRTH_HINTS
        .iter()
        .any(|h| words.iter().any(|w| w == h) || (h.len() >= 5 && lower.contains(h)))
    {
        return Some(NameGuess {
            kind: PiiKind::DateOfBirth,
            transformer: "date_of_birth",
            weak: true,
            from_type: false,
            from_table: false,
        });
    }
    None
}

/// Counts of sampled values by what they look like.
#[derive(Debug, Default)]
struct Evidence {
    n: usize,
    counts: BTreeMap<PiiKind, usize>,
    v4: usize,
    v6: usize,
    schemes: BTreeMap<&'static str, usize>,
    prose_sentences: usize,
    two_letter_codes: usize,
}

/// Value classes in order of precedence: on a tie, the stricter form wins.
const VALUE_KINDS: &[PiiKind] = &[
    PiiKind::Email,
    PiiKind::Iban,
    PiiKind::CardNumber,
    PiiKind::PasswordHash,
    PiiKind::IpAddress,
    PiiKind::DateOfBirth,
    PiiKind::Phone,
    PiiKind::Token,
    PiiKind::FullName,
    PiiKind::FirstName,
    PiiKind::LastName,
    PiiKind::StreetAddress,
    PiiKind::Postcode,
    PiiKind::City,
    PiiKind::FreeText,
];

/// A test of one sampled value.
type ValueTest = fn(&str) -> bool;

/// The value tests that need nothing but the value, and the kind each one counts.
const VALUE_TESTS: &[(ValueTest, PiiKind)] = &[
    (detect::is_phone, PiiKind::Phone),
    (detect::is_full_name, PiiKind::FullName),
    (detect::is_given_name, PiiKind::FirstName),
    (detect::is_surname, PiiKind::LastName),
    (detect::is_street_address, PiiKind::StreetAddress),
    (detect::is_distinctive_postcode, PiiKind::Postcode),
    (detect::is_city, PiiKind::City),
];

impl Evidence {
    fn gather(values: &[String], guess: Option<&NameGuess>, today: NaiveDate) -> Evidence {
        let token_hint = guess.is_some_and(|g| g.kind == PiiKind::Token);
        let password_hint = guess.is_some_and(|g| g.kind == PiiKind::PasswordHash);
        let birth_hint = guess.is_some_and(|g| g.kind == PiiKind::DateOfBirth);
        let mut e = Evidence {
            n: values.len(),
            ..Evidence::default()
        };
        for v in values {
            let mut hit = |k: PiiKind| *e.counts.entry(k).or_insert(0) += 1;
            if detect::is_email(v) {
                hit(PiiKind::Email);
            }
            if detect::is_iban(v) {
                hit(PiiKind::Iban);
            }
            if detect::is_card_number(v) {
                hit(PiiKind::CardNumber);
            }
            let scheme = detect::password_scheme(v)
                .or_else(|| (password_hint && detect::is_hex_digest(v)).then_some("digest"));
            if scheme.is_some() {
                hit(PiiKind::PasswordHash);
            }
            let family = detect::ip_family(v);
            if family.is_some() {
                hit(PiiKind::IpAddress);
            }
            let birth = birth_hint
                && detect::parse_date(v).is_some_and(|d| detect::is_plausible_birth_date(d, today));
            if birth {
                hit(PiiKind::DateOfBirth);
            }
            if detect::is_token(v, token_hint) {
                hit(PiiKind::Token);
            }
            for (test, kind) in VALUE_TESTS {
                if test(v) {
                    hit(*kind);
                }
            }
            let sentences = detect::prose_sentences(v);
            if sentences.is_some() {
                hit(PiiKind::FreeText);
            }
            match family {
                Some(IpFamily::V4) => e.v4 += 1,
                Some(IpFamily::V6) => e.v6 += 1,
                None => {}
            }
            if let Some(s) = scheme {
                *e.schemes.entry(s).or_insert(0) += 1;
            }
            e.prose_sentences += sentences.unwrap_or(0);
            let t = v.trim();
            if t.len() == 2 && t.bytes().all(|b| b.is_ascii_uppercase()) {
                e.two_letter_codes += 1;
            }
        }
        e
    }

    fn count(&self, kind: PiiKind) -> usize {
        self.counts.get(&kind).copied().unwrap_or(0)
    }

    fn share(&self, kind: PiiKind) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.count(kind) as f64 / self.n as f64
        }
    }

    /// The value class with the largest clear majority, if any.
    fn majority(&self) -> Option<PiiKind> {
        if self.n < MIN_VALUES {
            return None;
        }
        let mut best: Option<(PiiKind, usize)> = None;
        for &k in VALUE_KINDS {
            let c = self.count(k);
            if c as f64 >= MAJORITY * self.n as f64 && best.is_none_or(|(_, b)| c > b) {
                best = Some((k, c));
            }
        }
        best.map(|(k, _)| k)
    }

    /// "94% of 200 sampled values look like e-mail addresses".
    fn describe(&self, kind: PiiKind) -> String {
        // Rounded down, so that a share just under the threshold never reads as 60%.
        let pct = (self.share(kind) * 100.0).floor() as u32;
        format!(
            "{pct}% of {} sampled value{} look{} like {}",
            self.n,
            if self.n == 1 { "" } else { "s" },
            if self.n == 1 { "s" } else { "" },
            kind.plural()
        )
    }
}

/// The transformer (and parameters) a kind is written with, before fitting it to the
/// column: some kinds pick theirs from the values (IP family, hash scheme, prose length).
fn base_rule(
    kind: PiiKind,
    guess: Option<&NameGuess>,
    e: &Evidence,
    ty: Option<&ColumnType>,
) -> (&'static str, toml::Table) {
    let mut params = toml::Table::new();
    let t = match kind {
        PiiKind::IpAddress => match (e.v4, e.v6) {
            (v4, 0) if v4 > 0 => "ipv4",
            (0, v6) if v6 > 0 => "ipv6",
            // Unsampled or mixed: `ip` handles both families.
            _ => "ip",
        },
        PiiKind::PasswordHash => {
            let top = e.schemes.iter().max_by_key(|(_, c)| **c).map(|(s, _)| *s);
            if let Some(s @ ("argon2id" | "pbkdf2_sha256")) = top {
                params.insert("scheme".into(), toml::Value::String(s.into()));
            }
            "password_hash"
        }
        PiiKind::FreeText => {
            let prose = e.count(PiiKind::FreeText);
            if prose > 0 && e.prose_sentences < 2 * prose {
                "sentence"
            } else {
                "paragraph"
            }
        }
        PiiKind::Country => {
            let short = ty.and_then(|t| t.max_len).is_some_and(|n| n < 4);
            if short || (e.n > 0 && e.two_letter_codes as f64 >= MAJORITY * e.n as f64) {
                params.insert("output".into(), toml::Value::String("code".into()));
            }
            "country"
        }
        PiiKind::Token => "hash",
        PiiKind::Other => guess.map_or(KEEP, |g| g.transformer),
        // Every other kind's code is its transformer's name.
        other => crate::anonymize::info(other.code()).map_or(KEEP, |i| i.name),
    };
    (t, params)
}

/// Proves an `array` rule's element rule (in `params`) on the sampled elements, which is
/// what the scan samples of an array column, and wraps what passes back into an `array`.
fn prove_elements(params: &toml::Table, element: &ColumnType, values: &[String]) -> Proven {
    let Some(toml::Value::Table(spec)) = params.get("element") else {
        return Proven {
            transformer: "array",
            params: params.clone(),
            note: None,
        };
    };
    let name = spec
        .get("transformer")
        .and_then(toml::Value::as_str)
        .and_then(crate::anonymize::info)
        .map_or(KEEP, |i| i.name);
    let mut inner = spec.clone();
    inner.remove("transformer");
    let proven = prove(name, inner, element, &Constraints::default(), values);
    if proven.transformer == KEEP {
        return proven;
    }
    let (transformer, params) = in_array(proven.transformer, proven.params);
    Proven {
        transformer,
        params,
        note: proven.note.map(|n| format!("elements: {n}")),
    }
}

/// `transformer` (with `params`) applied to each element of an array.
fn in_array(transformer: &'static str, params: toml::Table) -> (&'static str, toml::Table) {
    let mut spec = params;
    spec.insert(
        "transformer".into(),
        toml::Value::String(transformer.into()),
    );
    let mut outer = toml::Table::new();
    outer.insert("element".into(), toml::Value::Table(spec));
    ("array", outer)
}

/// A rule fitted to a column: it builds for the column's type and, on a key, keeps
/// distinct values distinct.
pub(super) enum Fit {
    Rule {
        transformer: &'static str,
        params: toml::Table,
        note: Option<String>,
    },
    /// The suggested transformer cannot write this type at all.
    Mismatch,
}

/// Tries `candidates` in order, then (for a key column of a text type) `hash`, building
/// each with the transformer registry, which is what a snapshot will do.
pub(super) fn fit(
    candidates: Vec<(&'static str, toml::Table)>,
    ty: Option<&ColumnType>,
    keys: &Constraints,
) -> Fit {
    let Some(ty) = ty else {
        return Fit::Mismatch;
    };
    let base = candidates.first().map_or(KEEP, |c| c.0);
    let mut candidates = candidates;
    if keys.unique.is_some() {
        for (t, p) in &mut candidates {
            if crate::anonymize::info(t)
                .is_some_and(|i| i.params.iter().any(|p| p.name == "unique"))
            {
                p.insert("unique".into(), toml::Value::Boolean(true));
            }
        }
        if ty.kind() == TypeKind::Text && !candidates.iter().any(|(t, _)| *t == "hash") {
            candidates.push(("hash", toml::Table::new()));
        }
    }
    let mut base_builds = false;
    for (i, (t, p)) in candidates.iter().enumerate() {
        let Ok(built) = crate::anonymize::build(t, p, ty) else {
            continue;
        };
        base_builds |= i == 0;
        match &keys.unique {
            Some(_) if !built.preserves_uniqueness() => continue,
            Some(key) => {
                let note = if i == 0 && p.contains_key("unique") {
                    Some(format!(
                        "in {key}, so unique = true keeps distinct values distinct"
                    ))
                } else if i > 0 {
                    Some(format!(
                        "{base} would not keep values distinct in {key}: `{t}` instead"
                    ))
                } else {
                    None
                };
                return Fit::Rule {
                    transformer: t,
                    params: p.clone(),
                    note,
                };
            }
            None => {
                return Fit::Rule {
                    transformer: t,
                    params: p.clone(),
                    note: None,
                }
            }
        }
    }
    match &keys.unique {
        Some(key) if base_builds => Fit::Rule {
            transformer: KEEP,
            params: toml::Table::new(),
            note: Some(format!(
                "no transformer that fits keeps values distinct in {key}: kept; review"
            )),
        },
        _ => Fit::Mismatch,
    }
}

/// Classifies a column whose type, as the transformers see it, is `ty` (`None`: a type
/// they do not know). `type_name` is the declared type, for messages.
pub(super) fn classify_at(
    today: NaiveDate,
    column: &ColumnId,
    type_name: &str,
    ty: Option<&ColumnType>,
    values: &[String],
    keys: &Constraints,
) -> Option<Finding> {
    if ty.is_some_and(|t| t.kind() == TypeKind::Json) {
        return classify_json(column, type_name, ty, values, keys, today);
    }
    let guess = name_guess(&column.column, type_name)
        .or_else(|| people_table_guess(&column.table.name, &column.column));
    let e = Evidence::gather(values, guess.as_ref(), today);
    let by_values = e.majority();
    let finding = |kind: PiiKind, reason: String, share: Option<f64>| {
        // An array column holds its values as elements: the rule is for one element.
        let element = ty.and_then(ColumnType::element);
        let (t, params) = base_rule(kind, guess.as_ref(), &e, element.as_ref().or(ty));
        let candidate = match &element {
            Some(_) => in_array(t, params),
            None => (t, params),
        };
        let value_based = share.is_some_and(|s| s >= MAJORITY);
        let mut candidates = vec![candidate];
        if kind == PiiKind::Postcode && element.is_none() {
            // Postcodes kept as integers: shuffled among numbers of their own length.
            candidates.push(("permute", toml::Table::new()));
        }
        let (transformer, params, note) = match fit(candidates, ty, keys) {
            Fit::Rule {
                transformer,
                params,
                note,
            } => (transformer, params, note),
            // A name that does not fit the type (`email_sent boolean`) is no evidence.
            Fit::Mismatch if !value_based => return None,
            Fit::Mismatch => (
                KEEP,
                toml::Table::new(),
                Some(format!("{t} does not fit {type_name}: kept; review")),
            ),
        };
        let proven = match (ty, &element) {
            (Some(_), Some(elem)) if transformer == "array" => {
                prove_elements(&params, elem, values)
            }
            (Some(ty), _) => prove(transformer, params, ty, keys, values),
            (None, _) => Proven {
                transformer,
                params,
                note: None,
            },
        };
        let (transformer, params) = (proven.transformer, proven.params);
        let reason = [Some(reason), note, proven.note]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("; ");
        Some(Finding {
            column: column.clone(),
            type_name: type_name.to_string(),
            kind,
            transformer,
            params,
            reason,
            sampled: e.n,
            share,
        })
    };
    let threshold = format!("threshold {}%", (MAJORITY * 100.0) as u32);
    match (guess, by_values) {
        (Some(g), Some(v)) if g.kind == v => {
            let lead = if g.weak {
                "name hints at a birth date".to_string()
            } else {
                name_reason(&g)
            };
            finding(
                v,
                format!("{lead}, and {}", e.describe(v)),
                Some(e.share(v)),
            )
        }
        (Some(g), Some(v)) if v.has_strict_form() || g.weak => finding(
            v,
            if g.weak {
                format!("{} ({threshold})", e.describe(v))
            } else {
                format!(
                    "{} ({threshold}), though the {} suggests {}",
                    e.describe(v),
                    if g.from_type { "type" } else { "name" },
                    g.kind.describe()
                )
            },
            Some(e.share(v)),
        ),
        (Some(g), _) if g.weak => None,
        (Some(g), _) => {
            let checkable = matches!(
                g.kind,
                PiiKind::Email | PiiKind::IpAddress | PiiKind::CardNumber | PiiKind::Iban
            ) || (g.kind == PiiKind::DateOfBirth
                && ty.is_some_and(|t| t.kind() == TypeKind::Text));
            if checkable && e.n >= MIN_VALUES && e.share(g.kind) < CONTRADICTED {
                return Some(Finding {
                    column: column.clone(),
                    type_name: type_name.to_string(),
                    kind: g.kind,
                    transformer: KEEP,
                    params: toml::Table::new(),
                    reason: format!(
                        "{}, but only {}: kept; review",
                        name_reason(&g),
                        e.describe(g.kind)
                    ),
                    sampled: e.n,
                    share: Some(e.share(g.kind)),
                });
            }
            let share = e.share(g.kind);
            let reason = if e.n >= MIN_VALUES && share >= MAJORITY {
                format!("{}, and {}", name_reason(&g), e.describe(g.kind))
            } else {
                name_reason(&g)
            };
            finding(g.kind, reason, (e.n > 0).then_some(share))
        }
        (None, Some(v)) => finding(
            v,
            format!("{} ({threshold})", e.describe(v)),
            Some(e.share(v)),
        ),
        (None, None) => None,
    }
}

fn name_reason(g: &NameGuess) -> String {
    if g.from_type {
        format!("the type holds {}", g.kind.plural())
    } else if g.from_table {
        format!("a name in a table of people suggests {}", g.kind.describe())
    } else {
        format!("name suggests {}", g.kind.describe())
    }
}

/// JSON columns: personal data sits at paths inside the documents, found by key names and
/// by the string values at each path; the suggestion is a `json` rule with one transformer
/// per path.
fn classify_json(
    column: &ColumnId,
    type_name: &str,
    ty: Option<&ColumnType>,
    docs: &[String],
    keys: &Constraints,
    today: NaiveDate,
) -> Option<Finding> {
    let mut leaves: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    let mut parsed = 0usize;
    for d in docs {
        let Ok(doc) = serde_json::from_str::<serde_json::Value>(d) else {
            continue;
        };
        parsed += 1;
        collect_json_leaves(&doc, "$", None, 0, &mut leaves);
    }
    let mut paths = toml::Table::new();
    let mut found = Vec::new();
    for (path, (key, values)) in &leaves {
        let id = ColumnId {
            table: column.table.clone(),
            column: key.clone(),
        };
        let text = ColumnType::text();
        let Some(f) = classify_at(
            today,
            &id,
            "text",
            Some(&text),
            values,
            &Constraints::default(),
        ) else {
            continue;
        };
        if f.transformer == KEEP || matches!(f.kind, PiiKind::Json | PiiKind::SearchVector) {
            continue;
        }
        let mut spec = toml::Table::new();
        spec.insert(
            "transformer".into(),
            toml::Value::String(f.transformer.into()),
        );
        spec.extend(f.params.clone());
        paths.insert(path.clone(), toml::Value::Table(spec));
        found.push(format!("{path} ({})", f.kind.code()));
    }
    if found.is_empty() {
        return None;
    }
    let mut params = toml::Table::new();
    params.insert("paths".into(), toml::Value::Table(paths));
    let reason = format!(
        "{} path{} in {parsed} sampled JSON document{} look{} personal by key name or values: {}",
        found.len(),
        if found.len() == 1 { "" } else { "s" },
        if parsed == 1 { "" } else { "s" },
        if found.len() == 1 { "s" } else { "" },
        found.join(", ")
    );
    let (transformer, params, reason) = match (fit(vec![("json", params)], ty, keys), ty) {
        (
            Fit::Rule {
                transformer,
                params,
                note,
            },
            Some(ty),
        ) => {
            let proven = prove(transformer, params, ty, keys, docs);
            let reason = [Some(reason), note, proven.note]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("; ");
            (proven.transformer, proven.params, reason)
        }
        _ => (
            KEEP,
            toml::Table::new(),
            format!("{reason}; json does not fit {type_name}: kept; review"),
        ),
    };
    Some(Finding {
        column: column.clone(),
        type_name: type_name.to_string(),
        kind: PiiKind::Json,
        transformer,
        params,
        reason,
        sampled: docs.len(),
        share: None,
    })
}

/// Collects the string leaves of a JSON document by path (`$.a.b`, `$.list[*]`), with the
/// key they sit under. Depth and breadth are bounded: this is a sample, not a schema.
fn collect_json_leaves(
    v: &serde_json::Value,
    path: &str,
    key: Option<&str>,
    depth: usize,
    out: &mut BTreeMap<String, (String, Vec<String>)>,
) {
    const MAX_DEPTH: usize = 6;
    const MAX_PATHS: usize = 200;
    match v {
        serde_json::Value::String(s) => {
            if let Some(key) = key {
                if out.len() < MAX_PATHS || out.contains_key(path) {
                    out.entry(path.to_string())
                        .or_insert_with(|| (key.to_string(), Vec::new()))
                        .1
                        .push(s.clone());
                }
            }
        }
        serde_json::Value::Object(map) if depth < MAX_DEPTH => {
            for (k, child) in map {
                let Some(step) = json_key_step(k) else {
                    continue;
                };
                collect_json_leaves(child, &format!("{path}{step}"), Some(k), depth + 1, out);
            }
        }
        serde_json::Value::Array(items) if depth < MAX_DEPTH => {
            for item in items {
                collect_json_leaves(item, &format!("{path}[*]"), key, depth + 1, out);
            }
        }
        _ => {}
    }
}

/// `.key`, or `["key"]` for keys that are not plain words; `None` for keys a path cannot
/// spell (quotes, brackets).
fn json_key_step(k: &str) -> Option<String> {
    let plain = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        Some(format!(".{k}"))
    } else if !k.is_empty() && !k.contains(['"', '\'', ']', '[', '\\']) {
        Some(format!("[\"{k}\"]"))
    } else {
        None
    }
}

/// `col = "keep"` or `col = { transformer = "email", unique = true }`.
pub(super) fn rule_line(column: &str, transformer: &str, params: &toml::Table) -> String {
    let key = toml_key(column);
    if params.is_empty() {
        return format!("{key} = {}", toml::Value::String(transformer.into()));
    }
    let mut s = format!(
        "{key} = {{ transformer = {}",
        toml::Value::String(transformer.into())
    );
    for (k, v) in params {
        s.push_str(&format!(", {} = {}", toml_key(k), render_value(v)));
    }
    s.push_str(" }");
    s
}

/// A TOML value on one line: tables inline.
pub(super) fn render_value(v: &toml::Value) -> String {
    match v {
        toml::Value::Table(t) => {
            let inner: Vec<String> = t
                .iter()
                .map(|(k, v)| format!("{} = {}", toml_key(k), render_value(v)))
                .collect();
            format!("{{ {} }}", inner.join(", "))
        }
        toml::Value::Array(a) => {
            let inner: Vec<String> = a.iter().map(render_value).collect();
            format!("[{}]", inner.join(", "))
        }
        other => other.to_string(),
    }
}

pub(super) fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}
