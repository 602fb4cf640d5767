//! The report's headlines: the figures of the latest complete period a manager reads first. A few tiles (the
//! KPIs with a target or an alert, then the ones support managers live by), each with its change against the
//! period before, its target and its place against the sector; the period's other KPIs in a compact table.

use std::fmt::Write;

use jiff::civil::Date;

use super::page::chart_title;
use super::svg::{self, escape};
use super::{Alert, Row, Table};
use crate::catalog::{self, Direction};
use crate::exec::RunRecord;

/// Tiles drawn at most; the period's other KPIs go to the table below them.
const MAX_TILES: usize = 8;
/// The KPIs support managers look at first, in that order, after those with a target or an alert.
const KEY_KPIS: [&str; 8] =
    ["ticket_volume", "first_response_time", "resolution_time", "csat", "nps", "fcr_rate", "sla_attainment", "backlog"];

/// The headlines of the table with the fewest dimensions, in its latest complete period (the last one if it
/// ended by the run's as-of date, else the one before).
pub(super) fn headline(
    tables: &[Table],
    benchmarks: &[Table],
    alerts: &[Alert],
    run: Option<&RunRecord>,
    plan: Option<&crate::plan::Plan>,
) -> Option<String> {
    let table = tables.iter().filter(|t| periods(t).len() >= 2).min_by_key(|t| t.dims.len())?;
    let periods = periods(table);
    let n = periods.len();
    let step = Step::between(&periods[n - 2], &periods[n - 1])?;
    let as_of = run.and_then(|r| date(&r.as_of));
    // A period is complete when the next one has started by the as-of date.
    let complete = match (step.after(date(&periods[n - 1])?), as_of) {
        (Some(end), Some(as_of)) => end <= as_of,
        _ => true,
    };
    let (period, before) = match complete {
        true => (&periods[n - 1], Some(&periods[n - 2])),
        false => (&periods[n - 2], (n >= 3).then(|| &periods[n - 3])),
    };
    let group = table.rows.iter().filter(|r| r.period.as_ref() == Some(period)).map(|r| r.label()).next()?;
    let name = |p: &str| date(p).map(|d| step.name(d)).unwrap_or_else(|| p.to_string());

    // One row per KPI (its first statistic), mixes aside.
    let mut rows: Vec<&Row> = Vec::new();
    for r in table.rows.iter().filter(|r| r.period.as_ref() == Some(period) && r.label() == group) {
        if !r.kpi.ends_with("_mix") && !rows.iter().any(|s| s.kpi == r.kpi) {
            rows.push(r);
        }
    }
    let alert_on = |r: &Row| {
        alerts.iter().find(|a| {
            a.segment == table.name
                && a.kpi == r.kpi
                && a.stat == r.stat
                && a.period == *period
                && (a.dimensions.is_empty() || table.dims.is_empty())
        })
    };
    let rank = |r: &&Row| {
        let key = KEY_KPIS.iter().position(|k| *k == r.kpi).unwrap_or(KEY_KPIS.len());
        (r.target.is_none() && alert_on(r).is_none(), key)
    };
    rows.sort_by_key(rank);

    let mut tiles = String::new();
    let mut others = String::new();
    for (i, r) in rows.iter().enumerate() {
        let previous = before.and_then(|b| {
            table
                .rows
                .iter()
                .find(|p| p.period.as_ref() == Some(b) && p.kpi == r.kpi && p.stat == r.stat && p.label() == group)
        });
        let direction = direction(&r.kpi, plan);
        let change = previous.map(|p| change(r, p, direction, &name(before.expect("a previous row has its period"))));
        let goal = r.target.map(|t| {
            let (class, word) = match r.target_met {
                Some(true) => ("good", "met"),
                _ => ("bad", "missed"),
            };
            format!("<div class=\"goal {class}\">target {}: {word}</div>", svg::human(t, &r.unit))
        });
        let unusual = alert_on(r).map(|a| {
            let side = if a.above { "above" } else { "below" };
            format!(
                "<div class=\"goal bad\">unusual: {side} the expected {}–{}</div>",
                svg::human(a.low, &r.unit),
                svg::human(a.high, &r.unit)
            )
        });
        let sector = against_sector(&table.name, r, benchmarks);
        let lines = [change, goal, unusual, sector].into_iter().flatten().collect::<String>();
        let title = escape(&chart_title(&r.kpi, &r.stat));
        let figure = svg::human(r.value, &r.unit);
        if i < MAX_TILES {
            let _ = write!(
                tiles,
                "<div class=\"tile\"><div class=\"name\">{title}</div><div class=\"figure\">{figure}</div>{lines}</div>"
            );
        } else {
            let _ = write!(others, "<tr><td>{title}{lines}</td><td class=\"num\">{figure}</td></tr>");
        }
    }
    let others = match others.is_empty() {
        true => String::new(),
        false => {
            format!("<table class=\"others\"><tr><th>Other KPIs</th><th>{}</th></tr>{others}</table>", name(period))
        },
    };
    let note = format!(
        "{}, the latest complete period of {} ({group}); changes against {}.",
        name(period),
        table.name,
        before.map(|b| name(b)).unwrap_or_else(|| "the period before".into())
    );
    Some(format!(
        "<section><h2>Headlines</h2><p class=\"note\">{}</p><div class=\"tiles\">{tiles}</div>{others}</section>",
        escape(&note)
    ))
}

