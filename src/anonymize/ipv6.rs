//! `ipv6`: IPv6 addresses through a keyed permutation of the 128-bit address space, like
//! `ipv4`: one-to-one, the same in every table with the same `domain`, prefix lengths kept, and
//! in `cidr` columns only the network bits permuted.

use std::net::Ipv6Addr;

use super::column::ColumnType;
use super::error::{BuildError, TransformError};
use super::feistel::{Feistel, RangePermutation};
use super::ipv4::{ip_column, split_prefix};
use super::params::Params;
use super::registry::{TransformerInfo, Uniqueness};
use super::{Ctx, Transformer};

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "ipv6",
    summary: "IPv6 addresses shuffled one-to-one by a keyed permutation (prefix lengths kept)",
    types: "inet, cidr, text, varchar(43+)",
    preserves_uniqueness: Uniqueness::Yes,
    params: &[],
};

/// Longest written form: eight groups of four, seven colons, `/128`.
const LONGEST: usize = 43;

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    Ok(Box::new(Ipv6 {
        cidr: ip_column(p, column, LONGEST)?,
    }))
}

/// The permuted address: all 128 bits, or in a network of `prefix` bits only those bits.
pub(crate) fn permute_v6(
    addr: Ipv6Addr,
    prefix: Option<u32>,
    cidr: bool,
    ctx: &Ctx<'_>,
) -> Ipv6Addr {
    let x = u128::from(addr);
    match prefix {
        Some(n) if cidr && n < 128 => {
            if n == 0 {
                return addr;
            }
            let p =
                RangePermutation::new(ctx.key(), ctx.domain(), &format!("ipv6/{n}"), 1u128 << n);
            Ipv6Addr::from(p.permute(x >> (128 - n)) << (128 - n))
        }
        _ => Ipv6Addr::from(Feistel::new(ctx.key(), ctx.domain(), "ipv6", 128).permute(x)),
    }
}

struct Ipv6 {
    cidr: bool,
}

impl Transformer for Ipv6 {
    fn transform(
        &self,
        value: Option<&str>,
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        let Some(value) = value else { return Ok(None) };
        let fail = |why: &str| TransformError::new("ipv6", why);
        let (addr, prefix) = split_prefix(value, 128).map_err(fail)?;
        let addr: Ipv6Addr = addr.parse().map_err(|_| {
            fail(if addr.contains('.') && !addr.contains(':') {
                "an IPv4 address, not IPv6 (use `ip` on columns with both)"
            } else {
                "not an IPv6 address"
            })
        })?;
        let out = permute_v6(addr, prefix, self.cidr, ctx);
        Ok(Some(match prefix {
            Some(n) => format!("{out}/{n}"),
            None => out.to_string(),
        }))
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

    const ADDRS: &[&str] = &[
        "2001:db8::1",
        "fe80::1ff:fe23:4567:890a/64",
        "::1",
        "2001:db8:85a3::8a2e:370:7334",
    ];

    #[test]
    fn permutes_addresses() {
        let col = ColumnType::new("inet");
        let t = build("ipv6", "", &col);
        check_common(t.as_ref(), &col, ADDRS, Keyed::Yes);
        assert!(out(t.as_ref(), "fe80::1/64").ends_with("/64"));
        assert!(t.preserves_uniqueness());
    }

    #[test]
    fn cidr_networks_keep_zero_host_bits() {
        let t = build("ipv6", "", &ColumnType::new("cidr"));
        let v: std::net::Ipv6Addr = out(t.as_ref(), "2001:db8:1::/48")
            .trim_end_matches("/48")
            .parse()
            .unwrap();
        assert_eq!(u128::from(v) & ((1u128 << 80) - 1), 0);
        check_unique(t.as_ref(), (0..500).map(|i| format!("2001:db8:{i:x}::/48")));
    }

    #[test]
    fn malformed_and_unfit() {
        let t = build("ipv6", "", &ColumnType::text());
        assert!(err(t.as_ref(), "1.2.3.4").reason.contains("IPv4"));
        assert!(err(t.as_ref(), "2001:::1").reason.contains("not an IPv6"));
        assert!(matches!(
            build_err("ipv6", "", &ColumnType::parse("varchar(20)").unwrap()),
            BuildError::DoesNotFit { .. }
        ));
    }

    proptest! {
        #[test]
        fn distinct_addresses_stay_distinct(xs in proptest::collection::hash_set(any::<u128>(), 100..300)) {
            let t = build("ipv6", "", &ColumnType::new("inet"));
            check_unique(t.as_ref(), xs.iter().map(|x| std::net::Ipv6Addr::from(*x).to_string()));
        }
    }
}
