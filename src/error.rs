//! Library errors, one enum per stage, and the exit code each maps to. Rendering (snippets, colours) happens
//! at the CLI edge.

use std::path::PathBuf;

use crate::plan::PlanError;
use crate::spec::{LoadError, Location};

/// Exit codes, documented in the README.
pub mod exit {
    pub const OK: i32 = 0;
    pub const INTERNAL: i32 = 1;
    pub const INVALID_PIPELINE: i32 = 2;
    pub const BAD_INPUT: i32 = 3;
    pub const OUTPUT: i32 = 4;
    pub const LOCKED: i32 = 5;
    /// The distributed engine's cluster cannot be reached, or failed a query (`--engine ballista`).
    pub const CLUSTER: i32 = 6;
    /// An expectation of severity `error` failed: nothing was written.
    pub const EXPECTATION: i32 = 7;
    /// `--fail-on-alert` and an alert was raised (the outputs were written).
    pub const ALERT: i32 = 8;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("cannot write outputs to {}: {message}", path.display())]
    Output { path: PathBuf, message: String },
    #[error("another run holds the output directory: {holder} (lock file {}); wait for it, or remove the lock file if that process is not deskpulse", path.display())]
    Locked { path: PathBuf, holder: String },
    /// The cluster of `--engine ballista` cannot be reached or failed; nothing was written.
    #[error("cluster {url}: {message}")]
    Cluster { url: String, message: String },
    /// Command-line arguments that do not fit together.
    #[error("{0}")]
    Usage(String),
    /// SIGTERM or SIGINT arrived: the run stopped, nothing was written (exit 128 + the signal).
    #[error("stopped by {} (signal {signal}): nothing was written; the outputs and the store are as the last run left them", crate::exec::record::interrupt::signal_name(*signal))]
    Interrupted { signal: i32 },
    /// Expectations of severity `error` failed on the rows as read: nothing was written.
    #[error("{} expectation(s) failed: {}; nothing was written (failing rows under {})", failed.len(), failed.join("; "), dir.display())]
    Expectations { failed: Vec<String>, dir: PathBuf },
    /// `--fail-on-alert`: the run wrote its outputs and raised alerts.
    #[error("{count} alert(s) raised: see {} (--fail-on-alert)", table.display())]
    Alerts { count: usize, table: PathBuf },
    /// A bug or an engine failure that the input does not explain.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Load(_) | Error::Plan(_) | Error::Usage(_) => exit::INVALID_PIPELINE,
            Error::Data(_) => exit::BAD_INPUT,
            Error::Output { .. } => exit::OUTPUT,
            Error::Locked { .. } => exit::LOCKED,
            Error::Cluster { .. } => exit::CLUSTER,
            Error::Internal(_) => exit::INTERNAL,
            Error::Interrupted { signal } => 128 + signal,
            Error::Expectations { .. } => exit::EXPECTATION,
            Error::Alerts { .. } => exit::ALERT,
        }
    }
}

impl From<polars::error::PolarsError> for Error {
    fn from(e: polars::error::PolarsError) -> Self {
        // The engine may quote whole input rows: keep a scheduler's log readable.
        let text = e.to_string();
        let cut = text.char_indices().nth(2_000).map(|(i, _)| i).unwrap_or(text.len());
        Error::Internal(if cut < text.len() {
            format!("{}… ({} bytes cut)", &text[..cut], text.len() - cut)
        } else {
            text
        })
    }
}

/// One value that could not be read as its canonical type.
#[derive(Debug, Clone, PartialEq)]
pub struct BadValue {
    pub file: String,
    /// 1-based data row (the header is row 0).
    pub row: u64,
    pub column: String,
    pub value: String,
}

