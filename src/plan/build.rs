//! Spec → Plan: every check that needs no data, all problems collected in one pass. No I/O here.

use std::path::Path;

use super::definitions::{definitions_of, plausible_of};
use super::segments::{follow_up_of, report_of, review_sample_of, segment};
use super::sources::source;
use super::*;
use crate::catalog::KpiDefinition;
use crate::catalog::{self, KpiOptions, DURATION_STATS};
use crate::model::{self, Fill};
use crate::spec::{KpiEntry, Located, PipelineSpec};
use crate::suggest;
use indexmap::IndexMap;

const DEFAULT_MIN_SAMPLE: u64 = 30;

/// Validates a parsed pipeline. `path` is the pipeline file (sources resolve against its folder). Each part
/// of the spec has its `check_*` function; every problem is collected, so one run reports them all.
pub fn build(spec: PipelineSpec, path: &Path, text: String, settings: RunSettings) -> Result<Plan, PlanError> {
    let mut errs = Vec::new();
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    // Destructure so that a new spec field cannot be forgotten here.
    let PipelineSpec {
        name,
        description: _,
        sources,
        definitions,
        kpis,
        segments,
        sla,
        filters,
        min_sample,
        outputs,
        calendars,
        business_hours,
        max_rejected_share,
        allow_empty,
        review_sample,
        follow_up,
        benchmarks,
        alerts,
        expectations,
        metrics,
        report,
    } = spec;

    let sources: Vec<Source> = sources.into_iter().filter_map(|(n, s)| source(n, s, &base, &mut errs)).collect();
    let plausible = plausible_of(definitions.plausible.as_ref(), &mut errs);
    let definitions = definitions_of(definitions, &mut errs);
    let min_sample = min_sample.map(|m| m.value).unwrap_or(DEFAULT_MIN_SAMPLE);
    let sla = super::sla::sla_of(sla, &mut errs);
    let layout = check_layout(outputs.layout.as_ref(), &mut errs);
    let report = report.and_then(|r| report_of(r, &mut errs));
    let calendars: Vec<_> = calendars.into_iter().filter_map(|(n, c)| calendar(n, c, &mut errs)).collect();
    let business_hours = calendar_rules(&calendars, business_hours, &mut errs);
    let max_rejected_share = max_rejected_share.map(|share| check_max_rejected_share(share, &mut errs));

    let mut plan = Plan {
        name,
        pipeline_path: path.to_path_buf(),
        pipeline_text: String::new(),
        sources,
        definitions,
        kpis: Vec::new(),
        segments: Vec::new(),
        window: Window::default(),
        sla,
        as_of: settings.as_of.unwrap_or_else(jiff::Timestamp::now),
        table_filters: Vec::new(),
        output_dir: outputs.dir.map(|d| base.join(&d.value)),
        store_dir: outputs.store.as_ref().map(|d| base.join(&d.value)),
        layout,
        formats: Vec::new(),
        per_ticket: outputs.tickets,
        sla_table: outputs.sla,
        replies_table: outputs.replies,
        calendars,
        business_hours,
        max_rejected_share,
        allow_empty,
        review_sample: None,
        follow_up: None,
        benchmarks: None,
        engine: settings.engine,
        plausible,
        report,
        targets: Vec::new(),
        alerts: Vec::new(),
        expectations: Vec::new(),
    };
    check_business_sla(&plan, &mut errs);
    super::sla::check_sla_inputs(&plan, &mut errs);
    check_something_to_compute(&kpis, &segments, &mut errs);

    let declared = super::metric::metrics_of(&plan, &text, metrics, &mut errs);
    for entry in kpis.iter() {
        if let Some(def) = check_kpi(&plan, &declared, entry, min_sample, &mut errs) {
            plan.targets.extend(super::watch::targets_of(entry, &def, &mut errs));
            plan.kpis.push(def);
        }
    }
    if let Some(alerts) = alerts {
        plan.alerts = super::watch::alerts_of(&plan, alerts, &mut errs);
    }
    plan.expectations = super::expectations::expectations_of(&plan, expectations, &mut errs);
    plan.review_sample = review_sample.and_then(|r| review_sample_of(&plan, r, &mut errs));
    plan.follow_up = follow_up.and_then(|f| follow_up_of(&plan, f, &mut errs));
    plan.benchmarks = benchmarks.map(|b| check_benchmarks(b, &base, &mut errs));
    for (seg_name, seg) in segments.value {
        if let Some(s) = segment(&plan, seg_name, seg, &mut errs) {
            plan.segments.push(s);
        }
    }
    if let Some(w) = filters.window {
        plan.window = check_window(w, &mut errs);
    }
    for (table, sql) in [(Table::Tickets, filters.tickets), (Table::Surveys, filters.surveys)] {
        if let Some(sql) = sql {
            plan.table_filters.push((table, Sql { text: sql.value, at: sql.at }));
        }
    }
    plan.formats = check_formats(outputs.formats, &mut errs);
    errs.extend(sql_errors(&plan, &text));
    errs.extend(super::expectations::sql_errors(&plan, &text));

    if errs.is_empty() {
        plan.pipeline_text = text;
        Ok(plan)
    } else {
        errs.sort_by_key(|d| (d.at.line, d.at.column));
        Err(PlanError { path: path.to_path_buf(), text, diagnostics: errs })
    }
}

