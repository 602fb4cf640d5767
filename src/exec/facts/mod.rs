//! The facts stage: the per-ticket derivations (first response, replies and responder from the message log,
//! reopens from the history, the resolution rules) and the per-reply waits, each defined once in `derive`,
//! computed once per run for every segment instead of inside each segment's plan. Tickets held in memory (`hold`) are derived once already;
//! tables that stream are written once to the run's work folder and read back by every segment.
//!
//! A night computes only the touched periods: the facts of the tickets in the parts those periods read
//! (`Staged::scan_parts`), not the whole store's, once for every segment (`night`).

pub(crate) mod business;
pub(crate) mod derive;
pub(crate) mod history;
pub(crate) mod hold;
pub(crate) mod sla;
pub(crate) mod threads;

use std::path::Path;

use polars::prelude::*;

use crate::error::Error;
use crate::exec::Staged;
use crate::model::Table;
use crate::plan::Plan;

/// The derived tables whose frames hold per-ticket work that every segment would otherwise redo: tickets
/// completed from messages or histories, and reply waits.
fn derived_here(staged: &Staged) -> Vec<Table> {
    let completes_tickets =
        staged.frames.contains_key(&Table::Messages) || staged.frames.contains_key(&Table::TicketEvents);
    let mut out = Vec::new();
    if completes_tickets && staged.frames.contains_key(&Table::Tickets) {
        out.push(Table::Tickets);
    }
    if staged.frames.contains_key(&Table::ReplyWaits) {
        out.push(Table::ReplyWaits);
    }
    out
}

/// Replaces the frames of the derived tables by their computed rows: in memory when the tables are held,
/// else in a Parquet file under `work`. Full runs with several segments only (one segment derives them once
/// anyway; a night's are of its touched tickets).
pub(super) fn compute_once(plan: &Plan, staged: &mut Staged, work: &Path) -> Result<(), Error> {
    if !staged.only.is_empty() {
        return night(plan, staged);
    }
    if plan.segments.len() < 2 {
        return Ok(());
    }
    let held = staged.held.contains(&Table::Tickets);
    let dir = work.join("facts");
    let mut written = Vec::new();
    for table in derived_here(staged) {
        if table == Table::Tickets && held {
            continue;
        }
        let mut frame = staged.frames[&table].clone();
        let mut rows = frame.clone().select(crate::exec::facts::hold::read_by_segments(&mut frame)?);
        if table == Table::ReplyWaits {
            rows = waits_with_tickets(plan, staged, rows)?;
        }
        if held {
            staged.frames.insert(table, rows.collect_with_engine(Engine::Streaming)?.unwrap_single().lazy());
            continue;
        }
        std::fs::create_dir_all(&dir).map_err(|e| Error::Output { path: dir.clone(), message: e.to_string() })?;
        let path = dir.join(format!("{table}.parquet"));
        crate::exec::record::timing::traced(&format!("facts of {table} written"), || {
            crate::exec::store::write_parts::sink_all(plan, vec![(path.clone(), rows)], ParquetCompression::Lz4Raw)
        })?;
        written.push((table, path));
    }
    for (table, path) in written {
        staged.frames.insert(table, crate::exec::scan_file(&path)?);
    }
    Ok(())
}

/// Reply waits with the ticket columns that the segments reading them group by, joined once as the survey
/// answers are (`rows::answers_with_tickets`): each segment's wait part joined every ticket again (1M tickets,
/// 1.6M waits: about 0.2 s a segment). Those columns are the ticket's own as exported, so the tickets before
/// their derivation from the log give them.
fn waits_with_tickets(plan: &Plan, staged: &Staged, waits: LazyFrame) -> Result<LazyFrame, Error> {
    use crate::exec::aggregate::rows;
    let segments: Vec<&crate::plan::Segment> =
        plan.segments.iter().filter(|s| s.kpis.iter().any(|k| plan.kpis[*k].table == Table::ReplyWaits)).collect();
    let columns = rows::ticket_columns(plan, &segments);
    let tickets = match staged.held.contains(&Table::Tickets) {
        true => staged.frames.get(&Table::Tickets),
        false => staged.underived.get(&Table::Tickets),
    };
    let (false, Some(tickets), false) = (plan.has_threads(), tickets, columns.is_empty()) else { return Ok(waits) };
    Ok(rows::with_ticket_columns(plan, tickets.clone(), waits, &columns, false)
        .with_column(lit(true).alias(rows::TICKET_JOINED)))
}

/// On a night, the derived tables' rows of the parts that any touched period reads, held for every segment
/// (`Staged::scan_within` gives them to a segment whose touched periods they cover).
fn night(plan: &Plan, staged: &mut Staged) -> Result<(), Error> {
    let spans: Vec<_> =
        plan.segments.iter().filter_map(|seg| crate::exec::aggregate::rows::touched_span(seg, staged)).collect();
    let (Some(from), Some(to)) = (spans.iter().map(|s| s.0).min(), spans.iter().map(|s| s.1).max()) else {
        return Ok(());
    };
    let mut facts = std::collections::BTreeMap::new();
    for table in derived_here(staged) {
        let rows = staged.scan_within(plan, table, from, to)?;
        facts.insert(table, (from, to, rows.collect_with_engine(Engine::Streaming)?.unwrap_single().lazy()));
    }
    staged.night_facts = facts;
    Ok(())
}
