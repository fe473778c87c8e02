//! `mac`: MAC addresses (EUI-48, and EUI-64 for `macaddr8`) through a keyed permutation, one to
//! one, written with the input's separators and case. `keep_vendor` keeps the first three
//! bytes (the manufacturer's OUI) and permutes only the rest.

use super::column::{ColumnType, TypeKind};
use super::error::{BuildError, TransformError};
use super::feistel::Feistel;
use super::params::{ParamInfo, ParamKind, Params};
use super::registry::{TransformerInfo, Uniqueness};
use super::{Ctx, Transformer};

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "mac",
    summary: "MAC addresses shuffled one-to-one by a keyed permutation, in the input's notation",
    types: "macaddr, macaddr8, text, varchar(23+)",
    preserves_uniqueness: Uniqueness::Yes,
    params: &[ParamInfo {
        name: "keep_vendor",
        kind: ParamKind::Bool,
        default: Some("false"),
        doc: "keep the first three bytes (the manufacturer) and permute the rest",
    }],
};

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    match column.kind() {
        TypeKind::MacAddr => {}
        TypeKind::Text if column.fits_len(23) => {}
        _ => return Err(p.does_not_fit(
            column,
            "it writes MAC addresses; use it on macaddr or text columns of 23 characters or more",
        )),
    }
    Ok(Box::new(Mac {
        keep_vendor: p.bool("keep_vendor")?.unwrap_or(false),
    }))
}

struct Mac {
    keep_vendor: bool,
}

impl Transformer for Mac {
    fn transform(
        &self,
        value: Option<&str>,
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        let Some(value) = value else { return Ok(None) };
        let digits: Vec<u8> = value.bytes().filter(u8::is_ascii_hexdigit).collect();
        let separators_ok = value
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b":-. ".contains(&b));
        if !separators_ok || (digits.len() != 12 && digits.len() != 16) {
            return Err(TransformError::new(
                "mac",
                "not a MAC address (12 or 16 hex digits)",
            ));
        }
        let hex = std::str::from_utf8(&digits).expect("ASCII");
        let x = u128::from_str_radix(hex, 16).expect("hex digits");
        let bits = digits.len() as u32 * 4;
        let vendor_bits = if self.keep_vendor { 24 } else { 0 };
        let low_bits = bits - vendor_bits;
        let low_mask = (1u128 << low_bits) - 1;
        let f = Feistel::new(
            ctx.key(),
            ctx.domain(),
            &format!("mac{bits}/{vendor_bits}"),
            low_bits,
        );
        let y = (x & !low_mask) | f.permute(x & low_mask);
        let upper = value.bytes().any(|b| b.is_ascii_uppercase());
        let mut new_digits = format!("{y:0width$x}", width = digits.len());
        if upper {
            new_digits.make_ascii_uppercase();
        }
        // Put the new digits where the old ones were, keeping the separators.
        let mut next = new_digits.chars();
        Ok(Some(
            value
                .chars()
                .map(|c| {
                    if c.is_ascii_hexdigit() {
                        next.next().expect("same count")
                    } else {
                        c
                    }
                })
                .collect(),
        ))
    }

    fn preserves_uniqueness(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use crate::anonymize::testing::*;
    use crate::anonymize::{BuildError, ColumnType};

    const MACS: &[&str] = &[
        "08:00:2b:01:02:03",
        "08-00-2B-01-02-03",
        "0800.2b01.0203",
        "08:00:2b:01:02:03:04:05",
        "08002b010203",
    ];

    #[test]
    fn permutes_in_the_same_notation() {
        let col = ColumnType::new("macaddr");
        let t = build("mac", "", &col);
        check_common(t.as_ref(), &col, MACS, Keyed::Yes);
        let v = out(t.as_ref(), "08-00-2B-01-02-03");
        assert_eq!(v.len(), 17);
        assert_eq!(v.matches('-').count(), 5);
        assert!(!v.chars().any(|c| c.is_ascii_lowercase()), "{v}");
        assert_eq!(out(t.as_ref(), "08:00:2b:01:02:03:04:05").len(), 23);
        check_unique(
            t.as_ref(),
            (0..2000).map(|i: u32| format!("08:00:2b:00:{:02x}:{:02x}", i / 256, i % 256)),
        );
        assert!(t.preserves_uniqueness());
    }

    #[test]
    fn keeps_the_vendor() {
        let t = build("mac", "keep_vendor = true", &ColumnType::new("macaddr"));
        let v = out(t.as_ref(), "08:00:2b:01:02:03");
        assert!(v.starts_with("08:00:2b:"), "{v}");
        assert_ne!(v, "08:00:2b:01:02:03");
    }

    #[test]
    fn malformed_and_unfit() {
        let t = build("mac", "", &ColumnType::text());
        assert!(err(t.as_ref(), "08:00:2b:01:02")
            .reason
            .contains("not a MAC"));
        err(t.as_ref(), "zz:00:2b:01:02:03");
        assert!(matches!(
            build_err("mac", "", &ColumnType::new("int8")),
            BuildError::DoesNotFit { .. }
        ));
    }
}
