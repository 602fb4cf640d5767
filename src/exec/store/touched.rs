//! Which periods a night's new data can change, so that only those are recomputed. The rows that changed are
//! those of the parts added and removed since the run that wrote the outputs (old and new versions of a
//! file both count). Through them, the rows that share an id (copies settled together) and the surveys and
//! tickets linked by `ticket_id` (attributes, `has_survey`) can change too: their days count. A changed
//! message changes its ticket (first response, replies, responder, reply waits), and through it the
//! ticket's surveys: a message counts in its ticket's days (and in its own, when a declared metric counts
//! messages).
//!
//! Anything else changing falls back to recomputing everything: accounts, spend or help-center
//! files (they reach every period through joins), the pipeline, `--as-of` where SLA judgements read it, or
//! a store that was not reused. When the plausible range moved (its end follows the calendar), the periods
//! of rows between the old and the new bounds are touched too. Segments with the backlog recompute every
//! period from the first touched one onward (a ticket counts at every period end after its creation); the
//! `all` grain is always recomputed whole.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use polars::prelude::*;

use crate::exec::store::stage::Staging;
use crate::exec::store::{FileEntry, LastRun, Manifest};
use crate::model::Table;
use crate::plan::{Grain, Plan};

/// What the run that wrote the outputs was computed from, beside its key: enough to tell whether only data
/// files changed since.
pub fn settings(plan: &Plan) -> (String, String, Option<String>) {
    let pipeline = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(plan.pipeline_text.as_bytes()));
    let (from, to) = plan.plausible_range();
    let plausible = format!("{from}/{to}");
    let as_of = plan.sla.judges_as_of().then(|| plan.as_of.to_string());
    (pipeline, plausible, as_of)
}

/// `from/to` as `settings` writes it.
fn parse_range(text: &str) -> Option<(jiff::civil::Date, jiff::civil::Date)> {
    let (from, to) = text.split_once('/')?;
    Some((from.parse().ok()?, to.parse().ok()?))
}

/// Per segment that can be recomputed in part, the first days (since the epoch) of its periods to
/// recompute; `None` when everything must be.
pub fn periods_to_recompute(
    plan: &Plan,
    store_dir: &Path,
    scratch: &Path,
    manifest: &Manifest,
    last: &LastRun,
    staging: &Staging,
) -> Result<Option<BTreeMap<String, Vec<i32>>>, crate::error::Error> {
    let (pipeline, _, as_of) = settings(plan);
    let same_settings = last.pipeline_hash.as_deref() == Some(pipeline.as_str()) && last.as_of == as_of;
    if !same_settings || !staging.remapped.is_empty() {
        return Ok(None);
    }
    let Some(bands) = plausible_bands(plan, last) else { return Ok(None) };
    let Some(changed) = Changed::since(manifest, staging, store_dir, scratch)? else { return Ok(None) };
    // Reply chains give messages their ticket only when the whole log is resolved: recompute everything.
    if changed.frames.contains_key(&Table::Messages) && plan.has_threads() {
        return Ok(None);
    }
    let mut days = days_touched(staging, &changed, &bands)?;
    // A declared metric over messages counts each in the period of its own instant too.
    if let Some(messages) =
        changed.frames.get(&Table::Messages).filter(|_| plan.kpis.iter().any(|k| k.table == Table::Messages))
    {
        let df = concat(messages.clone(), UnionArgs::default())?
            .select([col("created_at").dt().date().cast(DataType::Int32).alias("__day")])
            .filter(col("__day").is_not_null())
            .unique(None, UniqueKeepStrategy::Any)
            .collect()?;
        days.extend(df.column("__day")?.i32()?.into_no_null_iter());
    }
    // The last day any ticket or survey has, for the backlog's periods after a change.
    let last_day = staging
        .entries
        .iter()
        .filter(|e| EVENT_TABLES.contains(&e.table.as_str()))
        .filter_map(|e| e.span.as_ref().and_then(|(_, last)| last.get(..10)?.parse::<jiff::civil::Date>().ok()))
        .max();
    Ok(Some(
        plan.segments
            .iter()
            .filter(|s| s.grain != Grain::All)
            .map(|s| segment_periods(plan, s, &days, last_day))
            .collect(),
    ))
}

/// The tables whose files a night may add or remove and still recompute some periods only: events, and
/// messages, which count through their tickets.
const EVENT_TABLES: [&str; 2] = ["tickets", "surveys"];
const LINKED_TO_TICKETS: [&str; 1] = ["messages"];

