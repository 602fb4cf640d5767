//! One segment's KPI table: its rows (`rows`: the facts in the window, joined to the lookups the dimensions
//! need) grouped by dimensions × period, aggregated by the compiled KPI definitions, and turned into the long
//! output format.

use std::collections::BTreeMap;

use polars::prelude::*;

use crate::catalog::{Aggregate, KpiDefinition, StatDef};
use crate::exec::aggregate::compile::{self, part};
use crate::exec::aggregate::grouped::{counted, group_aggs, reduced, reduced_from};
use crate::exec::aggregate::period_exprs::*;
use crate::exec::aggregate::rows::*;
use crate::exec::Staged;
use crate::model::{self, Table};
use crate::plan::{Grain, Plan, Segment};

/// Tickets of a group, joined in for KPIs per ticket.
const TICKETS: &str = "__tickets";
/// A boundary period's first day and the next period's, as days since the epoch (`snapshot_parts`).
const START_DAY: &str = "__start_day";
const END_DAY: &str = "__end_day";

/// Output columns after the dimensions, in order.
pub const OUTPUT_COLUMNS: [&str; 9] =
    ["period_start", "kpi", "stat", "value", "unit", "numerator", "denominator", "n", "low_sample"];

/// The dates the boundary KPIs are measured over: the window, or the tickets' (else surveys') first to last
/// day.
fn date_range(plan: &Plan, staged: &Staged) -> Result<(jiff::civil::Date, jiff::civil::Date), crate::error::Error> {
    if let (Some(from), Some(to)) = (plan.window.from, plan.window.to) {
        return Ok((from, to));
    }
    let table = [Table::Tickets, Table::Surveys, Table::Spend]
        .into_iter()
        .find(|t| plan.sources_of(*t).next().is_some())
        .ok_or_else(|| crate::error::Error::Internal("boundary KPIs need a window or event data".into()))?;
    let day = match table.period_column() {
        Some(period) => col(period).dt().date().cast(DataType::Int32),
        None => col("period").cast(DataType::Int32),
    };
    let epoch = jiff::civil::date(1970, 1, 1);
    // The range ends on the day after the last one.
    let (lo, hi) = match day_span(staged.scan(table)?, day.clone().min(), day.max())? {
        Some((first, last)) => (first, last.tomorrow().unwrap_or(last)),
        None => (epoch, epoch),
    };
    Ok((plan.window.from.unwrap_or(lo), plan.window.to.unwrap_or(hi)))
}

/// The periods the boundary KPIs are measured for: those of the window (or the data's span) in which the
/// timeline table has rows. Periods without data get no row, so that one stray old timestamp costs one
/// period, not one per period of the calendar between it and the rest.
fn boundary_periods(
    plan: &Plan,
    seg: &Segment,
    staged: &Staged,
) -> Result<Vec<(jiff::civil::Date, jiff::civil::Date)>, crate::error::Error> {
    let only = staged.only.get(&seg.name);
    let (from, to) = match touched_span(seg, staged) {
        // Only the touched periods are kept below: they bound the calendar, without a pass over the data.
        Some((first, after_last)) if seg.grain != Grain::All => {
            (plan.window.from.unwrap_or(first), plan.window.to.unwrap_or(after_last))
        },
        _ => date_range(plan, staged)?,
    };
    if seg.grain == Grain::All {
        return Ok(crate::periods::periods(seg.grain, from, to));
    }
    let Some(table) =
        [Table::Tickets, Table::Surveys, Table::Spend].into_iter().find(|t| plan.sources_of(*t).next().is_some())
    else {
        return Ok(Vec::new());
    };
    let day = match table.period_column() {
        Some(period) => col(period).dt().date(),
        None => col("period"),
    };
    let distinct_days = |rows: LazyFrame| -> Result<Vec<i32>, crate::error::Error> {
        let days = rows
            .select([day.clone().cast(DataType::Int32).alias("__day")])
            .filter(col("__day").is_not_null())
            .unique(None, UniqueKeepStrategy::Any)
            .collect()?;
        Ok(days.column("__day")?.i32()?.iter().flatten().collect())
    };
    let days = match (table.period_column(), touched_span(seg, staged)) {
        (Some(period), Some((first, after_last))) => {
            let rows = staged.scan_within(plan, table, first, after_last)?;
            distinct_days(within_touched_range(rows, seg, staged, period))?
        },
        // Computed whole: the same days for every segment, found once (10M tickets: 1–1.4 s a segment).
        _ => match staged.data_days.get() {
            Some(days) => days.clone(),
            None => {
                let days = distinct_days(staged.scan(table)?)?;
                staged.data_days.get_or_init(|| days).clone()
            },
        },
    };
    let mut with_data: Vec<jiff::civil::Date> =
        days.iter().map(|d| crate::periods::start_of(seg.grain, crate::periods::from_epoch_days(*d as i64))).collect();
    with_data.sort();
    with_data.dedup();
    Ok(crate::periods::periods(seg.grain, from, to)
        .into_iter()
        .filter(|(start, _)| with_data.binary_search(start).is_ok())
        .filter(|(start, _)| only.is_none_or(|days| days.contains(&(days_since_epoch(*start) as i32))))
        .collect())
}

