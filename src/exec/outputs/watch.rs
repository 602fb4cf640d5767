//! What a run watches in its segments' tables, once they are merged (a night's recomputed periods with the
//! kept ones): each row's target and whether it is met, and its comparison with the same row of an earlier
//! period (`compare:`). Computed on the whole merged table, so that a recomputed period changes the next
//! period's comparison.

use polars::prelude::*;

use crate::catalog::Direction;
use crate::exec::aggregate::period_exprs::PERIOD;
use crate::plan::{Comparison, Plan, Segment};

/// The columns this stage adds, which a merge strips from the earlier table before adding them again.
pub(crate) const COLUMNS: [&str; 8] = [
    "target",
    "target_met",
    "previous_value",
    "change",
    "change_pct",
    "year_ago_value",
    "year_ago_change",
    "year_ago_change_pct",
];

/// `df` without the columns this stage adds.
pub(crate) fn stripped(df: DataFrame) -> PolarsResult<DataFrame> {
    let present: Vec<PlSmallStr> =
        df.get_column_names().into_iter().filter(|c| COLUMNS.contains(&c.as_str())).cloned().collect();
    match present.is_empty() {
        true => Ok(df),
        false => Ok(df.drop_many(present)),
    }
}

/// Whether a segment's rows depend on its other periods (comparisons, zero rows, alerts on its series): a
/// night or a backfill that recomputes some periods must then read or compute its whole table.
pub(crate) fn needs_history(plan: &Plan, seg: &Segment) -> bool {
    let alerted = seg.grain != crate::periods::Grain::All
        && seg.kpis.iter().any(|k| plan.alerts.iter().any(|a| *a == plan.kpis[*k].name));
    !seg.compare.is_empty() || seg.fill_zero || alerted
}

/// A merged output table with what the run watches in it, when it is a segment's: a recomputed period changes
/// the next period's comparison (and zero rows are added), so no earlier CSV line stands as it was there.
pub(crate) fn watched_table(
    plan: &Plan,
    name: &str,
    df: DataFrame,
    merged: &mut crate::exec::outputs::write::Merged,
) -> PolarsResult<DataFrame> {
    let Some(seg) = plan.segments.iter().find(|s| s.name == name) else { return Ok(df) };
    if !seg.compare.is_empty() || seg.fill_zero {
        merged.earlier_rows.remove(name);
    }
    watched(plan, seg, df)
}

/// A segment's table with its targets (when the pipeline declares any) and its comparisons.
pub(crate) fn watched(plan: &Plan, seg: &Segment, df: DataFrame) -> PolarsResult<DataFrame> {
    let mut df = stripped(df)?;
    if seg.fill_zero {
        df = zero_filled(plan, seg, df)?;
    }
    if !plan.targets.is_empty() {
        df = df.lazy().with_columns(targets(plan, seg)).collect()?;
    }
    for comparison in &seg.compare {
        df = compared(seg, df, *comparison)?;
    }
    Ok(df)
}

/// `df` with a zero row for each count KPI (a row count: ticket volume…), group of dimension values and period
/// between the table's first and last period where it has none, sorted as the segment's tables are
/// (dimensions, period, KPI in declaration order).
fn zero_filled(plan: &Plan, seg: &Segment, df: DataFrame) -> PolarsResult<DataFrame> {
    use crate::catalog::Aggregate;
    let counted: Vec<&str> = seg
        .kpis
        .iter()
        .map(|k| &plan.kpis[*k])
        .filter(|k| matches!(k.stats.as_slice(), [s] if s.aggregate == Aggregate::Count))
        .map(|k| k.name.as_str())
        .collect();
    if counted.is_empty() || seg.grain == crate::periods::Grain::All || df.height() == 0 {
        return Ok(df);
    }
    let days = df.column(PERIOD)?.cast(&DataType::Int32)?;
    let (Some(first), Some(last)) = (days.i32()?.min(), days.i32()?.max()) else { return Ok(df) };
    let mut starts = Vec::new();
    let mut at = crate::periods::from_epoch_days(first as i64);
    while crate::periods::epoch_days(at) <= last as i64 {
        starts.push(crate::periods::epoch_days(at) as i32);
        at = crate::periods::next_start(seg.grain, at);
    }
    let dims: Vec<Expr> = seg.dimensions.iter().map(|d| col(*d)).collect();
    let groups = match dims.is_empty() {
        true => df!("__one" => [1i32])?.lazy(),
        false => df.clone().lazy().select(dims.clone()).unique_stable(None, UniqueKeepStrategy::First),
    };
    let grid =
        groups.cross_join(df!("__day" => starts)?.lazy(), None).cross_join(df!("kpi" => counted.clone())?.lazy(), None);
    let mut keys = dims.clone();
    keys.extend([col("__day"), col("kpi")]);
    let mut present = dims.clone();
    present.extend([col(PERIOD).cast(DataType::Int32).alias("__day"), col("kpi")]);
    let mut args = JoinArgs::new(JoinType::Anti);
    args.nulls_equal = true;
    let schema = df.schema().clone();
    let missing = grid
        .join(df.clone().lazy().select(present), keys.clone(), keys, args)
        .select(
            schema
                .iter_names()
                .map(|name| match name.as_str() {
                    n if n == PERIOD => col("__day").cast(DataType::Date).alias(PERIOD),
                    "kpi" => col("kpi"),
                    "stat" => lit("value").alias("stat"),
                    "value" => lit(0.0).cast(DataType::Float64).alias("value"),
                    "unit" => lit("count").alias("unit"),
                    "n" => lit(0i64).cast(DataType::Int64).alias("n"),
                    "low_sample" => lit(false).alias("low_sample"),
                    n if seg.dimensions.contains(&n) => col(n),
                    n => lit(NULL).cast(schema.get(n).cloned().unwrap_or(DataType::Float64)).alias(n),
                })
                .collect::<Vec<_>>(),
        )
        .collect()?;
    if missing.height() == 0 {
        return Ok(df);
    }
    let mut all = df.vstack(&missing)?;
    all.rechunk_mut();
    // The segment's order: dimensions, period, KPI in declaration order, then the stats as they were.
    let order: Vec<&str> = plan.kpis.iter().map(|k| k.name.as_str()).collect();
    let mut rank = lit(order.len() as u32);
    for (i, name) in order.iter().enumerate().rev() {
        rank = when(col("kpi").eq(lit(*name))).then(lit(i as u32)).otherwise(rank);
    }
    let mut by: Vec<PlSmallStr> = seg.dimensions.iter().map(|d| PlSmallStr::from(*d)).collect();
    by.extend([PlSmallStr::from(PERIOD), PlSmallStr::from("__rank")]);
    all.lazy()
        .with_column(rank.alias("__rank"))
        .sort(by, SortMultipleOptions::default().with_nulls_last(true).with_maintain_order(true))
        .drop(cols(["__rank"]))
        .collect()
}

