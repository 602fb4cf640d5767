//! The report's sections, chosen from the tables a run wrote, and the page around them.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::svg::{self, escape, Bar, Series};
use super::{Alert, Row, Table};
use crate::catalog::{self, Direction};
use crate::exec::RunRecord;

/// Lines a chart draws at most; the smallest of the rest are summed as `other`.
const MAX_LINES: usize = 8;
/// Bars a chart draws at most.
const MAX_BARS: usize = 24;
/// Segments listed at each end of a ranking.
const RANKED: usize = 5;
/// KPIs ranked in the top and bottom lists, with their stat.
const HEADLINES: [(&str, &str); 4] =
    [("csat", "value"), ("first_response_time", "median"), ("resolution_rate", "value"), ("fcr_rate", "value")];
const STYLE: &str =
    "body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:820px;padding:0 12px;color:#222}\
svg{max-width:100%;height:auto}.tiles{display:flex;flex-wrap:wrap;gap:10px}\
.tile{flex:1 1 150px;border:1px solid #ddd;border-radius:6px;padding:10px 12px}\
.tile .name{font-size:12px;color:#555}.tile .figure{font-size:24px;font-weight:600}\
.change,.goal,.sector{font-size:12px;color:#555}.good{color:#1a7f37}.bad{color:#c62828}\
.watch li{margin:4px 0;overflow-wrap:anywhere}footer,p{overflow-wrap:anywhere}.watch .bad{font-weight:600}\
h1{font-size:22px}h2{font-size:17px;margin-top:32px}.note{color:#666;font-size:12px}\
svg .grid{stroke:#e4e4e4}svg .tick,svg .unit,svg .legend,svg .label{font-size:11px;fill:#444}\
svg .line{fill:none;stroke-width:2}svg .bar{fill:#6b9bd2}svg .bar.flagged{fill:#c9c9c9}\
svg .interval{stroke:#222;stroke-width:1.5}svg .reference{stroke:#d62728;stroke-width:3}\
table{border-collapse:collapse;margin:8px 0}table.others{width:100%;margin-top:14px}td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:left}\
td.num{text-align:right;font-variant-numeric:tabular-nums}tr.low td{color:#888;font-style:italic}\
footer{margin-top:40px;border-top:1px solid #ccc;padding-top:8px;font-size:12px;color:#555}";

pub(super) fn page(tables: &[Table], benchmarks: &[Table], run: Option<&RunRecord>, alerts: &[Alert]) -> String {
    let plan = run.and_then(|r| crate::load_plan(std::path::Path::new(&r.pipeline)).ok());
    let title = plan.as_ref().map(|p| p.name.clone()).unwrap_or_else(|| "deskpulse".into());
    let mut body = format!("<h1>{} — support KPIs</h1>", escape(&title));
    // What needs a look first: failed expectations and alerts, then the headline figures, then the charts.
    let sections = [
        watch_list(alerts, run),
        super::headline::headline(tables, benchmarks, alerts, run, plan.as_ref()),
        volume(tables),
        over_time(tables, "first_response_time", &["median", "p90"], "First response time"),
        over_time(tables, "csat", &["value"], "CSAT"),
        against_reference(benchmarks),
        against_peers(benchmarks),
        rankings(tables),
    ];
    for section in sections.into_iter().flatten() {
        body.push_str(&section);
    }
    body.push_str(&footer(run, plan.as_ref()));
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{} — deskpulse report</title>\
         <style>{STYLE}</style></head><body>{body}</body></html>\n",
        escape(&title)
    )
}

/// A KPI as people say it: the catalog's title ("First response time"), else its name in words.
pub(super) fn kpi_title(kpi: &str) -> String {
    match catalog::lookup(kpi) {
        Some(info) => info.title.to_string(),
        None => {
            let words = kpi.replace('_', " ");
            let mut chars = words.chars();
            chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
        },
    }
}

