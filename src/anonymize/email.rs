//! `email`: a realistic e-mail address built from a fake name, at a reserved domain by
//! default (`example.com`, RFC 2606), so that a staging system that sends mail reaches nobody.

use fake::Fake;

use super::column::ColumnType;
use super::error::{BuildError, TransformError};
use super::gen::{ascii_slug, below, digit, tag, text_only, with_locale, Locale, LOCALE_PARAM};
use super::params::{ParamInfo, ParamKind, Params};
use super::registry::{TransformerInfo, Uniqueness};
use super::{Ctx, Transformer};

/// Characters of the uniqueness tag: 20 × 5 = 100 bits, beyond birthday collisions.
const TAG_CHARS: usize = 20;

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "email",
    summary: "a realistic e-mail address from a fake name, at example.com unless told otherwise",
    types: "text, varchar, citext",
    preserves_uniqueness: Uniqueness::Depends("with unique = true"),
    params: &[
        ParamInfo {
            name: "email_domain",
            kind: ParamKind::String,
            default: Some("\"example.com\""),
            doc: "the domain of every address; keep it one that receives no mail",
        },
        ParamInfo {
            name: "keep_domain",
            kind: ParamKind::Bool,
            default: Some("false"),
            doc: "keep each address's own domain instead (mail may then reach real servers)",
        },
        ParamInfo {
            name: "unique",
            kind: ParamKind::Bool,
            default: Some("false"),
            doc: "add a keyed tag so that distinct addresses stay distinct (for unique columns)",
        },
        LOCALE_PARAM,
    ],
};

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    text_only(p, column)?;
    let domain = p
        .str("email_domain")?
        .unwrap_or("example.com")
        .to_ascii_lowercase();
    if domain.is_empty() || domain.contains(['@', ' ']) || !domain.contains('.') {
        return Err(p.bad(
            "email_domain",
            "must be a domain name such as \"example.com\"",
        ));
    }
    let keep_domain = p.bool("keep_domain")?.unwrap_or(false);
    if keep_domain && p.raw("email_domain").is_some() {
        return Err(p.bad(
            "email_domain",
            "give either `email_domain` or keep_domain = true, not both",
        ));
    }
    let unique = p.bool("unique")?.unwrap_or(false);
    let tag_len = if unique { TAG_CHARS + 1 } else { 0 };
    // The shortest address it can write: one letter, the tag, '@', the domain.
    let shortest = 1 + tag_len + 1 + if keep_domain { 3 } else { domain.len() };
    if !column.fits_len(shortest) {
        return Err(p.does_not_fit(column, format!("its shortest address has {shortest} characters; use `hash` or `mask` on so short a column")));
    }
    Ok(Box::new(Email {
        domain,
        keep_domain,
        unique,
        locale: Locale::from_params(p)?,
        max_len: column.max_len,
    }))
}

struct Email {
    domain: String,
    keep_domain: bool,
    unique: bool,
    locale: Locale,
    max_len: Option<usize>,
}

/// The domain of a well-formed address, or what is wrong with it (without quoting it).
pub(crate) fn split_address(value: &str) -> Result<(&str, &str), &'static str> {
    let (local, domain) = value
        .rsplit_once('@')
        .ok_or("not an email address (no '@')")?;
    if local.is_empty() {
        return Err("not an email address (nothing before '@')");
    }
    if domain.is_empty() || domain.contains(char::is_whitespace) {
        return Err("not an email address (no domain after '@')");
    }
    Ok((local, domain))
}

