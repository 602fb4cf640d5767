//! A run, stage by stage: read and stage the sources, judge their rows, derive the facts, aggregate the
//! segments, write and commit the outputs, keep the store; each stage a function named as the run record
//! names it (`timing`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::{DataError, Error};
use crate::exec::aggregate::period_exprs;
use crate::exec::aggregate::rows;
use crate::exec::aggregate::segment;
use crate::exec::facts::{self, business, hold, threads};
use crate::exec::judge::{self, quarantine, values};
use crate::exec::outputs::review;
use crate::exec::outputs::write::{self, check_no_empty_segment, merge_recomputed_periods, outputs_written, Merged};
use crate::exec::record::{self, interrupt, timing};
use crate::exec::store::{self, id_index, parts, stage, touched};
use crate::exec::{read, short, Staged};
use crate::model::Table;
use crate::plan::{EngineChoice, Plan};
use crate::sink;

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

/// Runs the plan and writes its outputs into `out_dir`; nothing is written unless every table succeeds.
pub fn run(plan: &Plan, out_dir: &Path) -> Result<RunReport, Error> {
    run_with(plan, out_dir, &RunOptions::default())
}

/// How a run treats what earlier runs left.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Stage every input again, ignoring the store.
    pub full: bool,
    /// Fail rather than stage every file of a source again when the store cannot be used for it (another
    /// deskpulse version, a changed mapping).
    pub no_restage: bool,
    /// A backfill: recompute the periods starting in `[from, to)` and replace only those.
    pub from: Option<jiff::civil::Date>,
    pub to: Option<jiff::civil::Date>,
    /// The store's folder (default `DIR/_store`).
    pub store: Option<PathBuf>,
    /// Told each stage's end (progress, logs).
    pub on_stage: Option<timing::StageHook>,
    /// The cluster that runs the segments' group-bys (`--engine ballista`); every period is recomputed.
    #[cfg(feature = "ballista")]
    pub cluster: Option<std::sync::Arc<crate::distributed::Cluster>>,
    /// The executors cannot read the store's parts (`--hand-over-rows`): the client hands every row over.
    #[cfg(feature = "ballista")]
    pub hand_over_rows: bool,
}

impl RunOptions {
    /// A backfill's window is a window, and merges into tables it can read back.
    fn check(&self, plan: &Plan) -> Result<(), Error> {
        if let (Some(f), Some(t)) = (self.from, self.to) {
            if f >= t {
                return Err(Error::Usage(format!("--from {f} must come before --to {t}")));
            }
        }
        let backfill = self.from.is_some() || self.to.is_some();
        let single = plan.layout == crate::plan::Layout::Single;
        if backfill && single && !plan.formats.contains(&crate::plan::OutputFormat::Parquet) {
            return Err(Error::Usage(
                "a backfill (--from/--to) merges its periods into the earlier Parquet tables: add parquet to \
                 outputs.formats, or use outputs.layout: hive"
                    .into(),
            ));
        }
        Ok(())
    }

    /// A backfill's window as days since the epoch.
    fn window_days(&self) -> (Option<i32>, Option<i32>) {
        let day = |d: Option<jiff::civil::Date>| d.map(|d| period_exprs::days_since_epoch(d) as i32);
        (day(self.from), day(self.to))
    }

