//! One segment's KPI table: the canonical tables filtered to the window, joined to the lookups the
//! dimensions need, grouped by dimensions × period, aggregated by the compiled KPI definitions, and turned
//! into the long output format.

use std::collections::BTreeMap;

use polars::prelude::*;

use crate::catalog::{Aggregate, KpiDefinition, StatDef};
use crate::exec::aggregate::compile::{self, part};
use crate::exec::aggregate::grouped::{counted, group_aggs, reduced, reduced_from};
use crate::exec::facts::business;
use crate::exec::Staged;
use crate::model::{self, Table};
use crate::plan::{Grain, Plan, Segment, Window};

pub const PERIOD: &str = "period_start";
/// Tickets of a group, joined in for KPIs per ticket.
const TICKETS: &str = "__tickets";
/// A boundary period's first day and the next period's, as days since the epoch (`snapshot_parts`).
const START_DAY: &str = "__start_day";
const END_DAY: &str = "__end_day";

/// Output columns after the dimensions, in order.
pub const OUTPUT_COLUMNS: [&str; 9] =
    ["period_start", "kpi", "stat", "value", "unit", "numerator", "denominator", "n", "low_sample"];

pub(crate) fn days_since_epoch(d: jiff::civil::Date) -> i64 {
    crate::periods::epoch_days(d)
}

/// `day` (days since the epoch, an integer expression) is one of `days`; null is not.
pub(crate) fn one_of_days(day: Expr, days: &[i32]) -> Expr {
    days.iter().map(|d| day.clone().eq(lit(*d))).reduce(|a, b| a.or(b)).unwrap_or(lit(false)).fill_null(lit(false))
}

/// The first and last day (as days since the epoch, `Int32` expressions) of `lf`, read in one pass; `None`
/// when it has no rows.
pub(crate) fn day_span(
    lf: LazyFrame,
    first: Expr,
    last: Expr,
) -> Result<Option<(jiff::civil::Date, jiff::civil::Date)>, crate::error::Error> {
    let df = lf.select([first.alias("lo"), last.alias("hi")]).collect()?;
    let get = |c: &str| df.column(c).ok().and_then(|s| s.i32().ok()?.get(0));
    let to_date = |d: i32| crate::periods::from_epoch_days(d as i64);
    Ok(get("lo").zip(get("hi")).map(|(lo, hi)| (to_date(lo), to_date(hi))))
}

/// The `period_start` of a boundary KPI's row for the period starting on `start`: null for the `all` grain
/// without a window, whose period has no first day of its own.
pub(crate) fn boundary_period(plan: &Plan, seg: &Segment, start: Expr) -> Expr {
    if seg.grain == Grain::All && plan.window.from.is_none() {
        lit(NULL).cast(DataType::Date)
    } else {
        start
    }
}

pub(crate) fn date_literal(d: jiff::civil::Date) -> Expr {
    lit(days_since_epoch(d) as i32).cast(DataType::Date)
}

/// The first instant of day `d`, as a timestamp literal.
pub(crate) fn instant_literal(d: jiff::civil::Date) -> Expr {
    lit(days_since_epoch(d) * 86_400_000).cast(DataType::Datetime(TimeUnit::Milliseconds, None))
}

/// The first day of the period a timestamp falls in.
pub fn period_start(grain: Grain, timestamp: Expr, window: &Window) -> Expr {
    let truncate = |every: &str| timestamp.clone().dt().truncate(lit(every)).dt().date();
    match grain {
        Grain::Day => timestamp.dt().date(),
        Grain::Week => truncate("1w"),
        Grain::Month => truncate("1mo"),
        Grain::Quarter => truncate("1q"),
        Grain::Year => truncate("1y"),
        Grain::All => match window.from {
            Some(from) => date_literal(from),
            None => lit(NULL).cast(DataType::Date),
        },
    }
}

/// Calendar days of the group's period (`compile::Days`).
pub(crate) fn days_in_period(grain: Grain, period: &str, window: &Window) -> compile::Days {
    // From the group's period_start, after the group-by: inside it, the engine did not stream the expression.
    let span = |every: &str| {
        let start = col(PERIOD);
        compile::Days::After((start.clone().dt().offset_by(lit(every)) - start).dt().total_days(false))
    };
    match grain {
        Grain::Day => compile::Days::After(lit(1i64)),
        Grain::Week => compile::Days::After(lit(7i64)),
        Grain::Month => span("1mo"),
        Grain::Quarter => span("1q"),
        Grain::Year => span("1y"),
        Grain::All => match (window.from, window.to) {
            (Some(from), Some(to)) => compile::Days::After(lit(days_since_epoch(to) - days_since_epoch(from))),
            _ => compile::Days::InGroup(col(period).dt().date()),
        },
    }
}

/// The instant a survey answer counts at under `definitions.surveys.period: ticket_created`.
const SURVEY_PERIOD: &str = "__survey_period_at";

/// Rows of `table` in the window and its filter, with the dimensions joined in and `period_start`.
pub fn table_frame(
    plan: &Plan,
    table: Table,
    seg: &Segment,
    staged: &Staged,
) -> Result<LazyFrame, crate::error::Error> {
    let period = period_of(plan, table);
    let by_ticket = period == SURVEY_PERIOD;
    let mut lf = match (&staged.answers, table, touched_span(seg, staged)) {
        (Some(answers), Table::Surveys, _) if staged.covers(&seg.name) => answers.clone(),
        // On a night, the parts whose rows' own period can fall in the touched periods (filtered to them
        // below); answers counted in their ticket's period can have been given in any.
        (_, _, Some((from, to))) if !by_ticket => staged.scan_within(plan, table, from, to)?,
        _ => staged.scan(table)?,
    };
    if by_ticket {
        // Answers count in their ticket's period; answers about no known ticket keep their own.
        let created =
            staged.scan(Table::Tickets)?.select([col("ticket_id"), col("created_at").alias("__ticket_created")]);
        let mut args = JoinArgs::new(JoinType::Left);
        args.build_side = Some(JoinBuildSide::ForceLeft);
        lf = lf
            .join(created, [col("ticket_id")], [col("ticket_id")], args)
            .with_column(col("__ticket_created").fill_null(col("submitted_at")).alias(SURVEY_PERIOD));
    }
    if table.column(period).is_some_and(|c| c.ty == crate::model::ColumnType::Date) {
        // A day stands for its first instant, so that dates and timestamps share the window and the grains.
        lf = lf.with_column(col(period).cast(DataType::Datetime(TimeUnit::Milliseconds, None)));
    }
    let mut lf = window_filter(plan, lf, period);
    if let Some(days) = staged.only.get(&seg.name) {
        // Only the periods new data touched, before the joins: the range first, then the periods in it.
        lf = within_touched_range(lf, seg, staged, period);
        let start = period_start(seg.grain, col(period), &plan.window).cast(DataType::Int32);
        lf = lf.filter(one_of_days(start, days));
    }
    // The answered tickets were found once for all segments: on a night, those of the touched periods.
    let answered = staged.answered.as_ref().filter(|_| staged.covers(&seg.name));
    let lf = enriched_with(plan, table, seg, staged, lf, answered)?;
    Ok(lf.with_column(period_start(seg.grain, col(period), &plan.window).alias(PERIOD)))
}