/// A row's change against the same row of the period before (`p`), coloured by the KPI's direction: in
/// percentage points for rates (a relative change of a rate reads as a second rate), in the KPI's unit and
/// in % for counts, durations and money, in its unit alone for scores and ratios, which can be negative.
fn change(r: &Row, p: &Row, direction: Direction, before: &str) -> String {
    let mut delta = r.value - p.value;
    if r.unit == "percent" && delta.abs() < 0.05 {
        delta = 0.0;
    }
    let better = match direction {
        Direction::HigherIsBetter => delta > 0.0,
        Direction::LowerIsBetter => delta < 0.0,
        Direction::Neutral => false,
    };
    let worse = delta != 0.0 && direction != Direction::Neutral && !better;
    let class = match (better, worse) {
        (true, _) => " good",
        (_, true) => " bad",
        _ => "",
    };
    let sign = |x: f64| if x >= 0.0 { "+" } else { "−" };
    let moved = match r.unit.as_str() {
        _ if delta == 0.0 => "unchanged".to_string(),
        "percent" => format!("{}{:.1} pts", sign(delta), delta.abs()),
        "count" | "seconds" | "currency" if p.value != 0.0 => {
            let pct = 100.0 * delta / p.value.abs();
            format!("{}{}, {}{:.1} %", sign(delta), svg::human(delta.abs(), &r.unit), sign(pct), pct.abs())
        },
        _ => format!("{}{}", sign(delta), svg::human(delta.abs(), &r.unit)),
    };
    format!("<div class=\"change{class}\">{moved} vs {}</div>", escape(before))
}

/// Which way a KPI is better: the pipeline's definition (its own metrics too), else the catalog's.
fn direction(kpi: &str, plan: Option<&crate::plan::Plan>) -> Direction {
    let declared = plan.and_then(|p| p.kpis.iter().find(|k| k.name == kpi)).map(|k| k.direction);
    declared.or_else(|| catalog::lookup(kpi).map(|k| k.direction)).unwrap_or(Direction::Neutral)
}

/// A headline row's place against the sector: the reference figure of the pipeline's own sector for the same
/// row (`benchmarks.sector`: `benchmarks/<table>`), else how the sectors fare against their references in the
/// same period (a benchmark table split by sector alone), naming the worse ones when they are few.
fn against_sector(table: &str, r: &Row, benchmarks: &[Table]) -> Option<String> {
    let same = |b: &Row| b.period == r.period && b.kpi == r.kpi && b.stat == r.stat;
    let own = benchmarks
        .iter()
        .find(|b| b.name == table)
        .and_then(|b| b.rows.iter().find(|b| same(b) && b.label() == r.label() && b.reference.is_some()));
    if let Some(b) = own {
        let (class, word) = match b.verdict.as_deref() {
            Some("better") => ("good", ": better"),
            Some("worse") => ("bad", ": worse"),
            Some("on_par") => ("", ": on par"),
            _ => ("", ""),
        };
        let sector = b.reference_sector.as_deref().unwrap_or("sector");
        let figure = svg::human(b.reference.expect("filtered"), &b.unit);
        return Some(format!("<div class=\"sector {class}\">{} reference {figure}{word}</div>", escape(sector)));
    }
    let by_sector = benchmarks.iter().find(|b| b.dims == ["sector"] && b.rows.iter().any(&same))?;
    let judged: Vec<&Row> = by_sector.rows.iter().filter(|b| same(b) && b.verdict.is_some()).collect();
    if judged.is_empty() {
        return None;
    }
    // "2 worse (Retail, Telecommunications), 1 on par": the counts that are not zero, worse first.
    let parts: Vec<String> = [("worse", "worse"), ("on_par", "on par"), ("better", "better")]
        .into_iter()
        .filter_map(|(verdict, words)| {
            let sectors: Vec<String> =
                judged.iter().filter(|b| b.verdict.as_deref() == Some(verdict)).map(|b| b.label()).collect();
            match sectors.len() {
                0 => None,
                1..=3 if verdict == "worse" => Some(format!("{} {words} ({})", sectors.len(), sectors.join(", "))),
                n => Some(format!("{n} {words}")),
            }
        })
        .collect();
    Some(format!("<div class=\"sector\">sectors vs reference: {}</div>", escape(&parts.join(", "))))
}