    fn store_dir(&self, plan: &Plan, out_dir: &Path) -> PathBuf {
        self.store.clone().or_else(|| plan.store_dir.clone()).unwrap_or_else(|| out_dir.join("_store"))
    }
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

/// A full disk surfaces as whatever failed first: a write, or a read of a truncated staged file. Either is
/// the output disk's fault (exit 4), not the input's or a bug.
fn as_disk_fault(out_dir: &Path, e: Error) -> Error {
    match e {
        Error::Internal(message) | Error::Data(DataError::Unreadable { message, .. })
            if disk_full(out_dir, &message) =>
        {
            Error::Output { path: out_dir.to_path_buf(), message: format!("the disk is full: {}", short(&message)) }
        },
        other => other,
    }
}

/// Does this failure come from a full disk under `dir`?
fn disk_full(dir: &Path, message: &str) -> bool {
    const NEARLY_FULL: u64 = 16 << 20;
    message.contains("No space left")
        || message.contains("os error 28")
        || message.contains("Disk quota exceeded")
        || sink::free_space(dir).is_some_and(|free| free < NEARLY_FULL)
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
    let (names, tables) = segments_computed(plan, &staged, timer)?;
    let single = plan.layout == crate::plan::Layout::Single;
    let mut merged = Merged::default();
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

/// What judging the rows leaves for the later stages.
struct Judged {
    /// Rows read per table (malformed lines included).
    rows: Vec<(Table, u64)>,
    rejected: Vec<(Table, String, u64)>,
    superseded: Vec<(Table, u64)>,
    warnings: Vec<String>,
    expectations: Vec<record::ExpectationResult>,
    /// Every table's kept rows.
    kept: BTreeMap<Table, LazyFrame>,
    copies: BTreeMap<Table, quarantine::CopyVerdicts>,
    orphans: Vec<crate::exec::judge::references::Orphans>,
    #[cfg(feature = "ballista")]
    store_reads: crate::exec::cluster::from_store::StoreReads,
}

/// Values checked, then every row judged (plausible range, repeated ids, references): the quarantined
/// rows written to `_rejected/` and counted. The row rules were marked while the sources were read, so the
/// staged table is the only copy: the rejected rows are split off it, the kept ones read with a filter.
fn rows_judged(
    plan: &Plan,
    out_dir: &Path,
    staging: &stage::Staging,
    output: &mut sink::Output,
    options: &RunOptions,
    timer: &timing::Timer,
) -> Result<Judged, Error> {
    let trace = |what: &str| timer.done(what);
    timing::traced("values checked", || values::check_values(plan, &staging.fresh))?;
    let mut rows: Vec<(Table, u64)> = staging.rows().into_iter().collect();
    for (table, n) in rows.iter_mut() {
        *n += staging.malformed_of(*table).count() as u64;
    }
    trace("values checked");
    let mut rejected_paths = BTreeMap::new();
    for table in staging.read.keys() {
        rejected_paths.insert(*table, output.reserve(&format!("_rejected/{table}.parquet"))?);
    }
    let verdicts = judge::verdicts(plan, staging, &|what| trace(what))?;
    let expectations_dir = out_dir.join("_expectations");
    let outcomes = timing::traced("expectations judged", || {
        judge::expectations::judge(plan, &verdicts.judged, &expectations_dir)
    })?;
    let mut warnings: Vec<String> = plan.segments.iter().filter_map(left_out_warning).collect();
    let nowhere: Vec<&str> = (0..plan.kpis.len())
        .filter(|i| !plan.segments.iter().any(|s| s.kpis.contains(i)))
        .map(|i| plan.kpis[i].name.as_str())
        .collect();
    if !nowhere.is_empty() {
        warnings.push(format!("no segment computes {}: their dimensions or grains do not fit", nowhere.join(", ")));
    }
    warnings.extend(verdicts.unresolved.iter().map(|(_, w)| w.clone()));
    let (errors, warns): (Vec<_>, Vec<_>) = outcomes.iter().filter(|(_, o)| !o.passed).partition(|(_, o)| o.error);
    warnings.extend(warns.iter().map(|(t, o)| o.line(*t)));
    if !errors.is_empty() {
        return Err(Error::Expectations {
            failed: errors.iter().map(|(t, o)| o.line(*t)).collect(),
            dir: expectations_dir,
        });
    }
    trace("references checked");
    judge::write_rejected(plan, staging, &verdicts, &rejected_paths)?;
    #[cfg(feature = "ballista")]
    let store_reads = match options.cluster.is_some() && !options.hand_over_rows {
        true => crate::exec::cluster::from_store::StoreReads {
            parts: staging
                .part_files
                .iter()
                .map(|(t, parts)| (*t, parts.iter().map(|p| p.path.clone()).collect()))
                .collect(),
            dropped: judge::dropped_by_table_verdicts(plan, staging, &verdicts)?,
        },
        false => Default::default(),
    };
    #[cfg(not(feature = "ballista"))]
    let _ = options;
    let judge::Verdicts { judged, may_supersede, unresolved, copies, orphans, .. } = verdicts;
    let kept: BTreeMap<Table, LazyFrame> = judged.into_iter().map(|(t, lf)| (t, quarantine::kept(lf))).collect();
    trace("quarantined rows written");
    let (rejected, superseded) =
        judge::quarantine_report(plan, &rows, &kept, &may_supersede, &rejected_paths, &unresolved)?;
    trace("quarantine counted");
    let expectations = outcomes
        .iter()
        .map(|(t, o)| record::ExpectationResult {
            name: o.name.clone(),
            table: t.to_string(),
            severity: if o.error { "error" } else { "warn" }.into(),
            failed: o.failed,
            rows: o.rows,
            passed: o.passed,
        })
        .collect();
    Ok(Judged {
        rows,
        rejected,
        superseded,
        warnings,
        expectations,
        kept,
        copies,
        orphans,
        #[cfg(feature = "ballista")]
        store_reads,
    })
}

/// After a night that brought only some files, the segments are computed for the periods those files
/// touch (`touched`), and merged into the tables the last run wrote. Empty: every period.
fn periods_to_recompute(
    plan: &Plan,
    out_dir: &Path,
    options: &RunOptions,
    store: &store::Store,
    staging: &stage::Staging,
    inputs_dir: &Path,
    staged: &Staged,
) -> Result<BTreeMap<String, Vec<i32>>, Error> {
    let backfill = options.from.is_some() || options.to.is_some();
    let partial_ok = !options.full
        && !staged.on_cluster()
        && !backfill
        && store.discarded.is_none()
        && staging.damaged == 0
        && plan.engine != EngineChoice::InMemory
        && plan.formats.contains(&crate::plan::OutputFormat::Parquet);
    let Some(last) = store.manifest.last_run.as_ref().filter(|_| partial_ok) else { return Ok(BTreeMap::new()) };
    let touched = touched::periods_to_recompute(plan, &store.dir, inputs_dir, &store.manifest, last, staging)?;
    Ok(touched
        .unwrap_or_default()
        .into_iter()
        // A segment no new row reaches (the night's rows all quarantined) is computed whole: it has no
        // period of its own to merge.
        .filter(|(name, days)| {
            // With `hive`, a night writes only its periods' partitions: a segment that compares periods (or
            // fills them, or is watched for alerts) is computed whole, so that the next periods' follow.
            let comparing = |s: &crate::plan::Segment| {
                crate::exec::outputs::watch::needs_history(plan, s) && plan.layout == crate::plan::Layout::Hive
            };
            !days.is_empty()
                && plan
                    .segments
                    .iter()
                    .any(|s| s.name == *name && !comparing(s) && write::earlier_output_whole(out_dir, last, s))
        })
        .collect())
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

/// Every segment's table, then the tables for people (review sample, follow-up list, per-ticket table),
/// with their output names.
fn segments_computed(
    plan: &Plan,
    staged: &Staged,
    timer: &timing::Timer,
) -> Result<(Vec<String>, Vec<DataFrame>), Error> {
    let mut names: Vec<String> = plan.segments.iter().map(|s| s.name.clone()).collect();
    let mut extras = Vec::new();
    for (name, frame) in [
        ("review_sample", review::review_sample(plan, staged)?),
        ("follow_up", review::follow_up(plan, staged)?),
        ("tickets", review::per_ticket(plan, staged)?),
        ("sla", crate::exec::outputs::sla::sla_table(plan, staged)?),
        ("replies", crate::exec::outputs::replies::replies_table(plan, staged)?),
    ] {
        if let Some(frame) = frame {
            names.push(format!("{name}/{name}"));
            extras.push(frame);
        }
    }
    let tables = match plan.engine {
        EngineChoice::Auto | EngineChoice::Streaming => streamed_tables(plan, staged, extras, timer)?,
        EngineChoice::InMemory => {
            let mut frames: Vec<LazyFrame> =
                plan.segments.iter().map(|s| segment::segment_frame(plan, s, staged)).collect::<Result<_, _>>()?;
            frames.extend(extras);
            // In memory, one joint plan: the tables' scans and joins are shared between segments.
            LazyFrame::collect_all_with_engine(
                frames.into_iter().map(|f| f.logical_plan).collect(),
                Engine::InMemory,
                OptFlags::default(),
            )?
        },
    };
    timer.done("segments computed");
    Ok((names, tables))
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

/// The segments' tables (then `extras`) on the streaming engine, one aggregation at a time, so that the
/// peak memory is the largest aggregation's rather than the sum of all (10M tickets: 1.5 → 0.9 GB).
fn streamed_tables(
    plan: &Plan,
    staged: &Staged,
    extras: Vec<LazyFrame>,
    timer: &timing::Timer,
) -> Result<Vec<DataFrame>, Error> {
    let streamed = |lf: LazyFrame| lf.collect_with_engine(Engine::Streaming).map(|r| r.unwrap_single());
    let mut tables = Vec::new();
    let total = plan.segments.len() as u64;
    let trace = std::env::var_os("DESKPULSE_TRACE");
    let show_plans = trace.as_deref() == Some(std::ffi::OsStr::new("plan"));
    let trace = trace.is_some();
    for (i, seg) in plan.segments.iter().enumerate() {
        timer.progress("segments", i as u64, total);
        let parts = segment::segment_parts(plan, seg, staged)?
            .into_iter()
            .map(|part| {
                let started = std::time::Instant::now();
                if show_plans {
                    eprintln!("{}", part.describe_optimized_plan()?);
                }
                let df = streamed(part)?;
                if trace {
                    // Which KPIs a part computes, and how long it took: where a segment's time goes.
                    let kpis = df.column("kpi").ok().and_then(|c| c.unique_stable().ok());
                    let names: Vec<String> = kpis
                        .and_then(|c| c.str().ok().map(|s| s.iter().flatten().map(str::to_string).collect()))
                        .unwrap_or_default();
                    eprintln!("    part {:.2} s: {}", started.elapsed().as_secs_f64(), names.join(" "));
                }
                Ok(df.lazy())
            })
            .collect::<PolarsResult<Vec<_>>>()?;
        tables.push(segment::finish(seg, concat(parts, UnionArgs::default())?).collect()?);
        timer.done(&format!("segment {}", seg.name));
        interrupt::check()?;
        timer.progress("segments", i as u64 + 1, total);
    }
    for extra in extras {
        tables.push(streamed(extra)?);
    }
    Ok(tables)
}

/// One line per segment naming the declared KPIs it leaves out, grouped by reason.
fn left_out_warning(segment: &crate::plan::Segment) -> Option<String> {
    let mut by_reason: Vec<(&str, Vec<&str>)> = Vec::new();
    for (kpi, why) in &segment.left_out {
        match by_reason.iter_mut().find(|(w, _)| w == why) {
            Some((_, kpis)) => kpis.push(kpi),
            None => by_reason.push((why, vec![kpi])),
        }
    }
    let parts: Vec<String> = by_reason.iter().map(|(why, kpis)| format!("{} ({why})", kpis.join(", "))).collect();
    (!parts.is_empty()).then(|| format!("segment `{}` leaves out {}", segment.name, parts.join("; ")))
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

/// The report of a run that found nothing new since `last`: its outputs stand as they are.
fn unchanged_report(
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

/// Staging writes a typed copy of every input beside the outputs; it needs about this share of the
/// inputs' size (measured: the generated 1M-ticket dump, 167 MB of CSV, peaked at 39 MB of work files).
const STAGE_SHARE: f64 = 0.25;

/// Fails before any work when the disk cannot hold the staged copy of the inputs.
fn check_free_space(plan: &Plan, work: &Path) -> Result<(), Error> {
    let Some(free) = sink::free_space(work) else { return Ok(()) };
    let mut inputs = 0u64;
    for source in &plan.sources {
        // A retaining source whose files all rotated away is checked by staging, against its store.
        let files = match read::files(source) {
            Err(_) if source.retain => Vec::new(),
            listed => listed?,
        };
        for file in files {
            inputs += std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        }
    }
    let needed = (inputs as f64 * STAGE_SHARE) as u64;
    if needed > free {
        return Err(Error::Output {
            path: work.parent().unwrap_or(work).to_path_buf(),
            message: format!(
                "not enough free space to stage the inputs: about {} needed (a typed copy of {} of input files), {} free; \
                 free some space or write the outputs to another disk with --out",
                human_bytes(needed),
                human_bytes(inputs),
                human_bytes(free)
            ),
        });
    }
    Ok(())
}

fn human_bytes(n: u64) -> String {
    let n = n as f64;
    match n {
        n if n >= 1e9 => format!("{:.1} GB", n / 1e9),
        n if n >= 1e6 => format!("{:.1} MB", n / 1e6),
        n => format!("{:.0} kB", n / 1e3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_an_output_fault_whatever_failed() {
        let dir = std::env::temp_dir();
        let internal = Error::Internal("parquet: Io error: No space left on device (os error 28)".into());
        assert_eq!(as_disk_fault(&dir, internal).exit_code(), crate::error::exit::OUTPUT);
        let unreadable = Error::Data(DataError::Unreadable {
            source_name: "t".into(),
            file: "(one of the source files)".into(),
            message: "parquet: No space left on device".into(),
        });
        assert_eq!(as_disk_fault(&dir, unreadable).exit_code(), crate::error::exit::OUTPUT);
        let bug = Error::Internal("not found: column x".into());
        assert_eq!(as_disk_fault(&dir, bug).exit_code(), crate::error::exit::INTERNAL);
    }
}
