//! `null`: writes NULL. NULLs never collide under a unique constraint, so it preserves
//! uniqueness; it is refused on NOT NULL columns.

use super::column::ColumnType;
use super::error::{BuildError, TransformError};
use super::params::Params;
use super::registry::{TransformerInfo, Uniqueness};
use super::{Ctx, Transformer};

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "null",
    summary: "NULL, whatever the value (not on NOT NULL columns)",
    types: "any nullable column",
    preserves_uniqueness: Uniqueness::Yes,
    params: &[],
};

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    if column.not_null {
        return Err(p.does_not_fit(
            column,
            "the column is NOT NULL; use `constant` or a fake value instead",
        ));
    }
    Ok(Box::new(Null))
}

struct Null;

impl Transformer for Null {
    fn transform(
        &self,
        _: Option<&str>,
        _: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        Ok(None)
    }

    // PostgreSQL's unique constraints treat NULLs as distinct.
    fn preserves_uniqueness(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use crate::anonymize::testing::*;
    use crate::anonymize::{BuildError, ColumnType};

    #[test]
    fn writes_null() {
        let col = ColumnType::text();
        let t = build("null", "", &col);
        check_common(t.as_ref(), &col, SAMPLES, Keyed::No);
        assert_eq!(run_with(t.as_ref(), &key(), Some("x")).unwrap(), None);
    }

    #[test]
    fn refuses_not_null_columns() {
        let e = build_err("null", "", &ColumnType::text().not_null());
        assert!(matches!(e, BuildError::DoesNotFit { .. }), "{e}");
    }
}