/// A mix over more values than this is counted by a group-by of its own.
const FOLDED_MIX_VALUES: usize = 32;

/// The values a mix over `of` can take in `table`, sorted, when they can be listed before the segment's
/// aggregation: `of` is a column of the staged table that the joins do not fill (a survey's channel can come
/// from its ticket, a sector from its account), with at most `FOLDED_MIX_VALUES` values. The mix is then
/// counted inside the segment's one group-by instead of a pass of its own over the rows and their joins
/// (1M tickets: the channel and category mixes of sector × month took 0.24 of its 0.6 s).
fn mix_labels(
    plan: &Plan,
    seg: &Segment,
    staged: &Staged,
    table: Table,
    of: &str,
) -> Result<Option<Vec<String>>, crate::error::Error> {
    let joined =
        model::FROM_ACCOUNT.contains(&of) || (table.inherits_ticket() && model::SURVEY_FROM_TICKET.contains(&of));
    // On a night, the rows of the parts the touched periods read (filtered to those periods below).
    let mut rows = match (table.period_column(), touched_span(seg, staged)) {
        (Some(_), Some((from, to))) => staged.scan_within(plan, table, from, to)?,
        _ => staged.scan(table)?,
    };
    if joined || !rows.collect_schema()?.contains(of) {
        return Ok(None);
    }
    if let Some(period) = table.period_column() {
        rows = within_touched_range(rows, seg, staged, period);
    }
    let values = rows
        .select([compile::mix_label(of).alias("label")])
        .unique(None, UniqueKeepStrategy::Any)
        .limit(FOLDED_MIX_VALUES as IdxSize + 1)
        .collect()?;
    if values.height() > FOLDED_MIX_VALUES {
        return Ok(None);
    }
    let mut labels: Vec<String> = values.column("label")?.str()?.iter().flatten().map(str::to_string).collect();
    labels.sort();
    Ok(Some(labels))
}

/// Rows of the boundary KPIs (backlog, retention, churn) of `table`. The backlog comes from sorted events
/// (`backlog`); the others, over accounts, from one aggregation per period boundary, in one pass grouped by
/// the dimensions only.
fn snapshot_parts(
    plan: &Plan,
    seg: &Segment,
    staged: &Staged,
    table: Table,
    kpis: &[usize],
    periods: &[(jiff::civil::Date, jiff::civil::Date)],
    parts: &mut Vec<LazyFrame>,
) -> Result<(), crate::error::Error> {
    if table == Table::Spend {
        return crate::exec::aggregate::acquisition::parts(plan, seg, staged, kpis, periods, parts);
    }
    if table == Table::Tickets && seg.grain != Grain::All {
        return crate::exec::aggregate::backlog::parts(plan, seg, staged, kpis, periods, parts);
    }
    // Every row once per period, and one aggregation for all the periods: a plan with an aggregation per
    // period grew with them (53 weeks: 0.1 s to plan and run for 500 accounts).
    let starts: Vec<i32> = periods.iter().map(|(start, _)| days_since_epoch(*start) as i32).collect();
    let ends: Vec<i32> = periods.iter().map(|(_, end)| days_since_epoch(*end) as i32).collect();
    let bounds =
        DataFrame::new(periods.len(), vec![Column::new(START_DAY.into(), starts), Column::new(END_DAY.into(), ends)])?;
    let lf = enriched(plan, table, seg, staged, staged.scan(table)?)?.cross_join(bounds.lazy(), None);
    let mut aggs = group_aggs(staged);
    for &k in kpis {
        for (s, stat) in plan.kpis[k].stats.iter().enumerate() {
            let exprs = compile::snapshot(&stat.aggregate, col(START_DAY), col(END_DAY), &mut aggs);
            for (name, e) in compile::PARTS.iter().zip(exprs) {
                aggs.aggs.push(e.alias(part(k, s, name)));
            }
        }
    }
    let key_names: Vec<PlSmallStr> =
        seg.dimensions.iter().map(|d| PlSmallStr::from(*d)).chain([START_DAY.into()]).collect();
    let grouped = reduced(staged, lf, &key_names, aggs)?.cache();
    let period = boundary_period(plan, seg, col(START_DAY).cast(DataType::Date));
    for &k in kpis {
        let def = &plan.kpis[k];
        for (s, stat) in def.stats.iter().enumerate() {
            let figures = compile::PARTS.map(|name| col(part(k, s, name)));
            let stat_name = lit(stat.stat.as_str());
            parts.push(grouped.clone().select(output_row(seg, def, (k, s), stat, period.clone(), stat_name, figures)));
        }
    }
    Ok(())
}

