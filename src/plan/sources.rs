//! Sources → validated sources: each source's table, format, CSV options, duplicates and reference policies,
//! attributes, and every column mapping (where its value comes from and how it is read), checked against the
//! canonical model. Part of `build`; every problem is collected.

use std::path::Path;

use super::*;
use crate::model::{self, ColumnType, Fill};
use crate::spec::{ColumnSpec, Located, SourceSpec};
use crate::suggest;
use indexmap::IndexMap;

pub(super) fn source(
    name: String,
    spec: Located<SourceSpec>,
    base: &Path,
    errs: &mut Vec<Diagnostic>,
) -> Option<Source> {
    let at = spec.at;
    let spec = spec.value;
    let table_names: Vec<&str> = Table::ALL.iter().filter(|t| !t.is_derived()).map(|t| t.name()).collect();
    let Some(table) = Table::from_name(&spec.table).filter(|t| !t.is_derived()) else {
        errs.push(
            Diagnostic::new(format!("source `{name}`: unknown table `{}`", spec.table.value), spec.table.at)
                .with_help(suggest::help(&spec.table, &table_names)),
        );
        return None;
    };
    let format = check_format(&name, spec.format.as_ref(), &spec.path, errs);
    let csv = csv_options(&spec.csv, errs);

    let mut columns = Vec::new();
    let valid: Vec<&str> = table.columns().iter().map(|c| c.name).collect();
    for (canonical, mapping) in spec.columns {
        let Some(column) = table.column(&canonical) else {
            errs.push(
                Diagnostic::new(format!("`{}` is not a column of the {table} table", canonical.value), canonical.at)
                    .with_help(suggest::help(&canonical, &valid)),
            );
            continue;
        };
        if let Some(m) = column_mapping(table, column, mapping, errs) {
            columns.push(m);
        }
    }
    let thread = spec.thread.map(|t| Thread { id: t.value.id.value, in_reply_to: t.value.in_reply_to.value, at: t.at });
    check_thread_and_required(&name, table, thread.as_ref(), &columns, at, errs);
    // Object store URLs are kept as written; local paths are relative to the pipeline's folder.
    let pattern = match super::is_url(&spec.path.value) {
        true => spec.path.value.clone(),
        false => base.join(&spec.path.value).to_string_lossy().into_owned(),
    };
    let filter = spec.filter.map(|f| Sql { text: f.value, at: f.at });
    let duplicates = check_duplicates(&name, spec.duplicates.as_ref(), spec.latest_by, at, errs);
    let quarantine_unreadable = check_choice(spec.on_error.as_ref(), "on_error", ["fail", "quarantine"], errs);
    let keep_orphans = check_choice(spec.references.as_ref(), "references", ["quarantine", "keep"], errs);
    let attributes = attributes_of(&name, table, spec.attributes, errs);
    Some(Source {
        name,
        table,
        pattern,
        pattern_at: spec.path.at,
        format,
        csv,
        filter,
        columns,
        duplicates,
        quarantine_unreadable,
        keep_orphans,
        retain: spec.retain,
        instance: check_instance(spec.instance, errs),
        thread,
        attributes,
    })
}

/// An instance name qualifies ids (`eu:1`): a word without `:`.
fn check_instance(instance: Option<Located<String>>, errs: &mut Vec<Diagnostic>) -> Option<String> {
    let instance = instance?;
    if instance.value.trim().is_empty() || instance.value.contains(':') {
        errs.push(
            Diagnostic::new(format!("instance `{}` must be a name without `:`", instance.value), instance.at)
                .with_help("e.g. instance: eu"),
        );
    }
    Some(instance.value)
}

