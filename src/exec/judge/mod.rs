//! Judging every table's rows: the plausible range, repeated ids and references, from the store's id files
//! (`verdicts`); the quarantined rows written to `_rejected/` (`write_rejected`) and counted by reason
//! (`quarantine_report`).

pub(crate) mod expectations;
pub(crate) mod quarantine;
pub(crate) mod references;
pub(crate) mod values;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use polars::prelude::*;

use crate::exec::hash;

use crate::exec::store::id_index;

use crate::exec::read::prepare;

use crate::exec::read;

use crate::exec::store::write_parts::sink_all;

use crate::exec::store::stage;

use crate::error::{DataError, Error};
use crate::exec::record::timing;
use crate::model::Table;
use crate::plan::Plan;

/// The rows of every table judged (`quarantine::settle_candidates`, then `references::judge`), with what the
/// rest of the run needs from the judging.
pub(super) struct Verdicts {
    pub(super) judged: BTreeMap<Table, LazyFrame>,
    /// Tables where some copy of an id may be superseded (their kept rows must be counted).
    pub(super) may_supersede: BTreeSet<Table>,
    /// Per table, the hashes of the ids that may be repeated.
    pub(super) candidates: BTreeMap<Table, Vec<u64>>,
    /// Per table, the verdicts on its repeated ids, to judge some of its parts again.
    pub(super) copies: BTreeMap<Table, quarantine::CopyVerdicts>,
    pub(super) orphans: Vec<references::Orphans>,
    /// Per table, what the user should look at about its references.
    pub(super) unresolved: Vec<(Table, String)>,
}

