//! Declared ratios (`ratio: [A, B]`): each side totalled over its own table's rows per segment group and
//! period, then divided. Accounts, which have no period, give each period of the events side their group's
//! total.

use polars::prelude::*;

use crate::catalog::Aggregate;
use crate::exec::aggregate::compile;
use crate::exec::aggregate::grouped::{group_aggs, reduced};
use crate::exec::aggregate::period_exprs::PERIOD;
use crate::exec::aggregate::rows::{enriched, table_frame};
use crate::exec::aggregate::segment::output_row;
use crate::exec::Staged;
use crate::model::Table;
use crate::plan::{Plan, Segment};

/// A declared ratio's rows: each side totalled over its own table's rows per group and period, then
/// joined; a group with rows on one side only has no denominator (no row) or a zero numerator. Accounts
/// have no period: their side is the group's accounts, whatever the period, beside each of its periods.
pub fn part(
    plan: &Plan,
    seg: &Segment,
    staged: &Staged,
    k: usize,
    keys: &[PlSmallStr],
) -> Result<LazyFrame, crate::error::Error> {
    let def = &plan.kpis[k];
    let stat = &def.stats[0];
    let Aggregate::Quotient { num, den } = &stat.aggregate else {
        return Err(crate::error::Error::Internal(format!("{} is not a ratio", def.name)));
    };
    let dims: Vec<PlSmallStr> = seg.dimensions.iter().map(|d| PlSmallStr::from(*d)).collect();
    let keys_of =
        |side: &crate::catalog::Side| if side.table == Table::Accounts { dims.clone() } else { keys.to_vec() };
    let total = |side: &crate::catalog::Side, name: &str| -> Result<LazyFrame, crate::error::Error> {
        let rows = match side.table {
            Table::Accounts => enriched(plan, Table::Accounts, seg, staged, staged.scan(Table::Accounts)?)?,
            table => table_frame(plan, table, seg, staged)?,
        };
        let rows = match &def.filter {
            Some(f) if side.table == def.table => rows.filter(compile::expr(f).fill_null(lit(false))),
            _ => rows,
        };
        let mut aggs = group_aggs(staged);
        let total = compile::side_total(side, &mut aggs).alias(name);
        let n = aggs.count_rows().cast(DataType::Int64).alias(format!("{name}_rows"));
        aggs.aggs.extend([total, n]);
        reduced(staged, rows, &keys_of(side), aggs)
    };
    let (den_keys, num_keys) = (keys_of(den), keys_of(num));
    let mut args = JoinArgs::new(JoinType::Left);
    args.nulls_equal = true; // the `all` grain without a window has a null period
    let (den_totals, num_totals) = (total(den, "__den")?, total(num, "__num")?);
    // Joined on the keys both sides have: the dimensions, and the period unless one side is accounts.
    let shared: Vec<Expr> =
        if num_keys.len() < den_keys.len() { num_keys } else { den_keys }.into_iter().map(col).collect();
    // The periods come from a side that has them: the denominator's, or the numerator's over accounts.
    let (left, right) = match den.table {
        Table::Accounts => (num_totals, den_totals),
        _ => (den_totals, num_totals),
    };
    let joined = match shared.is_empty() {
        true => left.cross_join(right, None),
        false => left.join(right, shared.clone(), shared, args),
    }
    .filter(col("__den").neq(lit(0.0)));
    let numerator = col("__num").fill_null(lit(0.0));
    let figures = [numerator.clone() / col("__den"), numerator, col("__den"), col("__den_rows")];
    Ok(joined.select(output_row(seg, def, (k, 0), stat, col(PERIOD), lit(stat.stat.as_str()), figures)))
}
