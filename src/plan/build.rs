//! Spec → Plan: every check that needs no data, all problems collected in one pass. No I/O here.

use std::path::Path;

use super::*;
use crate::catalog::KpiDefinition;
use crate::catalog::{self, KpiOptions, DURATION_STATS};
use crate::model::{self, ColumnType, Fill};
use crate::spec::{ColumnSpec, KpiEntry, Located, PipelineSpec, SourceSpec};
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
        metrics,
        report,
    } = spec;

    let sources: Vec<Source> = sources.into_iter().filter_map(|(n, s)| source(n, s, &base, &mut errs)).collect();
    let plausible = plausible_of(definitions.plausible.as_ref(), &mut errs);
    let definitions = definitions_of(definitions, &mut errs);
    let min_sample = min_sample.map(|m| m.value).unwrap_or(DEFAULT_MIN_SAMPLE);
    let sla = Sla {
        first_response: sla_rules(sla.first_response, &mut errs),
        resolution: sla_rules(sla.resolution, &mut errs),
    };
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
    };
    check_business_sla(&plan, &mut errs);
    check_something_to_compute(&kpis, &segments, &mut errs);

    let declared = super::metric::metrics_of(&plan, &text, metrics, &mut errs);
    for entry in kpis.iter() {
        if let Some(def) = check_kpi(&plan, &declared, entry, min_sample, &mut errs) {
            plan.kpis.push(def);
        }
    }
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
    let business_sla = plan.sla.first_response.iter().chain(&plan.sla.resolution).any(|r| r.business);
    if business_sla && plan.business_hours.is_empty() {
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
    Benchmarks {
        reference: spec.reference.as_ref().map(|r| base.join(&r.value)),
        reference_at: spec.reference.as_ref().map(|r| r.at).unwrap_or(spec.at),
        min_peers,
    }
}

