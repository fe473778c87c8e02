//! `paragraph`: a lorem-ipsum paragraph, for long free text (notes, descriptions, messages).

use super::column::ColumnType;
use super::error::{BuildError, TransformError};
use super::gen::{between, cut_at_word, lorem_sentence, text_only};
use super::params::{ParamInfo, ParamKind, Params};
use super::registry::{TransformerInfo, Uniqueness};
use super::{Ctx, Transformer};

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "paragraph",
    summary: "a lorem-ipsum paragraph",
    types: "text, varchar (cut at a word)",
    preserves_uniqueness: Uniqueness::No,
    params: &[
        ParamInfo {
            name: "min_sentences",
            kind: ParamKind::Integer,
            default: Some("3"),
            doc: "fewest sentences",
        },
        ParamInfo {
            name: "max_sentences",
            kind: ParamKind::Integer,
            default: Some("6"),
            doc: "most sentences",
        },
    ],
};

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    text_only(p, column)?;
    let min = p.count("min_sentences")?.unwrap_or(3);
    let max = p.count("max_sentences")?.unwrap_or(6.max(min));
    if min == 0 || min > max || max > 1000 {
        return Err(p.bad(
            "min_sentences",
            "need 1 ≤ min_sentences ≤ max_sentences ≤ 1000",
        ));
    }
    Ok(Box::new(Paragraph {
        min,
        max,
        column: column.clone(),
    }))
}

struct Paragraph {
    min: usize,
    max: usize,
    column: ColumnType,
}

impl Transformer for Paragraph {
    fn transform(
        &self,
        value: Option<&str>,
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        let Some(value) = value else { return Ok(None) };
        let mut rng = ctx.rng(value.as_bytes());
        let n = between(&mut rng, self.min as i64, self.max as i64) as usize;
        let sentences: Vec<String> = (0..n).map(|_| lorem_sentence(&mut rng, 4, 12)).collect();
        Ok(Some(self.column.truncate(cut_at_word(
            sentences.join(" "),
            self.column.max_len,
        ))))
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
    fn writes_paragraphs() {
        let col = ColumnType::text();
        let t = build("paragraph", "", &col);
        check_common(t.as_ref(), &col, SAMPLES, Keyed::Yes);
        let v = out(t.as_ref(), "note");
        assert!((3..=6).contains(&v.matches('.').count()), "{v}");
        let short = ColumnType::parse("varchar(100)").unwrap();
        check_common(
            build("paragraph", "", &short).as_ref(),
            &short,
            SAMPLES,
            Keyed::Yes,
        );
        assert!(matches!(
            build_err("paragraph", "min_sentences = 0", &col),
            BuildError::BadValue { .. }
        ));
    }
}
