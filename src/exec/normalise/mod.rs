//! Source rows → canonical rows: applies a source's column mapping (maps, defaults, constants, SQL
//! expressions) and types every column. A text value that does not read as its type becomes null and is
//! kept beside it in a `__bad_<column>` column, so the run can report it with its file and row.

pub(crate) mod frames;

use polars::prelude::*;

use crate::error::{BadValue, DataError};
use crate::model::{Column, ColumnType, Fill, Table};
use crate::plan::{AttributeType, ColumnMapping, DurationText, MappedValue, Plan, Source, Sql};

use crate::exec::read::{FILE, ROW};

/// The source a row came from, its duplicates policy and the value that orders its copies.
pub const SOURCE: &str = "__source";
pub const KEEP_LATEST: &str = "__keep_latest";
pub const LATEST: &str = "__latest";

pub fn bad(column: &str) -> String {
    format!("__bad_{column}")
}

/// Formats tried, in order, for timestamps written without a declared `format`.
const TIMESTAMP_FORMATS: &[&str] = &[
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S%.fZ",
    "%Y-%m-%dT%H:%M:%S%:z",
    "%Y-%m-%dT%H:%M:%S%.f%:z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%:z",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
];
const DATE_FORMATS: &[&str] = &["%Y-%m-%d"];

/// Compiles SQL from the pipeline (source filters, `expr:` mappings, table filters, metrics' `where`) for
/// the engine; the plan checked its syntax and the columns it reads.
pub fn sql(s: &Sql) -> Result<Expr, crate::plan::Diagnostic> {
    polars::sql::sql_expr(&s.text)
        .map_err(|e| crate::plan::Diagnostic::new(format!("invalid SQL expression `{}`: {e}", s.text), s.at))
}

/// `sql` compiled against one file's or table's columns: a column it reads that `schema` lacks is the
/// pipeline's mistake, reported at the SQL's line with the closest column, not an engine failure at run time.
pub fn sql_on(s: &Sql, schema: &Schema, what: &str) -> Result<Expr, crate::plan::Diagnostic> {
    let available: Vec<&str> = schema.iter_names().map(|n| n.as_str()).collect();
    crate::plan::sql_reading(s, &available, what)?;
    sql(s)
}

/// The columns SQL over `table` may read (`plan::readable_schema`), typed for the engine; an attribute
/// typed from its values only at run time is `Unknown`.
pub fn readable_schema(plan: &Plan, table: Table) -> Schema {
    let readable = crate::plan::readable_schema(plan, table);
    readable
        .0
        .iter()
        .map(|(name, ty)| {
            let dtype = ty.map(dtype).unwrap_or(DataType::Unknown(Default::default()));
            Field::new(name.as_str().into(), dtype)
        })
        .collect()
}

/// Every SQL snippet of the pipeline compiled by the engine: what the parser accepts and the engine does not
/// (an unknown function), reported with its line before any work, by `validate --no-data` too.
pub fn compile_sql(plan: &Plan) -> Vec<crate::plan::Diagnostic> {
    plan.sql_snippets().into_iter().filter_map(|s| sql(&s).err()).collect()
}

