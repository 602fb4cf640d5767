//! Which periods a night recomputes: those its new files touch, per segment.

use std::collections::BTreeMap;
use std::path::Path;

use super::RunOptions;
use crate::error::Error;
use crate::exec::outputs::write;
use crate::exec::store::{self, stage, touched};
use crate::exec::Staged;
use crate::plan::{EngineChoice, Plan};

/// After a night that brought only some files, the segments are computed for the periods those files
/// touch (`touched`), and merged into the tables the last run wrote. Empty: every period.
pub(super) fn periods_to_recompute(
    plan: &Plan,
    out_dir: &Path,
    options: &RunOptions,
    store: &store::Store,
    staging: &stage::Staging,
    inputs_dir: &Path,
    staged: &Staged,
) -> Result<BTreeMap<String, Vec<i32>>, Error> {
    let backfill = options.from.is_some() || options.to.is_some();
    let partial_ok = !options.full
        && !staged.on_cluster()
        && !backfill
        && store.discarded.is_none()
        && staging.damaged == 0
        && plan.engine != EngineChoice::InMemory
        && plan.formats.contains(&crate::plan::OutputFormat::Parquet);
    let Some(last) = store.manifest.last_run.as_ref().filter(|_| partial_ok) else { return Ok(BTreeMap::new()) };
    let touched = touched::periods_to_recompute(plan, &store.dir, inputs_dir, &store.manifest, last, staging)?;
    Ok(touched
        .unwrap_or_default()
        .into_iter()
        // A segment no new row reaches (the night's rows all quarantined) is computed whole: it has no
        // period of its own to merge.
        .filter(|(name, days)| {
            // With `hive`, a night writes only its periods' partitions: a segment that compares periods (or
            // fills them, or is watched for alerts) is computed whole, so that the next periods' follow.
            let comparing = |s: &crate::plan::Segment| {
                crate::exec::outputs::watch::needs_history(plan, s) && plan.layout == crate::plan::Layout::Hive
            };
            !days.is_empty()
                && plan
                    .segments
                    .iter()
                    .any(|s| s.name == *name && !comparing(s) && write::earlier_output_whole(out_dir, last, s))
        })
        .collect())
}
