//! Ticket histories (`ticket_events`): Zendesk's ticket-metric definitions from the status changes. Each status
//! lasts from its change to the next one. Over tickets solved at least once, and up to their last solve:
//! requester wait is the time in new, open and hold; agent wait the time in pending; on hold the time in hold;
//! agent work the time in new and open; first and full resolution run from the ticket's creation to its first
//! and its last solve. Assignments (`assignments`): changes of the assignee and group fields give the
//! stations, reassignments and the times from assignment to resolution. Other vendors'
//! statuses are mapped onto these (`definitions.history.statuses`).

use polars::prelude::*;

use crate::exec::facts::business::{self, BusinessClock};
use crate::plan::Plan;

/// The per-ticket measures, as derived ticket columns: elapsed seconds, then the same in business seconds.
pub const MEASURES: [&str; 12] = [
    "requester_wait_seconds",
    "agent_wait_seconds",
    "on_hold_seconds",
    "agent_work_seconds",
    "first_resolution_seconds",
    "full_resolution_seconds",
    "requester_wait_business_seconds",
    "agent_wait_business_seconds",
    "on_hold_business_seconds",
    "agent_work_business_seconds",
    "first_resolution_business_seconds",
    "full_resolution_business_seconds",
];

/// `ticket_id` and the history measures (seconds), from the events' status changes; `tickets` are the
/// tickets (their `created_at`, and the channel and team that choose their business calendar). Business
/// seconds count while the ticket's calendar is open; a ticket without a calendar (or a run without
/// calendars) is measured around the clock.
pub fn durations(plan: &Plan, events: LazyFrame, tickets: LazyFrame, clock: Option<&BusinessClock>) -> LazyFrame {
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
    let calendars = match clock {
        Some(_) => business::calendar_of(plan),
        None => lit(NULL).cast(DataType::String),
    };
    let created = tickets.select([col("ticket_id"), col("created_at"), calendars.alias(business::CALENDAR)]);
    let calendar_of_ticket = created.clone().select([col("ticket_id"), col(business::CALENDAR)]);
    let changes = changes.left_join(calendar_of_ticket, col("ticket_id"), col("ticket_id"));
    // Business milliseconds counted at each instant; elapsed ones without a calendar.
    let (changes, from) = on_clock(clock, changes, "at");
    let (changes, until) = on_clock(clock, changes, "__until");
    let between = |from: &str, to: &str| (ms(col(to)) - ms(col(from))).cast(DataType::Float64) / lit(1000.0);
    // Each status period in elapsed seconds, then on the ticket's clock.
    let clocks = [("", between("at", "__until")), ("_business", between(&from, &until))];
    let sums: Vec<Expr> = clocks
        .iter()
        .flat_map(|(clock, seconds)| {
            WAITS.iter().map(move |(wait, statuses)| {
                seconds.clone().filter(is(statuses)).sum().alias(format!("{wait}{clock}_seconds"))
            })
        })
        .collect();
    let waits = changes.group_by([col("ticket_id")]).agg(sums);
    let solved_tickets = created.inner_join(solves, col("ticket_id"), col("ticket_id"));
    let (solved_tickets, created_at) = on_clock(clock, solved_tickets, "created_at");
    let (solved_tickets, first_solve) = on_clock(clock, solved_tickets, "__first_solve");
    let (solved_tickets, last_solve) = on_clock(clock, solved_tickets, "__last_solve");
    let instants = [
        ("", ["created_at", "__first_solve", "__last_solve"]),
        ("_business", [&created_at, &first_solve, &last_solve].map(String::as_str)),
    ];
    let mut measures = vec![col("ticket_id")];
    for (clock, [created, first, last]) in instants {
        measures.extend(WAITS.iter().map(|(wait, _)| col(format!("{wait}{clock}_seconds")).fill_null(lit(0.0))));
        measures.push(between(created, first).alias(format!("first_resolution{clock}_seconds")));
        measures.push(between(created, last).alias(format!("full_resolution{clock}_seconds")));
    }
    // Tickets never solved have no measures.
    solved_tickets.left_join(waits, col("ticket_id"), col("ticket_id")).select(measures)
}

