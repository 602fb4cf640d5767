//! Run records: `DIR/_runs/<run-id>.json`, one per run, failed ones included, so that a scheduler (or a
//! person the morning after) can see what each run read, staged, computed and wrote, and how long each stage
//! took. `deskpulse runs DIR` lists them.

pub mod interrupt;
pub(crate) mod timing;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::exec::RunOptions;

use crate::error::Error;
use crate::exec::RunReport;
use crate::plan::Plan;

pub const RUNS: &str = "_runs";

#[derive(Debug, Serialize, Deserialize)]
pub struct TableCounts {
    pub table: String,
    pub read: u64,
    pub kept: u64,
    pub rejected: u64,
    pub superseded: u64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct OutputCount {
    pub name: String,
    pub rows: usize,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    pub started_at: String,
    pub status: String,
    pub exit_code: i32,
    pub error: Option<String>,
    pub pipeline: String,
    /// xxh3-64 of the pipeline file's text.
    pub pipeline_hash: String,
    pub deskpulse: String,
    pub as_of: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub full: bool,
    pub host: String,
    pub pid: u32,
    pub files_staged: usize,
    pub files_reused: usize,
    /// Nothing had changed since the run that wrote the outputs: they were kept.
    pub unchanged: bool,
    pub tables: Vec<TableCounts>,
    /// Periods recomputed per segment (every period with data, unless a backfill window limits them).
    pub periods_recomputed: Vec<(String, String)>,
    pub outputs: Vec<OutputCount>,
    /// How files were read (encodings), and what deserves a look although the run succeeded.
    #[serde(default)]
    pub notes: Vec<String>,
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Every expectation's result (a run stopped by a failed `error` one says so in `error`).
    #[serde(default)]
    pub expectations: Vec<ExpectationResult>,
    /// Alerts raised (rows of `DIR/alerts`).
    #[serde(default)]
    pub alerts: usize,
    pub seconds: Vec<(String, f64)>,
    pub total_seconds: f64,
}

/// What one expectation found on the rows as read.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ExpectationResult {
    pub name: String,
    pub table: String,
    /// `error` or `warn`.
    pub severity: String,
    pub failed: u64,
    pub rows: u64,
    pub passed: bool,
}

/// A sortable id: the start time (UTC, to the millisecond) and the process id.
pub fn new_run_id(started: jiff::Timestamp) -> String {
    format!("{}-{}", started.strftime("%Y%m%dT%H%M%S%.3fZ"), std::process::id())
}

pub struct Context<'a> {
    pub run_id: &'a str,
    pub started: jiff::Timestamp,
    pub plan: &'a Plan,
    pub options: &'a RunOptions,
    pub seconds: Vec<(String, f64)>,
    pub total_seconds: f64,
}

