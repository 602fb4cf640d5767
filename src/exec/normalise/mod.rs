//! Source rows → canonical rows: applies a source's column mapping (maps, defaults, constants, SQL
//! expressions) and types every column. A text value that does not read as its type becomes null and is
//! kept beside it in a `__bad_<column>` column, so the run can report it with its file and row.

pub(crate) mod frames;
mod values;

use polars::prelude::*;

use crate::error::{BadValue, DataError};
use crate::model::{Column, ColumnType, Fill, Table};
use crate::plan::{AttributeType, ColumnMapping, DurationText, MappedValue, Plan, Source, Sql};

use crate::exec::read::{file_column, FILE, ROW};

use values::{boolean_of, parse_temporal, type_value, value_map};

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

/// `sql_on` over a file's columns as the file names them: a column renamed on read (`read::file_column`)
/// is read by its own name.
fn sql_on_file(s: &Sql, schema: &Schema, file: &std::path::Path) -> Result<Expr, crate::plan::Diagnostic> {
    let written: Schema = schema
        .iter()
        .filter_map(|(n, t)| crate::exec::read::written_name(n).map(|w| Field::new(w.into(), t.clone())))
        .collect();
    let e = sql_on(s, &written, &file.display().to_string())?;
    // A typed file's (Parquet, JSON) boolean and number columns; CSV columns are text here.
    let type_of = |c: &str| match written.get(c) {
        Some(DataType::Boolean) => Some(ColumnType::Boolean),
        Some(t) if t.is_primitive_numeric() => Some(ColumnType::Float),
        _ => None,
    };
    crate::plan::sql::text_compared_with_typed(s, &type_of)?;
    Ok(e.map_expr(|e| match e {
        Expr::Column(name) => Expr::Column(file_column(&name)),
        other => other,
    }))
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
        lf = lf.filter(sql_on_file(filter, schema, file).map_err(|d| plan_error(plan, d))?.fill_null(lit(false)));
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
            None if column.name == "instance" && source.instance.is_some() => {
                (lit(source.instance.clone().unwrap_or_default()), None)
            },
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
        // Ids are unique per instance: `eu:1` and `us:1` are two tickets, and references resolve within one.
        let typed = match (plan.qualifies(source, column.name), &source.instance) {
            (true, Some(instance)) => concat_str([lit(format!("{instance}:")), typed], "", false),
            _ => typed,
        };
        exprs.push(typed.alias(column.name));
    }
    for (name, declared) in plan.attributes(source.table) {
        exprs.push(attribute_value(source, name, declared, schema, &lf, &mut head)?.alias(name));
    }
    let latest = match &source.duplicates {
        crate::plan::Duplicates::KeepLatest { by, .. } => col(file_column(by)).cast(DataType::String),
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
    let name = file_column(&attribute.column);
    let raw = col(name.clone());
    let is_text = matches!(schema.get(&name), Some(DataType::String));
    let trimmed = raw.clone().cast(DataType::String).str().strip_chars(lit(NULL));
    let as_number = trimmed.clone().cast(DataType::Float64);
    let as_boolean = {
        let lower = trimmed.clone().str().to_lowercase();
        let no = when(lower.clone().eq(lit("false"))).then(lit(false)).otherwise(lit(NULL).cast(DataType::Boolean));
        when(lower.eq(lit("true"))).then(lit(true)).otherwise(no)
    };
    let ty = match attribute.ty.or(declared) {
        Some(ty) => ty,
        None if !is_text => match schema.get(&name) {
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
        let e = sql_on_file(sql, schema, file).map_err(|d| plan_error(plan, d))?;
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
            let name = file_column(name);
            (col(name.clone()), matches!(schema.get(&name), Some(DataType::String) | None))
        },
        MappedValue::Constant(v) => (lit(v.as_str()), true),
        MappedValue::HashOf { columns, .. } => {
            (crate::exec::hash::id_of(columns.iter().map(|c| col(file_column(c))).collect()), true)
        },
        MappedValue::FileRow => {
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            (concat_str([lit(format!("{name}:")), col(ROW).cast(DataType::String)], "", false), true)
        },
        MappedValue::DateTime { date, time, .. } => {
            let part = |c: &str| col(file_column(c)).cast(DataType::String).str().strip_chars(lit(NULL));
            (concat_str([part(date), part(time)], " ", false), true)
        },
        // An expression already of the column's type is taken as it is (`tags LIKE '%x%'` for a boolean);
        // any other is cast to text, so that the parsing rules apply uniformly.
        MappedValue::Expr(s) => {
            let e = sql_on_file(s, schema, file)?;
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

/// Picks the first candidate format that reads every value of a sample of the column.
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
