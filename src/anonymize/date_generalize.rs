//! `date_generalize`: coarsens dates and timestamps to the first day of their month or year
//! (at midnight, in the same zone), keeping what analyses by month or year need and dropping
//! the exact day.

use chrono::{Datelike, NaiveDate};

use super::column::ColumnType;
use super::dates::{date_column, format, is_infinite, offset, parse};
use super::error::{BuildError, TransformError};
use super::params::{ParamInfo, ParamKind, Params};
use super::registry::{TransformerInfo, Uniqueness};
use super::{Ctx, Transformer};

pub(crate) const INFO: TransformerInfo = TransformerInfo {
    name: "date_generalize",
    summary: "dates and timestamps truncated to the first of their month or year",
    types: "date, timestamp, timestamptz, text holding ISO dates",
    preserves_uniqueness: Uniqueness::No,
    params: &[ParamInfo {
        name: "to",
        kind: ParamKind::Choice(&["month", "year"]),
        default: Some("\"month\""),
        doc: "what to keep of the date",
    }],
};

pub(crate) fn build(
    p: &Params<'_>,
    column: &ColumnType,
) -> Result<Box<dyn Transformer>, BuildError> {
    date_column(p, column)?;
    Ok(Box::new(DateGeneralize {
        year: p.choice("to", &["month", "year"], "month")? == "year",
    }))
}

struct DateGeneralize {
    year: bool,
}

impl Transformer for DateGeneralize {
    fn transform(
        &self,
        value: Option<&str>,
        _: &mut Ctx<'_>,
    ) -> Result<Option<String>, TransformError> {
        let Some(value) = value else { return Ok(None) };
        if is_infinite(value) {
            return Ok(Some(value.to_string()));
        }
        let p = parse(value).ok_or_else(|| {
            TransformError::new("date_generalize", "not an ISO date (YYYY-MM-DD)")
        })?;
        let month = if self.year { 1 } else { p.date.month() };
        let date =
            NaiveDate::from_ymd_opt(p.date.year(), month, 1).expect("first of a month exists");
        let rest = match p.rest.chars().next() {
            Some(sep) => format!("{sep}00:00:00{}", offset(p.rest)),
            None => String::new(),
        };
        Ok(Some(format(date, &rest)))
    }

    fn preserves_uniqueness(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use crate::anonymize::testing::*;
    use crate::anonymize::ColumnType;

    #[test]
    fn truncates_to_month_or_year() {
        let col = ColumnType::new("timestamptz");
        let t = build("date_generalize", "", &col);
        let stamps = [
            "2024-03-15 13:45:12.5+01",
            "1999-12-31 23:59:59-05:30",
            "2024-03-15T10:00:00Z",
        ];
        check_common(t.as_ref(), &col, &stamps, Keyed::No);
        assert_eq!(
            out(t.as_ref(), "2024-03-15 13:45:12.5+01"),
            "2024-03-01 00:00:00+01"
        );
        assert_eq!(
            out(t.as_ref(), "1999-12-31 23:59:59-05:30"),
            "1999-12-01 00:00:00-05:30"
        );
        assert_eq!(
            out(t.as_ref(), "2024-03-15T10:00:00Z"),
            "2024-03-01T00:00:00Z"
        );
        let y = build("date_generalize", "to = \"year\"", &ColumnType::new("date"));
        assert_eq!(out(y.as_ref(), "2024-03-15"), "2024-01-01");
        assert_eq!(out(y.as_ref(), "0044-03-15 BC"), "0044-01-01 BC");
        assert_eq!(out(y.as_ref(), "-infinity"), "-infinity");
    }

    #[test]
    fn malformed_input() {
        let t = build("date_generalize", "", &ColumnType::text());
        assert!(err(t.as_ref(), "March 2024")
            .reason
            .contains("not an ISO date"));
    }
}