/// The source's `format:`, or the one its path's extension names.
fn check_format(
    name: &str,
    format: Option<&Located<String>>,
    path: &Located<String>,
    errs: &mut Vec<Diagnostic>,
) -> FileFormat {
    match format.map(|f| (f.as_str(), f.at)) {
        Some(("csv", _)) => FileFormat::Csv,
        Some(("parquet", _)) => FileFormat::Parquet,
        Some(("ndjson", _)) | Some(("jsonl", _)) => FileFormat::Ndjson,
        Some((other, at)) => {
            errs.push(
                Diagnostic::new(format!("unknown format `{other}`"), at)
                    .with_help(suggest::help(other, &["csv", "parquet", "ndjson"])),
            );
            FileFormat::Csv
        },
        None => {
            let lower = path.to_lowercase();
            let lower = lower.trim_end_matches(".gz").trim_end_matches(".zst");
            if lower.ends_with(".parquet") || lower.ends_with(".pq") {
                FileFormat::Parquet
            } else if lower.ends_with(".ndjson") || lower.ends_with(".jsonl") {
                FileFormat::Ndjson
            } else if lower.ends_with(".csv") || lower.ends_with(".tsv") || lower.ends_with(".txt") {
                FileFormat::Csv
            } else {
                errs.push(Diagnostic::new(
                    format!(
                        "source `{name}`: cannot tell the format of `{}`; add `format: csv|parquet|ndjson`",
                        path.value
                    ),
                    path.at,
                ));
                FileFormat::Csv
            }
        },
    }
}

/// A `thread` source is a messages source without ticket ids, and every required column is mapped.
fn check_thread_and_required(
    name: &str,
    table: Table,
    thread: Option<&Thread>,
    columns: &[ColumnMapping],
    at: Location,
    errs: &mut Vec<Diagnostic>,
) {
    if let Some(t) = thread {
        if table != Table::Messages {
            errs.push(Diagnostic::new(format!("source `{name}`: `thread` applies to messages sources"), t.at));
        }
        if let Some(m) = columns.iter().find(|m| m.canonical.name == "ticket_id") {
            errs.push(
                Diagnostic::new(format!("source `{name}`: with `thread`, ticket_id is each reply chain's root"), m.at)
                    .with_help("remove the ticket_id mapping"),
            );
        }
    }
    for c in table.columns() {
        let from_thread = thread.is_some() && c.name == "ticket_id";
        if c.fill == Fill::Required
            && !from_thread
            && !columns.iter().any(|m: &ColumnMapping| m.canonical.name == c.name)
        {
            errs.push(Diagnostic::new(
                format!("source `{name}` feeds {table} but does not map the required column `{}`", c.name),
                at,
            ));
        }
    }
}

/// `duplicates:` (`reject`, or `keep_latest` with `latest_by`).
fn check_duplicates(
    name: &str,
    duplicates: Option<&Located<String>>,
    latest_by: Option<Located<String>>,
    at: Location,
    errs: &mut Vec<Diagnostic>,
) -> Duplicates {
    match (duplicates.map(|d| d.as_str()), latest_by) {
        (None | Some("reject"), None) => Duplicates::Reject,
        (Some("keep_latest"), Some(by)) => Duplicates::KeepLatest { by: by.value, at: by.at },
        (Some("keep_latest"), None) => {
            errs.push(Diagnostic::new(
                format!("source `{name}`: `duplicates: keep_latest` needs `latest_by`, the source column that orders the copies"),
                duplicates.map(|d| d.at).unwrap_or(at),
            ));
            Duplicates::Reject
        },
        (None | Some("reject"), Some(by)) => {
            errs.push(Diagnostic::new("`latest_by` only applies with `duplicates: keep_latest`", by.at));
            Duplicates::Reject
        },
        (Some(other), _) => {
            errs.push(
                Diagnostic::new(format!("unknown duplicates policy `{other}`"), duplicates.map(|d| d.at).unwrap_or(at))
                    .with_help(suggest::help(other, &["reject", "keep_latest"])),
            );
            Duplicates::Reject
        },
    }
}

/// A two-way option: false for the first (default) value, true for the second.
fn check_choice(value: Option<&Located<String>>, what: &str, values: [&str; 2], errs: &mut Vec<Diagnostic>) -> bool {
    let Some(v) = value else { return false };
    match v.as_str() {
        s if s == values[0] => false,
        s if s == values[1] => true,
        other => {
            errs.push(
                Diagnostic::new(format!("unknown `{what}` value `{other}`"), v.at)
                    .with_help(suggest::help(other, &values)),
            );
            false
        },
    }
}