/// The timestamp column whose period a row of `table` counts in (`table_frame` gives it).
fn period_of(plan: &Plan, table: Table) -> &'static str {
    let by_ticket = plan.definitions.survey_period == crate::catalog::SurveyPeriod::TicketCreated;
    match table == Table::Surveys && by_ticket && plan.has_column(Table::Tickets, "created_at") {
        true => SURVEY_PERIOD,
        false => table.period_column().expect("event KPIs are over tables with a period column"),
    }
}

/// Rows whose `column` (a timestamp) falls between the first touched period's start and the last one's
/// end, when only touched periods are computed. A plain comparison, which the Parquet reader checks against
/// each row group's statistics: the store's parts of untouched months are skipped unread.
fn within_touched_range(lf: LazyFrame, seg: &Segment, staged: &Staged, column: &str) -> LazyFrame {
    match touched_span(seg, staged) {
        Some((from, to)) => within(lf, column, from, to),
        None => lf,
    }
}

/// From the first touched period's start to the last one's end, when only touched periods are computed.
pub(crate) fn touched_span(seg: &Segment, staged: &Staged) -> Option<(jiff::civil::Date, jiff::civil::Date)> {
    let days = staged.only.get(&seg.name)?;
    let (first, last) = (days.first()?, days.last()?);
    let from = crate::periods::from_epoch_days(*first as i64);
    Some((from, crate::periods::next_start(seg.grain, crate::periods::from_epoch_days(*last as i64))))
}

/// Rows whose `column` (a timestamp) falls on or after day `from` and before day `to`.
fn within(lf: LazyFrame, column: &str, from: jiff::civil::Date, to: jiff::civil::Date) -> LazyFrame {
    lf.filter(col(column).gt_eq(instant_literal(from)).and(col(column).lt(instant_literal(to))))
}

/// Rows whose `column` (a timestamp) falls in the pipeline's window.
pub(crate) fn window_filter(plan: &Plan, mut lf: LazyFrame, column: &str) -> LazyFrame {
    if let Some(from) = plan.window.from {
        lf = lf.filter(col(column).gt_eq(instant_literal(from)));
    }
    if let Some(to) = plan.window.to {
        lf = lf.filter(col(column).lt(instant_literal(to)));
    }
    lf
}

/// `lf` (rows of `table`) with the table's filter applied and the segment's dimensions and derived columns
/// joined in.
pub(crate) fn enriched(
    plan: &Plan,
    table: Table,
    seg: &Segment,
    staged: &Staged,
    lf: LazyFrame,
) -> Result<LazyFrame, crate::error::Error> {
    enriched_with(plan, table, seg, staged, lf, None)
}

/// `enriched`, with the tickets that some answer rates given (`answered_tickets`) when `lf` holds only tickets
/// of the periods they were found for.
fn enriched_with(
    plan: &Plan,
    table: Table,
    seg: &Segment,
    staged: &Staged,
    mut lf: LazyFrame,
    answered: Option<&DataFrame>,
) -> Result<LazyFrame, crate::error::Error> {
    for (t, sql) in &plan.table_filters {
        if *t == table {
            let what = format!("the {table} table (filters read canonical columns and attributes)");
            let e = crate::exec::normalise::sql_on(sql, &crate::exec::normalise::readable_schema(plan, table), &what)
                .map_err(|d| crate::exec::normalise::plan_error(plan, d))?;
            lf = lf.filter(e.fill_null(lit(false)));
        }
    }
    let dims = &seg.dimensions;
    let reads: Vec<&str> =
        seg.kpis.iter().filter(|k| plan.kpis[**k].table == table).flat_map(|k| plan.kpis[*k].columns()).collect();
    if table == Table::Tickets && reads.contains(&"has_survey") {
        // Any answer counts, whenever it came: the survey window does not apply.
        let answered = match answered {
            Some(ids) => ids.clone().lazy(),
            None => answered_ids(staged.scan(Table::Surveys)?),
        };
        let answered = answered.with_column(lit(true).alias("has_survey"));
        lf = lf
            .join(answered, [col("ticket_id")], [col("ticket_id")], lookup_join())
            .with_column(col("has_survey").fill_null(lit(false)));
    }
    if table == Table::Tickets && reads.iter().any(|c| crate::exec::facts::history::MEASURES.contains(c)) {
        let events = staged.scan(Table::TicketEvents)?;
        let measures =
            crate::exec::facts::history::durations(plan, events, staged.scan(Table::Tickets)?, staged.clock.as_ref());
        lf = lf.join(measures, [col("ticket_id")], [col("ticket_id")], lookup_join());
    }
    if table == Table::Tickets {
        for (name, target) in sla_targets(plan, &reads) {
            lf = lf.with_column(target.alias(name));
        }
        lf = business_time(plan, staged, &reads, lf);
        if reads.contains(&"first_response_overdue") {
            let age = match &staged.clock {
                Some(clock) if plan.sla.first_response.iter().any(|r| r.business) => {
                    let business_age = (clock.elapsed_at(plan.as_of.as_millisecond()) - col("__elapsed_created"))
                        .cast(DataType::Float64);
                    when(sla_business(&plan.sla.first_response).and(col(business::CALENDAR).is_not_null()))
                        .then(business_age)
                        .otherwise(wall_age(plan))
                },
                _ => wall_age(plan),
            };
            lf = lf
                .with_column(first_response_overdue(age, col("first_response_target")).alias("first_response_overdue"));
        }
    }
    let needs_account = dims.iter().any(|d| model::FROM_ACCOUNT.contains(d));
    if table.inherits_ticket() {
        let needs_frt = reads.contains(&"first_response_seconds");
        let from_ticket = ticket_columns(plan, &[seg]);
        // A night's answers come with their tickets' columns already (`answers_with_tickets`).
        let joined = table == Table::Surveys && lf.collect_schema()?.contains(TICKET_JOINED);
        if (needs_frt || !from_ticket.is_empty()) && plan.has_column(table, "ticket_id") {
            if !joined {
                // On a night, a reply wait's ticket is in the touched periods too (a wait counts in its
                // ticket's period): only those tickets are derived.
                let tickets = match (table, touched_span(seg, staged)) {
                    (Table::ReplyWaits, Some((from, to))) => staged.scan_within(plan, Table::Tickets, from, to)?,
                    _ => staged.scan(Table::Tickets)?,
                };
                lf = with_ticket_columns(plan, tickets, lf, &from_ticket, needs_frt);
            }
            let fill: Vec<Expr> = from_ticket
                .iter()
                .map(|c| {
                    let theirs = col(format!("__t_{c}"));
                    let value = if table.column(c).is_some() {
                        when(col(*c).is_null()).then(theirs).otherwise(col(*c))
                    } else {
                        theirs
                    };
                    value.alias(*c)
                })
                .collect();
            lf = lf.with_columns(fill);
        }
    }
    if needs_account && table != Table::Accounts {
        let attrs: Vec<&str> = model::FROM_ACCOUNT.iter().copied().filter(|a| dims.contains(a)).collect();
        let mut keep = vec![col("account_id")];
        keep.extend(attrs.iter().map(|a| col(*a)));
        // Unique ids, as for tickets above.
        let accounts = staged.scan(Table::Accounts)?.select(keep).filter(col("account_id").is_not_null());
        lf = lf.join(accounts, [col("account_id")], [col("account_id")], lookup_join());
    }
    // Dimensions the table cannot fill stay null (validation only lets that through for joined lookups).
    let missing: Vec<Expr> = dims
        .iter()
        .filter(|d| {
            let filled = table.column(d).is_some()
                || plan.has_attribute(table, d)
                || model::FROM_ACCOUNT.contains(d)
                || (table.inherits_ticket() && model::SURVEY_FROM_TICKET.contains(d));
            !filled
        })
        .map(|d| lit(NULL).cast(DataType::String).alias(*d))
        .collect();
    if !missing.is_empty() {
        lf = lf.with_columns(missing);
    }
    Ok(lf)
}

