//! SLA instances (`Table::SlaInstances`), as Zendesk defines its SLA metrics: each ticket's comments and
//! status history walked once, in Rust, on the calendar or business clock of the ticket's rule. A frame of
//! tickets, one of comments and one of status changes are collected; the walk is `ticket_instances`, a pure
//! function over plain values (`walk`) that its unit tests hold to hand-worked figures.
//!
//! - `first_response`: from the opening to the ticket's first response (`first_response_at`: the first public
//!   agent comment after the opening, so an agent's opening comment does not count).
//! - `next_reply`: from the first customer comment after a public agent reply (not the opening comment) to
//!   the next public agent comment; more customer comments meanwhile do not restart it.
//! - `periodic_update`: from each public agent comment to the next; `pausable_update` the same, not counting
//!   the time the ticket is pending.
//! - `requester_wait`: the time in new, open and on-hold; `agent_work`: in new and open; both from the
//!   opening to the resolution. Before its first status change a ticket is new.
//! - `resolution`: from the opening to the resolution.
//!
//! An instance is fulfilled by its end; the ticket's resolution fulfils an instance still running then, and
//! comments after the resolution start none. One still running at the run's as-of instant is judged then:
//! breached once its counted time is past the target. Breached means counted time > target; `breach_at` is
//! the instant the counted time reached the target.

use polars::prelude::*;
use rayon::prelude::*;

use crate::calendar::Interval;
use crate::error::{DataError, Error};
use crate::exec::facts::{business, derive, history};
use crate::exec::record::timing::traced;
use crate::exec::{read, Staged};
use crate::model::{SlaMetric, Table};
use crate::plan::Plan;

mod walk;

pub(crate) use walk::{ticket_instances, Comment, Instance, Status, TicketTimes};

/// The run needs SLA instances: a segment's KPI reads them, or `outputs.sla` or `outputs.replies` writes them.
pub(crate) fn needed(plan: &Plan) -> bool {
    plan.sla.judges_as_of()
        && (plan.sla_table
            || plan.replies_table
            || plan.segments.iter().any(|s| s.kpis.iter().any(|k| plan.kpis[*k].table == Table::SlaInstances)))
}

/// The ticket id as text: tickets, comments and history rows are sorted and walked by it.
const KEY: &str = "__key";

/// The instances' columns the run reads: all of them for the SLA and reply tables, else the key, the period
/// and what the KPIs over the instances read (the rest would be held for nothing).
pub(crate) fn kept_columns(plan: &Plan, instances: DataFrame) -> PolarsResult<DataFrame> {
    if plan.sla_table || plan.replies_table {
        return Ok(instances);
    }
    let mut keep = vec!["ticket_id", "created_at"];
    for k in plan.kpis.iter().filter(|k| k.table == Table::SlaInstances) {
        keep.extend(k.columns().into_iter().filter(|c| Table::SlaInstances.column(c).is_some()));
    }
    keep.sort();
    keep.dedup();
    instances.select(keep)
}

const MS: DataType = DataType::Datetime(TimeUnit::Milliseconds, None);

fn millis(c: &str) -> Expr {
    col(c).cast(MS).dt().timestamp(TimeUnit::Milliseconds)
}

