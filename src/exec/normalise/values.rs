//! Values as the pipeline types them: vendor values mapped (`map:`), text read as numbers, booleans,
//! durations and timestamps. Text a value cannot be read from becomes null, which `normalise` reports as a bad
//! value with its row.

use polars::prelude::*;

use crate::model::ColumnType;
use crate::plan::{ColumnMapping, DurationText};

use super::dtype;

/// Vendor values replaced by the pipeline's (`map:`), others passed through. A chain of comparisons is
/// elementwise, so it streams; Polars' `replace` with list literals made the streaming engine hold whole
/// files (10M tickets: 4.3 GB peak while staging). Very long maps use `replace`.
pub(super) fn value_map(raw: Expr, map: &[(String, String)]) -> Expr {
    if map.len() > 64 {
        let old = Series::new("old".into(), map.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>());
        let new = Series::new("new".into(), map.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>());
        return raw.replace(lit(old), lit(new));
    }
    let mut out = raw.clone();
    for (from, to) in map.iter().rev() {
        out = when(raw.clone().eq(lit(from.as_str()))).then(lit(to.as_str())).otherwise(out);
    }
    out
}

pub(super) fn type_value(raw: Expr, ty: ColumnType, is_text: bool, m: &ColumnMapping, decimal_comma: bool) -> Expr {
    let target = dtype(ty);
    let unit = match m.duration {
        DurationText::Minutes => Some(60.0),
        DurationText::Hours => Some(3600.0),
        DurationText::Seconds | DurationText::Hms | DurationText::Iso8601 => None,
    };
    let in_seconds = |number: Expr| match unit {
        Some(factor) => (number.cast(DataType::Float64) * lit(factor)).cast(target.clone()),
        None => number.cast(target.clone()),
    };
    if !is_text {
        return match ty {
            ColumnType::Timestamp => temporal_to_utc(raw),
            ColumnType::Boolean => raw.cast(DataType::Boolean),
            _ => in_seconds(raw),
        };
    }
    let trimmed = raw.clone().str().strip_chars(lit(NULL));
    let trimmed = if m.integer { whole_number(trimmed) } else { trimmed };
    match ty {
        ColumnType::Text if m.integer => trimmed,
        ColumnType::Text => raw,
        ColumnType::Integer | ColumnType::Float if matches!(m.duration, DurationText::Hms | DurationText::Iso8601) => {
            duration_seconds(trimmed, m.duration).cast(target)
        },
        ColumnType::Integer => in_seconds(trimmed.cast(DataType::Float64).cast(DataType::Int64)),
        ColumnType::Float => {
            let t = if decimal_comma { trimmed.str().replace_all(lit(","), lit("."), true) } else { trimmed };
            in_seconds(t.cast(DataType::Float64))
        },
        ColumnType::Boolean => boolean_of(trimmed.str().to_lowercase(), m),
        ColumnType::Timestamp | ColumnType::Date => unreachable!("parsed by parse_temporal"),
    }
}

/// Trimmed, lower-cased text → true or false by the mapping's spellings; null for any other text.
pub(super) fn boolean_of(lower: Expr, m: &ColumnMapping) -> Expr {
    when(crate::exec::aggregate::compile::one_of(lower.clone(), &m.true_values))
        .then(lit(true))
        .when(crate::exec::aggregate::compile::one_of(lower, &m.false_values))
        .then(lit(false))
        .otherwise(lit(NULL).cast(DataType::Boolean))
}

/// `3`, `3.0`, `-12.00` → the whole number's digits; anything else (`3.5`, `abc`) → null, a bad value.
fn whole_number(text: Expr) -> Expr {
    let whole = text.clone().str().contains(lit(r"^-?\d+(\.0+)?$"), true);
    when(whole).then(text.str().replace(lit(r"\.0+$"), lit(""), false)).otherwise(lit(NULL).cast(DataType::String))
}

/// A duration written `H:MM:SS`, `M:SS` (`hms`) or ISO 8601 `PnWnDTnHnMnS` (`iso8601`) → seconds; null when
/// the text has another shape.
fn duration_seconds(text: Expr, layout: DurationText) -> Expr {
    let number = r"(\d+(?:\.\d+)?)";
    let (pattern, factors): (String, &[f64]) = match layout {
        DurationText::Hms => (r"^(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)$".to_string(), &[3600.0, 60.0, 1.0]),
        _ => (
            format!(r"^P(?:{number}W)?(?:{number}D)?(?:T(?:{number}H)?(?:{number}M)?(?:{number}S)?)?$"),
            &[604_800.0, 86_400.0, 3600.0, 60.0, 1.0],
        ),
    };
    let mut seconds = lit(0.0);
    for (i, factor) in factors.iter().enumerate() {
        let part = text.clone().str().extract(lit(pattern.as_str()), i + 1).cast(DataType::Float64);
        seconds = seconds + part.fill_null(lit(0.0)) * lit(*factor);
    }
    // The pattern must match, and an ISO duration must say something (`P`, `PT` alone are not durations).
    let matches = text.clone().str().contains(lit(pattern.as_str()), true);
    let says_something = match layout {
        DurationText::Hms => matches.clone(),
        _ => matches.and(text.clone().str().contains(lit(r"\d"), true)).and(text.str().ends_with(lit("T")).not()),
    };
    when(says_something).then(seconds).otherwise(lit(NULL).cast(DataType::Float64))
}

/// A typed date or datetime column → naive UTC milliseconds.
fn temporal_to_utc(e: Expr) -> Expr {
    // A time-zone-aware input is converted to UTC first; naive inputs are taken as UTC.
    e.cast(DataType::Datetime(TimeUnit::Milliseconds, None))
}

fn has_offset(format: &str) -> bool {
    format.contains("%z") || format.contains("%:z") || format.contains("%#z") || format.contains("%::z")
}

fn has_time(format: &str) -> bool {
    ["%H", "%I", "%M", "%S", "%T", "%R", "%s", "%c"].iter().any(|p| format.contains(p))
}

/// Text → naive UTC timestamp (or date), strictly in `format`; failures become null.
pub(super) fn parse_temporal(raw: Expr, ty: ColumnType, format: &str, time_zone: Option<&str>) -> Expr {
    // Caching parsed values pays for dates, which repeat, not for timestamps, which rarely do.
    let cache = !has_time(format);
    let options = |strict| StrptimeOptions { format: Some(format.into()), strict, exact: true, cache };
    let text = raw.str().strip_chars(lit(NULL));
    if ty == ColumnType::Date && !has_time(format) {
        return text.str().to_date(options(false));
    }
    let offset = has_offset(format);
    let mut ts = text.str().to_datetime(Some(TimeUnit::Milliseconds), None, options(false), lit("earliest"));
    if offset {
        ts = ts.dt().convert_time_zone(TimeZone::UTC).dt().replace_time_zone(None, lit("raise"), NonExistent::Raise);
    } else if let Some(tz) = time_zone.filter(|tz| *tz != "UTC") {
        let zone = TimeZone::opt_try_new(Some(tz)).ok().flatten().unwrap_or(TimeZone::UTC);
        ts = ts
            .dt()
            .replace_time_zone(Some(zone), lit("earliest"), NonExistent::Null)
            .dt()
            .convert_time_zone(TimeZone::UTC)
            .dt()
            .replace_time_zone(None, lit("raise"), NonExistent::Raise);
    }
    if ty == ColumnType::Date {
        ts.dt().date()
    } else {
        ts
    }
}
