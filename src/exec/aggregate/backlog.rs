//! The backlog at each period end from sorted events, not from one aggregation per period: each ticket is
//! an opening and (once resolved or closed) a closing, bucketed by the first period end they count at;
//! running totals over the periods give, per group, the tickets created before each period end (`n`) and
//! those still open at it (the value). Work follows the tickets and the periods with data, whatever the
//! calendar span between them.
//!
//! A ticket is open at the period end E when `created_at < E` and neither `resolved_at` nor `closed_at` is
//! at or before E. In whole milliseconds: the opening counts from the first E ≥ created_at + 1 ms, the
//! closing from the first E ≥ max(first end, created_at + 1 ms), so a ticket closed the instant it was
//! opened is never open.
//!
//! A night that recomputes only the periods new data touched carries the totals of the last earlier
//! period from the table it merges into, and reads only the tickets with an event after it.

use polars::prelude::*;

use crate::exec::aggregate::grouped::{group_aggs, reduced};
use crate::exec::aggregate::period_exprs::{days_since_epoch, period_start, PERIOD};
use crate::exec::aggregate::rows::enriched;
use crate::exec::aggregate::segment::output_row;
use crate::exec::Staged;
use crate::model::Table;
use crate::plan::{Plan, Segment};

const OPENED: &str = "__opened";
const CREATED: &str = "__created";
const BUCKET: &str = "__bucket";
const INDEX: &str = "__index";

/// Adds the rows of the backlog KPIs `kpis` for `periods` (sorted, `[start, end)`, grain not `all`).
pub fn parts(
    plan: &Plan,
    seg: &Segment,
    staged: &Staged,
    kpis: &[usize],
    periods: &[(jiff::civil::Date, jiff::civil::Date)],
    parts: &mut Vec<LazyFrame>,
) -> Result<(), crate::error::Error> {
    let Some(totals) = running_totals(plan, seg, staged, kpis, periods)? else {
        return Ok(());
    };
    for &k in kpis {
        let def = &plan.kpis[k];
        for (s, stat) in def.stats.iter().enumerate() {
            let figures = [
                col(OPENED).cast(DataType::Float64),
                lit(NULL).cast(DataType::Float64),
                lit(NULL).cast(DataType::Float64),
                col(CREATED),
            ];
            let stat_name = lit(stat.stat.as_str());
            parts.push(totals.clone().select(output_row(seg, def, (k, s), stat, col(PERIOD), stat_name, figures)));
        }
    }
    Ok(())
}

