//! `numeric_range`: a keyed random number between `min` and `max`, whatever the value was, for
//! amounts or scores that must look plausible but carry nothing of the original.

use super::column::ColumnType;
use super::error::{BuildError, TransformError};
use super::gen::unit;
use super::numbers::NumberColumn;
use super::params::{ParamInfo, ParamKind, Params};
use super::registry::{TransformerInfo, Uniqueness};
use super::{Ctx, Transformer};

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "numeric_range",
    summary: "a keyed random number between min and max",
    types: "int2, int4, int8, numeric, float4, float8, text",
    preserves_uniqueness: Uniqueness::No,
    params: &[
        ParamInfo { name: "min", kind: ParamKind::Number, default: None, doc: "smallest value (required)" },
        ParamInfo { name: "max", kind: ParamKind::Number, default: None, doc: "largest value (required)" },
        ParamInfo {
            name: "decimals",
            kind: ParamKind::Integer,
            default: None,
            doc: "decimals written; default the column's scale, 0 for integers and unconstrained columns",
        },
    ],
};

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    let out = NumberColumn::of(p, column)?;
    let min = p
        .number("min")?
        .ok_or_else(|| p.missing("min", "the smallest value, e.g. min = 0"))?;
    let max = p
        .number("max")?
        .ok_or_else(|| p.missing("max", "the largest value, e.g. max = 100"))?;
    if min > max {
        return Err(p.bad("min", format!("min {min} is above max {max}")));
    }
    for (name, v) in [("min", min), ("max", max)] {
        if !out.holds(v) {
            return Err(p.does_not_fit(
                column,
                format!("{name} = {v} is beyond what the type holds"),
            ));
        }
    }
    let decimals = p.count("decimals")?.unwrap_or(match out {
        NumberColumn::Numeric { scale: Some(s), .. } => s as usize,
        NumberColumn::Float { .. } => 2,
        _ => 0,
    });
    if decimals > 15 {
        return Err(p.bad("decimals", "at most 15"));
    }
    Ok(Box::new(NumericRange {
        min,
        max,
        decimals,
        out,
    }))
}

struct NumericRange {
    min: f64,
    max: f64,
    decimals: usize,
    out: NumberColumn,
}

impl Transformer for NumericRange {
    fn transform(
        &self,
        value: Option<&str>,
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        let Some(value) = value else { return Ok(None) };
        let factor = 10f64.powi(self.decimals as i32);
        let v = self.min + unit(&mut ctx.rng(value.as_bytes())) * (self.max - self.min);
        // Rounding may step just past an end: stay inside.
        let v = ((v * factor).round() / factor).clamp(self.min, self.max);
        Ok(Some(self.out.write(v, self.decimals)))
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
    fn draws_within_the_range() {
        let col = ColumnType::new("numeric").with_numeric(6, 2);
        let t = build("numeric_range", "min = 10\nmax = 99.5", &col);
        check_common(t.as_ref(), &col, SAMPLES, Keyed::Yes);
        for s in SAMPLES {
            let v: f64 = out(t.as_ref(), s).parse().unwrap();
            assert!((10.0..=99.5).contains(&v), "{v}");
        }
        let int4 = ColumnType::new("int4");
        let t = build("numeric_range", "min = 18\nmax = 90", &int4);
        check_common(t.as_ref(), &int4, SAMPLES, Keyed::Yes);
        assert!(!out(t.as_ref(), "x").contains('.'));
        assert!(!t.preserves_uniqueness());
    }

    #[test]
    fn refuses_ranges_beyond_the_type() {
        let e = build_err(
            "numeric_range",
            "min = 0\nmax = 100000",
            &ColumnType::new("int2"),
        );
        assert!(matches!(e, BuildError::DoesNotFit { .. }), "{e}");
        let e = build_err(
            "numeric_range",
            "min = 0\nmax = 1000",
            &ColumnType::new("numeric").with_numeric(4, 2),
        );
        assert!(matches!(e, BuildError::DoesNotFit { .. }), "{e}");
        assert!(matches!(
            build_err("numeric_range", "min = 5\nmax = 1", &ColumnType::text()),
            BuildError::BadValue { .. }
        ));
        assert!(matches!(
            build_err("numeric_range", "min = 5", &ColumnType::text()),
            BuildError::MissingParam { .. }
        ));
    }
}