/// The ticket columns a survey or reply wait takes through `ticket_id` for `segments`: their dimensions, and
/// `account_id` where one reaches the accounts.
fn ticket_columns(plan: &Plan, segments: &[&Segment]) -> Vec<&'static str> {
    let wanted = |c: &&str| {
        segments.iter().any(|s| {
            s.dimensions.contains(c)
                || (*c == "account_id" && s.dimensions.iter().any(|d| model::FROM_ACCOUNT.contains(d)))
        })
    };
    model::SURVEY_FROM_TICKET.iter().copied().filter(wanted).filter(|c| plan.has_column(Table::Tickets, c)).collect()
}

/// Marks survey answers that carry their tickets' columns (`answers_with_tickets`).
const TICKET_JOINED: &str = "__ticket_joined";

/// `rows` (of a table with a `ticket_id`) with `__t_<column>` for each of `columns` of their ticket, and
/// `first_response_seconds` when `frt`.
fn with_ticket_columns(plan: &Plan, tickets: LazyFrame, rows: LazyFrame, columns: &[&str], frt: bool) -> LazyFrame {
    let mut keep = vec![col("ticket_id")];
    keep.extend(columns.iter().map(|c| col(*c).alias(format!("__t_{c}"))));
    if frt && plan.has_column(Table::Tickets, "first_response_at") {
        let seconds = (col("first_response_at") - col("created_at")).dt().total_milliseconds(false);
        keep.push((seconds.cast(DataType::Float64) / lit(1000.0)).alias("first_response_seconds"));
    }
    // Ticket ids are unique once quarantine has settled repeated ids: no de-duplication (which would hold a
    // hash table of every id).
    let tickets = tickets.select(keep);
    // The hash table on the surveys, which are fewer than the tickets (10M tickets, CSAT alone: 1.3 → 0.7 GB peak).
    let mut args = JoinArgs::new(JoinType::Left);
    args.build_side = Some(JoinBuildSide::ForceLeft);
    rows.join(tickets, [col("ticket_id")], [col("ticket_id")], args)
}

/// The survey answers with all the ticket columns the segments take from them, joined once: each segment's
/// survey part then reads them instead of joining every ticket again (10M tickets, 2.7M answers: 1.4–2 s a
/// segment). A full run writes them to `scratch` (a Parquet file in the run's work folder), so that memory
/// holds one segment's rows at a time; a night keeps those of the touched periods in memory, their tickets
/// read from the parts that hold them. `None` when answers count in their ticket's period (they are placed
/// by that join) or nothing links them to tickets.
pub(crate) fn answers_with_tickets(
    plan: &Plan,
    staged: &Staged,
    scratch: &std::path::Path,
) -> Result<Option<LazyFrame>, crate::error::Error> {
    let by_ticket = plan.definitions.survey_period == crate::catalog::SurveyPeriod::TicketCreated;
    let linked = plan.has_column(Table::Surveys, "ticket_id") && plan.sources_of(Table::Tickets).next().is_some();
    if by_ticket || !linked || plan.sources_of(Table::Surveys).next().is_none() {
        return Ok(None);
    }
    let segments: Vec<&Segment> = plan.segments.iter().filter(|s| staged.covers(&s.name)).collect();
    let reads_surveys = segments.iter().flat_map(|s| &s.kpis).any(|k| plan.kpis[*k].table == Table::Surveys);
    if !reads_surveys {
        return Ok(None);
    }
    let columns = ticket_columns(plan, &segments);
    let frt = segments
        .iter()
        .flat_map(|s| &s.kpis)
        .any(|k| plan.kpis[*k].table == Table::Surveys && plan.kpis[*k].columns().contains(&"first_response_seconds"));
    if staged.only.is_empty() {
        // The columns a KPI, filter or dimension can read: the join holds the answers in its hash table.
        let mut answers = staged.scan(Table::Surveys)?;
        let readable = crate::exec::normalise::readable_schema(plan, Table::Surveys);
        let kept: Vec<Expr> =
            answers.collect_schema()?.iter_names().filter(|n| readable.contains(n)).map(|n| col(n.clone())).collect();
        let answers = answers.select(kept);
        let joined = with_ticket_columns(plan, staged.scan(Table::Tickets)?, answers, &columns, frt)
            .with_column(lit(true).alias(TICKET_JOINED));
        if staged.held.contains(&Table::Surveys) {
            return Ok(Some(joined.collect_with_engine(Engine::Streaming)?.unwrap_single().lazy()));
        }
        let path = scratch.join("answers_with_tickets.parquet");
        crate::exec::store::write_parts::sink_all(plan, vec![(path.clone(), joined)], ParquetCompression::Lz4Raw)?;
        return Ok(Some(crate::exec::scan_file(&path)?));
    }
    let spans = segments.iter().filter_map(|s| touched_span(s, staged));
    let Some((from, to)) = spans.reduce(|(a, b), (c, d)| (a.min(c), b.max(d))) else { return Ok(None) };
    let answers = within(staged.scan_within(plan, Table::Surveys, from, to)?, "submitted_at", from, to).collect()?;
    // Only the parts that hold the answers' tickets (by their id files): a night's answers rate recent
    // tickets, which a few of the store's parts hold.
    let wanted = crate::exec::store::id_index::hashes_of(answers.column("ticket_id")?.str()?.iter().flatten());
    let parts: Vec<&crate::exec::store::stage::StagedPart> =
        staged.part_reads.iter().flat_map(|r| r.of(Table::Tickets)).collect();
    let holding = crate::exec::store::id_index::parts_holding(&parts, "ticket_id", &wanted)?;
    let tickets = staged.scan_parts(plan, Table::Tickets, &|p| holding.iter().any(|h| h.path == p.path))?;
    let joined =
        with_ticket_columns(plan, tickets, answers.lazy(), &columns, frt).with_column(lit(true).alias(TICKET_JOINED));
    Ok(Some(joined.collect_with_engine(Engine::Streaming)?.unwrap_single().lazy()))
}

