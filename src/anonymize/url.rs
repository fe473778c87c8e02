//! `url`: a realistic URL under a reserved domain (`https://hopper.example.com/quia/odit`), so
//! that a staging system that calls webhooks or fetches links reaches nobody.

use fake::Fake;

use super::column::ColumnType;
use super::error::{BuildError, TransformError};
use super::gen::{ascii_slug, below, lorem_words, text_only};
use super::params::{ParamInfo, ParamKind, Params};
use super::registry::{TransformerInfo, Uniqueness};
use super::{Ctx, Transformer};

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "url",
    summary: "a realistic URL under example.com unless told otherwise (scheme kept)",
    types: "text, varchar",
    preserves_uniqueness: Uniqueness::No,
    params: &[ParamInfo {
        name: "url_domain",
        kind: ParamKind::String,
        default: Some("\"example.com\""),
        doc: "the domain every host is under; keep it one that serves nothing",
    }],
};

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    text_only(p, column)?;
    let domain = p
        .str("url_domain")?
        .unwrap_or("example.com")
        .to_ascii_lowercase();
    if domain.is_empty() || !domain.contains('.') || domain.contains(['/', ' ', ':', '@']) {
        return Err(p.bad(
            "url_domain",
            "must be a domain name such as \"example.com\"",
        ));
    }
    let shortest = "https://".len() + domain.len();
    if !column.fits_len(shortest) {
        return Err(p.does_not_fit(
            column,
            format!("its shortest URL has {shortest} characters"),
        ));
    }
    Ok(Box::new(Url {
        domain,
        max_len: column.max_len,
    }))
}

struct Url {
    domain: String,
    max_len: Option<usize>,
}

impl Transformer for Url {
    fn transform(
        &self,
        value: Option<&str>,
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        let Some(value) = value else { return Ok(None) };
        let scheme = if value.starts_with("http://") {
            "http"
        } else {
            "https"
        };
        let mut rng = ctx.rng(value.as_bytes());
        let host: String = fake::faker::name::en::LastName().fake_with_rng(&mut rng);
        let host = ascii_slug(&host);
        let segments = 1 + below(&mut rng, 3) as usize;
        let path = lorem_words(&mut rng, segments).replace(' ', "/");
        // Drop what does not fit: first the path, then the host name.
        let candidates = [
            format!("{scheme}://{host}.{}/{path}", self.domain),
            format!("{scheme}://{host}.{}/", self.domain),
            format!("{scheme}://{}", self.domain),
            format!("https://{}", self.domain),
        ];
        let fits = |s: &&String| self.max_len.is_none_or(|m| s.len() <= m);
        Ok(candidates.iter().find(fits).cloned())
    }

    fn preserves_uniqueness(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use crate::anonymize::testing::*;
    use crate::anonymize::{BuildError, ColumnType};

    const URLS: &[&str] = &[
        "https://alice.example.org/profile",
        "http://intranet/x?y=1",
        "not a url",
        "ftp://files",
    ];

    #[test]
    fn writes_urls_under_the_domain() {
        let col = ColumnType::parse("varchar(80)").unwrap();
        let t = build("url", "", &col);
        check_common(t.as_ref(), &col, URLS, Keyed::Yes);
        let v = out(t.as_ref(), "http://intranet/x?y=1");
        assert!(
            v.starts_with("http://") && v.contains(".example.com"),
            "{v}"
        );
        assert!(out(t.as_ref(), "ftp://files").starts_with("https://"));
        assert!(!t.preserves_uniqueness());
    }

    #[test]
    fn fits_or_refuses() {
        let col = ColumnType::parse("varchar(19)").unwrap();
        check_common(build("url", "", &col).as_ref(), &col, URLS, Keyed::No);
        let e = build_err("url", "", &ColumnType::parse("varchar(10)").unwrap());
        assert!(matches!(e, BuildError::DoesNotFit { .. }), "{e}");
    }
}
