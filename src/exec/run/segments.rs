//! The segments' tables and the tables for people, on the engine the plan chose.

use polars::prelude::*;

use crate::error::Error;
use crate::exec::aggregate::segment;
use crate::exec::outputs::review;
use crate::exec::record::{interrupt, timing};
use crate::exec::Staged;
use crate::plan::{EngineChoice, Plan};

/// The tables a run computes before writing them: every segment's, then the tables for people (review
/// sample, follow-up list, per-ticket table, replies), with their output names; and the tables written a
/// slice at a time as the outputs are written (`sliced`: the SLA table), not computed here.
pub(super) struct Computed {
    pub names: Vec<String>,
    pub tables: Vec<DataFrame>,
    pub sliced: Vec<(String, Vec<LazyFrame>)>,
}

/// Every segment's table, then the tables for people, with their output names.
pub(super) fn segments_computed(plan: &Plan, staged: &Staged, timer: &timing::Timer) -> Result<Computed, Error> {
    let mut names: Vec<String> = plan.segments.iter().map(|s| s.name.clone()).collect();
    let mut extras = Vec::new();
    let sliced = match crate::exec::outputs::sla::sla_table(plan, staged)? {
        Some(slices) => vec![("sla/sla".to_string(), slices)],
        None => Vec::new(),
    };
    for (name, frame) in [
        ("review_sample", review::review_sample(plan, staged)?),
        ("follow_up", review::follow_up(plan, staged)?),
        ("tickets", review::per_ticket(plan, staged)?),
        ("replies", crate::exec::outputs::replies::replies_table(plan, staged)?),
    ] {
        if let Some(frame) = frame {
            names.push(format!("{name}/{name}"));
            extras.push(frame);
        }
    }
    let tables = match plan.engine {
        EngineChoice::Auto | EngineChoice::Streaming => streamed_tables(plan, staged, extras, timer)?,
        EngineChoice::InMemory => {
            let mut frames: Vec<LazyFrame> =
                plan.segments.iter().map(|s| segment::segment_frame(plan, s, staged)).collect::<Result<_, _>>()?;
            frames.extend(extras);
            // In memory, one joint plan: the tables' scans and joins are shared between segments.
            LazyFrame::collect_all_with_engine(
                frames.into_iter().map(|f| f.logical_plan).collect(),
                Engine::InMemory,
                OptFlags::default(),
            )?
        },
    };
    timer.done("segments computed");
    Ok(Computed { names, tables, sliced })
}

/// The segments' tables (then `extras`) on the streaming engine, one aggregation at a time, so that the
/// peak memory is the largest aggregation's rather than the sum of all (10M tickets: 1.5 → 0.9 GB).
fn streamed_tables(
    plan: &Plan,
    staged: &Staged,
    extras: Vec<LazyFrame>,
    timer: &timing::Timer,
) -> Result<Vec<DataFrame>, Error> {
    let streamed = |lf: LazyFrame| lf.collect_with_engine(Engine::Streaming).map(|r| r.unwrap_single());
    let mut tables = Vec::new();
    let total = plan.segments.len() as u64;
    let trace = std::env::var_os("DESKPULSE_TRACE");
    let show_plans = trace.as_deref() == Some(std::ffi::OsStr::new("plan"));
    let trace = trace.is_some();
    for (i, seg) in plan.segments.iter().enumerate() {
        timer.progress("segments", i as u64, total);
        let parts = segment::segment_parts(plan, seg, staged)?
            .into_iter()
            .map(|part| {
                let started = std::time::Instant::now();
                if show_plans {
                    eprintln!("{}", part.describe_optimized_plan()?);
                }
                let df = streamed(part)?;
                if trace {
                    // Which KPIs a part computes, and how long it took: where a segment's time goes.
                    let kpis = df.column("kpi").ok().and_then(|c| c.unique_stable().ok());
                    let names: Vec<String> = kpis
                        .and_then(|c| c.str().ok().map(|s| s.iter().flatten().map(str::to_string).collect()))
                        .unwrap_or_default();
                    eprintln!("    part {:.2} s: {}", started.elapsed().as_secs_f64(), names.join(" "));
                }
                Ok(df.lazy())
            })
            .collect::<PolarsResult<Vec<_>>>()?;
        tables.push(segment::finish(seg, concat(parts, UnionArgs::default())?).collect()?);
        timer.done(&format!("segment {}", seg.name));
        interrupt::check()?;
        timer.progress("segments", i as u64 + 1, total);
    }
    for extra in extras {
        tables.push(streamed(extra)?);
    }
    Ok(tables)
}