/// The input data do not match what the pipeline says.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("source `{source_name}`: no file matches {pattern}")]
    NoFiles { source_name: String, pattern: String, at: Location },
    #[error("source `{source_name}`: {file} has no column `{column}`{}", help.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
    MissingColumn { source_name: String, file: String, column: String, at: Location, help: Option<String> },
    #[error("source `{source_name}`: cannot read {file}: {message}")]
    Unreadable { source_name: String, file: String, message: String },
    #[error("{}", bad_values_message(table, column, expected, total, examples))]
    BadValues {
        table: String,
        column: String,
        /// What the value should have been, e.g. "a timestamp in format %d/%m/%Y %H:%M".
        expected: String,
        total: u64,
        examples: Vec<BadValue>,
        at: Location,
    },
    #[error("{rejected} of {total} {table} rows would be quarantined ({:.2} %), more than max_rejected_share {:.2} %{}: {}; nothing was written. If such a share is expected, raise `max_rejected_share` at the pipeline's top level, e.g. `max_rejected_share: 0.3`", 100.0 * *rejected as f64 / *total as f64, 100.0 * max, if *declared { "" } else { " (the default, which counts the rows' own faults, not orphan references)" }, reasons.iter().map(|(r, n)| format!("{r}: {n}")).collect::<Vec<_>>().join(", "))]
    TooManyRejected { table: String, rejected: u64, total: u64, max: f64, declared: bool, reasons: Vec<(String, u64)> },
    #[error("{what}")]
    NotFound { what: String },
    #[error("{what}; nothing was written")]
    Empty {
        what: String,
        /// What explains it, when something does (ids written differently…).
        hints: Vec<String>,
    },
    #[error(
        "source `{source_name}`: {file} is not UTF-8: data row {} (line {line}) has byte 0x{byte:02X} at offset {offset}: {excerpt:?}",
        line.saturating_sub(1)
    )]
    NotUtf8 {
        source_name: String,
        file: String,
        line: u64,
        offset: u64,
        byte: u8,
        excerpt: String,
        /// The encoding the bytes suggest, for the hint.
        looks_like: &'static str,
        at: Location,
    },
    #[error("source `{source_name}`: {file} has {total} malformed row(s){}", malformed_list(examples))]
    Malformed { source_name: String, file: String, total: u64, examples: Vec<Malformed>, at: Location },
}

fn malformed_list(examples: &[Malformed]) -> String {
    examples.iter().map(|m| format!("\n  line {}: {}: {}", m.line, m.problem, m.excerpt)).collect()
}

impl DataError {
    /// Where in the pipeline file the problem was declared, when it was.
    pub fn location(&self) -> Option<Location> {
        match self {
            DataError::NoFiles { at, .. }
            | DataError::MissingColumn { at, .. }
            | DataError::BadValues { at, .. }
            | DataError::NotUtf8 { at, .. }
            | DataError::Malformed { at, .. } => Some(*at),
            DataError::Unreadable { .. }
            | DataError::TooManyRejected { .. }
            | DataError::NotFound { .. }
            | DataError::Empty { .. } => None,
        }
    }

    /// What the user can do about it, when there is a usual fix.
    pub fn help(&self) -> Option<String> {
        match self {
            DataError::NotUtf8 { looks_like, .. } => Some(format!(
                "set the file's encoding on the source, e.g. `csv: {{ encoding: {looks_like} }}` (also iso-8859-1, \
                 utf-16, auto), or `utf-8-lossy` to replace the bad bytes"
            )),
            DataError::Empty { hints, .. } => Some(
                hints
                    .iter()
                    .cloned()
                    .chain(["set `allow_empty: true` in the pipeline if an empty result is expected".to_string()])
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            DataError::Malformed { .. } => Some(
                "fix the rows, or set `on_error: quarantine` on the source to set them aside in _rejected/ \
                 (reason malformed_row) and use the others"
                    .into(),
            ),
            _ => None,
        }
    }
}

fn bad_values_message(table: &str, column: &str, expected: &str, total: &u64, examples: &[BadValue]) -> String {
    // Named as the user wrote it: the source column, with the canonical column it feeds.
    let mut written: Vec<&str> = examples.iter().map(|b| b.column.as_str()).collect();
    written.dedup();
    let mut msg = match written.as_slice() {
        [one] if *one != column => {
            format!("{total} value(s) of column `{one}` (mapped to {table}.{column}) cannot be read as {expected}")
        },
        _ => format!("{total} value(s) of {table}.{column} cannot be read as {expected}"),
    };
    for b in examples {
        msg.push_str(&format!("\n  {} row {}: column `{}` = {:?}", b.file, b.row, b.column, b.value));
    }
    msg
}

/// A record whose fields do not match the header.
#[derive(Clone, Debug, PartialEq)]
pub struct Malformed {
    /// 1-based line of the file where the record starts.
    pub line: u64,
    pub problem: String,
    /// The start of the line, at most `exec::read::csv_shape::EXCERPT_BYTES` long.
    pub excerpt: String,
}
