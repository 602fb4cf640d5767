//! The replies table (`outputs.replies`): one row per public agent reply, with its author, the wait it ended
//! and the SLA instance it fulfilled, so that a notebook can credit replies to whoever wrote them. A
//! ticket's rows count its `agent_replies`; its first reply's wait is its first response time.

use polars::prelude::*;

use crate::error::Error;
use crate::exec::aggregate::rows::{enriched, window_filter};
use crate::exec::facts::derive::by_agent;
use crate::exec::{read, Staged};
use crate::model::{SlaMetric, Table};
use crate::plan::{dimension_available, Grain, Plan};

const DIMENSIONS: [&str; 6] = ["channel", "priority", "category", "team", "agent_id", "instance"];

fn seconds(start: &str, end: &str) -> Expr {
    (col(end) - col(start)).dt().total_milliseconds(false).cast(DataType::Float64) / lit(1000.0)
}

/// Replies, waits and SLA instances are matched on their ticket, their instant and their rank at that
/// instant: two replies written in the same second end one wait and fulfil one instance each (a join on the
/// instant alone would pair each with both).
const NTH: &str = "__nth_at_instant";

/// The row's rank among the rows of the same `keys` (0, 1…) in a frame sorted by them: its distance from
/// where their run of rows starts (linear, where a window over the keys would hash every row).
fn nth_at(keys: [&str; 2]) -> Expr {
    let row = int_range(lit(0i64), len(), 1, DataType::Int64);
    let starts = keys.map(|k| col(k).neq_missing(col(k).shift(lit(1))));
    let start = when(starts[0].clone().or(starts[1].clone()))
        .then(row.clone())
        .otherwise(lit(NULL).cast(DataType::Int64))
        .fill_null_with_strategy(FillNullStrategy::Forward(FillNullLimit::None));
    (row - start).alias(NTH)
}

/// `DIR/replies`: every public agent comment after its ticket's opening (an agent's opening comment is not a
/// reply), numbered within the ticket in time order (then the export's order). `waiting_since`: the
/// ticket's opening for the first reply, else the first customer comment since the reply before (null when
/// none came between). With SLA instances, the first-response or next-reply instance the reply fulfilled.
pub fn replies_table(plan: &Plan, staged: &Staged) -> Result<Option<LazyFrame>, Error> {
    if !plan.replies_table {
        return Ok(None);
    }
    let opened = staged.scan(Table::Tickets)?.select([col("ticket_id"), col("created_at").alias("__opened")]);
    let replies = staged
        .scan(Table::Messages)?
        .filter(by_agent(plan))
        .select([
            col("ticket_id"),
            col("created_at").alias("replied_at"),
            col("author_id"),
            col(read::FILE),
            col(read::ROW),
        ])
        .inner_join(opened, col("ticket_id"), col("ticket_id"))
        .filter(col("replied_at").gt(col("__opened")))
        .sort(["ticket_id", "replied_at", read::FILE, read::ROW], SortMultipleOptions::default())
        .with_columns([
            (col("ticket_id")
                .cum_count(false)
                .over([col("ticket_id")])
                .expect("window over a column")
                .cast(DataType::Int64))
            .alias("reply"),
            nth_at(["ticket_id", "replied_at"]),
        ]);
    let waits = staged
        .scan(Table::ReplyWaits)?
        .select([col("ticket_id"), col("waiting_since"), col("answered_at")])
        .sort(["ticket_id", "answered_at", "waiting_since"], SortMultipleOptions::default())
        .with_column(nth_at(["ticket_id", "answered_at"]));
    let mut rows = replies
        .join(
            waits,
            [col("ticket_id"), col("replied_at"), col(NTH)],
            [col("ticket_id"), col("answered_at"), col(NTH)],
            JoinArgs::new(JoinType::Left),
        )
        .with_column(
            when(col("reply").eq(lit(1i64)))
                .then(col("__opened"))
                .otherwise(col("waiting_since"))
                .alias("waiting_since"),
        )
        .with_column(seconds("waiting_since", "replied_at").alias("wait_seconds"));
    let mut columns = vec![
        col("ticket_id").cast(DataType::String),
        col("reply"),
        col("replied_at"),
        col("author_id"),
        col("waiting_since"),
        col("wait_seconds"),
    ];
    if let Ok(instances) = staged.scan(Table::SlaInstances) {
        let fulfilled = [SlaMetric::FirstResponse, SlaMetric::NextReply].map(|m| col("metric").eq(lit(m.name())));
        let instances = instances
            .filter(fulfilled[0].clone().or(fulfilled[1].clone()))
            .select([
                col("ticket_id"),
                col("fulfilled_at"),
                col("metric").alias("sla_metric"),
                col("sla_instance"),
                col("breached").alias("sla_breached"),
            ])
            .sort(["ticket_id", "fulfilled_at", "sla_metric", "sla_instance"], SortMultipleOptions::default())
            .with_column(nth_at(["ticket_id", "fulfilled_at"]));
        rows = rows.join(
            instances,
            [col("ticket_id"), col("replied_at"), col(NTH)],
            [col("ticket_id"), col("fulfilled_at"), col(NTH)],
            JoinArgs::new(JoinType::Left),
        );
        columns.extend([col("sla_metric"), col("sla_instance"), col("sla_breached")]);
    }
    let dims: Vec<&'static str> =
        DIMENSIONS.into_iter().filter(|d| dimension_available(plan, Table::Tickets, d).is_ok()).collect();
    let seg = crate::exec::outputs::review::helper_segment("replies", dims.clone(), Grain::All);
    // The ticket's opening places the reply in the window, as it places its waits.
    let rows = rows.with_column(col("__opened").alias("created_at"));
    let rows = enriched(plan, Table::ReplyWaits, &seg, staged, window_filter(plan, rows, "created_at"))?;
    columns.push(col("created_at"));
    for d in &dims {
        let name = if *d == "instance" { "helpdesk_instance" } else { d };
        columns.push(col(*d).cast(DataType::String).alias(name));
    }
    let order = SortMultipleOptions::default().with_maintain_order(true);
    Ok(Some(rows.select(columns).sort(["created_at", "ticket_id", "reply"], order)))
}