fn check_layout(layout: Option<&Located<String>>, errs: &mut Vec<Diagnostic>) -> Layout {
    match layout.map(|l| (l.as_str(), l.at)) {
        None | Some(("single", _)) => Layout::Single,
        Some(("hive", _)) => Layout::Hive,
        Some((other, at)) => {
            errs.push(
                Diagnostic::new(format!("unknown output layout `{other}`"), at)
                    .with_help(suggest::help(other, &["single", "hive"])),
            );
            Layout::Single
        },
    }
}

fn check_formats(formats: Option<Vec<Located<String>>>, errs: &mut Vec<Diagnostic>) -> Vec<OutputFormat> {
    let Some(list) = formats else { return vec![OutputFormat::Parquet, OutputFormat::Csv] };
    list.iter()
        .filter_map(|f| match f.as_str() {
            "parquet" => Some(OutputFormat::Parquet),
            "csv" => Some(OutputFormat::Csv),
            other => {
                errs.push(
                    Diagnostic::new(format!("unknown output format `{other}`",), f.at)
                        .with_help(suggest::help(other, &["parquet", "csv"])),
                );
                None
            },
        })
        .collect()
}

fn check_max_rejected_share(share: Located<f64>, errs: &mut Vec<Diagnostic>) -> f64 {
    if !(0.0..=1.0).contains(&share.value) {
        errs.push(Diagnostic::new("`max_rejected_share` is a share between 0 and 1 (e.g. 0.01 for 1 %)", share.at));
    }
    share.value
}

fn check_business_sla(plan: &Plan, errs: &mut Vec<Diagnostic>) {
    if plan.sla.any_business() && plan.business_hours.is_empty() {
        errs.push(
            Diagnostic::new(
                "SLA rules with `clock: business` need `calendars` and `business_hours`",
                Location::default(),
            )
            .with_help("e.g. business_hours: [{ channel: email, calendar: office }]"),
        );
    }
}

fn check_something_to_compute(
    kpis: &Located<Vec<Located<KpiEntry>>>,
    segments: &Located<IndexMap<Located<String>, Located<crate::spec::SegmentSpec>>>,
    errs: &mut Vec<Diagnostic>,
) {
    if kpis.is_empty() {
        errs.push(
            Diagnostic::new("`kpis` lists no KPI: there is nothing to compute", kpis.at)
                .with_help("e.g. kpis: [ticket_volume, first_response_time]; `deskpulse kpis` lists the catalog"),
        );
    }
    if segments.value.is_empty() {
        errs.push(
            Diagnostic::new("`segments` declares no segment: no table would be written", segments.at)
                .with_help("e.g. segments: { overall_month: { by: [], grain: month } }"),
        );
    }
}

fn check_benchmarks(spec: Located<crate::spec::BenchmarksSpec>, base: &Path, errs: &mut Vec<Diagnostic>) -> Benchmarks {
    let min_peers = spec.min_peers.as_ref().map(|m| m.value).unwrap_or(5);
    if min_peers < 2 {
        let at = spec.min_peers.as_ref().map(|m| m.at).unwrap_or(spec.at);
        errs.push(Diagnostic::new("`min_peers` must be at least 2: a rank needs someone to be ranked against", at));
    }
    if let (Some(sector), None) = (&spec.sector, &spec.reference) {
        errs.push(
            Diagnostic::new(
                format!("`sector: {}` compares with a reference table, and `benchmarks` names none", sector.value),
                sector.at,
            )
            .with_help("add `reference: FILE` (a CSV of published figures, see docs/benchmarks.md)"),
        );
    }
    Benchmarks {
        reference: spec.reference.as_ref().map(|r| base.join(&r.value)),
        reference_at: spec.reference.as_ref().map(|r| r.at).unwrap_or(spec.at),
        min_peers,
        sector: spec.sector.as_ref().map(|s| s.value.clone()),
        sector_at: spec.sector.as_ref().map(|s| s.at).unwrap_or(spec.at),
    }
}