/// One KPI stat's output columns: the dimensions, then `OUTPUT_COLUMNS`, then the sort keys `__k`, `__s`.
/// `figures` are value, numerator, denominator and n.
pub(crate) fn output_row(
    seg: &Segment,
    def: &KpiDefinition,
    (k, s): (usize, usize),
    stat: &StatDef,
    period: Expr,
    stat_name: Expr,
    figures: [Expr; 4],
) -> Vec<Expr> {
    let [value, numerator, denominator, n] = figures;
    let n = n.cast(DataType::Int64);
    // An exact count is not a sample; everything else is an estimate that can be thin.
    let exact = matches!(stat.aggregate, Aggregate::Count | Aggregate::OpenAtPeriodEnd | Aggregate::Sum(_));
    let low = if exact { lit(false) } else { n.clone().lt(lit(def.min_sample as i64)) };
    let mut cols: Vec<Expr> = seg.dimensions.iter().map(|d| col(*d).cast(DataType::String)).collect();
    cols.extend([
        period.alias(PERIOD),
        lit(def.name.as_str()).alias("kpi"),
        stat_name.alias("stat"),
        value.alias("value"),
        lit(stat.unit.as_str()).alias("unit"),
        numerator.alias("numerator"),
        denominator.alias("denominator"),
        n.alias("n"),
        low.alias("low_sample"),
        lit(k as u32).alias("__k"),
        lit(s as u32).alias("__s"),
    ]);
    cols
}

/// The segment's long-format KPI table, sorted by dimensions, period, KPI (declaration order), stat.
pub fn segment_frame(plan: &Plan, seg: &Segment, staged: &Staged) -> Result<LazyFrame, crate::error::Error> {
    Ok(finish(seg, concat(segment_parts(plan, seg, staged)?, UnionArgs::default())?))
}

/// On a cluster, the rows of a table that segments reduce, prepared once with every dimension and column
/// those segments read (`shared_rows`).
#[cfg(feature = "ballista")]
pub struct SharedRows {
    pub table: Table,
    pub rows: LazyFrame,
    /// How many segments reduce them.
    pub readers: usize,
    /// The same rows as the executors read them from the store's parts, when they can.
    pub from_store: Option<crate::exec::cluster::from_store::StoreRows>,
}

/// On a cluster, the rows of each table that segments reduce (`segment_parts`' main reductions and
/// per-ticket counts), prepared once with every dimension and column those segments read: read by the
/// executors from the store's parts when they can (`from_store`), else handed over once instead of once
/// per segment when two or more segments reduce them. A segment's rows of a table differ from these only in
/// the dimensions joined (lookups, which neither add nor drop rows) and the columns derived, so a reduction
/// that reads columns these hold gives the same groups from them (`Staged::reduce_on_cluster` checks).
#[cfg(feature = "ballista")]
pub fn shared_rows(
    plan: &Plan,
    staged: &Staged,
    store: &crate::exec::cluster::from_store::StoreReads,
) -> Result<Vec<SharedRows>, crate::error::Error> {
    let mut shared = Vec::new();
    for (table, wide, readers) in reducing_segments(plan) {
        let mut rows = table_frame(plan, table, &wide, staged)?;
        let schema = rows.collect_schema()?;
        let mut columns: Vec<&str> = Vec::new();
        push_new(&mut columns, wide.dimensions.iter().copied().chain([period_of(plan, table)]));
        push_new(&mut columns, wide.kpis.iter().flat_map(|k| plan.kpis[*k].columns()));
        columns.retain(|c| schema.contains(c));
        let from_store = crate::exec::cluster::from_store::store_rows(plan, staged, store, table, &wide, &columns)?;
        if from_store.is_none() && readers < 2 {
            continue;
        }
        let rows = rows.select(columns.into_iter().map(col).collect::<Vec<_>>());
        shared.push(SharedRows { table, rows, readers, from_store });
    }
    Ok(shared)
}