/// A chart's title: the KPI as people say it, and the statistic when it is not the KPI's single value.
pub(super) fn chart_title(kpi: &str, stat: &str) -> String {
    let stat = match stat {
        "value" => return kpi_title(kpi),
        "mean" => "average",
        "p90" => "90th percentile",
        "p75" => "75th percentile",
        "p95" => "95th percentile",
        "p99" => "99th percentile",
        other => other,
    };
    format!("{} ({stat})", kpi_title(kpi))
}

/// Failed expectations and alerts, first: what someone should look at before reading any figure.
fn watch_list(alerts: &[Alert], run: Option<&RunRecord>) -> Option<String> {
    let expectations: Vec<&String> =
        run.map(|r| r.warnings.iter().filter(|w| w.starts_with("expectation")).collect()).unwrap_or_default();
    if alerts.is_empty() && expectations.is_empty() {
        return None;
    }
    let mut items = String::new();
    for w in expectations {
        let _ = write!(items, "<li class=\"bad\">Data check: {}</li>", escape(w));
    }
    for a in alerts.iter().take(20) {
        let unit = catalog::lookup(&a.kpi).map(|k| k.unit.as_str()).unwrap_or_default();
        let unit = if a.stat == "value" || unit == "seconds" { unit } else { "" };
        let dims = if a.dimensions.is_empty() { String::new() } else { format!(" ({})", a.dimensions) };
        let _ = write!(
            items,
            "<li><span class=\"bad\">Alert</span>: {} {}{} on {}: {}, {} the expected {} to {} ({})</li>",
            escape(&chart_title(&a.kpi, &a.stat)),
            escape(&a.segment),
            escape(&dims),
            escape(&a.period),
            svg::human(a.value, unit),
            if a.above { "above" } else { "below" },
            svg::human(a.low.max(0.0), unit),
            svg::human(a.high, unit),
            if a.above { "higher than usual" } else { "lower than usual" }
        );
    }
    if alerts.len() > 20 {
        let _ = write!(items, "<li>{} more alerts in alerts.csv</li>", alerts.len() - 20);
    }
    Some(format!("<section class=\"watch\"><h2>Needs a look</h2><ul>{items}</ul></section>"))
}

fn has(table: &Table, kpi: &str) -> bool {
    table.rows.iter().any(|r| r.kpi == kpi)
}

fn section(title: &str, note: &str, chart: &str) -> String {
    format!("<section><h2>{}</h2><p class=\"note\">{}</p>{chart}</section>", escape(title), escape(note))
}

/// Ticket volume over time, a line per channel (or per value of the segment's first dimension), summed over
/// the segment's other dimensions.
fn volume(tables: &[Table]) -> Option<String> {
    let with_volume: Vec<&Table> = tables.iter().filter(|t| has(t, "ticket_volume")).collect();
    let table = with_volume
        .iter()
        .find(|t| t.dims.iter().any(|d| d == "channel"))
        .or_else(|| with_volume.iter().find(|t| !t.dims.is_empty()))
        .or_else(|| with_volume.first())?;
    let by = table.dims.iter().position(|d| d == "channel").or((!table.dims.is_empty()).then_some(0));
    let mut sums: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for r in table.rows.iter().filter(|r| r.kpi == "ticket_volume" && r.stat == "value") {
        let line = by.map(|i| r.dims[i].clone().unwrap_or_else(|| "(none)".into())).unwrap_or_else(|| "all".into());
        *sums.entry(line).or_default().entry(r.period.clone().unwrap_or_default()).or_default() += r.value;
    }
    let mut lines: Vec<(String, BTreeMap<String, f64>)> = sums.into_iter().collect();
    lines.sort_by(|a, b| b.1.values().sum::<f64>().total_cmp(&a.1.values().sum::<f64>()));
    if lines.len() > MAX_LINES {
        let mut other: BTreeMap<String, f64> = BTreeMap::new();
        for (_, points) in lines.drain(MAX_LINES - 1..) {
            for (p, v) in points {
                *other.entry(p).or_default() += v;
            }
        }
        lines.push(("other".into(), other));
    }
    let series: Vec<Series> =
        lines.into_iter().map(|(name, points)| Series { name, points: points.into_iter().collect() }).collect();
    let by_name = by.map(|i| table.dims[i].as_str()).unwrap_or("overall");
    let note = format!("Tickets created per period, by {by_name}, from {}.", table.name);
    Some(section("Ticket volume", &note, &svg::line_chart("Ticket volume", "tickets", &series)))
}