/// The SLA instances of every ticket `staged` gives, as the rows of `Table::SlaInstances` (with the
/// ticket's `ticket_id` and `created_at` as typed there).
pub(crate) fn instances(plan: &Plan, staged: &Staged) -> Result<DataFrame, Error> {
    let calendars: Vec<&str> = plan.calendars.iter().map(|c| c.name.as_str()).collect();
    let calendar = match plan.business_hours.is_empty() {
        true => lit(NULL).cast(DataType::String),
        false => business::calendar_of(plan),
    };
    let mut columns = vec![
        col("ticket_id"),
        col("created_at"),
        millis("created_at").alias("__created"),
        millis("resolved_at").alias("__resolved"),
        millis("first_response_at").alias("__first_response"),
        calendar.alias(business::CALENDAR),
    ];
    for metric in SlaMetric::ALL {
        let rules = plan.sla.rules(metric);
        columns.push(crate::exec::aggregate::rows::sla_target(rules).alias(format!("__target_{}", metric.name())));
        columns.push(crate::exec::aggregate::rows::sla_business(rules).alias(format!("__business_{}", metric.name())));
    }
    // A night whose KPIs read the instances (and no table for people lists them all) walks only the tickets
    // of the store parts its touched periods read, as the facts stage derives them (`facts::night`).
    // Segments a night computes whole (no period of their own to merge) read every instance.
    let readers = || plan.segments.iter().filter(|s| s.kpis.iter().any(|k| plan.kpis[*k].table == Table::SlaInstances));
    let partial = !staged.only.is_empty() && readers().all(|s| staged.only.contains_key(&s.name));
    let night = (partial && !plan.sla_table && !plan.replies_table).then(|| touched(plan, staged));
    let mut tickets = match night {
        Some(Some((from, to))) => staged.scan_within(plan, Table::Tickets, from, to)?,
        Some(None) => staged.scan(Table::Tickets)?.filter(lit(false)),
        None => staged.scan(Table::Tickets)?,
    };
    // The pipeline's ticket filter leaves a ticket's instances out with it.
    for (_, sql) in plan.table_filters.iter().filter(|(t, _)| *t == Table::Tickets) {
        let what = "the tickets table (filters read canonical columns and attributes)";
        let schema = crate::exec::normalise::readable_schema(plan, Table::Tickets);
        let keep = crate::exec::normalise::sql_on(sql, &schema, what)
            .map_err(|d| crate::exec::normalise::plan_error(plan, d))?;
        tickets = tickets.filter(keep.fill_null(lit(false)));
    }
    // Sorted by the id as text, the order the comments and history are walked in (ids may be whole numbers).
    columns.push(col("ticket_id").cast(DataType::String).alias(KEY));
    let tickets = traced("SLA: tickets", || {
        tickets.select(columns).sort([KEY], SortMultipleOptions::default()).collect_with_engine(Engine::Streaming)
    })?
    .unwrap_single();
    let declared = plan.sla.declared();
    // Only the walked tickets' comments and history rows.
    let walked = match night {
        Some(_) => Some(tickets.column("ticket_id")?.as_materialized_series().clone().into_frame().lazy()),
        None => None,
    };
    let comments = match declared.iter().any(|m| m.needs_messages()) {
        true => Some(traced("SLA: comments", || comments(plan, staged, walked.clone()))?),
        false => None,
    };
    let statuses = match declared.iter().any(|m| m.needs_history()) {
        true => Some(status_changes(plan, staged, walked.clone())?),
        false => None,
    };
    let mut times = ticket_times(&tickets, &calendars)?;
    let (lo, hi) = span(&times, plan.as_of.as_millisecond());
    let intervals: Vec<Vec<Interval>> = plan.calendars.iter().map(|c| c.intervals(lo, hi)).collect();
    let ids = keys(&tickets)?;
    let as_of = plan.as_of.as_millisecond();
    if let Some((frame, changes)) = schedule_changes(staged, &calendars)? {
        let of = keys(&frame)?;
        let mut next = 0;
        for (id, t) in ids.iter().zip(times.iter_mut()) {
            t.schedules = rows_of(&of, &mut next, id).map(|r| changes[r]).collect();
        }
    }
    let rule = plan.definitions.schedule_rule;
    let comment_ids = comments.as_ref().map(|(frame, _)| keys(frame)).transpose()?.unwrap_or_default();
    let status_ids = statuses.as_ref().map(|(frame, _)| keys(frame)).transpose()?.unwrap_or_default();
    let kinds = comments.as_ref().map(|(_, kinds)| kinds.as_slice()).unwrap_or_default();
    let changes = statuses.as_ref().map(|(_, changes)| changes.as_slice()).unwrap_or_default();
    // Tickets walked in chunks on every core: each chunk finds where its comments and history start.
    let chunk = ids.len().div_ceil(rayon::current_num_threads() * 8).max(1);
    let walk = std::time::Instant::now();
    // Each chunk's instances become rows at once, so that no chunk's list outlives it.
    let parts: Vec<DataFrame> = (0..ids.len())
        .step_by(chunk)
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|from| {
            let to = (from + chunk).min(ids.len());
            let (mut next_comment, mut next_status) = match ids.get(from) {
                Some(first) => (comment_ids.partition_point(|c| c < first), status_ids.partition_point(|c| c < first)),
                None => (0, 0),
            };
            let (mut rows, mut found) = (Vec::new(), Vec::new());
            for i in from..to {
                let these: Vec<Comment> = rows_of(&comment_ids, &mut next_comment, ids[i]).map(|r| kinds[r]).collect();
                let history: Vec<(i64, Status)> =
                    rows_of(&status_ids, &mut next_status, ids[i]).map(|r| changes[r]).collect();
                for instance in ticket_instances(&times[i], &these, &history, &intervals, rule, as_of) {
                    rows.push(i as IdxSize);
                    found.push(instance);
                }
            }
            instances_frame(&tickets, rows, found)
        })
        .collect::<Result<_, _>>()?;
    if std::env::var_os("DESKPULSE_TRACE").is_some() {
        eprintln!("    step {:.2} s: SLA: walk of {} tickets", walk.elapsed().as_secs_f64(), ids.len());
    }
    match parts.is_empty() {
        true => instances_frame(&tickets, Vec::new(), Vec::new()),
        false => {
            let mut all = parts.into_iter();
            let mut out = all.next().expect("not empty");
            for part in all {
                out.vstack_mut_owned(part)?;
            }
            Ok(out)
        },
    }
}