/// Per group and period: `PERIOD`, `OPENED` (open at the period end), `CREATED` (created before it).
fn running_totals(
    plan: &Plan,
    seg: &Segment,
    staged: &Staged,
    kpis: &[usize],
    periods: &[(jiff::civil::Date, jiff::civil::Date)],
) -> Result<Option<LazyFrame>, crate::error::Error> {
    if periods.is_empty() {
        return Ok(None);
    }
    let ms = |e: Expr| e.cast(DataType::Int64);
    let created = ms(col("created_at"));
    let ended = ms(polars::lazy::dsl::min_horizontal([col("resolved_at"), col("closed_at")])?);
    let carried = crate::exec::record::timing::traced("carried backlog", || carried_totals(plan, seg, staged, kpis))?;
    let mut tickets = staged.scan(Table::Tickets)?;
    if let Some((last, _)) = &carried {
        // Only the tickets with an event after the carried period: created, or closed, after its end.
        let end_day = crate::periods::next_start(seg.grain, *last);
        let end = lit(days_since_epoch(end_day) * 86_400_000);
        // First on the columns as staged, which the reader checks against each part's statistics: a ticket
        // that ends after `end` has a resolution or a closing after it.
        let after = |c: &str| col(c).gt_eq(crate::exec::aggregate::period_exprs::instant_literal(end_day));
        let staged_after = after("created_at").or(after("resolved_at")).or(after("closed_at")).fill_null(lit(false));
        tickets = staged
            .scan_where(plan, Table::Tickets, staged_after, seg.dimensions.contains(&"responder"))?
            .filter(created.clone().gt_eq(end.clone()).or(ended.clone().gt(end)).fill_null(lit(false)));
    }
    // The dimensions only: the columns other KPIs derive (`has_survey`, SLA targets) count nothing here.
    let dimensions = Segment {
        name: seg.name.clone(),
        dimensions: seg.dimensions.clone(),
        grain: seg.grain,
        kpis: Vec::new(),
        left_out: Vec::new(),
        compare: Vec::new(),
        fill_zero: false,
    };
    let tickets = enriched(plan, Table::Tickets, &dimensions, staged, tickets)?;
    // String dimensions, as the output (and so the carried totals) has them.
    let text_dims: Vec<Expr> = seg.dimensions.iter().map(|d| col(*d).cast(DataType::String)).collect();
    // The period an event at `t` (ms) first counts in: the first period whose end is at or after `t`.
    let bucket = |t: Expr| {
        let instant = (t - lit(1i64)).cast(DataType::Datetime(TimeUnit::Milliseconds, None));
        period_start(seg.grain, instant, &plan.window).cast(DataType::Int32).alias(BUCKET)
    };
    let event = |t: Expr, opened: i64, created: i64| {
        let mut columns = text_dims.clone();
        columns.extend([
            bucket(t),
            lit(opened).cast(DataType::Int64).alias(OPENED),
            lit(created).cast(DataType::Int64).alias(CREATED),
        ]);
        columns
    };
    let openings =
        tickets.clone().filter(created.clone().is_not_null()).select(event(created.clone() + lit(1i64), 1, 1));
    let closing_at = polars::lazy::dsl::max_horizontal([ended.clone(), created.clone() + lit(1i64)])?;
    let closings = tickets.filter(created.is_not_null().and(ended.is_not_null())).select(event(closing_at, -1, 0));
    let keys: Vec<PlSmallStr> =
        seg.dimensions.iter().map(|d| PlSmallStr::from(*d)).chain([PlSmallStr::from(BUCKET)]).collect();
    let mut events = vec![openings, closings];
    if let Some((last, totals)) = carried {
        // Events up to the carried period are in its totals; the carried totals count as its events.
        let last = days_since_epoch(last) as i32;
        events = events.into_iter().map(|e| e.filter(col(BUCKET).gt(lit(last)))).collect();
        events.push(totals);
    }
    // Per group and bucket: the cluster's work on a distributed run; the running totals below are over the
    // buckets' sums.
    let mut sums = group_aggs(staged);
    let figures = [sums.sum(col(OPENED)).alias(OPENED), sums.sum(col(CREATED)).alias(CREATED)];
    sums.aggs.extend(figures);
    let events = reduced(staged, concat(events, UnionArgs::default())?, &keys, sums)?;
    let events =
        crate::exec::record::timing::traced("backlog events", || events.collect_with_engine(Engine::Streaming))?
            .unwrap_single();
    Ok(Some(running_by_period(seg, events, periods)?))
}

/// The events' sums per group and bucket as running totals at every reported period of every group.
fn running_by_period(
    seg: &Segment,
    events: DataFrame,
    periods: &[(jiff::civil::Date, jiff::civil::Date)],
) -> Result<LazyFrame, crate::error::Error> {
    let dims: Vec<Expr> = seg.dimensions.iter().map(|d| col(*d)).collect();
    // Each bucket's first reported period: the events count from there on.
    let starts: Vec<i32> = periods.iter().map(|(s, _)| days_since_epoch(*s) as i32).collect();
    let index: Vec<u32> = events
        .column(BUCKET)?
        .i32()?
        .iter()
        .map(|b| b.map_or(starts.len(), |b| starts.partition_point(|s| *s < b)) as u32)
        .collect();
    let events = events
        .lazy()
        .with_column(Series::new(INDEX.into(), index).lit())
        .filter(col(INDEX).lt(lit(starts.len() as u32)));
    let mut by_index = dims.clone();
    by_index.push(col(INDEX));
    let deltas = events.group_by(by_index.clone()).agg([col(OPENED).sum(), col(CREATED).sum()]);
    // Every group at every reported period, then running totals in period order.
    let all_periods = DataFrame::new(
        starts.len(),
        vec![
            Column::new(INDEX.into(), (0..starts.len() as u32).collect::<Vec<_>>()),
            Column::new(PERIOD.into(), starts.clone()).cast(&DataType::Date)?,
        ],
    )?
    .lazy();
    let grid = if dims.is_empty() {
        all_periods
    } else {
        deltas.clone().select(dims.clone()).unique(None, UniqueKeepStrategy::Any).cross_join(all_periods, None)
    };
    let mut args = JoinArgs::new(JoinType::Left);
    args.nulls_equal = true;
    let mut order = seg.dimensions.iter().map(|d| PlSmallStr::from(*d)).collect::<Vec<_>>();
    order.push(INDEX.into());
    let running = |c: &str| {
        let sum = col(c).fill_null(lit(0i64)).cum_sum(false);
        if dims.is_empty() {
            Ok(sum)
        } else {
            sum.over(dims.clone())
        }
    };
    let totals = grid
        .join(deltas, by_index.clone(), by_index, args)
        .sort(order, SortMultipleOptions::default().with_nulls_last(true).with_maintain_order(true))
        .with_columns([running(OPENED)?.alias(OPENED), running(CREATED)?.alias(CREATED)]);
    Ok(totals)
}

