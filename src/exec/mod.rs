//! Execution on Polars, folder by stage of a run (`run.rs` calls them in this order; ARCHITECTURE.md maps
//! them): `read` finds and checks the files, `normalise` maps them onto the canonical tables, `store` stages
//! them as typed Parquet parts kept between runs, `judge` quarantines rows and checks values, `facts` derives
//! the per-ticket and per-reply facts once, `aggregate` computes each segment's KPI table from them,
//! `outputs` adds the tables for people and merges a night's periods into the last run's tables, `record`
//! writes the run record. `cluster` is the contract with the distributed engine. The only module that
//! imports polars.

pub(crate) mod aggregate;
pub(crate) mod cluster;
pub(crate) mod facts;
mod hash;
pub(crate) mod judge;
pub(crate) mod normalise;
pub(crate) mod outputs;
pub(crate) mod read;
pub(crate) mod record;
mod run;
mod staged;
pub mod store;

use polars::prelude::*;

use crate::error::Error;
use crate::exec::aggregate::period_exprs;
use crate::model::{ColumnType, Table};
use crate::plan::Plan;
pub(crate) use crate::sink::scan_file;

use aggregate::segment;
use normalise::frames::normalised;
use outputs::review;
use read::prepare;

pub use aggregate::benchmark::{render_scorecard, scorecard, CardFormat};
pub use aggregate::grouped::cluster_inputs;
pub use aggregate::segment::OUTPUT_COLUMNS;
#[cfg(feature = "ballista")]
pub use cluster::from_store::{not_dropped, StoreRows, NOT_DROPPED, PARTS};
pub use normalise::compile_sql;
pub use record::interrupt;
pub use record::timing::{Observe, StageHook};
pub use record::{list as run_records, table as run_table, RunRecord};
pub use run::{run, run_with, RunOptions, RunReport};
pub use staged::Staged;

/// Per table whose rows segments reduce, why the client hands them over to a cluster instead of the
/// executors reading them from the store's parts, if it does (`from_store::needs_the_client`).
#[cfg(feature = "ballista")]
pub fn row_sources(plan: &Plan) -> Vec<(Table, Option<&'static str>)> {
    segment::reducing_segments(plan)
        .into_iter()
        .map(|(table, wide, _)| (table, cluster::from_store::needs_the_client(plan, table, &wide)))
        .collect()
}

fn col_dtype(table: Table, column: &str) -> DataType {
    normalise::dtype(table.column(column).map(|c| c.ty).unwrap_or(ColumnType::Text))
}

/// Checks that need the files but not a full read: files exist, mapped columns exist, SQL compiles.
pub fn check(plan: &Plan) -> Result<(), Error> {
    let scratch = scratch_dir()?;
    let prepared = prepare::prepare(plan, scratch.path())?;
    let staged = normalised(plan, &prepared)?;
    for seg in &plan.segments {
        let _plan_builds = segment::segment_frame(plan, seg, &staged)?;
    }
    let _review_builds = review::review_sample(plan, &staged)?;
    let _follow_up_builds = review::follow_up(plan, &staged)?;
    Ok(())
}

/// A table's period as days since the epoch, as `only` lists them.
fn period_day() -> Expr {
    col(period_exprs::PERIOD).cast(DataType::Int32)
}

/// A temporary folder for rewritten inputs when no run's work folder exists (`validate`, `explain`).
fn scratch_dir() -> Result<tempfile::TempDir, Error> {
    tempfile::Builder::new()
        .prefix("deskpulse-check-")
        .tempdir()
        .map_err(|e| Error::Output { path: std::env::temp_dir(), message: e.to_string() })
}

/// The first line of an engine message, at most a few hundred bytes (the engine may quote whole rows).
pub(crate) fn short(message: &str) -> String {
    let line = message.lines().next().unwrap_or("");
    match line.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_string(),
    }
}

pub fn explain(plan: &Plan) -> Result<String, Error> {
    let scratch = scratch_dir()?;
    let prepared = prepare::prepare(plan, scratch.path())?;
    let staged = normalised(plan, &prepared)?;
    let mut out = String::new();
    for seg in &plan.segments {
        let lf = segment::segment_frame(plan, seg, &staged)?;
        out.push_str(&format!("== segment {} ==\n{}\n\n", seg.name, lf.explain(true)?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_messages_are_cut_to_their_first_line() {
        let long = format!("could not parse `{}`\nrest of the file", "x".repeat(10_000));
        let cut = short(&long);
        assert!(cut.len() < 400 && !cut.contains("rest of the file"), "{cut}");
    }
}
