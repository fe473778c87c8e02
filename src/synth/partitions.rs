//! Where a partitioned table's rows can go: the bounds of its partitions, read from the
//! catalog, so that generated values of the partition key always find a partition (monthly
//! partitions of this year accept none of a six-year spread of dates).

use std::collections::HashMap;

use rand::RngCore;
use tokio_postgres::Client;

use crate::anonymize::gen::{below, between};
use crate::anonymize::{ColumnType, TypeKind};
use crate::catalog::TableName;
use crate::error::{pg, Result};

/// One partition's bound on the key column.
#[derive(Debug, Clone, PartialEq)]
pub enum Partition {
    /// `FOR VALUES IN (…)`.
    List(Vec<String>),
    /// `FOR VALUES FROM (from) TO (to)`; `None` is MINVALUE or MAXVALUE.
    Range {
        /// Inclusive lower bound.
        from: Option<String>,
        /// Exclusive upper bound.
        to: Option<String>,
    },
}

/// The partitioned tables whose key is one plain column and whose partitions all have
/// bounds (a DEFAULT or HASH partition takes any value, so those tables are left free):
/// the key column and the bounds of the direct partitions.
pub async fn read(client: &Client) -> Result<HashMap<TableName, (String, Vec<Partition>)>> {
    let rows = client
        .query(
            "SELECT n.nspname::text, p.relname::text, coalesce(pg_get_partkeydef(p.oid), ''), \
                    coalesce(pg_get_expr(c.relpartbound, c.oid), '') \
             FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace \
             WHERE c.relispartition ORDER BY 1, 2, 4",
            &[],
        )
        .await
        .map_err(pg("cannot read the partition bounds"))?;
    let mut out: HashMap<TableName, Option<(String, Vec<Partition>)>> = HashMap::new();
    for r in rows {
        let table = TableName::new(r.get::<_, String>(0), r.get::<_, String>(1));
        let (key, bound): (String, String) = (r.get(2), r.get(3));
        let entry = out
            .entry(table)
            .or_insert_with(|| key_column(&key).map(|c| (c, Vec::new())));
        let Some((_, parts)) = entry else { continue };
        match parse_bound(&bound) {
            Some(p) => parts.push(p),
            // DEFAULT, HASH, or a bound on several columns: no limit worth keeping.
            None => *entry = None,
        }
    }
    Ok(out
        .into_iter()
        .filter_map(|(t, v)| v.filter(|(_, p)| !p.is_empty()).map(|v| (t, v)))
        .collect())
}

/// The column of `RANGE (at)` or `LIST (region)`; `None` for HASH, expressions or several
/// columns.
fn key_column(def: &str) -> Option<String> {
    let (kind, rest) = def.split_once(' ')?;
    if kind != "RANGE" && kind != "LIST" {
        return None;
    }
    let inner = rest.trim().strip_prefix('(')?.strip_suffix(')')?.trim();
    if inner.contains([',', '(', ' ']) {
        return None;
    }
    Some(
        match inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
            Some(quoted) => quoted.replace("\"\"", "\""),
            None => inner.to_string(),
        },
    )
}

/// `FOR VALUES IN ('a', 'b')` or `FOR VALUES FROM (x) TO (y)` on one column.
fn parse_bound(bound: &str) -> Option<Partition> {
    let rest = bound.trim().strip_prefix("FOR VALUES ")?;
    if let Some(list) = rest.strip_prefix("IN ") {
        let values = literals(list.trim().strip_prefix('(')?.strip_suffix(')')?)?;
        return Some(Partition::List(values.into_iter().flatten().collect()));
    }
    let rest = rest.strip_prefix("FROM (")?;
    let (from, rest) = rest.split_once(") TO (")?;
    let to = rest.strip_suffix(')')?;
    let one = |s: &str| -> Option<Option<String>> {
        let mut v = literals(s)?;
        (v.len() == 1).then(|| v.remove(0))
    };
    Some(Partition::Range {
        from: one(from)?,
        to: one(to)?,
    })
}

/// Comma-separated literals: `'text'` (with `''` inside), numbers, `MINVALUE`/`MAXVALUE`
/// and NULL (both `None`).
fn literals(s: &str) -> Option<Vec<Option<String>>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next()? {
                    '\'' if chars.peek() == Some(&'\'') => {
                        chars.next();
                        value.push('\'');
                    }
                    '\'' => break,
                    c => value.push(c),
                }
            }
            out.push(Some(value));
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
            let v = value.trim();
            out.push(match v {
                "MINVALUE" | "MAXVALUE" | "NULL" => None,
                "" => return None,
                _ => Some(v.to_string()),
            });
        }
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        match chars.next() {
            None => return Some(out),
            Some(',') => continue,
            Some(_) => return None,
        }
    }
}