/// The canonical frame of one file of a source: every column of the table, typed, plus `__file`, `__row`
/// and one `__bad_<column>` per typed column.
pub fn normalise(
    plan: &Plan,
    source: &Source,
    file: &std::path::Path,
    lf: LazyFrame,
    schema: &Schema,
) -> Result<LazyFrame, crate::error::Error> {
    let mut lf = lf;
    evaluate_sql_on_sample(plan, source, file, &lf, schema)?;
    if let Some(filter) = &source.filter {
        lf = lf.filter(
            sql_on(filter, schema, &file.display().to_string()).map_err(|d| plan_error(plan, d))?.fill_null(lit(false)),
        );
    }
    let mut exprs = vec![col(FILE), col(ROW).cast(DataType::UInt64)];
    // Two projections: the typed columns (and the text of those parsed from text), then the bad values from
    // both by name, so that each column is parsed once.
    let mut bad_exprs = Vec::new();
    let mut texts = Vec::new();
    // The file's first rows, read once for every timestamp layout to recognise.
    let mut head = None;
    // Each timestamp's typed value, for timestamps counted from an earlier one (`after`).
    let mut typed_so_far: Vec<(&str, Expr)> = Vec::new();
    // Text read as booleans, trimmed and lower-cased once before the projection: inside it, each comparison
    // with a true or false spelling lower-cased the text again (4.8M messages: 0.65 s against 0.10 s).
    let mut lowered = Vec::new();
    for column in source.table.columns() {
        let mapping = source.columns.iter().find(|m| m.canonical.name == column.name);
        let (typed, bad_raw) = match mapping {
            None => (default_value(column), None),
            Some(m) => {
                let (raw, is_text) = raw_value(m, schema, file, column.ty).map_err(|d| plan_error(plan, d))?;
                let base = m.after.and_then(|a| typed_so_far.iter().find(|(n, _)| *n == a)).map(|(_, e)| e.clone());
                let typed = match column.ty {
                    ColumnType::Timestamp if base.is_some() => {
                        let seconds = type_value(raw.clone(), ColumnType::Float, is_text, m, source.csv.decimal_comma);
                        let millis =
                            (seconds * lit(1000.0)).round(0, RoundMode::HalfAwayFromZero).cast(DataType::Int64);
                        base.unwrap_or(lit(NULL)) + millis.cast(DataType::Duration(TimeUnit::Milliseconds))
                    },
                    ColumnType::Timestamp | ColumnType::Date if is_text => {
                        let format = match &m.format {
                            Some(f) => {
                                check_format(source, file, &lf, file_head(&lf, &mut head)?, raw.clone(), column, m, f)?;
                                f.clone()
                            },
                            None => {
                                infer_format(source, file, &lf, file_head(&lf, &mut head)?, raw.clone(), column, m)?
                            },
                        };
                        parse_temporal(raw.clone(), column.ty, &format, m.time_zone.as_deref())
                    },
                    ColumnType::Boolean if is_text => {
                        let lower = format!("__lower_{}", column.name);
                        lowered
                            .push(raw.clone().str().strip_chars(lit(NULL)).str().to_lowercase().alias(lower.as_str()));
                        boolean_of(col(lower.as_str()), m)
                    },
                    _ => type_value(raw.clone(), column.ty, is_text, m, source.csv.decimal_comma),
                };
                let checked = column.ty != ColumnType::Text || m.integer;
                (typed, if is_text && checked { Some(raw) } else { None })
            },
        };
        if column.is_checked() {
            let b = match bad_raw {
                Some(raw) => {
                    let text = format!("__text_{}", column.name);
                    exprs.push(raw.cast(DataType::String).alias(text.as_str()));
                    texts.push(text.clone());
                    when(col(text.as_str()).is_not_null().and(col(column.name).is_null()))
                        .then(col(text.as_str()))
                        .otherwise(lit(NULL).cast(DataType::String))
                },
                None => lit(NULL).cast(DataType::String),
            };
            bad_exprs.push(b.alias(bad(column.name)));
        }
        if column.ty == ColumnType::Timestamp {
            typed_so_far.push((column.name, typed.clone()));
        }
        exprs.push(typed.alias(column.name));
    }
    for (name, declared) in plan.attributes(source.table) {
        exprs.push(attribute_value(source, name, declared, schema, &lf, &mut head)?.alias(name));
    }
    let latest = match &source.duplicates {
        crate::plan::Duplicates::KeepLatest { by, .. } => col(by.as_str()).cast(DataType::String),
        crate::plan::Duplicates::Reject => lit(NULL).cast(DataType::String),
    };
    if source.table == Table::Messages {
        exprs.extend(crate::exec::facts::threads::columns(source));
    }
    exprs.extend([
        lit(source.name.as_str()).alias(SOURCE),
        lit(matches!(source.duplicates, crate::plan::Duplicates::KeepLatest { .. })).alias(KEEP_LATEST),
        latest.alias(LATEST),
    ]);
    Ok(lf.with_columns(lowered).select(exprs).with_columns(bad_exprs).drop(cols(texts)))
}

