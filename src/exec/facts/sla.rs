//! SLA instances (`Table::SlaInstances`), as Zendesk defines its SLA metrics: each ticket's comments and
//! status history walked once, in Rust, on the calendar or business clock of the ticket's rule. A frame of
//! tickets, one of comments and one of status changes are collected; the walk is `ticket_instances`, a pure
//! function over plain values that the unit tests below hold to hand-worked figures.
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
use crate::catalog::ScheduleRule;
use crate::error::{DataError, Error};
use crate::exec::facts::{business, derive, history};
use crate::exec::record::timing::traced;
use crate::exec::{read, Staged};
use crate::model::{SlaMetric, Table};
use crate::plan::Plan;

/// A ticket as the walk needs it: instants in epoch milliseconds.
#[derive(Clone, Debug, Default)]
pub(crate) struct TicketTimes {
    pub created: i64,
    pub resolved: Option<i64>,
    pub first_response: Option<i64>,
    /// Index into the calendars' intervals; `None` measures around the clock.
    pub calendar: Option<usize>,
    /// Per metric (`SlaMetric::ALL` order): the target in milliseconds and whether it counts business time.
    pub rules: [Option<(i64, bool)>; 7],
    /// Schedule changes from the history, in time order: from this instant on, this calendar.
    pub schedules: Vec<(i64, usize)>,
}

/// A public agent comment or a customer comment, in the order of the log.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Comment {
    Agent(i64),
    Customer(i64),
}

/// A ticket's status from an instant on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    New,
    Open,
    Pending,
    Hold,
    Solved,
    Closed,
    Other,
}

impl Status {
    fn of(name: &str) -> Status {
        match name {
            "new" => Status::New,
            "open" => Status::Open,
            "pending" => Status::Pending,
            "hold" | "on-hold" | "on_hold" => Status::Hold,
            "solved" => Status::Solved,
            "closed" => Status::Closed,
            _ => Status::Other,
        }
    }
}

/// One SLA instance of a ticket.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Instance {
    pub metric: SlaMetric,
    /// 1, 2, … within the ticket and metric.
    pub number: u32,
    pub target_ms: i64,
    pub elapsed_ms: i64,
    pub breached: bool,
    pub breach_at: Option<i64>,
    pub started: i64,
    pub fulfilled: Option<i64>,
    pub business: bool,
}