/// A value of type `ty` that one of `partitions` accepts; `None` when the type is not one
/// whose ranges doppel understands (the caller then generates as usual).
pub fn value(ty: &ColumnType, partitions: &[Partition], rng: &mut dyn RngCore) -> Option<String> {
    let p = &partitions[below(rng, partitions.len() as u64) as usize];
    match p {
        Partition::List(values) if !values.is_empty() => {
            Some(values[below(rng, values.len() as u64) as usize].clone())
        }
        Partition::List(_) => None,
        Partition::Range { from, to } => match ty.kind() {
            TypeKind::Integer { min, max } => {
                let from = from.as_deref().and_then(|s| s.parse::<i64>().ok());
                let to = to.as_deref().and_then(|s| s.parse::<i64>().ok());
                let lo = from.unwrap_or_else(|| to.map_or(min, |t| t.saturating_sub(1000)));
                let hi = to.map_or_else(|| lo.saturating_add(1000).min(max), |t| t - 1);
                (lo <= hi).then(|| between(rng, lo, hi).to_string())
            }
            TypeKind::Date | TypeKind::Timestamp | TypeKind::TimestampTz => {
                let day = |s: &Option<String>| {
                    s.as_deref().and_then(|s| {
                        chrono::NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
                    })
                };
                let (from, to) = (day(from), day(to));
                let lo = from.or_else(|| to.map(|t| t - chrono::Duration::days(365)))?;
                let hi = to.unwrap_or(lo + chrono::Duration::days(365));
                let span = (hi - lo).num_days();
                if span <= 0 {
                    return None;
                }
                let d = lo + chrono::Duration::days(below(rng, span as u64) as i64);
                Some(match ty.kind() {
                    TypeKind::Date => d.format("%Y-%m-%d").to_string(),
                    kind => format!(
                        "{} {:02}:{:02}:{:02}{}",
                        d.format("%Y-%m-%d"),
                        below(rng, 24),
                        below(rng, 60),
                        below(rng, 60),
                        if kind == TypeKind::TimestampTz {
                            "+00"
                        } else {
                            ""
                        }
                    ),
                })
            }
            // Text ranges: the lower bound itself is inside.
            TypeKind::Text => from.clone(),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn bounds_as_postgres_writes_them() {
        assert_eq!(
            parse_bound("FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')"),
            Some(Partition::Range {
                from: Some("2026-01-01".into()),
                to: Some("2026-02-01".into())
            })
        );
        assert_eq!(
            parse_bound("FOR VALUES FROM (MINVALUE) TO (100)"),
            Some(Partition::Range {
                from: None,
                to: Some("100".into())
            })
        );
        assert_eq!(
            parse_bound("FOR VALUES IN ('eu', 'o''hare')"),
            Some(Partition::List(vec!["eu".into(), "o'hare".into()]))
        );
        assert_eq!(parse_bound("DEFAULT"), None);
        assert_eq!(
            parse_bound("FOR VALUES WITH (modulus 4, remainder 1)"),
            None
        );
        assert_eq!(parse_bound("FOR VALUES FROM ('a', 1) TO ('b', 2)"), None);
        assert_eq!(key_column("RANGE (at)"), Some("at".into()));
        assert_eq!(key_column("LIST (\"Region\")"), Some("Region".into()));
        assert_eq!(key_column("HASH (id)"), None);
        assert_eq!(key_column("RANGE (a, b)"), None);
        assert_eq!(key_column("RANGE (lower(name))"), None);
    }

    #[test]
    fn values_land_inside_a_partition() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let months = [
            Partition::Range {
                from: Some("2026-01-01".into()),
                to: Some("2026-02-01".into()),
            },
            Partition::Range {
                from: Some("2026-03-01".into()),
                to: Some("2026-04-01".into()),
            },
        ];
        for t in ["date", "timestamp with time zone"] {
            let ty = ColumnType::parse(t).unwrap();
            for _ in 0..200 {
                let v = value(&ty, &months, &mut rng).unwrap();
                assert!(
                    v.starts_with("2026-01-") || v.starts_with("2026-03-"),
                    "{t}: {v}"
                );
            }
        }
        let ints = [Partition::Range {
            from: Some("100".into()),
            to: Some("200".into()),
        }];
        let ty = ColumnType::parse("integer").unwrap();
        for _ in 0..200 {
            let n: i64 = value(&ty, &ints, &mut rng).unwrap().parse().unwrap();
            assert!((100..200).contains(&n));
        }
        let list = [Partition::List(vec!["eu".into()])];
        assert_eq!(value(&ColumnType::text(), &list, &mut rng).unwrap(), "eu");
    }
}