/// The distinct ticket ids that `surveys` answer.
fn answered_ids(surveys: LazyFrame) -> LazyFrame {
    surveys.select([col("ticket_id")]).filter(col("ticket_id").is_not_null()).unique(None, UniqueKeepStrategy::Any)
}

/// The ids of the tickets that some answer rates, found once for all the segments whose KPIs read
/// `has_survey` (each gathered the distinct ids of every answer: 2.7M answers, 0.7 s a segment). On a night,
/// only those of the touched periods' tickets. `None` when no segment reads `has_survey`.
pub(crate) fn answered_tickets(plan: &Plan, staged: &Staged) -> Result<Option<DataFrame>, crate::error::Error> {
    let reads_survey = |s: &&Segment| {
        s.kpis.iter().any(|k| plan.kpis[*k].table == Table::Tickets && plan.kpis[*k].columns().contains(&"has_survey"))
    };
    let segments: Vec<&Segment> =
        plan.segments.iter().filter(|s| staged.covers(&s.name)).filter(reads_survey).collect();
    if segments.is_empty() || plan.sources_of(Table::Surveys).next().is_none() {
        return Ok(None);
    }
    let answers = staged.scan(Table::Surveys)?;
    if staged.only.is_empty() {
        return Ok(Some(answered_ids(answers).collect_with_engine(Engine::Streaming)?.unwrap_single()));
    }
    let spans = segments.iter().filter_map(|s| touched_span(s, staged));
    let Some((from, to)) = spans.reduce(|(a, b), (c, d)| (a.min(c), b.max(d))) else { return Ok(None) };
    let Some(period) = Table::Tickets.period_column() else { return Ok(None) };
    let touched =
        within(staged.scan_within(plan, Table::Tickets, from, to)?, period, from, to).select([col("ticket_id")]);
    let mut semi = JoinArgs::new(JoinType::Semi);
    semi.build_side = Some(JoinBuildSide::ForceRight);
    let answers = answers.join(touched, [col("ticket_id")], [col("ticket_id")], semi);
    Ok(Some(answered_ids(answers).collect_with_engine(Engine::Streaming)?.unwrap_single()))
}

/// A left join to a lookup table (accounts, the ids of answered tickets): the hash table is built on the
/// lookup, so that the rows joined to it stream through. Left to itself, the engine built it on 10M tickets
/// to join 5,000 accounts (10M tickets, volume by sector: 610 → 480 MB peak).
fn lookup_join() -> JoinArgs {
    let mut args = JoinArgs::new(JoinType::Left);
    args.build_side = Some(JoinBuildSide::ForceRight);
    args
}

/// Business and SLA durations of tickets (derived columns `first_response_business_seconds`,
/// `resolution_business_seconds`, `first_response_sla_seconds`, `resolution_sla_seconds`) that `reads` asks
/// for. A ticket without a calendar is measured around the clock.
fn business_time(plan: &Plan, staged: &Staged, reads: &[&str], mut lf: LazyFrame) -> LazyFrame {
    let wall = elapsed_seconds;
    let measures = [
        (
            "first_response_at",
            "first_response_business_seconds",
            "first_response_sla_seconds",
            &plan.sla.first_response,
        ),
        ("resolved_at", "resolution_business_seconds", "resolution_sla_seconds", &plan.sla.resolution),
    ];
    let wanted = |name: &str| reads.contains(&name);
    let Some(clock) = &staged.clock else {
        for (name, elapsed) in elapsed_business_time(reads) {
            lf = lf.with_column(elapsed.alias(name));
        }
        return lf;
    };
    let needs_any = measures.iter().any(|(_, b, s, _)| wanted(b) || wanted(s)) || wanted("first_response_overdue");
    if !needs_any {
        return lf;
    }
    lf = lf.with_column(business::calendar_of(plan).alias(business::CALENDAR));
    lf = clock.elapsed(lf, "created_at", "__elapsed_created");
    for (end, business, sla, rules) in measures {
        if !(wanted(business) || wanted(sla)) {
            continue;
        }
        let elapsed = format!("__elapsed_{end}");
        lf = clock.elapsed(lf, end, &elapsed);
        let business_seconds = when(col(business::CALENDAR).is_null())
            .then(wall(end))
            .otherwise((col(elapsed.as_str()) - col("__elapsed_created")).cast(DataType::Float64) / lit(1000.0));
        lf = lf.with_column(business_seconds.alias(business));
        if wanted(sla) {
            lf = lf.with_column(when(sla_business(rules)).then(col(business)).otherwise(wall(end)).alias(sla));
        }
    }
    lf
}

/// The seconds from a ticket's creation to `end`, around the clock.
fn elapsed_seconds(end: &str) -> Expr {
    (col(end) - col("created_at")).dt().total_milliseconds(false).cast(DataType::Float64) / lit(1000.0)
}

/// The business and SLA durations that `reads` asks for, without business calendars: elapsed time.
fn elapsed_business_time(reads: &[&str]) -> Vec<(&'static str, Expr)> {
    let measures = [
        ("first_response_at", "first_response_business_seconds", "first_response_sla_seconds"),
        ("resolved_at", "resolution_business_seconds", "resolution_sla_seconds"),
    ];
    let mut out = Vec::new();
    for (end, business, sla) in measures {
        out.extend([business, sla].into_iter().filter(|n| reads.contains(n)).map(|n| (n, elapsed_seconds(end))));
    }
    out
}

/// The SLA targets (seconds) that `reads` asks for.
fn sla_targets(plan: &Plan, reads: &[&str]) -> Vec<(&'static str, Expr)> {
    [("first_response_target", &plan.sla.first_response), ("resolution_target", &plan.sla.resolution)]
        .into_iter()
        .filter(|(name, _)| reads.contains(name))
        .map(|(name, rules)| (name, sla_target(rules)))
        .collect()
}

