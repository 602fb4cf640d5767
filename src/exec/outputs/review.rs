//! Outputs for people rather than dashboards: the weekly review sample (a reproducible, stratified random draw
//! of tickets) and the follow-up list (survey answers that need a human).

use polars::prelude::*;

use crate::error::Error;
use crate::exec::aggregate::period_exprs::{period_start, PERIOD};
use crate::exec::aggregate::rows::{enriched, window_filter};
use crate::exec::Staged;
use crate::model::{self, Table};
use crate::plan::{dimension_available, Grain, LinkPart, LinkTemplate, Plan, Segment};

/// Each ticket's place in the draw: a hash of the seed and its id, so that it depends on nothing else.
fn draw_key(seed: u64) -> Expr {
    crate::exec::hash::text_hash(col("ticket_id"), seed)
}

fn link(template: &LinkTemplate, available: &dyn Fn(&str) -> bool) -> Expr {
    let parts: Vec<Expr> = template
        .iter()
        .map(|p| match p {
            LinkPart::Text(t) => lit(t.as_str()),
            LinkPart::Column(c) if available(c) => col(*c).cast(DataType::String),
            LinkPart::Column(_) => lit(NULL).cast(DataType::String),
        })
        .collect();
    // A missing value leaves no link rather than a broken one.
    concat_str(parts, "", false)
}

fn seconds(start: &str, end: &str) -> Expr {
    (col(end) - col(start)).dt().total_milliseconds(false).cast(DataType::Float64) / lit(1000.0)
}

/// A segment for a table for people: its dimensions and grain, no KPI.
pub(crate) fn helper_segment(name: &str, dimensions: Vec<&'static str>, grain: Grain) -> Segment {
    Segment {
        name: name.to_string(),
        dimensions,
        grain,
        kpis: Vec::new(),
        left_out: Vec::new(),
        compare: Vec::new(),
        fill_zero: false,
    }
}

/// The ticket dimensions the tables for people carry, those the pipeline has.
pub(crate) fn ticket_dimensions(plan: &Plan) -> Vec<&'static str> {
    const DIMENSIONS: [&str; 13] = [
        "instance",
        "channel",
        "priority",
        "category",
        "status",
        "team",
        "agent_id",
        "responder",
        "solver",
        "account_id",
        "sector",
        "region",
        "tier",
    ];
    DIMENSIONS.into_iter().filter(|d| dimension_available(plan, Table::Tickets, d).is_ok()).collect()
}

/// One row per ticket of the window (`outputs.tickets`): its id, times and dimensions, and the durations the
/// KPIs measure, for notebooks and BI drill-down.
pub fn per_ticket(plan: &Plan, staged: &Staged) -> Result<Option<LazyFrame>, Error> {
    if !plan.per_ticket {
        return Ok(None);
    }
    let dims = ticket_dimensions(plan);
    let seg = helper_segment("tickets", dims.clone(), Grain::All);
    let tickets = window_filter(plan, staged.scan(Table::Tickets)?, "created_at");
    let mut tickets = enriched(plan, Table::Tickets, &seg, staged, tickets)?;
    let mut columns: Vec<Expr> =
        vec![col("ticket_id").cast(DataType::String), col("created_at"), col("first_response_at"), col("resolved_at")];
    columns.extend(dims.iter().map(|d| col(*d).cast(DataType::String)));
    columns.extend([
        col("reopens"),
        col("agent_replies"),
        seconds("created_at", "first_response_at").alias("first_response_seconds"),
        seconds("created_at", "resolved_at").alias("resolution_seconds"),
    ]);
    if let Ok(events) = staged.scan(Table::TicketEvents) {
        let measures =
            crate::exec::facts::history::durations(plan, events, staged.scan(Table::Tickets)?, staged.clock.as_ref());
        tickets = tickets.left_join(measures, col("ticket_id"), col("ticket_id"));
        columns.extend(crate::exec::facts::history::MEASURES.iter().map(|m| col(*m)));
        let assignments =
            crate::exec::facts::history::assignments(staged.scan(Table::TicketEvents)?, staged.scan(Table::Tickets)?);
        tickets = tickets.left_join(assignments, col("ticket_id"), col("ticket_id"));
        columns.extend(crate::exec::facts::history::ASSIGNMENT_MEASURES.iter().map(|m| col(*m)));
    }
    let order = SortMultipleOptions::default().with_maintain_order(true);
    Ok(Some(tickets.select(columns).sort(["created_at", "ticket_id"], order)))
}

