//! Turning one raw COPY text field into its value.

use std::borrow::Cow;

use memchr::memchr;

use super::CopyError;

/// The raw field that stands for SQL NULL.
pub const NULL: &[u8] = b"\\N";

/// Decodes one raw field (as cut from a row) into its value.
///
/// Returns `None` for NULL (`\N`, the whole field), and borrows `raw` when it
/// holds no backslash, which is the common case. Escapes follow PostgreSQL's
/// `COPY FROM`: `\b \f \n \r \t \v`, octal `\o`..`\ooo` (taken modulo 256),
/// hex `\xh` or `\xhh`, and any other `\c` is `c` itself (so `\x` without a
/// hex digit is `x`). Bytes are not checked against any encoding.
///
/// # Errors
///
/// [`CopyError::TrailingBackslash`] when the field ends with a backslash that
/// escapes nothing, which `COPY TO` never writes.
///
/// ```
/// use doppel::copytext::decode_field;
///
/// assert_eq!(decode_field(b"\\N").unwrap(), None);
/// assert_eq!(decode_field(b"a\\tb\\101").unwrap().as_deref(), Some(&b"a\tbA"[..]));
/// ```
pub fn decode_field(raw: &[u8]) -> Result<Option<Cow<'_, [u8]>>, CopyError> {
    if raw == NULL {
        return Ok(None);
    }
    let Some(first) = memchr(b'\\', raw) else {
        return Ok(Some(Cow::Borrowed(raw)));
    };
    let mut value = Vec::with_capacity(raw.len());
    value.extend_from_slice(&raw[..first]);
    let mut at = first;
    loop {
        // raw[at] is a backslash.
        let Some(&c) = raw.get(at + 1) else {
            return Err(CopyError::TrailingBackslash { offset: at });
        };
        at += 2;
        let byte = match c {
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'v' => 0x0b,
            b'0'..=b'7' => octal(c, raw, &mut at),
            b'x' => hex(raw, &mut at).unwrap_or(b'x'),
            other => other,
        };
        value.push(byte);
        match memchr(b'\\', &raw[at..]) {
            Some(n) => {
                value.extend_from_slice(&raw[at..at + n]);
                at += n;
            }
            None => {
                value.extend_from_slice(&raw[at..]);
                return Ok(Some(Cow::Owned(value)));
            }
        }
    }
}

/// Reads up to two more octal digits after `first`, advancing `at` past them.
fn octal(first: u8, raw: &[u8], at: &mut usize) -> u8 {
    let mut value = u32::from(first - b'0');
    for _ in 0..2 {
        match raw.get(*at) {
            Some(&d @ b'0'..=b'7') => {
                value = value * 8 + u32::from(d - b'0');
                *at += 1;
            }
            _ => break,
        }
    }
    // PostgreSQL keeps the low byte of `\400`..`\777`.
    (value & 0xff) as u8
}

/// Reads one or two hex digits at `at`, advancing past them; `None` if there is none.
fn hex(raw: &[u8], at: &mut usize) -> Option<u8> {
    let high = hex_digit(raw.get(*at))?;
    *at += 1;
    match hex_digit(raw.get(*at)) {
        Some(low) => {
            *at += 1;
            Some(high << 4 | low)
        }
        None => Some(high),
    }
}

fn hex_digit(b: Option<&u8>) -> Option<u8> {
    match *b? {
        d @ b'0'..=b'9' => Some(d - b'0'),
        d @ b'a'..=b'f' => Some(d - b'a' + 10),
        d @ b'A'..=b'F' => Some(d - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::decode_field;
    use crate::copytext::CopyError;
    use std::borrow::Cow;

    fn value(raw: &[u8]) -> Vec<u8> {
        decode_field(raw).unwrap().unwrap().into_owned()
    }

    #[test]
    fn null_is_the_whole_field_only() {
        assert_eq!(decode_field(b"\\N").unwrap(), None);
        assert_eq!(value(b"a\\Nb"), b"aNb");
        assert_eq!(value(b"\\N\\N"), b"NN");
        assert_eq!(value(b"\\\\N"), b"\\N");
        assert_eq!(value(b"N"), b"N");
    }

    #[test]
    fn plain_fields_are_borrowed() {
        assert!(matches!(
            decode_field(b"alice"),
            Ok(Some(Cow::Borrowed(b"alice")))
        ));
        assert!(matches!(decode_field(b""), Ok(Some(Cow::Borrowed(b"")))));
        assert!(matches!(decode_field(b"a\\tb"), Ok(Some(Cow::Owned(_)))));
    }

    #[test]
    fn named_escapes() {
        assert_eq!(value(b"\\\\"), b"\\");
        assert_eq!(value(b"\\t"), b"\t");
        assert_eq!(value(b"\\n"), b"\n");
        assert_eq!(value(b"\\r"), b"\r");
        assert_eq!(value(b"\\b"), b"\x08");
        assert_eq!(value(b"\\f"), b"\x0c");
        assert_eq!(value(b"\\v"), b"\x0b");
        assert_eq!(value(b"a\\tb\\nc\\\\d"), b"a\tb\nc\\d");
    }

    #[test]
    fn octal_escapes_take_one_to_three_digits() {
        assert_eq!(value(b"\\0"), b"\0");
        assert_eq!(value(b"\\7x"), b"\x07x");
        assert_eq!(value(b"\\12"), b"\n");
        assert_eq!(value(b"\\101"), b"A");
        assert_eq!(value(b"\\1011"), b"A1");
        assert_eq!(value(b"\\18"), b"\x018");
        assert_eq!(value(b"\\377"), b"\xff");
        assert_eq!(value(b"\\777"), b"\xff");
        assert_eq!(value(b"\\400"), b"\0");
    }

    #[test]
    fn hex_escapes_take_one_or_two_digits() {
        assert_eq!(value(b"\\x41"), b"A");
        assert_eq!(value(b"\\xff"), b"\xff");
        assert_eq!(value(b"\\xFf"), b"\xff");
        assert_eq!(value(b"\\xA"), b"\x0a");
        assert_eq!(value(b"\\x4g"), b"\x04g");
        assert_eq!(value(b"\\x414"), b"A4");
        assert_eq!(value(b"\\xg"), b"xg");
        assert_eq!(value(b"\\x"), b"x");
    }

    #[test]
    fn any_other_escaped_byte_is_itself() {
        assert_eq!(value(b"\\a\\q\\."), b"aq.");
        assert_eq!(value(b"\\8\\9"), b"89");
        assert_eq!(value(b"\\\t"), b"\t");
        assert_eq!(value(b"\\\xe9"), b"\xe9");
    }

    #[test]
    fn a_lone_trailing_backslash_is_an_error_at_its_offset() {
        assert_eq!(
            decode_field(b"abc\\"),
            Err(CopyError::TrailingBackslash { offset: 3 })
        );
        assert_eq!(
            decode_field(b"\\t\\"),
            Err(CopyError::TrailingBackslash { offset: 2 })
        );
        assert_eq!(
            decode_field(b"\\"),
            Err(CopyError::TrailingBackslash { offset: 0 })
        );
    }
}
