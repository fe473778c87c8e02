//! `permute`: a keyed permutation of integer keys. Distinct keys stay distinct, and the same
//! key and domain map a primary key and every foreign key that references it alike, so
//! references stay valid: give the referencing columns the same `domain` (and `min`/`max`).
//!
//! By default the permutation keeps each value's sign and bit length: 1..255 are shuffled among
//! themselves, then every range [2^(k-1), 2^k) among itself. That makes it independent of the
//! column type — an `int4` key and an `int8` foreign key map alike — and the output always fits
//! wherever the input did. The price is that the order of magnitude of an id shows through;
//! with `min`/`max` the whole range is shuffled instead, and values outside it stay as they
//! are (which still keeps the mapping one-to-one).

use super::column::{ColumnType, TypeKind};
use super::error::{BuildError, TransformError};
use super::feistel::RangePermutation;
use super::params::{ParamInfo, ParamKind, Params};
use super::registry::{TransformerInfo, Uniqueness};
use super::{Ctx, Transformer};

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "permute",
    summary: "a keyed one-to-one shuffle of integer keys (same domain on primary and foreign keys keeps references)",
    types: "int2, int4, int8, numeric without decimals, text holding integers",
    preserves_uniqueness: Uniqueness::Yes,
    params: &[
        ParamInfo {
            name: "min",
            kind: ParamKind::Integer,
            default: None,
            doc: "with max: shuffle the whole range min..=max (values outside stay); default: shuffle within each sign and bit length",
        },
        ParamInfo { name: "max", kind: ParamKind::Integer, default: None, doc: "upper end of the range shuffled, with min" },
    ],
};

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    let (type_min, type_max) = match column.kind() {
        TypeKind::Integer { min, max } => (min, max),
        TypeKind::Numeric if column.numeric.is_none_or(|(_, s)| s == 0) => (i64::MIN, i64::MAX),
        TypeKind::Text => (i64::MIN, i64::MAX),
        _ => {
            return Err(p.does_not_fit(
                column,
                "it permutes integers; use it on integer columns (uuid keys: use `uuid`)",
            ))
        }
    };
    let range = match (p.int("min")?, p.int("max")?) {
        (None, None) => None,
        (Some(min), Some(max)) => {
            if min > max {
                return Err(p.bad("min", format!("min {min} is above max {max}")));
            }
            if min < type_min || max > type_max {
                return Err(p.does_not_fit(
                    column,
                    format!(
                        "the range {min}..={max} goes beyond the type's {type_min}..={type_max}"
                    ),
                ));
            }
            Some((min, max))
        }
        (Some(_), None) => {
            return Err(p.missing("max", "the upper end of the range, given with min"))
        }
        (None, Some(_)) => {
            return Err(p.missing("min", "the lower end of the range, given with max"))
        }
    };
    Ok(Box::new(Permute { range }))
}

struct Permute {
    range: Option<(i64, i64)>,
}

/// Values below this form one class, so that small ids are not left alone in tiny classes.
const SMALL: u64 = 256;

impl Permute {
    fn permute(&self, x: i64, ctx: &Ctx<'_>) -> i64 {
        let key = ctx.key();
        if let Some((min, max)) = self.range {
            if x < min || x > max {
                return x;
            }
            let n = (max as i128 - min as i128 + 1) as u128;
            let p = RangePermutation::new(key, ctx.domain(), &format!("permute:{min}:{max}"), n);
            return (min as i128 + p.permute((x as i128 - min as i128) as u128) as i128) as i64;
        }
        if x == 0 || x == i64::MIN {
            // 0 is alone in its class; so is i64::MIN, whose magnitude has no positive twin.
            return x;
        }
        let sign = if x < 0 { "-" } else { "+" };
        let m = x.unsigned_abs();
        let (start, len, class) = if m < SMALL {
            (1u64, SMALL - 1, 0)
        } else {
            let bits = 64 - m.leading_zeros();
            (1u64 << (bits - 1), 1u64 << (bits - 1), bits)
        };
        let p = RangePermutation::new(
            key,
            ctx.domain(),
            &format!("permute:{sign}{class}"),
            len as u128,
        );
        let out = start + p.permute((m - start) as u128) as u64;
        // `out` has the bit length of `m` ≤ 63 bits (i64::MIN was handled), so it fits.
        if x < 0 {
            -(out as i64)
        } else {
            out as i64
        }
    }
}