/// A name a pipeline gives to output rows or columns (metrics, attributes): a lowercase letter, then
/// lowercase letters, digits and `_`.
pub(super) fn is_snake_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A source's `attributes:`: names that are not canonical columns, and known types.
pub(super) fn attributes_of(
    source: &str,
    table: Table,
    specs: IndexMap<Located<String>, Located<crate::spec::AttributeSpec>>,
    errs: &mut Vec<Diagnostic>,
) -> Vec<super::Attribute> {
    let mut out = Vec::new();
    for (name, spec) in specs {
        if !is_snake_name(&name) {
            errs.push(Diagnostic::new(
                format!("source `{source}`: attribute `{}` must use lowercase letters, digits and `_`", name.value),
                name.at,
            ));
            continue;
        }
        if table.column(&name).is_some() || model::dimensions_of(table).contains(&name.as_str()) {
            errs.push(
                Diagnostic::new(
                    format!("source `{source}`: attribute `{}` is a canonical column of the {table} table", name.value),
                    name.at,
                )
                .with_help("map it under `columns:` instead, or give the attribute another name"),
            );
            continue;
        }
        let ty = match &spec.ty {
            None => None,
            Some(t) => match super::AttributeType::from_name(t) {
                Some(ty) => Some(ty),
                None => {
                    errs.push(
                        Diagnostic::new(format!("unknown attribute type `{}`", t.value), t.at)
                            .with_help(suggest::help(t, &super::AttributeType::NAMES)),
                    );
                    None
                },
            },
        };
        let at = if spec.column.at.is_known() { spec.column.at } else { spec.at };
        out.push(super::Attribute { name: name.value, column: spec.value.column.value.clone(), ty, at });
    }
    out
}

fn single_byte(value: &Option<Located<String>>, default: u8, what: &str, errs: &mut Vec<Diagnostic>) -> u8 {
    let Some(v) = value else { return default };
    let s = if v.value == "\\t" { "\t" } else { v.as_str() };
    match s.as_bytes() {
        [b] => *b,
        _ => {
            errs.push(Diagnostic::new(format!("{what} must be one ASCII character, found {:?}", v.value), v.at));
            default
        },
    }
}

fn csv_options(spec: &crate::spec::CsvSpec, errs: &mut Vec<Diagnostic>) -> CsvOptions {
    let encoding = match &spec.encoding {
        None => Encoding::Utf8,
        Some(e) => Encoding::from_name(e.as_str()).unwrap_or_else(|| {
            errs.push(
                Diagnostic::new(format!("unknown encoding `{}`", e.value), e.at)
                    .with_help(format!("expected one of {}", Encoding::NAMES.join(", "))),
            );
            Encoding::Utf8
        }),
    };
    CsvOptions {
        delimiter: single_byte(&spec.delimiter, b',', "`delimiter`", errs),
        quote: single_byte(&spec.quote, b'"', "`quote`", errs),
        null_values: spec.null_values.clone().unwrap_or_else(|| vec![String::new()]),
        decimal_comma: spec.decimal_comma,
        encoding,
    }
}

/// What is wrong with a strftime layout (as the engine reads them), or `None` when it is valid.
fn bad_strftime(format: &str) -> Option<String> {
    use chrono::format::{Item, StrftimeItems};
    let mut unknown = Vec::new();
    let mut fields = 0;
    for item in StrftimeItems::new(format) {
        match item {
            Item::Error => unknown.push(()),
            Item::Numeric(..) | Item::Fixed(_) => fields += 1,
            _ => {},
        }
    }
    if !unknown.is_empty() {
        let directives: Vec<&str> =
            format.match_indices('%').map(|(i, _)| &format[i..(i + 2).min(format.len())]).collect();
        return Some(format!("it has an unknown directive (directives found: {})", directives.join(" ")));
    }
    (fields == 0).then(|| "it has no directive, so it reads no date".to_string())
}

const TRUE_VALUES: &[&str] = &["true", "1", "yes", "y", "oui", "t"];
const FALSE_VALUES: &[&str] = &["false", "0", "no", "n", "non", "f"];

