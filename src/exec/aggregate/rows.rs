//! A segment's rows: a table's kept rows with their facts, in the window (and on a night the touched
//! periods), joined to what the segment groups and measures by: the accounts' dimensions, the tickets'
//! columns an answer takes, SLA targets and verdicts, business durations, the period start.

use polars::prelude::*;

use crate::exec::aggregate::period_exprs::*;
use crate::exec::facts::business;
use crate::exec::Staged;
use crate::model::{self, Table};
use crate::plan::{Plan, Segment};

/// The instant a survey answer counts at under `definitions.surveys.period: ticket_created`.
pub(crate) const SURVEY_PERIOD: &str = "__survey_period_at";

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
pub(crate) fn period_of(plan: &Plan, table: Table) -> &'static str {
    let by_ticket = plan.definitions.survey_period == crate::catalog::SurveyPeriod::TicketCreated;
    match table == Table::Surveys && by_ticket && plan.has_column(Table::Tickets, "created_at") {
        true => SURVEY_PERIOD,
        false => table.event_column().expect("KPIs are over tables with an event column"),
    }
}

/// Rows whose `column` (a timestamp) falls between the first touched period's start and the last one's
/// end, when only touched periods are computed. A plain comparison, which the Parquet reader checks against
/// each row group's statistics: the store's parts of untouched months are skipped unread.
pub(crate) fn within_touched_range(lf: LazyFrame, seg: &Segment, staged: &Staged, column: &str) -> LazyFrame {
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
pub(crate) fn within(lf: LazyFrame, column: &str, from: jiff::civil::Date, to: jiff::civil::Date) -> LazyFrame {
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
pub(crate) fn enriched_with(
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
    // A source's attribute of the same name wins over a derived column.
    let attributes = plan.attributes(table);
    let derived_read = |names: &[&str]| {
        reads.iter().any(|c| names.contains(c) && !attributes.iter().any(|(a, _)| a == c))
            && plan.sources_of(Table::TicketEvents).next().is_some()
    };
    if table == Table::Tickets && derived_read(&crate::exec::facts::history::MEASURES) {
        let events = staged.scan(Table::TicketEvents)?;
        let measures =
            crate::exec::facts::history::durations(plan, events, staged.scan(Table::Tickets)?, staged.clock.as_ref());
        lf = lf.join(measures, [col("ticket_id")], [col("ticket_id")], lookup_join());
    }
    if table == Table::Tickets && derived_read(&crate::exec::facts::history::ASSIGNMENT_MEASURES) {
        let events = staged.scan(Table::TicketEvents)?;
        let measures = crate::exec::facts::history::assignments(events, staged.scan(Table::Tickets)?);
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
        // A night's answers, and a full run's answers and reply waits, come with their tickets' columns
        // already (`answers_with_tickets`, `facts::waits_with_tickets`).
        let joined = lf.collect_schema()?.contains(TICKET_JOINED);
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
pub(crate) fn ticket_columns(plan: &Plan, segments: &[&Segment]) -> Vec<&'static str> {
    let wanted = |c: &&str| {
        segments.iter().any(|s| {
            s.dimensions.contains(c)
                || (*c == "account_id" && s.dimensions.iter().any(|d| model::FROM_ACCOUNT.contains(d)))
        })
    };
    model::SURVEY_FROM_TICKET.iter().copied().filter(wanted).filter(|c| plan.has_column(Table::Tickets, c)).collect()
}

/// Marks survey answers and reply waits that carry their tickets' columns (`answers_with_tickets`,
/// `facts::waits_with_tickets`).
pub(crate) const TICKET_JOINED: &str = "__ticket_joined";

/// `rows` (of a table with a `ticket_id`) with `__t_<column>` for each of `columns` of their ticket, and
/// `first_response_seconds` when `frt`.
pub(crate) fn with_ticket_columns(
    plan: &Plan,
    tickets: LazyFrame,
    rows: LazyFrame,
    columns: &[&str],
    frt: bool,
) -> LazyFrame {
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
pub(crate) fn answered_ids(surveys: LazyFrame) -> LazyFrame {
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
pub(crate) fn lookup_join() -> JoinArgs {
    let mut args = JoinArgs::new(JoinType::Left);
    args.build_side = Some(JoinBuildSide::ForceRight);
    args
}

/// Business and SLA durations of tickets (derived columns `first_response_business_seconds`,
/// `resolution_business_seconds`, `first_response_sla_seconds`, `resolution_sla_seconds`) that `reads` asks
/// for. A ticket without a calendar is measured around the clock.
pub(crate) fn business_time(plan: &Plan, staged: &Staged, reads: &[&str], mut lf: LazyFrame) -> LazyFrame {
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
pub(crate) fn elapsed_seconds(end: &str) -> Expr {
    (col(end) - col("created_at")).dt().total_milliseconds(false).cast(DataType::Float64) / lit(1000.0)
}

/// The business and SLA durations that `reads` asks for, without business calendars: elapsed time.
pub(crate) fn elapsed_business_time(reads: &[&str]) -> Vec<(&'static str, Expr)> {
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
pub(crate) fn sla_targets(plan: &Plan, reads: &[&str]) -> Vec<(&'static str, Expr)> {
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
pub(crate) fn sla_business(rules: &[crate::plan::SlaRule]) -> Expr {
    let mut business = lit(false);
    for rule in rules.iter().rev() {
        business = when(rule_matches(rule)).then(lit(rule.business)).otherwise(business);
    }
    business
}

pub(crate) fn rule_matches(rule: &crate::plan::SlaRule) -> Expr {
    let mut matches = lit(true);
    if let Some(c) = &rule.channel {
        matches = matches.and(col("channel").eq(lit(c.as_str())));
    }
    if let Some(p) = &rule.priority {
        matches = matches.and(col("priority").eq(lit(p.as_str())));
    }
    if let Some(g) = &rule.group {
        matches = matches.and(col("team").eq(lit(g.as_str())));
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
