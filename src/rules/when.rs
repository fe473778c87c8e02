//! `when` clauses: a small SQL condition over one row, parsed once at load and evaluated per
//! row during a snapshot.
//!
//! The clause is parsed by `sqlparser` (PostgreSQL dialect) and compiled into a tree that
//! knows only columns of the row, literals, comparisons, `AND`/`OR`/`NOT`, `IS [NOT] NULL`,
//! `IS [NOT] TRUE/FALSE/UNKNOWN`, `IS [NOT] DISTINCT FROM`, `[NOT] IN`, `[NOT] LIKE`,
//! `[NOT] ILIKE` and `[NOT] BETWEEN`. Anything else (function calls, subqueries, arithmetic,
//! casts…) is refused at load with its position, so that nothing can fail or run arbitrary
//! code while rows stream.
//!
//! Values are the row's COPY text, so there are no types at evaluation time: two values are
//! compared as numbers when both read as numbers, as booleans when both read as booleans
//! (`t`, `f`, `true`, `false`), and as text (code point order, like the "C" collation)
//! otherwise. Logic is SQL's three-valued logic; a rule applies only to rows where its clause
//! is TRUE, as with `WHERE`.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use sqlparser::ast::{
    BinaryOperator, Expr, Ident, Spanned as _, UnaryOperator, Value, ValueWithSpan,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, Tokenizer};

/// Nesting depth the parser accepts: far more than a readable clause needs, and low enough
/// that parsing a hostile clause cannot exhaust a thread's stack.
const MAX_DEPTH: usize = 40;

/// Tokens a clause may have. Chains of AND/OR are flattened, but sqlparser builds (and
/// drops, and prints in errors) other operator chains as trees as deep as they are long:
/// this bound keeps all of that far from the stack's limit. A readable clause has dozens.
const MAX_TOKENS: usize = 1000;

/// What a clause may contain, for error messages.
const SUPPORTED: &str = "a when clause may use columns of the row, literals, comparisons \
(= <> < <= > >=), AND, OR, NOT, IS [NOT] NULL, IN (...), LIKE, ILIKE and BETWEEN";

/// A compiled `when` clause.
#[derive(Debug, Clone)]
pub struct When {
    source: String,
    root: Cond,
    columns: BTreeSet<String>,
    positions: Refs,
}

/// Each column a clause reads, with the position of its first mention.
type Refs = BTreeMap<String, (usize, usize)>;

/// Why a clause was refused, with the position inside the clause (1-based line and column,
/// counted in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhenError {
    /// What is wrong and what to do about it.
    pub message: String,
    /// Line within the clause, from 1.
    pub line: usize,
    /// Column within the clause, in characters, from 1.
    pub col: usize,
}

impl fmt::Display for WhenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.col, self.message)
    }
}

impl std::error::Error for WhenError {}

impl When {
    /// Parses and compiles a clause such as `country = 'FR' AND NOT is_admin`.
    pub fn parse(source: &str) -> Result<When, WhenError> {
        let dialect = PostgreSqlDialect {};
        let tokens = Tokenizer::new(&dialect, source)
            .tokenize()
            .map_err(|e| parser_error(e.into(), source))?;
        let count = tokens
            .iter()
            .filter(|t| !matches!(t, Token::Whitespace(_)))
            .count();
        if count > MAX_TOKENS {
            return Err(WhenError {
                message: format!(
                    "the when clause is too long ({count} tokens, at most {MAX_TOKENS}); \
                     simplify it, or split the rule"
                ),
                line: 1,
                col: 1,
            });
        }
        let mut parser = Parser::new(&dialect)
            .with_recursion_limit(MAX_DEPTH)
            .try_with_sql(source)
            .map_err(|e| parser_error(e, source))?;
        if parser.peek_token().token == Token::EOF {
            return Err(WhenError {
                message: "the when clause is empty; write a condition such as \
                          `country = 'FR'`, or remove the key"
                    .into(),
                line: 1,
                col: 1,
            });
        }
        let expr = parser.parse_expr().map_err(|e| parser_error(e, source))?;
        let next = parser.peek_token();
        if next.token != Token::EOF {
            let (line, col) = location(next.span.start);
            return Err(WhenError {
                message: format!(
                    "unexpected `{}` after the condition; a when clause is a single condition \
                     (join several with AND or OR)",
                    next.token
                ),
                line,
                col,
            });
        }
        let mut refs = Refs::new();
        let root = compile_cond(&expr, &mut refs)?;
        Ok(When {
            source: source.to_string(),
            root,
            columns: refs.keys().cloned().collect(),
            positions: refs,
        })
    }

