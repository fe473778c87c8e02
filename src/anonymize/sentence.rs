//! `sentence`: a lorem-ipsum sentence, for one-line free text (subjects, comments).

use super::column::ColumnType;
use super::error::{BuildError, TransformError};
use super::gen::{cut_at_word, lorem_sentence, text_only};
use super::params::{ParamInfo, ParamKind, Params};
use super::registry::{TransformerInfo, Uniqueness};
use super::{Ctx, Transformer};

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "sentence",
    summary: "a lorem-ipsum sentence",
    types: "text, varchar (cut at a word)",
    preserves_uniqueness: Uniqueness::No,
    params: &[
        ParamInfo {
            name: "min_words",
            kind: ParamKind::Integer,
            default: Some("4"),
            doc: "fewest words",
        },
        ParamInfo {
            name: "max_words",
            kind: ParamKind::Integer,
            default: Some("12"),
            doc: "most words",
        },
    ],
};

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    text_only(p, column)?;
    let min = p.count("min_words")?.unwrap_or(4);
    let max = p.count("max_words")?.unwrap_or(12.max(min));
    if min == 0 || min > max || max > 1000 {
        return Err(p.bad("min_words", "need 1 ≤ min_words ≤ max_words ≤ 1000"));
    }
    Ok(Box::new(Sentence {
        min,
        max,
        column: column.clone(),
    }))
}

struct Sentence {
    min: usize,
    max: usize,
    column: ColumnType,
}

impl Transformer for Sentence {
    fn transform(
        &self,
        value: Option<&str>,
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        let Some(value) = value else { return Ok(None) };
        let s = lorem_sentence(&mut ctx.rng(value.as_bytes()), self.min, self.max);
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
    fn writes_sentences() {
        let col = ColumnType::text();
        let t = build("sentence", "", &col);
        check_common(t.as_ref(), &col, SAMPLES, Keyed::Yes);
        let v = out(t.as_ref(), "hello");
        assert!(
            v.ends_with('.') && v.starts_with(|c: char| c.is_ascii_uppercase()),
            "{v}"
        );
        let n = v.split(' ').count();
        assert!((4..=12).contains(&n), "{v}");
        let short = ColumnType::parse("varchar(15)").unwrap();
        check_common(
            build("sentence", "", &short).as_ref(),
            &short,
            SAMPLES,
            Keyed::Yes,
        );
        assert!(matches!(
            build_err("sentence", "min_words = 5\nmax_words = 2", &col),
            BuildError::BadValue { .. }
        ));
    }
}
