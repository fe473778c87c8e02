//! Compiling sqlparser's expression tree into a [`Cond`]: only the constructs a clause may
//! use; anything else is refused with its position.

use sqlparser::ast::{
    BinaryOperator, Expr, Ident, Spanned as _, UnaryOperator, Value, ValueWithSpan,
};

use super::cond::{CmpOp, Cond, Operand, Pattern};
use super::like::like_tokens;
use super::parse::location;
use super::{Refs, WhenError};

/// What a clause may contain, for error messages.
const SUPPORTED: &str = "a when clause may use columns of the row, literals, comparisons \
(= <> < <= > >=), AND, OR, NOT, IS [NOT] NULL, IN (...), LIKE, ILIKE and BETWEEN";

fn unsupported(expr: &Expr, what: &str) -> WhenError {
    let (line, col) = location(expr.span().start);
    let mut shown = expr.to_string();
    if shown.chars().count() > 60 {
        shown = shown.chars().take(57).collect::<String>() + "...";
    }
    WhenError {
        message: format!("{what} `{shown}` is not supported; {SUPPORTED}"),
        line,
        col,
    }
}

/// Folds an identifier as PostgreSQL does: unquoted names are lower-cased, quoted ones kept.
pub(super) fn fold(ident: &Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_lowercase()
    }
}

/// The operands of a chain of one operator (`a AND b AND c`, however parenthesized), left
/// to right, gathered without recursion: sqlparser builds a chain as a tree as deep as it
/// is long, which recursing over would overflow the stack.
fn chain<'e>(expr: &'e Expr, op: &BinaryOperator) -> Vec<&'e Expr> {
    let mut out = Vec::new();
    let mut stack = vec![expr];
    while let Some(e) = stack.pop() {
        match e {
            Expr::BinaryOp { left, op: o, right } if o == op => {
                stack.push(right);
                stack.push(left);
            }
            Expr::Nested(inner) if matches!(inner.as_ref(), Expr::BinaryOp { op: o, .. } if o == op) => {
                stack.push(inner)
            }
            _ => out.push(e),
        }
    }
    out
}

/// Compiles a condition, recording in `columns` each column it reads.
pub(super) fn compile_cond(expr: &Expr, columns: &mut Refs) -> Result<Cond, WhenError> {
    let boxed = |e: &Expr, columns: &mut Refs| compile_cond(e, columns).map(Box::new);
    Ok(match expr {
        Expr::Nested(inner) => compile_cond(inner, columns)?,
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => {
            Cond::Truth(compile_value(expr, columns)?)
        }
        Expr::Value(v) => match &v.value {
            Value::Boolean(b) => Cond::Const(Some(*b)),
            Value::Null => Cond::Const(None),
            _ => {
                return Err(unsupported(expr, "a literal used as a condition"));
            }
        },
        Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr: inner,
        } => Cond::Not(boxed(inner, columns)?),
        Expr::BinaryOp { left, op, right } => match op {
            BinaryOperator::And | BinaryOperator::Or => {
                let items = chain(expr, op)
                    .into_iter()
                    .map(|e| compile_cond(e, columns))
                    .collect::<Result<Vec<_>, _>>()?;
                if *op == BinaryOperator::And {
                    Cond::All(items)
                } else {
                    Cond::Any(items)
                }
            }
            _ => {
                let cmp = match op {
                    BinaryOperator::Eq => CmpOp::Eq,
                    BinaryOperator::NotEq => CmpOp::NotEq,
                    BinaryOperator::Lt => CmpOp::Lt,
                    BinaryOperator::LtEq => CmpOp::LtEq,
                    BinaryOperator::Gt => CmpOp::Gt,
                    BinaryOperator::GtEq => CmpOp::GtEq,
                    other => {
                        return Err(unsupported(expr, &format!("the operator {other} in")));
                    }
                };
                Cond::Cmp(
                    cmp,
                    compile_value(left, columns)?,
                    compile_value(right, columns)?,
                )
            }
        },
        Expr::IsNull(inner) | Expr::IsNotNull(inner) => Cond::IsNull {
            value: compile_value(inner, columns)?,
            negated: matches!(expr, Expr::IsNotNull(_)),
        },
        Expr::IsTrue(inner)
        | Expr::IsNotTrue(inner)
        | Expr::IsFalse(inner)
        | Expr::IsNotFalse(inner)
        | Expr::IsUnknown(inner)
        | Expr::IsNotUnknown(inner) => {
            let (target, negated) = match expr {
                Expr::IsTrue(_) => (Some(true), false),
                Expr::IsNotTrue(_) => (Some(true), true),
                Expr::IsFalse(_) => (Some(false), false),
                Expr::IsNotFalse(_) => (Some(false), true),
                Expr::IsUnknown(_) => (None, false),
                _ => (None, true),
            };
            Cond::Is {
                cond: boxed(inner, columns)?,
                target,
                negated,
            }
        }
        Expr::IsDistinctFrom(a, b) | Expr::IsNotDistinctFrom(a, b) => Cond::Distinct {
            left: compile_value(a, columns)?,
            right: compile_value(b, columns)?,
            negated: matches!(expr, Expr::IsNotDistinctFrom(..)),
        },
        Expr::InList {
            expr: inner,
            list,
            negated,
        } => Cond::In {
            value: compile_value(inner, columns)?,
            list: list
                .iter()
                .map(|e| compile_value(e, columns))
                .collect::<Result<_, _>>()?,
            negated: *negated,
        },
        Expr::Between {
            expr: inner,
            negated,
            low,
            high,
        } => Cond::Between {
            value: compile_value(inner, columns)?,
            low: compile_value(low, columns)?,
            high: compile_value(high, columns)?,
            negated: *negated,
        },
        Expr::Like {
            negated,
            any,
            expr: inner,
            pattern,
            escape_char,
        }
        | Expr::ILike {
            negated,
            any,
            expr: inner,
            pattern,
            escape_char,
        } => {
            let case_insensitive = matches!(expr, Expr::ILike { .. });
            if *any {
                return Err(unsupported(expr, "LIKE ANY in"));
            }
            let escape = match escape_char.as_deref() {
                None => Some('\\'),
                Some(e) => match compile_value(e, columns)? {
                    Operand::Text(s) if s.is_empty() => None,
                    Operand::Text(s) if s.chars().count() == 1 => s.chars().next(),
                    _ => {
                        let (line, col) = location(e.span().start);
                        return Err(WhenError {
                            message: format!(
                                "ESCAPE takes a single character in quotes, not `{e}`"
                            ),
                            line,
                            col,
                        });
                    }
                },
            };
            let value = compile_value(inner, columns)?;
            let pattern = match compile_value(pattern, columns)? {
                Operand::Text(source) => match like_tokens(&source, escape, case_insensitive) {
                    Ok(tokens) => Pattern::Literal { source, tokens },
                    Err(_) => {
                        let (line, col) = location(pattern.span().start);
                        return Err(WhenError {
                            message: "the LIKE pattern ends with its escape character; \
                                      double it to match a backslash (`\\\\`)"
                                .into(),
                            line,
                            col,
                        });
                    }
                },
                Operand::Column(c) => Pattern::Dynamic(Operand::Column(c)),
                other => {
                    let (line, col) = location(pattern.span().start);
                    return Err(WhenError {
                        message: format!(
                            "a LIKE pattern is a quoted string or a column, not {other}"
                        ),
                        line,
                        col,
                    });
                }
            };
            Cond::Like {
                value,
                pattern,
                escape,
                case_insensitive,
                negated: *negated,
            }
        }
        Expr::Function(_) => return Err(unsupported(expr, "the function call")),
        Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } => {
            return Err(unsupported(expr, "the subquery"))
        }
        Expr::Cast { .. } => return Err(unsupported(expr, "the cast")),
        Expr::Case { .. } => return Err(unsupported(expr, "the CASE expression")),
        Expr::SimilarTo { .. } | Expr::RLike { .. } => {
            return Err(unsupported(expr, "the regular expression match"))
        }
        Expr::AnyOp { .. } | Expr::AllOp { .. } => {
            return Err(unsupported(expr, "the ANY/ALL comparison"))
        }
        Expr::UnaryOp { .. } => return Err(unsupported(expr, "the operator in")),
        _ => return Err(unsupported(expr, "the expression")),
    })
}

