//! What the outputs stage reads back from the last run's outputs: whether a segment's files are whole (for a
//! night to merge into), a segment's earlier table, and the benchmark tables computed over merged segments.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::{DataError, Error};
use crate::exec::aggregate::benchmark;
use crate::exec::aggregate::period_exprs;
use crate::exec::period_day;
use crate::exec::record::timing;
use crate::exec::store;
use crate::plan::Plan;
use crate::sink;

/// Whether the files the last run wrote for `seg` (its table and its benchmark table, each a file per
/// format or, with `hive`, a folder of partitions) are all on disk, for a night to recompute some of its
/// periods and keep the others.
pub(crate) fn earlier_output_whole(out_dir: &Path, last: &store::LastRun, seg: &crate::plan::Segment) -> bool {
    let of = |table: &str, file: &str| file.strip_prefix(table).is_some_and(|rest| rest.starts_with(['.', '/']));
    let benchmark = benchmark::output_name(seg);
    let files: Vec<&String> = last.outputs.iter().filter(|o| of(&seg.name, o) || of(&benchmark, o)).collect();
    files.iter().any(|o| of(&seg.name, o)) && files.iter().all(|o| out_dir.join(o).is_file())
}

/// A segment's table as the previous run wrote it (its Parquet file), for a backfill to merge into.
pub(crate) fn earlier_table(out_dir: &Path, name: &str) -> Result<Option<DataFrame>, Error> {
    let path = out_dir.join(format!("{name}.parquet"));
    if !path.is_file() {
        return Ok(None);
    }
    let file = std::fs::File::open(&path).map_err(|e| Error::Output { path: path.clone(), message: e.to_string() })?;
    let table = ParquetReader::new(file).finish().map_err(|e| Error::Output {
        path,
        message: format!("cannot read the earlier output to merge the backfill into: {e}"),
    })?;
    // Targets and comparisons are added again to the merged table.
    Ok(Some(crate::exec::outputs::watch::stripped(table)?))
}

/// The peer and reference comparisons of the segments' tables (`named`, in the order of the segments). A
/// row is compared with its own period's rows only: on a night, those of the periods not recomputed
/// (`only`) stand as the last run wrote them.
pub(crate) fn benchmark_tables(
    plan: &Plan,
    b: &crate::plan::Benchmarks,
    named: &[(String, DataFrame)],
    only: &BTreeMap<String, Vec<i32>>,
    out_dir: &Path,
) -> Result<Vec<(String, sink::Merged)>, Error> {
    let reference = benchmark::reference_table(b)?;
    let mut out = Vec::new();
    for (seg, (_, df)) in plan.segments.iter().zip(named) {
        let name = benchmark::output_name(seg);
        let earlier = match only.get(&seg.name) {
            Some(days) => timing::traced(&format!("read earlier {name}"), || earlier_table(out_dir, &name))?
                .map(|e| (e, period_exprs::one_of_days(period_day(), days))),
            None => None,
        };
        let rows = match &earlier {
            Some((_, touched)) => df.clone().lazy().filter(touched.clone()).collect()?,
            None => df.clone(),
        };
        let Some(lf) = benchmark::benchmark(plan, b, seg, &rows, reference.clone())? else { continue };
        let lf = timing::traced(&format!("compare {name}"), || lf.collect())?;
        let compared = match earlier {
            Some((earlier, touched)) => {
                timing::traced(&format!("merge {name}"), || sink::merge_periods(Some(earlier), lf, touched))?
            },
            None => sink::Merged { table: lf, earlier_rows: None },
        };
        out.push((name, compared));
    }
    Ok(out)
}

/// The run's tables by output name, and which earlier row each row of a merged table is (those rows' CSV
/// lines are copied from the last run's).
#[derive(Default)]
pub(crate) struct Merged {
    pub(crate) tables: Vec<(String, DataFrame)>,
    pub(crate) earlier_rows: BTreeMap<String, IdxCa>,
    /// Tables computed and written a slice at a time, as they are written (the SLA table).
    pub(crate) sliced: Vec<(String, Vec<LazyFrame>)>,
}

/// A table recomputed for some periods (`days`), merged into the one the last run wrote. With `hive`, the
/// recomputed periods are written as partitions beside the others, as they are (`days` is None).
pub(crate) fn merge_recomputed_periods(
    out_dir: &Path,
    name: &str,
    df: DataFrame,
    days: Option<&Vec<i32>>,
    merged: &mut Merged,
) -> Result<DataFrame, Error> {
    let Some(days) = days else { return Ok(df) };
    let touched = period_exprs::one_of_days(period_day(), days);
    let earlier = timing::traced(&format!("read earlier {name}"), || earlier_table(out_dir, name))?;
    let table = timing::traced(&format!("merge {name}"), || sink::merge_periods(earlier, df, touched))?;
    merged.earlier_rows.extend(table.earlier_rows.map(|rows| (name.to_string(), rows)));
    Ok(table.table)
}

/// A backfill's segment table: the periods starting in its window as recomputed (`fresh`), the others as the
/// last run wrote them, so that benchmarks, comparisons and alerts read the table the backfill leaves. With
/// `hive`, only a segment whose rows depend on its other periods (`watch::needs_history`) is read back: the
/// others' partitions outside the window stay on disk as they are.
pub(crate) fn merge_backfill_window(
    plan: &Plan,
    out_dir: &Path,
    name: &str,
    fresh: DataFrame,
    (from, to): (Option<i32>, Option<i32>),
) -> Result<DataFrame, Error> {
    let Some(seg) = plan.segments.iter().find(|s| s.name == name) else { return Ok(fresh) };
    let earlier = match plan.layout {
        crate::plan::Layout::Single => earlier_table(out_dir, name)?,
        crate::plan::Layout::Hive if crate::exec::outputs::watch::needs_history(plan, seg) => {
            earlier_partitions(out_dir, name, &fresh)?
        },
        crate::plan::Layout::Hive => return Ok(fresh),
    };
    let fresh = crate::exec::outputs::watch::stripped(fresh)?;
    Ok(timing::traced(&format!("merge {name}"), || sink::merge_window(earlier, fresh, from, to))?)
}

