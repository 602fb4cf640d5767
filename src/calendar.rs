//! Business calendars: a time zone, weekly opening hours and holidays, turned into the UTC instants the
//! support desk is open. Engine-neutral: `exec` joins these intervals in (as-of join) to measure business
//! seconds, and `business_seconds` here is the reference the tests hold it to.

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;

/// One opening span on a weekday, local time, `[start, end)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    pub weekday: Weekday,
    pub start: Time,
    pub end: Time,
}

#[derive(Clone, Debug)]
pub struct Calendar {
    pub name: String,
    pub zone: TimeZone,
    pub spans: Vec<Span>,
    pub holidays: Vec<Date>,
}

/// Open intervals as UTC epoch milliseconds `[start, end)`, sorted, with the business milliseconds elapsed
/// in all earlier intervals (`before`).
#[derive(Clone, Debug, PartialEq)]
pub struct Interval {
    pub start_ms: i64,
    pub end_ms: i64,
    pub before_ms: i64,
}

const WEEKDAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Monday),
    ("tue", Weekday::Tuesday),
    ("wed", Weekday::Wednesday),
    ("thu", Weekday::Thursday),
    ("fri", Weekday::Friday),
    ("sat", Weekday::Saturday),
    ("sun", Weekday::Sunday),
];

fn weekday(name: &str) -> Option<Weekday> {
    let n = name.trim().to_lowercase();
    WEEKDAYS.iter().find(|(k, _)| n.starts_with(k)).map(|(_, w)| *w)
}

/// `mon-fri`, `sat`, `monday` → the weekdays they name.
pub fn parse_days(key: &str) -> Result<Vec<Weekday>, String> {
    let bad = || format!("`{key}` is not a weekday or range of weekdays (e.g. mon-fri, sat)");
    match key.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (weekday(a).ok_or_else(bad)?, weekday(b).ok_or_else(bad)?);
            let mut days = vec![a];
            let mut d = a;
            while d != b {
                d = d.next();
                days.push(d);
            }
            Ok(days)
        },
        None => Ok(vec![weekday(key).ok_or_else(bad)?]),
    }
}

/// `09:00-18:00` → (09:00, 18:00); `24:00` may end a span.
pub fn parse_hours(text: &str) -> Result<(Time, Time), String> {
    let bad = || format!("`{text}` is not an opening span such as 09:00-18:00");
    let (a, b) = text.split_once('-').ok_or_else(bad)?;
    let time = |s: &str| -> Result<Time, String> {
        let s = s.trim();
        if s == "24:00" {
            return Ok(Time::MAX);
        }
        s.parse::<Time>().map_err(|_| bad())
    };
    let (start, end) = (time(a)?, time(b)?);
    if start >= end {
        return Err(format!("`{text}`: the opening must come before the closing"));
    }
    Ok((start, end))
}

impl Calendar {
    /// Open intervals covering every day from `from` to `to` (inclusive), in UTC.
    pub fn intervals(&self, from: Date, to: Date) -> Vec<Interval> {
        let mut out: Vec<Interval> = Vec::new();
        let mut day = from;
        let mut before = 0;
        while day <= to {
            if !self.holidays.contains(&day) {
                let mut spans: Vec<&Span> = self.spans.iter().filter(|s| s.weekday == day.weekday()).collect();
                spans.sort_by_key(|s| s.start);
                for s in spans {
                    let start = self.instant_ms(day, s.start);
                    let end = if s.end == Time::MAX {
                        self.instant_ms(day.tomorrow().unwrap_or(day), Time::midnight())
                    } else {
                        self.instant_ms(day, s.end)
                    };
                    if end > start {
                        out.push(Interval { start_ms: start, end_ms: end, before_ms: before });
                        before += end - start;
                    }
                }
            }
            match day.tomorrow() {
                Ok(d) => day = d,
                Err(_) => break,
            }
        }
        out
    }

    /// A local wall-clock time as UTC milliseconds; a time skipped by a DST change moves forward, an
    /// ambiguous one takes the earlier instant (jiff's "compatible" rule).
    fn instant_ms(&self, day: Date, time: Time) -> i64 {
        day.to_datetime(time)
            .to_zoned(self.zone.clone())
            .map(|z| z.timestamp().as_millisecond())
            .unwrap_or_else(|_| day.to_datetime(time).to_zoned(TimeZone::UTC).unwrap().timestamp().as_millisecond())
    }
}

