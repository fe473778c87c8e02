//! What a transformer knows about the column it writes: the PostgreSQL type with its length,
//! precision and enum labels, so that every output loads back (`varchar(n)` lengths, numeric
//! precision, enum labels, NOT NULL) and a transformer that cannot fit is refused when the rules
//! are loaded rather than in the middle of a snapshot.

use std::fmt;

/// The type of the column a transformer writes, as the catalog describes it.
///
/// `name` is PostgreSQL's internal type name (`varchar`, `text`, `int4`, `numeric`, `date`,
/// `timestamptz`, `jsonb`, `_text` for `text[]`, or an enum's own name). A domain is described
/// by its base type and typmod; its CHECK constraints are not evaluated here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnType {
    /// PostgreSQL's internal type name; arrays start with `_`.
    pub name: String,
    /// Maximum length in characters (`varchar(n)`, `char(n)`, also on array elements).
    pub max_len: Option<usize>,
    /// Precision and scale of `numeric(p, s)`.
    pub numeric: Option<(u32, u32)>,
    /// The labels of an enum type; empty for other types.
    pub enum_labels: Vec<String>,
    /// Whether the column is NOT NULL, so that no transformer or `on_error` writes NULL there.
    pub not_null: bool,
}

/// The families of types transformers care about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeKind {
    /// `text`, `varchar`, `char`, `name`, `citext`: any string, up to `max_len`.
    Text,
    /// `int2`, `int4`, `int8`, with their ranges.
    Integer {
        /// Smallest value of the type.
        min: i64,
        /// Largest value of the type.
        max: i64,
    },
    /// `numeric`, with or without precision and scale.
    Numeric,
    /// `float4`, `float8`.
    Float,
    /// `bool`.
    Bool,
    /// `date`.
    Date,
    /// `timestamp` (without time zone).
    Timestamp,
    /// `timestamptz`.
    TimestampTz,
    /// `uuid`.
    Uuid,
    /// `inet`.
    Inet,
    /// `cidr`: a network, with no host bits set.
    Cidr,
    /// `macaddr` and `macaddr8`.
    MacAddr,
    /// `json` and `jsonb`.
    Json,
    /// An array of any element type.
    Array,
    /// An enum type: values must be one of `enum_labels`.
    Enum,
    /// Anything else (`bytea`, `time`, geometric types, ...).
    Other,
}

impl ColumnType {
    /// A column of type `name` with no length, precision or labels.
    pub fn new(name: impl Into<String>) -> ColumnType {
        ColumnType {
            name: name.into(),
            max_len: None,
            numeric: None,
            enum_labels: Vec::new(),
            not_null: false,
        }
    }

    /// An unbounded `text` column: also what values inside JSON documents are given.
    pub fn text() -> ColumnType {
        ColumnType::new("text")
    }

    /// The same type limited to `n` characters.
    pub fn with_max_len(mut self, n: usize) -> ColumnType {
        self.max_len = Some(n);
        self
    }

    /// The same type with numeric precision and scale.
    pub fn with_numeric(mut self, precision: u32, scale: u32) -> ColumnType {
        self.numeric = Some((precision, scale));
        self
    }

    /// An enum type named `name` with these labels.
    pub fn enumeration(name: impl Into<String>, labels: &[&str]) -> ColumnType {
        let mut c = ColumnType::new(name);
        c.enum_labels = labels.iter().map(|l| l.to_string()).collect();
        c
    }

    /// The same type, NOT NULL.
    pub fn not_null(mut self) -> ColumnType {
        self.not_null = true;
        self
    }

