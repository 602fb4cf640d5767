//! Finding a source's files and scanning them as Polars lazy frames, with the file name and data row of
//! every row kept for error messages.

use std::path::PathBuf;

use polars::prelude::*;

use crate::error::DataError;
use crate::plan::{FileFormat, Source};
use crate::suggest;

/// Row number column (1-based data row: the header is row 0) and file column added to every scan.
pub const ROW: &str = "__row";
pub const FILE: &str = "__file";

/// The files a source's path or glob matches, sorted so that runs are reproducible.
pub fn files(source: &Source) -> Result<Vec<PathBuf>, DataError> {
    let no_files = || DataError::NoFiles {
        source_name: source.name.clone(),
        pattern: source.pattern.clone(),
        at: source.pattern_at,
    };
    let mut files: Vec<PathBuf> =
        glob::glob(&source.pattern).map_err(|_| no_files())?.filter_map(Result::ok).filter(|p| p.is_file()).collect();
    files.sort();
    if files.is_empty() {
        return Err(no_files());
    }
    Ok(files)
}

/// One file as a lazy frame. CSV columns are read as text: typing is the mapping's job, so that a bad value
/// is reported with its row instead of failing the whole read.
pub fn scan(source: &Source, file: &std::path::Path) -> Result<LazyFrame, DataError> {
    let path = PlRefPath::new(file.to_string_lossy().as_ref());
    let row_index = Some(RowIndex { name: ROW.into(), offset: 1 });
    let unreadable = |e: PolarsError| DataError::Unreadable {
        source_name: source.name.clone(),
        file: file.display().to_string(),
        message: e.to_string(),
    };
    let lf = match source.format {
        FileFormat::Csv => {
            let o = &source.csv;
            LazyCsvReader::new(path)
                .with_has_header(true)
                .with_separator(o.delimiter)
                .with_quote_char(Some(o.quote))
                .with_null_values(Some(NullValues::AllColumns(
                    o.null_values.iter().map(|v| v.as_str().into()).collect(),
                )))
                .with_infer_schema_length(Some(0))
                .with_encoding(if o.lossy_utf8 { CsvEncoding::LossyUtf8 } else { CsvEncoding::Utf8 })
                .with_row_index(row_index)
                .finish()
                .map_err(unreadable)?
        },
        FileFormat::Parquet => {
            LazyFrame::scan_parquet(path, ScanArgsParquet { row_index, ..Default::default() }).map_err(unreadable)?
        },
        FileFormat::Ndjson => LazyJsonLineReader::new(path).with_row_index(row_index).finish().map_err(unreadable)?,
    };
    Ok(lf.with_column(lit(file.display().to_string()).alias(FILE)))
}

/// The file's columns, checked against what the mapping reads.
pub fn schema(source: &Source, file: &std::path::Path, lf: &mut LazyFrame) -> Result<SchemaRef, DataError> {
    let schema = lf.collect_schema().map_err(|e| DataError::Unreadable {
        source_name: source.name.clone(),
        file: file.display().to_string(),
        message: e.to_string(),
    })?;
    let available: Vec<&str> = schema.iter_names().map(|n| n.as_str()).filter(|n| !n.starts_with("__")).collect();
    let latest_by = match &source.duplicates {
        crate::plan::Duplicates::KeepLatest { by, at } => Some((by, at)),
        crate::plan::Duplicates::Reject => None,
    };
    let mapped = source.columns.iter().filter_map(|m| match &m.value {
        crate::plan::MappedValue::Column { name, at } => Some((name, at)),
        _ => None,
    });
    for (name, at) in mapped.chain(latest_by) {
        if !schema.contains(name) {
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