/// The columns `enriched` adds to tickets from each ticket's own columns that `reads` asks for (SLA targets,
/// and without business calendars the business and SLA durations); `None` when a calendar measures some.
#[cfg_attr(not(feature = "ballista"), allow(dead_code))]
pub(crate) fn row_enrichments(plan: &Plan, staged: &Staged, reads: &[&str]) -> Option<Vec<(&'static str, Expr)>> {
    let business = ["first_response_business_seconds", "resolution_business_seconds"];
    let sla = ["first_response_sla_seconds", "resolution_sla_seconds"];
    if staged.clock.is_some() && business.iter().chain(&sla).any(|c| reads.contains(c)) {
        return None;
    }
    let mut out = sla_targets(plan, reads);
    out.extend(elapsed_business_time(reads));
    Some(out)
}

/// Whether each ticket's SLA rule (the first match, rules sorted most specific first) counts business time.
fn sla_business(rules: &[crate::plan::SlaRule]) -> Expr {
    let mut business = lit(false);
    for rule in rules.iter().rev() {
        business = when(rule_matches(rule)).then(lit(rule.business)).otherwise(business);
    }
    business
}

fn rule_matches(rule: &crate::plan::SlaRule) -> Expr {
    let mut matches = lit(true);
    if let Some(c) = &rule.channel {
        matches = matches.and(col("channel").eq(lit(c.as_str())));
    }
    if let Some(p) = &rule.priority {
        matches = matches.and(col("priority").eq(lit(p.as_str())));
    }
    matches.fill_null(lit(false))
}

/// A ticket's age at the as-of instant, around the clock, in whole milliseconds.
pub(crate) fn wall_age(plan: &Plan) -> Expr {
    let as_of = lit(plan.as_of.as_millisecond()).cast(DataType::Datetime(TimeUnit::Milliseconds, None));
    (as_of - col("created_at")).dt().total_milliseconds(false).cast(DataType::Float64)
}

/// Whether a ticket had no first response at the as-of instant though its `target` (seconds) had passed;
/// `age_ms`: its age then, in milliseconds. The one definition both engines evaluate (`from_store`).
pub(crate) fn first_response_overdue(age_ms: Expr, target: Expr) -> Expr {
    col("first_response_at").is_null().and((age_ms / lit(1000.0)).gt(target)).fill_null(lit(false))
}

/// Each ticket's target in seconds: the first matching rule, rules being sorted most specific first.
pub(crate) fn sla_target(rules: &[crate::plan::SlaRule]) -> Expr {
    let mut target = lit(NULL).cast(DataType::Float64);
    for rule in rules.iter().rev() {
        target = when(rule_matches(rule)).then(lit(rule.target_seconds)).otherwise(target);
    }
    target
}

/// The dates the boundary KPIs are measured over: the window, or the tickets' (else surveys') first to last
/// day.
fn date_range(plan: &Plan, staged: &Staged) -> Result<(jiff::civil::Date, jiff::civil::Date), crate::error::Error> {
    if let (Some(from), Some(to)) = (plan.window.from, plan.window.to) {
        return Ok((from, to));
    }
    let table = [Table::Tickets, Table::Surveys, Table::Spend]
        .into_iter()
        .find(|t| plan.sources_of(*t).next().is_some())
        .ok_or_else(|| crate::error::Error::Internal("boundary KPIs need a window or event data".into()))?;
    let day = match table.period_column() {
        Some(period) => col(period).dt().date().cast(DataType::Int32),
        None => col("period").cast(DataType::Int32),
    };
    let epoch = jiff::civil::date(1970, 1, 1);
    // The range ends on the day after the last one.
    let (lo, hi) = match day_span(staged.scan(table)?, day.clone().min(), day.max())? {
        Some((first, last)) => (first, last.tomorrow().unwrap_or(last)),
        None => (epoch, epoch),
    };
    Ok((plan.window.from.unwrap_or(lo), plan.window.to.unwrap_or(hi)))
}

/// The periods the boundary KPIs are measured for: those of the window (or the data's span) in which the
/// timeline table has rows. Periods without data get no row, so that one stray old timestamp costs one
/// period, not one per period of the calendar between it and the rest.
fn boundary_periods(
    plan: &Plan,
    seg: &Segment,
    staged: &Staged,
) -> Result<Vec<(jiff::civil::Date, jiff::civil::Date)>, crate::error::Error> {
    let only = staged.only.get(&seg.name);
    let (from, to) = match touched_span(seg, staged) {
        // Only the touched periods are kept below: they bound the calendar, without a pass over the data.
        Some((first, after_last)) if seg.grain != Grain::All => {
            (plan.window.from.unwrap_or(first), plan.window.to.unwrap_or(after_last))
        },
        _ => date_range(plan, staged)?,
    };
    if seg.grain == Grain::All {
        return Ok(crate::periods::periods(seg.grain, from, to));
    }
    let Some(table) =
        [Table::Tickets, Table::Surveys, Table::Spend].into_iter().find(|t| plan.sources_of(*t).next().is_some())
    else {
        return Ok(Vec::new());
    };
    let day = match table.period_column() {
        Some(period) => col(period).dt().date(),
        None => col("period"),
    };
    let distinct_days = |rows: LazyFrame| -> Result<Vec<i32>, crate::error::Error> {
        let days = rows
            .select([day.clone().cast(DataType::Int32).alias("__day")])
            .filter(col("__day").is_not_null())
            .unique(None, UniqueKeepStrategy::Any)
            .collect()?;
        Ok(days.column("__day")?.i32()?.iter().flatten().collect())
    };
    let days = match (table.period_column(), touched_span(seg, staged)) {
        (Some(period), Some((first, after_last))) => {
            let rows = staged.scan_within(plan, table, first, after_last)?;
            distinct_days(within_touched_range(rows, seg, staged, period))?
        },
        // Computed whole: the same days for every segment, found once (10M tickets: 1–1.4 s a segment).
        _ => match staged.data_days.get() {
            Some(days) => days.clone(),
            None => {
                let days = distinct_days(staged.scan(table)?)?;
                staged.data_days.get_or_init(|| days).clone()
            },
        },
    };
    let mut with_data: Vec<jiff::civil::Date> =
        days.iter().map(|d| crate::periods::start_of(seg.grain, crate::periods::from_epoch_days(*d as i64))).collect();
    with_data.sort();
    with_data.dedup();
    Ok(crate::periods::periods(seg.grain, from, to)
        .into_iter()
        .filter(|(start, _)| with_data.binary_search(start).is_ok())
        .filter(|(start, _)| only.is_none_or(|days| days.contains(&(days_since_epoch(*start) as i32))))
        .collect())
}

/// A mix over more values than this is counted by a group-by of its own.
const FOLDED_MIX_VALUES: usize = 32;

