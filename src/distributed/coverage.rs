//! What of a plan the cluster computes, and what the client does (`deskpulse validate --engine ballista`).

use crate::catalog::Aggregate;
use crate::model::Table;
use crate::plan::{Grain, Plan};

/// Per KPI, where its work runs: every KPI's group-bys run on the cluster; some need a step on the client
/// after them, beyond the formulas every KPI has (`client_steps`: KPI, segments, what).
#[derive(Debug, Default, PartialEq)]
pub struct Coverage {
    pub on_cluster: Vec<String>,
    /// Row inputs (over every KPI and segment) the cluster computes from the columns handed over, and
    /// those the client computes first, with the KPIs that have some.
    pub inputs_on_cluster: usize,
    pub inputs_on_client: usize,
    pub client_inputs: Vec<String>,
    pub client_steps: Vec<(String, Vec<String>, &'static str)>,
    /// Per table reduced, why the client hands its rows over, if it does; else the executors read them from
    /// the store's parts (unless `--hand-over-rows`, or parts whose schemas differ).
    pub rows: Vec<(String, Option<&'static str>)>,
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
    let rows = crate::exec::row_sources(plan).into_iter().map(|(t, why)| (t.name().to_string(), why)).collect();
    let mut out = Coverage { rows, ..Default::default() };
    for (k, def) in plan.kpis.iter().enumerate() {
        let segments: Vec<_> = plan.segments.iter().filter(|s| s.kpis.contains(&k)).collect();
        if segments.is_empty() {
            continue;
        }
        out.on_cluster.push(def.name.clone());
        let (cluster, client) = segments
            .iter()
            .map(|seg| crate::exec::cluster_inputs(plan, seg, k))
            .fold((0, 0), |(a, b), (c, d)| (a + c, b + d));
        out.inputs_on_cluster += cluster;
        out.inputs_on_client += client;
        if client > 0 {
            out.client_inputs.push(def.name.clone());
        }
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
            "engine ballista: the client stages the sources into the store and judges the rules that need a \
             whole table (repeated ids, references); the executors read the rows of the tables below from the \
             store's parts, judge each row's own rules and join the accounts' dimensions, or read the rows the \
             client prepares and hands over; the cluster computes the reductions' row inputs (those SQL \
             expresses), groups and reduces them; the client computes the formulas after the reductions and \
             writes the outputs."
        )?;
        let (store, handed): (Vec<_>, Vec<_>) = self.rows.iter().partition(|(_, why)| why.is_none());
        if !store.is_empty() {
            let tables: Vec<&str> = store.iter().map(|(t, _)| t.as_str()).collect();
            writeln!(f, "  rows the executors read from the store's parts: {}", tables.join(", "))?;
        }
        for (table, why) in handed {
            writeln!(f, "  rows the client hands over: {table} ({})", why.unwrap_or_default())?;
        }
        writeln!(f, "  reduced on the cluster ({}): {}", self.on_cluster.len(), self.on_cluster.join(", "))?;
        let inputs = self.inputs_on_cluster + self.inputs_on_client;
        writeln!(
            f,
            "  row inputs computed on the cluster from the columns handed over: {} of {inputs}",
            self.inputs_on_cluster
        )?;
        if !self.client_inputs.is_empty() {
            writeln!(
                f,
                "  row inputs the client computes first (no SQL form yet): {} of {inputs}, for {}",
                self.inputs_on_client,
                self.client_inputs.join(", ")
            )?;
        }
        if !self.client_steps.is_empty() {
            writeln!(f, "  then on the client, beyond the formulas ({}):", self.client_steps.len())?;
        }
        for (kpi, segments, step) in &self.client_steps {
            writeln!(f, "    {kpi} ({}): {step}", segments.join(", "))?;
        }
        Ok(())
    }
}