    /// The clause as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The columns the clause reads (identifiers folded as PostgreSQL folds them), so that
    /// validation can check they exist and a caller can look them up by position.
    pub fn columns(&self) -> &BTreeSet<String> {
        &self.columns
    }

    /// Where column `name` is first mentioned in the clause (line and column, from 1).
    pub fn column_position(&self, name: &str) -> Option<(usize, usize)> {
        self.positions.get(name).copied()
    }

    /// The names of the columns used bare as conditions (`NOT is_admin`), which must be
    /// boolean columns for the clause to mean anything.
    pub fn boolean_columns(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        self.root.boolean_columns(&mut out);
        out
    }

    /// Evaluates the clause against a row. `row(name)` is `None` when the row has no such
    /// column (treated as NULL: validation has already refused such clauses) and
    /// `Some(None)` for SQL NULL. Returns `None` for UNKNOWN.
    pub fn eval<'r>(&self, row: &dyn Fn(&str) -> Option<Option<&'r str>>) -> Option<bool> {
        eval_cond(&self.root, row)
    }

    /// Whether the rule applies to this row: the clause is TRUE (not FALSE, not UNKNOWN).
    pub fn matches<'r>(&self, row: &dyn Fn(&str) -> Option<Option<&'r str>>) -> bool {
        self.eval(row) == Some(true)
    }
}

/// A canonical rendering (folded identifiers, normalized spacing and parentheses): two
/// clauses that mean the same after parsing render the same, which the rules digest relies on.
impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.root.fmt(f)
    }
}

impl PartialEq for When {
    fn eq(&self, other: &When) -> bool {
        self.root == other.root
    }
}

impl Eq for When {}

/// Turns a sqlparser error into ours, moving its " at Line: L, Column: C" into fields. An
/// error without a position is at the end of the input (sqlparser does not place EOF).
fn parser_error(e: ParserError, source: &str) -> WhenError {
    let text = match e {
        ParserError::TokenizerError(s) | ParserError::ParserError(s) => s,
        ParserError::RecursionLimitExceeded => {
            return WhenError {
                message: "the when clause is nested too deeply (parentheses, NOT); simplify it"
                    .into(),
                line: 1,
                col: 1,
            }
        }
    };
    let (message, line, col) = match text.rfind(" at Line: ") {
        Some(i) => {
            let tail = &text[i + " at Line: ".len()..];
            let mut parts = tail.split(", Column: ");
            let line = parts.next().and_then(|s| s.trim().parse().ok());
            let col = parts.next().and_then(|s| s.trim().parse().ok());
            match (line, col) {
                (Some(l), Some(c)) => (text[..i].to_string(), l, c),
                _ => {
                    let (l, c) = end_of(source);
                    (text.clone(), l, c)
                }
            }
        }
        None => {
            let (l, c) = end_of(source);
            (text.clone(), l, c)
        }
    };
    WhenError {
        message: format!("the when clause does not parse: {message}"),
        line: line.max(1),
        col: col.max(1),
    }
}

/// The line and column just past the end of `source`.
fn end_of(source: &str) -> (usize, usize) {
    let line = source.matches('\n').count() + 1;
    let col = source.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, col)
}

fn location(loc: sqlparser::tokenizer::Location) -> (usize, usize) {
    // Line 0 marks an empty span (a node sqlparser could not place): point at the start.
    if loc.line == 0 {
        (1, 1)
    } else {
        (loc.line as usize, loc.column.max(1) as usize)
    }
}

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

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