/// Judges every table's rows (the plausible range, repeated ids, references) from the parts' id files:
/// every id read, the candidates for repeated ids, and what references resolve to.
pub(super) fn verdicts(plan: &Plan, staging: &stage::Staging, trace: &dyn Fn(&str)) -> Result<Verdicts, Error> {
    let mut ids: BTreeMap<(Table, &'static str), Vec<u64>> = BTreeMap::new();
    let id_columns = staging.part_files.keys().filter_map(|t| quarantine::id_column(*t).map(|c| (*t, c, true)));
    let referring = references::referring_columns(plan).into_iter().map(|(t, c)| (t, c, false));
    for (table, column, is_key) in id_columns.chain(referring) {
        if let Some(parts) = staging.part_files.get(&table) {
            let paths: Vec<PathBuf> = parts.iter().map(|p| p.path.clone()).collect();
            // A key's repeats are what the repeated-id rule looks for; a reference's are not.
            let hashes = timing::traced(&format!("hashes of {table}.{column}"), || match is_key {
                true => id_index::table_hashes(&paths, column),
                false => id_index::distinct_table_hashes(&paths, column),
            })?;
            ids.insert((table, column), hashes);
        }
    }
    let mut judged = BTreeMap::new();
    let mut may_supersede = BTreeSet::new();
    let mut candidates: BTreeMap<Table, Vec<u64>> = BTreeMap::new();
    let mut copies = BTreeMap::new();
    for (table, lf) in &staging.read {
        let (table, lf) = (*table, quarantine::mark_plausible(plan, *table, lf.clone()));
        let repeated = quarantine::id_column(table)
            .and_then(|id| ids.get(&(table, id)))
            .map(|all| id_index::repeated(all))
            .unwrap_or_default();
        candidates.insert(table, repeated.clone());
        let settled = quarantine::settle_candidates(table, lf, repeated)?;
        if settled.may_supersede {
            may_supersede.insert(table);
        }
        copies.extend(settled.copies.map(|c| (table, c)));
        judged.insert(table, settled.judged);
    }
    trace("repeated ids settled");
    let references::Judgement { warnings: unresolved, orphans } = references::judge(plan, &ids, &mut judged)?;
    Ok(Verdicts { judged, may_supersede, candidates, copies, orphans, unresolved })
}

/// Counts the quarantined rows by reason and the superseded copies; fails when a table's quarantined share
/// exceeds `max_rejected_share`.
#[allow(clippy::type_complexity)]
pub(super) fn quarantine_report(
    plan: &Plan,
    rows: &[(Table, u64)],
    kept: &BTreeMap<Table, LazyFrame>,
    may_supersede: &BTreeSet<Table>,
    rejected_paths: &BTreeMap<Table, PathBuf>,
    unresolved: &[(Table, String)],
) -> Result<(Vec<(Table, String, u64)>, Vec<(Table, u64)>), Error> {
    let mut rejected = Vec::new();
    let mut superseded = Vec::new();
    for (table, total) in rows {
        let path = PlRefPath::new(rejected_paths[table].to_string_lossy().as_ref());
        let by_reason = LazyFrame::scan_parquet(path, ScanArgsParquet::default())?
            .group_by([col(quarantine::REASON)])
            .agg([len().cast(DataType::UInt64).alias("n")])
            .sort([quarantine::REASON], SortMultipleOptions::default())
            .collect()?;
        let reasons = by_reason.column(quarantine::REASON)?.str()?;
        let counts = by_reason.column("n")?.u64()?;
        let mut table_rejected = 0;
        for (reason, n) in reasons.iter().zip(counts.iter()) {
            let n = n.unwrap_or(0);
            table_rejected += n;
            rejected.push((*table, reason.unwrap_or("").to_string(), n));
        }
        // Without copies to supersede, every row read is kept or rejected: no pass over the kept rows.
        let kept_rows = if may_supersede.contains(table) {
            let counted = kept[table]
                .clone()
                .select([len().cast(DataType::UInt64).alias("n")])
                .collect_with_engine(Engine::Streaming)?
                .unwrap_single();
            counted.column("n")?.u64()?.get(0).unwrap_or(0)
        } else {
            total.saturating_sub(table_rejected)
        };
        if kept_rows == 0 && !plan.allow_empty {
            let reasons: Vec<String> =
                rejected.iter().filter(|r| r.0 == *table).map(|r| format!("{}: {}", r.1, r.2)).collect();
            let what = match *total {
                0 => format!("the {table} sources hold no rows"),
                n => format!("none of the {n} {table} row(s) read is usable: {}", reasons.join(", ")),
            };
            let hints = unresolved.iter().filter(|(t, _)| t == table).map(|(_, w)| w.clone()).collect();
            return Err(DataError::Empty { what, hints }.into());
        }
        let dropped = total.saturating_sub(kept_rows + table_rejected);
        if dropped > 0 {
            superseded.push((*table, dropped));
        }
        // Declared, the ceiling counts every reason; by default, the rows' own faults only.
        let counts = |r: &&(Table, String, u64)| {
            r.0 == *table && (plan.max_rejected_share.is_some() || !r.1.starts_with("orphan_"))
        };
        let reasons: Vec<(String, u64)> = rejected.iter().filter(counts).map(|r| (r.1.clone(), r.2)).collect();
        let counted: u64 = reasons.iter().map(|r| r.1).sum();
        let max = plan.max_rejected_share.unwrap_or(crate::plan::DEFAULT_MAX_REJECTED_SHARE);
        let share = if *total == 0 { 0.0 } else { counted as f64 / *total as f64 };
        if share > max {
            let table = table.to_string();
            let declared = plan.max_rejected_share.is_some();
            return Err(
                DataError::TooManyRejected { table, rejected: counted, total: *total, max, declared, reasons }.into()
            );
        }
    }
    Ok((rejected, superseded))
}

/// Writes each table's quarantined rows (`DIR/_rejected/<table>.parquet` in the work folder), in file and
/// row order.
pub(super) fn write_rejected(
    plan: &Plan,
    staging: &stage::Staging,
    verdicts: &Verdicts,
    paths: &BTreeMap<Table, PathBuf>,
) -> Result<(), Error> {
    let mut rejected: Vec<(PathBuf, LazyFrame)> = Vec::new();
    for t in verdicts.judged.keys() {
        let copies = verdicts.copies.get(t);
        let suspects =
            suspect_rows(plan, *t, &staging.read[t], &verdicts.candidates[t], copies, &verdicts.orphans, true)?;
        let mut frames = vec![quarantine::rejected(plan, *t, suspects)];
        let malformed: Vec<&prepare::MalformedRow> = staging.malformed_of(*t).collect();
        if !malformed.is_empty() {
            frames.push(quarantine::malformed_rows(*t, &malformed)?);
        }
        // In file and row order: the join that settles repeated ids does not keep the order rows were read in.
        let by_place = SortMultipleOptions::default().with_maintain_order(true);
        rejected.push((paths[t].clone(), concat(frames, UnionArgs::default())?.sort(["file", "row"], by_place)));
    }
    sink_all(plan, rejected, ParquetCompression::Zstd(None))
}

/// Per table, the places (`__file`, `__row`) of the rows that the verdicts over the whole table drop: copies
/// of repeated ids rejected or superseded, rows whose references resolve nothing. With them, a cluster that
/// reads the staged parts keeps what a local run keeps by judging each row's own rules itself
/// (`from_store`).
#[cfg_attr(not(feature = "ballista"), allow(dead_code))]
pub(super) fn dropped_by_table_verdicts(
    plan: &Plan,
    staging: &stage::Staging,
    verdicts: &Verdicts,
) -> Result<BTreeMap<Table, LazyFrame>, Error> {
    let mut dropped = BTreeMap::new();
    for t in verdicts.judged.keys() {
        let copies = verdicts.copies.get(t);
        let suspects =
            suspect_rows(plan, *t, &staging.read[t], &verdicts.candidates[t], copies, &verdicts.orphans, false)?;
        dropped.insert(*t, suspects.filter(quarantine::is_kept().not()).select([col(read::FILE), col(read::ROW)]));
    }
    Ok(dropped)
}

/// The rows of `table` (`read`, as staged) that may be quarantined, judged as the whole table is: those that
/// break a rule (with `rules`), copies of the ids that may be repeated (`candidates`), and rows that hold a
/// value resolving nothing (`orphans`). Judging the few instead of every row lets the reader skip decoding
/// the rest (each reason is one read, the row groups where none can hold skipped); the verdicts on repeated
/// ids (`copies`) were found over all their copies.
fn suspect_rows(
    plan: &Plan,
    table: Table,
    read: &LazyFrame,
    candidates: &[u64],
    copies: Option<&quarantine::CopyVerdicts>,
    orphans: &[references::Orphans],
    rules: bool,
) -> Result<LazyFrame, Error> {
    let mut filters = if rules { quarantine::rule_filters(plan, table) } else { Vec::new() };
    if let (Some(id), false) = (quarantine::id_column(table), candidates.is_empty()) {
        let hashes = std::sync::Arc::new(candidates.to_vec());
        filters.push(hash::hash_in(col(id), &hashes));
    }
    let orphans: Vec<&references::Orphans> = orphans.iter().filter(|o| o.table() == table).collect();
    filters.extend(orphans.iter().map(|o| o.rows()));
    if filters.is_empty() {
        filters.push(lit(false));
    }
    // A row may pass several filters: it is kept once (by its place: file and row).
    let each: Vec<LazyFrame> = filters.into_iter().map(|f| read.clone().filter(f)).collect();
    let suspects =
        concat(each, UnionArgs::default())?.unique(Some(cols([read::FILE, read::ROW])), UniqueKeepStrategy::Any);
    let marked = quarantine::mark_plausible(plan, table, suspects);
    let mut judged = quarantine::judge_copies_with(copies, marked);
    for o in orphans {
        judged = references::mark(judged, o);
    }
    Ok(judged)
}
