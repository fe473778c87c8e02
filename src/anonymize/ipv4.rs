//! `ipv4`: IPv4 addresses through a keyed permutation of the 32-bit address space, so that
//! distinct addresses stay distinct and the same address maps alike in every table (give the
//! columns the same `domain`). A prefix length (`/24`) is kept; in `cidr` columns only the
//! network bits are permuted, so that the host bits stay zero as the type requires.

use std::net::Ipv4Addr;

use super::column::{ColumnType, TypeKind};
use super::error::{BuildError, TransformError};
use super::feistel::{Feistel, RangePermutation};
use super::params::Params;
use super::registry::{TransformerInfo, Uniqueness};
use super::{Ctx, Transformer};

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "ipv4",
    summary: "IPv4 addresses shuffled one-to-one by a keyed permutation (prefix lengths kept)",
    types: "inet, cidr, text, varchar(18+)",
    preserves_uniqueness: Uniqueness::Yes,
    params: &[],
};

/// Longest written form: `255.255.255.255/32`.
const LONGEST: usize = 18;

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    Ok(Box::new(Ipv4 {
        cidr: ip_column(p, column, LONGEST)?,
    }))
}

/// Checks the column for an IP transformer; returns whether it is `cidr`.
pub(crate) fn ip_column(
    p: &Params<'_>,
    column: &ColumnType,
    longest: usize,
) -> Result<bool, BuildError> {
    match column.kind() {
        TypeKind::Inet => Ok(false),
        TypeKind::Cidr => Ok(true),
        TypeKind::Text if column.fits_len(longest) => Ok(false),
        TypeKind::Text => {
            Err(p.does_not_fit(column, format!("addresses need up to {longest} characters")))
        }
        _ => Err(p.does_not_fit(
            column,
            "it writes IP addresses; use it on inet, cidr or text columns",
        )),
    }
}

/// Splits `addr/len` into the address text and the prefix length.
pub(crate) fn split_prefix(value: &str, max: u32) -> Result<(&str, Option<u32>), &'static str> {
    match value.split_once('/') {
        None => Ok((value, None)),
        Some((addr, len)) => match len.parse::<u32>() {
            Ok(n) if n <= max => Ok((addr, Some(n))),
            _ => Err("not an IP address (bad prefix length)"),
        },
    }
}

/// The permuted address: all 32 bits, or in a network of `prefix` bits only those bits.
pub(crate) fn permute_v4(
    addr: Ipv4Addr,
    prefix: Option<u32>,
    cidr: bool,
    ctx: &Ctx<'_>,
) -> Ipv4Addr {
    let x = u32::from(addr);
    match prefix {
        Some(n) if cidr => {
            if n == 0 {
                return addr;
            }
            let p =
                RangePermutation::new(ctx.key(), ctx.domain(), &format!("ipv4/{n}"), 1u128 << n);
            Ipv4Addr::from((p.permute(u128::from(x >> (32 - n))) as u32) << (32 - n))
        }
        _ => {
            let p = Feistel::new(ctx.key(), ctx.domain(), "ipv4", 32);
            Ipv4Addr::from(p.permute(u128::from(x)) as u32)
        }
    }
}

struct Ipv4 {
    cidr: bool,
}

impl Transformer for Ipv4 {
    fn transform(
        &self,
        value: Option<&str>,
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        let Some(value) = value else { return Ok(None) };
        let fail = |why: &str| TransformError::new("ipv4", why);
        let (addr, prefix) = split_prefix(value, 32).map_err(fail)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| {
            fail(if addr.contains(':') {
                "an IPv6 address, not IPv4 (use `ip` on columns with both)"
            } else {
                "not an IPv4 address"
            })
        })?;
        let out = permute_v4(addr, prefix, self.cidr, ctx);
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
        "192.168.1.20",
        "10.0.0.1/8",
        "8.8.8.8",
        "203.0.113.77",
        "0.0.0.0",
    ];

    #[test]
    fn permutes_addresses() {
        let col = ColumnType::new("inet");
        let t = build("ipv4", "", &col);
        check_common(t.as_ref(), &col, ADDRS, Keyed::Yes);
        assert!(out(t.as_ref(), "10.0.0.1/8").ends_with("/8"));
        assert!(t.preserves_uniqueness());
        check_unique(
            t.as_ref(),
            (0..2000).map(|i| format!("10.0.{}.{}", i / 256, i % 256)),
        );
    }

    #[test]
    fn cidr_networks_keep_zero_host_bits() {
        let t = build("ipv4", "", &ColumnType::new("cidr"));
        let v = out(t.as_ref(), "10.1.2.0/24");
        assert!(v.ends_with(".0/24"), "{v}");
        check_unique(t.as_ref(), (0..256).map(|i| format!("10.1.{i}.0/24")));
    }

    #[test]
    fn malformed_and_unfit() {
        let t = build("ipv4", "", &ColumnType::text());
        assert!(err(t.as_ref(), "300.1.1.1").reason.contains("not an IPv4"));
        assert!(err(t.as_ref(), "::1").reason.contains("IPv6"));
        assert!(err(t.as_ref(), "1.2.3.4/40").reason.contains("prefix"));
        assert!(matches!(
            build_err("ipv4", "", &ColumnType::parse("varchar(10)").unwrap()),
            BuildError::DoesNotFit { .. }
        ));
    }

    proptest! {
        #[test]
        fn distinct_addresses_stay_distinct(xs in proptest::collection::hash_set(any::<u32>(), 100..300)) {
            let t = build("ipv4", "", &ColumnType::new("inet"));
            check_unique(t.as_ref(), xs.iter().map(|x| std::net::Ipv4Addr::from(*x).to_string()));
        }
    }
}