/// The plausible range's end follows the calendar: rows between yesterday's end and today's change
/// verdict, and their periods are touched too. The bands of instants between the last run's range and
/// this one's (none when equal); `None` when everything must be recomputed (messages have timestamps that
/// reach every period).
fn plausible_bands(plan: &Plan, last: &LastRun) -> Option<Vec<(jiff::civil::Date, jiff::civil::Date)>> {
    let (_, plausible, _) = settings(plan);
    if last.plausible.as_deref() == Some(plausible.as_str()) {
        return Some(Vec::new());
    }
    let before = last.plausible.as_deref().and_then(parse_range)?;
    if plan.sources_of(Table::Messages).next().is_some() {
        return None;
    }
    let now = plan.plausible_range();
    Some(vec![(before.0.min(now.0), before.0.max(now.0)), (before.1.min(now.1), before.1.max(now.1))])
}

/// The rows of the parts added and removed since the last run, by table, and the paths of the added ones.
struct Changed<'a> {
    frames: BTreeMap<Table, Vec<LazyFrame>>,
    added: BTreeSet<std::path::PathBuf>,
    staging: &'a Staging,
}

impl<'a> Changed<'a> {
    /// `None` when a table other than events and messages changed: everything must be recomputed.
    fn since(
        manifest: &Manifest,
        staging: &'a Staging,
        store_dir: &Path,
        scratch: &Path,
    ) -> Result<Option<Changed<'a>>, crate::error::Error> {
        let before: BTreeSet<&str> = manifest.files.iter().map(|f| f.part.as_str()).collect();
        let now: BTreeSet<&str> = staging.entries.iter().map(|f| f.part.as_str()).collect();
        let removed: Vec<&FileEntry> = manifest.files.iter().filter(|f| !now.contains(f.part.as_str())).collect();
        let added: Vec<&FileEntry> = staging.entries.iter().filter(|f| !before.contains(f.part.as_str())).collect();
        let other_table = |f: &&FileEntry| {
            let t = f.table.as_str();
            !EVENT_TABLES.contains(&t) && !LINKED_TO_TICKETS.contains(&t)
        };
        if removed.iter().chain(&added).any(other_table) {
            return Ok(None);
        }
        // Removed parts are still in the store, added ones in the scratch folder.
        let mut frames: BTreeMap<Table, Vec<LazyFrame>> = BTreeMap::new();
        for (entry, dir) in removed.iter().map(|e| (e, store_dir)).chain(added.iter().map(|e| (e, scratch))) {
            let table = Table::from_name(&entry.table).expect("a canonical table");
            frames.entry(table).or_default().push(crate::exec::scan_file(&dir.join(&entry.part))?);
        }
        let added = added.iter().map(|e| scratch.join(&e.part)).collect();
        Ok(Some(Changed { frames, added, staging }))
    }

    /// The sorted, distinct hashes (`id_index`) of a changed column: a collision can only add a period to
    /// recompute, never leave one out.
    fn ids(&self, table: Table, column: &str) -> Result<Vec<u64>, crate::error::Error> {
        let Some(frames) = self.frames.get(&table) else { return Ok(Vec::new()) };
        let df = concat(frames.clone(), UnionArgs::default())?
            .select([crate::exec::hash::text_hash(col(column), 0).alias("h")])
            .filter(col("h").is_not_null())
            .collect()?;
        let mut hashes: Vec<u64> = df.column("h")?.u64()?.into_no_null_iter().collect();
        hashes.sort_unstable();
        hashes.dedup();
        Ok(hashes)
    }

    /// The rows of `table` whose `column` hashes to one of sorted `wanted`, over the parts whose id files
    /// hold some of them: a night's ids are in few of the parts. The added parts are left out: all their
    /// rows' days are counted already.
    fn matching(&self, table: Table, column: &str, wanted: Vec<u64>) -> Result<Option<LazyFrame>, crate::error::Error> {
        let parts: Vec<&crate::exec::store::stage::StagedPart> = self
            .staging
            .part_files
            .get(&table)
            .into_iter()
            .flatten()
            .filter(|p| !self.added.contains(&p.path))
            .collect();
        let holding = crate::exec::store::id_index::parts_holding(&parts, column, &wanted)?;
        let frames: Vec<LazyFrame> =
            holding.iter().map(|p| crate::exec::scan_file(&p.path)).collect::<Result<_, _>>()?;
        if frames.is_empty() {
            return Ok(None);
        }
        let wanted = std::sync::Arc::new(wanted);
        Ok(Some(
            concat(frames, UnionArgs::default())?
                .filter(crate::exec::hash::hash_in(col(column), &wanted).fill_null(lit(false))),
        ))
    }
}