/// The values a mix over `of` can take in `table`, sorted, when they can be listed before the segment's
/// aggregation: `of` is a column of the staged table that the joins do not fill (a survey's channel can come
/// from its ticket, a sector from its account), with at most `FOLDED_MIX_VALUES` values. The mix is then
/// counted inside the segment's one group-by instead of a pass of its own over the rows and their joins
/// (1M tickets: the channel and category mixes of sector × month took 0.24 of its 0.6 s).
fn mix_labels(
    plan: &Plan,
    seg: &Segment,
    staged: &Staged,
    table: Table,
    of: &str,
) -> Result<Option<Vec<String>>, crate::error::Error> {
    let joined =
        model::FROM_ACCOUNT.contains(&of) || (table.inherits_ticket() && model::SURVEY_FROM_TICKET.contains(&of));
    // On a night, the rows of the parts the touched periods read (filtered to those periods below).
    let mut rows = match (table.period_column(), touched_span(seg, staged)) {
        (Some(_), Some((from, to))) => staged.scan_within(plan, table, from, to)?,
        _ => staged.scan(table)?,
    };
    if joined || !rows.collect_schema()?.contains(of) {
        return Ok(None);
    }
    if let Some(period) = table.period_column() {
        rows = within_touched_range(rows, seg, staged, period);
    }
    let values = rows
        .select([compile::mix_label(of).alias("label")])
        .unique(None, UniqueKeepStrategy::Any)
        .limit(FOLDED_MIX_VALUES as IdxSize + 1)
        .collect()?;
    if values.height() > FOLDED_MIX_VALUES {
        return Ok(None);
    }
    let mut labels: Vec<String> = values.column("label")?.str()?.iter().flatten().map(str::to_string).collect();
    labels.sort();
    Ok(Some(labels))
}

/// Rows of the boundary KPIs (backlog, retention, churn) of `table`. The backlog comes from sorted events
/// (`backlog`); the others, over accounts, from one aggregation per period boundary, in one pass grouped by
/// the dimensions only.
fn snapshot_parts(
    plan: &Plan,
    seg: &Segment,
    staged: &Staged,
    table: Table,
    kpis: &[usize],
    periods: &[(jiff::civil::Date, jiff::civil::Date)],
    parts: &mut Vec<LazyFrame>,
) -> Result<(), crate::error::Error> {
    if table == Table::Spend {
        return crate::exec::aggregate::acquisition::parts(plan, seg, staged, kpis, periods, parts);
    }
    if table == Table::Tickets && seg.grain != Grain::All {
        return crate::exec::aggregate::backlog::parts(plan, seg, staged, kpis, periods, parts);
    }
    // Every row once per period, and one aggregation for all the periods: a plan with an aggregation per
    // period grew with them (53 weeks: 0.1 s to plan and run for 500 accounts).
    let starts: Vec<i32> = periods.iter().map(|(start, _)| days_since_epoch(*start) as i32).collect();
    let ends: Vec<i32> = periods.iter().map(|(_, end)| days_since_epoch(*end) as i32).collect();
    let bounds =
        DataFrame::new(periods.len(), vec![Column::new(START_DAY.into(), starts), Column::new(END_DAY.into(), ends)])?;
    let lf = enriched(plan, table, seg, staged, staged.scan(table)?)?.cross_join(bounds.lazy(), None);
    let mut aggs = group_aggs(staged);
    for &k in kpis {
        for (s, stat) in plan.kpis[k].stats.iter().enumerate() {
            let exprs = compile::snapshot(&stat.aggregate, col(START_DAY), col(END_DAY), &mut aggs);
            for (name, e) in compile::PARTS.iter().zip(exprs) {
                aggs.aggs.push(e.alias(part(k, s, name)));
            }
        }
    }
    let key_names: Vec<PlSmallStr> =
        seg.dimensions.iter().map(|d| PlSmallStr::from(*d)).chain([START_DAY.into()]).collect();
    let grouped = reduced(staged, lf, &key_names, aggs)?.cache();
    let period = boundary_period(plan, seg, col(START_DAY).cast(DataType::Date));
    for &k in kpis {
        let def = &plan.kpis[k];
        for (s, stat) in def.stats.iter().enumerate() {
            let figures = compile::PARTS.map(|name| col(part(k, s, name)));
            let stat_name = lit(stat.stat.as_str());
            parts.push(grouped.clone().select(output_row(seg, def, (k, s), stat, period.clone(), stat_name, figures)));
        }
    }
    Ok(())
}

/// One KPI stat's output columns: the dimensions, then `OUTPUT_COLUMNS`, then the sort keys `__k`, `__s`.
/// `figures` are value, numerator, denominator and n.
pub(crate) fn output_row(
    seg: &Segment,
    def: &KpiDefinition,
    (k, s): (usize, usize),
    stat: &StatDef,
    period: Expr,
    stat_name: Expr,
    figures: [Expr; 4],
) -> Vec<Expr> {
    let [value, numerator, denominator, n] = figures;
    let n = n.cast(DataType::Int64);
    // An exact count is not a sample; everything else is an estimate that can be thin.
    let exact = matches!(stat.aggregate, Aggregate::Count | Aggregate::OpenAtPeriodEnd | Aggregate::Sum(_));
    let low = if exact { lit(false) } else { n.clone().lt(lit(def.min_sample as i64)) };
    let mut cols: Vec<Expr> = seg.dimensions.iter().map(|d| col(*d).cast(DataType::String)).collect();
    cols.extend([
        period.alias(PERIOD),
        lit(def.name.as_str()).alias("kpi"),
        stat_name.alias("stat"),
        value.alias("value"),
        lit(stat.unit.as_str()).alias("unit"),
        numerator.alias("numerator"),
        denominator.alias("denominator"),
        n.alias("n"),
        low.alias("low_sample"),
        lit(k as u32).alias("__k"),
        lit(s as u32).alias("__s"),
    ]);
    cols
}

/// The segment's long-format KPI table, sorted by dimensions, period, KPI (declaration order), stat.
pub fn segment_frame(plan: &Plan, seg: &Segment, staged: &Staged) -> Result<LazyFrame, crate::error::Error> {
    Ok(finish(seg, concat(segment_parts(plan, seg, staged)?, UnionArgs::default())?))
}

/// On a cluster, the rows of a table that segments reduce, prepared once with every dimension and column
/// those segments read (`shared_rows`).
#[cfg(feature = "ballista")]
pub struct SharedRows {
    pub table: Table,
    pub rows: LazyFrame,
    /// How many segments reduce them.
    pub readers: usize,
    /// The same rows as the executors read them from the store's parts, when they can.
    pub from_store: Option<crate::exec::cluster::from_store::StoreRows>,
}