/// Per table that segments' main reductions and per-ticket counts read: a segment with every dimension and
/// KPI of those segments over it (named `__<table>`, the first one's grain), and how many segments they
/// are.
#[cfg(feature = "ballista")]
pub fn reducing_segments(plan: &Plan) -> Vec<(Table, Segment, usize)> {
    let main = |k: &usize| !is_snapshot(plan, *k) && !is_quotient(plan, *k);
    let per_ticket = |k: &usize| is_per_ticket(plan, *k);
    let mut readers: BTreeMap<Table, Vec<(&Segment, Vec<usize>)>> = BTreeMap::new();
    for seg in &plan.segments {
        let kpis: Vec<usize> = seg.kpis.iter().copied().filter(main).collect();
        let mut tables: Vec<Table> = kpis.iter().map(|k| plan.kpis[*k].table).collect();
        if kpis.iter().any(per_ticket) {
            tables.push(Table::Tickets);
        }
        tables.sort();
        tables.dedup();
        for table in tables {
            let own = kpis.iter().copied().filter(|k| plan.kpis[*k].table == table).collect();
            readers.entry(table).or_default().push((seg, own));
        }
    }
    let mut out = Vec::new();
    for (table, segments) in readers {
        let mut dimensions: Vec<&'static str> = Vec::new();
        let mut kpis: Vec<usize> = Vec::new();
        for (seg, own) in &segments {
            push_new(&mut dimensions, seg.dimensions.iter().copied());
            push_new(&mut kpis, own.iter().copied());
        }
        let grain = segments[0].0.grain;
        let wide = Segment {
            name: format!("__{table}"),
            dimensions,
            grain,
            kpis,
            left_out: Vec::new(),
            compare: Vec::new(),
            fill_zero: false,
        };
        out.push((table, wide, segments.len()));
    }
    out
}

/// Whether KPI `k` reads the table at period boundaries (`segment_parts`' snapshot tables).
fn is_snapshot(plan: &Plan, k: usize) -> bool {
    plan.kpis[k].stats.iter().any(|s| s.aggregate.is_snapshot())
}

/// Whether KPI `k` divides two tables' totals (`ratio::part`).
fn is_quotient(plan: &Plan, k: usize) -> bool {
    plan.kpis[k].stats.iter().any(|s| matches!(s.aggregate, Aggregate::Quotient { .. }))
}

/// Whether KPI `k` divides by the tickets of its group (`TICKETS`, counted beside its reduction).
fn is_per_ticket(plan: &Plan, k: usize) -> bool {
    plan.kpis[k].stats.iter().any(|s| matches!(s.aggregate, Aggregate::PerTicket(_)))
}

/// `items` appended to `list`, each unless it is there already.
#[cfg(feature = "ballista")]
fn push_new<T: PartialEq>(list: &mut Vec<T>, items: impl IntoIterator<Item = T>) {
    for item in items {
        if !list.contains(&item) {
            list.push(item);
        }
    }
}