/// A KPI's stats over time, from the segment with the fewest dimensions that has it (a line per stat, and per
/// segment row when it has dimensions: the first four).
fn over_time(tables: &[Table], kpi: &str, stats: &[&str], title: &str) -> Option<String> {
    let table = tables.iter().filter(|t| has(t, kpi)).min_by_key(|t| t.dims.len())?;
    let mut lines: BTreeMap<(String, String), Vec<(String, f64)>> = BTreeMap::new();
    for r in table.rows.iter().filter(|r| r.kpi == kpi && stats.contains(&r.stat.as_str())) {
        lines.entry((r.label(), r.stat.clone())).or_default().push((r.period.clone().unwrap_or_default(), r.value));
    }
    let groups: Vec<String> = {
        let mut g: Vec<String> = lines.keys().map(|(g, _)| g.clone()).collect();
        g.dedup();
        g.into_iter().take(4).collect()
    };
    let series: Vec<Series> = lines
        .into_iter()
        .filter(|((g, _), _)| groups.contains(g))
        .map(|((g, stat), points)| Series {
            name: if table.dims.is_empty() { stat } else { format!("{stat} · {g}") },
            points,
        })
        .collect();
    let note = format!("{} by period, from {}.", stats.join(" and "), table.name);
    Some(section(title, &note, &svg::line_chart(title, &unit_of(kpi), &series)))
}

/// The latest period of a table that has `wanted` rows.
fn latest(table: &Table, wanted: impl Fn(&Row) -> bool) -> Option<(&str, Vec<&Row>)> {
    let period = table.rows.iter().filter(|r| wanted(r)).filter_map(|r| r.period.as_deref()).max()?;
    Some((period, table.rows.iter().filter(|r| wanted(r) && r.period.as_deref() == Some(period)).collect()))
}

/// KPI charts a benchmark section draws at most: every KPI of the sample's tables, a bound for wider ones.
const MAX_KPI_CHARTS: usize = 40;

/// The (kpi, stat) pairs of `rows`, the headline KPIs first, then those with a better side, then the rest;
/// not the mixes, whose rows are shares of one whole rather than figures to compare.
fn kpis_to_chart(rows: &[&Row]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> =
        rows.iter().filter(|r| !r.kpi.ends_with("_mix")).map(|r| (r.kpi.clone(), r.stat.clone())).collect();
    pairs.sort();
    pairs.dedup();
    let rank = |(k, s): &(String, String)| {
        let headline = HEADLINES.iter().position(|(hk, hs)| hk == k && hs == s).unwrap_or(HEADLINES.len());
        let neutral = catalog::lookup(k).is_none_or(|info| info.direction == Direction::Neutral);
        (headline, neutral)
    };
    pairs.sort_by_key(rank);
    pairs.truncate(MAX_KPI_CHARTS);
    pairs
}

fn unit_of(kpi: &str) -> String {
    catalog::lookup(kpi).map(|k| format!("{:?}", k.unit).to_lowercase()).unwrap_or_default()
}