/// On a cluster, the rows of each table that segments reduce (`segment_parts`' main reductions and
/// per-ticket counts), prepared once with every dimension and column those segments read: read by the
/// executors from the store's parts when they can (`from_store`), else handed over once instead of once
/// per segment when two or more segments reduce them. A segment's rows of a table differ from these only in
/// the dimensions joined (lookups, which neither add nor drop rows) and the columns derived, so a reduction
/// that reads columns these hold gives the same groups from them (`Staged::reduce_on_cluster` checks).
#[cfg(feature = "ballista")]
pub fn shared_rows(
    plan: &Plan,
    staged: &Staged,
    store: &crate::exec::cluster::from_store::StoreReads,
) -> Result<Vec<SharedRows>, crate::error::Error> {
    let mut shared = Vec::new();
    for (table, wide, readers) in reducing_segments(plan) {
        let mut rows = table_frame(plan, table, &wide, staged)?;
        let schema = rows.collect_schema()?;
        let mut columns: Vec<&str> = Vec::new();
        push_new(&mut columns, wide.dimensions.iter().copied().chain([period_of(plan, table)]));
        push_new(&mut columns, wide.kpis.iter().flat_map(|k| plan.kpis[*k].columns()));
        columns.retain(|c| schema.contains(c));
        let from_store = crate::exec::cluster::from_store::store_rows(plan, staged, store, table, &wide, &columns)?;
        if from_store.is_none() && readers < 2 {
            continue;
        }
        let rows = rows.select(columns.into_iter().map(col).collect::<Vec<_>>());
        shared.push(SharedRows { table, rows, readers, from_store });
    }
    Ok(shared)
}

/// Per table that segments' main reductions and per-ticket counts read: a segment with every dimension and
/// KPI of those segments over it (named `__<table>`, the first one's grain), and how many segments they
/// are.
#[cfg(feature = "ballista")]
pub fn reducing_segments(plan: &Plan) -> Vec<(Table, Segment, usize)> {
    let main = |k: &usize| !is_snapshot(plan, *k) && !is_quotient(plan, *k);
    let per_ticket = |k: &usize| is_per_ticket(plan, *k);
    let mut readers: BTreeMap<Table, Vec<(&Segment, Vec<usize>)>> = BTreeMap::new();
    for seg in &plan.segments {
        let kpis: Vec<usize> = seg.kpis.iter().copied().filter(main).collect();
        let mut tables: Vec<Table> = kpis.iter().map(|k| plan.kpis[*k].table).collect();
        if kpis.iter().any(per_ticket) {
            tables.push(Table::Tickets);
        }
        tables.sort();
        tables.dedup();
        for table in tables {
            let own = kpis.iter().copied().filter(|k| plan.kpis[*k].table == table).collect();
            readers.entry(table).or_default().push((seg, own));
        }
    }
    let mut out = Vec::new();
    for (table, segments) in readers {
        let mut dimensions: Vec<&'static str> = Vec::new();
        let mut kpis: Vec<usize> = Vec::new();
        for (seg, own) in &segments {
            push_new(&mut dimensions, seg.dimensions.iter().copied());
            push_new(&mut kpis, own.iter().copied());
        }
        let grain = segments[0].0.grain;
        let wide = Segment { name: format!("__{table}"), dimensions, grain, kpis, left_out: Vec::new() };
        out.push((table, wide, segments.len()));
    }
    out
}

/// Whether KPI `k` reads the table at period boundaries (`segment_parts`' snapshot tables).
fn is_snapshot(plan: &Plan, k: usize) -> bool {
    plan.kpis[k].stats.iter().any(|s| s.aggregate.is_snapshot())
}

/// Whether KPI `k` divides two tables' totals (`ratio::part`).
fn is_quotient(plan: &Plan, k: usize) -> bool {
    plan.kpis[k].stats.iter().any(|s| matches!(s.aggregate, Aggregate::Quotient { .. }))
}

/// Whether KPI `k` divides by the tickets of its group (`TICKETS`, counted beside its reduction).
fn is_per_ticket(plan: &Plan, k: usize) -> bool {
    plan.kpis[k].stats.iter().any(|s| matches!(s.aggregate, Aggregate::PerTicket(_)))
}

/// `items` appended to `list`, each unless it is there already.
#[cfg(feature = "ballista")]
fn push_new<T: PartialEq>(list: &mut Vec<T>, items: impl IntoIterator<Item = T>) {
    for item in items {
        if !list.contains(&item) {
            list.push(item);
        }
    }
}

/// The segment's rows, one frame per table they are computed from, unsorted; `finish` completes them. Each
/// can be computed on its own, so that a large run holds one table's aggregation state at a time.
pub fn segment_parts(plan: &Plan, seg: &Segment, staged: &Staged) -> Result<Vec<LazyFrame>, crate::error::Error> {
    let mut tables: Vec<Table> = Vec::new();
    let mut snapshot_tables: Vec<Table> = Vec::new();
    for &k in seg.kpis.iter().filter(|k| !is_quotient(plan, **k)) {
        let list = if is_snapshot(plan, k) { &mut snapshot_tables } else { &mut tables };
        if !list.contains(&plan.kpis[k].table) {
            list.push(plan.kpis[k].table);
        }
    }
    let keys: Vec<Expr> = seg.dimensions.iter().map(|d| col(*d)).chain([col(PERIOD)]).collect();
    let key_names: Vec<PlSmallStr> =
        seg.dimensions.iter().map(|d| PlSmallStr::from(*d)).chain([PERIOD.into()]).collect();
    let mut by_table = Vec::new();
    for table in tables {
        by_table.push(table_part(plan, seg, staged, table, &keys, &key_names)?);
    }
    for k in seg.kpis.iter().copied().filter(|k| is_quotient(plan, *k)) {
        by_table.push(crate::exec::aggregate::ratio::part(plan, seg, staged, k, &key_names)?);
    }
    // The same periods for every table's boundary KPIs: found once (a pass over the tickets' days).
    let periods = match snapshot_tables.is_empty() {
        true => Vec::new(),
        false => crate::exec::record::timing::traced("boundary periods", || boundary_periods(plan, seg, staged))?,
    };
    for table in snapshot_tables {
        let kpis: Vec<usize> =
            seg.kpis.iter().copied().filter(|k| plan.kpis[*k].table == table && is_snapshot(plan, *k)).collect();
        let mut parts = Vec::new();
        snapshot_parts(plan, seg, staged, table, &kpis, &periods, &mut parts)?;
        // No period with data (no kept row at all): the boundary KPIs have no row.
        if !parts.is_empty() {
            by_table.push(concat(parts, UnionArgs::default())?);
        }
    }
    if by_table.is_empty() {
        by_table.push(no_rows(seg));
    }
    Ok(by_table)
}

