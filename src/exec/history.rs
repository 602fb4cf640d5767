//! Ticket histories (`ticket_events`): Zendesk's ticket-metric definitions from the status changes. Each status
//! lasts from its change to the next one. Over tickets solved at least once, and up to their last solve:
//! requester wait is the time in new, open and hold; agent wait the time in pending; on hold the time in hold;
//! first and full resolution run from the ticket's creation to its first and its last solve. Other vendors'
//! statuses are mapped onto these (`definitions.history.statuses`).

use polars::prelude::*;

use crate::plan::Plan;

/// The per-ticket measures, as derived ticket columns.
pub const MEASURES: [&str; 5] = [
    "requester_wait_seconds",
    "agent_wait_seconds",
    "on_hold_seconds",
    "first_resolution_seconds",
    "full_resolution_seconds",
];

/// `ticket_id` and the history measures (seconds), from the events' status changes; `created` holds each
/// ticket's `ticket_id` and `created_at`.
pub fn durations(plan: &Plan, events: LazyFrame, created: LazyFrame) -> LazyFrame {
    let is = |names: &[&str]| {
        names.iter().map(|n| col("__status").eq(lit(*n))).reduce(|a, b| a.or(b)).expect("a status").fill_null(false)
    };
    let ms = |e: Expr| e.cast(DataType::Int64);
    let order = SortMultipleOptions::default().with_maintain_order(true);
    let window = |e: Expr| e.over([col("ticket_id")]).expect("window over a column");
    let statuses = status_changes(plan, events);
    let solved = col("__status").eq(lit("solved"));
    let solves = statuses
        .clone()
        .filter(solved.clone())
        .group_by([col("ticket_id")])
        .agg([col("at").min().alias("__first_solve"), col("at").max().alias("__last_solve")]);
    let changes = statuses
        .sort(["ticket_id", "at"], order)
        .with_columns([
            window(col("at").shift(lit(-1))).alias("__until"),
            window(col("at").filter(solved).max()).alias("__last_solve"),
        ])
        // After the last solve the ticket waits on no one.
        .filter(col("__last_solve").is_not_null().and(col("at").lt(col("__last_solve"))));
    let seconds = (ms(col("__until")) - ms(col("at"))).cast(DataType::Float64) / lit(1000.0);
    let waits = changes.group_by([col("ticket_id")]).agg([
        seconds.clone().filter(is(&["new", "open", "hold"])).sum().alias("requester_wait_seconds"),
        seconds.clone().filter(is(&["pending"])).sum().alias("agent_wait_seconds"),
        seconds.filter(is(&["hold"])).sum().alias("on_hold_seconds"),
    ]);
    let since = |solve: &str| (ms(col(solve)) - ms(col("created_at"))).cast(DataType::Float64) / lit(1000.0);
    // Tickets never solved have no measures.
    created
        .select([col("ticket_id"), col("created_at")])
        .inner_join(solves, col("ticket_id"), col("ticket_id"))
        .left_join(waits, col("ticket_id"), col("ticket_id"))
        .select([
            col("ticket_id"),
            col("requester_wait_seconds").fill_null(lit(0.0)),
            col("agent_wait_seconds").fill_null(lit(0.0)),
            col("on_hold_seconds").fill_null(lit(0.0)),
            since("__first_solve").alias("first_resolution_seconds"),
            since("__last_solve").alias("full_resolution_seconds"),
        ])
}

/// The status changes (`ticket_id`, `at`, `__status`), vendor names mapped onto Zendesk's, in lower case.
fn status_changes(plan: &Plan, events: LazyFrame) -> LazyFrame {
    let lower = col("value").str().strip_chars(lit(NULL)).str().to_lowercase();
    let mut status = lower.clone();
    for (from, to) in plan.definitions.history_statuses.iter().rev() {
        status = when(lower.clone().eq(lit(from.to_lowercase()))).then(lit(to.as_str())).otherwise(status);
    }
    events.filter(col("field").str().to_lowercase().eq(lit("status"))).select([
        col("ticket_id"),
        col("at"),
        status.alias("__status"),
    ])
}

/// `ticket_id` and `__reopens`: how many times a solved ticket went back to new, open, pending or hold.
pub fn reopens(plan: &Plan, events: LazyFrame) -> LazyFrame {
    let order = SortMultipleOptions::default().with_maintain_order(true);
    let previous = col("__status").shift(lit(1)).over([col("ticket_id")]).expect("window over a column");
    let reopened = previous
        .eq(lit("solved"))
        .and(col("__status").neq(lit("solved")).and(col("__status").neq(lit("closed"))))
        .fill_null(lit(false));
    status_changes(plan, events)
        .sort(["ticket_id", "at"], order)
        .with_column(reopened.alias("__reopened"))
        .group_by([col("ticket_id")])
        .agg([col("__reopened").sum().cast(DataType::Int64).alias("__reopens")])
}