/// One attribute of the table in a file of `source`: its source column typed as declared, or as its values in
/// the file's first rows read (number, else boolean, else text); empty when the source does not carry it
/// (the engine widens the type across files when they differ: a number and a text are text). A value that
/// does not read as the type is left empty.
fn attribute_value(
    source: &Source,
    name: &str,
    declared: Option<AttributeType>,
    schema: &Schema,
    lf: &LazyFrame,
    head: &mut Option<DataFrame>,
) -> PolarsResult<Expr> {
    let Some(attribute) = source.attributes.iter().find(|a| a.name == name) else {
        return Ok(match declared {
            Some(ty) => lit(NULL).cast(attribute_dtype(ty)),
            None => lit(NULL),
        });
    };
    let raw = col(attribute.column.as_str());
    let is_text = matches!(schema.get(attribute.column.as_str()), Some(DataType::String));
    let trimmed = raw.clone().cast(DataType::String).str().strip_chars(lit(NULL));
    let as_number = trimmed.clone().cast(DataType::Float64);
    let as_boolean = {
        let lower = trimmed.clone().str().to_lowercase();
        let no = when(lower.clone().eq(lit("false"))).then(lit(false)).otherwise(lit(NULL).cast(DataType::Boolean));
        when(lower.eq(lit("true"))).then(lit(true)).otherwise(no)
    };
    let ty = match attribute.ty.or(declared) {
        Some(ty) => ty,
        None if !is_text => match schema.get(attribute.column.as_str()) {
            Some(DataType::Boolean) => AttributeType::Boolean,
            Some(t) if t.is_primitive_numeric() => AttributeType::Number,
            _ => AttributeType::Text,
        },
        None => {
            let sample = file_head(lf, head)?
                .clone()
                .lazy()
                .select([trimmed.clone().alias("t"), as_number.clone().alias("n"), as_boolean.clone().alias("b")])
                .filter(col("t").is_not_null().and(col("t").neq(lit(""))))
                .select([len().alias("all"), col("n").count().alias("n"), col("b").count().alias("b")])
                .collect()?;
            let count =
                |c: &str| sample.column(c).ok().and_then(|s| s.cast(&DataType::UInt64).ok()?.u64().ok()?.get(0));
            let all = count("all").unwrap_or(0);
            match (count("n"), count("b")) {
                _ if all == 0 => AttributeType::Text,
                (Some(n), _) if n == all => AttributeType::Number,
                (_, Some(b)) if b == all => AttributeType::Boolean,
                _ => AttributeType::Text,
            }
        },
    };
    Ok(match ty {
        AttributeType::Text => raw.cast(DataType::String),
        AttributeType::Number => as_number,
        AttributeType::Integer => as_number.cast(DataType::Int64),
        AttributeType::Boolean if is_text => as_boolean,
        AttributeType::Boolean => raw.cast(DataType::Boolean),
    })
}

/// The dtype of an attribute type.
pub fn attribute_dtype(ty: AttributeType) -> DataType {
    match ty {
        AttributeType::Number => DataType::Float64,
        AttributeType::Integer => DataType::Int64,
        AttributeType::Text => DataType::String,
        AttributeType::Boolean => DataType::Boolean,
    }
}

