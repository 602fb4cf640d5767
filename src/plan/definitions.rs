//! `definitions:` → the plan's definition choices (what counts as resolved, FCR, survey scales, the
//! plausible range…), each checked against its allowed values. Part of `build`.

use super::build::date;
use super::*;
use crate::catalog;
use crate::spec::Located;
use crate::suggest;

pub(super) fn definitions_of(spec: crate::spec::DefinitionsSpec, errs: &mut Vec<Diagnostic>) -> Definitions {
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
    let (statuses, schedule) = match spec.history {
        Some(h) => (h.statuses, h.schedule),
        None => (None, None),
    };
    if let Some(rule) = schedule {
        d.schedule_rule = match rule.as_str() {
            "at_completion" => catalog::ScheduleRule::AtCompletion,
            "per_schedule" => catalog::ScheduleRule::PerSchedule,
            other => {
                errs.push(
                    Diagnostic::new(format!("unknown schedule rule `{other}`"), rule.at)
                        .with_help(suggest::help(other, &["at_completion", "per_schedule"])),
                );
                catalog::ScheduleRule::AtCompletion
            },
        };
    }
    if let Some(statuses) = statuses {
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

pub(super) fn plausible_of(spec: Option<&crate::spec::PlausibleSpec>, errs: &mut Vec<Diagnostic>) -> Window {
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
