//! The compiled form of a clause: conditions over operands (columns of the row and
//! literals), and their canonical rendering, which the rules digest hashes.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fmt;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CmpOp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

impl CmpOp {
    /// Whether the operator holds for two values that compare as `ord`.
    pub(super) fn holds(self, ord: Ordering) -> bool {
        match self {
            CmpOp::Eq => ord == Ordering::Equal,
            CmpOp::NotEq => ord != Ordering::Equal,
            CmpOp::Lt => ord == Ordering::Less,
            CmpOp::LtEq => ord != Ordering::Greater,
            CmpOp::Gt => ord == Ordering::Greater,
            CmpOp::GtEq => ord != Ordering::Less,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::NotEq => "<>",
            CmpOp::Lt => "<",
            CmpOp::LtEq => "<=",
            CmpOp::Gt => ">",
            CmpOp::GtEq => ">=",
        }
    }
}

/// A value: a column of the row or a literal.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Operand {
    Column(String),
    Text(String),
    /// A numeric literal, kept as written (it is compared exactly, as a decimal).
    Number(String),
    Bool(bool),
    Null,
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Column(name) => f.write_str(&crate::catalog::quote_ident(name)),
            Operand::Text(s) => f.write_str(&crate::catalog::quote_literal(s)),
            Operand::Number(s) => f.write_str(s),
            Operand::Bool(true) => f.write_str("TRUE"),
            Operand::Bool(false) => f.write_str("FALSE"),
            Operand::Null => f.write_str("NULL"),
        }
    }
}

/// One element of a LIKE pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LikeToken {
    Char(char),
    /// `_`: exactly one character.
    One,
    /// `%`: any run of characters, possibly empty.
    Any,
}

/// A LIKE/ILIKE pattern: compiled at load when it is a literal, at evaluation otherwise.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Pattern {
    Literal {
        source: String,
        tokens: Vec<LikeToken>,
    },
    Dynamic(Operand),
}

/// A condition, evaluated to TRUE, FALSE or UNKNOWN (`None`).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Cond {
    Const(Option<bool>),
    /// A value used as a condition: a boolean column, read as t/f/true/false.
    Truth(Operand),
    Not(Box<Cond>),
    /// `a AND b AND …`, flattened: a long chain is one node, not a deep tree.
    All(Vec<Cond>),
    /// `a OR b OR …`, flattened.
    Any(Vec<Cond>),
    Cmp(CmpOp, Operand, Operand),
    IsNull {
        value: Operand,
        negated: bool,
    },
    /// `IS [NOT] TRUE | FALSE | UNKNOWN` (`target` None is UNKNOWN).
    Is {
        cond: Box<Cond>,
        target: Option<bool>,
        negated: bool,
    },
    Distinct {
        left: Operand,
        right: Operand,
        negated: bool,
    },
    In {
        value: Operand,
        list: Vec<Operand>,
        negated: bool,
    },
    Between {
        value: Operand,
        low: Operand,
        high: Operand,
        negated: bool,
    },
    Like {
        value: Operand,
        pattern: Pattern,
        escape: Option<char>,
        case_insensitive: bool,
        negated: bool,
    },
}

impl Cond {
    /// Adds the columns used bare as conditions to `out`.
    pub(super) fn boolean_columns(&self, out: &mut BTreeSet<String>) {
        match self {
            Cond::Truth(Operand::Column(c)) => {
                out.insert(c.clone());
            }
            Cond::Not(c) | Cond::Is { cond: c, .. } => c.boolean_columns(out),
            Cond::All(items) | Cond::Any(items) => {
                for item in items {
                    item.boolean_columns(out);
                }
            }
            _ => {}
        }
    }
}

impl fmt::Display for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let not = |negated: &bool| if *negated { "NOT " } else { "" };
        match self {
            Cond::Const(Some(true)) => f.write_str("TRUE"),
            Cond::Const(Some(false)) => f.write_str("FALSE"),
            Cond::Const(None) => f.write_str("NULL"),
            Cond::Truth(v) => write!(f, "{v}"),
            Cond::Not(c) => write!(f, "(NOT {c})"),
            Cond::All(items) | Cond::Any(items) => {
                let op = if matches!(self, Cond::All(_)) {
                    " AND "
                } else {
                    " OR "
                };
                f.write_str("(")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(op)?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str(")")
            }
            Cond::Cmp(op, a, b) => write!(f, "({a} {} {b})", op.symbol()),
            Cond::IsNull { value, negated } => write!(f, "({value} IS {}NULL)", not(negated)),
            Cond::Is {
                cond,
                target,
                negated,
            } => {
                let t = match target {
                    Some(true) => "TRUE",
                    Some(false) => "FALSE",
                    None => "UNKNOWN",
                };
                write!(f, "({cond} IS {}{t})", not(negated))
            }
            Cond::Distinct {
                left,
                right,
                negated,
            } => write!(f, "({left} IS {}DISTINCT FROM {right})", not(negated)),
            Cond::In {
                value,
                list,
                negated,
            } => {
                write!(f, "({value} {}IN (", not(negated))?;
                for (i, item) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("))")
            }
            Cond::Between {
                value,
                low,
                high,
                negated,
            } => write!(f, "({value} {}BETWEEN {low} AND {high})", not(negated)),
            Cond::Like {
                value,
                pattern,
                escape,
                case_insensitive,
                negated,
            } => {
                let op = if *case_insensitive { "ILIKE" } else { "LIKE" };
                write!(f, "({value} {}{op} ", not(negated))?;
                match pattern {
                    Pattern::Literal { source, .. } => {
                        write!(f, "{}", Operand::Text(source.clone()))?
                    }
                    Pattern::Dynamic(p) => write!(f, "{p}")?,
                }
                match escape {
                    Some(c) => write!(f, " ESCAPE {})", Operand::Text(c.to_string())),
                    None => f.write_str(" ESCAPE '')"),
                }
            }
        }
    }
}
