//! Turning a value into one raw COPY text field.

use super::NULL;

/// Appends `value` to `out` as one raw field: `\N` for NULL, escaped otherwise.
///
/// Escapes exactly what PostgreSQL's `COPY TO` escapes: backslash, tab,
/// newline and carriage return (which would break the framing), and also
/// backspace, form feed and vertical tab. Writing the same bytes the server
/// would means a rewritten column looks like a dumped one, so anonymized
/// streams stay byte-stable and deduplicate.
///
/// ```
/// use doppel::copytext::encode_field;
///
/// let mut out = Vec::new();
/// encode_field(Some(b"a\tb\\"), &mut out);
/// out.push(b'\t');
/// encode_field(None, &mut out);
/// assert_eq!(out, b"a\\tb\\\\\t\\N");
/// ```
pub fn encode_field(value: Option<&[u8]>, out: &mut Vec<u8>) {
    let Some(value) = value else {
        out.extend_from_slice(NULL);
        return;
    };
    let mut rest = value;
    while let Some(at) = rest.iter().position(|&b| escape(b).is_some()) {
        out.extend_from_slice(&rest[..at]);
        if let Some(letter) = escape(rest[at]) {
            out.extend_from_slice(&[b'\\', letter]);
        }
        rest = &rest[at + 1..];
    }
    out.extend_from_slice(rest);
}

/// The letter that follows the backslash when `b` must be escaped.
fn escape(b: u8) -> Option<u8> {
    match b {
        b'\\' => Some(b'\\'),
        b'\t' => Some(b't'),
        b'\n' => Some(b'n'),
        b'\r' => Some(b'r'),
        0x08 => Some(b'b'),
        0x0b => Some(b'v'),
        0x0c => Some(b'f'),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::encode_field;

    fn encoded(value: Option<&[u8]>) -> Vec<u8> {
        let mut out = Vec::new();
        encode_field(value, &mut out);
        out
    }

    #[test]
    fn null_and_empty_differ() {
        assert_eq!(encoded(None), b"\\N");
        assert_eq!(encoded(Some(b"")), b"");
        assert_eq!(encoded(Some(b"\\N")), b"\\\\N");
    }

    #[test]
    fn escapes_like_postgres() {
        assert_eq!(encoded(Some(b"\\")), b"\\\\");
        assert_eq!(encoded(Some(b"\t")), b"\\t");
        assert_eq!(encoded(Some(b"\n")), b"\\n");
        assert_eq!(encoded(Some(b"\r")), b"\\r");
        assert_eq!(encoded(Some(b"\x08")), b"\\b");
        assert_eq!(encoded(Some(b"\x0c")), b"\\f");
        assert_eq!(encoded(Some(b"\x0b")), b"\\v");
        assert_eq!(encoded(Some(b"a\tb\nc")), b"a\\tb\\nc");
    }

    #[test]
    fn leaves_everything_else_alone() {
        assert_eq!(encoded(Some(b"plain text")), b"plain text");
        assert_eq!(encoded(Some(b"\0\x01\x7f\xff")), b"\0\x01\x7f\xff");
        assert_eq!(encoded(Some("é✓".as_bytes())), "é✓".as_bytes());
    }

    #[test]
    fn appends_without_clearing() {
        let mut out = b"x\t".to_vec();
        encode_field(Some(b"y"), &mut out);
        assert_eq!(out, b"x\ty");
    }
}
