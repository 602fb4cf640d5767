//! Segments and the tables for people → validated: each segment's dimensions (available to every KPI it
//! computes, or the KPI left out with the reason), grain and KPIs; the review sample, the follow-up list and
//! the report. Part of `build`; every problem is collected.

use std::path::PathBuf;

use super::*;
use crate::model;
use crate::spec::Located;
use crate::suggest;

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
pub(super) fn report_of(name: Located<String>, errs: &mut Vec<Diagnostic>) -> Option<PathBuf> {
    let path = PathBuf::from(&name.value);
    let inside = path.is_relative() && path.components().all(|c| matches!(c, std::path::Component::Normal(_)));
    if !inside || path.extension().is_none_or(|e| e != "html") {
        let message = format!("`report` is an .html file name inside the output directory, not `{}`", name.value);
        errs.push(Diagnostic::new(message, name.at).with_help("e.g. report: report.html"));
        return None;
    }
    Some(path)
}

pub(super) fn review_sample_of(
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

pub(super) fn follow_up_of(
    plan: &Plan,
    spec: Located<crate::spec::FollowUpSpec>,
    errs: &mut Vec<Diagnostic>,
) -> Option<FollowUp> {
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

pub(super) fn segment(
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
    credited(&spec, &mut dimensions, errs);
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
    let compare = super::watch::comparisons_of(spec.compare.as_ref(), errs);
    let fill_zero = super::watch::fills_zero(spec.fill.as_ref(), errs);
    Some(Segment { name: name.value, dimensions, grain: grain?, kpis, left_out, compare, fill_zero })
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

/// The agent rules a segment may credit tickets by, and the ticket column each reads.
const CREDITS: [(&str, &str); 3] =
    [("ticket_agent", "agent_id"), ("first_responder", "responder"), ("solver", "solver")];

/// A segment's `credit:` applied: `agent_id` among its dimensions becomes the column of the chosen rule.
fn credited(spec: &crate::spec::SegmentSpec, dimensions: &mut [&'static str], errs: &mut Vec<Diagnostic>) {
    let Some(credit) = &spec.credit else { return };
    let names: Vec<&str> = CREDITS.iter().map(|(n, _)| *n).collect();
    let Some((_, column)) = CREDITS.iter().find(|(n, _)| *n == credit.as_str()) else {
        let help = match credit.as_str() {
            "time_weighted" => "time-weighted credit is not built: `outputs.replies` gives each reply's author to \
                                weigh in a notebook; rules: ticket_agent, first_responder, solver"
                .to_string(),
            _ => suggest::help(credit, &names),
        };
        errs.push(Diagnostic::new(format!("unknown credit rule `{}`", credit.value), credit.at).with_help(help));
        return;
    };
    if *column != "agent_id" && dimensions.contains(column) {
        errs.push(Diagnostic::new(
            format!("`credit: {}` splits by `{column}`, which `by` lists already", credit.value),
            credit.at,
        ));
        return;
    }
    match dimensions.iter_mut().find(|d| **d == "agent_id") {
        Some(d) => *d = column,
        None => errs.push(
            Diagnostic::new("`credit` chooses the agent of a segment by `agent_id`, and this one has none", credit.at)
                .with_help("add `agent_id` to `by`"),
        ),
    }
}
