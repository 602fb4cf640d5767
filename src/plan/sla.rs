//! Planning the `sla:` section: each SLA metric's rules (channel, priority, group, target, clock) checked and
//! sorted most specific first, and the tables each metric needs. No engine here.

use crate::model::SlaMetric;
use crate::spec::{Located, Location, SlaRuleSpec, SlaSpec};

use super::{parse_duration, Diagnostic};
use crate::suggest;

/// SLA rules per metric, each list most specific first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sla {
    pub first_response: Vec<SlaRule>,
    pub next_reply: Vec<SlaRule>,
    pub periodic_update: Vec<SlaRule>,
    pub pausable_update: Vec<SlaRule>,
    pub requester_wait: Vec<SlaRule>,
    pub agent_work: Vec<SlaRule>,
    pub resolution: Vec<SlaRule>,
    /// Where each declared metric's rules start in the pipeline file.
    pub declared_at: Vec<(SlaMetric, Location)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SlaRule {
    pub channel: Option<String>,
    pub priority: Option<String>,
    /// The ticket's group (the `team` column).
    pub group: Option<String>,
    pub target_seconds: f64,
    /// The target counts business seconds (the ticket's calendar) instead of elapsed seconds.
    pub business: bool,
}

impl SlaRule {
    /// How specific the rule is: a rule naming more of the ticket wins.
    fn specificity(&self) -> usize {
        4 * usize::from(self.channel.is_some())
            + 2 * usize::from(self.priority.is_some())
            + usize::from(self.group.is_some())
    }
}

impl Sla {
    pub fn rules(&self, metric: SlaMetric) -> &[SlaRule] {
        match metric {
            SlaMetric::FirstResponse => &self.first_response,
            SlaMetric::NextReply => &self.next_reply,
            SlaMetric::PeriodicUpdate => &self.periodic_update,
            SlaMetric::PausableUpdate => &self.pausable_update,
            SlaMetric::RequesterWait => &self.requester_wait,
            SlaMetric::AgentWork => &self.agent_work,
            SlaMetric::Resolution => &self.resolution,
        }
    }

    /// The metrics the pipeline gives rules for, in the catalog's order.
    pub fn declared(&self) -> Vec<SlaMetric> {
        SlaMetric::ALL.into_iter().filter(|m| !self.rules(*m).is_empty()).collect()
    }

    /// Whether a run's figures depend on its as-of instant (instances still running are judged then).
    pub fn judges_as_of(&self) -> bool {
        !self.declared().is_empty()
    }

    pub fn any_business(&self) -> bool {
        SlaMetric::ALL.iter().any(|m| self.rules(*m).iter().any(|r| r.business))
    }
}

/// The section's rules, checked: every bad target or clock is reported with its line.
pub(super) fn sla_of(spec: SlaSpec, errs: &mut Vec<Diagnostic>) -> Sla {
    let SlaSpec {
        first_response,
        next_reply,
        periodic_update,
        pausable_update,
        requester_wait,
        agent_work,
        resolution,
    } = spec;
    let mut declared_at = Vec::new();
    let mut rules = |metric: SlaMetric, list: Vec<Located<SlaRuleSpec>>| {
        if let Some(first) = list.first() {
            declared_at.push((metric, first.at));
        }
        sla_rules(list, errs)
    };
    let mut sla = Sla {
        first_response: rules(SlaMetric::FirstResponse, first_response),
        next_reply: rules(SlaMetric::NextReply, next_reply),
        periodic_update: rules(SlaMetric::PeriodicUpdate, periodic_update),
        pausable_update: rules(SlaMetric::PausableUpdate, pausable_update),
        requester_wait: rules(SlaMetric::RequesterWait, requester_wait),
        agent_work: rules(SlaMetric::AgentWork, agent_work),
        resolution: rules(SlaMetric::Resolution, resolution),
        declared_at: Vec::new(),
    };
    sla.declared_at = declared_at;
    sla
}

fn sla_rules(rules: Vec<Located<SlaRuleSpec>>, errs: &mut Vec<Diagnostic>) -> Vec<SlaRule> {
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
                Some(c) if matches!(c.as_str(), "wall" | "calendar") => false,
                Some(c) if c.as_str() == "business" => true,
                Some(c) => {
                    errs.push(
                        Diagnostic::new(format!("unknown clock `{}`", c.value), c.at)
                            .with_help(suggest::help(c, &["calendar", "business"])),
                    );
                    false
                },
            };
            let r = r.value;
            Some(SlaRule { channel: r.channel, priority: r.priority, group: r.group, target_seconds, business })
        })
        .collect();
    // Most specific first; the sort is stable, so declaration order breaks ties.
    out.sort_by_key(|r| std::cmp::Reverse(r.specificity()));
    out
}

/// Each declared metric's tables: comments need a message log, pauses a ticket history (and the replies table a
/// message log).
pub(super) fn check_sla_inputs(plan: &super::Plan, errs: &mut Vec<Diagnostic>) {
    use crate::model::Table;
    let has = |t: Table| plan.sources_of(t).next().is_some();
    for (metric, at) in &plan.sla.declared_at {
        let missing = match () {
            _ if metric.needs_messages() && !has(Table::Messages) => Some(("messages", "comments")),
            _ if metric.needs_history() && !has(Table::TicketEvents) => Some(("ticket_events", "status history")),
            _ => None,
        };
        if let Some((table, what)) = missing {
            errs.push(
                Diagnostic::new(
                    format!("`sla.{}` measures a ticket's {what}: no source feeds the `{table}` table", metric.name()),
                    *at,
                )
                .with_help(format!("add a source with `table: {table}`, or remove `sla.{}`", metric.name())),
            );
        }
    }
    if plan.replies_table && !super::build::fed(plan, Table::Messages) {
        errs.push(
            Diagnostic::new(
                "`outputs.replies` lists agent replies, but no source feeds the messages table",
                super::Location::default(),
            )
            .with_help("add a source with `table: messages`, or remove `outputs.replies`"),
        );
    }
    let grouped = SlaMetric::ALL.iter().any(|m| plan.sla.rules(*m).iter().any(|r| r.group.is_some()));
    if grouped && !plan.has_column(Table::Tickets, "team") {
        let at = plan.sla.declared_at.first().map(|(_, at)| *at).unwrap_or_default();
        errs.push(
            Diagnostic::new("SLA rules with `group` match the tickets' `team` column, which no source maps", at)
                .with_help("map the export's group column to `team`"),
        );
    }
}