/// Every SLA instance of one ticket. `comments` and `statuses` are the ticket's, in time order (statuses
/// already mapped); `calendars` the open intervals of each calendar; `as_of` judges instances still running.
pub(crate) fn ticket_instances(
    t: &TicketTimes,
    comments: &[Comment],
    statuses: &[(i64, Status)],
    calendars: &[Vec<Interval>],
    rule: ScheduleRule,
    as_of: i64,
) -> Vec<Instance> {
    let mut out = Vec::new();
    let mut spans: Vec<(SlaMetric, i64, Option<i64>)> = Vec::new();
    let after_opening = |at: i64| at > t.created;
    // Comments after the resolution start nothing: the ticket is solved.
    let before_resolution = |at: i64| t.resolved.is_none_or(|r| at < r);
    for metric in SlaMetric::ALL {
        spans.clear();
        match metric {
            SlaMetric::FirstResponse => spans.push((metric, t.created, t.first_response)),
            SlaMetric::Resolution | SlaMetric::RequesterWait | SlaMetric::AgentWork => {
                spans.push((metric, t.created, t.resolved))
            },
            SlaMetric::NextReply => {
                let (mut replied, mut waiting) = (false, None);
                for c in comments {
                    match *c {
                        Comment::Customer(at) if replied && waiting.is_none() && before_resolution(at) => {
                            waiting = Some(at)
                        },
                        Comment::Agent(at) if after_opening(at) => {
                            if let Some(since) = waiting.take() {
                                spans.push((metric, since, Some(at)));
                            }
                            replied = true;
                        },
                        _ => {},
                    }
                }
                if let Some(since) = waiting {
                    spans.push((metric, since, None));
                }
            },
            SlaMetric::PeriodicUpdate | SlaMetric::PausableUpdate => {
                let mut last = None;
                for c in comments {
                    if let Comment::Agent(at) = *c {
                        if at < t.created || !before_resolution(at) {
                            continue;
                        }
                        if let Some(since) = last {
                            spans.push((metric, since, Some(at)));
                        }
                        last = Some(at);
                    }
                }
                if let Some(since) = last {
                    spans.push((metric, since, None));
                }
            },
        }
        let Some((target_ms, business)) = t.rules[metric as usize] else { continue };
        for (number, (metric, start, end)) in spans.iter().enumerate() {
            // The resolution fulfils what still runs then.
            let fulfilled = end.or(t.resolved.filter(|r| *r >= *start));
            let until = fulfilled.unwrap_or(as_of.max(*start));
            let pieces = match metric {
                SlaMetric::RequesterWait => {
                    counting(statuses, *start, until, |s| matches!(s, Status::New | Status::Open | Status::Hold))
                },
                SlaMetric::AgentWork => counting(statuses, *start, until, |s| matches!(s, Status::New | Status::Open)),
                SlaMetric::PausableUpdate => counting(statuses, *start, until, |s| s != Status::Pending),
                _ => vec![(*start, until)],
            };
            let clock = Clock { default: t.calendar, schedules: &t.schedules, rule, calendars };
            let pieces = if business { clock.on_calendars(pieces, until) } else { clock.around(pieces) };
            let on_business = pieces.iter().any(|(_, _, open)| open.is_some());
            let (elapsed_ms, breach_at) = counted(pieces, target_ms);
            out.push(Instance {
                metric: *metric,
                number: number as u32 + 1,
                target_ms,
                elapsed_ms,
                breached: breach_at.is_some(),
                breach_at,
                started: *start,
                fulfilled,
                business: on_business,
            });
        }
    }
    out
}

/// The pieces of `[from, until)` during which the ticket's status `counts`; a ticket is new before its first
/// change.
fn counting(statuses: &[(i64, Status)], from: i64, until: i64, counts: impl Fn(Status) -> bool) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut status = Status::New;
    let mut since = i64::MIN;
    for &(at, next) in statuses.iter().chain(std::iter::once(&(i64::MAX, Status::Other))) {
        let (a, b) = (since.max(from), at.min(until));
        if a < b && counts(status) {
            match out.last_mut() {
                Some((_, end)) if *end == a => *end = b,
                _ => out.push((a, b)),
            }
        }
        if at >= until {
            break;
        }
        (status, since) = (next, at);
    }
    out
}

/// A ticket's business calendars over time: its `business_hours` calendar, then the schedules its history
/// changes it to.
struct Clock<'a> {
    default: Option<usize>,
    schedules: &'a [(i64, usize)],
    rule: ScheduleRule,
    calendars: &'a [Vec<Interval>],
}

type Piece<'a> = (i64, i64, Option<&'a [Interval]>);

impl<'a> Clock<'a> {
    /// The calendar in force at `at`: the last schedule change at or before it, else the default.
    fn at(&self, at: i64) -> Option<usize> {
        let changed = self.schedules.partition_point(|(when, _)| *when <= at);
        match changed {
            0 => self.default,
            n => Some(self.schedules[n - 1].1),
        }
    }

    fn intervals(&self, calendar: Option<usize>) -> Option<&'a [Interval]> {
        calendar.map(|c| self.calendars[c].as_slice())
    }

    /// Pieces measured around the clock.
    fn around(&self, pieces: Vec<(i64, i64)>) -> Vec<Piece<'a>> {
        pieces.into_iter().map(|(a, b)| (a, b, None)).collect()
    }

    /// Pieces on the business calendar the rule gives: the one in force at `until` for all of them
    /// (`AtCompletion`), or each stretch on the one then in force (`PerSchedule`).
    fn on_calendars(&self, pieces: Vec<(i64, i64)>, until: i64) -> Vec<Piece<'a>> {
        match self.rule {
            ScheduleRule::AtCompletion => {
                let open = self.intervals(self.at(until));
                pieces.into_iter().map(|(a, b)| (a, b, open)).collect()
            },
            ScheduleRule::PerSchedule => {
                let mut out = Vec::new();
                for (a, b) in pieces {
                    let cuts = self.schedules.iter().map(|(when, _)| *when).filter(|when| a < *when && *when < b);
                    let mut from = a;
                    for cut in cuts.chain(std::iter::once(b)) {
                        out.push((from, cut, self.intervals(self.at(from))));
                        from = cut;
                    }
                }
                out
            },
        }
    }
}

