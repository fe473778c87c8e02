//! `username`: a realistic login name made from a fake name ("jdoe42", "anna.smith").

use fake::Fake;

use super::column::ColumnType;
use super::error::{BuildError, TransformError};
use super::gen::{ascii_slug, below, digit, tag, text_only, with_locale, Locale, LOCALE_PARAM};
use super::params::{ParamInfo, ParamKind, Params};
use super::registry::{TransformerInfo, Uniqueness};
use super::{Ctx, Transformer};

/// Characters of the uniqueness tag: 20 × 5 = 100 bits.
const TAG_CHARS: usize = 20;

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "username",
    summary: "a realistic user name from a fake name (lowercase ASCII)",
    types: "text, varchar, citext",
    preserves_uniqueness: Uniqueness::Depends("with unique = true"),
    params: &[
        ParamInfo {
            name: "unique",
            kind: ParamKind::Bool,
            default: Some("false"),
            doc: "add a keyed tag so that distinct names stay distinct (for unique columns)",
        },
        LOCALE_PARAM,
    ],
};

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    text_only(p, column)?;
    let unique = p.bool("unique")?.unwrap_or(false);
    if unique && !column.fits_len(TAG_CHARS + 2) {
        return Err(p.does_not_fit(
            column,
            format!(
                "unique names need {} characters; use `hash` instead",
                TAG_CHARS + 2
            ),
        ));
    }
    Ok(Box::new(Username {
        unique,
        locale: Locale::from_params(p)?,
        column: column.clone(),
    }))
}

struct Username {
    unique: bool,
    locale: Locale,
    column: ColumnType,
}

impl Transformer for Username {
    fn transform(
        &self,
        value: Option<&str>,
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        let Some(value) = value else { return Ok(None) };
        let mut rng = ctx.rng(value.as_bytes());
        let (first, last): (String, String) = with_locale!(self.locale, |l| (
            fake::faker::name::raw::FirstName(l).fake_with_rng(&mut rng),
            fake::faker::name::raw::LastName(l).fake_with_rng(&mut rng),
        ));
        let (first, last) = (ascii_slug(&first), ascii_slug(&last));
        let mut name = match below(&mut rng, 5) {
            0 => format!("{first}.{last}"),
            1 => format!(
                "{}{last}{}{}",
                first.get(..1).unwrap_or(""),
                digit(&mut rng),
                digit(&mut rng)
            ),
            2 => format!("{first}_{last}"),
            3 => format!("{first}{}{}", digit(&mut rng), digit(&mut rng)),
            _ => format!("{first}{last}"),
        };
        if name.trim_matches(['.', '_']).is_empty() {
            name = "user".into();
        }
        if self.unique {
            let t = tag(&ctx.hash(value.as_bytes()), TAG_CHARS);
            let room = self
                .column
                .max_len
                .map_or(usize::MAX, |m| m - TAG_CHARS - 1);
            name.truncate(room);
            return Ok(Some(format!("{name}_{t}")));
        }
        Ok(Some(self.column.truncate(name)))
    }

    fn preserves_uniqueness(&self) -> bool {
        self.unique
    }
}

#[cfg(test)]
mod tests {
    use crate::anonymize::testing::*;
    use crate::anonymize::{BuildError, ColumnType};

    #[test]
    fn writes_user_names() {
        let col = ColumnType::parse("varchar(30)").unwrap();
        let t = build("username", "", &col);
        check_common(t.as_ref(), &col, SAMPLES, Keyed::Yes);
        let v = out(t.as_ref(), "ada");
        assert!(
            v.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._".contains(c)),
            "{v}"
        );
        assert!(!t.preserves_uniqueness());
    }

    #[test]
    fn unique_names() {
        let col = ColumnType::parse("varchar(24)").unwrap();
        let t = build("username", "unique = true", &col);
        assert!(t.preserves_uniqueness());
        check_common(t.as_ref(), &col, SAMPLES, Keyed::Yes);
        check_unique(t.as_ref(), (0..3000).map(|i| format!("login{i}")));
        let e = build_err(
            "username",
            "unique = true",
            &ColumnType::parse("varchar(10)").unwrap(),
        );
        assert!(matches!(e, BuildError::DoesNotFit { .. }), "{e}");
    }
}
