//! What of a plan the cluster computes, and what the client does (`deskpulse validate --engine ballista`).

use crate::catalog::Aggregate;
use crate::model::Table;
use crate::plan::{Grain, Plan};

/// Per KPI, where its group-bys run: on the cluster, or on the client with the reason.
#[derive(Debug, Default, PartialEq)]
pub struct Coverage {
    pub on_cluster: Vec<String>,
    /// `(KPI, segments, why)`.
    pub on_client: Vec<(String, Vec<String>, &'static str)>,
}

/// Why a KPI's stat in a segment of `grain` is computed on the client, if it is.
fn client_side(aggregate: &Aggregate, table: Table, grain: Grain) -> Option<&'static str> {
    match aggregate {
        Aggregate::Quotient { .. } => Some("a ratio of two tables' totals, joined by the client"),
        Aggregate::Cac | Aggregate::Clv { .. } => Some("spend and accounts measured at period boundaries"),
        Aggregate::OpenAtPeriodEnd if table == Table::Tickets && grain != Grain::All => {
            Some("running totals of openings and closings in period order")
        },
        _ => None,
    }
}

pub fn coverage(plan: &Plan) -> Coverage {
    let mut out = Coverage::default();
    for (k, def) in plan.kpis.iter().enumerate() {
        let segments = plan.segments.iter().filter(|s| s.kpis.contains(&k));
        let mut client: Vec<(String, &'static str)> = Vec::new();
        for seg in segments.clone() {
            if let Some(why) = def.stats.iter().find_map(|s| client_side(&s.aggregate, def.table, seg.grain)) {
                client.push((seg.name.clone(), why));
            }
        }
        match client.first() {
            None if segments.count() > 0 => out.on_cluster.push(def.name.clone()),
            None => {},
            Some((_, why)) => {
                out.on_client.push((def.name.clone(), client.iter().map(|(s, _)| s.clone()).collect(), why))
            },
        }
    }
    out
}

impl std::fmt::Display for Coverage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "engine ballista: the client reads and stages the sources, quarantines rows and joins each segment's \
             rows to their dimensions; the cluster groups and reduces them."
        )?;
        writeln!(f, "  on the cluster ({}): {}", self.on_cluster.len(), self.on_cluster.join(", "))?;
        if self.on_client.is_empty() {
            return writeln!(f, "  on the client: none");
        }
        writeln!(f, "  on the client, not distributed yet ({}):", self.on_client.len())?;
        for (kpi, segments, why) in &self.on_client {
            writeln!(f, "    {kpi} ({}): {why}", segments.join(", "))?;
        }
        Ok(())
    }
}
