//! `weighted_choice`: one of a list of values, drawn with weights by the keyed generator: for
//! statuses, categories and enum columns, keeping a realistic mix.

use super::column::ColumnType;
use super::error::{BuildError, TransformError};
use super::gen::unit;
use super::params::{ParamInfo, ParamKind, Params};
use super::registry::{TransformerInfo, Uniqueness};
use super::{Ctx, Transformer};

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "weighted_choice",
    summary: "one of the given values, drawn with weights (enum labels are checked)",
    types: "any (each choice must be valid for the column)",
    preserves_uniqueness: Uniqueness::No,
    params: &[
        ParamInfo {
            name: "choices",
            kind: ParamKind::Strings,
            default: None,
            doc: "the values; or a table of value = weight (required)",
        },
        ParamInfo {
            name: "weights",
            kind: ParamKind::Numbers,
            default: None,
            doc: "one weight per choice, when choices is a list (default: all equal)",
        },
    ],
};

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    let pairs: Vec<(String, f64)> = match p.raw("choices") {
        None => {
            return Err(p.missing(
                "choices",
                "the values to choose from, e.g. choices = [\"gold\", \"silver\"]",
            ))
        }
        Some(toml::Value::Table(t)) => {
            if p.raw("weights").is_some() {
                return Err(p.bad("weights", "the choices table already gives the weights"));
            }
            t.iter()
                .map(|(k, v)| match v {
                    toml::Value::Integer(i) => Ok((k.clone(), *i as f64)),
                    toml::Value::Float(f) => Ok((k.clone(), *f)),
                    _ => Err(p.bad("choices", format!("the weight of `{k}` must be a number"))),
                })
                .collect::<Result<_, _>>()?
        }
        Some(_) => {
            let choices = p.strings("choices")?.unwrap_or_default();
            let weights: Vec<f64> = match p.raw("weights") {
                None => vec![1.0; choices.len()],
                Some(toml::Value::Array(ws)) => ws
                    .iter()
                    .map(|w| match w {
                        toml::Value::Integer(i) => Ok(*i as f64),
                        toml::Value::Float(f) => Ok(*f),
                        _ => Err(p.bad("weights", "must be numbers")),
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err(p.bad("weights", "must be an array of numbers")),
            };
            if weights.len() != choices.len() {
                return Err(p.bad(
                    "weights",
                    format!("{} weights for {} choices", weights.len(), choices.len()),
                ));
            }
            choices.into_iter().zip(weights).collect()
        }
    };
    if pairs.is_empty() {
        return Err(p.bad("choices", "must not be empty"));
    }
    if pairs.iter().any(|(_, w)| !(w.is_finite() && *w >= 0.0))
        || pairs.iter().all(|(_, w)| *w == 0.0)
    {
        return Err(p.bad("weights", "must be non-negative, and not all zero"));
    }
    for (c, _) in &pairs {
        column
            .check(c)
            .map_err(|why| p.does_not_fit(column, format!("choice `{c}` is {why}")))?;
    }
    let total: f64 = pairs.iter().map(|(_, w)| w).sum();
    let mut acc = 0.0;
    let cumulative = pairs
        .into_iter()
        .map(|(c, w)| {
            acc += w / total;
            (c, acc)
        })
        .collect();
    Ok(Box::new(WeightedChoice { cumulative }))
}

struct WeightedChoice {
    /// Each choice with the cumulative share up to and including it.
    cumulative: Vec<(String, f64)>,
}

impl Transformer for WeightedChoice {
    fn transform(
        &self,
        value: Option<&str>,
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        let Some(value) = value else { return Ok(None) };
        let u = unit(&mut ctx.rng(value.as_bytes()));
        let chosen = self
            .cumulative
            .iter()
            .find(|(_, upto)| u < *upto)
            .or(self.cumulative.last())
            .expect("not empty");
        Ok(Some(chosen.0.clone()))
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
    fn draws_with_weights() {
        let col = ColumnType::enumeration("tier", &["gold", "silver", "bronze"]);
        let t = build(
            "weighted_choice",
            "choices = [\"gold\", \"silver\", \"bronze\"]\nweights = [1, 3, 6]",
            &col,
        );
        let inputs: Vec<String> = (0..3000).map(|i| i.to_string()).collect();
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        check_common(t.as_ref(), &col, &refs[..20], Keyed::Yes);
        let gold = refs.iter().filter(|i| out(t.as_ref(), i) == "gold").count();
        let bronze = refs
            .iter()
            .filter(|i| out(t.as_ref(), i) == "bronze")
            .count();
        assert!((200..400).contains(&gold), "{gold}");
        assert!((1650..1950).contains(&bronze), "{bronze}");
        assert!(!t.preserves_uniqueness());
    }

    #[test]
    fn table_form() {
        let t = build(
            "weighted_choice",
            "choices = { active = 9, closed = 1 }",
            &ColumnType::text(),
        );
        assert!(["active", "closed"].contains(&out(t.as_ref(), "x").as_str()));
    }

    #[test]
    fn choices_must_fit() {
        let col = ColumnType::enumeration("tier", &["gold", "silver"]);
        let e = build_err(
            "weighted_choice",
            "choices = [\"gold\", \"platinum\"]",
            &col,
        );
        assert!(matches!(e, BuildError::DoesNotFit { .. }), "{e}");
        assert!(e.to_string().contains("platinum"), "{e}");
        let text = ColumnType::text();
        assert!(matches!(
            build_err(
                "weighted_choice",
                "choices = [\"a\"]\nweights = [1, 2]",
                &text
            ),
            BuildError::BadValue { .. }
        ));
        assert!(matches!(
            build_err("weighted_choice", "choices = []", &text),
            BuildError::BadValue { .. }
        ));
        assert!(matches!(
            build_err("weighted_choice", "choices = [\"a\"]\nweights = [0]", &text),
            BuildError::BadValue { .. }
        ));
    }
}
