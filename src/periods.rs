//! Reporting periods as calendar dates: where a grain's periods start and end. Engine-neutral, used where
//! KPIs are measured at period boundaries (backlog, retention, churn).

use jiff::civil::{Date, Weekday};
use jiff::ToSpan;

/// First day of the period of `grain` containing `d` (`All` has no boundaries of its own: `d` itself).
pub fn start_of(grain: Grain, d: Date) -> Date {
    match grain {
        Grain::Day | Grain::All => d,
        Grain::Week => d.checked_sub((d.weekday().to_monday_zero_offset() as i64).days()).unwrap_or(d),
        Grain::Month => d.first_of_month(),
        Grain::Quarter => Date::new(d.year(), ((d.month() - 1) / 3) * 3 + 1, 1).unwrap_or(d),
        Grain::Year => d.first_of_year(),
    }
}

/// The day the period starting on `start` ends (the next period's first day).
pub fn next_start(grain: Grain, start: Date) -> Date {
    let step = match grain {
        Grain::Day | Grain::All => 1.day(),
        Grain::Week => 1.week(),
        Grain::Month => 1.month(),
        Grain::Quarter => 3.months(),
        Grain::Year => 1.year(),
    };
    start.checked_add(step).unwrap_or(Date::MAX)
}

/// The start of the period before the one starting on `start` (`All` has none).
pub fn previous_start(grain: Grain, start: Date) -> Option<Date> {
    let step = match grain {
        Grain::All => return None,
        Grain::Day => 1.day(),
        Grain::Week => 1.week(),
        Grain::Month => 1.month(),
        Grain::Quarter => 3.months(),
        Grain::Year => 1.year(),
    };
    start.checked_sub(step).ok()
}

/// The start of the same period a year earlier: 52 weeks for weeks (the same weekday), a year otherwise.
pub fn year_ago_start(grain: Grain, start: Date) -> Option<Date> {
    match grain {
        Grain::All => None,
        Grain::Week => start.checked_sub(52.weeks()).ok(),
        _ => start.checked_sub(1.year()).ok(),
    }
}

/// The `[start, end)` periods covering `[from, to)`; for `All`, the single period `[from, to)`.
pub fn periods(grain: Grain, from: Date, to: Date) -> Vec<(Date, Date)> {
    if grain == Grain::All {
        return vec![(from, to)];
    }
    let mut out = Vec::new();
    let mut start = start_of(grain, from);
    while start < to {
        let end = next_start(grain, start);
        out.push((start, end));
        start = end;
    }
    out
}

/// Days since 1970-01-01: how dates are stored (Polars' `Date`) and compared.
pub fn epoch_days(d: Date) -> i64 {
    d.since(jiff::civil::date(1970, 1, 1)).map(|s| s.get_days() as i64).unwrap_or(0)
}

/// The date `days` after 1970-01-01 (the epoch itself when out of range).
pub fn from_epoch_days(days: i64) -> Date {
    let epoch = jiff::civil::date(1970, 1, 1);
    epoch.checked_add(days.days()).unwrap_or(epoch)
}

/// Monday, for documentation and tests.
pub const WEEK_STARTS: Weekday = Weekday::Monday;

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn boundaries_of_each_grain() {
        let d = date(2026, 1, 1); // a Thursday
        assert_eq!(start_of(Grain::Week, d), date(2025, 12, 29));
        assert_eq!(start_of(Grain::Week, date(2026, 1, 5)), date(2026, 1, 5));
        assert_eq!(start_of(Grain::Quarter, date(2026, 6, 30)), date(2026, 4, 1));
        assert_eq!(next_start(Grain::Quarter, date(2026, 10, 1)), date(2027, 1, 1));
        assert_eq!(next_start(Grain::Month, date(2024, 2, 1)), date(2024, 3, 1));
        assert_eq!(start_of(Grain::Year, date(2026, 7, 4)), date(2026, 1, 1));
    }

    #[test]
    fn periods_cover_the_window() {
        let p = periods(Grain::Month, date(2026, 1, 15), date(2026, 3, 1));
        assert_eq!(p, [(date(2026, 1, 1), date(2026, 2, 1)), (date(2026, 2, 1), date(2026, 3, 1))]);
        assert_eq!(periods(Grain::All, date(2026, 1, 15), date(2026, 3, 1)), [(date(2026, 1, 15), date(2026, 3, 1))]);
        assert_eq!(periods(Grain::Week, date(2026, 1, 1), date(2026, 1, 6)).len(), 2);
    }
}

/// The length of a reporting period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grain {
    Day,
    Week,
    Month,
    Quarter,
    Year,
    All,
}

impl Grain {
    pub const NAMES: [&'static str; 6] = ["day", "week", "month", "quarter", "year", "all"];

    pub fn from_name(name: &str) -> Option<Grain> {
        Some(match name {
            "day" => Grain::Day,
            "week" => Grain::Week,
            "month" => Grain::Month,
            "quarter" => Grain::Quarter,
            "year" => Grain::Year,
            "all" => Grain::All,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        Grain::NAMES[self as usize]
    }
}