/// The segment's rows of the KPIs computed from `table` (not boundary or quotient KPIs): one group-by of
/// the table's rows for all of them, then a row per KPI, statistic and group.
fn table_part(
    plan: &Plan,
    seg: &Segment,
    staged: &Staged,
    table: Table,
    keys: &[Expr],
    key_names: &[PlSmallStr],
) -> Result<LazyFrame, crate::error::Error> {
    let mut parts = Vec::new();
    let kpis: Vec<usize> = seg
        .kpis
        .iter()
        .copied()
        .filter(|k| plan.kpis[*k].table == table && !is_snapshot(plan, *k) && !is_quotient(plan, *k))
        .collect();
    let period = table.period_column().expect("KPI tables have a period column");
    let days = days_in_period(seg.grain, period, &plan.window);
    let mut aggs = group_aggs(staged);
    let mut folded: BTreeMap<(usize, usize), Vec<String>> = BTreeMap::new();
    for k in &kpis {
        compile::aggregations(*k, &plan.kpis[*k], &days, &seg.dimensions, &mut aggs);
        for (s, stat) in plan.kpis[*k].stats.iter().enumerate() {
            if let Aggregate::Mix { of } = stat.aggregate {
                if let Some(labels) = mix_labels(plan, seg, staged, table, of)? {
                    compile::mix_counts(*k, s, &plan.kpis[*k], of, &labels, &mut aggs);
                    folded.insert((*k, s), labels);
                }
            }
        }
    }
    let rows = table_frame(plan, table, seg, staged)?;
    // On a cluster, the period starts are computed there, from the period column.
    let period_key = |t: Table| (PERIOD, period_start(seg.grain, col(period_of(plan, t)), &plan.window));
    if let Some(sql) = aggs.sql.as_mut() {
        let (key, e) = period_key(table);
        sql.compute_key(key, &e);
    }
    let mut grouped = reduced_from(staged, rows.clone(), Some(table), key_names, aggs)?;
    if kpis.iter().any(|k| is_per_ticket(plan, *k)) {
        let tickets = match table {
            Table::Tickets => rows.clone(),
            _ => table_frame(plan, Table::Tickets, seg, staged)?,
        };
        let tickets =
            counted(staged, tickets, Some(Table::Tickets), key_names, TICKETS, Some(period_key(Table::Tickets)))?;
        let mut args = JoinArgs::new(JoinType::Left);
        args.nulls_equal = true; // the `all` grain without a window has a null period
        grouped = grouped.join(tickets, keys.to_vec(), keys.to_vec(), args);
    }
    // One aggregation for all the KPIs' rows. The engine does not move filters into a cached plan: on a
    // night, the touched periods' range must reach the Parquet reader (the store's other months are then
    // skipped), and the engine's own common-plan detection shares the aggregation instead. A full run
    // keeps the cache, which holds the small aggregate rather than the rows (10M: 2.2 vs 2.8 GB peak).
    let grouped = match staged.only.contains_key(&seg.name) {
        true => grouped,
        false => grouped.cache(),
    };
    for k in kpis {
        let def = &plan.kpis[k];
        for (s, stat) in def.stats.iter().enumerate() {
            if let Some(labels) = folded.get(&(k, s)) {
                // A mix's rows are named by the value they measure; a group has a row for each value it has.
                for (i, label) in labels.iter().enumerate() {
                    let (figures, count) = compile::mix_figures(k, s, i);
                    let row = output_row(seg, def, (k, s), stat, col(PERIOD), lit(label.as_str()), figures);
                    parts.push(grouped.clone().filter(count.gt(lit(0i64))).select(row));
                }
                continue;
            }
            if let Aggregate::Mix { of } = stat.aggregate {
                // A mix's rows are named by the value they measure.
                let figures = [col("value"), col("numerator"), col("denominator"), col("n")];
                let cols = output_row(seg, def, (k, s), stat, col(PERIOD), col("stat"), figures);
                parts.push(mix(staged, rows.clone(), key_names, def, of)?.select(cols));
                continue;
            }
            let mut figures = compile::PARTS.map(|name| col(part(k, s, name)));
            if let Aggregate::PerTicket(_) = stat.aggregate {
                let tickets = col(TICKETS).fill_null(lit(0i64));
                let numerator = col(part(k, s, "numerator"));
                figures = [
                    when(tickets.clone().gt(lit(0i64)))
                        .then(numerator.clone() / tickets.clone().cast(DataType::Float64))
                        .otherwise(lit(NULL).cast(DataType::Float64)),
                    numerator,
                    tickets.clone().cast(DataType::Float64),
                    tickets,
                ];
            }
            let stat_name = lit(stat.stat.as_str());
            parts.push(grouped.clone().select(output_row(seg, def, (k, s), stat, col(PERIOD), stat_name, figures)));
        }
    }
    Ok(concat(parts, UnionArgs::default())?)
}

/// A segment table without rows, typed as `output_row` makes them.
fn no_rows(seg: &Segment) -> LazyFrame {
    let mut columns: Vec<Column> =
        seg.dimensions.iter().map(|d| Column::new_empty((*d).into(), &DataType::String)).collect();
    let typed = [
        (PERIOD, DataType::Date),
        ("kpi", DataType::String),
        ("stat", DataType::String),
        ("value", DataType::Float64),
        ("unit", DataType::String),
        ("numerator", DataType::Float64),
        ("denominator", DataType::Float64),
        ("n", DataType::Int64),
        ("low_sample", DataType::Boolean),
        ("__k", DataType::UInt32),
        ("__s", DataType::UInt32),
    ];
    columns.extend(typed.iter().map(|(name, dtype)| Column::new_empty((*name).into(), dtype)));
    DataFrame::new(0, columns).expect("distinct names").lazy()
}

/// A `Mix` stat counted by a group-by of its own: per group and value, the rows (`compile::mix_shares`).
fn mix(
    staged: &Staged,
    rows: LazyFrame,
    key_names: &[PlSmallStr],
    def: &KpiDefinition,
    of: &str,
) -> Result<LazyFrame, crate::error::Error> {
    let by: Vec<PlSmallStr> = key_names.iter().cloned().chain(["stat".into()]).collect();
    let counts = counted(staged, compile::mix_rows(rows, def, of), None, &by, "__count", None)?;
    Ok(compile::mix_shares(counts, key_names)?)
}

/// The segment's rows (from `segment_parts`) with empty figures dropped, sorted.
pub fn finish(seg: &Segment, all: LazyFrame) -> LazyFrame {
    let mut sort_by: Vec<PlSmallStr> = seg.dimensions.iter().map(|d| PlSmallStr::from(*d)).collect();
    sort_by.extend([PERIOD.into(), "__k".into(), "__s".into(), "stat".into()]);
    all.filter(col("n").gt(lit(0i64)).and(col("value").is_not_null()).and(col("value").is_not_nan()))
        .sort(sort_by, SortMultipleOptions::default().with_nulls_last(true).with_maintain_order(true))
        .drop(cols(["__k", "__s"]))
}