fn sorted_union(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut out: Vec<u64> = a.iter().chain(b).copied().collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The days (since the epoch) whose periods the changed rows reach: their own, those of the tickets they
/// link to (a message's, a survey's), those of the surveys of changed tickets, and those of rows in the
/// plausible range's moved `bands`.
fn days_touched(
    staging: &Staging,
    changed: &Changed,
    bands: &[(jiff::civil::Date, jiff::civil::Date)],
) -> Result<BTreeSet<i32>, crate::error::Error> {
    let changed_tickets =
        sorted_union(&changed.ids(Table::Tickets, "ticket_id")?, &changed.ids(Table::Messages, "ticket_id")?);
    let changed_surveys = changed.ids(Table::Surveys, "survey_id")?;
    let tickets_of_changed_surveys = changed.ids(Table::Surveys, "ticket_id")?;
    let mut days: BTreeSet<i32> = BTreeSet::new();
    let mut add_days = |lf: LazyFrame, column: &str| -> Result<(), crate::error::Error> {
        let df = lf
            .select([col(column).dt().date().cast(DataType::Int32).alias("__day")])
            .filter(col("__day").is_not_null())
            .unique(None, UniqueKeepStrategy::Any)
            .collect()?;
        days.extend(df.column("__day")?.i32()?.into_no_null_iter());
        Ok(())
    };
    for (table, frames) in &changed.frames {
        // Messages count through their tickets, found below.
        let Some(period) = table.period_column().filter(|_| *table != Table::Messages) else { continue };
        add_days(concat(frames.clone(), UnionArgs::default())?, period)?;
    }
    for (table, period) in [(Table::Tickets, "created_at"), (Table::Surveys, "submitted_at")] {
        let Some(lf) = staging.read.get(&table) else { continue };
        for (lo, hi) in bands.iter().filter(|(lo, hi)| lo < hi) {
            let instant = crate::exec::aggregate::period_exprs::instant_literal;
            let inside = table
                .columns()
                .iter()
                .filter(|c| c.ty == crate::model::ColumnType::Timestamp)
                .map(|c| col(c.name).gt_eq(instant(*lo)).and(col(c.name).lt(instant(*hi))).fill_null(lit(false)))
                .reduce(|a, b| a.or(b))
                .unwrap_or(lit(false));
            add_days(lf.clone().filter(inside), period)?;
        }
    }
    if staging.read.contains_key(&Table::Tickets) {
        let linked = sorted_union(&changed_tickets, &tickets_of_changed_surveys);
        if let Some(rows) = changed.matching(Table::Tickets, "ticket_id", linked)? {
            add_days(rows, "created_at")?;
        }
    }
    if staging.read.contains_key(&Table::Surveys) {
        for (column, values) in [("survey_id", changed_surveys), ("ticket_id", changed_tickets)] {
            if let Some(rows) = changed.matching(Table::Surveys, column, values)? {
                add_days(rows, "submitted_at")?;
            }
        }
    }
    Ok(days)
}

/// The periods of `seg` the touched `days` fall in. Retention, churn, CAC and CLV read accounts and spend,
/// which did not change: only the periods with changed data can differ. The backlog at a period's end
/// counts every ticket created before it: a changed ticket changes every period from its own onward, up
/// to `last_day`.
fn segment_periods(
    plan: &Plan,
    seg: &crate::plan::Segment,
    days: &BTreeSet<i32>,
    last_day: Option<jiff::civil::Date>,
) -> (String, Vec<i32>) {
    let start_of = |d: jiff::civil::Date| crate::periods::epoch_days(crate::periods::start_of(seg.grain, d)) as i32;
    let mut periods: BTreeSet<i32> =
        days.iter().map(|d| start_of(crate::periods::from_epoch_days(*d as i64))).collect();
    let backlog = seg.kpis.iter().any(|k| {
        let def = &plan.kpis[*k];
        def.table == Table::Tickets && def.stats.iter().any(|s| s.aggregate.is_snapshot())
    });
    if let (true, Some(first), Some(last)) = (backlog, periods.first().copied(), last_day) {
        let from = crate::periods::from_epoch_days(first as i64);
        let to = last.tomorrow().unwrap_or(last).max(from.tomorrow().unwrap_or(from));
        periods.extend(
            crate::periods::periods(seg.grain, from, to)
                .into_iter()
                .map(|(start, _)| crate::periods::epoch_days(start) as i32),
        );
    }
    (seg.name.clone(), periods.into_iter().collect())
}
