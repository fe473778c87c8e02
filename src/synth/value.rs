//! One column's generated values, from its type and what its CHECK constraints allow: a
//! plausible value drawn from the table's seeded generator, or, for a column that must be
//! unique on its own, the `i`-th value of a sequence that never repeats.

use rand::RngCore;

use super::bounds::Bounds;
use crate::anonymize::gen::{below, between, pick, unit};
use crate::anonymize::{ColumnType, TypeKind};

/// Words plain text columns are made of: neutral, ASCII, free of anything COPY escapes.
const WORDS: &[&str] = &[
    "alpha", "amber", "bright", "cedar", "delta", "ember", "fable", "garden", "harbor", "island",
    "juniper", "kettle", "lantern", "meadow", "nectar", "orbit", "pebble", "quartz", "river",
    "summit", "timber", "umber", "velvet", "willow", "yonder", "zephyr",
];

/// Days from 2020-01-01 over which dates and timestamps spread: six years.
const DATE_SPAN_DAYS: i64 = 6 * 365;

/// How one column is generated.
#[derive(Debug, Clone)]
pub struct ColumnGen {
    /// Column name.
    pub name: String,
    /// Its type (a domain's base type), with length, precision and enum labels.
    pub ty: ColumnType,
    /// What its CHECK constraints (and its domain's) allow.
    pub bounds: Bounds,
    /// Whether it may be NULL.
    pub nullable: bool,
    /// Unique on its own: generated as a sequence, so that no two rows share a value.
    pub sequential: bool,
    /// The partitions' bounds when this is the key of a partitioned table: every value
    /// must fall in one of them.
    pub partitions: Vec<super::partitions::Partition>,
}

/// Why a value could not be made.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// A unique column has no `i`-th value inside its bounds.
    Exhausted,
    /// doppel does not know how to make values of this type.
    UnknownType(String),
}

impl ColumnGen {
    /// The column's value for row `i`: `None` is SQL NULL.
    pub fn value(&self, rng: &mut dyn RngCore, i: u64) -> Result<Option<String>, Refusal> {
        if let Some(choices) = &self.bounds.choices {
            if self.sequential {
                return choices
                    .get(i as usize)
                    .cloned()
                    .map(Some)
                    .ok_or(Refusal::Exhausted);
            }
            return Ok(Some(pick(rng, choices).clone()));
        }
        if !self.partitions.is_empty() && !self.sequential {
            if let Some(v) = super::partitions::value(&self.ty, &self.partitions, rng) {
                return Ok(Some(v));
            }
        }
        if self.nullable && !self.sequential && below(rng, 20) == 0 {
            return Ok(None);
        }
        let seq = self.sequential.then_some(i);
        match plain(&self.ty, &self.bounds, rng, seq)? {
            Some(v) => Ok(Some(v)),
            None if self.nullable => Ok(None),
            None => Err(Refusal::UnknownType(self.ty.name.clone())),
        }
    }
}

fn text_len_limit(ty: &ColumnType, bounds: &Bounds) -> usize {
    let limit = ty.max_len.unwrap_or(usize::MAX);
    bounds.max_len.map_or(limit, |m| m.min(limit))
}