/// The segment's rows, one frame per table they are computed from, unsorted; `finish` completes them. Each
/// can be computed on its own, so that a large run holds one table's aggregation state at a time.
pub fn segment_parts(plan: &Plan, seg: &Segment, staged: &Staged) -> Result<Vec<LazyFrame>, crate::error::Error> {
    let mut tables: Vec<Table> = Vec::new();
    let mut snapshot_tables: Vec<Table> = Vec::new();
    for &k in seg.kpis.iter().filter(|k| !is_quotient(plan, **k)) {
        let list = if is_snapshot(plan, k) { &mut snapshot_tables } else { &mut tables };
        if !list.contains(&plan.kpis[k].table) {
            list.push(plan.kpis[k].table);
        }
    }
    let keys: Vec<Expr> = seg.dimensions.iter().map(|d| col(*d)).chain([col(PERIOD)]).collect();
    let key_names: Vec<PlSmallStr> =
        seg.dimensions.iter().map(|d| PlSmallStr::from(*d)).chain([PERIOD.into()]).collect();
    let mut by_table = Vec::new();
    for table in tables {
        by_table.push(table_part(plan, seg, staged, table, &keys, &key_names)?);
    }
    for k in seg.kpis.iter().copied().filter(|k| is_quotient(plan, *k)) {
        by_table.push(crate::exec::aggregate::ratio::part(plan, seg, staged, k, &key_names)?);
    }
    // The same periods for every table's boundary KPIs: found once (a pass over the tickets' days).
    let periods = match snapshot_tables.is_empty() {
        true => Vec::new(),
        false => crate::exec::record::timing::traced("boundary periods", || boundary_periods(plan, seg, staged))?,
    };
    for table in snapshot_tables {
        let kpis: Vec<usize> =
            seg.kpis.iter().copied().filter(|k| plan.kpis[*k].table == table && is_snapshot(plan, *k)).collect();
        let mut parts = Vec::new();
        snapshot_parts(plan, seg, staged, table, &kpis, &periods, &mut parts)?;
        // No period with data (no kept row at all): the boundary KPIs have no row.
        if !parts.is_empty() {
            by_table.push(concat(parts, UnionArgs::default())?);
        }
    }
    if by_table.is_empty() {
        by_table.push(no_rows(seg));
    }
    Ok(by_table)
}

/// The segment's rows of the KPIs computed from `table` (not boundary or quotient KPIs): one group-by of
/// the table's rows for all of them, then a row per KPI, statistic and group.
fn table_part(
    plan: &Plan,
    seg: &Segment,
    staged: &Staged,
    table: Table,
    keys: &[Expr],
    key_names: &[PlSmallStr],
) -> Result<LazyFrame, crate::error::Error> {
    let mut parts = Vec::new();
    let kpis: Vec<usize> = seg
        .kpis
        .iter()
        .copied()
        .filter(|k| plan.kpis[*k].table == table && !is_snapshot(plan, *k) && !is_quotient(plan, *k))
        .collect();
    let period = table.event_column().expect("KPI tables have an event column");
    let days = days_in_period(seg.grain, period, &plan.window);
    let mut aggs = group_aggs(staged);
    let mut folded: BTreeMap<(usize, usize), Vec<String>> = BTreeMap::new();
    for k in &kpis {
        compile::aggregations(*k, &plan.kpis[*k], &days, &seg.dimensions, &mut aggs);
        for (s, stat) in plan.kpis[*k].stats.iter().enumerate() {
            if let Aggregate::Mix { of } = stat.aggregate {
                if let Some(labels) = mix_labels(plan, seg, staged, table, of)? {
                    compile::mix_counts(*k, s, &plan.kpis[*k], of, &labels, &mut aggs);
                    folded.insert((*k, s), labels);
                }
            }
        }
    }
    let rows = table_frame(plan, table, seg, staged)?;
    // On a cluster, the period starts are computed there, from the period column.
    let period_key = |t: Table| (PERIOD, period_start(seg.grain, col(period_of(plan, t)), &plan.window));
    if let Some(sql) = aggs.sql.as_mut() {
        let (key, e) = period_key(table);
        sql.compute_key(key, &e);
    }
    let mut grouped = reduced_from(staged, rows.clone(), Some(table), key_names, aggs)?;
    if kpis.iter().any(|k| is_per_ticket(plan, *k)) {
        let tickets = match table {
            Table::Tickets => rows.clone(),
            _ => table_frame(plan, Table::Tickets, seg, staged)?,
        };
        let tickets =
            counted(staged, tickets, Some(Table::Tickets), key_names, TICKETS, Some(period_key(Table::Tickets)))?;
        let mut args = JoinArgs::new(JoinType::Left);
        args.nulls_equal = true; // the `all` grain without a window has a null period
        grouped = grouped.join(tickets, keys.to_vec(), keys.to_vec(), args);
    }
    // One aggregation for all the KPIs' rows, turned long by one select: each group's output rows as a list
    // of structs, exploded. (A union of one select per KPI stat over the cached aggregation gave the same rows,
    // but Polars' optimiser spent 40 ms on such a plan, each time: most of a night's segment time.)
    let dims = seg.dimensions.len();
    let mut rows_of_group: Vec<Expr> = Vec::new();
    for k in kpis {
        let def = &plan.kpis[k];
        for (s, stat) in def.stats.iter().enumerate() {
            if let Some(labels) = folded.get(&(k, s)) {
                // A mix's rows are named by the value they measure; a group has a row for each value it has.
                for (i, label) in labels.iter().enumerate() {
                    let (figures, count) = compile::mix_figures(k, s, i);
                    let row = output_row(seg, def, (k, s), stat, col(PERIOD), lit(label.as_str()), figures);
                    let row = as_struct(row[dims..].to_vec());
                    rows_of_group.push(when(count.gt(lit(0i64))).then(row).otherwise(lit(NULL)));
                }
                continue;
            }
            if let Aggregate::Mix { of } = stat.aggregate {
                // A mix's rows are named by the value they measure.
                let figures = [col("value"), col("numerator"), col("denominator"), col("n")];
                let cols = output_row(seg, def, (k, s), stat, col(PERIOD), col("stat"), figures);
                parts.push(mix(staged, rows.clone(), key_names, def, of)?.select(cols));
                continue;
            }
            let mut figures = compile::PARTS.map(|name| col(part(k, s, name)));
            if let Aggregate::PerTicket(_) = stat.aggregate {
                let tickets = col(TICKETS).fill_null(lit(0i64));
                let numerator = col(part(k, s, "numerator"));
                figures = [
                    when(tickets.clone().gt(lit(0i64)))
                        .then(numerator.clone() / tickets.clone().cast(DataType::Float64))
                        .otherwise(lit(NULL).cast(DataType::Float64)),
                    numerator,
                    tickets.clone().cast(DataType::Float64),
                    tickets,
                ];
            }
            let stat_name = lit(stat.stat.as_str());
            let row = output_row(seg, def, (k, s), stat, col(PERIOD), stat_name, figures);
            rows_of_group.push(as_struct(row[dims..].to_vec()));
        }
    }
    if !rows_of_group.is_empty() {
        const ROWS: &str = "__rows";
        let mut select: Vec<Expr> = seg.dimensions.iter().map(|d| col(*d).cast(DataType::String)).collect();
        select.push(concat_list(rows_of_group)?.alias(ROWS));
        let options = ExplodeOptions { empty_as_null: false, keep_nulls: false };
        let long = grouped
            .select(select)
            .explode(cols([ROWS]), options)
            .filter(col(ROWS).is_not_null())
            .unnest(cols([ROWS]), None);
        parts.insert(0, long);
    }
    Ok(concat(parts, UnionArgs::default())?)
}

