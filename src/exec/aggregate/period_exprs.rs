//! A run's periods as expressions: the start of a row's period at a grain, days since the epoch, the
//! literals and filters on days every stage that groups or touches periods uses.

use polars::prelude::*;

use crate::exec::aggregate::compile;
use crate::plan::{Grain, Plan, Segment, Window};

/// The column holding a row's period start.
pub const PERIOD: &str = "period_start";

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