/// A value of `ty`; the `seq`-th of a never-repeating sequence when given. `None`: the type
/// is not one doppel generates.
fn plain(
    ty: &ColumnType,
    bounds: &Bounds,
    rng: &mut dyn RngCore,
    seq: Option<u64>,
) -> Result<Option<String>, Refusal> {
    let v = match ty.kind() {
        TypeKind::Enum => match seq {
            Some(i) => ty
                .enum_labels
                .get(i as usize)
                .cloned()
                .ok_or(Refusal::Exhausted)?,
            None => pick(rng, &ty.enum_labels).clone(),
        },
        TypeKind::Integer { min, max } => {
            let (lo, hi) = bounds.int_range(min, max);
            match seq {
                Some(i) => {
                    let start = if bounds.min.is_some() { lo } else { lo.max(1) };
                    let v = start.checked_add(i as i64).ok_or(Refusal::Exhausted)?;
                    if v > hi {
                        return Err(Refusal::Exhausted);
                    }
                    v.to_string()
                }
                None => {
                    let (lo, hi) = plausible(lo, hi);
                    between(rng, lo, hi).to_string()
                }
            }
        }
        TypeKind::Numeric | TypeKind::Float => {
            let (precision, scale) = match (ty.kind(), ty.numeric) {
                (TypeKind::Numeric, Some((p, s))) => (p, s),
                _ => (17, 2),
            };
            let digits = precision.saturating_sub(scale).min(15);
            let type_max = 10f64.powi(digits as i32) - 10f64.powi(-(scale as i32));
            let (lo, hi) = bounds.int_range(-(type_max as i64), type_max as i64);
            let scale = scale as usize;
            match seq {
                Some(i) => {
                    let start = if bounds.min.is_some() { lo } else { lo.max(1) };
                    let v = start as f64 + i as f64;
                    if v > hi as f64 {
                        return Err(Refusal::Exhausted);
                    }
                    format!("{v:.scale$}")
                }
                None => {
                    let (lo, hi) = plausible(lo, hi);
                    // An integer part and a fraction, kept inside the range.
                    let whole = between(rng, lo, hi.saturating_sub(1).max(lo));
                    let v = (whole as f64 + unit(rng)).min(hi as f64);
                    format!("{v:.scale$}")
                }
            }
        }
        TypeKind::Bool => match seq {
            Some(0) => "f".into(),
            Some(1) => "t".into(),
            Some(_) => return Err(Refusal::Exhausted),
            None => if below(rng, 2) == 0 { "f" } else { "t" }.into(),
        },
        TypeKind::Date => {
            let days = seq.map_or_else(|| between(rng, 0, DATE_SPAN_DAYS), |i| i as i64);
            date(days).format("%Y-%m-%d").to_string()
        }
        TypeKind::Timestamp | TypeKind::TimestampTz => {
            let seconds = match seq {
                Some(i) => i as i64 * 60,
                None => between(rng, 0, DATE_SPAN_DAYS * 86_400),
            };
            let t = date(0).and_hms_opt(0, 0, 0).expect("midnight")
                + chrono::Duration::seconds(seconds);
            let tz = if ty.kind() == TypeKind::TimestampTz {
                "+00"
            } else {
                ""
            };
            format!("{}{tz}", t.format("%Y-%m-%d %H:%M:%S"))
        }
        TypeKind::Uuid => {
            let mut b = [0u8; 16];
            rng.fill_bytes(&mut b);
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            let h = hex::encode(b);
            format!(
                "{}-{}-{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..32]
            )
        }
        TypeKind::Inet => match seq {
            Some(i) if i < 1 << 24 => {
                format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255)
            }
            Some(_) => return Err(Refusal::Exhausted),
            None => format!(
                "10.{}.{}.{}",
                below(rng, 256),
                below(rng, 256),
                1 + below(rng, 254)
            ),
        },
        TypeKind::Cidr => format!("10.{}.{}.0/24", below(rng, 256), below(rng, 256)),
        TypeKind::MacAddr => {
            let mut b = [0u8; 6];
            rng.fill_bytes(&mut b);
            b[0] &= 0xfe;
            b.iter()
                .map(|x| format!("{x:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        }
        TypeKind::Json => match seq {
            Some(i) => format!("{{\"n\": {i}}}"),
            None => format!("{{\"{}\": {}}}", pick(rng, WORDS), between(rng, 0, 1000)),
        },
        TypeKind::Array => {
            let Some(element) = ty.element() else {
                return Ok(None);
            };
            let n = seq.map_or_else(|| below(rng, 4), |_| 1);
            let mut items = Vec::new();
            for k in 0..n {
                let s = seq.map(|i| i * 4 + k);
                match plain(&element, &Bounds::default(), rng, s)? {
                    Some(v) => items.push(format!(
                        "\"{}\"",
                        v.replace('\\', "\\\\").replace('"', "\\\"")
                    )),
                    None => return Ok(None),
                }
            }
            format!("{{{}}}", items.join(","))
        }
        TypeKind::Text => text(ty, bounds, rng, seq)?,
        TypeKind::Other => match (ty.name.as_str(), seq) {
            ("time", None) => format!(
                "{:02}:{:02}:{:02}",
                below(rng, 24),
                below(rng, 60),
                below(rng, 60)
            ),
            ("timetz", None) => format!("{:02}:{:02}:00+00", below(rng, 24), below(rng, 60)),
            ("interval", None) => format!("{} days", below(rng, 365)),
            ("interval", Some(i)) => format!("{i} minutes"),
            ("bytea", _) => {
                let mut b = vec![0u8; 8];
                rng.fill_bytes(&mut b);
                if let Some(i) = seq {
                    b = i.to_be_bytes().to_vec();
                }
                format!("\\x{}", hex::encode(b))
            }
            ("money", None) => format!("{}.{:02}", below(rng, 1000), below(rng, 100)),
            ("tsvector", None) => format!("{} {}", pick(rng, WORDS), pick(rng, WORDS)),
            ("xml", None) => format!("<v>{}</v>", pick(rng, WORDS)),
            ("point", None) => format!(
                "({:.4},{:.4})",
                unit(rng) * 360.0 - 180.0,
                unit(rng) * 180.0 - 90.0
            ),
            ("oid", Some(i)) => (i + 1).to_string(),
            ("oid", None) => (1 + below(rng, 100_000)).to_string(),
            _ => return Ok(None),
        },
    };
    Ok(Some(v))
}

/// A narrower window of `lo..=hi` where values look like data rather than type limits:
/// 1..=1000 when nothing bounds the column, or a thousand past the bound given.
fn plausible(lo: i64, hi: i64) -> (i64, i64) {
    const SPAN: i64 = 1000;
    let (a, b) = match (lo <= 1 && hi >= SPAN, lo > 1) {
        (true, _) => (1.max(lo), SPAN.min(hi)),
        (false, true) => (lo, lo.saturating_add(SPAN).min(hi)),
        (false, false) => (hi.saturating_sub(SPAN).max(lo), hi),
    };
    if a > b {
        (lo, hi)
    } else {
        (a, b)
    }
}

fn date(days: i64) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2020, 1, 1).expect("valid date") + chrono::Duration::days(days)
}

