//! What of a plan the cluster computes, and what the client does (`deskpulse validate --engine ballista`).

use crate::catalog::Aggregate;
use crate::model::Table;
use crate::plan::{Grain, Plan};

/// Per KPI, where its work runs: every KPI's group-bys run on the cluster; some need a step on the client
/// after them, beyond the formulas every KPI has (`client_steps`: KPI, segments, what).
#[derive(Debug, Default, PartialEq)]
pub struct Coverage {
    pub on_cluster: Vec<String>,
    pub client_steps: Vec<(String, Vec<String>, &'static str)>,
}

/// What the client computes after the cluster's reductions for a KPI's stat in a segment of `grain`, beyond
/// the formulas every KPI has, if anything.
fn client_side(aggregate: &Aggregate, table: Table, grain: Grain) -> Option<&'static str> {
    match aggregate {
        Aggregate::Quotient { .. } => Some("joins the two tables' totals"),
        Aggregate::Cac | Aggregate::Clv { .. } => Some("joins the spend and accounts totals"),
        Aggregate::OpenAtPeriodEnd if table == Table::Tickets && grain != Grain::All => {
            Some("the running totals of the openings and closings summed per period")
        },
        _ => None,
    }
}

pub fn coverage(plan: &Plan) -> Coverage {
    let mut out = Coverage::default();
    for (k, def) in plan.kpis.iter().enumerate() {
        let segments: Vec<_> = plan.segments.iter().filter(|s| s.kpis.contains(&k)).collect();
        if segments.is_empty() {
            continue;
        }
        out.on_cluster.push(def.name.clone());
        let steps: Vec<(String, &'static str)> = segments
            .iter()
            .filter_map(|seg| {
                let step = def.stats.iter().find_map(|s| client_side(&s.aggregate, def.table, seg.grain))?;
                Some((seg.name.clone(), step))
            })
            .collect();
        if let Some((_, step)) = steps.first() {
            out.client_steps.push((def.name.clone(), steps.iter().map(|(s, _)| s.clone()).collect(), step));
        }
    }
    out
}

impl std::fmt::Display for Coverage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "engine ballista: the client reads and stages the sources, quarantines rows, joins each segment's \
             rows to their dimensions and computes the reductions' row inputs; the cluster groups and reduces \
             them; the client computes the formulas after the reductions and writes the outputs."
        )?;
        writeln!(f, "  reduced on the cluster ({}): {}", self.on_cluster.len(), self.on_cluster.join(", "))?;
        if !self.client_steps.is_empty() {
            writeln!(f, "  then on the client, beyond the formulas ({}):", self.client_steps.len())?;
        }
        for (kpi, segments, step) in &self.client_steps {
            writeln!(f, "    {kpi} ({}): {step}", segments.join(", "))?;
        }
        Ok(())
    }
}
