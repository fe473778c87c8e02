//! `date_shift`: moves dates and timestamps by a keyed number of days within ± `days`, never
//! zero. The time of day, its precision and the offset stay as written. With `seed_column`
//! every date of the same person (say, `patient_id`) moves by the same amount, so the
//! intervals between their events survive.

use super::column::ColumnType;
use super::dates::{date_column, format, is_infinite, parse};
use super::error::{BuildError, TransformError};
use super::gen::between;
use super::params::{ParamInfo, ParamKind, Params};
use super::registry::{TransformerInfo, Uniqueness};
use super::{ColumnRead, Ctx, Transformer};

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "date_shift",
    summary: "dates and timestamps moved by a keyed ±N days (never 0); time and zone kept",
    types: "date, timestamp, timestamptz, text holding ISO dates",
    preserves_uniqueness: Uniqueness::No,
    params: &[
        ParamInfo { name: "days", kind: ParamKind::Integer, default: Some("30"), doc: "largest shift, in days, either way" },
        ParamInfo {
            name: "seed_column",
            kind: ParamKind::String,
            default: None,
            doc: "draw the shift from this column's original value instead, so that one person's dates all move together",
        },
    ],
};

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    date_column(p, column)?;
    let days = p.int("days")?.unwrap_or(30);
    if !(1..=36_500).contains(&days) {
        return Err(p.bad("days", "must be between 1 and 36500"));
    }
    Ok(Box::new(DateShift {
        days,
        seed_column: p.str("seed_column")?.map(str::to_string),
    }))
}

struct DateShift {
    days: i64,
    seed_column: Option<String>,
}

impl Transformer for DateShift {
    fn transform(
        &self,
        value: Option<&str>,
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        let Some(value) = value else { return Ok(None) };
        if is_infinite(value) {
            return Ok(Some(value.to_string()));
        }
        let parsed = parse(value)
            .ok_or_else(|| TransformError::new("date_shift", "not an ISO date (YYYY-MM-DD)"))?;
        let seed = match &self.seed_column {
            Some(c) => match ctx.row().original(c) {
                Some(Some(s)) => s,
                // A NULL seed gives nothing to share: fall back to the value's own.
                Some(None) => value,
                None => {
                    return Err(TransformError::new(
                        "date_shift",
                        format!("the table has no column `{c}` (seed_column)"),
                    ))
                }
            },
            None => value,
        };
        let mut rng = ctx.rng(seed.as_bytes());
        let magnitude = between(&mut rng, 1, self.days);
        let shift = if between(&mut rng, 0, 1) == 0 {
            -magnitude
        } else {
            magnitude
        };
        let date = parsed
            .date
            .checked_add_signed(chrono::Duration::days(shift))
            .ok_or_else(|| {
                TransformError::new("date_shift", "date out of range after the shift")
            })?;
        Ok(Some(format(date, parsed.rest)))
    }

    fn preserves_uniqueness(&self) -> bool {
        false
    }

    fn reads(&self) -> Vec<ColumnRead> {
        self.seed_column
            .iter()
            .map(|c| ColumnRead {
                column: c.clone(),
                original: true,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::anonymize::dates::parse;
    use crate::anonymize::testing::*;
    use crate::anonymize::{ColumnRead, ColumnType, MapRow};

    const STAMPS: &[&str] = &[
        "2024-03-15 13:45:12.123456+01",
        "2024-02-29 00:00:00+00",
        "1999-12-31 23:59:59-05:30",
        "0044-03-15 12:00:00+00 BC",
    ];

    fn days_between(a: &str, b: &str) -> i64 {
        (parse(b).unwrap().date - parse(a).unwrap().date).num_days()
    }

    #[test]
    fn shifts_within_range_keeping_the_time() {
        let col = ColumnType::new("timestamptz");
        let t = build("date_shift", "days = 10", &col);
        check_common(t.as_ref(), &col, STAMPS, Keyed::Yes);
        for s in STAMPS {
            let v = out(t.as_ref(), s);
            let d = days_between(s, &v);
            assert!(d != 0 && d.abs() <= 10, "{s} → {v}");
            assert_eq!(parse(&v).unwrap().rest, parse(s).unwrap().rest);
        }
        assert!(out(t.as_ref(), "0044-03-15 12:00:00+00 BC").ends_with(" BC"));
        assert_eq!(out(t.as_ref(), "infinity"), "infinity");
        let dates = ColumnType::new("date");
        check_common(
            build("date_shift", "", &dates).as_ref(),
            &dates,
            &["2024-03-15", "1970-01-01"],
            Keyed::Yes,
        );
    }

    #[test]
    fn seed_column_moves_a_persons_dates_together() {
        let t = build(
            "date_shift",
            "seed_column = \"patient_id\"",
            &ColumnType::new("date"),
        );
        assert_eq!(
            t.reads(),
            vec![ColumnRead {
                column: "patient_id".into(),
                original: true
            }]
        );
        let row = MapRow::new().with("patient_id", Some("42"));
        let a = run_in_row(t.as_ref(), &key(), Some("2024-01-10"), &row)
            .unwrap()
            .unwrap();
        let b = run_in_row(t.as_ref(), &key(), Some("2024-06-01"), &row)
            .unwrap()
            .unwrap();
        assert_eq!(
            days_between("2024-01-10", &a),
            days_between("2024-06-01", &b)
        );
        let e = run_in_row(t.as_ref(), &key(), Some("2024-01-10"), &MapRow::new()).unwrap_err();
        assert!(e.reason.contains("patient_id"), "{e}");
    }

    #[test]
    fn malformed_input() {
        let t = build("date_shift", "", &ColumnType::text());
        assert!(err(t.as_ref(), "15/03/2024")
            .reason
            .contains("not an ISO date"));
    }
}
