//! What simple CHECK constraints say about one column's values, so that generated values
//! land inside them instead of being drawn blindly and refused: `col > 0`, `col BETWEEN 1
//! AND 5`, `col IN ('a', 'b')`, `length(col) <= 20`, joined by `AND`. Anything richer is
//! left to the row-level check (see `Checks`) and, past that, to the server.

use std::collections::HashMap;

use sqlparser::ast::{BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArguments};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// The range, set and length limits known for one column.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bounds {
    /// Smallest allowed value, and whether it is excluded (`>` rather than `>=`).
    pub min: Option<(f64, bool)>,
    /// Largest allowed value, and whether it is excluded.
    pub max: Option<(f64, bool)>,
    /// The only values allowed (`IN (…)` or `= …`).
    pub choices: Option<Vec<String>>,
    /// Fewest characters (`length(col) >= n`, `col <> ''`).
    pub min_len: Option<usize>,
    /// Most characters (`length(col) <= n`).
    pub max_len: Option<usize>,
}

impl Bounds {
    /// The smallest and largest integers allowed, given the type's own range.
    pub fn int_range(&self, lo: i64, hi: i64) -> (i64, i64) {
        let lo = match self.min {
            Some((v, excl)) => {
                let v = if excl { v.floor() + 1.0 } else { v.ceil() };
                (v.max(lo as f64)) as i64
            }
            None => lo,
        };
        let hi = match self.max {
            Some((v, excl)) => {
                let v = if excl { v.ceil() - 1.0 } else { v.floor() };
                (v.min(hi as f64)) as i64
            }
            None => hi,
        };
        (lo, hi)
    }
}

/// Adds what the CHECK condition `condition` (casts already removed) says about single
/// columns to `out`, keyed by column name; `alias` renames a column (a domain's `VALUE`
/// becomes the column it types). Conditions it cannot read add nothing.
pub fn collect(condition: &str, alias: Option<(&str, &str)>, out: &mut HashMap<String, Bounds>) {
    let Ok(expr) = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(condition)
        .and_then(|mut p| p.parse_expr())
    else {
        return;
    };
    let name = |e: &Expr| -> Option<String> {
        let n = match unnest(e) {
            Expr::Identifier(i) => i.value.clone(),
            _ => return None,
        };
        Some(match alias {
            Some((from, to)) if n.eq_ignore_ascii_case(from) => to.to_string(),
            _ => n,
        })
    };
    walk(&expr, &name, out);
}

fn unnest(e: &Expr) -> &Expr {
    match e {
        Expr::Nested(inner) => unnest(inner),
        other => other,
    }
}

fn number(e: &Expr) -> Option<f64> {
    match unnest(e) {
        Expr::Value(v) => match &v.value {
            sqlparser::ast::Value::Number(n, _) => n.parse().ok(),
            sqlparser::ast::Value::SingleQuotedString(s) => s.parse().ok(),
            _ => None,
        },
        Expr::UnaryOp {
            op: sqlparser::ast::UnaryOperator::Minus,
            expr,
        } => number(expr).map(|n| -n),
        _ => None,
    }
}

fn literal(e: &Expr) -> Option<String> {
    match unnest(e) {
        Expr::Value(v) => match &v.value {
            sqlparser::ast::Value::Number(n, _) => Some(n.clone()),
            sqlparser::ast::Value::SingleQuotedString(s) => Some(s.clone()),
            _ => None,
        },
        _ => number(e).map(|n| n.to_string()),
    }
}

/// The column whose length `e` measures (`length(c)`, `char_length(c)`).
fn length_of(e: &Expr, name: &dyn Fn(&Expr) -> Option<String>) -> Option<String> {
    let Expr::Function(f) = unnest(e) else {
        return None;
    };
    let fname = f.name.to_string().to_ascii_lowercase();
    if !matches!(
        fname.as_str(),
        "length" | "char_length" | "character_length"
    ) {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    match list.args.as_slice() {
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))] => name(arg),
        _ => None,
    }
}

fn flip(op: &BinaryOperator) -> Option<BinaryOperator> {
    Some(match op {
        BinaryOperator::Gt => BinaryOperator::Lt,
        BinaryOperator::GtEq => BinaryOperator::LtEq,
        BinaryOperator::Lt => BinaryOperator::Gt,
        BinaryOperator::LtEq => BinaryOperator::GtEq,
        BinaryOperator::Eq => BinaryOperator::Eq,
        BinaryOperator::NotEq => BinaryOperator::NotEq,
        _ => return None,
    })
}

fn tighten_min(b: &mut Bounds, v: f64, excl: bool) {
    if b.min.is_none_or(|(m, _)| v > m) {
        b.min = Some((v, excl));
    }
}

fn tighten_max(b: &mut Bounds, v: f64, excl: bool) {
    if b.max.is_none_or(|(m, _)| v < m) {
        b.max = Some((v, excl));
    }
}