    /// Reads a type as SQL writes it: `varchar(20)`, `character varying(20)`, `numeric(10,2)`,
    /// `integer`, `timestamp with time zone`, `text[]`, or an internal name such as `int8`.
    /// Meant for tests and hand-written descriptions; the catalog gives the fields directly.
    pub fn parse(sql: &str) -> Result<ColumnType, String> {
        let sql = sql.trim().to_ascii_lowercase();
        if let Some(elem) = sql.strip_suffix("[]") {
            let mut c = ColumnType::parse(elem)?;
            c.name = format!("_{}", c.name);
            return Ok(c);
        }
        let (base, args) = match sql.find('(') {
            Some(i) => {
                let close = sql
                    .rfind(')')
                    .ok_or_else(|| format!("unbalanced parentheses in type `{sql}`"))?;
                let args: Result<Vec<u32>, _> = sql[i + 1..close]
                    .split(',')
                    .map(|a| a.trim().parse::<u32>())
                    .collect();
                let args = args.map_err(|_| format!("bad type modifier in `{sql}`"))?;
                // `timestamp(3) with time zone`: the modifier sits in the middle.
                let base = format!("{} {}", sql[..i].trim(), sql[close + 1..].trim());
                (base.trim().to_string(), args)
            }
            None => (sql.clone(), Vec::new()),
        };
        let name = match base.as_str() {
            "character varying" | "varchar" => "varchar",
            "character" | "char" | "bpchar" => "bpchar",
            "integer" | "int" | "int4" => "int4",
            "smallint" | "int2" => "int2",
            "bigint" | "int8" => "int8",
            "decimal" | "numeric" => "numeric",
            "real" | "float4" => "float4",
            "double precision" | "float8" => "float8",
            "boolean" | "bool" => "bool",
            "timestamp" | "timestamp without time zone" => "timestamp",
            "timestamptz" | "timestamp with time zone" => "timestamptz",
            other => other,
        }
        .to_string();
        let mut c = ColumnType::new(name);
        match (c.name.as_str(), args.as_slice()) {
            ("varchar" | "bpchar", [n]) => c.max_len = Some(*n as usize),
            // `char` without a length is char(1).
            ("bpchar", []) if base == "character" || base == "char" => c.max_len = Some(1),
            ("numeric", [p]) => c.numeric = Some((*p, 0)),
            ("numeric", [p, s]) => c.numeric = Some((*p, *s)),
            (_, []) => {}
            ("timestamp" | "timestamptz" | "time" | "timetz" | "interval", [_]) => {}
            _ => return Err(format!("unsupported type modifier in `{sql}`")),
        }
        Ok(c)
    }

    /// The family of the type.
    pub fn kind(&self) -> TypeKind {
        if !self.enum_labels.is_empty() {
            return TypeKind::Enum;
        }
        match self.name.as_str() {
            n if n.starts_with('_') => TypeKind::Array,
            "text" | "varchar" | "bpchar" | "char" | "name" | "citext" => TypeKind::Text,
            "int2" => TypeKind::Integer {
                min: i16::MIN.into(),
                max: i16::MAX.into(),
            },
            "int4" => TypeKind::Integer {
                min: i32::MIN.into(),
                max: i32::MAX.into(),
            },
            "int8" => TypeKind::Integer {
                min: i64::MIN,
                max: i64::MAX,
            },
            "numeric" => TypeKind::Numeric,
            "float4" | "float8" => TypeKind::Float,
            "bool" => TypeKind::Bool,
            "date" => TypeKind::Date,
            "timestamp" => TypeKind::Timestamp,
            "timestamptz" => TypeKind::TimestampTz,
            "uuid" => TypeKind::Uuid,
            "inet" => TypeKind::Inet,
            "cidr" => TypeKind::Cidr,
            "macaddr" | "macaddr8" => TypeKind::MacAddr,
            "json" | "jsonb" => TypeKind::Json,
            _ => TypeKind::Other,
        }
    }

    /// The element type of an array column (its length limit carries over), or `None`.
    pub fn element(&self) -> Option<ColumnType> {
        let name = self.name.strip_prefix('_')?;
        Some(ColumnType {
            name: name.to_string(),
            max_len: self.max_len,
            numeric: self.numeric,
            enum_labels: self.enum_labels.clone(),
            not_null: false,
        })
    }

    /// Cuts `s` to the column's length limit, on a character boundary (`varchar(n)` counts
    /// characters, not bytes).
    pub fn truncate(&self, mut s: String) -> String {
        if let Some(n) = self.max_len {
            if let Some((i, _)) = s.char_indices().nth(n) {
                s.truncate(i);
            }
        }
        s
    }

    /// Whether a string of `len` characters fits the length limit.
    pub fn fits_len(&self, len: usize) -> bool {
        self.max_len.is_none_or(|n| len <= n)
    }

    /// Checks that `value` would load into the column, saying why not. It covers what the
    /// transformers can get wrong: length, enum labels, integer range, numeric precision,
    /// booleans, uuids, dates; other types are accepted as they are.
    pub fn check(&self, value: &str) -> Result<(), String> {
        if !self.fits_len(value.chars().count()) {
            return Err(format!(
                "{} characters do not fit {self}",
                value.chars().count()
            ));
        }
        match self.kind() {
            TypeKind::Enum if !self.enum_labels.iter().any(|l| l == value) => {
                return Err(format!(
                    "not a label of enum {} (labels: {})",
                    self.name,
                    self.enum_labels.join(", ")
                ));
            }
            TypeKind::Integer { min, max } => {
                let v: i64 = value
                    .parse()
                    .map_err(|_| format!("not an integer for {self}"))?;
                if v < min || v > max {
                    return Err(format!("outside the range of {self} ({min}..={max})"));
                }
            }
            TypeKind::Numeric => check_numeric(value, self.numeric)?,
            TypeKind::Float => {
                let special = ["NaN", "Infinity", "-Infinity"].contains(&value);
                if !special && value.parse::<f64>().is_err() {
                    return Err(format!("not a number for {self}"));
                }
            }
            TypeKind::Bool if !["t", "f", "true", "false"].contains(&value) => {
                return Err("not a boolean (t or f)".into());
            }
            TypeKind::Uuid => {
                let hex: String = value.chars().filter(|c| *c != '-').collect();
                if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err("not a uuid".into());
                }
            }
            TypeKind::Date | TypeKind::Timestamp | TypeKind::TimestampTz
                if !value.contains("infinity")
                    && crate::anonymize::dates::parse(value).is_none() =>
            {
                return Err(format!("not an ISO {}", self.name));
            }
            _ => {}
        }
        Ok(())
    }
}

