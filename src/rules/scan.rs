//! `doppel rules scan`: finds the columns that look personal, from their names (the same
//! name table as [`suggest`](super::suggest())) and from a sample of their values, and writes a
//! suggested rules file that covers every column, each line with the reason it was chosen.
//!
//! A value-based class needs a clear majority, [`MAJORITY`] of the sampled non-null values:
//! one value that happens to pass Luhn or look like a name proves nothing. Samples are read
//! with one query per table (`TABLESAMPLE SYSTEM` on big tables, so a scan never reads a
//! whole big table), classified in memory and dropped: only counts and shares reach the
//! report, never a value, so the suggested file is safe to commit and to show.
//!
//! Besides columns, the scan flags what rules on columns do not reach by themselves:
//! `tsvector` columns, which carry the words of the text they were built from, and
//! materialized views that read columns classified as personal.

mod detect;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use chrono::NaiveDate;
use tokio_postgres::Client;

use self::detect::IpFamily;
use super::catalog::{Catalog, CatalogColumn, CatalogTable};
use super::check::table_key;
use super::compile::column_type;
use super::model::{ColumnId, TableName, KEEP, NULL};
use super::suggest::{suggest, toml_key};
use crate::anonymize::{ColumnType, TypeKind};
use crate::error::{pg, Result};
use crate::pg::{qualified, quote_ident};

/// The share of sampled non-null values that must look alike for a value-based class.
pub const MAJORITY: f64 = 0.6;

/// Fewer sampled values than this never make a value-based class: two names in a
/// two-row table are a coincidence, not evidence.
pub const MIN_VALUES: usize = 3;

/// Values sampled per column when none is asked for.
pub const DEFAULT_SAMPLE: usize = 200;

/// Below this share, a name that promises a checkable format (an e-mail, an IP address, a
/// card number, an IBAN, a date) is taken to be wrong about the column.
const CONTRADICTED: f64 = 0.1;

/// Tables estimated at more rows than this (and than 10 × the sample) are sampled with
/// `TABLESAMPLE SYSTEM` rather than read from their first pages.
const BIG_TABLE_ROWS: f64 = 10_000.0;

/// Characters of a text value that are sampled: enough to tell prose from codes.
const SAMPLED_CHARS: usize = 1000;

/// JSON documents larger than this are not sampled (they are parsed in memory).
const MAX_JSON_BYTES: usize = 65_536;

/// Columns per sampling query, well below PostgreSQL's 1664 target entries.
const COLUMNS_PER_QUERY: usize = 200;

/// What a column holds, as far as the scan can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PiiKind {
    /// An e-mail address.
    Email,
    /// A phone number.
    Phone,
    /// A given name.
    FirstName,
    /// A surname.
    LastName,
    /// A person's full name.
    FullName,
    /// A login or user name.
    Username,
    /// A street address.
    StreetAddress,
    /// A city.
    City,
    /// A postcode.
    Postcode,
    /// A country.
    Country,
    /// A company name.
    Company,
    /// A job title.
    JobTitle,
    /// An IPv4 or IPv6 address.
    IpAddress,
    /// A MAC address.
    MacAddress,
    /// A URL (a profile page, an avatar).
    Url,
    /// A payment card number (passing Luhn).
    CardNumber,
    /// An IBAN (passing mod-97).
    Iban,
    /// A national identity number.
    NationalId,
    /// A date of birth.
    DateOfBirth,
    /// A password hash.
    PasswordHash,
    /// A token, API key or other secret.
    Token,
    /// Free text, which may mention anyone.
    FreeText,
    /// JSON documents with personal data at some paths.
    Json,
    /// A `tsvector` built from personal text.
    SearchVector,
    /// Something the name table suggests a transformer for that has no kind of its own.
    Other,
}

