//! Evaluating a compiled clause against one row, in SQL's three-valued logic, on the row's
//! COPY text: values compare as numbers, as booleans, or as text.

use std::cmp::Ordering;

use super::cond::{Cond, Operand, Pattern};
use super::like::{like, like_tokens};
use super::number::Number;

impl Operand {
    /// The operand's value in `row`; `None` for NULL.
    pub(super) fn value<'a>(
        &'a self,
        row: &dyn Fn(&str) -> Option<Option<&'a str>>,
    ) -> Option<&'a str> {
        match self {
            Operand::Column(name) => row(name).flatten(),
            Operand::Text(s) | Operand::Number(s) => Some(s),
            Operand::Bool(true) => Some("true"),
            Operand::Bool(false) => Some("false"),
            Operand::Null => None,
        }
    }
}

fn not(v: Option<bool>) -> Option<bool> {
    v.map(|b| !b)
}

fn and(a: Option<bool>, b: impl FnOnce() -> Option<bool>) -> Option<bool> {
    if a == Some(false) {
        return Some(false);
    }
    match (a, b()) {
        (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

fn or(a: Option<bool>, b: impl FnOnce() -> Option<bool>) -> Option<bool> {
    if a == Some(true) {
        return Some(true);
    }
    match (a, b()) {
        (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }
}

/// Evaluates a condition. Literals borrow from the clause and values from the row: the
/// wrapper closure shortens the row's lifetime to the clause's so both have one type.
pub(super) fn eval_cond<'a, 'r: 'a>(
    cond: &'a Cond,
    row: &dyn Fn(&str) -> Option<Option<&'r str>>,
) -> Option<bool> {
    let row = |name: &str| -> Option<Option<&'a str>> { row(name) };
    eval_in(cond, &row)
}

fn eval_in<'a>(c: &'a Cond, row: &dyn Fn(&str) -> Option<Option<&'a str>>) -> Option<bool> {
    match c {
        Cond::Const(v) => *v,
        Cond::Truth(v) => v.value(row).and_then(parse_bool),
        Cond::Not(inner) => not(eval_in(inner, row)),
        Cond::All(items) => {
            let mut acc = Some(true);
            for item in items {
                acc = and(acc, || eval_in(item, row));
                if acc == Some(false) {
                    break;
                }
            }
            acc
        }
        Cond::Any(items) => {
            let mut acc = Some(false);
            for item in items {
                acc = or(acc, || eval_in(item, row));
                if acc == Some(true) {
                    break;
                }
            }
            acc
        }
        Cond::Cmp(op, a, b) => compare(a.value(row)?, b.value(row)?).map(|o| op.holds(o)),
        Cond::IsNull { value, negated } => Some(value.value(row).is_none() != *negated),
        Cond::Is {
            cond,
            target,
            negated,
        } => Some((eval_in(cond, row) == *target) != *negated),
        Cond::Distinct {
            left,
            right,
            negated,
        } => {
            let same = match (left.value(row), right.value(row)) {
                (None, None) => true,
                (Some(a), Some(b)) => compare(a, b) == Some(Ordering::Equal),
                _ => false,
            };
            Some(same == *negated)
        }
        Cond::In {
            value,
            list,
            negated,
        } => {
            let v = value.value(row)?;
            let mut found = Some(false);
            for item in list {
                let eq = item
                    .value(row)
                    .and_then(|x| compare(v, x))
                    .map(|o| o == Ordering::Equal);
                found = or(found, || eq);
                if found == Some(true) {
                    break;
                }
            }
            if *negated {
                not(found)
            } else {
                found
            }
        }
        Cond::Between {
            value,
            low,
            high,
            negated,
        } => {
            let v = value.value(row);
            let ge = v
                .zip(low.value(row))
                .and_then(|(v, l)| compare(v, l))
                .map(|o| o != Ordering::Less);
            let le = v
                .zip(high.value(row))
                .and_then(|(v, h)| compare(v, h))
                .map(|o| o != Ordering::Greater);
            let inside = and(ge, || le);
            if *negated {
                not(inside)
            } else {
                inside
            }
        }
        Cond::Like {
            value,
            pattern,
            escape,
            case_insensitive,
            negated,
        } => {
            let v = value.value(row)?;
            let matched = match pattern {
                Pattern::Literal { tokens, .. } => like(tokens, v, *case_insensitive),
                Pattern::Dynamic(p) => {
                    let p = p.value(row)?;
                    let tokens = like_tokens(p, *escape, *case_insensitive).unwrap_or_else(|t| t);
                    like(&tokens, v, *case_insensitive)
                }
            };
            Some(matched != *negated)
        }
    }
}

/// Reads a boolean the way COPY writes one (`t`/`f`), or as spelled in SQL (`true`/`false`).
fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("t") || s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("f") || s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Compares two non-NULL values: as numbers when both are numbers, as booleans when both are
/// booleans, else as text. Always `Some` for now; an `Option` so that a comparison that
/// cannot be made can become UNKNOWN without touching the callers.
fn compare(a: &str, b: &str) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (Number::parse(a), Number::parse(b)) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (parse_bool(a), parse_bool(b)) {
        return Some(x.cmp(&y));
    }
    Some(a.cmp(b))
}
