//! The SLA table for people and notebooks (`outputs.sla`): one row per ticket, SLA metric and instance, with
//! the ticket's dimensions. The instances themselves are computed once by the facts stage (`facts::sla`).

use polars::prelude::*;

use crate::error::Error;
use crate::exec::aggregate::rows::{enriched, window_filter};
use crate::exec::Staged;
use crate::model::Table;
use crate::plan::{Grain, Plan};

/// Instances a slice of the table holds, about (`DESKPULSE_SLICE_ROWS` sets it, for tests): the table is
/// written a slice at a time (1M tickets give 4.4M instances, 1.7 GB as a frame).
const SLICE_ROWS: usize = 500_000;

/// `DIR/sla`: the instances of the window's tickets, in the order of their ticket's `created_at`, then
/// ticket, metric and instance, as slices of `created_at` whose rows one after the other are the table.
/// `instance` is the instance's number; the helpdesk instance a ticket comes from (`instance:` on its
/// source) is `helpdesk_instance`.
pub fn sla_table(plan: &Plan, staged: &Staged) -> Result<Option<Vec<LazyFrame>>, Error> {
    if !plan.sla_table {
        return Ok(None);
    }
    let slice_rows = std::env::var("DESKPULSE_SLICE_ROWS").ok().and_then(|n| n.parse().ok()).unwrap_or(SLICE_ROWS);
    let bounds = created_bounds(staged, slice_rows.max(1))?;
    let created = || col("created_at").cast(DataType::Int64);
    let mut slices = Vec::with_capacity(bounds.len() + 1);
    for i in 0..=bounds.len() {
        let lower = (i > 0).then(|| created().gt_eq(lit(bounds[i - 1])));
        let upper = bounds.get(i).map(|b| created().lt(lit(*b)));
        let within = match (lower, upper) {
            (None, None) => lit(true),
            // Rows without a creation instant sort first: they belong to the first slice.
            (None, Some(upper)) => upper.fill_null(lit(true)),
            (Some(lower), None) => lower,
            (Some(lower), Some(upper)) => lower.and(upper),
        };
        let rows = staged.scan(Table::SlaInstances)?.filter(within);
        slices.push(slice(plan, staged, rows)?);
    }
    Ok(Some(slices))
}

/// The `created_at` values (as integers) at which a new slice starts: every `slice_rows` instances in
/// `created_at` order, an instant only once (its instances stay together).
fn created_bounds(staged: &Staged, slice_rows: usize) -> Result<Vec<i64>, Error> {
    let created = staged
        .scan(Table::SlaInstances)?
        .select([col("created_at").cast(DataType::Int64).alias("t")])
        .drop_nulls(None)
        .sort(["t"], SortMultipleOptions::default())
        .collect()?;
    let t = created.column("t")?.i64()?.rechunk();
    let mut bounds: Vec<i64> = Vec::new();
    for at in (slice_rows..t.len()).step_by(slice_rows) {
        let b = t.get(at).expect("within the column");
        if bounds.last().is_none_or(|last| *last < b) {
            bounds.push(b);
        }
    }
    Ok(bounds)
}

/// One slice of the table: `rows` (instances) with their ticket's dimensions, sorted. Each slice joins the
/// tickets again; on 1M tickets the slices took the wall time the whole table took (BENCHMARKS.md).
fn slice(plan: &Plan, staged: &Staged, rows: LazyFrame) -> Result<LazyFrame, Error> {
    let dims = crate::exec::outputs::review::ticket_dimensions(plan);
    let seg = crate::exec::outputs::review::helper_segment("sla", dims.clone(), Grain::All);
    let rows = window_filter(plan, rows, "created_at");
    let rows = enriched(plan, Table::SlaInstances, &seg, staged, rows)?;
    let mut columns: Vec<Expr> = vec![
        col("ticket_id").cast(DataType::String),
        col("metric"),
        col("sla_instance").alias("instance"),
        col("target_seconds"),
        col("elapsed_seconds"),
        col("breached"),
        col("breach_at"),
        col("started_at"),
        col("fulfilled_at"),
        col("clock"),
        col("created_at"),
    ];
    for d in &dims {
        let name = if *d == "instance" { "helpdesk_instance" } else { d };
        columns.push(col(*d).cast(DataType::String).alias(name));
    }
    let order = SortMultipleOptions::default().with_maintain_order(true);
    Ok(rows.select(columns).sort(["created_at", "ticket_id", "metric", "instance"], order))
}