impl Transformer for Email {
    fn transform(
        &self,
        value: Option<&str>,
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        let Some(value) = value else { return Ok(None) };
        let domain = if self.keep_domain {
            split_address(value)
                .map_err(|why| TransformError::new("email", why))?
                .1
                .to_ascii_lowercase()
        } else {
            self.domain.clone()
        };
        let mut rng = ctx.rng(value.as_bytes());
        let (first, last): (String, String) = with_locale!(self.locale, |l| (
            fake::faker::name::raw::FirstName(l).fake_with_rng(&mut rng),
            fake::faker::name::raw::LastName(l).fake_with_rng(&mut rng),
        ));
        let (first, last) = (ascii_slug(&first), ascii_slug(&last));
        let mut local = match below(&mut rng, 5) {
            0 => format!("{first}.{last}"),
            1 => format!("{first}{last}"),
            2 => format!("{}{last}", first.get(..1).unwrap_or("")),
            3 => format!("{first}_{last}"),
            _ => format!("{first}.{last}{}{}", digit(&mut rng), digit(&mut rng)),
        };
        if local.trim_matches(['.', '_']).is_empty() {
            local = "user".into();
        }
        let suffix = if self.unique {
            format!(".{}", tag(&ctx.hash(value.as_bytes()), TAG_CHARS))
        } else {
            String::new()
        };
        if let Some(max) = self.max_len {
            let room = max
                .checked_sub(suffix.len() + 1 + domain.len())
                .filter(|r| *r >= 1)
                .ok_or_else(|| {
                    TransformError::new(
                        "email",
                        format!("the address's domain is too long for {max} characters"),
                    )
                })?;
            local.truncate(room);
            // A local part must not end with a dot.
            while local.len() > 1 && local.ends_with(['.', '_']) {
                local.pop();
            }
        }
        Ok(Some(format!("{local}{suffix}@{domain}")))
    }

    fn preserves_uniqueness(&self) -> bool {
        self.unique
    }
}

#[cfg(test)]
mod tests {
    use crate::anonymize::testing::*;
    use crate::anonymize::{BuildError, ColumnType};

    const EMAILS: &[&str] = &[
        "alice@corp.example",
        "bob.smith@mail.example.org",
        "x@y.z",
        "zoë@例え.jp",
    ];

    #[test]
    fn writes_addresses_at_example_com() {
        let col = ColumnType::parse("varchar(64)").unwrap();
        let t = build("email", "", &col);
        check_common(t.as_ref(), &col, EMAILS, Keyed::Yes);
        for e in EMAILS {
            let v = out(t.as_ref(), e);
            let (local, domain) = v.split_once('@').unwrap();
            assert_eq!(domain, "example.com");
            assert!(
                !local.is_empty()
                    && local
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c)),
                "{v}"
            );
        }
        assert!(!t.preserves_uniqueness());
    }

    #[test]
    fn non_latin_names_fold_to_ascii() {
        let t = build("email", "locale = \"ja_jp\"", &ColumnType::text());
        for e in EMAILS {
            assert!(out(t.as_ref(), e).is_ascii());
        }
    }

    #[test]
    fn unique_addresses() {
        let t = build(
            "email",
            "unique = true",
            &ColumnType::parse("varchar(60)").unwrap(),
        );
        assert!(t.preserves_uniqueness());
        check_unique(
            t.as_ref(),
            (0..3000).map(|i| format!("user{i}@corp.example")),
        );
    }

    #[test]
    fn fits_the_column_or_refuses() {
        let col = ColumnType::parse("varchar(16)").unwrap();
        let t = build("email", "", &col);
        check_common(t.as_ref(), &col, EMAILS, Keyed::Yes);
        let e = build_err("email", "", &ColumnType::parse("varchar(3)").unwrap());
        assert!(matches!(e, BuildError::DoesNotFit { .. }), "{e}");
        assert!(matches!(
            build_err("email", "email_domain = \"nodot\"", &col),
            BuildError::BadValue { .. }
        ));
    }

    #[test]
    fn keep_domain_needs_an_address() {
        let t = build("email", "keep_domain = true", &ColumnType::text());
        assert!(out(t.as_ref(), "alice@Corp.Example").ends_with("@corp.example"));
        assert_eq!(
            err(t.as_ref(), "not an address").reason,
            "not an email address (no '@')"
        );
        assert!(err(t.as_ref(), "@corp.example")
            .reason
            .contains("nothing before"));
        // Without keep_domain the input's form does not matter.
        let plain = build("email", "", &ColumnType::text());
        assert!(out(plain.as_ref(), "not an address").ends_with("@example.com"));
    }
}
