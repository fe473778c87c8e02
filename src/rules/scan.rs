//! `doppel rules scan`: finds the columns that look personal, from their names (the same
//! name table as [`suggest`](super::suggest())) and from a sample of their values, and writes a
//! suggested rules file that covers every column, each line with the reason it was chosen.
//!
//! A value-based class needs a clear majority, [`MAJORITY`] of the sampled non-blank values:
//! one value that happens to pass Luhn or look like a name proves nothing. Samples are read
//! with one query per table (`TABLESAMPLE SYSTEM` on big tables, so a scan never reads a
//! whole big table), classified in memory and dropped: only counts and shares reach the
//! report, never a value, so the suggested file is safe to commit and to show. Before they are
//! dropped, the values serve once more: each suggested rule is run over them as a snapshot
//! would run it, and made tolerant where one fails (`trial`), so that the file takes a
//! snapshot as written.
//!
//! Besides columns, the scan flags what rules on columns do not reach by themselves:
//! `tsvector` columns, which carry the words of the text they were built from, and
//! materialized views that read columns classified as personal.

mod classify;
mod detect;
mod sample;
#[cfg(test)]
mod tests;
mod trial;

use std::collections::HashMap;
use std::fmt;

use super::check::table_key;
use super::model::KEEP;
use super::suggest::toml_key;
use crate::catalog::{Catalog, CatalogColumn, CatalogTable};
use crate::catalog::{ColumnId, TableName};

/// The share of sampled non-blank values that must look alike for a value-based class.
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

/// What the keys of a column's table, and its domain, say about it.
#[derive(Debug, Clone, Default)]
struct Constraints {
    /// "the primary key (id)" or "a unique constraint (email)", when the column is in one.
    unique: Option<String>,
    /// The domain's CHECK constraints a snapshot evaluates on each output (as written, and
    /// compiled): a suggestion must pass them on the sampled values.
    checks: Vec<(String, super::when::When)>,
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
        let checks = column
            .domain_checks
            .iter()
            .filter_map(|def| Some((def.clone(), super::compile::domain_check(def)?)))
            .collect();
        Constraints { unique, checks }
    }
}

pub use classify::classify;
use classify::{one_line, render_value, rule_line};
pub use sample::scan;
use sample::{partition_root, references};