fn compile_value(expr: &Expr, columns: &mut Refs) -> Result<Operand, WhenError> {
    match expr {
        Expr::Nested(inner) => compile_value(inner, columns),
        Expr::Identifier(ident) => {
            let name = fold(ident);
            columns
                .entry(name.clone())
                .or_insert_with(|| location(ident.span.start));
            Ok(Operand::Column(name))
        }
        Expr::CompoundIdentifier(_) => Err(unsupported(
            expr,
            "the qualified name (a when clause sees only its own row: name the column alone)",
        )),
        Expr::Value(ValueWithSpan { value, .. }) => {
            literal(value).ok_or_else(|| unsupported(expr, "the literal"))
        }
        Expr::UnaryOp {
            op: op @ (UnaryOperator::Minus | UnaryOperator::Plus),
            expr: inner,
        } => match inner.as_ref() {
            Expr::Value(ValueWithSpan {
                value: Value::Number(n, _),
                ..
            }) if !n.starts_with(['-', '+']) => {
                Ok(Operand::Number(if *op == UnaryOperator::Minus {
                    format!("-{n}")
                } else {
                    n.clone()
                }))
            }
            _ => Err(unsupported(expr, "arithmetic")),
        },
        Expr::BinaryOp { op, .. } => match op {
            BinaryOperator::And
            | BinaryOperator::Or
            | BinaryOperator::Eq
            | BinaryOperator::NotEq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq => Err(unsupported(
                expr,
                "a condition where a column or literal is expected:",
            )),
            other => Err(unsupported(expr, &format!("the operator {other} in"))),
        },
        _ => {
            // Conditions where a value is expected (`(a = 1) = b`) and every other construct.
            match compile_cond(expr, &mut Refs::new()) {
                Ok(_) => Err(unsupported(
                    expr,
                    "a condition where a column or literal is expected:",
                )),
                Err(e) => Err(e),
            }
        }
    }
}

fn literal(value: &Value) -> Option<Operand> {
    Some(match value {
        Value::Number(n, _) => Operand::Number(n.clone()),
        Value::Boolean(b) => Operand::Bool(*b),
        Value::Null => Operand::Null,
        Value::SingleQuotedString(s)
        | Value::EscapedStringLiteral(s)
        | Value::UnicodeStringLiteral(s)
        | Value::NationalStringLiteral(s) => Operand::Text(s.clone()),
        Value::DollarQuotedString(s) => Operand::Text(s.value.clone()),
        _ => return None,
    })
}
