//! Business time on Polars: each ticket's calendar (from `business_hours`), the calendars' open intervals as
//! a table, and the business milliseconds elapsed at a timestamp found by an as-of join on those intervals
//! (the last interval opening at or before it). `calendar::elapsed_ms` is the reference this matches.

use polars::prelude::*;

use crate::calendar::{self, Interval};
use crate::plan::Plan;

pub const CALENDAR: &str = "__calendar";

/// The calendars' open intervals over a date range, ready to join.
#[derive(Clone)]
pub struct BusinessClock {
    intervals: DataFrame,
    per_calendar: Vec<(String, Vec<Interval>)>,
}

impl BusinessClock {
    /// Intervals of every calendar from `from` to `to` (inclusive), with a day's margin each side for zones
    /// far from UTC.
    pub fn new(plan: &Plan, from: jiff::civil::Date, to: jiff::civil::Date) -> PolarsResult<BusinessClock> {
        let from = from.yesterday().unwrap_or(from);
        let to = to.tomorrow().unwrap_or(to);
        let per_calendar: Vec<(String, Vec<Interval>)> =
            plan.calendars.iter().map(|c| (c.name.clone(), c.intervals(from, to))).collect();
        let (mut names, mut starts, mut ends, mut befores) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (name, intervals) in &per_calendar {
            for iv in intervals {
                names.push(name.as_str());
                starts.push(iv.start_ms);
                ends.push(iv.end_ms);
                befores.push(iv.before_ms);
            }
        }
        let intervals = df!(
            CALENDAR => names,
            "__iv_start" => starts,
            "__iv_end" => ends,
            "__iv_before" => befores,
        )?
        .sort(["__iv_start"], SortMultipleOptions::default())?;
        Ok(BusinessClock { intervals, per_calendar })
    }

    /// Business milliseconds each calendar had counted by `at` (epoch ms): the ticket's value for `as_of`.
    pub fn elapsed_at(&self, at_ms: i64) -> Expr {
        let mut e = lit(NULL).cast(DataType::Int64);
        for (name, intervals) in &self.per_calendar {
            e = when(col(CALENDAR).eq(lit(name.as_str())))
                .then(lit(calendar::elapsed_ms(intervals, at_ms)))
                .otherwise(e);
        }
        e
    }

    /// `lf` with `alias`: business milliseconds its calendar had counted at timestamp `column` (null when the
    /// timestamp or the calendar is).
    pub fn elapsed(&self, lf: LazyFrame, column: &str, alias: &str) -> LazyFrame {
        let key = "__asof_key";
        // Null keys cannot be joined: park them before every interval and null the result afterwards.
        let keyed = lf
            .with_column(col(column).dt().timestamp(TimeUnit::Milliseconds).fill_null(lit(i64::MIN)).alias(key))
            .sort([key], SortMultipleOptions::default());
        let options = AsOfOptions {
            strategy: AsofStrategy::Backward,
            left_by: Some(vec![CALENDAR.into()]),
            right_by: Some(vec![CALENDAR.into()]),
            allow_eq: true,
            check_sortedness: false,
            ..Default::default()
        };
        let joined = keyed.join(
            self.intervals.clone().lazy(),
            [col(key)],
            [col("__iv_start")],
            JoinArgs::new(JoinType::AsOf(Box::new(options))),
        );
        let within = when(col(key).lt(col("__iv_end"))).then(col(key)).otherwise(col("__iv_end")) - col("__iv_start");
        let elapsed = when(col(column).is_null().or(col(CALENDAR).is_null()))
            .then(lit(NULL).cast(DataType::Int64))
            .otherwise((col("__iv_before") + within).fill_null(lit(0i64)));
        joined.with_column(elapsed.alias(alias)).drop(cols([key, "__iv_start", "__iv_end", "__iv_before"]))
    }
}

/// The name of each ticket's calendar: the first matching `business_hours` rule (most specific first).
pub fn calendar_of(plan: &Plan) -> Expr {
    let mut e = lit(NULL).cast(DataType::String);
    for rule in plan.business_hours.iter().rev() {
        let mut matches = lit(true);
        if let Some(c) = &rule.channel {
            matches = matches.and(col("channel").eq(lit(c.as_str())));
        }
        if let Some(t) = &rule.team {
            matches = matches.and(col("team").eq(lit(t.as_str())));
        }
        let name = plan.calendars[rule.calendar].name.as_str();
        e = when(matches.fill_null(lit(false))).then(lit(name)).otherwise(e);
    }
    e
}
