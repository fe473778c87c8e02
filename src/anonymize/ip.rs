//! `ip`: IP addresses of either family, as `ipv4` and `ipv6` permute them: for `inet` columns
//! that hold both. Each address keeps its family.

use std::net::IpAddr;

use super::column::ColumnType;
use super::error::{BuildError, TransformError};
use super::ipv4::{ip_column, permute_v4, split_prefix};
use super::ipv6::permute_v6;
use super::params::Params;
use super::registry::{TransformerInfo, Uniqueness};
use super::{Ctx, Transformer};

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "ip",
    summary: "IPv4 and IPv6 addresses shuffled one-to-one, each within its family",
    types: "inet, cidr, text, varchar(43+)",
    preserves_uniqueness: Uniqueness::Yes,
    params: &[],
};

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    Ok(Box::new(Ip {
        cidr: ip_column(p, column, 43)?,
    }))
}

struct Ip {
    cidr: bool,
}

impl Transformer for Ip {
    fn transform(
        &self,
        value: Option<&str>,
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        let Some(value) = value else { return Ok(None) };
        let fail = |why: &str| TransformError::new("ip", why);
        let (addr, prefix) = split_prefix(value, 128).map_err(fail)?;
        let out = match addr
            .parse::<IpAddr>()
            .map_err(|_| fail("not an IP address"))?
        {
            IpAddr::V4(a) => {
                if prefix.is_some_and(|n| n > 32) {
                    return Err(fail("not an IP address (bad prefix length)"));
                }
                permute_v4(a, prefix, self.cidr, ctx).to_string()
            }
            IpAddr::V6(a) => permute_v6(a, prefix, self.cidr, ctx).to_string(),
        };
        Ok(Some(match prefix {
            Some(n) => format!("{out}/{n}"),
            None => out,
        }))
    }

    fn preserves_uniqueness(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use crate::anonymize::testing::*;
    use crate::anonymize::ColumnType;

    #[test]
    fn both_families() {
        let col = ColumnType::new("inet");
        let t = build("ip", "", &col);
        check_common(
            t.as_ref(),
            &col,
            &["10.0.0.1", "2001:db8::1", "192.168.0.0/16", "::1"],
            Keyed::Yes,
        );
        assert!(out(t.as_ref(), "10.0.0.1").contains('.'));
        assert!(out(t.as_ref(), "2001:db8::1").contains(':'));
        // The same permutation as the single-family transformers, so the three agree.
        let v4 = build("ipv4", "", &col);
        assert_eq!(out(t.as_ref(), "10.0.0.1"), out(v4.as_ref(), "10.0.0.1"));
        assert!(err(t.as_ref(), "10.0.0.1/33").reason.contains("prefix"));
        assert!(err(t.as_ref(), "localhost").reason.contains("not an IP"));
        assert!(t.preserves_uniqueness());
    }
}