/// Business milliseconds elapsed from the first interval up to `t` (UTC epoch ms).
pub fn elapsed_ms(intervals: &[Interval], t: i64) -> i64 {
    // The last interval starting at or before t.
    let i = intervals.partition_point(|iv| iv.start_ms <= t);
    if i == 0 {
        return 0;
    }
    let iv = &intervals[i - 1];
    iv.before_ms + (t.min(iv.end_ms) - iv.start_ms)
}

/// Business seconds between two UTC instants (ms); the reference for the engine's as-of join.
pub fn business_seconds(intervals: &[Interval], from_ms: i64, to_ms: i64) -> f64 {
    (elapsed_ms(intervals, to_ms) - elapsed_ms(intervals, from_ms)) as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn paris_office() -> Calendar {
        let mut spans = Vec::new();
        for d in parse_days("mon-fri").unwrap() {
            let (start, end) = parse_hours("09:00-18:00").unwrap();
            spans.push(Span { weekday: d, start, end });
        }
        Calendar {
            name: "office".into(),
            zone: TimeZone::get("Europe/Paris").unwrap(),
            spans,
            holidays: vec![date(2026, 4, 6)], // Easter Monday
        }
    }

    fn utc_ms(y: i16, m: i8, d: i8, h: i8, min: i8) -> i64 {
        date(y, m, d).at(h, min, 0, 0).to_zoned(TimeZone::UTC).unwrap().timestamp().as_millisecond()
    }

    #[test]
    fn a_weekend_counts_nothing() {
        let cal = paris_office();
        let iv = cal.intervals(date(2026, 1, 1), date(2026, 1, 31));
        // Friday 9 January 17:00 Paris (16:00 UTC) → Monday 12 January 10:00 Paris (09:00 UTC):
        // 1 h on Friday + 1 h on Monday.
        let s = business_seconds(&iv, utc_ms(2026, 1, 9, 16, 0), utc_ms(2026, 1, 12, 9, 0));
        assert_eq!(s, 7200.0);
    }

    #[test]
    fn across_the_spring_dst_change_and_a_holiday() {
        let cal = paris_office();
        let iv = cal.intervals(date(2026, 3, 1), date(2026, 4, 30));
        // Friday 27 March 17:00 Paris (CET, 16:00 UTC) → Tuesday 31 March 10:00 Paris (CEST, 08:00 UTC).
        // Clocks go forward on Sunday 29 March; Monday opens 09:00 CEST = 07:00 UTC.
        // 1 h Friday + 9 h Monday + 1 h Tuesday = 11 h.
        let s = business_seconds(&iv, utc_ms(2026, 3, 27, 16, 0), utc_ms(2026, 3, 31, 8, 0));
        assert_eq!(s, 11.0 * 3600.0);
        // Thursday 2 April 17:00 CEST → Tuesday 7 April 10:00 CEST across Good Friday (open) and Easter
        // Monday (holiday): 1 h Thu + 9 h Fri + 1 h Tue.
        let s = business_seconds(&iv, utc_ms(2026, 4, 2, 15, 0), utc_ms(2026, 4, 7, 8, 0));
        assert_eq!(s, 11.0 * 3600.0);
    }

    #[test]
    fn outside_hours_to_outside_hours() {
        let cal = paris_office();
        let iv = cal.intervals(date(2026, 1, 1), date(2026, 1, 31));
        // Saturday → Sunday: nothing. Tuesday 20:00 → Wednesday 07:00 Paris: nothing.
        assert_eq!(business_seconds(&iv, utc_ms(2026, 1, 10, 10, 0), utc_ms(2026, 1, 11, 10, 0)), 0.0);
        assert_eq!(business_seconds(&iv, utc_ms(2026, 1, 13, 19, 0), utc_ms(2026, 1, 14, 6, 0)), 0.0);
    }

    #[test]
    fn parses_day_ranges_and_spans() {
        assert_eq!(parse_days("sat-mon").unwrap(), [Weekday::Saturday, Weekday::Sunday, Weekday::Monday]);
        assert!(parse_days("funday").is_err());
        assert!(parse_hours("18:00-09:00").is_err());
        assert_eq!(parse_hours("00:00-24:00").unwrap().1, Time::MAX);
    }
}