/// `rows` of the tickets `of` lists (`ticket_id`), or all of them.
fn of_tickets(rows: LazyFrame, of: Option<LazyFrame>) -> LazyFrame {
    match of {
        Some(ids) => rows.join(ids, [col("ticket_id")], [col("ticket_id")], JoinArgs::new(JoinType::Semi)),
        None => rows,
    }
}

/// The span of days the night's touched periods cover, over every segment (`None`: none touched).
fn touched(plan: &Plan, staged: &Staged) -> Option<(jiff::civil::Date, jiff::civil::Date)> {
    let spans: Vec<_> =
        plan.segments.iter().filter_map(|seg| crate::exec::aggregate::rows::touched_span(seg, staged)).collect();
    Some((spans.iter().map(|s| s.0).min()?, spans.iter().map(|s| s.1).max()?))
}

/// The text ids (`KEY`) of a frame sorted by them.
fn keys(frame: &DataFrame) -> PolarsResult<Vec<&str>> {
    Ok(frame.column(KEY)?.str()?.iter().map(Option::unwrap_or_default).collect())
}

/// The rows of ticket `id` in `ids` (sorted) from `next` on, which moves past them; ids are asked for in
/// ascending order, and rows of ids not asked for are skipped (a filter may leave a ticket out).
fn rows_of(ids: &[&str], next: &mut usize, id: &str) -> std::ops::Range<usize> {
    while *next < ids.len() && ids[*next] < id {
        *next += 1;
    }
    let start = *next;
    while *next < ids.len() && ids[*next] == id {
        *next += 1;
    }
    start..*next
}

fn ticket_times(tickets: &DataFrame, calendars: &[&str]) -> PolarsResult<Vec<TicketTimes>> {
    let i64s = |name: &str| -> PolarsResult<Vec<Option<i64>>> { Ok(tickets.column(name)?.i64()?.iter().collect()) };
    let (created, resolved, first) = (i64s("__created")?, i64s("__resolved")?, i64s("__first_response")?);
    let calendar: Vec<Option<usize>> = tickets
        .column(business::CALENDAR)?
        .str()?
        .iter()
        .map(|c| c.and_then(|c| calendars.iter().position(|n| *n == c)))
        .collect();
    // Per metric: each ticket's target (seconds) and whether it counts business time.
    type Targets = (Vec<Option<f64>>, Vec<Option<bool>>);
    let mut rules: Vec<Targets> = Vec::new();
    for metric in SlaMetric::ALL {
        let target = tickets.column(&format!("__target_{}", metric.name()))?.f64()?.iter().collect();
        let business = tickets.column(&format!("__business_{}", metric.name()))?.bool()?.iter().collect();
        rules.push((target, business));
    }
    Ok((0..tickets.height())
        .map(|i| TicketTimes {
            created: created[i].unwrap_or_default(),
            resolved: resolved[i],
            first_response: first[i],
            calendar: calendar[i],
            rules: std::array::from_fn(|m| {
                let (targets, business) = &rules[m];
                targets[i].map(|t| ((t * 1000.0).round() as i64, business[i].unwrap_or(false)))
            }),
            schedules: Vec::new(),
        })
        .collect())
}