pub fn record(ctx: &Context, result: &Result<RunReport, Error>) -> RunRecord {
    let plan = ctx.plan;
    let mut r = RunRecord {
        run_id: ctx.run_id.to_string(),
        started_at: ctx.started.to_string(),
        status: "ok".into(),
        exit_code: 0,
        error: None,
        pipeline: plan.pipeline_path.display().to_string(),
        pipeline_hash: format!("{:016x}", xxhash_rust::xxh3::xxh3_64(plan.pipeline_text.as_bytes())),
        deskpulse: env!("CARGO_PKG_VERSION").into(),
        as_of: plan.as_of.to_string(),
        from: ctx.options.from.map(|d| d.to_string()),
        to: ctx.options.to.map(|d| d.to_string()),
        full: ctx.options.full,
        host: crate::sink::lock::host_name(),
        pid: std::process::id(),
        files_staged: 0,
        files_reused: 0,
        unchanged: false,
        tables: Vec::new(),
        periods_recomputed: Vec::new(),
        outputs: Vec::new(),
        notes: Vec::new(),
        warnings: Vec::new(),
        expectations: Vec::new(),
        alerts: 0,
        seconds: ctx.seconds.clone(),
        total_seconds: ctx.total_seconds,
    };
    match result {
        Err(Error::Interrupted { signal }) => interrupt::cancelled(&mut r, *signal),
        Err(e) => {
            r.status = "failed".into();
            r.exit_code = e.exit_code();
            r.error = Some(crate::exec::short(&e.to_string()));
        },
        Ok(report) => {
            r.files_staged = report.files_staged;
            r.files_reused = report.files_reused;
            r.unchanged = report.unchanged_since.is_some();
            r.notes = report.notes.clone();
            r.warnings = report.warnings.clone();
            r.expectations = report.expectations.clone();
            r.alerts = report.alerts;
            for (table, read) in &report.rows {
                let rejected: u64 = report.rejected.iter().filter(|x| x.0 == *table).map(|x| x.2).sum();
                let superseded: u64 = report.superseded.iter().filter(|x| x.0 == *table).map(|x| x.1).sum();
                r.tables.push(TableCounts {
                    table: table.to_string(),
                    read: *read,
                    kept: read.saturating_sub(rejected + superseded),
                    rejected,
                    superseded,
                });
            }
            let window = match (ctx.options.from, ctx.options.to) {
                (None, None) if report.unchanged_since.is_some() => "none".to_string(),
                (None, None) => "all".to_string(),
                (from, to) => format!(
                    "periods starting in [{}, {})",
                    from.map(|d| d.to_string()).unwrap_or_else(|| "…".into()),
                    to.map(|d| d.to_string()).unwrap_or_else(|| "…".into())
                ),
            };
            r.periods_recomputed = plan
                .segments
                .iter()
                .map(|s| match report.periods_recomputed.get(&s.name) {
                    Some(n) => (s.name.clone(), format!("{n} period(s) new data touched")),
                    None => (s.name.clone(), window.clone()),
                })
                .collect();
            r.outputs =
                report.outputs.iter().map(|(name, rows, _)| OutputCount { name: name.clone(), rows: *rows }).collect();
        },
    }
    r
}

/// Writes the record (under a temporary name, then renamed). A run whose output directory was never made
/// leaves no record.
pub fn write(out_dir: &Path, record: &RunRecord) -> std::io::Result<()> {
    if !out_dir.is_dir() {
        return Ok(());
    }
    let dir = out_dir.join(RUNS);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{}.json", record.run_id));
    let tmp = dir.join(format!("{}.json.tmp", record.run_id));
    let text = serde_json::to_string_pretty(record).map_err(std::io::Error::other)?;
    crate::exec::store::write_synced(&tmp, text.as_bytes())?;
    std::fs::rename(tmp, path)
}

/// The records in `out_dir`, oldest first.
pub fn list(out_dir: &Path) -> Result<Vec<RunRecord>, Error> {
    let dir = out_dir.join(RUNS);
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| crate::error::DataError::NotFound { what: format!("no run records in {}: {e}", dir.display()) })?;
    let mut records = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text =
            std::fs::read_to_string(&path).map_err(|e| Error::Output { path: path.clone(), message: e.to_string() })?;
        match serde_json::from_str::<RunRecord>(&text) {
            Ok(r) => records.push(r),
            Err(e) => {
                return Err(crate::error::DataError::NotFound {
                    what: format!("{}: not a run record ({e})", path.display()),
                }
                .into())
            },
        }
    }
    records.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    Ok(records)
}

/// One line per run: when, status, files staged and reused, rows read, seconds.
pub fn table(records: &[RunRecord]) -> String {
    let mut out = format!(
        "{:<34} {:<7} {:>6} {:>6} {:>12} {:>8}  {}\n",
        "run", "status", "staged", "reused", "rows read", "seconds", "note"
    );
    for r in records {
        let read: u64 = r.tables.iter().map(|t| t.read).sum();
        let note = match (&r.error, r.unchanged) {
            (Some(e), _) => e.clone(),
            (None, true) => "nothing changed: outputs kept".into(),
            (None, false) => format!("{} output(s)", r.outputs.len()),
        };
        // What the run watched: alerts raised and expectations that failed as warnings.
        let mut note = note;
        let failed = r.expectations.iter().filter(|e| !e.passed).count();
        if r.alerts > 0 {
            note.push_str(&format!("; {} alert(s)", r.alerts));
        }
        if !r.expectations.is_empty() {
            note.push_str(&format!("; expectations: {} passed, {failed} failed", r.expectations.len() - failed));
        }
        out.push_str(&format!(
            "{:<34} {:<7} {:>6} {:>6} {:>12} {:>8.2}  {note}\n",
            r.run_id, r.status, r.files_staged, r.files_reused, read, r.total_seconds
        ));
    }
    out
}
