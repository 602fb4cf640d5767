//! The per-ticket and per-reply derivations, in one place: reply waits and the tickets' first response,
//! replies and responder from the message log, reopens from the history, and the pipeline's resolution rules.
//! `Staged` applies them to whatever rows a stage reads; `facts::compute_once` computes them once per run.

use std::collections::BTreeMap;

use polars::prelude::*;

use crate::exec::aggregate::compile;
use crate::exec::col_dtype;
use crate::exec::facts::history;
use crate::exec::read;
use crate::model::Table;
use crate::plan::Plan;

/// Tables computed from others: tickets' response columns and reply waits from messages, and the
/// pipeline's resolution rules.
pub(crate) fn derive(plan: &Plan, mut frames: BTreeMap<Table, LazyFrame>) -> BTreeMap<Table, LazyFrame> {
    if let (Some(tickets), Some(messages)) = (frames.get(&Table::Tickets), frames.get(&Table::Messages)) {
        let waits = reply_waits(plan, tickets.clone(), messages.clone());
        let filled = from_messages(plan, tickets.clone(), messages.clone());
        frames.insert(Table::ReplyWaits, waits);
        frames.insert(Table::Tickets, filled);
    }
    // A ticket history counts the reopens a ticket export does not give, and says when a ticket the export
    // leaves without `resolved_at` was solved: the export's own value wins.
    if let (Some(tickets), Some(events)) = (frames.get(&Table::Tickets), frames.get(&Table::TicketEvents)) {
        let mut filled = tickets.clone();
        if !plan.sources_of(Table::Tickets).any(|s| s.columns.iter().any(|c| c.canonical.name == "reopens")) {
            filled = filled
                .left_join(history::reopens(plan, events.clone()), col("ticket_id"), col("ticket_id"))
                .with_column(col("__reopens").fill_null(col("reopens")).alias("reopens"))
                .drop(cols(["__reopens"]));
        }
        filled = filled
            .left_join(history::solved(plan, events.clone()), col("ticket_id"), col("ticket_id"))
            .with_column(col("resolved_at").fill_null(col("__solved_at")).alias("resolved_at"))
            .drop(cols(["__solved_at"]));
        frames.insert(Table::Tickets, filled);
    }
    if let Some(tickets) = frames.get_mut(&Table::Tickets) {
        *tickets = tickets.clone().with_columns(ticket_rules(plan));
    }
    let own_solver = plan.sources_of(Table::Tickets).any(|s| s.columns.iter().any(|c| c.canonical.name == "solver"));
    if plan.uses_dimension("solver") && !own_solver {
        if let Some(tickets) = frames.get(&Table::Tickets) {
            frames.insert(Table::Tickets, with_solver(tickets.clone(), frames.get(&Table::TicketEvents).cloned()));
        }
    }
    frames
}

pub(crate) fn by_agent(plan: &Plan) -> Expr {
    compile::one_of(col("author_role"), &plan.definitions.agent_roles)
        .and(col("is_public").fill_null(lit(true)))
        .fill_null(lit(false))
}

/// Customer waits for an agent: a wait starts at a customer message that follows the ticket's opening or a
/// public agent message, and ends at the next public agent message. Bots, system messages and internal
/// notes are dropped first, so they neither start nor end a wait. Messages with the same instant count in
/// the order of the export (file, then row).
pub(crate) fn reply_waits(plan: &Plan, tickets: LazyFrame, messages: LazyFrame) -> LazyFrame {
    let opened = tickets.select([col("ticket_id"), col("created_at").alias("__opened")]);
    let agent = by_agent(plan);
    let customer = col("author_role").eq(lit("customer")).fill_null(lit(false));
    let when_agent = when(col("__agent"))
        .then(col("created_at"))
        .otherwise(lit(NULL).cast(col_dtype(Table::Messages, "created_at")));
    messages
        .filter(agent.clone().or(customer))
        .inner_join(opened, col("ticket_id"), col("ticket_id"))
        .filter(col("created_at").gt_eq(col("__opened")))
        .with_column(agent.alias("__agent"))
        // Messages of one second (exports often keep whole seconds) in the order the export lists them: the
        // join does not keep the rows' order, and the waits must not depend on it.
        .sort(["ticket_id", "created_at", read::FILE, read::ROW], SortMultipleOptions::default())
        .with_columns(wait_bounds(when_agent))
        .filter(col("__agent").not().and(col("__prev_agent").is_null().or(col("__prev_agent"))))
        .filter(col("answered_at").is_not_null())
        .select([
            col("ticket_id"),
            col("__opened").alias("created_at"),
            col("created_at").alias("waiting_since"),
            col("answered_at"),
        ])
}