fn check_window(spec: crate::spec::WindowSpec, errs: &mut Vec<Diagnostic>) -> Window {
    let to_at = spec.to.as_ref().map(|t| t.at).unwrap_or_default();
    let window = Window { from: spec.from.and_then(|d| date(&d, errs)), to: spec.to.and_then(|d| date(&d, errs)) };
    if let (Some(from), Some(to)) = (window.from, window.to) {
        if from >= to {
            errs.push(
                Diagnostic::new(format!("the window's `from` ({from}) must come before its `to` ({to})"), to_at)
                    .with_help(
                    "the window is [from, to): e.g. { from: 2026-01-01, to: 2026-07-01 } for the first half of 2026",
                ),
            );
        }
    }
    window
}

/// One entry of `kpis:`: a declared metric, or a catalog KPI with its options (`as`, `stats`, `clock`,
/// `min_sample`) checked against what the pipeline maps.
fn check_kpi(
    plan: &Plan,
    declared: &super::metric::Declared,
    entry: &Located<KpiEntry>,
    min_sample: u64,
    errs: &mut Vec<Diagnostic>,
) -> Option<KpiDefinition> {
    let at = if entry.name.at.is_known() { entry.name.at } else { entry.at };
    if let Some(metric) = declared.metrics.iter().find(|m| m.name == entry.name.value) {
        return check_declared_entry(plan, metric, entry, at, min_sample, errs);
    }
    if declared.names.contains(&entry.name.value) && catalog::lookup(&entry.name).is_none() {
        return None; // its definition's errors are reported
    }
    let Some(info) = catalog::lookup(&entry.name) else {
        let mut known = catalog::names();
        known.extend(declared.names.iter().map(String::as_str));
        errs.push(
            Diagnostic::new(format!("unknown KPI `{}`", entry.name.value), at)
                .with_help(suggest::help(&entry.name, &known)),
        );
        return None;
    };
    let name = check_variant(info, entry.variant.as_ref(), errs);
    if plan.kpis.iter().any(|k| k.name == name) {
        errs.push(Diagnostic::new(format!("KPI `{name}` is listed twice",), at).with_help(format!(
            "to compute `{}` twice with other options, give one of them its own name: \
             {{ name: {}, as: {}_2, … }}",
            info.name, info.name, info.name
        )));
        return None;
    }
    let stats = entry.stats.as_ref().and_then(|stats| check_stats(info, stats, errs));
    check_sla_sections(plan, info, at, errs);
    check_kpi_inputs(plan, info, at, min_sample, errs);
    let business = check_clock(plan, info, entry.clock.as_ref(), errs);
    let options = KpiOptions {
        stats: stats.filter(|s| !s.is_empty()),
        min_sample: entry.min_sample.as_ref().map(|m| m.value).unwrap_or(min_sample),
        business,
    };
    let mut def = info.define(&plan.definitions, &options);
    def.name = name;
    Some(def)
}

fn check_declared_entry(
    plan: &Plan,
    metric: &KpiDefinition,
    entry: &Located<KpiEntry>,
    at: Location,
    min_sample: u64,
    errs: &mut Vec<Diagnostic>,
) -> Option<KpiDefinition> {
    if plan.kpis.iter().any(|k| k.name == metric.name) {
        errs.push(Diagnostic::new(format!("KPI `{}` is listed twice", metric.name), at));
        return None;
    }
    for (option, given) in [("as", entry.variant.is_some()), ("stats", entry.stats.is_some())] {
        if given {
            errs.push(Diagnostic::new(
                format!("`{option}` applies to catalog KPIs; declare another metric instead"),
                at,
            ));
        }
    }
    let mut def = metric.clone();
    def.min_sample = entry.min_sample.as_ref().map(|m| m.value).unwrap_or(min_sample);
    Some(def)
}

/// A variant (`as:`) is the catalog KPI under another output name, with its own options.
fn check_variant(info: &catalog::KpiInfo, variant: Option<&Located<String>>, errs: &mut Vec<Diagnostic>) -> String {
    let Some(v) = variant else { return info.name.to_string() };
    let valid = !v.is_empty() && v.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        errs.push(Diagnostic::new(
            format!("`as: {}` must use lowercase letters, digits and `_` (it names output rows)", v.value),
            v.at,
        ));
    } else if v.as_str() != info.name && catalog::lookup(v).is_some() {
        errs.push(Diagnostic::new(format!("`as: {}` is the name of another catalog KPI", v.value), v.at));
    }
    v.value.clone()
}