impl PiiKind {
    /// A short stable name: `email`, `first_name`, `ip`, `tsvector`.
    pub fn code(self) -> &'static str {
        self.words().0
    }

    /// The kind with an article, for sentences: "an e-mail address".
    pub fn describe(self) -> &'static str {
        self.words().1
    }

    /// (code, singular with article, what matching values are called)
    fn words(self) -> (&'static str, &'static str, &'static str) {
        match self {
            PiiKind::Email => ("email", "an e-mail address", "e-mail addresses"),
            PiiKind::Phone => ("phone", "a phone number", "phone numbers"),
            PiiKind::FirstName => ("first_name", "a first name", "common given names"),
            PiiKind::LastName => ("last_name", "a last name", "common surnames"),
            PiiKind::FullName => ("full_name", "a person's full name", "people's names"),
            PiiKind::Username => ("username", "a user name", "user names"),
            PiiKind::StreetAddress => ("street_address", "a street address", "street addresses"),
            PiiKind::City => ("city", "a city", "cities"),
            PiiKind::Postcode => ("postcode", "a postcode", "postcodes"),
            PiiKind::Country => ("country", "a country", "countries"),
            PiiKind::Company => ("company", "a company name", "company names"),
            PiiKind::JobTitle => ("job_title", "a job title", "job titles"),
            PiiKind::IpAddress => ("ip", "an IP address", "IP addresses"),
            PiiKind::MacAddress => ("mac", "a MAC address", "MAC addresses"),
            PiiKind::Url => ("url", "a URL", "URLs"),
            PiiKind::CardNumber => (
                "card_number",
                "a payment card number",
                "card numbers passing the Luhn check",
            ),
            PiiKind::Iban => ("iban", "an IBAN", "IBANs passing the mod-97 check"),
            PiiKind::NationalId => (
                "national_id",
                "a national identity number",
                "identity numbers",
            ),
            PiiKind::DateOfBirth => (
                "date_of_birth",
                "a date of birth",
                "birth dates of people aged 0 to 110",
            ),
            PiiKind::PasswordHash => ("password_hash", "a password hash", "password hashes"),
            PiiKind::Token => ("token", "a token or secret", "random tokens or secrets"),
            PiiKind::FreeText => ("free_text", "free text", "free text"),
            PiiKind::Json => ("json", "JSON with personal data", "JSON documents"),
            PiiKind::SearchVector => ("tsvector", "a full-text search vector", "search vectors"),
            PiiKind::Other => ("other", "personal data", "personal data"),
        }
    }

    fn plural(self) -> &'static str {
        self.words().2
    }

    /// The kind of a transformer `suggest` proposes.
    fn of_transformer(t: &str) -> PiiKind {
        match t {
            "email" => PiiKind::Email,
            "phone" => PiiKind::Phone,
            "first_name" => PiiKind::FirstName,
            "last_name" => PiiKind::LastName,
            "full_name" => PiiKind::FullName,
            "username" => PiiKind::Username,
            "street_address" => PiiKind::StreetAddress,
            "city" => PiiKind::City,
            "postcode" => PiiKind::Postcode,
            "country" => PiiKind::Country,
            "company" => PiiKind::Company,
            "job_title" => PiiKind::JobTitle,
            "ip" | "ipv4" | "ipv6" => PiiKind::IpAddress,
            "mac" => PiiKind::MacAddress,
            "url" => PiiKind::Url,
            "card_number" => PiiKind::CardNumber,
            "iban" => PiiKind::Iban,
            "national_id" => PiiKind::NationalId,
            "date_of_birth" => PiiKind::DateOfBirth,
            "password_hash" => PiiKind::PasswordHash,
            "paragraph" | "sentence" | "words" => PiiKind::FreeText,
            _ => PiiKind::Other,
        }
    }

    /// Kinds whose values are checked by their form (a checksum, a fixed syntax): sampled
    /// values of such a kind outweigh what the name suggests.
    fn has_strict_form(self) -> bool {
        matches!(
            self,
            PiiKind::Email
                | PiiKind::IpAddress
                | PiiKind::CardNumber
                | PiiKind::Iban
                | PiiKind::PasswordHash
                | PiiKind::Phone
                | PiiKind::Token
                | PiiKind::DateOfBirth
        )
    }
}

impl fmt::Display for PiiKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A column that looks personal, and the rule suggested for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The column.
    pub column: ColumnId,
    /// Its type, as `format_type` writes it.
    pub type_name: String,
    /// What it seems to hold.
    pub kind: PiiKind,
    /// The suggested transformer (from the registry), or `keep` when none fits — a key
    /// that nothing uniqueness-preserving can write, or a name the values contradict; the
    /// reason then says so.
    pub transformer: &'static str,
    /// The transformer's parameters (`unique = true`, `scheme = "argon2id"`, JSON `paths`).
    pub params: toml::Table,
    /// Why, in one line, without any sampled value: "name suggests a first name, and 88% of
    /// 200 sampled values look like common given names".
    pub reason: String,
    /// Non-null values sampled from the column.
    pub sampled: usize,
    /// The share of sampled values that look like `kind`, when values were evidence.
    pub share: Option<f64>,
}

impl Finding {
    /// The suggested rule as it goes in a `columns` section, without the comment:
    /// `email = { transformer = "email", unique = true }` or `notes = "keep"`.
    pub fn rule_line(&self) -> String {
        rule_line(&self.column.column, self.transformer, &self.params)
    }
}

/// What a flag is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FlagKind {
    /// A `tsvector` column: it carries the words of its source text.
    TsVector,
    /// A materialized view that reads personal columns.
    MaterializedView,
    /// A table whose values could not be sampled (only names were used).
    NotSampled,
}