/// The milliseconds counted over `pieces` (sorted, disjoint), each within its calendar's open intervals when it
/// has one, and the instant the count passed `target_ms` if it did.
fn counted(pieces: Vec<Piece<'_>>, target_ms: i64) -> (i64, Option<i64>) {
    let mut total = 0i64;
    let mut breach = None;
    let mut add = |a: i64, b: i64| {
        let len = b - a;
        if breach.is_none() && total + len > target_ms {
            breach = Some(a + (target_ms - total).max(0));
        }
        total += len;
    };
    for (a, b, open) in pieces {
        match open {
            None => add(a, b),
            Some(intervals) => {
                let first = intervals.partition_point(|iv| iv.end_ms <= a);
                for iv in intervals[first..].iter().take_while(|iv| iv.start_ms < b) {
                    let (s, e) = (a.max(iv.start_ms), b.min(iv.end_ms));
                    if s < e {
                        add(s, e);
                    }
                }
            },
        }
    }
    (total, breach)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;
    const M: i64 = 60_000;

    fn ticket(created: i64, resolved: Option<i64>, first: Option<i64>) -> TicketTimes {
        TicketTimes { created, resolved, first_response: first, ..Default::default() }
    }

    fn with(mut t: TicketTimes, metric: SlaMetric, target_ms: i64) -> TicketTimes {
        t.rules[metric as usize] = Some((target_ms, false));
        t
    }

    fn of(found: &[Instance], metric: SlaMetric) -> Vec<(i64, i64, Option<i64>, Option<i64>)> {
        found
            .iter()
            .filter(|i| i.metric == metric)
            .map(|i| (i.started, i.elapsed_ms, i.breach_at, i.fulfilled))
            .collect()
    }

    #[test]
    fn next_replies_start_after_an_agent_reply_and_end_at_the_next() {
        // 09:00 customer (the opening), 09:30 agent, 10:00 and 10:10 customer, 11:00 agent, 11:20 customer,
        // 11:40 agent; a 30 min target.
        let t = with(ticket(9 * H, Some(12 * H), Some(9 * H + 30 * M)), SlaMetric::NextReply, 30 * M);
        let c = [
            Comment::Customer(9 * H),
            Comment::Agent(9 * H + 30 * M),
            Comment::Customer(10 * H),
            Comment::Customer(10 * H + 10 * M),
            Comment::Agent(11 * H),
            Comment::Customer(11 * H + 20 * M),
            Comment::Agent(11 * H + 40 * M),
        ];
        let found = ticket_instances(&t, &c, &[], &[], ScheduleRule::AtCompletion, 100 * H);
        assert_eq!(
            of(&found, SlaMetric::NextReply),
            vec![
                (10 * H, H, Some(10 * H + 30 * M), Some(11 * H)),
                (11 * H + 20 * M, 20 * M, None, Some(11 * H + 40 * M)),
            ]
        );
        assert_eq!(found.iter().map(|i| i.number).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn an_agent_created_ticket_waits_for_the_second_agent_comment() {
        // The agent opens the ticket publicly at 09:00; the customer answers at 09:10; the agent at 10:00.
        let t = with(ticket(9 * H, None, Some(10 * H)), SlaMetric::NextReply, 30 * M);
        let t = with(t, SlaMetric::FirstResponse, 30 * M);
        let c = [Comment::Agent(9 * H), Comment::Customer(9 * H + 10 * M), Comment::Agent(10 * H)];
        let found = ticket_instances(&t, &c, &[], &[], ScheduleRule::AtCompletion, 100 * H);
        // The first reply is the 10:00 comment (an hour, breached at 09:30); no next reply started.
        assert_eq!(of(&found, SlaMetric::FirstResponse), vec![(9 * H, H, Some(9 * H + 30 * M), Some(10 * H))]);
        assert!(of(&found, SlaMetric::NextReply).is_empty());
    }

    #[test]
    fn a_running_instance_is_judged_at_as_of_and_a_resolution_fulfils_it() {
        let c = [Comment::Customer(9 * H), Comment::Agent(10 * H), Comment::Customer(11 * H)];
        // Unresolved: the 11:00 wait runs; at 11:20 it is within its 30 min, at 12:00 breached at 11:30.
        let t = with(ticket(9 * H, None, Some(10 * H)), SlaMetric::NextReply, 30 * M);
        assert_eq!(
            of(&ticket_instances(&t, &c, &[], &[], ScheduleRule::AtCompletion, 11 * H + 20 * M), SlaMetric::NextReply),
            vec![(11 * H, 20 * M, None, None)]
        );
        assert_eq!(
            of(&ticket_instances(&t, &c, &[], &[], ScheduleRule::AtCompletion, 12 * H), SlaMetric::NextReply),
            vec![(11 * H, H, Some(11 * H + 30 * M), None)]
        );
        // Solved at 11:10: the wait is fulfilled then, 10 minutes.
        let solved = with(ticket(9 * H, Some(11 * H + 10 * M), Some(10 * H)), SlaMetric::NextReply, 30 * M);
        assert_eq!(
            of(&ticket_instances(&solved, &c, &[], &[], ScheduleRule::AtCompletion, 100 * H), SlaMetric::NextReply),
            vec![(11 * H, 10 * M, None, Some(11 * H + 10 * M))]
        );
    }

    #[test]
    fn pausable_update_stops_while_pending_and_periodic_does_not() {
        // Agent comments at 10:00 and 14:00; pending from 11:00 to 13:00; a 3 h target.
        let t = with(ticket(9 * H, Some(15 * H), Some(10 * H)), SlaMetric::PausableUpdate, 3 * H);
        let t = with(t, SlaMetric::PeriodicUpdate, 3 * H);
        let c = [Comment::Customer(9 * H), Comment::Agent(10 * H), Comment::Agent(14 * H)];
        let s = [(9 * H, Status::New), (10 * H, Status::Open), (11 * H, Status::Pending), (13 * H, Status::Open)];
        let found = ticket_instances(&t, &c, &s, &[], ScheduleRule::AtCompletion, 100 * H);
        // 10:00-14:00 less 2 h pending = 2 h, met; then 14:00 to the solve at 15:00.
        assert_eq!(
            of(&found, SlaMetric::PausableUpdate),
            vec![(10 * H, 2 * H, None, Some(14 * H)), (14 * H, H, None, Some(15 * H))]
        );
        assert_eq!(of(&found, SlaMetric::PeriodicUpdate)[0], (10 * H, 4 * H, Some(13 * H), Some(14 * H)));
    }

    #[test]
    fn requester_wait_counts_new_open_and_hold_and_agent_work_new_and_open() {
        // new 09:00, open 09:30, pending 10:00, hold 11:00, open 12:00, solved 13:00, reopened (open) 14:00,
        // solved 15:00: requester wait 0.5+0.5+1+1+1 = 4 h; agent work 0.5+0.5+1+1 = 3 h.
        let s = [
            (9 * H, Status::New),
            (9 * H + 30 * M, Status::Open),
            (10 * H, Status::Pending),
            (11 * H, Status::Hold),
            (12 * H, Status::Open),
            (13 * H, Status::Solved),
            (14 * H, Status::Open),
            (15 * H, Status::Solved),
        ];
        let t = with(ticket(9 * H, Some(15 * H), None), SlaMetric::RequesterWait, 3 * H + 30 * M);
        let t = with(t, SlaMetric::AgentWork, 3 * H);
        let found = ticket_instances(&t, &[], &s, &[], ScheduleRule::AtCompletion, 100 * H);
        // The 3.5 h of requester wait are reached at 14:30 (3 h counted by 13:00).
        assert_eq!(of(&found, SlaMetric::RequesterWait), vec![(9 * H, 4 * H, Some(14 * H + 30 * M), Some(15 * H))]);
        assert_eq!(of(&found, SlaMetric::AgentWork), vec![(9 * H, 3 * H, None, Some(15 * H))]);
    }

    #[test]
    fn a_schedule_change_counts_by_the_rule_chosen() {
        // Two calendars in UTC, Monday 5 January 2026: "early" 08:00-12:00, "late" 12:00-20:00. The ticket opens
        // at 09:00 on early, moves to late at 11:00, and is answered at 14:00; a 3 h business target.
        let day = |h: i64| {
            jiff::civil::date(2026, 1, 5).to_zoned(jiff::tz::TimeZone::UTC).unwrap().timestamp().as_millisecond()
                + h * H
        };
        let one = |from: i64, to: i64| vec![Interval { start_ms: day(from), end_ms: day(to), before_ms: 0 }];
        let calendars = [one(8, 12), one(12, 20)];
        let mut t = ticket(day(9), None, Some(day(14)));
        t.calendar = Some(0);
        t.schedules = vec![(day(11), 1)];
        t.rules[SlaMetric::FirstResponse as usize] = Some((3 * H, true));
        let at = |rule| of(&ticket_instances(&t, &[], &[], &calendars, rule, day(48)), SlaMetric::FirstResponse);
        // Zendesk's rule: the schedule at the reply (late) for the whole wait: 12:00-14:00, 2 h, met.
        assert_eq!(at(ScheduleRule::AtCompletion), vec![(day(9), 2 * H, None, Some(day(14)))]);
        // Per schedule: 09:00-11:00 on early (2 h), then 12:00-14:00 on late (2 h): 4 h, the 3 h reached at 13:00.
        assert_eq!(at(ScheduleRule::PerSchedule), vec![(day(9), 4 * H, Some(day(13)), Some(day(14)))]);
    }

    #[test]
    fn business_time_skips_the_weekend_and_the_breach_falls_on_monday() {
        // Office hours Mon-Fri 09:00-17:00 UTC. Friday 2026-01-09 16:00 to Monday 2026-01-12 10:00 is 2
        // business hours; a 90 min target is breached on Monday at 09:30.
        let cal = crate::calendar::Calendar {
            name: "office".into(),
            zone: jiff::tz::TimeZone::UTC,
            spans: [jiff::civil::Weekday::Monday, jiff::civil::Weekday::Friday]
                .into_iter()
                .map(|weekday| crate::calendar::Span {
                    weekday,
                    start: jiff::civil::time(9, 0, 0, 0),
                    end: jiff::civil::time(17, 0, 0, 0),
                })
                .collect(),
            holidays: Vec::new(),
        };
        let intervals = cal.intervals(jiff::civil::date(2026, 1, 8), jiff::civil::date(2026, 1, 13));
        let ms = |s: &str| s.parse::<jiff::Timestamp>().unwrap().as_millisecond();
        let mut t = ticket(ms("2026-01-09T16:00:00Z"), None, Some(ms("2026-01-12T10:00:00Z")));
        t.calendar = Some(0);
        t.rules[SlaMetric::FirstResponse as usize] = Some((90 * M, true));
        let found =
            ticket_instances(&t, &[], &[], &[intervals], ScheduleRule::AtCompletion, ms("2026-02-01T00:00:00Z"));
        assert_eq!(
            of(&found, SlaMetric::FirstResponse),
            vec![(
                ms("2026-01-09T16:00:00Z"),
                2 * H,
                Some(ms("2026-01-12T09:30:00Z")),
                Some(ms("2026-01-12T10:00:00Z"))
            )]
        );
        assert!(found[0].business);
    }
}
