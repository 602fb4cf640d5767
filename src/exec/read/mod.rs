//! The read stage: finding a source's files, checking each file's bytes and records before Polars reads it
//! (`prepare`, `csv_shape`, `transcode`), and scanning it as a Polars lazy frame, with the file name and data
//! row of every row kept for error messages.

pub(crate) mod csv_shape;
pub(crate) mod prepare;
pub(crate) mod remote;
pub(crate) mod transcode;

use std::path::PathBuf;

use polars::prelude::*;

use crate::error::DataError;
use crate::model::ColumnType;
use crate::plan::{FileFormat, MappedValue, Source};
use crate::suggest;

/// Row number column (1-based data row: the header is row 0) and file column added to every scan.
pub const ROW: &str = "__row";
pub const FILE: &str = "__file";

/// Names that start like the run's own columns (`__row`, `__file`, `__lower_<column>`). A file's column named
/// so is renamed on read (`file_column`) so that it never meets them; the pipeline still names it as the
/// file does.
pub fn is_reserved(name: &str) -> bool {
    name.starts_with("__")
}

/// The name a file's column has in the scanned frame: its own, or `__src` before it when it is reserved (no
/// column of the run's own starts with `__src`).
pub fn file_column(name: &str) -> PlSmallStr {
    match is_reserved(name) {
        true => format!("__src{name}").into(),
        false => name.into(),
    }
}

/// The name a scanned column has in its file (`file_column` undone); `None` for the run's own columns.
pub fn written_name(column: &str) -> Option<&str> {
    match column.strip_prefix("__src") {
        Some(name) if is_reserved(name) => Some(name),
        _ if is_reserved(column) => None,
        _ => Some(column),
    }
}

/// The files a source's path or glob matches, sorted so that runs are reproducible.
pub fn files(source: &Source) -> Result<Vec<PathBuf>, DataError> {
    let no_files = || DataError::NoFiles {
        source_name: source.name.clone(),
        pattern: source.pattern.clone(),
        at: source.pattern_at,
    };
    if remote::is_remote(&source.pattern) {
        let objects = remote::list(source)?;
        return if objects.is_empty() { Err(no_files()) } else { Ok(objects) };
    }
    let mut files: Vec<PathBuf> =
        glob::glob(&source.pattern).map_err(|_| no_files())?.filter_map(Result::ok).filter(|p| p.is_file()).collect();
    files.sort();
    if files.is_empty() {
        return Err(no_files());
    }
    Ok(files)
}

/// The largest CSV file staging reads whole, with Polars' eager reader: built on stable Rust, the streaming
/// CSV source splits lines without SIMD and took 0.46 s for 1M tickets read as text, the eager reader 0.21 s
/// (Python Polars, built with SIMD: 0.18 s either way). Larger files stream, so that memory stays bounded.
/// `DESKPULSE_WHOLE_CSV_BYTES` sets another limit (0: every file streams; the tests run both readers).
pub const WHOLE_CSV_BYTES: u64 = 256 << 20;

fn whole_csv_bytes() -> u64 {
    std::env::var("DESKPULSE_WHOLE_CSV_BYTES").ok().and_then(|v| v.parse().ok()).unwrap_or(WHOLE_CSV_BYTES)
}

/// Source columns the CSV reader may type as numbers itself: mapped as they are to a number column, and
/// read by nothing else. Parsing numbers while reading is faster than reading text and typing it after, but
/// a bad value then fails the whole read, so the run reads the files again as text to report it.
/// Sources that quarantine unreadable values are always read as text.
pub fn native_numbers(source: &Source) -> Vec<(String, DataType)> {
    if source.format != FileFormat::Csv || source.quarantine_unreadable {
        return Vec::new();
    }
    let roots = |sql: &crate::plan::Sql| -> Vec<String> {
        let e = crate::exec::normalise::sql(sql).ok();
        e.map(|e| e.meta().root_names().into_iter().map(|n| n.to_string()).collect()).unwrap_or_default()
    };
    let mut other_uses: Vec<String> = source.filter.as_ref().map(roots).unwrap_or_default();
    let mut candidates: Vec<(String, DataType)> = Vec::new();
    for m in &source.columns {
        match &m.value {
            MappedValue::Expr(sql) => other_uses.extend(roots(sql)),
            MappedValue::Constant(_) | MappedValue::FileRow => {},
            MappedValue::HashOf { columns, .. } => other_uses.extend(columns.iter().cloned()),
            MappedValue::DateTime { date, time, .. } => other_uses.extend([date.clone(), time.clone()]),
            MappedValue::Column { name, .. } => {
                let number = match m.canonical.ty {
                    ColumnType::Integer => Some(DataType::Int64),
                    ColumnType::Float if !source.csv.decimal_comma => Some(DataType::Float64),
                    _ => None,
                };
                let as_written = m.map.is_empty() && m.default.is_none() && !m.integer;
                let as_written = as_written && m.duration == crate::plan::DurationText::Seconds;
                match number {
                    Some(dtype) if as_written => candidates.push((name.clone(), dtype)),
                    _ => other_uses.push(name.clone()),
                }
            },
        }
    }
    if let crate::plan::Duplicates::KeepLatest { by, .. } = &source.duplicates {
        other_uses.push(by.clone());
    }
    let twice = |name: &str| candidates.iter().filter(|(n, _)| n == name).count() > 1;
    candidates.iter().filter(|(n, _)| !other_uses.contains(n) && !twice(n)).cloned().collect()
}