/// The source's SQL (`filter`, `expr` mappings) evaluated on the file's first rows: a type error (a text CSV
/// column compared with a number) is the pipeline's mistake, reported at the SQL's line before any work,
/// by `validate` too, rather than an engine failure halfway through a run.
fn evaluate_sql_on_sample(
    plan: &Plan,
    source: &Source,
    file: &std::path::Path,
    lf: &LazyFrame,
    schema: &Schema,
) -> Result<(), crate::error::Error> {
    let snippets = source.sql();
    if snippets.is_empty() {
        return Ok(());
    }
    let sample = lf.clone().limit(100).collect()?;
    for sql in snippets {
        let e = sql_on(sql, schema, &file.display().to_string()).map_err(|d| plan_error(plan, d))?;
        if let Err(err) = sample.clone().lazy().select([e.clone().alias("__sql")]).collect() {
            let column = e.meta().root_names().first().map(|c| c.to_string()).unwrap_or_else(|| "x".into());
            let text_columns = format!(
                "CSV columns are text in SQL: compare them with quoted strings, or convert them, e.g. CAST(\"{column}\" \
                 AS INTEGER)"
            );
            let d = crate::plan::Diagnostic::new(
                format!(
                    "`{}` cannot be evaluated on {}: {}",
                    sql.text,
                    file.display(),
                    crate::exec::short(&err.to_string())
                ),
                sql.at,
            )
            .with_help(text_columns);
            return Err(plan_error(plan, d));
        }
    }
    Ok(())
}

pub fn plan_error(plan: &Plan, d: crate::plan::Diagnostic) -> crate::error::Error {
    crate::plan::PlanError { path: plan.pipeline_path.clone(), text: plan.pipeline_text.clone(), diagnostics: vec![d] }
        .into()
}

/// The canonical dtype of a column type.
pub fn dtype(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::Text => DataType::String,
        ColumnType::Timestamp => DataType::Datetime(TimeUnit::Milliseconds, None),
        ColumnType::Date => DataType::Date,
        ColumnType::Integer => DataType::Int64,
        ColumnType::Float => DataType::Float64,
        ColumnType::Boolean => DataType::Boolean,
    }
}

fn default_value(column: &Column) -> Expr {
    let v = match column.fill {
        Fill::Int(i) => lit(i),
        Fill::Bool(b) => lit(b),
        Fill::Null | Fill::Required | Fill::Column(_) => lit(NULL),
    };
    v.cast(dtype(column.ty))
}

/// The source value after `map` and `default`, and whether it is text (and so needs parsing).
fn raw_value(
    m: &ColumnMapping,
    schema: &Schema,
    file: &std::path::Path,
    ty: ColumnType,
) -> Result<(Expr, bool), crate::plan::Diagnostic> {
    let (mut raw, mut is_text) = match &m.value {
        MappedValue::Column { name, .. } => {
            (col(name.as_str()), matches!(schema.get(name.as_str()), Some(DataType::String) | None))
        },
        MappedValue::Constant(v) => (lit(v.as_str()), true),
        MappedValue::DateTime { date, time, .. } => {
            let part = |c: &str| col(c).cast(DataType::String).str().strip_chars(lit(NULL));
            (concat_str([part(date), part(time)], " ", false), true)
        },
        // An expression already of the column's type is taken as it is (`tags LIKE '%x%'` for a boolean);
        // any other is cast to text, so that the parsing rules apply uniformly.
        MappedValue::Expr(s) => {
            let e = sql_on(s, schema, &file.display().to_string())?;
            match e.to_field(schema) {
                Ok(f) if *f.dtype() == dtype(ty) && ty != ColumnType::Text => (e, false),
                _ => (e.cast(DataType::String), true),
            }
        },
    };
    if !m.map.is_empty() {
        raw = value_map(raw.cast(DataType::String), &m.map);
        is_text = true;
    }
    if let Some(d) = &m.default {
        if !is_text {
            raw = raw.cast(DataType::String);
            is_text = true;
        }
        raw = raw.fill_null(lit(d.as_str()));
    }
    // Text layouts apply to what a typed source holds as it would be written (a float id 3.0 → "3.0").
    if !is_text && (m.integer || matches!(m.duration, DurationText::Hms | DurationText::Iso8601)) {
        raw = raw.cast(DataType::String);
        is_text = true;
    }
    Ok((raw, is_text))
}