/// Over messages sorted by ticket (each ticket's rows together, in time order): whether the message before
/// is the same ticket's agent's (`__prev_agent`, null for a ticket's first), and the instant of the same
/// ticket's next agent message (`answered_at`). Shifts and fills along the sorted rows, each checked to stay
/// within its ticket, instead of windows over the ticket, which regrouped the rows by hash twice (1M tickets,
/// 4.8M messages: the facts stage 2.55 -> 1.5-1.7 s, the same outputs).
fn wait_bounds(when_agent: Expr) -> Vec<Expr> {
    let backward = FillNullStrategy::Backward(FillNullLimit::None);
    let same_ticket_before = col("ticket_id").shift(lit(1)).eq(col("ticket_id")).fill_null(lit(false));
    let agent_ticket =
        when(col("__agent")).then(col("ticket_id")).otherwise(lit(NULL).cast(col_dtype(Table::Messages, "ticket_id")));
    let next_agent_ticket = agent_ticket.fill_null_with_strategy(backward);
    vec![
        when(same_ticket_before)
            .then(col("__agent").shift(lit(1)))
            .otherwise(lit(NULL).cast(DataType::Boolean))
            .alias("__prev_agent"),
        when(next_agent_ticket.eq(col("ticket_id")).fill_null(lit(false)))
            .then(when_agent.fill_null_with_strategy(backward))
            .otherwise(lit(NULL).cast(col_dtype(Table::Messages, "created_at")))
            .alias("answered_at"),
    ]
}

/// Tickets' `first_response_at` (first public agent message after the ticket opened) and `agent_replies`
/// (public agent messages after the opening), from the conversation log, where the ticket export has none.
pub(crate) fn from_messages(plan: &Plan, tickets: LazyFrame, messages: LazyFrame) -> LazyFrame {
    let opened = tickets.clone().select([col("ticket_id"), col("created_at").alias("__opened")]);
    let replies = messages
        .clone()
        .filter(by_agent(plan))
        .select([col("ticket_id"), col("created_at")])
        .left_join(opened.clone(), col("ticket_id"), col("ticket_id"))
        .group_by([col("ticket_id")])
        .agg([
            col("created_at").filter(col("created_at").gt(col("__opened"))).min().alias("__first_reply"),
            // An agent's comment opening the ticket is not a reply (Zendesk's agent-created tickets).
            col("created_at").gt(col("__opened")).fill_null(lit(true)).sum().cast(DataType::Int64).alias("__replies"),
        ]);
    let tickets = tickets.left_join(replies, col("ticket_id"), col("ticket_id"));
    let tickets = match plan.uses_dimension("responder") {
        true => tickets.left_join(responders(plan, opened, messages), col("ticket_id"), col("ticket_id")),
        false => tickets.with_column(lit(NULL).cast(DataType::String).alias("__responder")),
    };
    tickets
        .with_columns([
            when(col("first_response_at").is_null())
                .then(col("__first_reply"))
                .otherwise(col("first_response_at"))
                .alias("first_response_at"),
            when(col("agent_replies").is_null())
                .then(col("__replies").fill_null(lit(0i64)))
                .otherwise(col("agent_replies"))
                .alias("agent_replies"),
            when(col("responder").is_null()).then(col("__responder")).otherwise(col("responder")).alias("responder"),
        ])
        .drop(cols(["__first_reply", "__replies", "__responder"]))
}

/// Who answered first: the author of the first agent reply after the opening (ties by author, so that the
/// result does not depend on the order rows were read in).
pub(crate) fn responders(plan: &Plan, opened: LazyFrame, messages: LazyFrame) -> LazyFrame {
    messages
        .filter(by_agent(plan))
        .select([col("ticket_id"), col("created_at"), col("author_id")])
        .inner_join(opened, col("ticket_id"), col("ticket_id"))
        .filter(col("created_at").gt(col("__opened")).and(col("author_id").is_not_null()))
        .group_by([col("ticket_id")])
        .agg([col("author_id")
            .sort_by([col("created_at"), col("author_id")], SortMultipleOptions::default())
            .first()
            .alias("__responder")])
}

/// Resolution as the pipeline defines it, and `closed_at` defaulting to `resolved_at`.
pub(crate) fn ticket_rules(plan: &Plan) -> Vec<Expr> {
    let d = &plan.definitions;
    let mut resolved = col("resolved_at").is_not_null();
    if !d.resolved_statuses.is_empty() {
        resolved = resolved.and(compile::one_of(col("status"), &d.resolved_statuses).fill_null(lit(false)));
    }
    if !d.abandoned_can_resolve {
        resolved = resolved.and(col("abandoned").fill_null(lit(false)).not());
    }
    let resolved_at =
        when(resolved).then(col("resolved_at")).otherwise(lit(NULL).cast(col_dtype(Table::Tickets, "resolved_at")));
    vec![
        when(col("closed_at").is_null()).then(col("resolved_at")).otherwise(col("closed_at")).alias("closed_at"),
        resolved_at.alias("resolved_at"),
    ]
}

/// Tickets with `solver`: who held a resolved ticket when it was solved, from the history's assignee changes,
/// else the ticket's `agent_id`; null while unresolved.
fn with_solver(tickets: LazyFrame, events: Option<LazyFrame>) -> LazyFrame {
    let resolved = col("resolved_at").is_not_null();
    let none = || lit(NULL).cast(DataType::String);
    let (tickets, from_history) = match events {
        Some(events) => {
            let solvers = history::solvers(events, tickets.clone().filter(resolved.clone()));
            (tickets.left_join(solvers, col("ticket_id"), col("ticket_id")), col("__solver"))
        },
        None => (tickets.with_column(none().alias("__solver")), col("__solver")),
    };
    tickets
        .with_column(
            when(resolved)
                .then(from_history.fill_null(col("agent_id").cast(DataType::String)))
                .otherwise(none())
                .alias("solver"),
        )
        .drop(cols(["__solver"]))
}