/// Each KPI against its sector's published reference, with its 95 % interval, in the latest period that has
/// references: a chart per KPI, a bar per segment row.
fn against_reference(benchmarks: &[Table]) -> Option<String> {
    let with_reference = |t: &&Table| t.rows.iter().any(|r| r.reference.is_some());
    let table = benchmarks
        .iter()
        .filter(with_reference)
        .find(|t| !t.dims.iter().any(|d| d == "account_id"))
        .or_else(|| benchmarks.iter().find(with_reference))?;
    let (period, rows) = latest(table, |r| r.reference.is_some())?;
    let mut charts = String::new();
    for (kpi, stat) in kpis_to_chart(&rows) {
        let bars: Vec<Bar> = rows
            .iter()
            .filter(|r| r.kpi == kpi && r.stat == stat)
            .take(MAX_BARS)
            .map(|r| Bar {
                label: r.label(),
                value: r.value,
                interval: r.interval,
                reference: r.reference,
                flagged: r.low_sample,
            })
            .collect();
        let title = chart_title(&kpi, &stat);
        let _ = write!(charts, "<h3>{}</h3>{}", escape(&title), svg::bar_chart(&title, &unit_of(&kpi), &bars));
    }
    let note = format!(
        "{period}, from benchmarks/{}: bars are the values, whiskers their 95 % intervals, red ticks the published \
         sector references; * marks a low sample.",
        table.name
    );
    Some(section("Against the sector reference", &note, &charts))
}

/// The accounts' peer quartiles per sector, in the latest period: a chart per KPI, the median as a bar and
/// the interquartile range as its whisker.
fn against_peers(benchmarks: &[Table]) -> Option<String> {
    let table = benchmarks.iter().find(|t| t.dims.iter().any(|d| d == "account_id"))?;
    let (period, rows) = latest(table, |r| r.peers.is_some())?;
    let sector = table.dims.iter().position(|d| d == "sector");
    let mut charts = String::new();
    for (kpi, stat) in kpis_to_chart(&rows) {
        let mut by_sector: BTreeMap<String, (f64, f64, f64)> = BTreeMap::new();
        for r in rows.iter().filter(|r| r.kpi == kpi && r.stat == stat) {
            let s = sector.and_then(|i| r.dims[i].clone()).unwrap_or_else(|| "all".into());
            by_sector.entry(s).or_insert(r.peers.expect("filtered"));
        }
        let bars: Vec<Bar> = by_sector
            .into_iter()
            .take(MAX_BARS)
            .map(|(s, (p25, median, p75))| Bar {
                label: s,
                value: median,
                interval: Some((p25, p75)),
                reference: None,
                flagged: false,
            })
            .collect();
        let title = chart_title(&kpi, &stat);
        let _ = write!(charts, "<h3>{}</h3>{}", escape(&title), svg::bar_chart(&title, &unit_of(&kpi), &bars));
    }
    let note = format!(
        "{period}, from benchmarks/{}: bars are the peers' medians, whiskers their quartiles (p25 to p75).",
        table.name
    );
    Some(section("Peer quartiles", &note, &charts))
}

/// The best and worst segments for a few headline KPIs, in the latest period of the first table split by
/// something; low samples are listed and marked, not hidden.
fn rankings(tables: &[Table]) -> Option<String> {
    let mut out = String::new();
    for (kpi, stat) in HEADLINES {
        let wanted = |r: &Row| r.kpi == kpi && r.stat == stat;
        let Some(table) = tables.iter().find(|t| !t.dims.is_empty() && t.rows.iter().any(wanted)) else { continue };
        let Some((period, mut rows)) = latest(table, wanted) else { continue };
        let direction = catalog::lookup(kpi).map(|k| k.direction).unwrap_or(Direction::Neutral);
        rows.sort_by(|a, b| match direction {
            Direction::LowerIsBetter => a.value.total_cmp(&b.value),
            _ => b.value.total_cmp(&a.value),
        });
        let _ = write!(
            out,
            "<h3>{} — {} by {}, {period}</h3>",
            escape(&chart_title(kpi, stat)),
            escape(&table.name),
            table.dims.join(" × ")
        );
        out.push_str("<table><tr><th></th><th>segment</th><th>value</th></tr>");
        let n = rows.len();
        let ends: Vec<(usize, &&Row)> =
            rows.iter().enumerate().filter(|(i, _)| *i < RANKED || *i >= n.saturating_sub(RANKED)).collect();
        for (i, r) in ends {
            let place = if i < RANKED { "top" } else { "bottom" };
            let low = if r.low_sample { " (low sample)" } else { "" };
            let _ = write!(
                out,
                "<tr class=\"{}\" data-kpi=\"{kpi}\" data-stat=\"{stat}\" data-value=\"{}\"><td>{place} {}</td><td>{}{low}</td><td class=\"num\">{}</td></tr>",
                if r.low_sample { "low" } else { "" },
                r.value,
                i + 1,
                escape(&r.label()),
                svg::human(r.value, &r.unit)
            );
        }
        out.push_str("</table>");
    }
    (!out.is_empty()).then(|| format!("<section><h2>Best and worst segments</h2>{out}</section>"))
}