fn column_mapping(
    table: Table,
    column: &'static model::Column,
    mapping: Located<ColumnSpec>,
    errs: &mut Vec<Diagnostic>,
) -> Option<ColumnMapping> {
    let at = mapping.at;
    let mut detail = match mapping.value {
        ColumnSpec::Source(name) => {
            return Some(ColumnMapping {
                canonical: column,
                value: MappedValue::Column { name, at },
                format: None,
                time_zone: None,
                map: Vec::new(),
                default: None,
                true_values: TRUE_VALUES.iter().map(|s| s.to_string()).collect(),
                false_values: FALSE_VALUES.iter().map(|s| s.to_string()).collect(),
                duration: DurationText::Seconds,
                integer: false,
                after: None,
                at,
            })
        },
        ColumnSpec::Detailed(d) => *d,
    };
    let value = check_mapped_value(column, &mut detail, at, errs)?;
    let after = check_after(table, column, detail.after.as_ref(), errs);
    let duration = check_duration(column, detail.duration.as_ref(), after.is_some(), errs);
    check_reading_options(column, &detail, at, errs);
    let lower = |v: Option<Vec<String>>, d: &[&str]| -> Vec<String> {
        v.map(|v| v.into_iter().map(|s| s.to_lowercase()).collect())
            .unwrap_or_else(|| d.iter().map(|s| s.to_string()).collect())
    };
    Some(ColumnMapping {
        canonical: column,
        value,
        format: detail.format.map(|f| f.value),
        time_zone: detail.time_zone.map(|t| t.value),
        map: detail.map.map(|m| m.value.into_iter().collect()).unwrap_or_default(),
        default: detail.default.map(|d| d.value),
        true_values: lower(detail.true_values, TRUE_VALUES),
        false_values: lower(detail.false_values, FALSE_VALUES),
        duration,
        integer: detail.integer,
        after,
        at,
    })
}

/// Where a column's value comes from: one of `column`, `constant`, `expr`, `from`, or `date` with `time`.
fn check_mapped_value(
    column: &'static model::Column,
    detail: &mut crate::spec::ColumnDetail,
    at: Location,
    errs: &mut Vec<Diagnostic>,
) -> Option<MappedValue> {
    if let Some(from) = detail.from.take() {
        let alone = detail.column.is_none() && detail.constant.is_none() && detail.expr.is_none();
        return check_id_from(column, from, alone && detail.date.is_none(), errs);
    }
    match (detail.column.take(), detail.constant.take(), detail.expr.take(), detail.date.take(), detail.time.take()) {
        (Some(c), None, None, None, None) => Some(MappedValue::Column { name: c.value, at: c.at }),
        (None, Some(v), None, None, None) => Some(MappedValue::Constant(v.value)),
        (None, None, Some(e), None, None) => Some(MappedValue::Expr(Sql { text: e.value, at: e.at })),
        (None, None, None, Some(date), Some(time)) if column.ty == ColumnType::Timestamp => {
            Some(MappedValue::DateTime { date: date.value, time: time.value, at: date.at })
        },
        (None, None, None, Some(d), Some(_)) => {
            errs.push(Diagnostic::new(
                format!("`date` and `time` build a timestamp, and `{}` is {}", column.name, column.ty.name()),
                d.at,
            ));
            None
        },
        (None, None, None, Some(d), None) => {
            errs.push(
                Diagnostic::new(format!("`{}`: `date` needs `time`, the time-of-day column", column.name), d.at)
                    .with_help("e.g. { date: \"Date received\", time: ser_start }; a date alone is `column:`"),
            );
            None
        },
        _ => {
            errs.push(Diagnostic::new(
                format!("`{}`: give exactly one of `column`, `constant`, `expr` or `date` with `time`", column.name),
                at,
            ));
            None
        },
    }
}

/// `from:` builds a text column (an id) from columns of the export, or from the file and row.
fn check_id_from(
    column: &'static model::Column,
    from: Located<crate::spec::IdFrom>,
    alone: bool,
    errs: &mut Vec<Diagnostic>,
) -> Option<MappedValue> {
    let fail = |errs: &mut Vec<Diagnostic>, message: String, help: &str| {
        errs.push(Diagnostic::new(message, from.at).with_help(help.to_string()));
        None
    };
    let example = "e.g. ticket_id: { from: [caller, started_at, agent] }, or { from: row } for the file's name and row";
    if !alone {
        return fail(
            errs,
            format!("`{}`: `from` builds the value alone, without `column`, `constant`, `expr` or `date`", column.name),
            example,
        );
    }
    if column.ty != ColumnType::Text {
        return fail(errs, format!("`from` builds a text id, and `{}` is {}", column.name, column.ty.name()), example);
    }
    match from.value {
        crate::spec::IdFrom::Columns(columns) if !columns.is_empty() => {
            Some(MappedValue::HashOf { columns, at: from.at })
        },
        crate::spec::IdFrom::Keyword(k) if k == "row" => Some(MappedValue::FileRow),
        _ => fail(errs, format!("`{}`: `from` is a list of columns or `row`", column.name), example),
    }
}

