//! `date_of_birth`: a plausible birth date between two fixed dates (1940–2006 by default, an
//! adult population). The bounds are dates, not ages, so that the output does not change with
//! the day the snapshot runs.

use chrono::NaiveDate;

use super::column::{ColumnType, TypeKind};
use super::dates::{date_column, format};
use super::error::{BuildError, TransformError};
use super::gen::between;
use super::params::{ParamInfo, ParamKind, Params};
use super::registry::{TransformerInfo, Uniqueness};
use super::{Ctx, Transformer};

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "date_of_birth",
    summary: "a birth date between two dates (default 1940-01-01 to 2006-12-31)",
    types: "date, timestamp, timestamptz, text",
    preserves_uniqueness: Uniqueness::No,
    params: &[
        ParamInfo {
            name: "from",
            kind: ParamKind::String,
            default: Some("1940-01-01"),
            doc: "earliest date (a TOML date or \"YYYY-MM-DD\")",
        },
        ParamInfo {
            name: "to",
            kind: ParamKind::String,
            default: Some("2006-12-31"),
            doc: "latest date",
        },
    ],
};

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    date_column(p, column)?;
    let from = p
        .date("from")?
        .unwrap_or(NaiveDate::from_ymd_opt(1940, 1, 1).expect("valid"));
    let to = p
        .date("to")?
        .unwrap_or(NaiveDate::from_ymd_opt(2006, 12, 31).expect("valid"));
    if from > to {
        return Err(p.bad("from", format!("{from} is after `to` ({to})")));
    }
    let time = match column.kind() {
        TypeKind::Timestamp => " 00:00:00",
        TypeKind::TimestampTz => " 00:00:00+00",
        _ => "",
    };
    Ok(Box::new(DateOfBirth {
        from,
        days: (to - from).num_days(),
        time,
    }))
}

struct DateOfBirth {
    from: NaiveDate,
    days: i64,
    /// What follows the date for timestamp columns: midnight (UTC for timestamptz).
    time: &'static str,
}

impl Transformer for DateOfBirth {
    fn transform(
        &self,
        value: Option<&str>,
        ctx: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        let Some(value) = value else { return Ok(None) };
        let offset = between(&mut ctx.rng(value.as_bytes()), 0, self.days);
        let date = self.from + chrono::Duration::days(offset);
        Ok(Some(format(date, self.time)))
    }

    fn preserves_uniqueness(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use crate::anonymize::testing::*;
    use crate::anonymize::{BuildError, ColumnType};

    const DATES: &[&str] = &[
        "1985-04-12",
        "1999-12-31",
        "2001-01-01",
        "1950-06-30",
        "1970-01-01",
    ];

    #[test]
    fn writes_dates_in_range() {
        let col = ColumnType::new("date");
        let t = build("date_of_birth", "", &col);
        check_common(t.as_ref(), &col, DATES, Keyed::Yes);
        for d in DATES {
            let v = out(t.as_ref(), d);
            assert!(
                v.as_str() >= "1940-01-01" && v.as_str() <= "2006-12-31",
                "{v}"
            );
        }
        let ts = ColumnType::new("timestamptz");
        let t = build(
            "date_of_birth",
            "from = 2000-01-01\nto = \"2000-01-31\"",
            &ts,
        );
        check_common(t.as_ref(), &ts, DATES, Keyed::Yes);
        assert!(out(t.as_ref(), "x").starts_with("2000-01-"));
        assert!(!t.preserves_uniqueness());
    }

    #[test]
    fn bad_bounds_and_types() {
        let col = ColumnType::new("date");
        assert!(matches!(
            build_err("date_of_birth", "from = 2000-01-01\nto = 1999-01-01", &col),
            BuildError::BadValue { .. }
        ));
        assert!(matches!(
            build_err("date_of_birth", "from = \"01/01/2000\"", &col),
            BuildError::BadValue { .. }
        ));
        assert!(matches!(
            build_err("date_of_birth", "", &ColumnType::new("int4")),
            BuildError::DoesNotFit { .. }
        ));
    }
}