/// A table's periods, in order.
fn periods(table: &Table) -> Vec<String> {
    let mut p: Vec<String> = table.rows.iter().filter_map(|r| r.period.clone()).collect();
    p.sort();
    p.dedup();
    p
}

/// The date a text starts with (`2026-06-01`, `2026-06-01T00:00:00Z`).
fn date(text: &str) -> Option<Date> {
    text.get(..10)?.parse().ok()
}

/// The length of a table's periods, from two consecutive ones: whole months for months, quarters and years
/// (which differ in days), else days.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Step {
    Months(i32),
    Days(i64),
}

impl Step {
    fn between(before: &str, last: &str) -> Option<Step> {
        let (b, l) = (date(before)?, date(last)?);
        let months = (l.year() as i32 * 12 + l.month() as i32) - (b.year() as i32 * 12 + b.month() as i32);
        Some(match (b.day(), l.day()) {
            (1, 1) if months >= 1 => Step::Months(months),
            _ => Step::Days(crate::periods::epoch_days(l) - crate::periods::epoch_days(b)),
        })
    }

    /// The first day after the period starting `start`.
    fn after(self, start: Date) -> Option<Date> {
        match self {
            Step::Months(m) => start.checked_add(jiff::Span::new().months(m)).ok(),
            Step::Days(d) => start.checked_add(jiff::Span::new().days(d)).ok(),
        }
    }

    /// The period starting `start` as people name it: June 2026, Q2 2026, 2026, week of 1 Jun 2026, 1 Jun 2026.
    fn name(self, start: Date) -> String {
        match self {
            Step::Months(12) => start.strftime("%Y").to_string(),
            Step::Months(3) => format!("Q{} {}", (start.month() - 1) / 3 + 1, start.year()),
            Step::Months(_) => start.strftime("%B %Y").to_string(),
            Step::Days(7) => format!("week of {}", start.strftime("%-d %b %Y")),
            Step::Days(_) => start.strftime("%-d %b %Y").to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The end of the last period, as its next one's first day: a 30-day June after a 31-day May ends on
    /// 1 July (not 2 July, May's 31 days on), a quarter after three months, a week after 7 days.
    #[test]
    fn a_period_ends_where_the_next_one_starts() {
        let end = |a: &str, b: &str| Step::between(a, b).unwrap().after(date(b).unwrap()).unwrap().to_string();
        assert_eq!(end("2026-05-01", "2026-06-01"), "2026-07-01");
        assert_eq!(end("2026-01-01", "2026-04-01"), "2026-07-01");
        assert_eq!(end("2025-01-01", "2026-01-01"), "2027-01-01");
        assert_eq!(end("2026-02-23", "2026-03-02"), "2026-03-09");
        assert_eq!(end("2026-01-31", "2026-02-01"), "2026-02-02");
    }

    #[test]
    fn periods_are_named_as_people_say_them() {
        let name = |a: &str, b: &str| Step::between(a, b).unwrap().name(date(b).unwrap());
        assert_eq!(name("2026-05-01", "2026-06-01"), "June 2026");
        assert_eq!(name("2026-01-01", "2026-04-01"), "Q2 2026");
        assert_eq!(name("2025-01-01", "2026-01-01"), "2026");
        assert_eq!(name("2026-02-23", "2026-03-02"), "week of 2 Mar 2026");
        assert_eq!(name("2026-03-10", "2026-03-11"), "11 Mar 2026");
    }
}