/// `target` for the rows of a KPI with a target, in the KPI's own unit (a duration KPI's mean or percentile;
/// not a share it also reports), and `target_met`: at or better than it by the KPI's direction.
fn targets(plan: &Plan, seg: &Segment) -> [Expr; 2] {
    let mut target = lit(NULL).cast(DataType::Float64);
    let mut met = lit(NULL).cast(DataType::Boolean);
    // Applied in order, each over the ones before where it applies: the last matching entry wins.
    for t in &plan.targets {
        let Some(def) = plan.kpis.iter().find(|k| k.name == t.kpi) else { continue };
        // A target for some dimension values applies to the tables split by those dimensions.
        if !t.when.iter().all(|(d, _)| seg.dimensions.contains(&d.as_str())) {
            continue;
        }
        let unit = def.stats.first().map(|s| s.unit.as_str()).unwrap_or_default();
        let mut rows = col("kpi").eq(lit(t.kpi.as_str())).and(col("unit").eq(lit(unit)));
        if let Some(from) = t.from {
            rows = rows.and(col(PERIOD).gt_eq(lit(crate::periods::epoch_days(from) as i32).cast(DataType::Date)));
        }
        for (d, v) in &t.when {
            rows = rows.and(col(d.as_str()).eq(lit(v.as_str())));
        }
        let rows = rows.fill_null(lit(false));
        let reached = match t.direction {
            Direction::LowerIsBetter => col("value").lt_eq(lit(t.value)),
            _ => col("value").gt_eq(lit(t.value)),
        };
        target = when(rows.clone()).then(lit(t.value)).otherwise(target);
        met = when(rows).then(reached).otherwise(met);
    }
    [target.alias("target"), met.alias("target_met")]
}

/// `df` with the value of the same row (dimensions, KPI, stat) in the earlier period, the change and the
/// change in percent of the earlier value's size (null when it is 0 or missing).
fn compared(seg: &Segment, df: DataFrame, comparison: Comparison) -> PolarsResult<DataFrame> {
    let value = comparison.value_column();
    let (change, change_pct) = comparison.change_columns();
    let grain = seg.grain;
    // Each period start's earlier period, found on the calendar (a missing period has no row to compare).
    let starts = df.column(PERIOD)?.cast(&DataType::Int32)?;
    let mut distinct: Vec<i32> = starts.i32()?.iter().flatten().collect();
    distinct.sort_unstable();
    distinct.dedup();
    let earlier: Vec<Option<i32>> = distinct
        .iter()
        .map(|d| {
            let start = crate::periods::from_epoch_days(*d as i64);
            let before = match comparison {
                Comparison::Previous => crate::periods::previous_start(grain, start),
                Comparison::YearAgo => crate::periods::year_ago_start(grain, start),
            };
            before.map(|b| crate::periods::epoch_days(b) as i32)
        })
        .collect();
    let map = df!("__start" => distinct, "__earlier" => earlier)?;
    let mut keys: Vec<Expr> = seg.dimensions.iter().map(|d| col(*d)).collect();
    keys.extend([col("kpi"), col("stat")]);
    let mut right_keys = keys.clone();
    keys.push(col("__earlier"));
    right_keys.push(col("__start"));
    let rows = df.clone().lazy().select(
        keys[..keys.len() - 1]
            .iter()
            .cloned()
            .chain([col(PERIOD).cast(DataType::Int32).alias("__start"), col("value").alias(value)])
            .collect::<Vec<_>>(),
    );
    let mut args = JoinArgs::new(JoinType::Left);
    args.nulls_equal = true;
    args.maintain_order = MaintainOrderJoin::Left;
    let mut map_args = JoinArgs::new(JoinType::Left);
    map_args.maintain_order = MaintainOrderJoin::Left;
    let out = df
        .lazy()
        .with_column(col(PERIOD).cast(DataType::Int32).alias("__start_of_row"))
        .join(map.lazy(), [col("__start_of_row")], [col("__start")], map_args)
        .join(rows, keys, right_keys, args)
        .with_columns([
            (col("value") - col(value)).alias(change),
            when(col(value).neq(lit(0.0)))
                .then((col("value") - col(value)) / col(value).abs() * lit(100.0))
                .otherwise(lit(NULL).cast(DataType::Float64))
                .alias(change_pct),
        ])
        .drop(cols(["__start_of_row", "__earlier"]))
        .collect()?;
    Ok(out)
}