/// Something to review that a column rule does not settle by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// What kind of flag.
    pub kind: FlagKind,
    /// The column (`schema.table.column`) or relation (`schema.name`) concerned.
    pub subject: String,
    /// What to do about it, in one line.
    pub message: String,
}

/// Everything a scan found.
#[derive(Debug, Clone, Default)]
pub struct ScanReport {
    /// Values sampled per column, at most.
    pub sample: usize,
    /// Columns looked at (partitions are covered by their partitioned table).
    pub columns: usize,
    /// The columns that look personal, in catalog order.
    pub findings: Vec<Finding>,
    /// `tsvector` columns, materialized views and unreadable tables.
    pub flags: Vec<Flag>,
}

/// Where a column's values come from in a suggested file: its own rule, or the key it
/// references (a referencing column must follow a transformed key).
enum Outcome<'a> {
    Own(&'a Finding),
    Keep,
    Follows {
        target: ColumnId,
        fk: String,
        transformed: bool,
    },
}

impl ScanReport {
    /// The finding for `column`, if it looks personal.
    pub fn finding(&self, column: &ColumnId) -> Option<&Finding> {
        self.findings.iter().find(|f| f.column == *column)
    }

    /// A complete rules file (`version = 1`) covering every column of every table of
    /// `catalog` (partitions through their partitioned table): each finding as its rule,
    /// every other column as an explicit keep to review, each line with its reason. It
    /// passes a strict `rules check` as it is; it contains no sampled value.
    pub fn to_rules_file(&self, catalog: &Catalog) -> String {
        let by_column: HashMap<&ColumnId, &Finding> =
            self.findings.iter().map(|f| (&f.column, f)).collect();
        let mut out = String::new();
        out.push_str(&format!(
            "# Suggested by `doppel rules scan` from column names and up to {} sampled values \
             per column.\n\
             # Review every line: a guess is not a guarantee, and a \"keep\" only means nothing \
             was recognized.\n\
             # No sampled value is written here. Columns that hold the same values in several \
             tables (an\n\
             # e-mail copied into a log) map alike only when their rules share a `domain`: \
             add one where needed.\n",
            self.sample
        ));
        out.push_str(&format!("version = {}\n", super::FORMAT_VERSION));
        for table in &catalog.tables {
            let name = table.table_name();
            if let Some(root) = partition_root(catalog, table) {
                out.push_str(&format!(
                    "\n# {name} is a partition of {root}, whose rules apply to it\n"
                ));
                continue;
            }
            out.push('\n');
            let subject = name.to_string();
            for flag in self.flags.iter().filter(|f| f.kind == FlagKind::NotSampled) {
                if flag.subject == subject {
                    out.push_str(&format!("# {subject}: {}\n", one_line(&flag.message)));
                }
            }
            out.push_str(&format!("[tables.{}.columns]\n", table_key(&name)));
            for col in &table.columns {
                let id = ColumnId::new(name.schema.as_str(), name.name.as_str(), col.name.as_str());
                if col.generated {
                    out.push_str(&format!(
                        "# {}: a generated column, recomputed on restore (it needs no rule)\n",
                        toml_key(&col.name)
                    ));
                    continue;
                }
                let line = match self.outcome(catalog, &by_column, &id, 0) {
                    Outcome::Own(f) => format!("{}  # {}", f.rule_line(), one_line(&f.reason)),
                    Outcome::Keep => format!(
                        "{}  # no personal data found: review",
                        rule_line(&col.name, KEEP, &toml::Table::new())
                    ),
                    Outcome::Follows {
                        target,
                        fk,
                        transformed: true,
                    } => format!(
                        "# {}: follows {target} (foreign key {fk}), which is transformed; a \
                         referencing column needs no rule of its own",
                        toml_key(&col.name)
                    ),
                    Outcome::Follows {
                        target,
                        fk,
                        transformed: false,
                    } => {
                        let looks = by_column
                            .get(&id)
                            .filter(|f| f.transformer != KEEP)
                            .map(|f| {
                                format!(
                                    "; it looks like {}: transform {target} instead, and this \
                                     column follows",
                                    f.kind.describe()
                                )
                            })
                            .unwrap_or_default();
                        format!(
                            "{}  # references {target} (foreign key {fk}), which is kept, so it \
                             is kept too{looks}",
                            rule_line(&col.name, KEEP, &toml::Table::new())
                        )
                    }
                };
                out.push_str(&line);
                out.push('\n');
            }
        }
        let views: Vec<&Flag> = self
            .flags
            .iter()
            .filter(|f| f.kind == FlagKind::MaterializedView)
            .collect();
        if !views.is_empty() {
            out.push_str("\n# Materialized views built from personal data (review):\n");
            for f in views {
                out.push_str(&format!("# - {}\n", one_line(&f.message)));
            }
        }
        out
    }

