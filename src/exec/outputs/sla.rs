//! The SLA table for people and notebooks (`outputs.sla`): one row per ticket, SLA metric and instance, with
//! the ticket's dimensions. The instances themselves are computed once by the facts stage (`facts::sla`).

use polars::prelude::*;

use crate::error::Error;
use crate::exec::aggregate::rows::{enriched, window_filter};
use crate::exec::Staged;
use crate::model::Table;
use crate::plan::{Grain, Plan};

/// `DIR/sla`: the instances of the window's tickets, in ticket, metric and instance order. `instance` is the
/// instance's number; the helpdesk instance a ticket comes from (`instance:` on its source) is
/// `helpdesk_instance`.
pub fn sla_table(plan: &Plan, staged: &Staged) -> Result<Option<LazyFrame>, Error> {
    if !plan.sla_table {
        return Ok(None);
    }
    let dims = crate::exec::outputs::review::ticket_dimensions(plan);
    let seg = crate::exec::outputs::review::helper_segment("sla", dims.clone(), Grain::All);
    let rows = window_filter(plan, staged.scan(Table::SlaInstances)?, "created_at");
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
    Ok(Some(rows.select(columns).sort(["created_at", "ticket_id", "metric", "instance"], order)))
}