/// When only the periods new data touched are recomputed, merged into an earlier run's table: that
/// table's backlog at its last period before the first touched one (whether or not that one still has
/// data), per group, as events of that period (`BUCKET`, `OPENED`, `CREATED`). Nothing before the first
/// touched period changed, so those totals are what the tickets up to then give, and only later events need
/// reading. `None` when there is no such table or period (everything is read).
fn carried_totals(
    plan: &Plan,
    seg: &Segment,
    staged: &Staged,
    kpis: &[usize],
) -> Result<Option<(jiff::civil::Date, LazyFrame)>, crate::error::Error> {
    let (Some(dir), Some(&first)) = (&staged.earlier, staged.only.get(&seg.name).and_then(|d| d.first())) else {
        return Ok(None);
    };
    let Some(&k) = kpis.first() else { return Ok(None) };
    let (def, stat) = (&plan.kpis[k], &plan.kpis[k].stats[0]);
    let backlog_rows = col("kpi").eq(lit(def.name.as_str())).and(col("stat").eq(lit(stat.stat.as_str())));
    let before = lit(first).cast(DataType::Date);
    let rows = match plan.layout {
        crate::plan::Layout::Single => {
            let path = dir.join(format!("{}.parquet", seg.name));
            if !path.is_file() {
                return Ok(None);
            }
            crate::exec::scan_file(&path)?
                .filter(backlog_rows)
                .filter(col(PERIOD).lt(before))
                .filter(col(PERIOD).eq(col(PERIOD).max()))
                .collect()?
        },
        // One folder per period: the latest before the first touched one that holds the backlog.
        crate::plan::Layout::Hive => {
            let table = dir.join(&seg.name);
            let mut earlier: Vec<(std::ffi::OsString, i32)> = crate::sink::partitions_on_disk(&table)
                .into_iter()
                .filter_map(|(folder, day)| Some((folder, day.filter(|d| *d < first)?)))
                .collect();
            earlier.sort_by_key(|(_, day)| std::cmp::Reverse(*day));
            let backlog_of = |(folder, day): &(std::ffi::OsString, i32)| {
                crate::exec::scan_file(&crate::sink::part_parquet(&table, folder))?
                    .filter(backlog_rows.clone())
                    .with_column(lit(*day).cast(DataType::Date).alias(PERIOD))
                    .collect()
            };
            let found = earlier.iter().map(backlog_of).find(|rows| rows.as_ref().map_or(true, |r| r.height() > 0));
            match found.transpose()? {
                Some(rows) => rows,
                None => return Ok(None),
            }
        },
    };
    let periods = rows.column(PERIOD)?.date()?.physical();
    let Some(last) = (rows.height() > 0).then(|| periods.get(0)).flatten() else { return Ok(None) };
    let mut columns: Vec<Expr> = seg.dimensions.iter().map(|d| col(*d)).collect();
    columns.extend([
        lit(last).alias(BUCKET),
        col("value").cast(DataType::Int64).alias(OPENED),
        col("n").cast(DataType::Int64).alias(CREATED),
    ]);
    let last = crate::periods::from_epoch_days(last as i64);
    Ok(Some((last, rows.lazy().select(columns))))
}