/// One file as a lazy frame. CSV columns are read as text, except `numbers` (see `native_numbers`): typing
/// is the mapping's job, so that a bad value is reported with its row instead of failing the whole read.
/// `file` is the input as listed; `prepared` says where to read it from (a rewritten copy carries its rows'
/// numbers). `whole`: a CSV file up to `WHOLE_CSV_BYTES` is read now, by Polars' eager CSV reader (see there).
pub fn scan(
    source: &Source,
    file: &std::path::Path,
    prepared: &crate::exec::read::prepare::PreparedFile,
    numbers: &[(String, DataType)],
    whole: bool,
) -> Result<LazyFrame, DataError> {
    let path = PlRefPath::new(prepared.read_from.to_string_lossy().as_ref());
    let row_index = Some(RowIndex { name: ROW.into(), offset: 1 });
    let csv_row_index = if prepared.rewritten { None } else { row_index.clone() };
    let unreadable = |e: PolarsError| DataError::Unreadable {
        source_name: source.name.clone(),
        file: file.display().to_string(),
        message: e.to_string(),
    };
    let lf = match source.format {
        FileFormat::Csv => {
            let o = &source.csv;
            let null_values = NullValues::AllColumns(o.null_values.iter().map(|v| v.as_str().into()).collect());
            let overwrite = (!numbers.is_empty())
                .then(|| Arc::new(numbers.iter().map(|(n, t)| Field::new(file_column(n), t.clone())).collect()));
            let encoding = match o.encoding {
                crate::plan::Encoding::Utf8Lossy => CsvEncoding::LossyUtf8,
                // Other encodings are read from a UTF-8 copy (`transcode`).
                _ => CsvEncoding::Utf8,
            };
            let size = std::fs::metadata(&prepared.read_from).map(|m| m.len()).unwrap_or(u64::MAX);
            if whole && size <= whole_csv_bytes() {
                let parse = CsvParseOptions::default()
                    .with_separator(o.delimiter)
                    .with_quote_char(Some(o.quote))
                    .with_null_values(Some(null_values))
                    .with_encoding(encoding);
                CsvReadOptions::default()
                    .with_has_header(true)
                    .with_infer_schema_length(Some(0))
                    .with_schema_overwrite(overwrite.map(|s: Arc<Schema>| s))
                    .with_row_index(csv_row_index)
                    .with_parse_options(parse)
                    .try_into_reader_with_file_path(Some(prepared.read_from.clone()))
                    .and_then(|reader| reader.finish())
                    .map_err(unreadable)?
                    .lazy()
            } else {
                LazyCsvReader::new(path)
                    .with_has_header(true)
                    .with_separator(o.delimiter)
                    .with_quote_char(Some(o.quote))
                    .with_null_values(Some(null_values))
                    .with_infer_schema_length(Some(0))
                    .with_dtype_overwrite(overwrite)
                    .with_encoding(encoding)
                    .with_row_index(csv_row_index)
                    .finish()
                    .map_err(unreadable)?
            }
        },
        FileFormat::Parquet => {
            let scan =
                |row_index| LazyFrame::scan_parquet(path.clone(), ScanArgsParquet { row_index, ..Default::default() });
            numbered(scan(None).map_err(unreadable)?, || scan(row_index.clone())).map_err(unreadable)?
        },
        FileFormat::Ndjson => {
            let scan = |row_index| LazyJsonLineReader::new(path.clone()).with_row_index(row_index).finish();
            numbered(scan(None).map_err(unreadable)?, || scan(row_index.clone())).map_err(unreadable)?
        },
    };
    let lf = if prepared.rewritten { lf.with_column(col(ROW).cast(IDX_DTYPE)) } else { lf };
    Ok(lf.with_column(lit(file.display().to_string()).alias(FILE)))
}

/// A Parquet or JSON file's frame with its rows numbered (`ROW`): by the reader, unless the file names a
/// column as the run names its own (`__row`), which is renamed first (`file_column`; a CSV file's is
/// renamed in its rewritten copy).
fn numbered(mut plain: LazyFrame, by_reader: impl FnOnce() -> PolarsResult<LazyFrame>) -> PolarsResult<LazyFrame> {
    let schema = plain.collect_schema()?;
    let reserved: Vec<PlSmallStr> = schema.iter_names().filter(|n| is_reserved(n)).cloned().collect();
    if reserved.is_empty() {
        return by_reader();
    }
    let renamed: Vec<PlSmallStr> = reserved.iter().map(|n| file_column(n)).collect();
    Ok(plain.rename(reserved, renamed, true).with_row_index(ROW, Some(1)))
}

/// The file's columns, checked against what the mapping reads.
pub fn schema(source: &Source, file: &std::path::Path, lf: &mut LazyFrame) -> Result<SchemaRef, DataError> {
    let schema = lf.collect_schema().map_err(|e| DataError::Unreadable {
        source_name: source.name.clone(),
        file: file.display().to_string(),
        message: e.to_string(),
    })?;
    let available: Vec<&str> = schema.iter_names().filter_map(|n| written_name(n)).collect();
    let latest_by = match &source.duplicates {
        crate::plan::Duplicates::KeepLatest { by, at } => Some((by, at)),
        crate::plan::Duplicates::Reject => None,
    };
    let mapped = source.columns.iter().flat_map(|m| m.value.named_columns());
    let attributes = source.attributes.iter().map(|a| (&a.column, &a.at));
    for (name, at) in mapped.chain(latest_by).chain(attributes) {
        if !schema.contains(&file_column(name)) {
            return Err(DataError::MissingColumn {
                source_name: source.name.clone(),
                file: file.display().to_string(),
                column: name.clone(),
                at: *at,
                help: Some(suggest::help(name, &available)),
            });
        }
    }
    Ok(schema)
}
