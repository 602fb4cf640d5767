//! Judging the rows: values checked, expectations judged, every row's verdict, the quarantined rows written
//! and counted.

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::*;

use super::RunOptions;
use crate::error::Error;
use crate::exec::judge::{self, quarantine, values};
use crate::exec::record::{self, timing};
use crate::exec::store::stage;
use crate::model::Table;
use crate::plan::Plan;
use crate::sink;

/// What judging the rows leaves for the later stages.
pub(super) struct Judged {
    /// Rows read per table (malformed lines included).
    pub(super) rows: Vec<(Table, u64)>,
    pub(super) rejected: Vec<(Table, String, u64)>,
    pub(super) superseded: Vec<(Table, u64)>,
    pub(super) warnings: Vec<String>,
    pub(super) expectations: Vec<record::ExpectationResult>,
    /// Every table's kept rows.
    pub(super) kept: BTreeMap<Table, LazyFrame>,
    pub(super) copies: BTreeMap<Table, quarantine::CopyVerdicts>,
    pub(super) orphans: Vec<crate::exec::judge::references::Orphans>,
    #[cfg(feature = "ballista")]
    pub(super) store_reads: crate::exec::cluster::from_store::StoreReads,
}

/// Values checked, then every row judged (plausible range, repeated ids, references): the quarantined
/// rows written to `_rejected/` and counted. The row rules were marked while the sources were read, so the
/// staged table is the only copy: the rejected rows are split off it, the kept ones read with a filter.
pub(super) fn rows_judged(
    plan: &Plan,
    out_dir: &Path,
    staging: &stage::Staging,
    output: &mut sink::Output,
    options: &RunOptions,
    timer: &timing::Timer,
) -> Result<Judged, Error> {
    let trace = |what: &str| timer.done(what);
    timing::traced("values checked", || values::check_values(plan, &staging.fresh))?;
    let mut rows: Vec<(Table, u64)> = staging.rows().into_iter().collect();
    for (table, n) in rows.iter_mut() {
        *n += staging.malformed_of(*table).count() as u64;
    }
    trace("values checked");
    let mut rejected_paths = BTreeMap::new();
    for table in staging.read.keys() {
        rejected_paths.insert(*table, output.reserve(&format!("_rejected/{table}.parquet"))?);
    }
    let verdicts = judge::verdicts(plan, staging, &|what| trace(what))?;
    let expectations_dir = out_dir.join("_expectations");
    let outcomes = timing::traced("expectations judged", || {
        judge::expectations::judge(plan, &verdicts.judged, &expectations_dir)
    })?;
    let mut warnings: Vec<String> = plan.segments.iter().filter_map(left_out_warning).collect();
    let nowhere: Vec<&str> = (0..plan.kpis.len())
        .filter(|i| !plan.segments.iter().any(|s| s.kpis.contains(i)))
        .map(|i| plan.kpis[i].name.as_str())
        .collect();
    if !nowhere.is_empty() {
        warnings.push(format!("no segment computes {}: their dimensions or grains do not fit", nowhere.join(", ")));
    }
    warnings.extend(verdicts.unresolved.iter().map(|(_, w)| w.clone()));
    let (errors, warns): (Vec<_>, Vec<_>) = outcomes.iter().filter(|(_, o)| !o.passed).partition(|(_, o)| o.error);
    warnings.extend(warns.iter().map(|(t, o)| o.line(*t)));
    if !errors.is_empty() {
        return Err(Error::Expectations {
            failed: errors.iter().map(|(t, o)| o.line(*t)).collect(),
            dir: expectations_dir,
        });
    }
    trace("references checked");
    judge::write_rejected(plan, staging, &verdicts, &rejected_paths)?;
    #[cfg(feature = "ballista")]
    let store_reads = match options.cluster.is_some() && !options.hand_over_rows {
        true => crate::exec::cluster::from_store::StoreReads {
            parts: staging
                .part_files
                .iter()
                .map(|(t, parts)| (*t, parts.iter().map(|p| p.path.clone()).collect()))
                .collect(),
            dropped: judge::dropped_by_table_verdicts(plan, staging, &verdicts)?,
        },
        false => Default::default(),
    };
    #[cfg(not(feature = "ballista"))]
    let _ = options;
    let judge::Verdicts { judged, may_supersede, unresolved, copies, orphans, .. } = verdicts;
    let kept: BTreeMap<Table, LazyFrame> = judged.into_iter().map(|(t, lf)| (t, quarantine::kept(lf))).collect();
    trace("quarantined rows written");
    let (rejected, superseded) =
        judge::quarantine_report(plan, &rows, &kept, &may_supersede, &rejected_paths, &unresolved)?;
    trace("quarantine counted");
    let expectations = outcomes
        .iter()
        .map(|(t, o)| record::ExpectationResult {
            name: o.name.clone(),
            table: t.to_string(),
            severity: if o.error { "error" } else { "warn" }.into(),
            failed: o.failed,
            rows: o.rows,
            passed: o.passed,
        })
        .collect();
    Ok(Judged {
        rows,
        rejected,
        superseded,
        warnings,
        expectations,
        kept,
        copies,
        orphans,
        #[cfg(feature = "ballista")]
        store_reads,
    })
}

/// One line per segment naming the declared KPIs it leaves out, grouped by reason.
fn left_out_warning(segment: &crate::plan::Segment) -> Option<String> {
    let mut by_reason: Vec<(&str, Vec<&str>)> = Vec::new();
    for (kpi, why) in &segment.left_out {
        match by_reason.iter_mut().find(|(w, _)| w == why) {
            Some((_, kpis)) => kpis.push(kpi),
            None => by_reason.push((why, vec![kpi])),
        }
    }
    let parts: Vec<String> = by_reason.iter().map(|(why, kpis)| format!("{} ({why})", kpis.join(", "))).collect();
    (!parts.is_empty()).then(|| format!("segment `{}` leaves out {}", segment.name, parts.join("; ")))
}
