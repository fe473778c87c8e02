//! `words`: a few lorem-ipsum words, for short free-text fields (titles, tags).

use super::column::ColumnType;
use super::error::{BuildError, TransformError};
use super::gen::{cut_at_word, lorem_words, text_only};
use super::params::{ParamInfo, ParamKind, Params};
use super::registry::{TransformerInfo, Uniqueness};
use super::{Ctx, Transformer};

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "words",
    summary: "a few lorem-ipsum words",
    types: "text, varchar, char (cut at a word)",
    preserves_uniqueness: Uniqueness::No,
    params: &[ParamInfo {
        name: "count",
        kind: ParamKind::Integer,
        default: Some("3"),
        doc: "how many words",
    }],
};

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    text_only(p, column)?;
    let count = p.count("count")?.unwrap_or(3);
    if !(1..=1000).contains(&count) {
        return Err(p.bad("count", "must be between 1 and 1000"));
    }
    Ok(Box::new(Words {
        count,
        column: column.clone(),
    }))
}

struct Words {
    count: usize,
    column: ColumnType,
}

impl Transformer for Words {
    fn transform(
        &self,
        value: Option<&str>,
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        let Some(value) = value else { return Ok(None) };
        let s = lorem_words(&mut ctx.rng(value.as_bytes()), self.count);
        Ok(Some(
            self.column.truncate(cut_at_word(s, self.column.max_len)),
        ))
    }

    fn preserves_uniqueness(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use crate::anonymize::testing::*;
    use crate::anonymize::{BuildError, ColumnType};

    #[test]
    fn writes_words() {
        let col = ColumnType::parse("varchar(30)").unwrap();
        let t = build("words", "count = 4", &col);
        check_common(t.as_ref(), &col, SAMPLES, Keyed::Yes);
        let long = build("words", "count = 4", &ColumnType::text());
        assert_eq!(out(long.as_ref(), "title").split(' ').count(), 4);
        let short = ColumnType::parse("varchar(8)").unwrap();
        check_common(
            build("words", "count = 20", &short).as_ref(),
            &short,
            SAMPLES,
            Keyed::Yes,
        );
        assert!(matches!(
            build_err("words", "count = 0", &col),
            BuildError::BadValue { .. }
        ));
    }
}