/// `size` tickets per stratum and period, drawn by the smallest draw keys: the same data give the same
/// sample, and tickets of later periods never change an earlier period's draw.
pub fn review_sample(plan: &Plan, staged: &Staged) -> Result<Option<LazyFrame>, Error> {
    let Some(r) = &plan.review_sample else { return Ok(None) };
    let seg = helper_segment("review_sample", r.per.clone(), r.grain);
    let placed_by = if r.resolved_only { "resolved_at" } else { "created_at" };
    let mut tickets = staged.scan(Table::Tickets)?;
    if r.resolved_only {
        tickets = tickets.filter(col("resolved_at").is_not_null());
    }
    let tickets = enriched(plan, Table::Tickets, &seg, staged, window_filter(plan, tickets, placed_by))?;
    let strata: Vec<Expr> = r.per.iter().map(|d| col(*d)).chain([col(PERIOD)]).collect();
    let drawn = tickets
        .with_columns([
            period_start(r.grain, col(placed_by), &plan.window).alias(PERIOD),
            draw_key(r.seed).alias("draw_key"),
        ])
        .filter(
            col("draw_key")
                .rank(RankOptions { method: RankMethod::Ordinal, descending: false }, None)
                .over(strata)?
                .lt_eq(lit(r.size as u32)),
        );
    let csat = latest_csat(plan, staged)?;
    let drawn = match csat {
        Some(csat) => drawn.left_join(csat, col("ticket_id"), col("ticket_id")),
        None => drawn.with_columns([
            lit(NULL).cast(DataType::Float64).alias("csat_score"),
            lit(NULL).cast(DataType::String).alias("csat_comment"),
        ]),
    };
    let mut columns: Vec<Expr> = vec![col(PERIOD)];
    let mut names: Vec<&str> = vec![PERIOD];
    for c in r.per.iter().copied().chain(["ticket_id", "agent_id", "channel"]) {
        if !names.contains(&c) {
            names.push(c);
            columns.push(col(c).cast(DataType::String));
        }
    }
    columns.extend([
        col("created_at"),
        col("first_response_at"),
        col("resolved_at"),
        seconds("created_at", "first_response_at").alias("first_response_seconds"),
        seconds("created_at", "resolved_at").alias("resolution_seconds"),
        col("csat_score"),
        col("csat_comment"),
    ]);
    if let Some(template) = &r.link {
        columns.push(link(template, &|c| Table::Tickets.column(c).is_some()).alias("link"));
    }
    let mut sort_by: Vec<PlSmallStr> = vec![PERIOD.into()];
    sort_by.extend(r.per.iter().map(|d| PlSmallStr::from(*d)));
    sort_by.push("draw_key".into());
    columns.push(col("draw_key"));
    Ok(Some(
        drawn
            .select(columns)
            .sort(sort_by, SortMultipleOptions::default().with_nulls_last(true).with_maintain_order(true)),
    ))
}

/// The last CSAT answer of each ticket (score and comment), when surveys are mapped.
fn latest_csat(plan: &Plan, staged: &Staged) -> Result<Option<LazyFrame>, Error> {
    if plan.sources_of(Table::Surveys).next().is_none() || !plan.has_column(Table::Surveys, "ticket_id") {
        return Ok(None);
    }
    let csat = staged
        .scan(Table::Surveys)?
        .filter(col("kind").eq(lit("csat")).and(col("ticket_id").is_not_null()))
        .sort(["submitted_at"], SortMultipleOptions::default().with_maintain_order(true))
        .group_by([col("ticket_id")])
        .agg([col("score").last().alias("csat_score"), col("comment").last().alias("csat_comment")]);
    Ok(Some(csat))
}

/// Answers that need a human: NPS detractors (0–6), unsatisfied CSAT and high-effort CES (the bottom two
/// points of their scales), and promoters (9–10) who left a comment.
pub fn follow_up(plan: &Plan, staged: &Staged) -> Result<Option<LazyFrame>, Error> {
    let Some(f) = &plan.follow_up else { return Ok(None) };
    let d = &plan.definitions;
    // Sector and the ticket columns a link needs, where the pipeline can fill them.
    let mut dims: Vec<&'static str> = Vec::new();
    let wanted =
        ["agent_id", "account_id", "sector"].into_iter().chain(f.link.iter().flatten().filter_map(|p| match p {
            LinkPart::Column(c) if model::SURVEY_FROM_TICKET.contains(c) => Some(*c),
            _ => None,
        }));
    for c in wanted {
        if !dims.contains(&c) && dimension_available(plan, Table::Surveys, c).is_ok() {
            dims.push(c);
        }
    }
    let seg = helper_segment("follow_up", dims.clone(), f.grain);
    let surveys = window_filter(plan, staged.scan(Table::Surveys)?, "submitted_at");
    let surveys = enriched(plan, Table::Surveys, &seg, staged, surveys)?;
    let score = col("score");
    let kind = |k: &str| col("kind").eq(lit(k));
    let has_comment = col("comment").str().strip_chars(lit(NULL)).str().len_chars().gt(lit(0)).fill_null(lit(false));
    // A bad answer of the kinds the list follows (the employee survey is not the support team's), then an
    // NPS promoter who wrote why.
    let (nps, csat, ces) = (d.survey_kind("nps"), d.survey_kind("csat"), d.survey_kind("ces"));
    let bad = |k: crate::catalog::SurveyKind| kind(k.name).and(score.clone().lt_eq(lit(k.bad_to)));
    let reason = when(bad(nps))
        .then(lit(nps.bad_reason))
        .when(bad(csat))
        .then(lit(csat.bad_reason))
        .when(bad(ces))
        .then(lit(ces.bad_reason))
        .when(kind(nps.name).and(score.clone().gt_eq(lit(nps.good_from))).and(has_comment))
        .then(lit("promoter_comment"))
        .otherwise(lit(NULL).cast(DataType::String));
    let present = |c: &str| dims.contains(&c) || Table::Surveys.column(c).is_some();
    let text = |c: &'static str| {
        if present(c) {
            col(c).cast(DataType::String)
        } else {
            lit(NULL).cast(DataType::String).alias(c)
        }
    };
    let mut columns = vec![
        col(PERIOD),
        col("reason"),
        col("kind"),
        col("score"),
        col("comment"),
        col("submitted_at"),
        text("ticket_id"),
        text("agent_id"),
        text("account_id"),
        text("sector"),
    ];
    if let Some(template) = &f.link {
        columns.push(link(template, &present).alias("link"));
    }
    Ok(Some(
        surveys
            .with_columns([
                period_start(f.grain, col("submitted_at"), &plan.window).alias(PERIOD),
                reason.alias("reason"),
            ])
            .filter(col("reason").is_not_null())
            .select(columns)
            .sort(
                [PERIOD, "reason", "submitted_at", "ticket_id", "score"],
                SortMultipleOptions::default().with_nulls_last(true).with_maintain_order(true),
            ),
    ))
}
