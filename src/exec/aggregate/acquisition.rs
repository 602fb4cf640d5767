//! CAC and CLV: per period, spend (the spend table) against the accounts acquired and retained (the accounts
//! table), the two grouped apart by the segment's dimensions and joined. Spend's `channel` meets the accounts'
//! `acquisition_channel`, the one dimension they share.

use polars::prelude::*;

use crate::catalog::Aggregate;
use crate::error::Error;
use crate::exec::aggregate::grouped::{group_aggs, reduced};
use crate::exec::aggregate::period_exprs::{boundary_period, date_literal, days_since_epoch};
use crate::exec::aggregate::segment::output_row;
use crate::exec::Staged;
use crate::model::Table;
use crate::plan::{Plan, Segment};

const DAYS_PER_YEAR: f64 = 365.25;

/// Output rows of the segment's CAC and CLV KPIs (`kpis`) over `periods`, appended to `parts`.
pub fn parts(
    plan: &Plan,
    seg: &Segment,
    staged: &Staged,
    kpis: &[usize],
    periods: &[(jiff::civil::Date, jiff::civil::Date)],
    parts: &mut Vec<LazyFrame>,
) -> Result<(), Error> {
    let dims: Vec<PlSmallStr> = seg.dimensions.iter().map(|d| PlSmallStr::from(*d)).collect();
    let accounts = staged.scan(Table::Accounts)?;
    let date = |d: i32| lit(d).cast(DataType::Date);
    let (mut account_aggs, mut spend_aggs) = (group_aggs(staged), group_aggs(staged));
    for (i, (start, end)) in periods.iter().enumerate() {
        let (sd, ed) = (days_since_epoch(*start) as i32, days_since_epoch(*end) as i32);
        let since = col("customer_since");
        let acquired = since.clone().gt_eq(date(sd)).and(since.clone().lt(date(ed))).fill_null(lit(false));
        let customer_at_end = since
            .clone()
            .lt(date(ed))
            .fill_null(lit(false))
            .and(col("churned_at").is_null().or(col("churned_at").gt_eq(date(ed))));
        let revenue = when(customer_at_end).then(col("annual_revenue")).otherwise(lit(NULL).cast(DataType::Float64));
        let ended = col("churned_at").lt(date(ed)).fill_null(lit(false));
        let length_days =
            (col("churned_at").cast(DataType::Int32) - since.cast(DataType::Int32)).cast(DataType::Float64);
        let length = when(ended).then(length_days).otherwise(lit(NULL).cast(DataType::Float64));
        let a = &mut account_aggs;
        let figures = [
            a.count_true(acquired).alias(format!("__acquired{i}")),
            a.exact_sum(revenue.clone()).alias(format!("__revenue_sum{i}")),
            a.count(revenue).cast(DataType::Int64).alias(format!("__revenue_n{i}")),
            a.sum(length.clone()).alias(format!("__length_sum{i}")),
            a.count(length).cast(DataType::Int64).alias(format!("__length_n{i}")),
        ];
        a.aggs.extend(figures);
        let in_period = col("period").gt_eq(date(sd)).and(col("period").lt(date(ed))).fill_null(lit(false));
        let spent =
            spend_aggs.exact_sum(when(in_period).then(col("amount")).otherwise(lit(NULL).cast(DataType::Float64)));
        spend_aggs.aggs.push(spent.alias(format!("__spend{i}")));
    }
    let mut spend = staged.scan(Table::Spend)?;
    if seg.dimensions.contains(&"acquisition_channel") {
        spend = spend.with_column(col("channel").alias("acquisition_channel"));
    }
    let (a, s) = (reduced(staged, accounts, &dims, account_aggs)?, reduced(staged, spend, &dims, spend_aggs)?);
    let joined = if dims.is_empty() {
        a.cross_join(s, None)
    } else {
        let on: Vec<Expr> = dims.into_iter().map(col).collect();
        a.join(s, on.clone(), on, JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns))
    }
    .cache();
    for &k in kpis {
        let def = &plan.kpis[k];
        for (s, stat) in def.stats.iter().enumerate() {
            for (i, (start, _)) in periods.iter().enumerate() {
                let p = |name: &str| col(format!("__{name}{i}"));
                let acquired = p("acquired").fill_null(lit(0i64));
                let spent = p("spend");
                let cac = when(acquired.clone().gt(lit(0i64)))
                    .then(spent.clone() / acquired.clone().cast(DataType::Float64))
                    .otherwise(lit(NULL).cast(DataType::Float64));
                let null = || lit(NULL).cast(DataType::Float64);
                let figures = match &stat.aggregate {
                    Aggregate::Cac => [cac, spent, acquired.clone().cast(DataType::Float64), acquired],
                    Aggregate::Clv { relationship_years } => {
                        let revenue_n = p("revenue_n").fill_null(lit(0i64));
                        let per_customer = p("revenue_sum") / revenue_n.clone().cast(DataType::Float64);
                        let years = match relationship_years {
                            Some(y) => lit(*y),
                            None => p("length_sum") / p("length_n").cast(DataType::Float64) / lit(DAYS_PER_YEAR),
                        };
                        [per_customer * years - cac, null(), null(), revenue_n]
                    },
                    other => unreachable!("{other:?} is not an acquisition aggregate"),
                };
                let period = boundary_period(plan, seg, date_literal(*start));
                let stat_name = lit(stat.stat.as_str());
                parts.push(joined.clone().select(output_row(seg, def, (k, s), stat, period, stat_name, figures)));
            }
        }
    }
    Ok(())
}
