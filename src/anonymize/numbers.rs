//! Writing numbers back into numeric columns: integers rounded and kept in the type's range,
//! `numeric(p, s)` rounded to its scale and kept within its precision, floats in their
//! shortest exact form, and text with the decimals the input had.
//!
//! Arithmetic is in `f64`: values beyond about 15 significant digits lose precision, which
//! noise and random ranges can afford.

use super::column::{ColumnType, TypeKind};
use super::error::BuildError;
use super::params::Params;

/// How a number must be written for the column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum NumberColumn {
    /// An integer type with its range.
    Integer { min: i64, max: i64 },
    /// `numeric`, with its scale and largest magnitude when it has a typmod.
    Numeric {
        scale: Option<u32>,
        max_abs: Option<f64>,
    },
    /// `float4` (`single`) or `float8`.
    Float { single: bool },
    /// Text holding numbers.
    Text,
}

impl NumberColumn {
    /// Reads the column, refusing types that do not hold numbers.
    pub(crate) fn of(p: &Params<'_>, column: &ColumnType) -> Result<NumberColumn, BuildError> {
        Ok(match column.kind() {
            TypeKind::Integer { min, max } => NumberColumn::Integer { min, max },
            TypeKind::Numeric => match column.numeric {
                Some((precision, scale)) => NumberColumn::Numeric {
                    scale: Some(scale),
                    max_abs: Some(
                        10f64.powi(precision as i32 - scale as i32) - 10f64.powi(-(scale as i32)),
                    ),
                },
                None => NumberColumn::Numeric {
                    scale: None,
                    max_abs: None,
                },
            },
            TypeKind::Float => NumberColumn::Float {
                single: column.name == "float4",
            },
            TypeKind::Text => NumberColumn::Text,
            _ => {
                return Err(p.does_not_fit(
                    column,
                    "it works on numbers; use it on integer, numeric, float or text columns",
                ))
            }
        })
    }

    /// Whether `v` can be written without clamping.
    pub(crate) fn holds(&self, v: f64) -> bool {
        match *self {
            NumberColumn::Integer { min, max } => {
                v.round() >= min as f64 && v.round() <= max as f64
            }
            NumberColumn::Numeric {
                max_abs: Some(m), ..
            } => v.abs() <= m,
            _ => v.is_finite(),
        }
    }

    /// Writes `v` for the column; `decimals` is used where the column does not fix them
    /// (text, unconstrained numeric).
    pub(crate) fn write(&self, v: f64, decimals: usize) -> String {
        let clean = |s: String| {
            if s.trim_start_matches('-')
                .bytes()
                .all(|b| b == b'0' || b == b'.')
            {
                s.trim_start_matches('-').to_string()
            } else {
                s
            }
        };
        match *self {
            NumberColumn::Integer { min, max } => {
                let r = v.round().clamp(min as f64, max as f64);
                // f64 cannot hold every i64: re-clamp after the conversion.
                (r as i64).clamp(min, max).to_string()
            }
            NumberColumn::Numeric { scale, max_abs } => {
                let d = scale.map_or(decimals, |s| s as usize);
                let factor = 10f64.powi(d as i32);
                let mut r = (v * factor).round() / factor;
                if let Some(m) = max_abs {
                    r = r.clamp(-m, m);
                }
                clean(format!("{r:.d$}"))
            }
            NumberColumn::Float { single: true } => format!("{}", v as f32),
            NumberColumn::Float { single: false } => format!("{v}"),
            NumberColumn::Text => clean(format!("{v:.decimals$}")),
        }
    }
}

/// The number of decimals written in a numeric literal (`12.50` → 2).
pub(crate) fn decimals_of(s: &str) -> usize {
    match s.split_once('.') {
        Some((_, frac)) => frac.bytes().take_while(u8::is_ascii_digit).count(),
        None => 0,
    }
}

/// Whether `s` is one of the special float or numeric values that have no magnitude to change.
pub(crate) fn is_special(s: &str) -> bool {
    matches!(s, "NaN" | "Infinity" | "-Infinity")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_within_the_type() {
        let t = toml::Table::new();
        let p = Params::new("test", &t);
        let n = NumberColumn::of(&p, &ColumnType::new("numeric").with_numeric(5, 2)).unwrap();
        assert_eq!(n.write(1234.567, 0), "999.99");
        assert_eq!(n.write(-12.345, 0), "-12.35");
        assert_eq!(n.write(-0.001, 0), "0.00");
        let i = NumberColumn::of(&p, &ColumnType::new("int2")).unwrap();
        assert_eq!(i.write(40000.0, 0), "32767");
        assert_eq!(i.write(2.5, 0), "3");
        let f = NumberColumn::of(&p, &ColumnType::new("float4")).unwrap();
        assert_eq!(f.write(0.1, 0), "0.1");
        assert_eq!(NumberColumn::Text.write(1.23456, 2), "1.23");
        assert!(NumberColumn::of(&p, &ColumnType::new("date")).is_err());
        assert_eq!(decimals_of("12.50"), 2);
        assert_eq!(decimals_of("-7"), 0);
    }
}
