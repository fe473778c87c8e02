//! `hash`: a keyed hash of the value, in hex or base64. The same value always gives the same
//! hash, so joins on hashed columns still match; without the key, the value cannot be found
//! by hashing guesses.

use super::anonymizer::is_text;
use super::column::ColumnType;
use super::error::{BuildError, TransformError};
use super::params::{ParamInfo, ParamKind, Params};
use super::registry::{TransformerInfo, Uniqueness};
use super::{Ctx, Transformer};

/// Hash bits below which collisions become plausible: at a billion distinct values a 96-bit
/// hash collides with probability about 10^-11; a 64-bit one about 3%.
const UNIQUE_BITS: usize = 96;
const DEFAULT_LEN: usize = 32;
const MAX_LEN: usize = 512;

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "hash",
    summary: "a keyed hash of the value (hex or base64)",
    types: "text, varchar, char",
    preserves_uniqueness: Uniqueness::Depends(
        "with at least 96 bits: length ≥ 24 in hex, ≥ 16 in base64",
    ),
    params: &[
        ParamInfo {
            name: "format",
            kind: ParamKind::Choice(&["hex", "base64"]),
            default: Some("\"hex\""),
            doc: "lowercase hex, or URL-safe base64 without padding",
        },
        ParamInfo {
            name: "length",
            kind: ParamKind::Integer,
            default: None,
            doc: "characters written; default 32, or the column's length if shorter",
        },
    ],
};

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    if !is_text(column) {
        return Err(p.does_not_fit(column, "it writes text; use it on text or varchar columns"));
    }
    let base64 = p.choice("format", &["hex", "base64"], "hex")? == "base64";
    let length = match p.count("length")? {
        Some(0) => return Err(p.bad("length", "must be at least 1")),
        Some(n) if n > MAX_LEN => return Err(p.bad("length", format!("must be at most {MAX_LEN}"))),
        Some(n) if !column.fits_len(n) => {
            return Err(p.does_not_fit(
                column,
                format!(
                    "length {n} is longer than the column; set length ≤ {}",
                    column.max_len.unwrap_or(0)
                ),
            ))
        }
        Some(n) => n,
        None => column.max_len.map_or(DEFAULT_LEN, |m| m.min(DEFAULT_LEN)),
    };
    Ok(Box::new(Hash { base64, length }))
}

struct Hash {
    base64: bool,
    length: usize,
}

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

impl Transformer for Hash {
    fn transform(
        &self,
        value: Option<&str>,
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        let Some(value) = value else { return Ok(None) };
        // Enough bytes for `length` characters: 4 bits per hex digit, 6 per base64 one.
        let bits = self.length * if self.base64 { 6 } else { 4 };
        let mut bytes = vec![0u8; bits.div_ceil(8)];
        ctx.key().fill(ctx.domain(), value.as_bytes(), &mut bytes);
        let mut out = if self.base64 {
            let mut s = String::with_capacity(self.length + 2);
            for chunk in bytes.chunks(3) {
                let n = chunk
                    .iter()
                    .enumerate()
                    .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
                for i in 0..4 {
                    s.push(BASE64URL[((n >> (18 - 6 * i)) & 63) as usize] as char);
                }
            }
            s
        } else {
            hex::encode(&bytes)
        };
        out.truncate(self.length);
        Ok(Some(out))
    }

    fn preserves_uniqueness(&self) -> bool {
        self.length * if self.base64 { 6 } else { 4 } >= UNIQUE_BITS
    }
}

#[cfg(test)]
mod tests {
    use crate::anonymize::testing::*;
    use crate::anonymize::{BuildError, ColumnType};
    use proptest::prelude::*;

    #[test]
    fn hashes_values() {
        let col = ColumnType::text();
        let t = build("hash", "", &col);
        check_common(t.as_ref(), &col, SAMPLES, Keyed::Yes);
        let h = out(t.as_ref(), "alice");
        assert_eq!(h.len(), 32);
        assert!(h.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(t.preserves_uniqueness());
    }

    #[test]
    fn base64_and_lengths() {
        let t = build(
            "hash",
            "format = \"base64\"\nlength = 50",
            &ColumnType::text(),
        );
        let h = out(t.as_ref(), "alice");
        assert_eq!(h.len(), 50);
        assert!(h
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        let long = build("hash", "length = 100", &ColumnType::text());
        assert_eq!(out(long.as_ref(), "alice").len(), 100);
    }

    #[test]
    fn uniqueness_depends_on_length() {
        assert!(!build("hash", "length = 16", &ColumnType::text()).preserves_uniqueness());
        assert!(build("hash", "length = 24", &ColumnType::text()).preserves_uniqueness());
        assert!(build(
            "hash",
            "length = 16\nformat = \"base64\"",
            &ColumnType::text()
        )
        .preserves_uniqueness());
        // The default follows a short column down, and says so.
        let short = build("hash", "", &ColumnType::parse("varchar(12)").unwrap());
        assert_eq!(out(short.as_ref(), "x").len(), 12);
        assert!(!short.preserves_uniqueness());
    }

    #[test]
    fn refuses_what_cannot_fit() {
        let e = build_err(
            "hash",
            "length = 40",
            &ColumnType::parse("varchar(20)").unwrap(),
        );
        assert!(matches!(e, BuildError::DoesNotFit { .. }), "{e}");
        assert!(e.to_string().contains("length ≤ 20"), "{e}");
        assert!(matches!(
            build_err("hash", "", &ColumnType::new("int4")),
            BuildError::DoesNotFit { .. }
        ));
        assert!(matches!(
            build_err("hash", "length = 0", &ColumnType::text()),
            BuildError::BadValue { .. }
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn distinct_inputs_distinct_hashes(inputs in proptest::collection::hash_set(".{0,12}", 200..400)) {
            let t = build("hash", "length = 24", &ColumnType::text());
            check_unique(t.as_ref(), inputs);
        }
    }
}