/// The days the calendars must cover: from the first opening to the last instant or the as-of, with a day
/// each side for zones far from UTC.
fn span(times: &[TicketTimes], as_of: i64) -> (jiff::civil::Date, jiff::civil::Date) {
    let lo = times.iter().map(|t| t.created).min().unwrap_or(as_of);
    let hi =
        times.iter().flat_map(|t| [Some(t.created), t.resolved, t.first_response]).flatten().max().unwrap_or(as_of);
    let day = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date())
            .unwrap_or(jiff::civil::date(1970, 1, 1))
    };
    let (lo, hi) = (day(lo.min(as_of)), day(hi.max(as_of)));
    (lo.yesterday().unwrap_or(lo), hi.tomorrow().unwrap_or(hi).tomorrow().unwrap_or(hi))
}

/// Public agent comments and customer comments (bots, system messages and internal notes left out), sorted
/// by ticket, then instant, then the order of the export.
fn comments(plan: &Plan, staged: &Staged, of: Option<LazyFrame>) -> Result<(DataFrame, Vec<Comment>), Error> {
    let agent = derive::by_agent(plan);
    let customer = col("author_role").eq(lit("customer")).fill_null(lit(false));
    let frame = of_tickets(staged.scan(Table::Messages)?, of)
        .filter(agent.clone().or(customer))
        .select([
            col("ticket_id").cast(DataType::String).alias(KEY),
            millis("created_at").alias("__at"),
            agent.alias("__agent"),
            col(read::FILE),
            col(read::ROW),
        ])
        .filter(col("__at").is_not_null())
        .sort([KEY, "__at", read::FILE, read::ROW], SortMultipleOptions::default())
        .select([col(KEY), col("__at"), col("__agent")])
        .collect_with_engine(Engine::Streaming)?
        .unwrap_single();
    let at = frame.column("__at")?.i64()?;
    let agent = frame.column("__agent")?.bool()?;
    let kinds = at
        .iter()
        .zip(agent.iter())
        .map(|(at, agent)| match agent {
            Some(true) => Comment::Agent(at.unwrap_or_default()),
            _ => Comment::Customer(at.unwrap_or_default()),
        })
        .collect();
    Ok((frame, kinds))
}

/// The history's status changes (vendor names mapped), sorted by ticket and instant, changes of one instant
/// in the order read.
fn status_changes(
    plan: &Plan,
    staged: &Staged,
    of: Option<LazyFrame>,
) -> Result<(DataFrame, Vec<(i64, Status)>), Error> {
    let order = SortMultipleOptions::default().with_maintain_order(true);
    let frame = history::status_changes(plan, of_tickets(staged.scan(Table::TicketEvents)?, of))
        .select([col("ticket_id").cast(DataType::String).alias(KEY), millis("at").alias("__at"), col("__status")])
        .filter(col("__at").is_not_null())
        .sort([KEY, "__at"], order)
        .collect_with_engine(Engine::Streaming)?
        .unwrap_single();
    let at = frame.column("__at")?.i64()?;
    let status = frame.column("__status")?.str()?;
    let changes = at
        .iter()
        .zip(status.iter())
        .map(|(at, s)| (at.unwrap_or_default(), Status::of(s.unwrap_or_default())))
        .collect();
    Ok((frame, changes))
}

/// Rows sorted by ticket, and each row's instant and calendar.
type ScheduleChanges = (DataFrame, Vec<(i64, usize)>);

