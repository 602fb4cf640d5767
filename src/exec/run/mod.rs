//! A run, stage by stage: read and stage the sources, judge their rows, derive the facts, aggregate the
//! segments, write and commit the outputs, keep the store; each stage a function named as the run record
//! names it (`timing`).

mod disk;
mod judged;
mod options;
mod recompute;
mod report;
mod segments;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::Error;
use crate::exec::aggregate::period_exprs;
use crate::exec::aggregate::rows;
#[cfg(feature = "ballista")]
use crate::exec::aggregate::segment;
use crate::exec::facts::{self, business, hold, threads};
use crate::exec::judge::values;
use crate::exec::outputs::write::{self, check_no_empty_segment, merge_recomputed_periods, outputs_written, Merged};
use crate::exec::record::{self, interrupt, timing};
use crate::exec::store::{self, id_index, parts, stage, touched};
use crate::exec::Staged;
use crate::model::Table;
use crate::plan::Plan;
use crate::sink;

use disk::{as_disk_fault, check_free_space};
use judged::rows_judged;
pub use options::RunOptions;
use recompute::periods_to_recompute;
use report::unchanged_report;
pub use report::RunReport;
use segments::segments_computed;

/// Runs the plan and writes its outputs into `out_dir`; nothing is written unless every table succeeds.
pub fn run(plan: &Plan, out_dir: &Path) -> Result<RunReport, Error> {
    run_with(plan, out_dir, &RunOptions::default())
}

/// `run`, with options: under the output directory's lock, and leaving a run record, failed or not.
pub fn run_with(plan: &Plan, out_dir: &Path, options: &RunOptions) -> Result<RunReport, Error> {
    let timer = timing::Timer::start(options.on_stage.clone());
    let started = jiff::Timestamp::now();
    let run_id = record::new_run_id(started);
    let _disarm = Disarm;
    let lock = sink::lock::Lock::acquire(out_dir)?;
    let ctx = record::Context { run_id: &run_id, started, plan, options, seconds: Vec::new(), total_seconds: 0.0 };
    let cancelled = record::record(&ctx, &Err(Error::Interrupted { signal: 0 }));
    interrupt::arm(out_dir.to_path_buf(), lock.path().to_path_buf(), cancelled);
    let mut result = run_in(plan, out_dir, options, &timer, &run_id).map_err(|e| as_disk_fault(out_dir, e));
    if let Ok(report) = &mut result {
        report.lock_taken_over = lock.took_over.clone();
    }
    let ctx = record::Context {
        run_id: &run_id,
        started,
        plan,
        options,
        seconds: timer.stages(),
        total_seconds: timer.elapsed(),
    };
    let written = record::write(out_dir, &record::record(&ctx, &result));
    if let (Ok(_), Err(e)) = (&result, written) {
        return Err(Error::Output { path: out_dir.join(record::RUNS), message: format!("the run record: {e}") });
    }
    // The pipeline's report reads the outputs and the record just written, still under the run's lock.
    if let (Ok(_), Some(name)) = (&result, &plan.report) {
        crate::report::write(out_dir, &out_dir.join(name))?;
    }
    drop(lock);
    // Fetched objects were in the run's work folder, now gone.
    crate::exec::read::remote::forget_copies();
    result
}

/// Tells the watchdog that the run is over, however `run_with` returns (after its lock is released).
struct Disarm;

impl Drop for Disarm {
    fn drop(&mut self) {
        interrupt::disarm();
    }
}