/// `after:` counts a timestamp from an earlier timestamp of the table.
fn check_after(
    table: Table,
    column: &'static model::Column,
    after: Option<&Located<String>>,
    errs: &mut Vec<Diagnostic>,
) -> Option<&'static str> {
    after.and_then(|a| {
        let earlier = table.columns().iter().take_while(|c| c.name != column.name);
        let found = earlier.filter(|c| c.ty == ColumnType::Timestamp).find(|c| c.name == a.as_str());
        if column.ty != ColumnType::Timestamp {
            errs.push(Diagnostic::new(format!("`after` builds a timestamp, and `{}` is not one", column.name), a.at));
            return None;
        }
        if found.is_none() {
            let names: Vec<&str> = table
                .columns()
                .iter()
                .take_while(|c| c.name != column.name)
                .filter(|c| c.ty == ColumnType::Timestamp)
                .map(|c| c.name)
                .collect();
            errs.push(
                Diagnostic::new(
                    format!(
                        "`after: {}`: {} is counted from an earlier timestamp of the {table} table",
                        a.value, column.name
                    ),
                    a.at,
                )
                .with_help(format!("one of: {}", names.join(", "))),
            );
        }
        found.map(|c| c.name)
    })
}

/// `duration:`, the layout of a number of seconds written as text, for numbers and `after` timestamps.
fn check_duration(
    column: &'static model::Column,
    duration: Option<&Located<String>>,
    after: bool,
    errs: &mut Vec<Diagnostic>,
) -> DurationText {
    match duration {
        None => DurationText::Seconds,
        Some(d) if !matches!(column.ty, ColumnType::Float | ColumnType::Integer) && !after => {
            errs.push(Diagnostic::new(
                format!("`duration` applies to numbers of seconds, and `{}` is {}", column.name, column.ty.name()),
                d.at,
            ));
            DurationText::Seconds
        },
        Some(d) => DurationText::from_name(d.as_str()).unwrap_or_else(|| {
            errs.push(
                Diagnostic::new(format!("unknown duration layout `{}`", d.value), d.at)
                    .with_help(suggest::help(d, &DurationText::NAMES)),
            );
            DurationText::Seconds
        }),
    }
}

/// The options that say how a value is read apply to its column's type: `integer`, `format`,
/// `time_zone`, `true_values`/`false_values`.
fn check_reading_options(
    column: &'static model::Column,
    detail: &crate::spec::ColumnDetail,
    at: Location,
    errs: &mut Vec<Diagnostic>,
) {
    let temporal = matches!(column.ty, ColumnType::Timestamp | ColumnType::Date);
    if detail.integer && !matches!(column.ty, ColumnType::Text | ColumnType::Integer) {
        errs.push(Diagnostic::new(
            format!("`integer` reads ids and counts written as floats, and `{}` is {}", column.name, column.ty.name()),
            at,
        ));
    }
    if let Some(f) = &detail.format {
        if !temporal {
            errs.push(Diagnostic::new(
                format!("`format` applies to timestamps and dates, and `{}` is {}", column.name, column.ty.name()),
                f.at,
            ));
        } else if let Some(bad) = bad_strftime(f) {
            errs.push(
                Diagnostic::new(format!("`format: {:?}` is not a valid layout: {bad}", f.value), f.at).with_help(
                    "strftime directives: %Y year, %m month, %d day, %H hour, %M minute, %S second, %z offset, \
                     %.f fraction; e.g. \"%d/%m/%Y %H:%M\"",
                ),
            );
        }
    }
    if let Some(tz) = &detail.time_zone {
        if column.ty != ColumnType::Timestamp {
            errs.push(Diagnostic::new(
                format!("`time_zone` applies to timestamps, and `{}` is not one", column.name),
                tz.at,
            ));
        } else if jiff::tz::TimeZone::get(tz).is_err() {
            errs.push(
                Diagnostic::new(format!("unknown time zone `{}`", tz.value), tz.at)
                    .with_help("use an IANA name such as Europe/Paris or UTC"),
            );
        }
    }
    if column.ty != ColumnType::Boolean && (detail.true_values.is_some() || detail.false_values.is_some()) {
        errs.push(Diagnostic::new(
            format!("`true_values`/`false_values` apply to booleans, and `{}` is not one", column.name),
            at,
        ));
    }
}