fn text(
    ty: &ColumnType,
    bounds: &Bounds,
    rng: &mut dyn RngCore,
    seq: Option<u64>,
) -> Result<String, Refusal> {
    let limit = text_len_limit(ty, bounds);
    let min = bounds.min_len.unwrap_or(1);
    let words = 1 + below(rng, 3) as usize;
    let mut s: String = (0..words)
        .map(|_| *pick(rng, WORDS))
        .collect::<Vec<_>>()
        .join(" ");
    if let Some(i) = seq {
        let suffix = format!("-{}", i + 1);
        if suffix.len() - 1 > limit {
            return Err(Refusal::Exhausted);
        }
        if suffix.len() > limit {
            return Ok(suffix[1..].to_string());
        }
        s.truncate(limit - suffix.len());
        s.push_str(&suffix);
        return Ok(s);
    }
    while s.chars().count() < min {
        s.push('x');
    }
    Ok(ty.truncate(if s.len() > limit {
        s[..limit].to_string()
    } else {
        s
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn gen(sql_type: &str, bounds: Bounds, sequential: bool) -> ColumnGen {
        ColumnGen {
            name: "c".into(),
            ty: ColumnType::parse(sql_type).unwrap(),
            bounds,
            nullable: false,
            sequential,
            partitions: Vec::new(),
        }
    }

    fn values(g: &ColumnGen, n: u64) -> Vec<String> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        (0..n)
            .map(|i| g.value(&mut rng, i).unwrap().unwrap())
            .collect()
    }

    #[test]
    fn every_value_fits_its_type() {
        for t in [
            "integer",
            "smallint",
            "bigint",
            "numeric(5,2)",
            "numeric",
            "double precision",
            "boolean",
            "date",
            "timestamp without time zone",
            "timestamp with time zone",
            "uuid",
            "inet",
            "character varying(6)",
            "character(3)",
            "text",
            "jsonb",
            "text[]",
            "integer[]",
        ] {
            let g = gen(t, Bounds::default(), false);
            for v in values(&g, 200) {
                g.ty.check(&v).unwrap_or_else(|e| panic!("{t}: {v}: {e}"));
            }
        }
    }

    #[test]
    fn sequential_values_never_repeat_and_stop_when_the_type_runs_out() {
        for t in [
            "integer",
            "character varying(4)",
            "date",
            "numeric(4,1)",
            "uuid",
        ] {
            let g = gen(t, Bounds::default(), true);
            let v = values(&g, 500);
            let distinct: std::collections::HashSet<_> = v.iter().collect();
            assert_eq!(distinct.len(), 500, "{t}");
        }
        let g = gen("character varying(2)", Bounds::default(), true);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        assert_eq!(g.value(&mut rng, 98).unwrap().unwrap(), "99");
        assert_eq!(g.value(&mut rng, 99), Err(Refusal::Exhausted));
        let g = gen("boolean", Bounds::default(), true);
        assert_eq!(g.value(&mut rng, 2), Err(Refusal::Exhausted));
    }

    #[test]
    fn values_stay_inside_check_bounds() {
        let b = Bounds {
            min: Some((1.0, false)),
            max: Some((5.0, false)),
            ..Bounds::default()
        };
        for v in values(&gen("integer", b.clone(), false), 300) {
            let n: i64 = v.parse().unwrap();
            assert!((1..=5).contains(&n), "{v}");
        }
        for v in values(&gen("numeric(6,2)", b, false), 300) {
            let n: f64 = v.parse().unwrap();
            assert!((1.0..=5.0).contains(&n), "{v}");
        }
        let b = Bounds {
            min: Some((0.0, true)),
            ..Bounds::default()
        };
        for v in values(&gen("integer", b, false), 300) {
            assert!(v.parse::<i64>().unwrap() > 0);
        }
        let b = Bounds {
            choices: Some(vec!["new".into(), "paid".into()]),
            ..Bounds::default()
        };
        for v in values(&gen("text", b, false), 50) {
            assert!(v == "new" || v == "paid");
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_values() {
        let g = gen("text", Bounds::default(), false);
        assert_eq!(values(&g, 50), values(&g, 50));
    }

    #[test]
    fn unknown_types_are_null_when_allowed_and_refused_otherwise() {
        let mut g = gen("integer", Bounds::default(), false);
        g.ty = ColumnType::new("polygon");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        assert_eq!(
            g.value(&mut rng, 0),
            Err(Refusal::UnknownType("polygon".into()))
        );
        g.nullable = true;
        assert_eq!(g.value(&mut rng, 0), Ok(None));
    }
}