impl Transformer for Permute {
    fn transform(
        &self,
        value: Option<&str>,
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        let Some(value) = value else { return Ok(None) };
        let x: i64 = value
            .parse()
            .map_err(|_| TransformError::new("permute", "not an integer (or beyond 64 bits)"))?;
        Ok(Some(self.permute(x, ctx).to_string()))
    }

    fn preserves_uniqueness(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use crate::anonymize::testing::*;
    use crate::anonymize::{BuildError, ColumnType};
    use proptest::prelude::*;

    #[test]
    fn permutes_keys() {
        let col = ColumnType::new("int4");
        let t = build("permute", "", &col);
        check_common(
            t.as_ref(),
            &col,
            &["1", "2", "300", "70000", "-5", "2147483647", "123456789"],
            Keyed::Yes,
        );
        assert!(t.preserves_uniqueness());
        assert_eq!(out(t.as_ref(), "0"), "0");
    }

    #[test]
    fn keeps_sign_and_magnitude_class() {
        let t = build("permute", "", &ColumnType::new("int8"));
        for x in [
            1i64,
            255,
            256,
            511,
            1000,
            1 << 40,
            i64::MAX,
            -1,
            -1000,
            i64::MIN + 1,
        ] {
            let y: i64 = out(t.as_ref(), &x.to_string()).parse().unwrap();
            assert_eq!(x.signum(), y.signum(), "{x}");
            if x.unsigned_abs() >= 256 {
                assert_eq!(
                    x.unsigned_abs().leading_zeros(),
                    y.unsigned_abs().leading_zeros(),
                    "{x}"
                );
            } else {
                assert!(y.unsigned_abs() < 256);
            }
        }
    }

    #[test]
    fn whole_classes_are_bijective() {
        let t = build("permute", "", &ColumnType::new("int4"));
        check_unique(t.as_ref(), (-3000..3000).map(|i: i32| i.to_string()));
        let mut small: Vec<i64> = (1..256)
            .map(|i: i32| out(t.as_ref(), &i.to_string()).parse().unwrap())
            .collect();
        small.sort_unstable();
        assert_eq!(small, (1..256).collect::<Vec<i64>>());
    }

    #[test]
    fn ranges_shuffle_inside_and_keep_outside() {
        let col = ColumnType::new("int2");
        let t = build("permute", "min = 1\nmax = 1000", &col);
        let mut all: Vec<i64> = (1..=1000)
            .map(|i: i32| out(t.as_ref(), &i.to_string()).parse().unwrap())
            .collect();
        all.sort_unstable();
        assert_eq!(all, (1..=1000).collect::<Vec<i64>>());
        assert_eq!(out(t.as_ref(), "1001"), "1001");
        assert_eq!(out(t.as_ref(), "-4"), "-4");
        let e = build_err("permute", "min = 1\nmax = 40000", &col);
        assert!(matches!(e, BuildError::DoesNotFit { .. }), "{e}");
        assert!(matches!(
            build_err("permute", "min = 1", &col),
            BuildError::MissingParam { .. }
        ));
    }

    #[test]
    fn same_domain_maps_primary_and_foreign_keys_alike() {
        let pk = build("permute", "", &ColumnType::new("int4"));
        let fk = build("permute", "", &ColumnType::new("int8"));
        assert_eq!(out(pk.as_ref(), "123456"), out(fk.as_ref(), "123456"));
    }

    #[test]
    fn malformed_input() {
        let t = build("permute", "", &ColumnType::text());
        assert!(err(t.as_ref(), "12.5").reason.contains("not an integer"));
        err(t.as_ref(), "99999999999999999999");
        assert!(matches!(
            build_err("permute", "", &ColumnType::new("date")),
            BuildError::DoesNotFit { .. }
        ));
    }

    proptest! {
        #[test]
        fn distinct_keys_stay_distinct(xs in proptest::collection::hash_set(any::<i64>(), 50..200)) {
            let t = build("permute", "", &ColumnType::new("int8"));
            check_unique(t.as_ref(), xs.iter().map(|x| x.to_string()));
        }

        #[test]
        fn ranged_distinct_keys_stay_distinct(xs in proptest::collection::hash_set(-100i64..100_000, 50..200)) {
            let t = build("permute", "min = 0\nmax = 99999", &ColumnType::new("int4"));
            check_unique(t.as_ref(), xs.iter().map(|x| x.to_string()));
        }
    }
}