impl CmpOp {
    fn holds(self, ord: Ordering) -> bool {
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
enum Operand {
    Column(String),
    Text(String),
    /// A numeric literal, kept as written (it is compared exactly, as a decimal).
    Number(String),
    Bool(bool),
    Null,
}

impl Operand {
    fn value<'a>(&'a self, row: &dyn Fn(&str) -> Option<Option<&'a str>>) -> Option<&'a str> {
        match self {
            Operand::Column(name) => row(name).flatten(),
            Operand::Text(s) | Operand::Number(s) => Some(s),
            Operand::Bool(true) => Some("true"),
            Operand::Bool(false) => Some("false"),
            Operand::Null => None,
        }
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Column(name) => write!(f, "\"{}\"", name.replace('"', "\"\"")),
            Operand::Text(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Operand::Number(s) => f.write_str(s),
            Operand::Bool(true) => f.write_str("TRUE"),
            Operand::Bool(false) => f.write_str("FALSE"),
            Operand::Null => f.write_str("NULL"),
        }
    }
}

/// One element of a LIKE pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LikeToken {
    Char(char),
    /// `_`: exactly one character.
    One,
    /// `%`: any run of characters, possibly empty.
    Any,
}

/// A LIKE/ILIKE pattern: compiled at load when it is a literal, at evaluation otherwise.
#[derive(Debug, Clone, PartialEq)]
enum Pattern {
    Literal {
        source: String,
        tokens: Vec<LikeToken>,
    },
    Dynamic(Operand),
}

/// A condition, evaluated to TRUE, FALSE or UNKNOWN (`None`).
#[derive(Debug, Clone, PartialEq)]
enum Cond {
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
fn eval_cond<'a, 'r: 'a>(
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

impl Cond {
    fn boolean_columns(&self, out: &mut BTreeSet<String>) {
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

/// A number read exactly from its decimal text, without allocating (it is read for every
/// comparison of every row), ordered like PostgreSQL orders numeric values:
/// -Infinity < finite < Infinity < NaN, and NaN equals NaN.
#[derive(Debug, Clone, Copy)]
enum Number<'a> {
    NegInf,
    /// The value is ±0.d1d2d3… × 10^exp, where the digits are `head` then `tail` (two
    /// slices of the text, so that no copy is needed), with no leading or trailing zero.
    /// Zero has no digits and is never negative.
    Finite {
        negative: bool,
        head: &'a str,
        tail: &'a str,
        exp: i64,
    },
    PosInf,
    NaN,
}

impl<'a> Number<'a> {
    fn parse(s: &'a str) -> Option<Number<'a>> {
        let (negative, body) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        if body.eq_ignore_ascii_case("infinity") || body.eq_ignore_ascii_case("inf") {
            return Some(if negative {
                Number::NegInf
            } else {
                Number::PosInf
            });
        }
        if body.eq_ignore_ascii_case("nan") {
            return (s.len() == body.len()).then_some(Number::NaN);
        }
        let (mantissa, exponent) = match body.find(['e', 'E']) {
            Some(i) => (&body[..i], Some(&body[i + 1..])),
            None => (body, None),
        };
        let (int, frac) = match mantissa.find('.') {
            Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
            None => (mantissa, ""),
        };
        if int.is_empty() && frac.is_empty()
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let written_exp: i64 = match exponent {
            None => 0,
            Some(e) => {
                let (eneg, edigits) = match e.as_bytes().first()? {
                    b'-' => (true, &e[1..]),
                    b'+' => (false, &e[1..]),
                    _ => (false, e),
                };
                if edigits.is_empty() || !edigits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                // Saturate: an exponent beyond ±10^15 orders the same as any larger one.
                let mut v: i64 = 0;
                for b in edigits.bytes() {
                    v = (v * 10 + i64::from(b - b'0')).min(1_000_000_000_000_000);
                }
                if eneg {
                    -v
                } else {
                    v
                }
            }
        };
        let int = int.trim_start_matches('0');
        let (head, tail, exp) = if int.is_empty() {
            let significant = frac.trim_start_matches('0');
            let zeros = (frac.len() - significant.len()) as i64;
            ("", significant.trim_end_matches('0'), written_exp - zeros)
        } else {
            let exp = written_exp + int.len() as i64;
            match frac.trim_end_matches('0') {
                "" => (int.trim_end_matches('0'), "", exp),
                frac => (int, frac, exp),
            }
        };
        if head.is_empty() && tail.is_empty() {
            return Some(Number::Finite {
                negative: false,
                head,
                tail,
                exp: 0,
            });
        }
        Some(Number::Finite {
            negative,
            head,
            tail,
            exp,
        })
    }
}

impl Ord for Number<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        fn rank(n: &Number<'_>) -> u8 {
            match n {
                Number::NegInf => 0,
                Number::Finite { .. } => 1,
                Number::PosInf => 2,
                Number::NaN => 3,
            }
        }
        match (self, other) {
            (
                Number::Finite {
                    negative: an,
                    head: ah,
                    tail: at,
                    exp: ae,
                },
                Number::Finite {
                    negative: bn,
                    head: bh,
                    tail: bt,
                    exp: be,
                },
            ) => {
                let sign = |neg: bool, h: &str, t: &str| {
                    if h.is_empty() && t.is_empty() {
                        0
                    } else if neg {
                        -1
                    } else {
                        1
                    }
                };
                let (sa, sb) = (sign(*an, ah, at), sign(*bn, bh, bt));
                if sa != sb || sa == 0 {
                    return sa.cmp(&sb);
                }
                // Digit strings without trailing zeros compare lexicographically:
                // 0.12 < 0.123 as "12" < "123".
                let magnitude = ae.cmp(be).then_with(|| {
                    ah.bytes()
                        .chain(at.bytes())
                        .cmp(bh.bytes().chain(bt.bytes()))
                });
                if sa < 0 {
                    magnitude.reverse()
                } else {
                    magnitude
                }
            }
            _ => rank(self).cmp(&rank(other)),
        }
    }
}

impl PartialOrd for Number<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Number<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Number<'_> {}

/// Splits a LIKE pattern into tokens. `Err` carries the tokens when the pattern ends with
/// the escape character (PostgreSQL refuses it; at evaluation we take it literally).
fn like_tokens(
    pattern: &str,
    escape: Option<char>,
    case_insensitive: bool,
) -> Result<Vec<LikeToken>, Vec<LikeToken>> {
    let mut out = Vec::with_capacity(pattern.len());
    let push = |c: char, out: &mut Vec<LikeToken>| {
        if case_insensitive {
            out.extend(c.to_lowercase().map(LikeToken::Char));
        } else {
            out.push(LikeToken::Char(c));
        }
    };
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if Some(c) == escape {
            match chars.next() {
                Some(next) => push(next, &mut out),
                None => {
                    push(c, &mut out);
                    return Err(out);
                }
            }
        } else if c == '%' {
            // Consecutive `%` mean the same as one, and keep matching linear.
            if out.last() != Some(&LikeToken::Any) {
                out.push(LikeToken::Any);
            }
        } else if c == '_' {
            out.push(LikeToken::One);
        } else {
            push(c, &mut out);
        }
    }
    Ok(out)
}

/// Matches `text` against pattern tokens: greedy with one backtrack point, O(n·m) at worst,
/// walking the text in place (no copy unless it must be lower-cased).
fn like(tokens: &[LikeToken], text: &str, case_insensitive: bool) -> bool {
    let lowered: String;
    let text = if case_insensitive {
        // Character by character, as the pattern was lowered (`str::to_lowercase` would
        // treat a final sigma differently).
        lowered = text.chars().flat_map(char::to_lowercase).collect();
        lowered.as_str()
    } else {
        text
    };
    let char_len = |at: usize| text[at..].chars().next().map_or(1, char::len_utf8);
    let (mut p, mut s) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while s < text.len() {
        match tokens.get(p) {
            Some(LikeToken::Any) => {
                backtrack = Some((p, s));
                p += 1;
                continue;
            }
            Some(LikeToken::One) => {
                p += 1;
                s += char_len(s);
                continue;
            }
            Some(LikeToken::Char(c)) if text[s..].starts_with(*c) => {
                p += 1;
                s += c.len_utf8();
                continue;
            }
            _ => {}
        }
        match backtrack {
            Some((bp, bs)) => {
                // Let the last `%` swallow one more character and try again from there.
                let next = bs + char_len(bs);
                p = bp + 1;
                s = next;
                backtrack = Some((bp, next));
            }
            None => return false,
        }
    }
    tokens[p.min(tokens.len())..]
        .iter()
        .all(|t| *t == LikeToken::Any)
}

/// Folds an identifier as PostgreSQL does: unquoted names are lower-cased, quoted ones kept.
fn fold(ident: &Ident) -> String {
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

fn compile_cond(expr: &Expr, columns: &mut Refs) -> Result<Cond, WhenError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The row every case is evaluated against.
    const ROW: &[(&str, Option<&str>)] = &[
        ("country", Some("FR")),
        ("is_admin", Some("f")),
        ("is_staff", Some("t")),
        ("age", Some("42")),
        ("price", Some("19.90")),
        ("big", Some("12345678901234567890")),
        ("email", Some("Alice.Martin@Example.com")),
        ("nothing", None),
        ("status", Some("paid")),
        ("pct", Some("50%")),
        ("path", Some("a\\b")),
        ("Mixed", Some("yes")),
        ("nan", Some("NaN")),
        ("ts", Some("2021-03-04 05:06:07+00")),
    ];

    fn lookup(name: &str) -> Option<Option<&'static str>> {
        ROW.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    fn eval(clause: &str) -> Option<bool> {
        When::parse(clause)
            .unwrap_or_else(|e| panic!("{clause}: {e}"))
            .eval(&lookup)
    }

    const T: Option<bool> = Some(true);
    const F: Option<bool> = Some(false);
    const U: Option<bool> = None;

    #[test]
    fn evaluation_cases() {
        let cases: &[(&str, Option<bool>)] = &[
            // comparisons: text, numbers (exact), booleans
            ("country = 'FR'", T),
            ("country <> 'FR'", F),
            ("country != 'DE'", T),
            ("country < 'GB'", T),
            ("COUNTRY = 'FR'", T),
            ("\"country\" = 'FR'", T),
            ("age = 42", T),
            ("age = '42.0'", T),
            ("age > 9", T),
            ("age >= 42", T),
            ("age <= 41.999", F),
            ("age < -1", F),
            ("price = 19.9", T),
            ("price > 1e1", T),
            ("price < +20", T),
            ("big > 12345678901234567889", T),
            ("big = 12345678901234567891", F),
            ("nan > 1e300", T),
            ("nan = 'NaN'", T),
            ("age < 'Infinity'", T),
            ("is_admin = false", T),
            ("is_admin = 'false'", T),
            ("is_staff = TRUE", T),
            ("is_admin < is_staff", T),
            ("ts >= '2021-01-01'", T),
            ("ts < '2021-03-04 05:06:08'", T),
            // bare booleans and NOT
            ("is_staff", T),
            ("is_admin", F),
            ("NOT is_admin", T),
            ("NOT NOT is_admin", F),
            ("status", U),
            ("TRUE", T),
            ("NULL", U),
            // NULL propagation and three-valued AND/OR/NOT
            ("nothing = 1", U),
            ("nothing <> 1", U),
            ("NOT nothing = 1", U),
            ("nothing = 1 AND FALSE", F),
            ("FALSE AND nothing = 1", F),
            ("nothing = 1 AND TRUE", U),
            ("nothing = 1 OR TRUE", T),
            ("TRUE OR nothing = 1", T),
            ("nothing = 1 OR FALSE", U),
            ("country = 'FR' AND NOT is_admin", T),
            ("country = 'DE' OR age BETWEEN 40 AND 50", T),
            ("missing_column = 1", U),
            // IS [NOT] NULL / TRUE / FALSE / UNKNOWN / DISTINCT FROM
            ("nothing IS NULL", T),
            ("nothing IS NOT NULL", F),
            ("country IS NULL", F),
            ("missing_column IS NULL", T),
            ("(nothing = 1) IS UNKNOWN", T),
            ("(nothing = 1) IS NOT UNKNOWN", F),
            ("is_staff IS TRUE", T),
            ("is_admin IS NOT TRUE", T),
            ("(nothing = 1) IS NOT FALSE", T),
            ("is_admin IS FALSE", T),
            ("nothing IS DISTINCT FROM NULL", F),
            ("nothing IS NOT DISTINCT FROM NULL", T),
            ("age IS DISTINCT FROM 42.00", F),
            ("age IS DISTINCT FROM nothing", T),
            // IN
            ("country IN ('DE', 'FR')", T),
            ("country IN ('DE', 'GB')", F),
            ("country NOT IN ('DE', 'GB')", T),
            ("country IN ('DE', NULL)", U),
            ("country IN ('FR', NULL)", T),
            ("country NOT IN ('DE', NULL)", U),
            ("nothing IN (1, 2)", U),
            ("age IN (41, 42.0)", T),
            // BETWEEN
            ("age BETWEEN 42 AND 42", T),
            ("age NOT BETWEEN 1 AND 10", T),
            ("age BETWEEN 43 AND 50", F),
            ("age BETWEEN nothing AND 10", F),
            ("age BETWEEN nothing AND 50", U),
            ("nothing BETWEEN 1 AND 2", U),
            // LIKE / ILIKE
            ("email LIKE '%@Example.com'", T),
            ("email LIKE '%@example.com'", F),
            ("email ILIKE '%@EXAMPLE.COM'", T),
            ("email NOT ILIKE 'alice%'", F),
            ("email LIKE 'Alice._artin@%'", T),
            ("email LIKE 'Alice_Martin%'", T),
            ("email LIKE 'Alice__Martin%'", F),
            ("email LIKE '%'", T),
            ("email LIKE ''", F),
            ("pct LIKE '50\\%'", T),
            ("pct LIKE '5_\\%'", T),
            ("status LIKE 'p\\_id'", F),
            ("pct LIKE '50!%' ESCAPE '!'", T),
            ("path LIKE 'a\\\\b'", T),
            ("path LIKE 'a\\b' ESCAPE ''", T),
            ("nothing LIKE '%'", U),
            ("status LIKE country", F),
            ("status LIKE nothing", U),
            ("status LIKE '%a%d'", T),
            ("status LIKE '%a%x%'", F),
            ("status LIKE 'p%x%'", F),
            ("status LIKE '%ai%'", T),
            ("\"Mixed\" = 'yes'", T),
            // comments and layout do not matter
            ("country = 'FR' -- only France\n AND age > 18", T),
        ];
        let wrong: Vec<String> = cases
            .iter()
            .filter(|(clause, want)| eval(clause) != *want)
            .map(|(clause, want)| format!("{clause}: got {:?}, want {want:?}", eval(clause)))
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn parse_errors_name_the_construct_and_its_position() {
        let cases: &[(&str, &str, usize, usize)] = &[
            ("lower(email) = 'x'", "function call", 1, 1),
            (
                "country = 'FR' AND lower(email) = 'x'",
                "function call",
                1,
                20,
            ),
            ("age + 1 > 2", "operator +", 1, 1),
            ("age > (SELECT 1)", "subquery", 1, 8),
            // sqlparser places some nodes at an inner token: close enough to find it.
            ("EXISTS (SELECT 1)", "subquery", 1, 9),
            ("age::int > 1", "cast", 1, 1),
            ("CASE WHEN a THEN b END", "CASE", 1, 1),
            ("t.country = 'FR'", "qualified name", 1, 1),
            ("country = ", "does not parse", 1, 11),
            ("country = 'FR' extra", "unexpected `extra`", 1, 16),
            ("country = 'FR';", "unexpected `;`", 1, 15),
            ("country = 'FR'\n  AND age ~ '1'", "operator", 2, 7),
            ("", "empty", 1, 1),
            ("   ", "empty", 1, 1),
            ("'yes'", "literal used as a condition", 1, 1),
            ("42", "literal used as a condition", 1, 1),
            ("country = 'unterminated", "does not parse", 1, 11),
            ("name SIMILAR TO 'a%'", "regular expression", 1, 1),
            ("pct LIKE '50\\'", "ends with its escape", 1, 10),
            ("pct LIKE 'x' ESCAPE 'ab'", "ESCAPE takes a single", 1, 21),
            ("pct LIKE 1", "LIKE pattern", 1, 10),
            (
                "(a = 1) = (b = 2)",
                "condition where a column or literal",
                1,
                2,
            ),
            ("a IN (SELECT 1)", "subquery", 1, 1),
            ("-age > 1", "arithmetic", 1, 2),
            ("country = 'FR' AND", "does not parse", 1, 19),
            ("country = 'FR' AND\n", "does not parse", 2, 1),
            ("a = ANY(b)", "ANY/ALL", 1, 1),
        ];
        let mut wrong = Vec::new();
        for (clause, want, line, col) in cases {
            match When::parse(clause) {
                Ok(_) => wrong.push(format!("{clause}: accepted")),
                Err(e) if !e.message.contains(want) || (e.line, e.col) != (*line, *col) => {
                    wrong.push(format!("{clause}: got {e}, want {line}:{col} {want}"))
                }
                Err(_) => {}
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let nested = |n: usize| format!("{}a = 1{}", "(".repeat(n), ")".repeat(n));
        let e = When::parse(&nested(200)).unwrap_err();
        assert!(e.message.contains("nested"), "{e}");
        let e = When::parse(&nested(5000)).unwrap_err();
        assert!(e.message.contains("too long"), "{e}");
        let nots = format!("{}a", "NOT ".repeat(500));
        assert!(When::parse(&nots).is_err());
        let sums = format!("{} > 0", vec!["a"; 5000].join(" + "));
        assert!(When::parse(&sums).unwrap_err().message.contains("too long"));
        // Right at the limits, everything still works.
        let deepest = (1..200)
            .rev()
            .find(|n| When::parse(&nested(*n)).is_ok())
            .unwrap();
        assert!(deepest >= 10, "{deepest}");
        assert_eq!(
            When::parse(&nested(deepest))
                .unwrap()
                .eval(&|_| Some(Some("1"))),
            T
        );
        let long_and = vec!["a = 1"; 249].join(" AND ");
        assert_eq!(
            When::parse(&long_and).unwrap().eval(&|_| Some(Some("1"))),
            T
        );
        let nested_or = (0..8).fold("a = 1".to_string(), |acc, _| {
            format!("(a = 2 OR ({acc}) AND b IS NULL)")
        });
        assert_eq!(
            When::parse(&nested_or).unwrap().eval(&|_| Some(Some("1"))),
            F
        );
    }

    #[test]
    fn columns_are_folded_and_listed() {
        let w = When::parse("Country = 'FR' AND NOT \"IsAdmin\" AND email LIKE x").unwrap();
        let cols: Vec<&str> = w.columns().iter().map(String::as_str).collect();
        assert_eq!(cols, ["IsAdmin", "country", "email", "x"]);
        assert_eq!(
            w.boolean_columns().into_iter().collect::<Vec<_>>(),
            ["IsAdmin"]
        );
        assert_eq!(w.column_position("email"), Some((1, 38)));
        assert_eq!(w.column_position("country"), Some((1, 1)));
        assert_eq!(w.column_position("nope"), None);
        let two_lines = When::parse("a = 1\n  AND b = 2 AND a = 3").unwrap();
        assert_eq!(two_lines.column_position("b"), Some((2, 7)));
        assert_eq!(two_lines.column_position("a"), Some((1, 1)));
    }

    #[test]
    fn canonical_form_ignores_spelling_and_layout() {
        let a = When::parse("country='FR' and not is_admin").unwrap();
        let b = When::parse("  COUNTRY = 'FR'\n  AND (NOT \"is_admin\")  ").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), b.to_string());
        assert_eq!(
            a.to_string(),
            "((\"country\" = 'FR') AND (NOT \"is_admin\"))"
        );
        // AND and OR are associative: grouping does not matter either.
        let x = When::parse("(a = 1 AND b = 2) AND c = 3").unwrap();
        let y = When::parse("a = 1 AND (b = 2 AND c = 3)").unwrap();
        assert_eq!(x.to_string(), y.to_string());
        let c = When::parse("country = 'DE' AND NOT is_admin").unwrap();
        assert_ne!(a, c);
        // The canonical form parses back to the same clause.
        let again = When::parse(&a.to_string()).unwrap();
        assert_eq!(a, again);
    }

    #[test]
    fn numbers_compare_exactly() {
        let cases: &[(&str, &str, Ordering)] = &[
            ("1", "1.0", Ordering::Equal),
            ("0", "-0", Ordering::Equal),
            ("0.000", "0e10", Ordering::Equal),
            ("-1", "1", Ordering::Less),
            ("-2", "-1", Ordering::Less),
            ("10", "9.99999999999999999999", Ordering::Greater),
            ("1e2", "100", Ordering::Equal),
            ("1.5E-3", "0.0015", Ordering::Equal),
            ("9007199254740993", "9007199254740992", Ordering::Greater),
            ("-Infinity", "-1e999999", Ordering::Less),
            ("Infinity", "NaN", Ordering::Less),
            ("NaN", "NaN", Ordering::Equal),
            (".5", "0.5", Ordering::Equal),
            ("5.", "5", Ordering::Equal),
            ("1e99999999999999999999", "1e1000", Ordering::Greater),
            ("1.23e1", "12.3", Ordering::Equal),
            ("0.00120", "1.2e-3", Ordering::Equal),
            ("100", "1e2", Ordering::Equal),
            ("-0.5", "-0.50", Ordering::Equal),
            ("-0.5", "-0.49", Ordering::Less),
            ("120", "12", Ordering::Greater),
            ("0.1", "0.09999", Ordering::Greater),
            ("-1e-5", "0", Ordering::Less),
        ];
        for (a, b, want) in cases {
            let (x, y) = (Number::parse(a).unwrap(), Number::parse(b).unwrap());
            assert_eq!(x.cmp(&y), *want, "{a} vs {b}");
            assert_eq!(y.cmp(&x), want.reverse(), "{b} vs {a}");
        }
        for not_a_number in [
            "", "-", ".", "1e", "e5", "1.2.3", "12a", " 1", "0x10", "-NaN",
        ] {
            assert_eq!(Number::parse(not_a_number), None, "{not_a_number:?}");
        }
    }

    fn operand() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec!["a", "b", "c", "\"D\""]).prop_map(String::from),
            "-?[0-9]{1,3}(\\.[0-9]{1,2})?".prop_map(String::from),
            "[a-z%_\\\\]{0,4}".prop_map(|s| format!("'{s}'")),
            Just("NULL".to_string()),
            Just("TRUE".to_string()),
        ]
    }

    fn clause() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            (
                operand(),
                prop::sample::select(vec!["=", "<>", "<", "<=", ">", ">="]),
                operand()
            )
                .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
            (operand(), any::<bool>())
                .prop_map(|(a, n)| format!("{a} IS {}NULL", if n { "NOT " } else { "" })),
            (operand(), prop::collection::vec(operand(), 1..4))
                .prop_map(|(a, l)| format!("{a} IN ({})", l.join(", "))),
            (operand(), operand(), operand())
                .prop_map(|(a, l, h)| format!("{a} BETWEEN {l} AND {h}")),
            (
                prop::sample::select(vec!["a", "b"]),
                prop::sample::select(vec!["LIKE", "ILIKE", "NOT LIKE"]),
                "[a-z%_]{0,4}"
            )
                .prop_map(|(a, op, p)| format!("{a} {op} '{p}'")),
            prop::sample::select(vec!["a", "b", "TRUE", "NULL"]).prop_map(String::from),
        ];
        leaf.prop_recursive(4, 24, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(x, y)| format!("({x}) AND ({y})")),
                (inner.clone(), inner.clone()).prop_map(|(x, y)| format!("({x}) OR ({y})")),
                inner.prop_map(|x| format!("NOT ({x})")),
            ]
        })
    }

    fn value() -> impl Strategy<Value = Option<String>> {
        prop_oneof![
            Just(None),
            any::<String>().prop_map(Some),
            "-?[0-9]{0,25}(\\.[0-9]{0,5})?([eE][-+]?[0-9]{1,4})?".prop_map(Some),
            prop::sample::select(vec!["t", "f", "true", "NaN", "-Infinity", "%", "\\"])
                .prop_map(|s| Some(s.to_string())),
        ]
    }

    proptest! {
        #[test]
        fn evaluation_never_panics(
            c in clause(),
            a in value(), b in value(), cc in value(), d in value(),
        ) {
            // Generated clauses may still be refused (a literal as a condition): fine.
            if let Ok(w) = When::parse(&c) {
                let row = |name: &str| -> Option<Option<&str>> {
                    match name {
                        "a" => Some(a.as_deref()),
                        "b" => Some(b.as_deref()),
                        "c" => Some(cc.as_deref()),
                        "D" => Some(d.as_deref()),
                        _ => None,
                    }
                };
                let v = w.eval(&row);
                // NOT flips TRUE and FALSE and keeps UNKNOWN.
                let negated = When::parse(&format!("NOT ({c})")).unwrap();
                prop_assert_eq!(negated.eval(&row), v.map(|x| !x));
                // The canonical form means the same.
                let canonical = When::parse(&w.to_string()).unwrap();
                prop_assert_eq!(canonical.eval(&row), v);
            }
        }

        #[test]
        fn numbers_order_like_floats_where_floats_are_exact(
            a in "-?[0-9]{1,6}(\\.[0-9]{1,6})?([eE]-?[0-9])?",
            b in "-?[0-9]{1,6}(\\.[0-9]{1,6})?([eE]-?[0-9])?",
        ) {
            let (x, y) = (Number::parse(&a).unwrap(), Number::parse(&b).unwrap());
            let (fx, fy): (f64, f64) = (a.parse().unwrap(), b.parse().unwrap());
            prop_assert_eq!(Some(x.cmp(&y)), fx.partial_cmp(&fy), "{} vs {}", a, b);
        }

        #[test]
        fn parsing_never_panics(s in any::<String>()) {
            let _ = When::parse(&s);
        }

        #[test]
        fn like_agrees_with_a_reference_matcher(p in "[aé%_]{0,6}", s in "[aé]{0,6}") {
            let tokens = like_tokens(&p, Some('\\'), false).unwrap();
            prop_assert_eq!(like(&tokens, &s, false), reference_like(&p.chars().collect::<Vec<_>>(), &s.chars().collect::<Vec<_>>()));
        }
    }

    /// Exponential but obviously right: the definition of LIKE.
    fn reference_like(p: &[char], s: &[char]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some(('%', rest)) => (0..=s.len()).any(|i| reference_like(rest, &s[i..])),
            Some(('_', rest)) => !s.is_empty() && reference_like(rest, &s[1..]),
            Some((c, rest)) => s.first() == Some(c) && reference_like(rest, &s[1..]),
        }
    }
}
