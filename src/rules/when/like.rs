//! LIKE and ILIKE: patterns split into tokens (once, at load, for a literal pattern) and
//! matched against a value with one backtrack point.

use super::cond::LikeToken;

/// Splits a LIKE pattern into tokens. `Err` carries the tokens when the pattern ends with
/// the escape character (PostgreSQL refuses it; at evaluation we take it literally).
pub(super) fn like_tokens(
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
pub(super) fn like(tokens: &[LikeToken], text: &str, case_insensitive: bool) -> bool {
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
