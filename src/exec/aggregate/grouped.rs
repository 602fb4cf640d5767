//! The group-bys of a run, on the engine that runs them: Polars, or the cluster (`--engine ballista`), with
//! the same reductions (`compile::GroupAggs`) and the same formulas after them.

use polars::prelude::*;

use crate::exec::aggregate::compile;
use crate::exec::Staged;
use crate::model::Table;
use crate::plan::{Plan, Segment};

/// Reductions for the engine that runs the run's group-bys: Polars, or the cluster.
pub(crate) fn group_aggs(staged: &Staged) -> compile::GroupAggs {
    match staged.on_cluster() {
        true => compile::GroupAggs::for_sql(),
        false => compile::GroupAggs::default(),
    }
}

/// `rows` counted per group of `keys`, as the `Int64` column `name`. A cluster computes the key `computed`
/// names from its expression when SQL expresses it (`SqlReductions::compute_key`), and reads the rows
/// `from` handed over once for every segment when they hold what it reads (`reduced_from`).
pub(crate) fn counted(
    staged: &Staged,
    rows: LazyFrame,
    from: Option<Table>,
    keys: &[PlSmallStr],
    name: &str,
    computed: Option<(&str, Expr)>,
) -> Result<LazyFrame, crate::error::Error> {
    let mut aggs = group_aggs(staged);
    if let (Some(sql), Some((key, e))) = (aggs.sql.as_mut(), computed) {
        sql.compute_key(key, &e);
    }
    let count = aggs.count_rows().cast(DataType::Int64);
    aggs.aggs.push(count.alias(name));
    reduced_from(staged, rows, from, keys, aggs)
}

/// `rows` grouped by the columns `keys` and reduced by `aggs` (from `group_aggs`): one row per group with
/// the keys and `aggs`' columns (one row in all without keys).
pub(crate) fn reduced(
    staged: &Staged,
    rows: LazyFrame,
    keys: &[PlSmallStr],
    aggs: compile::GroupAggs,
) -> Result<LazyFrame, crate::error::Error> {
    reduced_from(staged, rows, None, keys, aggs)
}

/// `reduced`, where `rows` are a segment's rows of table `from` (`rows::table_frame`): a cluster reads
/// that table's rows as handed over once for every segment (`segment::shared_rows`) when they hold the
/// columns the reductions read, instead of `rows` handed over for this reduction alone.
pub(crate) fn reduced_from(
    staged: &Staged,
    rows: LazyFrame,
    from: Option<Table>,
    keys: &[PlSmallStr],
    aggs: compile::GroupAggs,
) -> Result<LazyFrame, crate::error::Error> {
    let lists = aggs.lists();
    let sorted = |lf: LazyFrame| if aggs.sorted.is_empty() { lf } else { lf.with_columns(aggs.sorted.clone()) };
    match aggs.sql {
        // No keys: one row for all the rows.
        None if keys.is_empty() => {
            Ok(sorted(rows.select(aggs.aggs.clone())).with_columns(aggs.after).drop(cols(lists)))
        },
        None => {
            let by: Vec<Expr> = keys.iter().map(|k| col(k.clone())).collect();
            Ok(sorted(rows.group_by(by).agg(aggs.aggs.clone())).with_columns(aggs.after).drop(cols(lists)))
        },
        Some(sql) => {
            Ok(staged.reduce_on_cluster(rows, from, keys, &sql)?.with_columns(aggs.aggs).with_columns(aggs.after))
        },
    }
}

/// KPI `k`'s row inputs in segment `seg` on a cluster: how many SQL expresses (the cluster computes them from
/// the columns handed over), and how many the client computes first (`to_sql` cannot lower them).
#[cfg_attr(not(feature = "ballista"), allow(dead_code))]
pub fn cluster_inputs(plan: &Plan, seg: &Segment, k: usize) -> (usize, usize) {
    let def = &plan.kpis[k];
    let Some(period) = def.table.event_column() else { return (0, 0) };
    let mut aggs = compile::GroupAggs::for_sql();
    let days = crate::exec::aggregate::period_exprs::days_in_period(seg.grain, period, &plan.window);
    compile::aggregations(k, def, &days, &seg.dimensions, &mut aggs);
    aggs.sql.map(|sql| sql.split()).unwrap_or_default()
}
