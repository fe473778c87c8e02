//! Reading a clause's text into sqlparser's expression tree, within bounds that keep a
//! hostile clause from exhausting the stack, with errors placed at their line and column.

use sqlparser::ast::Expr;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, Tokenizer};

use super::WhenError;

/// Nesting depth the parser accepts: far more than a readable clause needs, and low enough
/// that parsing a hostile clause cannot exhaust a thread's stack.
const MAX_DEPTH: usize = 40;

/// Tokens a clause may have. Chains of AND/OR are flattened, but sqlparser builds (and
/// drops, and prints in errors) other operator chains as trees as deep as they are long:
/// this bound keeps all of that far from the stack's limit. A readable clause has dozens.
const MAX_TOKENS: usize = 1000;

/// Parses `source` as one SQL expression, refusing what is empty, too long, too deep, or
/// followed by more text.
pub(super) fn parse_expr(source: &str) -> Result<Expr, WhenError> {
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
    Ok(expr)
}

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

/// A sqlparser position as (line, column), from 1.
pub(super) fn location(loc: sqlparser::tokenizer::Location) -> (usize, usize) {
    // Line 0 marks an empty span (a node sqlparser could not place): point at the start.
    if loc.line == 0 {
        (1, 1)
    } else {
        (loc.line as usize, loc.column.max(1) as usize)
    }
}
