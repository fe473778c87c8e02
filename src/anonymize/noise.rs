//! `noise`: multiplies numbers by a keyed factor within ± `percent`, so that totals and
//! distributions stay roughly right while no single value is exact. The result is rounded and
//! kept within the column's type; zero stays zero.

use super::column::ColumnType;
use super::error::{BuildError, TransformError};
use super::gen::unit;
use super::numbers::{decimals_of, is_special, NumberColumn};
use super::params::{ParamInfo, ParamKind, Params};
use super::registry::{TransformerInfo, Uniqueness};
use super::{Ctx, Transformer};

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "noise",
    summary: "numbers moved by a keyed random ± percent, rounded to fit the type",
    types: "int2, int4, int8, numeric, float4, float8, text holding numbers",
    preserves_uniqueness: Uniqueness::No,
    params: &[ParamInfo {
        name: "percent",
        kind: ParamKind::Number,
        default: Some("10"),
        doc: "largest change, as a percentage of the value (0 < percent ≤ 100)",
    }],
};

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    let out = NumberColumn::of(p, column)?;
    let percent = p.number("percent")?.unwrap_or(10.0);
    if !(percent > 0.0 && percent <= 100.0) {
        return Err(p.bad("percent", "must be above 0 and at most 100"));
    }
    Ok(Box::new(Noise {
        fraction: percent / 100.0,
        out,
    }))
}

struct Noise {
    fraction: f64,
    out: NumberColumn,
}

impl Transformer for Noise {
    fn transform(
        &self,
        value: Option<&str>,
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        let Some(value) = value else { return Ok(None) };
        if is_special(value) {
            return Ok(Some(value.to_string()));
        }
        let v: f64 = value
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .ok_or_else(|| TransformError::new("noise", "not a number"))?;
        let u = unit(&mut ctx.rng(value.as_bytes())) * 2.0 - 1.0;
        Ok(Some(
            self.out
                .write(v * (1.0 + self.fraction * u), decimals_of(value)),
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

    const AMOUNTS: &[&str] = &["100.00", "12345.67", "-50.25", "0.99", "999.99"];

    #[test]
    fn moves_values_within_percent() {
        let col = ColumnType::new("numeric").with_numeric(7, 2);
        let t = build("noise", "percent = 5", &col);
        check_common(t.as_ref(), &col, AMOUNTS, Keyed::Yes);
        for a in AMOUNTS {
            let (x, y): (f64, f64) = (a.parse().unwrap(), out(t.as_ref(), a).parse().unwrap());
            assert!((y - x).abs() <= x.abs() * 0.05 + 0.005, "{a} → {y}");
        }
        assert_eq!(out(t.as_ref(), "0.00"), "0.00");
        assert!(!t.preserves_uniqueness());
    }

    #[test]
    fn fits_integer_and_precision_limits() {
        let int2 = ColumnType::new("int2");
        let t = build("noise", "percent = 50", &int2);
        check_common(
            t.as_ref(),
            &int2,
            &["32767", "-32768", "7", "1000"],
            Keyed::Yes,
        );
        let tight = ColumnType::new("numeric").with_numeric(3, 1);
        let t = build("noise", "percent = 50", &tight);
        check_common(t.as_ref(), &tight, &["99.9", "-99.9", "12.3"], Keyed::Yes);
        let text = ColumnType::text();
        let t = build("noise", "", &text);
        assert_eq!(decimals(&out(t.as_ref(), "12.345")), 3);
        let f = ColumnType::new("float8");
        check_common(
            build("noise", "", &f).as_ref(),
            &f,
            &["1.5e10", "0.001", "NaN", "-Infinity"],
            Keyed::Yes,
        );
    }

    fn decimals(s: &str) -> usize {
        s.split_once('.').map_or(0, |(_, f)| f.len())
    }

    #[test]
    fn malformed_input_and_params() {
        let t = build("noise", "", &ColumnType::text());
        assert_eq!(err(t.as_ref(), "twelve").reason, "not a number");
        assert!(matches!(
            build_err("noise", "percent = 0", &ColumnType::text()),
            BuildError::BadValue { .. }
        ));
        assert!(matches!(
            build_err("noise", "", &ColumnType::new("date")),
            BuildError::DoesNotFit { .. }
        ));
    }
}
