//! `keep`: writes the value unchanged. For columns a strict rules file must cover but that
//! hold nothing personal.

use super::column::ColumnType;
use super::error::{BuildError, TransformError};
use super::params::Params;
use super::registry::{TransformerInfo, Uniqueness};
use super::{Ctx, Transformer};

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "keep",
    summary: "the value unchanged (the column holds nothing personal)",
    types: "any",
    preserves_uniqueness: Uniqueness::Yes,
    params: &[],
};

pub(crate) fn build(_: &Params<'_>, _: &ColumnType) -> Result<Box<dyn Transformer>, BuildError> {
    Ok(Box::new(Keep))
}

struct Keep;

impl Transformer for Keep {
    fn transform(
        &self,
        value: Option<&str>,
        _: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        Ok(value.map(str::to_string))
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
    fn keeps_values() {
        let col = ColumnType::text();
        let t = build("keep", "", &col);
        check_common(t.as_ref(), &col, SAMPLES, Keyed::No);
        assert_eq!(out(t.as_ref(), "Zoë"), "Zoë");
        assert!(t.preserves_uniqueness());
        check_unique(t.as_ref(), (0..100).map(|i| i.to_string()));
    }
}
