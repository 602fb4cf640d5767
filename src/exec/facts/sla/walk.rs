//! The SLA walk: one ticket's instances from its times, comments and status changes, on the calendar or
//! business clock of its rule (see `super` for the definitions). Plain values in, plain values out: no engine.

use crate::calendar::Interval;
use crate::catalog::ScheduleRule;
use crate::model::SlaMetric;

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
    pub(crate) fn of(name: &str) -> Status {
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