/// Vendor values replaced by the pipeline's (`map:`), others passed through. A chain of comparisons is
/// elementwise, so it streams; Polars' `replace` with list literals made the streaming engine hold whole
/// files (10M tickets: 4.3 GB peak while staging). Very long maps use `replace`.
fn value_map(raw: Expr, map: &[(String, String)]) -> Expr {
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

fn type_value(raw: Expr, ty: ColumnType, is_text: bool, m: &ColumnMapping, decimal_comma: bool) -> Expr {
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
fn boolean_of(lower: Expr, m: &ColumnMapping) -> Expr {
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
pub fn parse_temporal(raw: Expr, ty: ColumnType, format: &str, time_zone: Option<&str>) -> Expr {
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

/// Picks the first candidate format that reads every value of a sample of the column.
/// The first 5,000 rows of a file, read on first use: enough to recognise a layout (filtering the whole file
/// for values would read all of it).
fn file_head<'a>(lf: &LazyFrame, head: &'a mut Option<DataFrame>) -> PolarsResult<&'a DataFrame> {
    if head.is_none() {
        *head = Some(lf.clone().limit(5_000).collect()?);
    }
    Ok(head.as_ref().expect("just read"))
}

/// Up to 200 non-null values of `raw` in the file's head, with their rows (`ROW`, `v`).
fn head_sample(head: &DataFrame, raw: Expr) -> PolarsResult<DataFrame> {
    head.clone()
        .lazy()
        .select([col(ROW), raw.cast(DataType::String).alias("v")])
        .filter(col("v").is_not_null())
        .limit(200)
        .collect()
}

/// How many values of the sample `format` reads.
fn values_read(sample: &DataFrame, ty: ColumnType, format: &str) -> PolarsResult<u64> {
    let parsed = sample
        .clone()
        .lazy()
        .select([parse_temporal(col("v"), ty, format, None).is_not_null().sum().alias("read")])
        .collect()?;
    Ok(parsed.column("read")?.cast(&DataType::UInt64)?.u64()?.get(0).unwrap_or(0))
}

/// The first values of the sample, as bad values of `m`'s source column.
fn sample_examples(sample: &DataFrame, file: &std::path::Path, m: &ColumnMapping) -> PolarsResult<Vec<BadValue>> {
    let rows = sample.column(ROW)?.cast(&DataType::UInt64)?;
    let values = sample.column("v")?;
    Ok((0..sample.height().min(3))
        .map(|i| BadValue {
            file: file.display().to_string(),
            row: rows.u64().ok().and_then(|r| r.get(i)).unwrap_or(0),
            column: source_column_name(m),
            value: values.str().ok().and_then(|v| v.get(i)).unwrap_or("").to_string(),
        })
        .collect())
}

/// A declared `format` must read at least one value of the file's head: one that reads none is the wrong
/// layout for the file, reported at the mapping's line before any work (by `validate` too).
#[allow(clippy::too_many_arguments)]
fn check_format(
    source: &Source,
    file: &std::path::Path,
    lf: &LazyFrame,
    head: &DataFrame,
    raw: Expr,
    column: &Column,
    m: &ColumnMapping,
    format: &str,
) -> Result<(), crate::error::Error> {
    let sample = head_sample(head, raw.clone())?;
    if sample.height() == 0 || values_read(&sample, column.ty, format)? > 0 {
        return Ok(());
    }
    Err(DataError::BadValues {
        table: source.table.to_string(),
        column: column.name.to_string(),
        expected: format!("a {} in the declared format {format:?}, which reads none of them", column.ty.name()),
        total: values_in_file(lf, raw)?,
        examples: sample_examples(&sample, file, m)?,
        at: m.at,
    }
    .into())
}

fn infer_format(
    source: &Source,
    file: &std::path::Path,
    lf: &LazyFrame,
    head: &DataFrame,
    raw: Expr,
    column: &Column,
    m: &ColumnMapping,
) -> Result<String, crate::error::Error> {
    let sample = head_sample(head, raw.clone())?;
    if sample.height() == 0 {
        return Ok(if column.ty == ColumnType::Date { DATE_FORMATS[0] } else { TIMESTAMP_FORMATS[0] }.to_string());
    }
    // The layout that reads the most sampled values; the values it cannot read are reported (or quarantined)
    // with their rows later, like any unreadable value.
    let candidates = if column.ty == ColumnType::Date { DATE_FORMATS } else { TIMESTAMP_FORMATS };
    let mut best: Option<(&str, u64)> = None;
    for f in candidates {
        let read = values_read(&sample, column.ty, f)?;
        if read == sample.height() as u64 {
            return Ok(f.to_string());
        }
        if read > best.map_or(0, |b| b.1) {
            best = Some((f, read));
        }
    }
    if let Some((f, _)) = best {
        return Ok(f.to_string());
    }
    let examples = sample_examples(&sample, file, m)?;
    Err(DataError::BadValues {
        table: source.table.to_string(),
        column: column.name.to_string(),
        expected: format!(
            "an ISO 8601 {} (declare `format:` for other layouts, e.g. \"%d/%m/%Y %H:%M\")",
            if column.ty == ColumnType::Date { "date" } else { "timestamp" }
        ),
        total: values_in_file(lf, raw)?,
        examples,
        at: m.at,
    }
    .into())
}

/// How many values of `raw` the whole file holds: a layout that reads none of the sample's is reported with
/// the file's count, not the sample's.
fn values_in_file(lf: &LazyFrame, raw: Expr) -> PolarsResult<u64> {
    let n = lf.clone().select([raw.is_not_null().sum().cast(DataType::UInt64).alias("n")]).collect()?;
    Ok(n.column("n")?.u64()?.get(0).unwrap_or(0))
}

pub fn source_column_name(m: &ColumnMapping) -> String {
    match &m.value {
        MappedValue::Column { name, .. } => name.clone(),
        other => other.describe(),
    }
}

/// What a canonical column must read as, for error messages.
pub fn expected(table: Table, column: &str, plan: &Plan) -> String {
    let ty = table.column(column).map(|c| c.ty).unwrap_or(ColumnType::Text);
    let formats: Vec<String> = plan
        .sources_of(table)
        .flat_map(|s| s.columns.iter())
        .filter(|m| m.canonical.name == column)
        .filter_map(|m| m.format.clone())
        .collect();
    let zones: Vec<String> = plan
        .sources_of(table)
        .flat_map(|s| s.columns.iter())
        .filter(|m| m.canonical.name == column)
        .filter_map(|m| m.time_zone.clone())
        .filter(|z| z != "UTC")
        .collect();
    let in_zone = match zones.is_empty() {
        true => String::new(),
        false => format!(
            " in time zone {} (a local time that a daylight-saving change skips, such as 02:30 on the last Sunday \
             of March in Europe, does not exist there)",
            zones.join(" or ")
        ),
    };
    let layouts: Vec<&'static str> = plan
        .sources_of(table)
        .flat_map(|s| s.columns.iter())
        .filter(|m| m.canonical.name == column)
        .filter_map(|m| match m.duration {
            DurationText::Hms => Some("a duration written H:MM:SS or M:SS (duration: hms)"),
            DurationText::Iso8601 => Some("an ISO 8601 duration such as PT6M12S (duration: iso8601)"),
            _ if m.integer => Some("a whole number (integer: true reads 3.0 as 3)"),
            _ => None,
        })
        .collect();
    if let Some(layout) = layouts.first() {
        return layout.to_string();
    }
    match ty {
        ColumnType::Timestamp | ColumnType::Date if !formats.is_empty() => {
            format!("a {} in format {}{in_zone}", ty.name(), formats.join(" or "))
        },
        ColumnType::Timestamp | ColumnType::Date => format!("an ISO 8601 {}{in_zone}", ty.name()),
        ColumnType::Boolean => "a boolean (true/false, 1/0, yes/no, oui/non or the declared values)".into(),
        ColumnType::Integer => "a whole number".into(),
        ColumnType::Float => "a number".into(),
        other => format!("a {}", other.name()),
    }
}