/// The run under its lock: each stage a function, named as the run record names its time.
fn run_in(
    plan: &Plan,
    out_dir: &Path,
    options: &RunOptions,
    timer: &timing::Timer,
    run_id: &str,
) -> Result<RunReport, Error> {
    let backfill = options.from.is_some() || options.to.is_some();
    options.check(plan)?;
    let mut output = sink::Output::create(out_dir)?;
    let removed_stale = output.removed_stale.clone();
    let (mut store, staging, inputs_dir) = sources_read_and_staged(plan, out_dir, options, &output, timer)?;
    let key = inputs_key(plan, &staging.entries);
    if let Some(last) = store.manifest.last_run.clone().filter(|_| !options.full && !backfill) {
        if last.inputs_key == key && last.outputs.iter().all(|o| out_dir.join(o).exists()) {
            let report = unchanged_report(&staging, &last, removed_stale, timer, run_id);
            // Files read again (a new modification time, the same bytes) are known by their new times.
            let manifest =
                store::Manifest { files: staging.entries.clone(), last_run: Some(last), ..Default::default() };
            let committing = interrupt::committing();
            store.commit(manifest, &staging.new_parts)?;
            committing.done();
            return Ok(report);
        }
    }
    interrupt::check()?;
    let judged = rows_judged(plan, out_dir, &staging, &mut output, options, timer)?;
    interrupt::check()?;
    let mut warnings = judged.warnings.clone();
    let mut staged = Staged::new(plan, threads::resolve(plan, judged.kept)?, None);
    #[cfg(feature = "ballista")]
    {
        staged.cluster = options.cluster.clone();
    }
    if !plan.business_hours.is_empty() {
        staged.clock = Some(business_clock(plan, &staged.frames)?);
    }
    let only = periods_to_recompute(plan, out_dir, options, &store, &staging, &inputs_dir, &staged)?;
    timer.done("periods to recompute");
    values::check_metric_sql(plan, &staged)?;
    staged.only = only.clone();
    staged.earlier = (!only.is_empty()).then(|| out_dir.to_path_buf());
    if !only.is_empty() {
        let reads = parts::PartReads::new(staging.part_files.clone(), judged.copies, judged.orphans, &staging.read)?;
        staged.part_reads = Some(reads);
    }
    interrupt::check()?;
    facts_computed(plan, &mut staged, &staging, &output)?;
    interrupt::check()?;
    #[cfg(feature = "ballista")]
    rows_on_the_cluster(plan, &mut staged, judged.store_reads)?;
    id_index::forget();
    let segments::Computed { names, tables, sliced } = segments_computed(plan, &staged, timer)?;
    let single = plan.layout == crate::plan::Layout::Single;
    let mut merged = Merged { sliced, ..Default::default() };
    for (name, df) in names.into_iter().zip(tables) {
        let df = match backfill {
            true => write::merge_backfill_window(plan, out_dir, &name, df, options.window_days())?,
            false => merge_recomputed_periods(out_dir, &name, df, only.get(&name).filter(|_| single), &mut merged)?,
        };
        let df = crate::exec::outputs::watch::watched_table(plan, &name, df, &mut merged)?;
        merged.tables.push((name, df));
    }
    check_no_empty_segment(plan, out_dir, &merged.tables, &only, backfill, &mut warnings)?;
    if let Some(b) = &plan.benchmarks {
        let merged_into = if single { &only } else { &BTreeMap::new() };
        for (name, table) in write::benchmark_tables(plan, b, &merged.tables, merged_into, out_dir)? {
            merged.earlier_rows.extend(table.earlier_rows.map(|rows| (name.clone(), rows)));
            merged.tables.push((name, table.table));
        }
    }
    let alerts = crate::exec::outputs::alerts::with_alerts(plan, &mut merged, &mut warnings)?;
    let window = options.window_days();
    output.keep_identical = !backfill;
    let outputs = outputs_written(plan, out_dir, &mut output, merged, &only, backfill.then_some(window), &store)?;
    timer.done("outputs written");
    interrupt::check()?;
    let committing = interrupt::committing();
    output.commit()?;
    timer.done("outputs committed");
    store_kept(plan, &mut store, &staging, &output, run_id, key, backfill)?;
    committing.done();
    Ok(RunReport {
        rows: judged.rows,
        rejected: judged.rejected,
        superseded: judged.superseded,
        blank_lines: staging.blank_lines.clone(),
        notes: staging.notes.clone(),
        warnings,
        files_staged: staging.files_staged,
        files_reused: staging.files_reused,
        store_discarded: store.discarded.clone(),
        remapped: staging.remapped.clone(),
        damaged_parts: staging.damaged,
        periods_recomputed: only.iter().map(|(s, d)| (s.clone(), d.len())).collect(),
        alerts,
        expectations: judged.expectations.clone(),
        unchanged_since: None,
        run_id: run_id.to_string(),
        lock_taken_over: None,
        removed_stale,
        outputs,
        seconds: timer.elapsed(),
    })
}

/// Every input file listed; those the store holds read from their parts, the others checked, normalised
/// and staged as new parts (`stage`). Returns the store, what staging found, and the run's inputs folder.
fn sources_read_and_staged(
    plan: &Plan,
    out_dir: &Path,
    options: &RunOptions,
    output: &sink::Output,
    timer: &timing::Timer,
) -> Result<(store::Store, stage::Staging, PathBuf), Error> {
    check_free_space(plan, output.work_dir())?;
    let inputs_dir = output.work_dir().join("inputs");
    std::fs::create_dir_all(&inputs_dir)
        .map_err(|e| Error::Output { path: inputs_dir.clone(), message: e.to_string() })?;
    let store = store::Store::open(&options.store_dir(plan, out_dir))?;
    if let (Some(why), true) = (&store.discarded, options.no_restage) {
        return Err(Error::Output {
            path: store.dir.clone(),
            message: format!("{why}; --no-restage forbids staging every file again"),
        });
    }
    let restage = options.full || store.discarded.is_some();
    let staging =
        stage::stage(plan, &store, restage, &inputs_dir, &|done, total| timer.progress("staging files", done, total))?;
    if options.no_restage && !staging.remapped.is_empty() {
        return Err(Error::Output {
            path: store.dir.clone(),
            message: format!(
                "the mapping of source(s) {} changed since their files were staged; --no-restage forbids staging \
                 them again",
                staging.remapped.join(", ")
            ),
        });
    }
    timer.done("sources read and staged");
    Ok((store, staging, inputs_dir))
}