fn check_window(spec: crate::spec::WindowSpec, errs: &mut Vec<Diagnostic>) -> Window {
    let window = Window { from: spec.from.and_then(|d| date(&d, errs)), to: spec.to.and_then(|d| date(&d, errs)) };
    if let (Some(from), Some(to)) = (window.from, window.to) {
        if from >= to {
            errs.push(Diagnostic::new("the window's `from` must come before its `to`", Location::default()));
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
    for section in info.config {
        let declared = match section {
            catalog::Section::SlaFirstResponse => !plan.sla.first_response.is_empty(),
            catalog::Section::SlaResolution => !plan.sla.resolution.is_empty(),
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
        let what = format!("the {table} table (filters read canonical columns and attributes)");
        let parsed = super::sql::parse(sql, text)
            .and_then(|_| super::sql::reading(sql, &super::readable_schema(plan, *table).names(), &what));
        if let Err(d) = parsed {
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

fn sla_rules(rules: Vec<Located<crate::spec::SlaRuleSpec>>, errs: &mut Vec<Diagnostic>) -> Vec<SlaRule> {
    let mut out: Vec<SlaRule> = rules
        .into_iter()
        .filter_map(|r| {
            let Some(target_seconds) = parse_duration(&r.target) else {
                errs.push(
                    Diagnostic::new(format!("`{}` is not a duration", r.target.value), r.target.at)
                        .with_help("write it as 60s, 2m, 4h, 2d or a number of seconds"),
                );
                return None;
            };
            let business = match &r.clock {
                None => false,
                Some(c) if c.as_str() == "wall" => false,
                Some(c) if c.as_str() == "business" => true,
                Some(c) => {
                    errs.push(
                        Diagnostic::new(format!("unknown clock `{}`", c.value), c.at)
                            .with_help(suggest::help(c, &["wall", "business"])),
                    );
                    false
                },
            };
            Some(SlaRule { channel: r.value.channel, priority: r.value.priority, target_seconds, business })
        })
        .collect();
    // Most specific first; the sort is stable, so declaration order breaks ties.
    out.sort_by_key(|r| std::cmp::Reverse(2 * usize::from(r.channel.is_some()) + usize::from(r.priority.is_some())));
    out
}

fn source(name: String, spec: Located<SourceSpec>, base: &Path, errs: &mut Vec<Diagnostic>) -> Option<Source> {
    let at = spec.at;
    let spec = spec.value;
    let table_names: Vec<&str> = Table::ALL.iter().filter(|t| !t.is_derived()).map(|t| t.name()).collect();
    let Some(table) = Table::from_name(&spec.table).filter(|t| !t.is_derived()) else {
        errs.push(
            Diagnostic::new(format!("source `{name}`: unknown table `{}`", spec.table.value), spec.table.at)
                .with_help(suggest::help(&spec.table, &table_names)),
        );
        return None;
    };
    let format = check_format(&name, spec.format.as_ref(), &spec.path, errs);
    let csv = csv_options(&spec.csv, errs);

    let mut columns = Vec::new();
    let valid: Vec<&str> = table.columns().iter().map(|c| c.name).collect();
    for (canonical, mapping) in spec.columns {
        let Some(column) = table.column(&canonical) else {
            errs.push(
                Diagnostic::new(format!("`{}` is not a column of the {table} table", canonical.value), canonical.at)
                    .with_help(suggest::help(&canonical, &valid)),
            );
            continue;
        };
        if let Some(m) = column_mapping(table, column, mapping, errs) {
            columns.push(m);
        }
    }
    let thread = spec.thread.map(|t| Thread { id: t.value.id.value, in_reply_to: t.value.in_reply_to.value, at: t.at });
    check_thread_and_required(&name, table, thread.as_ref(), &columns, at, errs);
    let pattern = base.join(&spec.path.value).to_string_lossy().into_owned();
    let filter = spec.filter.map(|f| Sql { text: f.value, at: f.at });
    let duplicates = check_duplicates(&name, spec.duplicates.as_ref(), spec.latest_by, at, errs);
    let quarantine_unreadable = check_choice(spec.on_error.as_ref(), "on_error", ["fail", "quarantine"], errs);
    let keep_orphans = check_choice(spec.references.as_ref(), "references", ["quarantine", "keep"], errs);
    let attributes = attributes_of(&name, table, spec.attributes, errs);
    Some(Source {
        name,
        table,
        pattern,
        pattern_at: spec.path.at,
        format,
        csv,
        filter,
        columns,
        duplicates,
        quarantine_unreadable,
        keep_orphans,
        thread,
        attributes,
    })
}

/// The source's `format:`, or the one its path's extension names.
fn check_format(
    name: &str,
    format: Option<&Located<String>>,
    path: &Located<String>,
    errs: &mut Vec<Diagnostic>,
) -> FileFormat {
    match format.map(|f| (f.as_str(), f.at)) {
        Some(("csv", _)) => FileFormat::Csv,
        Some(("parquet", _)) => FileFormat::Parquet,
        Some(("ndjson", _)) | Some(("jsonl", _)) => FileFormat::Ndjson,
        Some((other, at)) => {
            errs.push(
                Diagnostic::new(format!("unknown format `{other}`"), at)
                    .with_help(suggest::help(other, &["csv", "parquet", "ndjson"])),
            );
            FileFormat::Csv
        },
        None => {
            let lower = path.to_lowercase();
            let lower = lower.trim_end_matches(".gz").trim_end_matches(".zst");
            if lower.ends_with(".parquet") || lower.ends_with(".pq") {
                FileFormat::Parquet
            } else if lower.ends_with(".ndjson") || lower.ends_with(".jsonl") {
                FileFormat::Ndjson
            } else if lower.ends_with(".csv") || lower.ends_with(".tsv") || lower.ends_with(".txt") {
                FileFormat::Csv
            } else {
                errs.push(Diagnostic::new(
                    format!(
                        "source `{name}`: cannot tell the format of `{}`; add `format: csv|parquet|ndjson`",
                        path.value
                    ),
                    path.at,
                ));
                FileFormat::Csv
            }
        },
    }
}

/// A `thread` source is a messages source without ticket ids, and every required column is mapped.
fn check_thread_and_required(
    name: &str,
    table: Table,
    thread: Option<&Thread>,
    columns: &[ColumnMapping],
    at: Location,
    errs: &mut Vec<Diagnostic>,
) {
    if let Some(t) = thread {
        if table != Table::Messages {
            errs.push(Diagnostic::new(format!("source `{name}`: `thread` applies to messages sources"), t.at));
        }
        if let Some(m) = columns.iter().find(|m| m.canonical.name == "ticket_id") {
            errs.push(
                Diagnostic::new(format!("source `{name}`: with `thread`, ticket_id is each reply chain's root"), m.at)
                    .with_help("remove the ticket_id mapping"),
            );
        }
    }
    for c in table.columns() {
        let from_thread = thread.is_some() && c.name == "ticket_id";
        if c.fill == Fill::Required
            && !from_thread
            && !columns.iter().any(|m: &ColumnMapping| m.canonical.name == c.name)
        {
            errs.push(Diagnostic::new(
                format!("source `{name}` feeds {table} but does not map the required column `{}`", c.name),
                at,
            ));
        }
    }
}

/// `duplicates:` (`reject`, or `keep_latest` with `latest_by`).
fn check_duplicates(
    name: &str,
    duplicates: Option<&Located<String>>,
    latest_by: Option<Located<String>>,
    at: Location,
    errs: &mut Vec<Diagnostic>,
) -> Duplicates {
    match (duplicates.map(|d| d.as_str()), latest_by) {
        (None | Some("reject"), None) => Duplicates::Reject,
        (Some("keep_latest"), Some(by)) => Duplicates::KeepLatest { by: by.value, at: by.at },
        (Some("keep_latest"), None) => {
            errs.push(Diagnostic::new(
                format!("source `{name}`: `duplicates: keep_latest` needs `latest_by`, the source column that orders the copies"),
                duplicates.map(|d| d.at).unwrap_or(at),
            ));
            Duplicates::Reject
        },
        (None | Some("reject"), Some(by)) => {
            errs.push(Diagnostic::new("`latest_by` only applies with `duplicates: keep_latest`", by.at));
            Duplicates::Reject
        },
        (Some(other), _) => {
            errs.push(
                Diagnostic::new(format!("unknown duplicates policy `{other}`"), duplicates.map(|d| d.at).unwrap_or(at))
                    .with_help(suggest::help(other, &["reject", "keep_latest"])),
            );
            Duplicates::Reject
        },
    }
}

/// A two-way option: false for the first (default) value, true for the second.
fn check_choice(value: Option<&Located<String>>, what: &str, values: [&str; 2], errs: &mut Vec<Diagnostic>) -> bool {
    let Some(v) = value else { return false };
    match v.as_str() {
        s if s == values[0] => false,
        s if s == values[1] => true,
        other => {
            errs.push(
                Diagnostic::new(format!("unknown `{what}` value `{other}`"), v.at)
                    .with_help(suggest::help(other, &values)),
            );
            false
        },
    }
}

/// A name a pipeline gives to output rows or columns (metrics, attributes): a lowercase letter, then
/// lowercase letters, digits and `_`.
pub(super) fn is_snake_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A source's `attributes:`: names that are not canonical columns, and known types.
fn attributes_of(
    source: &str,
    table: Table,
    specs: IndexMap<Located<String>, Located<crate::spec::AttributeSpec>>,
    errs: &mut Vec<Diagnostic>,
) -> Vec<super::Attribute> {
    let mut out = Vec::new();
    for (name, spec) in specs {
        if !is_snake_name(&name) {
            errs.push(Diagnostic::new(
                format!("source `{source}`: attribute `{}` must use lowercase letters, digits and `_`", name.value),
                name.at,
            ));
            continue;
        }
        if table.column(&name).is_some() || model::dimensions_of(table).contains(&name.as_str()) {
            errs.push(
                Diagnostic::new(
                    format!("source `{source}`: attribute `{}` is a canonical column of the {table} table", name.value),
                    name.at,
                )
                .with_help("map it under `columns:` instead, or give the attribute another name"),
            );
            continue;
        }
        let ty = match &spec.ty {
            None => None,
            Some(t) => match super::AttributeType::from_name(t) {
                Some(ty) => Some(ty),
                None => {
                    errs.push(
                        Diagnostic::new(format!("unknown attribute type `{}`", t.value), t.at)
                            .with_help(suggest::help(t, &super::AttributeType::NAMES)),
                    );
                    None
                },
            },
        };
        let at = if spec.column.at.is_known() { spec.column.at } else { spec.at };
        out.push(super::Attribute { name: name.value, column: spec.value.column.value.clone(), ty, at });
    }
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

fn single_byte(value: &Option<Located<String>>, default: u8, what: &str, errs: &mut Vec<Diagnostic>) -> u8 {
    let Some(v) = value else { return default };
    let s = if v.value == "\\t" { "\t" } else { v.as_str() };
    match s.as_bytes() {
        [b] => *b,
        _ => {
            errs.push(Diagnostic::new(format!("{what} must be one ASCII character, found {:?}", v.value), v.at));
            default
        },
    }
}

fn csv_options(spec: &crate::spec::CsvSpec, errs: &mut Vec<Diagnostic>) -> CsvOptions {
    let encoding = match &spec.encoding {
        None => Encoding::Utf8,
        Some(e) => Encoding::from_name(e.as_str()).unwrap_or_else(|| {
            errs.push(
                Diagnostic::new(format!("unknown encoding `{}`", e.value), e.at)
                    .with_help(format!("expected one of {}", Encoding::NAMES.join(", "))),
            );
            Encoding::Utf8
        }),
    };
    CsvOptions {
        delimiter: single_byte(&spec.delimiter, b',', "`delimiter`", errs),
        quote: single_byte(&spec.quote, b'"', "`quote`", errs),
        null_values: spec.null_values.clone().unwrap_or_else(|| vec![String::new()]),
        decimal_comma: spec.decimal_comma,
        encoding,
    }
}

/// What is wrong with a strftime layout (as the engine reads them), or `None` when it is valid.
fn bad_strftime(format: &str) -> Option<String> {
    use chrono::format::{Item, StrftimeItems};
    let mut unknown = Vec::new();
    let mut fields = 0;
    for item in StrftimeItems::new(format) {
        match item {
            Item::Error => unknown.push(()),
            Item::Numeric(..) | Item::Fixed(_) => fields += 1,
            _ => {},
        }
    }
    if !unknown.is_empty() {
        let directives: Vec<&str> =
            format.match_indices('%').map(|(i, _)| &format[i..(i + 2).min(format.len())]).collect();
        return Some(format!("it has an unknown directive (directives found: {})", directives.join(" ")));
    }
    (fields == 0).then(|| "it has no directive, so it reads no date".to_string())
}

const TRUE_VALUES: &[&str] = &["true", "1", "yes", "y", "oui", "t"];
const FALSE_VALUES: &[&str] = &["false", "0", "no", "n", "non", "f"];

fn column_mapping(
    table: Table,
    column: &'static model::Column,
    mapping: Located<ColumnSpec>,
    errs: &mut Vec<Diagnostic>,
) -> Option<ColumnMapping> {
    let at = mapping.at;
    let mut detail = match mapping.value {
        ColumnSpec::Source(name) => {
            return Some(ColumnMapping {
                canonical: column,
                value: MappedValue::Column { name, at },
                format: None,
                time_zone: None,
                map: Vec::new(),
                default: None,
                true_values: TRUE_VALUES.iter().map(|s| s.to_string()).collect(),
                false_values: FALSE_VALUES.iter().map(|s| s.to_string()).collect(),
                duration: DurationText::Seconds,
                integer: false,
                after: None,
                at,
            })
        },
        ColumnSpec::Detailed(d) => *d,
    };
    let value = check_mapped_value(column, &mut detail, at, errs)?;
    let after = check_after(table, column, detail.after.as_ref(), errs);
    let duration = check_duration(column, detail.duration.as_ref(), after.is_some(), errs);
    check_reading_options(column, &detail, at, errs);
    let lower = |v: Option<Vec<String>>, d: &[&str]| -> Vec<String> {
        v.map(|v| v.into_iter().map(|s| s.to_lowercase()).collect())
            .unwrap_or_else(|| d.iter().map(|s| s.to_string()).collect())
    };
    Some(ColumnMapping {
        canonical: column,
        value,
        format: detail.format.map(|f| f.value),
        time_zone: detail.time_zone.map(|t| t.value),
        map: detail.map.map(|m| m.value.into_iter().collect()).unwrap_or_default(),
        default: detail.default.map(|d| d.value),
        true_values: lower(detail.true_values, TRUE_VALUES),
        false_values: lower(detail.false_values, FALSE_VALUES),
        duration,
        integer: detail.integer,
        after,
        at,
    })
}

/// Where a column's value comes from: one of `column`, `constant`, `expr`, or `date` with `time`.
fn check_mapped_value(
    column: &'static model::Column,
    detail: &mut crate::spec::ColumnDetail,
    at: Location,
    errs: &mut Vec<Diagnostic>,
) -> Option<MappedValue> {
    match (detail.column.take(), detail.constant.take(), detail.expr.take(), detail.date.take(), detail.time.take()) {
        (Some(c), None, None, None, None) => Some(MappedValue::Column { name: c.value, at: c.at }),
        (None, Some(v), None, None, None) => Some(MappedValue::Constant(v.value)),
        (None, None, Some(e), None, None) => Some(MappedValue::Expr(Sql { text: e.value, at: e.at })),
        (None, None, None, Some(date), Some(time)) if column.ty == ColumnType::Timestamp => {
            Some(MappedValue::DateTime { date: date.value, time: time.value, at: date.at })
        },
        (None, None, None, Some(d), Some(_)) => {
            errs.push(Diagnostic::new(
                format!("`date` and `time` build a timestamp, and `{}` is {}", column.name, column.ty.name()),
                d.at,
            ));
            None
        },
        (None, None, None, Some(d), None) => {
            errs.push(
                Diagnostic::new(format!("`{}`: `date` needs `time`, the time-of-day column", column.name), d.at)
                    .with_help("e.g. { date: \"Date received\", time: ser_start }; a date alone is `column:`"),
            );
            None
        },
        _ => {
            errs.push(Diagnostic::new(
                format!("`{}`: give exactly one of `column`, `constant`, `expr` or `date` with `time`", column.name),
                at,
            ));
            None
        },
    }
}

/// `after:` counts a timestamp from an earlier timestamp of the table.
fn check_after(
    table: Table,
    column: &'static model::Column,
    after: Option<&Located<String>>,
    errs: &mut Vec<Diagnostic>,
) -> Option<&'static str> {
    after.and_then(|a| {
        let earlier = table.columns().iter().take_while(|c| c.name != column.name);
        let found = earlier.filter(|c| c.ty == ColumnType::Timestamp).find(|c| c.name == a.as_str());
        if column.ty != ColumnType::Timestamp {
            errs.push(Diagnostic::new(format!("`after` builds a timestamp, and `{}` is not one", column.name), a.at));
            return None;
        }
        if found.is_none() {
            let names: Vec<&str> = table
                .columns()
                .iter()
                .take_while(|c| c.name != column.name)
                .filter(|c| c.ty == ColumnType::Timestamp)
                .map(|c| c.name)
                .collect();
            errs.push(
                Diagnostic::new(
                    format!(
                        "`after: {}`: {} is counted from an earlier timestamp of the {table} table",
                        a.value, column.name
                    ),
                    a.at,
                )
                .with_help(format!("one of: {}", names.join(", "))),
            );
        }
        found.map(|c| c.name)
    })
}

/// `duration:`, the layout of a number of seconds written as text, for numbers and `after` timestamps.
fn check_duration(
    column: &'static model::Column,
    duration: Option<&Located<String>>,
    after: bool,
    errs: &mut Vec<Diagnostic>,
) -> DurationText {
    match duration {
        None => DurationText::Seconds,
        Some(d) if !matches!(column.ty, ColumnType::Float | ColumnType::Integer) && !after => {
            errs.push(Diagnostic::new(
                format!("`duration` applies to numbers of seconds, and `{}` is {}", column.name, column.ty.name()),
                d.at,
            ));
            DurationText::Seconds
        },
        Some(d) => DurationText::from_name(d.as_str()).unwrap_or_else(|| {
            errs.push(
                Diagnostic::new(format!("unknown duration layout `{}`", d.value), d.at)
                    .with_help(suggest::help(d, &DurationText::NAMES)),
            );
            DurationText::Seconds
        }),
    }
}

/// The options that say how a value is read apply to its column's type: `integer`, `format`,
/// `time_zone`, `true_values`/`false_values`.
fn check_reading_options(
    column: &'static model::Column,
    detail: &crate::spec::ColumnDetail,
    at: Location,
    errs: &mut Vec<Diagnostic>,
) {
    let temporal = matches!(column.ty, ColumnType::Timestamp | ColumnType::Date);
    if detail.integer && !matches!(column.ty, ColumnType::Text | ColumnType::Integer) {
        errs.push(Diagnostic::new(
            format!("`integer` reads ids and counts written as floats, and `{}` is {}", column.name, column.ty.name()),
            at,
        ));
    }
    if let Some(f) = &detail.format {
        if !temporal {
            errs.push(Diagnostic::new(
                format!("`format` applies to timestamps and dates, and `{}` is {}", column.name, column.ty.name()),
                f.at,
            ));
        } else if let Some(bad) = bad_strftime(f) {
            errs.push(
                Diagnostic::new(format!("`format: {:?}` is not a valid layout: {bad}", f.value), f.at).with_help(
                    "strftime directives: %Y year, %m month, %d day, %H hour, %M minute, %S second, %z offset, \
                     %.f fraction; e.g. \"%d/%m/%Y %H:%M\"",
                ),
            );
        }
    }
    if let Some(tz) = &detail.time_zone {
        if column.ty != ColumnType::Timestamp {
            errs.push(Diagnostic::new(
                format!("`time_zone` applies to timestamps, and `{}` is not one", column.name),
                tz.at,
            ));
        } else if jiff::tz::TimeZone::get(tz).is_err() {
            errs.push(
                Diagnostic::new(format!("unknown time zone `{}`", tz.value), tz.at)
                    .with_help("use an IANA name such as Europe/Paris or UTC"),
            );
        }
    }
    if column.ty != ColumnType::Boolean && (detail.true_values.is_some() || detail.false_values.is_some()) {
        errs.push(Diagnostic::new(
            format!("`true_values`/`false_values` apply to booleans, and `{}` is not one", column.name),
            at,
        ));
    }
}

fn definitions_of(spec: crate::spec::DefinitionsSpec, errs: &mut Vec<Diagnostic>) -> Definitions {
    let mut d = Definitions::default();
    if let Some(r) = spec.resolved_when {
        d.resolved_statuses = r.statuses.unwrap_or_default();
        d.abandoned_can_resolve = r.abandoned.unwrap_or(false);
    }
    if let Some(f) = spec.fcr {
        if let Some(m) = f.max_agent_replies {
            if m.value < 0 {
                errs.push(Diagnostic::new("`max_agent_replies` must be 0 or more", m.at));
            }
            d.fcr_max_agent_replies = m.value;
        }
        d.fcr_reopened_counts = f.reopened_counts_as_fcr.unwrap_or(false);
    }
    if let Some(c) = spec.csat {
        d.csat_scale = scale(&c.scale, d.csat_scale, errs);
        if let Some(m) = c.satisfied_min {
            d.csat_satisfied_min = within(&m, d.csat_scale, "satisfied_min", errs);
        }
        if let Some(e) = c.easy_min {
            errs.push(Diagnostic::new("`easy_min` is a CES option; CSAT takes `satisfied_min`", e.at));
        }
    }
    if let Some(c) = spec.ces {
        d.ces_scale = scale(&c.scale, d.ces_scale, errs);
        if let Some(m) = c.easy_min {
            d.ces_easy_min = within(&m, d.ces_scale, "easy_min", errs);
        }
        if let Some(s) = c.satisfied_min {
            errs.push(Diagnostic::new("`satisfied_min` is a CSAT option; CES takes `easy_min`", s.at));
        }
    }
    if let Some(q) = spec.queue_channels {
        d.queue_channels = q;
    }
    if let Some(years) = spec.clv.and_then(|c| c.relationship_years) {
        if years.value <= 0.0 {
            errs.push(Diagnostic::new("`relationship_years` must be more than 0", years.at));
        }
        d.clv_relationship_years = Some(years.value);
    }
    if let Some(roles) = spec.messages.and_then(|m| m.agent_roles) {
        for r in &roles {
            if r.value == "bot" || r.value == "system" {
                errs.push(Diagnostic::new(format!("`{}` messages never count as a response", r.value), r.at));
            }
        }
        d.agent_roles = roles.into_iter().map(|r| r.value).collect();
    }
    if let Some(period) = spec.surveys.and_then(|s| s.period) {
        d.survey_period = match period.as_str() {
            "submitted" => catalog::SurveyPeriod::Submitted,
            "ticket_created" => catalog::SurveyPeriod::TicketCreated,
            other => {
                errs.push(
                    Diagnostic::new(format!("unknown survey period `{other}`"), period.at)
                        .with_help(suggest::help(other, &["submitted", "ticket_created"])),
                );
                catalog::SurveyPeriod::Submitted
            },
        };
    }
    if let Some(statuses) = spec.history.and_then(|h| h.statuses) {
        const ZENDESK: [&str; 6] = ["new", "open", "pending", "hold", "solved", "closed"];
        for (from, to) in statuses.value {
            if !ZENDESK.contains(&to.as_str()) {
                errs.push(
                    Diagnostic::new(
                        format!("history status `{from}` maps to `{to}`, which is not a status the measures know"),
                        statuses.at,
                    )
                    .with_help(format!("map it to one of {}", ZENDESK.join(", "))),
                );
            }
            d.history_statuses.push((from, to));
        }
    }
    d
}

fn plausible_of(spec: Option<&crate::spec::PlausibleSpec>, errs: &mut Vec<Diagnostic>) -> Window {
    let Some(spec) = spec else { return Window::default() };
    let window = Window {
        from: spec.from.as_ref().and_then(|d| date(d, errs)),
        to: spec.to.as_ref().and_then(|d| date(d, errs)),
    };
    if let (Some(from), Some(to)) = (window.from, window.to) {
        if from >= to {
            let at = spec.from.as_ref().map(|d| d.at).unwrap_or_default();
            errs.push(Diagnostic::new("`plausible.from` must come before `plausible.to`", at));
        }
    }
    window
}

fn scale(spec: &Option<Located<Vec<f64>>>, default: (f64, f64), errs: &mut Vec<Diagnostic>) -> (f64, f64) {
    match spec {
        None => default,
        Some(s) => match s.as_slice() {
            [lo, hi] if lo < hi => (*lo, *hi),
            _ => {
                errs.push(Diagnostic::new("`scale` must be [lowest, highest] with lowest < highest", s.at));
                default
            },
        },
    }
}

fn within(v: &Located<f64>, scale: (f64, f64), what: &str, errs: &mut Vec<Diagnostic>) -> f64 {
    if v.value < scale.0 || v.value > scale.1 {
        errs.push(Diagnostic::new(
            format!("`{what}` {} lies outside the scale {}–{}", v.value, scale.0, scale.1),
            v.at,
        ));
    }
    v.value
}

fn date(d: &Located<String>, errs: &mut Vec<Diagnostic>) -> Option<jiff::civil::Date> {
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

/// Can `dimension` be filled for rows of `table` by what the sources map?
/// `dimension_available` for every table the KPI reads rows of (a ratio's two sides).
fn dimension_available_to(plan: &Plan, kpi: &crate::catalog::KpiDefinition, dimension: &str) -> Result<(), String> {
    kpi.tables().into_iter().try_for_each(|t| dimension_available(plan, t, dimension))
}

pub(crate) fn dimension_available(plan: &Plan, table: Table, dimension: &str) -> Result<(), String> {
    if table == Table::Spend {
        return match dimension {
            "acquisition_channel" if !plan.has_column(Table::Spend, "channel") => {
                Err("spend is split by `spend.channel`, which no source maps".into())
            },
            "acquisition_channel" if !plan.has_column(Table::Accounts, "acquisition_channel") => {
                Err("acquired accounts are split by `accounts.acquisition_channel`, which no source maps".into())
            },
            "acquisition_channel" => Ok(()),
            _ => Err(format!("`{dimension}` is not a dimension of spend (only acquisition_channel)")),
        };
    }
    if table.column(dimension).is_some_and(|c| c.dimension) && plan.has_column(table, dimension) {
        return Ok(());
    }
    if plan.has_attribute(table, dimension) {
        return Ok(());
    }
    if Table::ALL.iter().any(|t| plan.has_attribute(*t, dimension)) {
        return Err(format!("`{dimension}` is an attribute of other tables' sources, not of {table}"));
    }
    let via_ticket = table.inherits_ticket() && model::SURVEY_FROM_TICKET.contains(&dimension);
    if via_ticket && plan.has_column(table, "ticket_id") && plan.has_column(Table::Tickets, dimension) {
        return Ok(());
    }
    if model::FROM_ACCOUNT.contains(&dimension) && table != Table::Accounts {
        let has_account = plan.has_column(table, "account_id")
            || (table.inherits_ticket()
                && plan.has_column(table, "ticket_id")
                && plan.has_column(Table::Tickets, "account_id"));
        if !plan.has_column(Table::Accounts, dimension) {
            return Err(format!("`{dimension}` comes from accounts.{dimension}, which no source maps"));
        }
        if !has_account {
            return Err(format!("{table} have no `account_id` to reach accounts.{dimension}"));
        }
        return Ok(());
    }
    if table == Table::Accounts && plan.has_column(table, dimension) {
        return Ok(());
    }
    if model::dimensions_of(table).contains(&dimension) {
        Err(format!("no source maps `{dimension}` for {table}"))
    } else {
        Err(format!("`{dimension}` is not a dimension of {table}"))
    }
}

fn grain_or(spec: Option<Located<String>>, default: Grain, errs: &mut Vec<Diagnostic>) -> Option<Grain> {
    match spec {
        None => Some(default),
        Some(g) => Grain::from_name(&g).or_else(|| {
            errs.push(
                Diagnostic::new(format!("unknown grain `{}`", g.value), g.at)
                    .with_help(suggest::help(&g, &Grain::NAMES)),
            );
            None
        }),
    }
}

/// `https://…/{ticket_id}` → its literal parts and ticket columns.
fn link_template(text: Located<String>, errs: &mut Vec<Diagnostic>) -> Option<LinkTemplate> {
    let columns: Vec<&str> = Table::Tickets.columns().iter().map(|c| c.name).collect();
    let mut parts = Vec::new();
    let mut rest = text.as_str();
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| open + c) else {
            errs.push(Diagnostic::new("the link template has a `{` without its `}`", text.at));
            return None;
        };
        if open > 0 {
            parts.push(LinkPart::Text(rest[..open].to_string()));
        }
        let name = &rest[open + 1..close];
        match Table::Tickets.column(name) {
            Some(c) => parts.push(LinkPart::Column(c.name)),
            None => {
                errs.push(
                    Diagnostic::new(format!("`{{{name}}}` in the link template is not a ticket column"), text.at)
                        .with_help(suggest::help(name, &columns)),
                );
                return None;
            },
        }
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        parts.push(LinkPart::Text(rest.to_string()));
    }
    Some(parts)
}

/// The report's file name: a relative path inside the output directory, ending in `.html`.
fn report_of(name: Located<String>, errs: &mut Vec<Diagnostic>) -> Option<PathBuf> {
    let path = PathBuf::from(&name.value);
    let inside = path.is_relative() && path.components().all(|c| matches!(c, std::path::Component::Normal(_)));
    if !inside || path.extension().is_none_or(|e| e != "html") {
        let message = format!("`report` is an .html file name inside the output directory, not `{}`", name.value);
        errs.push(Diagnostic::new(message, name.at).with_help("e.g. report: report.html"));
        return None;
    }
    Some(path)
}

fn review_sample_of(
    plan: &Plan,
    spec: Located<crate::spec::ReviewSampleSpec>,
    errs: &mut Vec<Diagnostic>,
) -> Option<ReviewSample> {
    let at = spec.at;
    let spec = spec.value;
    if plan.sources_of(Table::Tickets).next().is_none() {
        errs.push(Diagnostic::new("`review_sample` draws tickets, but no source feeds the tickets table", at));
        return None;
    }
    let mut per = Vec::new();
    let names = spec.per.unwrap_or_else(|| vec![Located::new("agent_id".to_string(), at)]);
    let ticket_dims = model::dimensions_of(Table::Tickets);
    for d in names {
        match ticket_dims.iter().find(|x| **x == d.as_str()) {
            Some(dim) => match dimension_available(plan, Table::Tickets, dim) {
                Ok(()) => per.push(*dim),
                Err(why) => {
                    errs.push(Diagnostic::new(format!("review_sample cannot stratify by `{dim}`: {why}"), d.at))
                },
            },
            None => errs.push(
                Diagnostic::new(format!("`{}` is not a ticket dimension", d.value), d.at)
                    .with_help(suggest::help(&d, &ticket_dims)),
            ),
        }
    }
    if spec.size.value == 0 {
        errs.push(Diagnostic::new("`size` must be at least 1", spec.size.at));
    }
    let resolved_only = match spec.from.as_ref().map(|f| f.as_str()) {
        None | Some("resolved") => true,
        Some("created") => false,
        Some(other) => {
            let f = spec.from.as_ref().expect("matched Some");
            errs.push(
                Diagnostic::new(format!("unknown `from` value `{other}`"), f.at)
                    .with_help(suggest::help(other, &["resolved", "created"])),
            );
            true
        },
    };
    let link = spec.link.and_then(|l| link_template(l, errs));
    Some(ReviewSample {
        per,
        size: spec.size.value,
        grain: grain_or(spec.grain, Grain::Week, errs)?,
        resolved_only,
        link,
        seed: spec.seed.unwrap_or(0),
    })
}

fn follow_up_of(plan: &Plan, spec: Located<crate::spec::FollowUpSpec>, errs: &mut Vec<Diagnostic>) -> Option<FollowUp> {
    if plan.sources_of(Table::Surveys).next().is_none() {
        errs.push(Diagnostic::new("`follow_up` lists survey answers, but no source feeds the surveys table", spec.at));
        return None;
    }
    let spec = spec.value;
    let link = spec.link.and_then(|l| link_template(l, errs));
    Some(FollowUp { grain: grain_or(spec.grain, Grain::Week, errs)?, link })
}

/// A KPI per ticket (self_service_ratio) splits only by dimensions tickets have too.
fn per_ticket_dimension(plan: &Plan, kpi: &crate::catalog::KpiDefinition, dimension: &str) -> Result<(), String> {
    let per_ticket = kpi.stats.iter().any(|s| matches!(s.aggregate, crate::catalog::Aggregate::PerTicket(_)));
    if !per_ticket {
        return Ok(());
    }
    dimension_available(plan, Table::Tickets, dimension)
        .map_err(|why| format!("it divides by tickets, and for tickets {why}"))
}

/// Why `kpi` cannot be computed at `grain`, if it cannot.
fn grain_unavailable(kpi: &crate::catalog::KpiDefinition, grain: Grain) -> Option<String> {
    let monthly = kpi.table == Table::Spend;
    (monthly && matches!(grain, Grain::Day | Grain::Week))
        .then(|| format!("KPI `{}` is over monthly spend: use grain month, quarter, year or all", kpi.name))
}

fn splits_own_mix(kpi: &crate::catalog::KpiDefinition, dimensions: &[&str]) -> bool {
    kpi.stats.iter().any(|s| matches!(s.aggregate, crate::catalog::Aggregate::Mix { of } if dimensions.contains(&of)))
}

fn segment(
    plan: &Plan,
    name: Located<String>,
    spec: Located<crate::spec::SegmentSpec>,
    errs: &mut Vec<Diagnostic>,
) -> Option<Segment> {
    let spec_at = spec.at;
    let spec = spec.value;
    let before = errs.len();
    let grain = Grain::from_name(&spec.grain).or_else(|| {
        errs.push(
            Diagnostic::new(format!("unknown grain `{}`", spec.grain.value), spec.grain.at)
                .with_help(suggest::help(&spec.grain, &Grain::NAMES)),
        );
        None
    });
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') || name.is_empty() {
        errs.push(Diagnostic::new(
            format!("segment name `{}` must use letters, digits, `_` or `-` (it names output files)", name.value),
            name.at,
        ));
    }
    let mut all_dims = model::all_dimensions();
    // Attributes split the segments of their own table's KPIs.
    for table in Table::ALL {
        all_dims.extend(plan.attributes(table).into_iter().map(|(a, _)| super::interned(a)));
    }
    all_dims.dedup();
    let mut dimensions = Vec::new();
    for d in &spec.by {
        match all_dims.iter().find(|x| **x == d.as_str()) {
            Some(dim) if dimensions.contains(dim) => {
                errs.push(Diagnostic::new(format!("dimension `{dim}` is listed twice"), d.at))
            },
            Some(dim) => dimensions.push(*dim),
            None => errs.push(
                Diagnostic::new(format!("unknown dimension `{}`", d.value), d.at)
                    .with_help(suggest::help(d, &all_dims)),
            ),
        }
    }
    let mut kpis = Vec::new();
    let mut left_out = Vec::new();
    let mut unsplittable = Unsplittable::default();
    match &spec.kpis {
        Some(list) => {
            for k in list {
                let Some(i) = plan.kpis.iter().position(|x| x.name == k.as_str()) else {
                    let declared: Vec<&str> = plan.kpis.iter().map(|x| x.name.as_str()).collect();
                    errs.push(
                        Diagnostic::new(
                            format!("segment `{}` names KPI `{}`, which `kpis:` does not declare", name.value, k.value),
                            k.at,
                        )
                        .with_help(suggest::help(k, &declared)),
                    );
                    continue;
                };
                if splits_own_mix(&plan.kpis[i], &dimensions) {
                    errs.push(Diagnostic::new(
                        format!("segment `{}`: `{}` cannot be split by the column it measures", name.value, k.value),
                        k.at,
                    ));
                }
                if let Some(why) = grain.and_then(|g| grain_unavailable(&plan.kpis[i], g)) {
                    errs.push(Diagnostic::new(format!("segment `{}`: {why}", name.value), spec.grain.at));
                }
                for d in &dimensions {
                    if let Err(why) = dimension_available_to(plan, &plan.kpis[i], d)
                        .and_then(|_| per_ticket_dimension(plan, &plan.kpis[i], d))
                    {
                        unsplittable.add(format!("cannot be split by `{d}`: {why}"), &plan.kpis[i].name, k.at);
                    }
                }
                kpis.push(i);
            }
            if list.is_empty() {
                errs.push(
                    Diagnostic::new(format!("segment `{}` lists no KPI", name.value), spec_at)
                        .with_help("name some of the declared KPIs, or leave `kpis` out for all that fit"),
                );
            }
        },
        None => {
            for (i, k) in plan.kpis.iter().enumerate() {
                let problems: Vec<String> =
                    dimensions.iter().filter_map(|d| dimension_available_to(plan, k, d).err()).collect();
                let foreign_to_tickets = dimensions.iter().find_map(|d| per_ticket_dimension(plan, k, d).err());
                let too_fine = grain.and_then(|g| grain_unavailable(k, g));
                // A dimension foreign to the KPI's table (e.g. channel for account KPIs): the KPI does not apply.
                let of_table = |d: &&str| model::dimensions_of(k.table).contains(d) || plan.has_attribute(k.table, d);
                let foreign = !dimensions.is_empty() && !dimensions.iter().any(of_table);
                if splits_own_mix(k, &dimensions) {
                    // channel_mix by channel would be 100 % everywhere: leave it out.
                } else if let Some(why) = too_fine.or(foreign_to_tickets) {
                    // Monthly spend cannot be cut by week: CAC and CLV are left out of finer segments.
                    if !foreign {
                        left_out.push((k.name.clone(), why));
                    }
                } else if problems.is_empty() {
                    kpis.push(i);
                } else if !foreign {
                    unsplittable.add(format!("cannot be split this way: {}", problems.join("; ")), &k.name, spec_at);
                }
            }
            if kpis.is_empty() && errs.len() == before && unsplittable.reasons.is_empty() && !plan.kpis.is_empty() {
                errs.push(Diagnostic::new(
                    format!("segment `{}`: no declared KPI can be split by these dimensions", name.value),
                    spec_at,
                ));
            }
        },
    }
    errs.extend(unsplittable.diagnostics(&name));
    Some(Segment { name: name.value, dimensions, grain: grain?, kpis, left_out })
}

/// KPIs of a segment that cannot be split as asked, grouped by reason: one wrong dimension is one
/// diagnostic naming every KPI it affects, not one per KPI.
#[derive(Default)]
struct Unsplittable {
    reasons: Vec<(String, Location, Vec<String>)>,
}

impl Unsplittable {
    fn add(&mut self, why: String, kpi: &str, at: Location) {
        match self.reasons.iter_mut().find(|(w, _, _)| *w == why) {
            Some((_, _, kpis)) => kpis.push(kpi.to_string()),
            None => self.reasons.push((why, at, vec![kpi.to_string()])),
        }
    }

    fn diagnostics(self, segment: &str) -> impl Iterator<Item = Diagnostic> + '_ {
        self.reasons.into_iter().map(move |(why, at, kpis)| {
            let which = match &kpis[..] {
                [one] => format!("KPI `{one}`"),
                many => format!("KPIs {}", many.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")),
            };
            Diagnostic::new(format!("segment `{segment}`: {which} {why}"), at)
        })
    }
}