/// History rows that change a ticket's schedule (`field` schedule or schedule_id, any case; the value names
/// one of the pipeline's calendars), sorted by ticket and instant. `None` without a history or calendars.
fn schedule_changes(staged: &Staged, calendars: &[&str]) -> Result<Option<ScheduleChanges>, Error> {
    let Ok(events) = staged.scan(Table::TicketEvents) else { return Ok(None) };
    if calendars.is_empty() {
        return Ok(None);
    }
    let field = col("field").str().to_lowercase();
    let order = SortMultipleOptions::default().with_maintain_order(true);
    let frame = events
        .filter(field.clone().eq(lit("schedule")).or(field.eq(lit("schedule_id"))).fill_null(lit(false)))
        .select([
            col("ticket_id").cast(DataType::String).alias(KEY),
            millis("at").alias("__at"),
            col("value").str().strip_chars(lit(NULL)).alias("__schedule"),
            col(read::FILE),
        ])
        .filter(col("__at").is_not_null().and(col("__schedule").is_not_null()))
        .sort([KEY, "__at"], order)
        .collect_with_engine(Engine::Streaming)?
        .unwrap_single();
    if frame.height() == 0 {
        return Ok(None);
    }
    let at = frame.column("__at")?.i64()?;
    let names = frame.column("__schedule")?.str()?;
    let mut changes = Vec::with_capacity(frame.height());
    for (i, (at, name)) in at.iter().zip(names.iter()).enumerate() {
        let name = name.unwrap_or_default();
        let Some(calendar) = calendars.iter().position(|c| *c == name) else {
            let ticket = frame.column(KEY)?.str()?.get(i).unwrap_or_default().to_string();
            let file = frame.column(read::FILE)?.str().ok().and_then(|f| f.get(i)).unwrap_or_default().to_string();
            return Err(DataError::NotFound {
                what: format!(
                    "{file}: ticket {ticket} changes its schedule to `{name}`, which is none of the pipeline's calendars ({}); name the calendars as the history does",
                    calendars.join(", ")
                ),
            }
            .into());
        };
        changes.push((at.unwrap_or_default(), calendar));
    }
    Ok(Some((frame, changes)))
}

/// The instances as rows: the ticket's `ticket_id` and `created_at` (taken at `rows`), then the instance.
fn instances_frame(tickets: &DataFrame, rows: Vec<IdxSize>, found: Vec<Instance>) -> Result<DataFrame, Error> {
    let idx = IdxCa::from_vec("idx".into(), rows);
    let mut out = tickets.select(["ticket_id", "created_at"])?.take(&idx)?;
    let seconds = |ms: i64| ms as f64 / 1000.0;
    let instant = |name: &str, values: Vec<Option<i64>>| -> PolarsResult<Column> {
        Int64Chunked::from_iter_options(name.into(), values.into_iter()).into_series().cast(&MS).map(Column::from)
    };
    let columns = vec![
        Column::new("metric".into(), found.iter().map(|f| f.metric.name()).collect::<Vec<_>>()),
        Column::new("sla_instance".into(), found.iter().map(|f| f.number as i64).collect::<Vec<_>>()),
        Column::new("target_seconds".into(), found.iter().map(|f| seconds(f.target_ms)).collect::<Vec<_>>()),
        Column::new("elapsed_seconds".into(), found.iter().map(|f| seconds(f.elapsed_ms)).collect::<Vec<_>>()),
        Column::new("breached".into(), found.iter().map(|f| f.breached).collect::<Vec<_>>()),
        instant("breach_at", found.iter().map(|f| f.breach_at).collect())?,
        instant("started_at", found.iter().map(|f| Some(f.started)).collect())?,
        instant("fulfilled_at", found.iter().map(|f| f.fulfilled).collect())?,
        Column::new(
            "clock".into(),
            found.iter().map(|f| if f.business { "business" } else { "calendar" }).collect::<Vec<_>>(),
        ),
    ];
    for c in columns {
        out.with_column(c)?;
    }
    Ok(out)
}
