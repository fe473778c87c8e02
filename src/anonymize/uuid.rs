//! `uuid`: UUIDs through a keyed permutation of their 122 free bits, keeping the version and
//! variant bits: one to one (safe on primary keys), a v4 stays a valid v4, and the same UUID
//! maps alike in every table with the same `domain`, so references between tables hold.

use super::column::{ColumnType, TypeKind};
use super::error::{BuildError, TransformError};
use super::feistel::Feistel;
use super::params::Params;
use super::registry::{TransformerInfo, Uniqueness};
use super::{Ctx, Transformer};

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "uuid",
    summary: "UUIDs shuffled one-to-one by a keyed permutation (version and variant kept)",
    types: "uuid, text, varchar(36+)",
    preserves_uniqueness: Uniqueness::Yes,
    params: &[],
};

/// The version nibble (bits 76..80) and the two variant bits (62..64).
const FIXED: u128 = (0xf << 76) | (0b11 << 62);

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    match column.kind() {
        TypeKind::Uuid => {}
        TypeKind::Text if column.fits_len(36) => {}
        _ => {
            return Err(p.does_not_fit(
                column,
                "it writes UUIDs; use it on uuid columns or text of 36 characters or more",
            ))
        }
    }
    Ok(Box::new(Uuid))
}

struct Uuid;

/// Spreads the 122 low bits of `x` over the positions not in [`FIXED`].
fn deposit(x: u128) -> u128 {
    let low = x & ((1 << 62) - 1);
    let mid = (x >> 62) & ((1 << 12) - 1);
    let high = x >> 74;
    low | (mid << 64) | (high << 80)
}

/// Gathers the bits not in [`FIXED`] into the 122 low bits.
fn extract(u: u128) -> u128 {
    let low = u & ((1 << 62) - 1);
    let mid = (u >> 64) & ((1 << 12) - 1);
    let high = u >> 80;
    low | (mid << 62) | (high << 74)
}

impl Transformer for Uuid {
    fn transform(
        &self,
        value: Option<&str>,
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        let Some(value) = value else { return Ok(None) };
        let hex: String = value
            .trim_matches(['{', '}'])
            .chars()
            .filter(|c| *c != '-')
            .collect();
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(TransformError::new("uuid", "not a UUID (32 hex digits)"));
        }
        let u = u128::from_str_radix(&hex, 16).expect("hex digits");
        let f = Feistel::new(ctx.key(), ctx.domain(), "uuid", 122);
        let v = (u & FIXED) | deposit(f.permute(extract(u)));
        let h = format!("{v:032x}");
        Ok(Some(format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )))
    }

    fn preserves_uniqueness(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::{deposit, extract, FIXED};
    use crate::anonymize::testing::*;
    use crate::anonymize::{BuildError, ColumnType};
    use proptest::prelude::*;

    const UUIDS: &[&str] = &[
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "00000000-0000-0000-0000-000000000000",
        "{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12}",
        "018f3c1e7b2a7c3d8e4f5a6b7c8d9e0f",
    ];

    #[test]
    fn permutes_keeping_version_and_variant() {
        let col = ColumnType::new("uuid");
        let t = build("uuid", "", &col);
        check_common(t.as_ref(), &col, UUIDS, Keyed::Yes);
        let v = out(t.as_ref(), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        assert_eq!(&v[14..15], "4", "{v}");
        assert!("89ab".contains(&v[19..20]), "{v}");
        assert_eq!(
            &out(t.as_ref(), "018f3c1e7b2a7c3d8e4f5a6b7c8d9e0f")[14..15],
            "7"
        );
        assert!(t.preserves_uniqueness());
    }

    #[test]
    fn malformed_and_unfit() {
        let t = build("uuid", "", &ColumnType::text());
        assert!(err(t.as_ref(), "not-a-uuid").reason.contains("not a UUID"));
        assert!(matches!(
            build_err("uuid", "", &ColumnType::parse("varchar(20)").unwrap()),
            BuildError::DoesNotFit { .. }
        ));
    }

    proptest! {
        #[test]
        fn bit_shuffle_round_trips(x: u128) {
            let free = x & !FIXED;
            prop_assert_eq!(deposit(extract(free)), free);
            prop_assert_eq!(deposit(x >> 6) & FIXED, 0);
        }

        #[test]
        fn distinct_uuids_stay_distinct(xs in proptest::collection::hash_set(any::<u128>(), 100..300)) {
            let t = build("uuid", "", &ColumnType::new("uuid"));
            check_unique(t.as_ref(), xs.iter().map(|x| format!("{x:032x}")));
        }
    }
}