/// Checks a numeric literal against `numeric(p, s)`: at most `s` decimals, at most `p - s`
/// integer digits.
fn check_numeric(value: &str, typmod: Option<(u32, u32)>) -> Result<(), String> {
    if value == "NaN" {
        return Ok(());
    }
    let digits = value.strip_prefix('-').unwrap_or(value);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let ok = !int.is_empty()
        && int.chars().all(|c| c.is_ascii_digit())
        && frac.chars().all(|c| c.is_ascii_digit());
    if !ok {
        return Err("not a numeric literal".into());
    }
    if let Some((p, s)) = typmod {
        let int_digits = int.trim_start_matches('0').len() as u32;
        if int_digits > p.saturating_sub(s) {
            return Err(format!(
                "{int_digits} integer digits do not fit numeric({p},{s})"
            ));
        }
        if frac.len() as u32 > s {
            return Err(format!(
                "{} decimals do not fit numeric({p},{s})",
                frac.len()
            ));
        }
    }
    Ok(())
}

impl fmt::Display for ColumnType {
    /// Shows the type as SQL would: `varchar(20)`, `numeric(10,2)`, `text[]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (base, array) = match self.name.strip_prefix('_') {
            Some(elem) => (elem, "[]"),
            None => (self.name.as_str(), ""),
        };
        write!(f, "{base}")?;
        if let Some(n) = self.max_len {
            write!(f, "({n})")?;
        } else if let Some((p, s)) = self.numeric {
            write!(f, "({p},{s})")?;
        }
        write!(f, "{array}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sql_spellings() {
        let c = ColumnType::parse("character varying(20)").unwrap();
        assert_eq!((c.name.as_str(), c.max_len), ("varchar", Some(20)));
        let c = ColumnType::parse("numeric(10, 2)").unwrap();
        assert_eq!(c.numeric, Some((10, 2)));
        let c = ColumnType::parse("varchar(5)[]").unwrap();
        assert_eq!(c.name, "_varchar");
        assert_eq!(c.element().unwrap().max_len, Some(5));
        assert_eq!(
            ColumnType::parse("timestamp(3) with time zone")
                .unwrap()
                .kind(),
            TypeKind::TimestampTz
        );
        assert_eq!(ColumnType::parse("char").unwrap().max_len, Some(1));
        assert!(ColumnType::parse("varchar(x)").is_err());
        assert_eq!(
            ColumnType::parse("varchar(20)").unwrap().to_string(),
            "varchar(20)"
        );
        assert_eq!(ColumnType::parse("text[]").unwrap().to_string(), "text[]");
    }

    #[test]
    fn truncates_on_char_boundaries() {
        let c = ColumnType::parse("varchar(3)").unwrap();
        assert_eq!(c.truncate("Zoë Smith".into()), "Zoë");
        assert_eq!(c.truncate("ab".into()), "ab");
        assert_eq!(ColumnType::text().truncate("long".into()), "long");
    }

    #[test]
    fn checks_values_against_the_type() {
        let int2 = ColumnType::new("int2");
        assert!(int2.check("32767").is_ok());
        assert!(int2.check("32768").is_err());
        let num = ColumnType::new("numeric").with_numeric(5, 2);
        assert!(num.check("999.99").is_ok());
        assert!(num.check("-999.99").is_ok());
        assert!(num.check("1000.00").is_err());
        assert!(num.check("1.234").is_err());
        let mood = ColumnType::enumeration("mood", &["sad", "happy"]);
        assert!(mood.check("sad").is_ok());
        assert!(mood.check("meh").unwrap_err().contains("sad, happy"));
        assert!(ColumnType::new("uuid")
            .check("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
            .is_ok());
        assert!(ColumnType::new("date").check("2024-02-30").is_err());
        assert!(ColumnType::new("timestamptz")
            .check("2024-02-29 10:00:00+01")
            .is_ok());
    }
}
