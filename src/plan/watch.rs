//! Planning what a run watches in its KPIs: each KPI's target (in its unit), the comparisons a segment adds
//! (previous period, a year ago) and the KPIs alerts watch. No engine here.

use crate::catalog::{Direction, KpiDefinition};
use crate::spec::{AlertsSpec, KpiEntry, Located, TargetSpec};
use crate::suggest;

use super::{parse_duration, Diagnostic, Plan};

/// A KPI's target: the figure its stats in the KPI's own unit should reach, and which way is better.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub kpi: String,
    pub value: f64,
    pub direction: Direction,
    /// From this period start on (a dated target), else always.
    pub from: Option<jiff::civil::Date>,
    /// For rows with these dimension values only.
    pub when: Vec<(String, String)>,
}

/// An earlier period a segment's rows are compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    Previous,
    YearAgo,
}

impl Comparison {
    pub const NAMES: [&'static str; 2] = ["previous", "year_ago"];

    /// The prefix of its columns: `previous_value`, `change`, `change_pct`; `year_ago_value`, ….
    pub fn value_column(self) -> &'static str {
        match self {
            Comparison::Previous => "previous_value",
            Comparison::YearAgo => "year_ago_value",
        }
    }

    pub fn change_columns(self) -> (&'static str, &'static str) {
        match self {
            Comparison::Previous => ("change", "change_pct"),
            Comparison::YearAgo => ("year_ago_change", "year_ago_change_pct"),
        }
    }
}

/// A KPI entry's `target` and `targets`, checked: numbers, or durations for KPIs measured in seconds; the
/// later entries win where they apply.
pub(super) fn targets_of(entry: &KpiEntry, def: &KpiDefinition, errs: &mut Vec<Diagnostic>) -> Vec<Target> {
    let mut out = Vec::new();
    let seconds = def.stats.first().is_some_and(|s| s.unit == crate::catalog::Unit::Seconds);
    let figure = |spec: &TargetSpec, at, errs: &mut Vec<Diagnostic>| -> Option<f64> {
        let value = match spec {
            TargetSpec::Number(n) => Some(*n),
            TargetSpec::Text(t) if seconds => parse_duration(t),
            TargetSpec::Text(t) => t.trim().trim_end_matches('%').trim().parse().ok(),
        };
        let value = value.filter(|v: &f64| v.is_finite());
        if value.is_none() {
            let help =
                if seconds { "a duration such as 30m, 4h or 1d, or seconds" } else { "a number in the KPI's unit" };
            errs.push(
                Diagnostic::new(format!("KPI `{}`: target {spec:?} is not a figure", def.name), at).with_help(help),
            );
        }
        value
    };
    let any = entry.target.as_ref().map(|t| t.at).or(entry.targets.as_ref().map(|t| t.at));
    let Some(at) = any else { return out };
    if def.direction == Direction::Neutral {
        errs.push(
            Diagnostic::new(format!("KPI `{}` has no better direction, so a target cannot be met", def.name), at)
                .with_help("targets fit KPIs where higher or lower is better (`deskpulse kpis`)"),
        );
        return out;
    }
    let target = |value, from, when| Target { kpi: def.name.clone(), value, direction: def.direction, from, when };
    if let Some(t) = &entry.target {
        out.extend(figure(&t.value, t.at, errs).map(|v| target(v, None, Vec::new())));
    }
    if let Some(rules) = &entry.targets {
        let dims = crate::model::all_dimensions();
        for r in &rules.value {
            let from = match &r.from {
                None => None,
                Some(d) => match d.parse::<jiff::civil::Date>() {
                    Ok(d) => Some(d),
                    Err(_) => {
                        errs.push(
                            Diagnostic::new(format!("`{d}` is not a date"), rules.at)
                                .with_help("write it as YYYY-MM-DD"),
                        );
                        continue;
                    },
                },
            };
            let mut when = Vec::new();
            for (dim, value) in &r.when {
                if !dims.contains(&dim.as_str()) {
                    errs.push(
                        Diagnostic::new(format!("a target's `when` names `{dim}`, which is not a dimension"), rules.at)
                            .with_help(suggest::help(dim, &dims)),
                    );
                }
                when.push((dim.clone(), value.clone()));
            }
            out.extend(figure(&r.target, rules.at, errs).map(|v| target(v, from, when)));
        }
    }
    out
}

/// A segment's `fill:`: `zero` writes zero rows for count KPIs.
pub(super) fn fills_zero(spec: Option<&Located<String>>, errs: &mut Vec<Diagnostic>) -> bool {
    match spec.map(|f| (f.as_str(), f.at)) {
        None => false,
        Some(("zero", _)) => true,
        Some((other, at)) => {
            errs.push(Diagnostic::new(format!("unknown fill `{other}`"), at).with_help("the one fill is `zero`"));
            false
        },
    }
}

/// A segment's `compare:` list.
pub(super) fn comparisons_of(spec: Option<&Located<Vec<String>>>, errs: &mut Vec<Diagnostic>) -> Vec<Comparison> {
    let Some(list) = spec else { return Vec::new() };
    let mut out = Vec::new();
    for name in &list.value {
        let found = match name.as_str() {
            "previous" => Some(Comparison::Previous),
            "year_ago" => Some(Comparison::YearAgo),
            _ => None,
        };
        match found {
            Some(c) if !out.contains(&c) => out.push(c),
            Some(_) => errs.push(Diagnostic::new(format!("`{name}` is listed twice in `compare`"), list.at)),
            None => errs.push(
                Diagnostic::new(format!("unknown comparison `{name}`"), list.at)
                    .with_help(suggest::help(name, &Comparison::NAMES)),
            ),
        }
    }
    out
}

/// The KPIs `alerts` watches, each one the pipeline declares.
pub(super) fn alerts_of(plan: &Plan, spec: Located<AlertsSpec>, errs: &mut Vec<Diagnostic>) -> Vec<String> {
    let declared: Vec<&str> = plan.kpis.iter().map(|k| k.name.as_str()).collect();
    let mut out = Vec::new();
    for k in &spec.value.kpis {
        if declared.contains(&k.as_str()) {
            out.push(k.value.clone());
        } else {
            errs.push(
                Diagnostic::new(format!("`alerts` watches KPI `{}`, which `kpis:` does not declare", k.value), k.at)
                    .with_help(suggest::help(k, &declared)),
            );
        }
    }
    if out.is_empty() && errs.is_empty() {
        errs.push(
            Diagnostic::new("`alerts` lists no KPI", spec.at).with_help("e.g. alerts: { kpis: [ticket_volume] }"),
        );
    }
    out
}