/// The facts every segment reads, computed once: small tables held in memory, the derived tables
/// (`facts::compute_once`), the survey answers with their tickets, the answered tickets.
fn facts_computed(
    plan: &Plan,
    staged: &mut Staged,
    staging: &stage::Staging,
    output: &sink::Output,
) -> Result<(), Error> {
    // A single segment reads each table once anyway; holding would only add the memory.
    if staged.only.is_empty() && plan.segments.len() > 1 {
        timing::traced("small tables held", || hold::hold_small_tables(staged, &staging.rows()))?;
    }
    timing::traced("facts computed", || facts::compute_once(plan, staged, output.work_dir()))?;
    if facts::sla::needed(plan) {
        let instances = timing::traced("SLA instances", || facts::sla::instances(plan, staged))?;
        let instances = facts::sla::kept_columns(plan, instances)?;
        staged.frames.insert(Table::SlaInstances, instances.lazy());
        staged.held.push(Table::SlaInstances);
    }
    staged.answers =
        timing::traced("answers with their tickets", || rows::answers_with_tickets(plan, staged, output.work_dir()))?;
    staged.answered = timing::traced("answered tickets", || rows::answered_tickets(plan, staged))?;
    Ok(())
}

/// On a cluster, the rows several segments reduce: read by the executors from the store's parts, or
/// handed over once.
#[cfg(feature = "ballista")]
fn rows_on_the_cluster(
    plan: &Plan,
    staged: &mut Staged,
    store_reads: crate::exec::cluster::from_store::StoreReads,
) -> Result<(), Error> {
    let Some(cluster) = staged.cluster.clone() else { return Ok(()) };
    for shared in segment::shared_rows(plan, staged, &store_reads)? {
        let table = shared.table;
        let from_store = match shared.from_store {
            Some(query) => timing::traced(&format!("{table} read from the store"), || cluster.read_store(query))?,
            None => None,
        };
        let handed = match from_store {
            Some(handed) => {
                tracing::info!(
                    event = "store_read",
                    table = table.name(),
                    "{table}: the executors read its rows from the store's parts"
                );
                handed
            },
            None if shared.readers < 2 => continue,
            None => timing::traced(&format!("{table} handed over"), || cluster.hand_over(table.name(), shared.rows))?,
        };
        staged.shared.insert(table, handed);
    }
    Ok(())
}

/// The store's manifest committed with the files staged and this run as the last one, so the next night
/// knows what changed. After a backfill the outputs are not what a full run would write (periods outside
/// the window were kept): the next run recomputes.
fn store_kept(
    plan: &Plan,
    store: &mut store::Store,
    staging: &stage::Staging,
    output: &sink::Output,
    run_id: &str,
    inputs_key: String,
    backfill: bool,
) -> Result<(), Error> {
    let (pipeline_hash, plausible, as_of) = touched::settings(plan);
    let last_run = (!backfill).then(|| store::LastRun {
        run_id: run_id.to_string(),
        inputs_key,
        outputs: output.written(),
        digests: output.digests(),
        pipeline_hash: Some(pipeline_hash),
        plausible: Some(plausible),
        as_of,
    });
    store.commit(store::Manifest { files: staging.entries.clone(), last_run, ..Default::default() }, &staging.new_parts)
}

/// The business clock over the tickets' whole span, up to the as-of day.
fn business_clock(plan: &Plan, frames: &BTreeMap<Table, LazyFrame>) -> Result<business::BusinessClock, Error> {
    let today = plan.as_of.to_zoned(jiff::tz::TimeZone::UTC).date();
    let Some(tickets) = frames.get(&Table::Tickets) else {
        return Ok(business::BusinessClock::new(plan, today, today)?);
    };
    let day = |c: &str| col(c).dt().date().cast(DataType::Int32);
    let last = polars::lazy::dsl::max_horizontal(
        ["created_at", "first_response_at", "resolved_at", "closed_at"].map(|c| day(c).max()),
    )?;
    let (lo, hi) = period_exprs::day_span(tickets.clone(), day("created_at").min(), last)?.unwrap_or((today, today));
    let hi = hi.max(today);
    Ok(business::BusinessClock::new(plan, lo.min(hi), hi)?)
}

/// Everything the outputs are computed from: deskpulse, the pipeline, the staged parts in order, the
/// plausible range, and the as-of instant where SLA judgements of unanswered tickets read it.
fn inputs_key(plan: &Plan, entries: &[store::FileEntry]) -> String {
    let mut text = format!("{}\n{}\n{:?}\n", env!("CARGO_PKG_VERSION"), plan.pipeline_text, plan.plausible_range());
    if plan.sla.judges_as_of() {
        text.push_str(&format!("as_of {}\n", plan.as_of));
    }
    for e in entries {
        text.push_str(&e.part);
        text.push('\n');
    }
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(text.as_bytes()))
}