/// Only known statistics reach `define`; the others are reported here.
fn check_stats(
    info: &catalog::KpiInfo,
    stats: &Located<Vec<String>>,
    errs: &mut Vec<Diagnostic>,
) -> Option<Vec<String>> {
    if !info.is_duration() {
        errs.push(Diagnostic::new(format!("KPI `{}` takes no `stats` option", info.name), stats.at));
        return None;
    }
    if stats.is_empty() {
        errs.push(
            Diagnostic::new(format!("`stats` of `{}` lists no statistic", info.name), stats.at)
                .with_help(format!("list some of {}, or leave `stats` out for the default", DURATION_STATS.join(", "))),
        );
        return None;
    }
    let mut known = Vec::new();
    for s in stats.iter() {
        if DURATION_STATS.contains(&s.as_str()) {
            if known.contains(s) {
                errs.push(Diagnostic::new(format!("statistic `{s}` of `{}` is listed twice", info.name), stats.at));
            }
            known.push(s.clone());
        } else {
            errs.push(
                Diagnostic::new(format!("unknown statistic `{s}` for `{}`", info.name), stats.at)
                    .with_help(stat_help(s)),
            );
        }
    }
    Some(known)
}

fn check_sla_sections(plan: &Plan, info: &catalog::KpiInfo, at: Location, errs: &mut Vec<Diagnostic>) {
    if info.table == Table::SlaInstances && info.config.is_empty() && !plan.sla.judges_as_of() {
        errs.push(
            Diagnostic::new(format!("KPI `{}` counts SLA instances, but `sla` declares no targets", info.name), at)
                .with_help("e.g. sla: { next_reply: [{ priority: urgent, target: 1h }] }"),
        );
    }
    for section in info.config {
        let declared = match section {
            catalog::Section::Sla(metric) => !plan.sla.rules(*metric).is_empty(),
        };
        if !declared {
            errs.push(
                Diagnostic::new(format!("KPI `{}` needs targets under `{}`", info.name, section.as_str()), at)
                    .with_help("e.g. sla: { first_response: [{ channel: chat, target: 60s }] }"),
            );
        }
    }
}

/// The table a catalog KPI reads is fed, and every column its definition reads is mapped or filled.
fn check_kpi_inputs(plan: &Plan, info: &catalog::KpiInfo, at: Location, min_sample: u64, errs: &mut Vec<Diagnostic>) {
    if info.table.is_derived() {
        return; // fed by messages: `lookups` names what it needs
    }
    if !fed(plan, info.table) {
        errs.push(Diagnostic::new(
            format!("KPI `{}` needs the `{}` table, but no source feeds it", info.name, info.table),
            at,
        ));
        return;
    }
    let def = info.define(&plan.definitions, &KpiOptions { stats: None, min_sample, business: false });
    for (table, column) in info.lookups {
        if !plan.has_column(*table, column) {
            errs.push(Diagnostic::new(
                format!("KPI `{}` needs `{table}.{column}`, which no source maps", info.name),
                at,
            ));
        }
    }
    for column in info.columns_read(&def) {
        if model::is_derived(info.table, column) {
            continue;
        }
        let c = info.table.column(column).expect("catalog inputs are canonical columns");
        if c.fill == Fill::Required || plan.has_column(info.table, column) {
            continue;
        }
        if let Fill::Column(other) = c.fill {
            if plan.has_column(info.table, other) {
                continue;
            }
        }
        let defaulted = !matches!(c.fill, Fill::Null);
        if defaulted && !info.inputs.contains(&column) {
            continue;
        }
        errs.push(
            Diagnostic::new(format!("KPI `{}` needs `{}.{column}`, which no source maps", info.name, info.table), at)
                .with_help(format!("map it under `columns:` of a {} source", info.table)),
        );
    }
}

/// `clock: business` (true) or `wall` (false, the default).
fn check_clock(
    plan: &Plan,
    info: &catalog::KpiInfo,
    clock: Option<&Located<String>>,
    errs: &mut Vec<Diagnostic>,
) -> bool {
    match clock {
        None => false,
        Some(c) if c.as_str() == "wall" => false,
        Some(c) if c.as_str() == "business" => {
            if !info.has_business_clock() {
                errs.push(Diagnostic::new(format!("KPI `{}` has no business-hours variant", info.name), c.at));
            } else if plan.business_hours.is_empty() {
                errs.push(
                    Diagnostic::new(
                        format!("KPI `{}` on the business clock needs `calendars` and `business_hours`", info.name),
                        c.at,
                    )
                    .with_help("e.g. business_hours: [{ calendar: office }] for every ticket"),
                );
            }
            true
        },
        Some(c) => {
            errs.push(
                Diagnostic::new(format!("unknown clock `{}`", c.value), c.at)
                    .with_help(suggest::help(c, &["wall", "business"])),
            );
            false
        },
    }
}