/// A `hive` segment's partitions as the last run wrote them, in the columns and types of `like` (the
/// recomputed table), without what the watch stage adds.
fn earlier_partitions(out_dir: &Path, name: &str, like: &DataFrame) -> Result<Option<DataFrame>, Error> {
    let dir = out_dir.join(name);
    let unreadable = |e: PolarsError| Error::Output {
        path: dir.clone(),
        message: format!("cannot read the earlier partitions to merge the backfill into: {e}"),
    };
    let Some(earlier) = sink::read_partitioned(&dir).map_err(unreadable)? else { return Ok(None) };
    let earlier = crate::exec::outputs::watch::stripped(earlier)?;
    let columns: Vec<Expr> = crate::exec::outputs::watch::stripped(like.clone())?
        .schema()
        .iter()
        .map(|(c, dtype)| col(c.clone()).cast(dtype.clone()))
        .collect();
    Ok(Some(earlier.lazy().select(columns).collect().map_err(unreadable)?))
}

/// A segment with no row fails the run (unless `allow_empty`): no kept row falls in it.
pub(crate) fn check_no_empty_segment(
    plan: &Plan,
    out_dir: &Path,
    named: &[(String, DataFrame)],
    only: &BTreeMap<String, Vec<i32>>,
    backfill: bool,
    warnings: &mut Vec<String>,
) -> Result<(), Error> {
    let single = plan.layout == crate::plan::Layout::Single;
    for (seg, (_, df)) in plan.segments.iter().zip(named) {
        let kept_partitions = || {
            let days = &only[&seg.name];
            sink::partitions_on_disk(&out_dir.join(&seg.name)).iter().any(|(_, d)| d.is_none_or(|d| !days.contains(&d)))
        };
        if df.height() > 0 || backfill || (!single && only.contains_key(&seg.name) && kept_partitions()) {
            continue;
        }
        let what = format!("segment `{}` has no rows: no kept row falls in it", seg.name);
        if !plan.allow_empty {
            return Err(DataError::Empty { what, hints: std::mem::take(warnings) }.into());
        }
        warnings.push(what);
    }
    Ok(())
}

/// Every table written into the run's work folder: a segment's (and its benchmark's) partitions with
/// `hive`, a backfill's window merged into the earlier table, the others whole (a night's merged tables
/// copying their earlier rows' CSV lines). `window`: the backfill's, as days since the epoch.
pub(crate) fn outputs_written(
    plan: &Plan,
    out_dir: &Path,
    output: &mut sink::Output,
    merged: Merged,
    only: &BTreeMap<String, Vec<i32>>,
    window: Option<(Option<i32>, Option<i32>)>,
    store: &store::Store,
) -> Result<Vec<(String, usize, Vec<PathBuf>)>, Error> {
    let metadata = sink::metadata(plan);
    let mut outputs = Vec::new();
    let Merged { tables, earlier_rows, sliced } = merged;
    for (name, mut df) in tables {
        // A segment's table or its benchmark table: both are partitioned by period with `hive`.
        let of_segment = plan.segments.iter().find(|s| s.name == name || benchmark::output_name(s) == name);
        let is_segment = of_segment.is_some_and(|s| s.name == name);
        let (rows, paths) = match (of_segment, plan.layout, window) {
            (Some(seg), crate::plan::Layout::Hive, _) => {
                let whole = is_segment && crate::exec::outputs::watch::needs_history(plan, seg);
                let which = match (only.get(&seg.name), window) {
                    // A backfill merged such a segment's window into its whole table: the later periods'
                    // comparisons changed with it.
                    (_, Some(_)) if whole => sink::Partitions::All,
                    (_, Some((from, to))) => sink::Partitions::Window(from, to),
                    (Some(days), None) => sink::Partitions::Days(days.iter().copied().collect()),
                    (None, None) => sink::Partitions::All,
                };
                let paths = timing::traced(&format!("write {name}"), || {
                    output.write_partitioned(&name, &df, &plan.formats, &metadata, &which)
                })?;
                (df.height(), paths)
            },
            _ => {
                let digests = store.manifest.last_run.as_ref().map(|l| &l.digests);
                let mut earlier_csv = earlier_rows
                    .get(&name)
                    .and_then(|rows| Some((sink::EarlierCsv::open(out_dir, &name, digests?)?, rows)));
                let earlier = earlier_csv.as_mut().map(|(csv, rows)| (csv, *rows));
                let paths = timing::traced(&format!("write {name}"), || {
                    output.write_merged(&name, &mut df, &plan.formats, &metadata, earlier)
                })?;
                (df.height(), paths)
            },
        };
        outputs.push((name, rows, paths));
    }
    for (name, slices) in sliced {
        let mut slices = slices.into_iter();
        let mut next = || -> Result<Option<DataFrame>, Error> {
            let Some(slice) = slices.next() else { return Ok(None) };
            Ok(Some(slice.collect_with_engine(Engine::Streaming)?.unwrap_single()))
        };
        let (rows, paths) = timing::traced(&format!("write {name}"), || {
            output.write_slices(&name, &mut next, &plan.formats, &metadata)
        })?;
        outputs.push((name, rows, paths));
    }
    Ok(outputs)
}