fn walk(e: &Expr, name: &dyn Fn(&Expr) -> Option<String>, out: &mut HashMap<String, Bounds>) {
    match unnest(e) {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            walk(left, name, out);
            walk(right, name, out);
        }
        Expr::BinaryOp { left, op, right } => {
            // Written either way round: `0 < price` is `price > 0`.
            let (col, op, value) = if name(left).is_some() || length_of(left, name).is_some() {
                (left.as_ref(), op.clone(), right.as_ref())
            } else if let Some(flipped) = flip(op) {
                (right.as_ref(), flipped, left.as_ref())
            } else {
                return;
            };
            if let Some(c) = length_of(col, name) {
                let Some(n) = number(value) else { return };
                let b = out.entry(c).or_default();
                let n = n.max(0.0) as usize;
                match op {
                    BinaryOperator::Gt => b.min_len = Some(n + 1),
                    BinaryOperator::GtEq => b.min_len = Some(n),
                    BinaryOperator::Lt => b.max_len = Some(n.saturating_sub(1)),
                    BinaryOperator::LtEq => b.max_len = Some(n),
                    _ => {}
                }
                return;
            }
            let Some(c) = name(col) else { return };
            let b = out.entry(c).or_default();
            match (op, number(value)) {
                (BinaryOperator::Gt, Some(v)) => tighten_min(b, v, true),
                (BinaryOperator::GtEq, Some(v)) => tighten_min(b, v, false),
                (BinaryOperator::Lt, Some(v)) => tighten_max(b, v, true),
                (BinaryOperator::LtEq, Some(v)) => tighten_max(b, v, false),
                (BinaryOperator::Eq, _) => {
                    if let Some(l) = literal(value) {
                        b.choices = Some(vec![l]);
                    }
                }
                (BinaryOperator::NotEq, _) if literal(value).as_deref() == Some("") => {
                    b.min_len = Some(b.min_len.unwrap_or(0).max(1));
                }
                _ => {}
            }
        }
        Expr::Between {
            expr,
            negated: false,
            low,
            high,
        } => {
            let (Some(c), Some(lo), Some(hi)) = (name(expr), number(low), number(high)) else {
                return;
            };
            let b = out.entry(c).or_default();
            tighten_min(b, lo, false);
            tighten_max(b, hi, false);
        }
        Expr::InList {
            expr,
            list,
            negated: false,
        } => {
            let Some(c) = name(expr) else { return };
            let values: Option<Vec<String>> = list.iter().map(literal).collect();
            if let Some(values) = values.filter(|v| !v.is_empty()) {
                out.entry(c).or_default().choices = Some(values);
            }
        }
        // `col = ANY (ARRAY['a', 'b'])` is how pg_get_constraintdef writes `col IN ('a', 'b')`.
        Expr::AnyOp {
            left,
            compare_op: BinaryOperator::Eq,
            right,
            ..
        } => {
            let (Some(c), Expr::Array(array)) = (name(left), unnest(right)) else {
                return;
            };
            let values: Option<Vec<String>> = array.elem.iter().map(literal).collect();
            if let Some(values) = values.filter(|v| !v.is_empty()) {
                out.entry(c).or_default().choices = Some(values);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds(condition: &str) -> HashMap<String, Bounds> {
        let mut out = HashMap::new();
        collect(condition, None, &mut out);
        out
    }

    #[test]
    fn reads_the_checks_postgres_writes() {
        let cases: &[(&str, &str, Bounds)] = &[
            (
                "((price > (0)))",
                "price",
                Bounds {
                    min: Some((0.0, true)),
                    ..Bounds::default()
                },
            ),
            (
                "(((rating >= 1) AND (rating <= 5)))",
                "rating",
                Bounds {
                    min: Some((1.0, false)),
                    max: Some((5.0, false)),
                    ..Bounds::default()
                },
            ),
            (
                "((quantity BETWEEN 1 AND 100))",
                "quantity",
                Bounds {
                    min: Some((1.0, false)),
                    max: Some((100.0, false)),
                    ..Bounds::default()
                },
            ),
            (
                "((status = ANY (ARRAY['new', 'paid', 'shipped'])))",
                "status",
                Bounds {
                    choices: Some(vec!["new".into(), "paid".into(), "shipped".into()]),
                    ..Bounds::default()
                },
            ),
            (
                "((length(code) <= 8) AND (code <> ''))",
                "code",
                Bounds {
                    min_len: Some(1),
                    max_len: Some(8),
                    ..Bounds::default()
                },
            ),
            (
                "((0 < discount))",
                "discount",
                Bounds {
                    min: Some((0.0, true)),
                    ..Bounds::default()
                },
            ),
            (
                "((balance >= -100.5))",
                "balance",
                Bounds {
                    min: Some((-100.5, false)),
                    ..Bounds::default()
                },
            ),
        ];
        for (condition, column, expected) in cases {
            assert_eq!(
                bounds(condition).get(*column),
                Some(expected),
                "{condition}"
            );
        }
    }

    #[test]
    fn conditions_it_cannot_read_add_nothing() {
        for c in [
            "((email ~ '^[^@]+@'))",
            "((a > b))",
            "((a > 0) OR (b > 0))",
            "not sql at all (((",
        ] {
            assert!(bounds(c).values().all(|b| b == &Bounds::default()), "{c}");
        }
    }

    #[test]
    fn a_domain_value_becomes_the_column() {
        let mut out = HashMap::new();
        collect("((VALUE > 0))", Some(("value", "amount")), &mut out);
        assert_eq!(out["amount"].min, Some((0.0, true)));
    }

    #[test]
    fn integer_ranges_respect_exclusion_and_type() {
        let b = Bounds {
            min: Some((0.0, true)),
            max: Some((10.0, true)),
            ..Bounds::default()
        };
        assert_eq!(b.int_range(-5, 100), (1, 9));
        assert_eq!(Bounds::default().int_range(-5, 100), (-5, 100));
        let b = Bounds {
            min: Some((1.5, false)),
            ..Bounds::default()
        };
        assert_eq!(b.int_range(0, 3), (2, 3));
    }
}