/// Does a source feed `table` (reply chains feed the tickets)?
pub(super) fn fed(plan: &Plan, table: Table) -> bool {
    plan.sources.iter().any(|s| s.table == table) || (table == Table::Tickets && plan.has_threads())
}

/// Every SQL snippet of the pipeline that does not parse, and, for table filters (which read canonical
/// columns, known without data), every column they read that the table lacks.
fn sql_errors(plan: &Plan, text: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for sql in plan.sources.iter().flat_map(Source::sql) {
        if let Err(d) = super::sql::parse(sql, text) {
            out.push(d);
        }
    }
    for (table, sql) in &plan.table_filters {
        if let Err(d) = super::sql::checked_on(plan, *table, sql, text, "filters") {
            out.push(d);
        }
    }
    out
}

fn calendar(
    name: Located<String>,
    spec: Located<crate::spec::CalendarSpec>,
    errs: &mut Vec<Diagnostic>,
) -> Option<crate::calendar::Calendar> {
    use crate::calendar::{parse_days, parse_hours, Calendar, Span};
    let spec = spec.value;
    let zone = match jiff::tz::TimeZone::get(&spec.time_zone) {
        Ok(z) => Some(z),
        Err(_) => {
            errs.push(
                Diagnostic::new(format!("unknown time zone `{}`", spec.time_zone.value), spec.time_zone.at)
                    .with_help("use an IANA name such as Europe/Paris or America/New_York"),
            );
            None
        },
    };
    let mut spans = Vec::new();
    for (days, hours) in spec.hours.iter() {
        let days = match parse_days(days) {
            Ok(d) => d,
            Err(why) => {
                errs.push(Diagnostic::new(format!("calendar `{}`: {why}", name.value), spec.hours.at));
                continue;
            },
        };
        for text in hours.list() {
            match parse_hours(text) {
                Ok((start, end)) => spans.extend(days.iter().map(|&weekday| Span { weekday, start, end })),
                Err(why) => errs.push(Diagnostic::new(format!("calendar `{}`: {why}", name.value), spec.hours.at)),
            }
        }
    }
    let holidays = spec.holidays.iter().filter_map(|d| date(d, errs)).collect();
    Some(Calendar { name: name.value, zone: zone?, spans, holidays })
}

fn calendar_rules(
    calendars: &[crate::calendar::Calendar],
    rules: Vec<Located<crate::spec::BusinessHoursRule>>,
    errs: &mut Vec<Diagnostic>,
) -> Vec<CalendarRule> {
    let names: Vec<&str> = calendars.iter().map(|c| c.name.as_str()).collect();
    let mut out: Vec<CalendarRule> = rules
        .into_iter()
        .filter_map(|r| {
            let r = r.value;
            let Some(calendar) = names.iter().position(|n| *n == r.calendar.as_str()) else {
                errs.push(
                    Diagnostic::new(format!("unknown calendar `{}`", r.calendar.value), r.calendar.at)
                        .with_help(suggest::help(&r.calendar, &names)),
                );
                return None;
            };
            Some(CalendarRule { channel: r.channel, team: r.team, calendar })
        })
        .collect();
    out.sort_by_key(|r| std::cmp::Reverse(2 * usize::from(r.channel.is_some()) + usize::from(r.team.is_some())));
    out
}

/// "did you mean" for a duration statistic, knowing the usual other names of the mean and percentiles.
fn stat_help(written: &str) -> String {
    let lower = written.to_lowercase();
    let alias = match lower.as_str() {
        "avg" | "average" | "moyenne" => Some("mean".to_string()),
        "p50" | "med" => Some("median".to_string()),
        s if DURATION_STATS.contains(&s) => Some(s.to_string()),
        _ => None,
    };
    match alias {
        Some(a) => format!("did you mean `{a}`? (statistics: {})", DURATION_STATS.join(", ")),
        None => format!("{} (other percentiles are not computed)", suggest::help(written, DURATION_STATS)),
    }
}

pub(super) fn date(d: &Located<String>, errs: &mut Vec<Diagnostic>) -> Option<jiff::civil::Date> {
    match d.parse::<jiff::civil::Date>() {
        Ok(date) => Some(date),
        Err(_) => {
            errs.push(
                Diagnostic::new(format!("`{}` is not a date", d.value), d.at).with_help("write it as YYYY-MM-DD"),
            );
            None
        },
    }
}