    /// How `id` ends up in the suggested file. Foreign keys are followed the way
    /// [`effective_rules`](super::effective_rules) follows them: a referencing column takes
    /// the rule of the key it references, so it must not have one of its own.
    fn outcome<'a>(
        &'a self,
        catalog: &Catalog,
        by_column: &HashMap<&ColumnId, &'a Finding>,
        id: &ColumnId,
        depth: usize,
    ) -> Outcome<'a> {
        if let Some((target, fk)) = references(catalog, id).into_iter().next() {
            // Chains of keys are short; the bound only guards against a cycle of foreign keys.
            let transformed = depth < 16
                && match self.outcome(catalog, by_column, &target, depth + 1) {
                    Outcome::Own(f) => f.transformer != KEEP,
                    Outcome::Keep => false,
                    Outcome::Follows { transformed, .. } => transformed,
                };
            return Outcome::Follows {
                target,
                fk,
                transformed,
            };
        }
        match by_column.get(id) {
            Some(f) => Outcome::Own(f),
            None => Outcome::Keep,
        }
    }
}

impl fmt::Display for ScanReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut table: Option<&TableName> = None;
        let width = self
            .findings
            .iter()
            .map(|x| x.column.column.chars().count())
            .max()
            .unwrap_or(0);
        for x in &self.findings {
            if table != Some(&x.column.table) {
                writeln!(f, "{}", x.column.table)?;
                table = Some(&x.column.table);
            }
            let rule = if x.transformer == KEEP {
                "keep".to_string()
            } else {
                let mut s = x.transformer.to_string();
                for (k, v) in &x.params {
                    if k != "paths" {
                        s.push_str(&format!(" {k}={}", render_value(v)));
                    }
                }
                s
            };
            writeln!(
                f,
                "  {:width$}  {:14}  {:22}  {}",
                x.column.column,
                x.kind.code(),
                rule,
                one_line(&x.reason)
            )?;
        }
        for flag in &self.flags {
            // A tsvector with a rule of its own is listed above with its reason.
            let listed = flag.kind == FlagKind::TsVector
                && self
                    .findings
                    .iter()
                    .any(|x| x.column.to_string() == flag.subject);
            if !listed {
                writeln!(f, "warning: {}: {}", flag.subject, one_line(&flag.message))?;
            }
        }
        writeln!(
            f,
            "{} of {} column{} look personal (up to {} values sampled per column){}",
            self.findings
                .iter()
                .filter(|x| x.transformer != KEEP)
                .count(),
            self.columns,
            if self.columns == 1 { "" } else { "s" },
            self.sample,
            match self.flags.len() {
                0 => String::new(),
                1 => ", 1 flag".to_string(),
                n => format!(", {n} flags"),
            }
        )
    }
}

/// What the keys of a column's table say about it.
#[derive(Debug, Clone, Default)]
struct Constraints {
    /// "the primary key (id)" or "a unique constraint (email)", when the column is in one.
    unique: Option<String>,
}

