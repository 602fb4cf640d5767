//! deskpulse: customer-support KPIs from helpdesk and CRM dumps.
//!
//! The flow, one module per stage: pipeline file (`spec`) → validated plan (`plan`, using the engine-neutral
//! `catalog` and `model`) → Polars lazy frames (`exec`) → KPI tables written by `sink`.

// Errors carry the file, line, row and examples a person needs; they travel only on the failure path, so
// their size does not matter.
#![allow(clippy::result_large_err)]

pub mod calendar;
pub mod catalog;
#[cfg(feature = "ballista")]
pub mod distributed;
pub mod error;
pub mod exec;
pub mod generate;
pub mod model;
pub mod periods;
pub mod plan;
pub mod presets;
pub mod report;
pub mod sink;
pub mod spec;
mod suggest;

pub use error::Error;

use std::path::Path;

/// Reads and validates a pipeline file (no data is read): the plan's checks, then the engine's compilation
/// of the pipeline's SQL.
pub fn load_plan(path: &Path) -> Result<plan::Plan, Error> {
    load_plan_with(path, plan::RunSettings::default())
}

/// `load_plan` for a run whose command line sets the as-of instant or the engine.
pub fn load_plan_with(path: &Path, settings: plan::RunSettings) -> Result<plan::Plan, Error> {
    let (spec, text) = spec::load(path)?;
    let plan = plan::build(spec, path, text, settings)?;
    let diagnostics = exec::compile_sql(&plan);
    if !diagnostics.is_empty() {
        let text = plan.pipeline_text.clone();
        return Err(plan::PlanError { path: path.to_path_buf(), text, diagnostics }.into());
    }
    Ok(plan)
}