/// A segment table without rows, typed as `output_row` makes them.
fn no_rows(seg: &Segment) -> LazyFrame {
    let mut columns: Vec<Column> =
        seg.dimensions.iter().map(|d| Column::new_empty((*d).into(), &DataType::String)).collect();
    let typed = [
        (PERIOD, DataType::Date),
        ("kpi", DataType::String),
        ("stat", DataType::String),
        ("value", DataType::Float64),
        ("unit", DataType::String),
        ("numerator", DataType::Float64),
        ("denominator", DataType::Float64),
        ("n", DataType::Int64),
        ("low_sample", DataType::Boolean),
        ("__k", DataType::UInt32),
        ("__s", DataType::UInt32),
    ];
    columns.extend(typed.iter().map(|(name, dtype)| Column::new_empty((*name).into(), dtype)));
    DataFrame::new(0, columns).expect("distinct names").lazy()
}

/// A `Mix` stat counted by a group-by of its own: per group and value, the rows (`compile::mix_shares`).
fn mix(
    staged: &Staged,
    rows: LazyFrame,
    key_names: &[PlSmallStr],
    def: &KpiDefinition,
    of: &str,
) -> Result<LazyFrame, crate::error::Error> {
    let by: Vec<PlSmallStr> = key_names.iter().cloned().chain(["stat".into()]).collect();
    let counts = counted(staged, compile::mix_rows(rows, def, of), None, &by, "__count", None)?;
    Ok(compile::mix_shares(counts, key_names)?)
}

/// The segment's rows (from `segment_parts`) with empty figures dropped, sorted.
pub fn finish(seg: &Segment, all: LazyFrame) -> LazyFrame {
    let mut sort_by: Vec<PlSmallStr> = seg.dimensions.iter().map(|d| PlSmallStr::from(*d)).collect();
    sort_by.extend([PERIOD.into(), "__k".into(), "__s".into(), "stat".into()]);
    all.filter(col("n").gt(lit(0i64)).and(col("value").is_not_null()).and(col("value").is_not_nan()))
        .sort(sort_by, SortMultipleOptions::default().with_nulls_last(true).with_maintain_order(true))
        .drop(cols(["__k", "__s"]))
}