impl Constraints {
    fn of(table: &CatalogTable, column: &CatalogColumn) -> Constraints {
        let unique = if table.primary_key.contains(&column.name) {
            Some(format!(
                "the primary key ({})",
                table.primary_key.join(", ")
            ))
        } else {
            table
                .unique
                .iter()
                .find(|u| u.contains(&column.name))
                .map(|u| format!("a unique constraint ({})", u.join(", ")))
        };
        Constraints { unique }
    }
}

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
fn today() -> NaiveDate {
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
struct NameGuess {
    kind: PiiKind,
    /// The transformer the name table gave, for kinds without one of their own.
    transformer: &'static str,
    /// Only a hint: the values must confirm it.
    weak: bool,
    /// The type, not the name, made the guess (`inet`, `macaddr`).
    from_type: bool,
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
fn name_guess(name: &str, type_name: &str) -> Option<NameGuess> {
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
        });
    }
    if let Some(t) = suggest(name, type_name).transformer {
        return Some(NameGuess {
            kind: PiiKind::of_transformer(t),
            transformer: t,
            weak: false,
            from_type: suggest(name, "text").transformer.is_none(),
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
enum Fit {
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
fn fit(
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
fn classify_at(
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
    let guess = name_guess(&column.column, type_name);
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
        let (transformer, params, note) = match fit(vec![candidate], ty, keys) {
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
        let reason = match note {
            Some(n) => format!("{reason}; {n}"),
            None => reason,
        };
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
    let (transformer, params, reason) = match fit(vec![("json", params)], ty, keys) {
        Fit::Rule {
            transformer,
            params,
            note,
        } => (
            transformer,
            params,
            match note {
                Some(n) => format!("{reason}; {n}"),
                None => reason,
            },
        ),
        Fit::Mismatch => (
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
fn rule_line(column: &str, transformer: &str, params: &toml::Table) -> String {
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
fn render_value(v: &toml::Value) -> String {
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

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// The partitioned table a partition's rules come from (the topmost one in the catalog),
/// or `None` for a table that is not a partition.
fn partition_root(catalog: &Catalog, table: &CatalogTable) -> Option<TableName> {
    table.partition_of.as_ref()?;
    catalog
        .partition_ancestors(&table.table_name())
        .into_iter()
        .skip(1)
        .rfind(|t| catalog.table(t).is_some())
}

/// The keys `id` references through foreign keys of its table or its partitioned
/// ancestors, with the constraint names.
fn references(catalog: &Catalog, id: &ColumnId) -> Vec<(ColumnId, String)> {
    let mut out = Vec::new();
    for t in catalog.partition_ancestors(&id.table) {
        let Some(ct) = catalog.table(&t) else {
            continue;
        };
        for fk in &ct.foreign_keys {
            for (c, r) in fk.columns.iter().zip(&fk.ref_columns) {
                if *c == id.column {
                    out.push((
                        ColumnId::new(fk.ref_schema.as_str(), fk.ref_table.as_str(), r.as_str()),
                        fk.name.clone(),
                    ));
                }
            }
        }
    }
    out
}

/// What the scan reads from `pg_catalog` besides the [`Catalog`].
#[derive(Debug, Default)]
struct Extra {
    /// Estimated rows per table (partitioned tables: the sum over their leaves).
    rows: HashMap<TableName, f64>,
    /// For `tsvector` columns: the columns they are computed from, when known.
    tsvector_sources: HashMap<ColumnId, BTreeSet<String>>,
    /// Materialized views and the table columns they read (through views, too).
    matviews: BTreeMap<TableName, BTreeSet<ColumnId>>,
}

async fn read_extra(client: &Client) -> Result<Extra> {
    let mut extra = Extra::default();
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text, \
               CASE WHEN c.relkind = 'p' THEN \
                 (SELECT coalesce(sum(greatest(l.reltuples, 0)), 0)::float8 \
                  FROM pg_partition_tree(c.oid) t JOIN pg_class l ON l.oid = t.relid \
                  WHERE t.isleaf) \
               WHEN c.reltuples >= 0 THEN c.reltuples::float8 \
               ELSE (pg_relation_size(c.oid) / 100)::float8 END \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND n.nspname <> 'information_schema' \
               AND n.nspname NOT LIKE 'pg\\_%'",
            &[],
        )
        .await
        .map_err(pg("cannot estimate table sizes for the scan"))?;
    for r in &rows {
        extra.rows.insert(
            TableName::new(r.get::<_, String>(0), r.get::<_, String>(1)),
            r.get(2),
        );
    }
    // A generated column depends on the columns of its expression (recorded on the column
    // itself or on its default's pg_attrdef entry, depending on the version).
    let generated = client
        .query(
            "SELECT n.nspname::text, c.relname::text, g.attname::text, s.attname::text \
             FROM pg_attribute g JOIN pg_class c ON c.oid = g.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid \
               AND d.refobjsubid > 0 AND ( \
                 (d.classid = 'pg_class'::regclass AND d.objid = c.oid \
                  AND d.objsubid = g.attnum) \
                 OR (d.classid = 'pg_attrdef'::regclass AND d.objid IN ( \
                   SELECT ad.oid FROM pg_attrdef ad \
                   WHERE ad.adrelid = c.oid AND ad.adnum = g.attnum))) \
             JOIN pg_attribute s ON s.attrelid = c.oid AND s.attnum = d.refobjsubid \
             WHERE g.atttypid = 'tsvector'::regtype AND g.attgenerated <> '' \
               AND s.attnum <> g.attnum AND NOT g.attisdropped",
            &[],
        )
        .await
        .map_err(pg(
            "cannot read what generated tsvector columns are computed from",
        ))?;
    for r in &generated {
        extra
            .tsvector_sources
            .entry(ColumnId::new(
                r.get::<_, String>(0),
                r.get::<_, String>(1),
                r.get::<_, String>(2),
            ))
            .or_default()
            .insert(r.get(3));
    }
    // The built-in trigger functions name their columns in the trigger's arguments:
    // (tsvector column, configuration, source columns...).
    let triggers = client
        .query(
            "SELECT n.nspname::text, c.relname::text, encode(t.tgargs, 'escape') \
             FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE NOT t.tgisinternal AND t.tgfoid IN ( \
               'pg_catalog.tsvector_update_trigger'::regproc, \
               'pg_catalog.tsvector_update_trigger_column'::regproc)",
            &[],
        )
        .await
        .map_err(pg("cannot read tsvector triggers for the scan"))?;
    for r in &triggers {
        let args: Vec<String> = r
            .get::<_, String>(2)
            .split("\\000")
            .map(|a| a.replace("\\\\", "\\"))
            .filter(|a| !a.is_empty())
            .collect();
        if let [target, _config, sources @ ..] = args.as_slice() {
            extra
                .tsvector_sources
                .entry(ColumnId::new(
                    r.get::<_, String>(0),
                    r.get::<_, String>(1),
                    target.as_str(),
                ))
                .or_default()
                .extend(sources.iter().cloned());
        }
    }
    // A view's rewrite rule depends on every column it reads; views read by a
    // materialized view are followed down to tables. Column 0 means the whole row.
    let deps = client
        .query(
            "WITH RECURSIVE deps(mv, rel, att) AS ( \
               SELECT m.oid, d.refobjid, d.refobjsubid \
               FROM pg_class m JOIN pg_rewrite r ON r.ev_class = m.oid \
               JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid \
                 AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> m.oid \
               WHERE m.relkind = 'm' \
               UNION \
               SELECT deps.mv, d.refobjid, d.refobjsubid \
               FROM deps JOIN pg_class v ON v.oid = deps.rel AND v.relkind IN ('v', 'm') \
               JOIN pg_rewrite r ON r.ev_class = v.oid \
               JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid \
                 AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> v.oid) \
             SELECT DISTINCT mn.nspname::text, m.relname::text, tn.nspname::text, \
               t.relname::text, a.attname::text \
             FROM deps JOIN pg_class m ON m.oid = deps.mv \
             JOIN pg_namespace mn ON mn.oid = m.relnamespace \
             JOIN pg_class t ON t.oid = deps.rel AND t.relkind IN ('r', 'p') \
             JOIN pg_namespace tn ON tn.oid = t.relnamespace \
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 \
               AND NOT a.attisdropped AND (a.attnum = deps.att OR deps.att = 0) \
             WHERE mn.nspname <> 'information_schema' AND mn.nspname NOT LIKE 'pg\\_%' \
             ORDER BY 1, 2, 3, 4, 5",
            &[],
        )
        .await
        .map_err(pg("cannot read what materialized views are built from"))?;
    for r in &deps {
        extra
            .matviews
            .entry(TableName::new(r.get::<_, String>(0), r.get::<_, String>(1)))
            .or_default()
            .insert(ColumnId::new(
                r.get::<_, String>(2),
                r.get::<_, String>(3),
                r.get::<_, String>(4),
            ));
    }
    Ok(extra)
}

/// How one column is sampled: `SELECT {expr} FROM table{from_extra} WHERE col IS NOT NULL
/// AND {filter}`.
#[derive(Debug)]
struct Sampling {
    /// The column's index in the table.
    index: usize,
    /// The sampled text.
    expr: String,
    /// A lateral `unnest` for array columns, whose elements are sampled.
    from_extra: String,
    /// A further condition on sampled rows.
    filter: Option<String>,
}

/// How a column is sampled, or `None` when its values are not looked at (numbers,
/// booleans, dates not named like a birth date, arrays of those).
fn sampling(index: usize, col: &CatalogColumn, ty: &ColumnType) -> Option<Sampling> {
    let q = quote_ident(&col.name);
    let plain = |expr: String, filter: Option<String>| Sampling {
        index,
        expr,
        from_extra: String::new(),
        filter,
    };
    match ty.kind() {
        TypeKind::Text => Some(plain(format!("left({q}::text, {SAMPLED_CHARS})"), None)),
        TypeKind::Inet | TypeKind::Cidr => Some(plain(format!("{q}::text"), None)),
        TypeKind::Json => Some(plain(
            format!("{q}::text"),
            Some(format!("octet_length({q}::text) <= {MAX_JSON_BYTES}")),
        )),
        TypeKind::Date | TypeKind::Timestamp | TypeKind::TimestampTz => {
            let hinted =
                name_guess(&col.name, "text").is_some_and(|g| g.kind == PiiKind::DateOfBirth);
            hinted.then(|| plain(format!("to_char({q}, 'YYYY-MM-DD')"), None))
        }
        // Arrays of text or addresses: their elements, as many as the sample wants.
        TypeKind::Array
            if ty.element().is_some_and(|e| {
                matches!(e.kind(), TypeKind::Text | TypeKind::Inet | TypeKind::Cidr)
            }) =>
        {
            Some(Sampling {
                index,
                expr: format!("left(doppel_scan_element.v::text, {SAMPLED_CHARS})"),
                from_extra: format!(", unnest({q}) AS doppel_scan_element(v)"),
                filter: Some("doppel_scan_element.v IS NOT NULL".into()),
            })
        }
        _ => None,
    }
}

/// Samples up to `sample` non-null values of each of `columns` of `table`: one statement
/// per table (per 200 columns), with a subquery per column so that a mostly-NULL column
/// still gets its values. Big tables are read through `TABLESAMPLE SYSTEM`, which reads a
/// fraction of their pages, the same ones for every column (`REPEATABLE`).
async fn sample_table(
    client: &Client,
    table: &CatalogTable,
    columns: &[Sampling],
    sample: usize,
    estimated_rows: f64,
) -> std::result::Result<HashMap<usize, Vec<String>>, tokio_postgres::Error> {
    let mut out = HashMap::new();
    if columns.is_empty() || sample == 0 {
        return Ok(out);
    }
    // ONLY: an inheritance parent's rows without its children's, which have rules of their
    // own. A partitioned table has no rows of its own: read through it.
    let mut from = format!(
        "{}{}",
        if table.partitioned { "" } else { "ONLY " },
        qualified(&table.schema, &table.name)
    );
    if estimated_rows > BIG_TABLE_ROWS && estimated_rows > 10.0 * sample as f64 {
        // Pages enough for about five times the sample, for NULLs and uneven pages.
        let percent = (500.0 * sample as f64 / estimated_rows).clamp(0.001, 100.0);
        from.push_str(&format!(
            " TABLESAMPLE SYSTEM ({percent:.4}) REPEATABLE (0)"
        ));
    }
    for chunk in columns.chunks(COLUMNS_PER_QUERY) {
        let selects: Vec<String> = chunk
            .iter()
            .map(|c| {
                let col = quote_ident(&table.columns[c.index].name);
                let filter = c
                    .filter
                    .as_ref()
                    .map(|f| format!(" AND {f}"))
                    .unwrap_or_default();
                format!(
                    "ARRAY(SELECT {} FROM {from}{} WHERE {col} IS NOT NULL{filter} LIMIT {sample})",
                    c.expr, c.from_extra
                )
            })
            .collect();
        let row = client
            .query_one(&format!("SELECT {}", selects.join(", ")), &[])
            .await?;
        for (k, c) in chunk.iter().enumerate() {
            let values: Vec<Option<String>> = row.get(k);
            out.insert(c.index, values.into_iter().flatten().collect());
        }
    }
    Ok(out)
}

/// Scans the database `client` is connected to: samples up to `sample` non-null values of
/// each text-like column of every table of `catalog` (partitions through their partitioned
/// table), classifies each column, and flags `tsvector` columns and materialized views built
/// from personal columns. Only reads. A table that cannot be read (no privilege) is
/// classified by column names alone and flagged.
pub async fn scan(client: &Client, catalog: &Catalog, sample: usize) -> Result<ScanReport> {
    let extra = read_extra(client).await?;
    let today = today();
    let mut report = ScanReport {
        sample,
        ..ScanReport::default()
    };
    for table in &catalog.tables {
        if partition_root(catalog, table).is_some() {
            continue;
        }
        let name = table.table_name();
        let id_of = |col: &CatalogColumn| {
            ColumnId::new(name.schema.as_str(), name.name.as_str(), col.name.as_str())
        };
        // What transformers write (a domain's base type), which is also what is sampled.
        let types: Vec<ColumnType> = table.columns.iter().map(column_type).collect();
        let to_sample: Vec<Sampling> = table
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.generated)
            .filter_map(|(i, c)| sampling(i, c, &types[i]))
            .collect();
        let estimated = extra.rows.get(&name).copied().unwrap_or(0.0);
        let values = match sample_table(client, table, &to_sample, sample, estimated).await {
            Ok(v) => v,
            // The server refused (no privilege, a lock timeout): names are still evidence.
            Err(e) if e.as_db_error().is_some() => {
                report.flags.push(Flag {
                    kind: FlagKind::NotSampled,
                    subject: name.to_string(),
                    message: format!(
                        "values could not be sampled ({}); its columns were classified by name \
                         only",
                        crate::error::describe_pg(&e)
                    ),
                });
                HashMap::new()
            }
            Err(e) => return Err(pg(format!("cannot sample {name}"))(e)),
        };
        for (i, col) in table.columns.iter().enumerate() {
            report.columns += 1;
            if col.generated || types[i].name == "tsvector" {
                continue;
            }
            let vals = values.get(&i).map(Vec::as_slice).unwrap_or(&[]);
            let keys = Constraints::of(table, col);
            let found = classify_at(
                today,
                &id_of(col),
                &col.type_name,
                Some(&types[i]),
                vals,
                &keys,
            );
            if let Some(mut f) = found {
                // The suggested file gives such a column the rule of the key it references;
                // say so where the column is shown.
                if let Some((target, fk)) = references(catalog, &f.column).into_iter().next() {
                    f.reason.push_str(&format!(
                        "; it references {target} (foreign key {fk}), whose rule it follows"
                    ));
                }
                report.findings.push(f);
            }
        }
        for (i, col) in table.columns.iter().enumerate() {
            if types[i].name == "tsvector" {
                flag_tsvector(
                    &mut report,
                    &id_of(col),
                    col,
                    &types[i],
                    extra.tsvector_sources.get(&id_of(col)),
                    &Constraints::of(table, col),
                );
            }
        }
    }
    let personal: HashMap<ColumnId, PiiKind> = report
        .findings
        .iter()
        .map(|f| (f.column.clone(), f.kind))
        .collect();
    for (view, reads) in &extra.matviews {
        let hits: Vec<String> = reads
            .iter()
            .filter_map(|c| personal.get(c).map(|k| format!("{c} ({k})")))
            .collect();
        if hits.is_empty() {
            continue;
        }
        report.flags.push(Flag {
            kind: FlagKind::MaterializedView,
            subject: view.to_string(),
            message: format!(
                "materialized view {view} is built from personal column{} {}: a restore \
                 refreshes it from the anonymized tables, so it only stays free of personal \
                 data while those columns have rules; check that its definition does not \
                 depend on the original values",
                if hits.len() == 1 { "" } else { "s" },
                hits.join(", ")
            ),
        });
    }
    Ok(report)
}

/// A `tsvector` holds the words of the text it was computed from: anonymizing that text
/// does not change it. Generated ones are recomputed on restore; others are emptied unless
/// everything they are built from was found free of personal data.
fn flag_tsvector(
    report: &mut ScanReport,
    id: &ColumnId,
    col: &CatalogColumn,
    ty: &ColumnType,
    sources: Option<&BTreeSet<String>>,
    keys: &Constraints,
) {
    let list = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(", ");
    if col.generated {
        let from = sources.map_or_else(|| "other columns".to_string(), list);
        report.flags.push(Flag {
            kind: FlagKind::TsVector,
            subject: id.to_string(),
            message: format!(
                "a tsvector generated from {from}: recomputed on restore, so it carries \
                 anonymized words once those columns have rules"
            ),
        });
        return;
    }
    let personal: Vec<String> = sources
        .map(|s| {
            s.iter()
                .filter(|c| {
                    let src = ColumnId {
                        table: id.table.clone(),
                        column: (*c).clone(),
                    };
                    report.findings.iter().any(|f| f.column == src)
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let why = match sources {
        Some(s) if personal.is_empty() => {
            report.flags.push(Flag {
                kind: FlagKind::TsVector,
                subject: id.to_string(),
                message: format!(
                    "a tsvector built from {} (by trigger), where no personal data was found: \
                     kept; if they are anonymized later, empty it and recompute it after restore",
                    list(s)
                ),
            });
            return;
        }
        Some(_) => format!(
            "built from personal column{} {}",
            if personal.len() == 1 { "" } else { "s" },
            personal.join(", ")
        ),
        None => "of unknown origin".to_string(),
    };
    let message = format!(
        "a tsvector {why}: it carries the original words whatever their columns' rules say, \
         so it is emptied; recompute it after restore (UPDATE … SET {} = to_tsvector(…))",
        quote_ident(&id.column)
    );
    let mut value = toml::Table::new();
    value.insert("value".into(), toml::Value::String(String::new()));
    let candidates = vec![(NULL, toml::Table::new()), ("constant", value)];
    // NULL first: `null` refuses a NOT NULL column, and then the empty vector stands in.
    let (transformer, params) = match fit(candidates, Some(ty), keys) {
        Fit::Rule {
            transformer,
            params,
            ..
        } => (transformer, params),
        Fit::Mismatch => (KEEP, toml::Table::new()),
    };
    report.flags.push(Flag {
        kind: FlagKind::TsVector,
        subject: id.to_string(),
        message: message.clone(),
    });
    report.findings.push(Finding {
        column: id.clone(),
        type_name: col.type_name.clone(),
        kind: PiiKind::SearchVector,
        transformer,
        params,
        reason: message,
        sampled: 0,
        share: None,
    });
}
