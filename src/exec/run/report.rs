//! What a run tells its caller (`RunReport`), and the report of a run that found nothing new.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::exec::record::{self, timing};
use crate::exec::store::{self, stage};
use crate::model::Table;

/// What `deskpulse run` did.
#[derive(Debug)]
pub struct RunReport {
    /// Rows read per table.
    pub rows: Vec<(Table, u64)>,
    /// Quarantined rows per table and reason.
    pub rejected: Vec<(Table, String, u64)>,
    /// Older copies dropped under `duplicates: keep_latest`, per table.
    pub superseded: Vec<(Table, u64)>,
    /// Blank lines skipped, per table and file.
    pub blank_lines: Vec<(Table, String, u64)>,
    /// How files were read (their encoding), for the user to know.
    pub notes: Vec<String>,
    /// What the user should look at although the run succeeded (references that did not resolve, a KPI
    /// left out of a segment…).
    pub warnings: Vec<String>,
    /// Work folders of dead runs removed before this one started.
    pub removed_stale: Vec<PathBuf>,
    /// Input files staged into the store, and read from it as they were.
    pub files_staged: usize,
    pub files_reused: usize,
    /// Why the store's previous content was not used, when it was not.
    pub store_discarded: Option<String>,
    /// Sources whose files were staged again because their mapping changed.
    pub remapped: Vec<String>,
    /// Parts found missing or cut short, whose files were staged again.
    pub damaged_parts: usize,
    /// Segments recomputed only for the periods new data touched: how many periods each (the others, whole).
    pub periods_recomputed: BTreeMap<String, usize>,
    /// Alerts raised (rows of `DIR/alerts`).
    pub alerts: usize,
    /// Every expectation's result.
    pub expectations: Vec<record::ExpectationResult>,
    /// The run that wrote the outputs, when nothing has changed since: the outputs were kept as they were.
    pub unchanged_since: Option<String>,
    pub run_id: String,
    /// The holder of a lock left by a dead run, taken over.
    pub lock_taken_over: Option<String>,
    pub outputs: Vec<(String, usize, Vec<PathBuf>)>,
    pub seconds: f64,
}

/// The report of a run that found nothing new since `last`: its outputs stand as they are.
pub(super) fn unchanged_report(
    staging: &stage::Staging,
    last: &store::LastRun,
    removed_stale: Vec<PathBuf>,
    timer: &timing::Timer,
    run_id: &str,
) -> RunReport {
    let mut rows: BTreeMap<Table, u64> = BTreeMap::new();
    for e in &staging.entries {
        if let Some(t) = Table::from_name(&e.table) {
            *rows.entry(t).or_default() += e.rows;
        }
    }
    // Bad records once per file and table, as a run that judges them counts them (`Staging::malformed`).
    for m in &staging.malformed {
        *rows.entry(m.table).or_default() += 1;
    }
    timer.done("nothing changed");
    RunReport {
        rows: rows.into_iter().collect(),
        rejected: Vec::new(),
        superseded: Vec::new(),
        blank_lines: Vec::new(),
        notes: staging.notes.clone(),
        warnings: Vec::new(),
        removed_stale,
        files_staged: staging.files_staged,
        files_reused: staging.files_reused,
        store_discarded: None,
        remapped: Vec::new(),
        damaged_parts: staging.damaged,
        periods_recomputed: BTreeMap::new(),
        alerts: 0,
        expectations: Vec::new(),
        unchanged_since: Some(last.run_id.clone()),
        run_id: run_id.to_string(),
        lock_taken_over: None,
        outputs: Vec::new(),
        seconds: timer.elapsed(),
    }
}