/// `chat/high 60 s`, `any 2 d (business)`.
fn sla_rule(r: &crate::plan::SlaRule) -> String {
    let scope: Vec<&str> = [r.channel.as_deref(), r.priority.as_deref()].into_iter().flatten().collect();
    let scope = if scope.is_empty() { "any".to_string() } else { scope.join("/") };
    let t = r.target_seconds;
    let target = match t {
        t if t >= 86_400.0 && t % 86_400.0 == 0.0 => format!("{} d", t / 86_400.0),
        t if t >= 3_600.0 && t % 3_600.0 == 0.0 => format!("{} h", t / 3_600.0),
        t if t >= 60.0 && t % 60.0 == 0.0 => format!("{} min", t / 60.0),
        t => format!("{t} s"),
    };
    format!("{scope} {target}{}", if r.business { " (business)" } else { "" })
}

fn footer(run: Option<&RunRecord>, plan: Option<&crate::plan::Plan>) -> String {
    let mut f = String::from("<footer>");
    match run {
        Some(r) => {
            let _ = write!(
                f,
                "<p>Pipeline {}: run {} of {} (deskpulse {}), started {}, as of {}.</p>",
                escape(&plan.map(|p| p.name.clone()).unwrap_or_else(|| "(unreadable)".into())),
                escape(&r.run_id),
                escape(&r.pipeline),
                escape(&r.deskpulse),
                escape(&r.started_at),
                escape(&r.as_of)
            );
            let counts: Vec<String> = r
                .tables
                .iter()
                .map(|t| {
                    format!("{}: {} read, {} quarantined, {} superseded", t.table, t.read, t.rejected, t.superseded)
                })
                .collect();
            let _ = write!(f, "<p>Quarantine: {}.</p>", escape(&counts.join("; ")));
        },
        None => f.push_str("<p>No run record found beside the tables.</p>"),
    }
    match plan {
        Some(p) => {
            let d = &p.definitions;
            let lines = [
                format!(
                    "resolved: {}{}",
                    if d.resolved_statuses.is_empty() {
                        "any ticket with resolved_at".into()
                    } else {
                        d.resolved_statuses.join(", ")
                    },
                    if d.abandoned_can_resolve { "" } else { ", not abandoned" }
                ),
                format!(
                    "FCR: at most {} agent repl{}{}",
                    d.fcr_max_agent_replies,
                    if d.fcr_max_agent_replies == 1 { "y" } else { "ies" },
                    if d.fcr_reopened_counts { "" } else { ", never reopened" }
                ),
                format!("CSAT: satisfied at {} or more on {}–{}", d.csat_satisfied_min, d.csat_scale.0, d.csat_scale.1),
                format!("CES: easy at {} or more on {}–{}", d.ces_easy_min, d.ces_scale.0, d.ces_scale.1),
                format!("queue channels: {}", d.queue_channels.join(", ")),
            ];
            let mut lines = lines.to_vec();
            for (what, rules) in [("first response SLA", &p.sla.first_response), ("resolution SLA", &p.sla.resolution)]
            {
                if !rules.is_empty() {
                    lines.push(format!("{what}: {}", rules.iter().map(sla_rule).collect::<Vec<_>>().join(", ")));
                }
            }
            let _ = write!(f, "<p>Definitions in force: {}.</p>", escape(&lines.join("; ")));
        },
        None => f.push_str("<p>Definitions: the pipeline file named by the run could not be read.</p>"),
    }
    f.push_str("<p>KPI definitions: docs/kpis.md. Drawn by deskpulse report.</p></footer>");
    f
}
