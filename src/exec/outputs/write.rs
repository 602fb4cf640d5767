//! What the outputs stage reads back from the last run's outputs: whether a segment's files are whole (for a
//! night to merge into), a segment's earlier table, and the benchmark tables computed over merged segments.

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::*;

use crate::error::Error;
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
    ParquetReader::new(file).finish().map(Some).map_err(|e| Error::Output {
        path,
        message: format!("cannot read the earlier output to merge the backfill into: {e}"),
    })
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