/// Zendesk's waits: each the time spent in these statuses before the last solve.
const WAITS: [(&str, &[&str]); 4] = [
    ("requester_wait", &["new", "open", "hold"]),
    ("agent_wait", &["pending"]),
    ("on_hold", &["hold"]),
    ("agent_work", &["new", "open"]),
];

/// `lf` with `__b_<column>`: the business milliseconds counted at timestamp `column` on the clock of the
/// row's `CALENDAR`, or the elapsed milliseconds (the timestamp itself) for rows without a calendar and runs
/// without a clock. Returns the new column's name.
fn on_clock(clock: Option<&BusinessClock>, lf: LazyFrame, column: &str) -> (LazyFrame, String) {
    let name = format!("__b_{column}");
    let elapsed = col(column).cast(DataType::Int64);
    let Some(clock) = clock else { return (lf.with_column(elapsed.alias(name.as_str())), name) };
    let counted = when(col(business::CALENDAR).is_null()).then(elapsed).otherwise(col(name.as_str()));
    (clock.elapsed(lf, column, &name).with_column(counted.alias(name.as_str())), name)
}

/// The status changes (`ticket_id`, `at`, `__status`), vendor names mapped onto Zendesk's, in lower case.
pub(crate) fn status_changes(plan: &Plan, events: LazyFrame) -> LazyFrame {
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

/// `ticket_id` and `__solved_at`: the last change to solved of each ticket whose last change is to solved or
/// closed (a ticket reopened since is not resolved). Changes of one instant count in the order read.
pub fn solved(plan: &Plan, events: LazyFrame) -> LazyFrame {
    let order = SortMultipleOptions::default().with_maintain_order(true);
    let last = col("__status").last();
    let done = last.clone().eq(lit("solved")).or(last.eq(lit("closed"))).fill_null(lit(false));
    let last_solve = col("at").filter(col("__status").eq(lit("solved"))).max();
    status_changes(plan, events).sort(["ticket_id", "at"], order).group_by([col("ticket_id")]).agg([when(done)
        .then(last_solve)
        .otherwise(lit(NULL).cast(crate::exec::col_dtype(crate::model::Table::TicketEvents, "at")))
        .alias("__solved_at")])
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

/// The per-ticket assignment measures (Zendesk's ticket metrics), as derived ticket columns.
pub const ASSIGNMENT_MEASURES: [&str; 6] = [
    "assignee_stations",
    "group_stations",
    "reassignments",
    "first_assignment_to_resolution_seconds",
    "last_assignment_to_resolution_seconds",
    "unassigned_seconds",
];

/// History fields (case-insensitive) whose changes set the ticket's assignee, and its group.
pub const ASSIGNEE_FIELDS: [&str; 5] = ["assignee", "assignee_id", "agent", "agent_id", "owner"];
pub const GROUP_FIELDS: [&str; 4] = ["group", "group_id", "team", "team_id"];

/// The history's changes of one of `fields` (any case): `ticket_id`, `at` and the new value `__value` (trimmed;
/// empty is null, which unassigns).
fn changes_of(events: LazyFrame, fields: &[&str]) -> LazyFrame {
    let field = col("field").str().to_lowercase();
    let named = fields.iter().map(|n| field.clone().eq(lit(*n))).reduce(|a, b| a.or(b)).expect("field names");
    let value = col("value").str().strip_chars(lit(NULL));
    let value = when(value.clone().eq(lit(""))).then(lit(NULL).cast(DataType::String)).otherwise(value);
    events.filter(named.fill_null(lit(false))).select([col("ticket_id"), col("at"), value.alias("__value")])
}

/// `ticket_id` and the assignment measures, from the history's assignee and group changes (a change to an
/// empty value unassigns). Assignee and group stations: the distinct assignees and groups a ticket had;
/// reassignments: changes from one assignee to another (the first assignment is not one); first and last
/// assignment to resolution: seconds from the first change to an assignee, and from the last change to a
/// new assignee, to the ticket's `resolved_at` (null while unresolved); unassigned: the seconds up to
/// `resolved_at` without an assignee (from the opening to the first change, and after a change that empties
/// it). Tickets with no such change have no measures.
pub fn assignments(events: LazyFrame, tickets: LazyFrame) -> LazyFrame {
    let order = SortMultipleOptions::default().with_maintain_order(true);
    let prev = col("__prev");
    let changed = col("__value").is_not_null().and(prev.clone().is_null().or(col("__value").neq(prev.clone())));
    let window = |e: Expr| e.over([col("ticket_id")]).expect("window over a column");
    let ms = |c: &str| col(c).cast(DataType::Int64);
    let times = tickets.clone().select([col("ticket_id"), col("created_at"), col("resolved_at")]);
    // Unassigned: from the opening to the first change, and while a change left it empty, up to the resolution.
    let end = ms("__next").fill_null(ms("resolved_at"));
    let end = when(end.clone().lt(ms("resolved_at"))).then(end).otherwise(ms("resolved_at"));
    let empty_piece =
        when(col("__value").is_null().and(end.clone().gt(ms("at")))).then(end - ms("at")).otherwise(lit(0i64));
    let assignees = changes_of(events.clone(), &ASSIGNEE_FIELDS)
        .sort(["ticket_id", "at"], order)
        .with_columns([
            window(col("__value").shift(lit(1))).alias("__prev"),
            window(col("at").shift(lit(-1))).alias("__next"),
        ])
        .inner_join(times, col("ticket_id"), col("ticket_id"))
        .group_by([col("ticket_id")])
        .agg([
            when(col("resolved_at").first().is_null())
                .then(lit(NULL).cast(DataType::Float64))
                .otherwise(
                    (empty_piece.sum()
                        + (ms("at").min().clip_max(ms("resolved_at").first()) - ms("created_at").first())
                            .clip_min(lit(0i64)))
                    .cast(DataType::Float64)
                        / lit(1000.0),
                )
                .alias("unassigned_seconds"),
            col("__value").drop_nulls().n_unique().cast(DataType::Int64).alias("assignee_stations"),
            col("__value")
                .is_not_null()
                .and(prev.clone().is_not_null())
                .and(col("__value").neq(prev.clone()))
                .fill_null(lit(false))
                .sum()
                .cast(DataType::Int64)
                .alias("reassignments"),
            col("at").filter(col("__value").is_not_null()).min().alias("__first_assigned"),
            col("at").filter(changed.fill_null(lit(false))).max().alias("__last_assigned"),
        ]);
    let groups = changes_of(events, &GROUP_FIELDS).group_by([col("ticket_id")]).agg([col("__value")
        .drop_nulls()
        .n_unique()
        .cast(DataType::Int64)
        .alias("group_stations")]);
    let to_resolution = |from: &str| {
        (col("resolved_at").cast(DataType::Int64) - col(from).cast(DataType::Int64)).cast(DataType::Float64)
            / lit(1000.0)
    };
    let resolved = tickets.select([col("ticket_id"), col("resolved_at")]);
    let args = JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns);
    assignees
        .join(groups, [col("ticket_id")], [col("ticket_id")], args)
        .left_join(resolved, col("ticket_id"), col("ticket_id"))
        .select([
            col("ticket_id"),
            col("assignee_stations").fill_null(lit(0i64)),
            col("group_stations").fill_null(lit(0i64)),
            col("reassignments").fill_null(lit(0i64)),
            to_resolution("__first_assigned").alias("first_assignment_to_resolution_seconds"),
            to_resolution("__last_assigned").alias("last_assignment_to_resolution_seconds"),
            col("unassigned_seconds"),
        ])
}

/// `ticket_id` and `__solver`: the assignee in force at each resolved ticket's `resolved_at` (the last
/// assignee change at or before it; an empty value unassigns). Changes of one instant count in the order read.
pub fn solvers(events: LazyFrame, resolved: LazyFrame) -> LazyFrame {
    let order = SortMultipleOptions::default().with_maintain_order(true);
    changes_of(events, &ASSIGNEE_FIELDS)
        .inner_join(resolved.select([col("ticket_id"), col("resolved_at")]), col("ticket_id"), col("ticket_id"))
        .filter(col("at").lt_eq(col("resolved_at")))
        .sort(["ticket_id", "at"], order)
        .group_by([col("ticket_id")])
        .agg([col("__value").last().alias("__solver")])
}
