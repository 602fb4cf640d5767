//! Lowers engine-neutral KPI definitions (`catalog`) to Polars expressions. The only place that knows how a
//! definition becomes an aggregation in Polars.

use polars::prelude::*;

use crate::catalog::expr::{CmpOp, Expr as N};
use crate::catalog::{Aggregate, KpiDefinition};

/// A row expression; durations in seconds.
pub fn expr(e: &N) -> Expr {
    match e {
        N::Col(c) => col(*c),
        N::Int(v) => lit(*v),
        N::Float(v) => lit(*v),
        N::Text(v) => lit(v.as_str()),
        N::SecondsBetween { start, end } => milliseconds_between(start, end) / lit(1000.0),
        N::Cmp(a, op, b) => {
            let (a, b) = (expr(a), expr(b));
            match op {
                CmpOp::Eq => a.eq(b),
                CmpOp::Lt => a.lt(b),
                CmpOp::LtEq => a.lt_eq(b),
                CmpOp::Gt => a.gt(b),
                CmpOp::GtEq => a.gt_eq(b),
            }
        },
        N::And(all) => all.iter().map(expr).reduce(|a, b| a.and(b)).unwrap_or(lit(true)),
        N::Or(all) => all.iter().map(expr).reduce(|a, b| a.or(b)).unwrap_or(lit(false)),
        N::Not(e) => expr(e).not(),
        N::IsNotNull(e) => expr(e).is_not_null(),
        N::Sql { text, .. } => {
            let sql = crate::plan::Sql { text: text.clone(), at: Default::default() };
            crate::plan::parse_sql(&sql, "").expect("a metric's SQL was parsed when the plan was built")
        },
        N::InList(e, values) => one_of(expr(e), values),
    }
}

/// `e` equals one of `values`. A chain of comparisons rather than `is_in` with a list literal: the streaming
/// engine streams the former, and fell back to holding whole tables for the latter.
pub fn one_of<S: AsRef<str>>(e: Expr, values: &[S]) -> Expr {
    values.iter().map(|v| e.clone().eq(lit(v.as_ref()))).reduce(|a, b| a.or(b)).unwrap_or(lit(false))
}

fn milliseconds_between(start: &str, end: &str) -> Expr {
    (col(end) - col(start)).dt().total_milliseconds(false).cast(DataType::Float64)
}

/// A measure and the factor that turns its unit into the KPI's. Values are summed as whole thousandths
/// (durations: whole milliseconds), which f64 adds exactly up to 2⁵³, so that a sum does not depend on the
/// order the engine's threads add rows in: the same input gives the same bytes.
fn measure(e: &N) -> (Expr, f64) {
    match e {
        N::SecondsBetween { start, end } => (milliseconds_between(start, end), 1e-3),
        other => (thousandths(expr(other)), 1e-3),
    }
}

/// `e` in whole thousandths, as f64 (see `measure`).
fn thousandths(e: Expr) -> Expr {
    (e.cast(DataType::Float64) * lit(1000.0)).round(0, RoundMode::HalfToEven)
}

/// The sum of `e` over the group, exact whatever the order of the rows (see `measure`).
pub(super) fn exact_sum(e: Expr) -> Expr {
    thousandths(e).sum() / lit(1000.0)
}

/// One side of a ratio over its table's rows in a group: the rows counted, or the exact sum of the measure.
pub fn side_total(side: &crate::catalog::Side) -> Expr {
    match &side.sum {
        None => len().cast(DataType::Float64),
        Some(e) => exact_sum(expr(e).cast(DataType::Float64)),
    }
}

/// The aggregation of a boundary KPI for the period `[start, end)`: (value, numerator, denominator, n).
/// The bounds are expressions (literals, or columns of a frame of periods): days since the epoch (`Int32`);
/// the end instant is the first instant of `end_day`.
pub fn snapshot(a: &Aggregate, start_day: Expr, end_day: Expr) -> [Expr; 4] {
    let end_instant = (end_day.clone().cast(DataType::Int64) * lit(86_400_000i64))
        .cast(DataType::Datetime(TimeUnit::Milliseconds, None));
    let date = |d: &Expr| d.clone().cast(DataType::Date);
    let customer_on = |d: &Expr| {
        col("customer_since")
            .lt(date(d))
            .fill_null(lit(false))
            .and(col("churned_at").is_null().or(col("churned_at").gt_eq(date(d))))
    };
    let f = |e: Expr| e.cast(DataType::Float64);
    match a {
        Aggregate::OpenAtPeriodEnd => {
            // Created strictly before the end instant; resolved or closed at or before it is no longer open.
            let by_end = |c: &str| col(c).lt_eq(end_instant.clone()).fill_null(lit(false));
            let created = col("created_at").lt(end_instant.clone()).fill_null(lit(false));
            let open = created.clone().and(by_end("resolved_at").not()).and(by_end("closed_at").not());
            let value = count_true(open);
            [f(value), lit(NULL).cast(DataType::Float64), lit(NULL).cast(DataType::Float64), count_true(created)]
        },
        Aggregate::Retention => {
            let s = count_true(customer_on(&start_day));
            let e = count_true(customer_on(&end_day));
            let acquired = count_true(
                col("customer_since")
                    .gt_eq(date(&start_day))
                    .and(col("customer_since").lt(date(&end_day)))
                    .fill_null(lit(false)),
            );
            let num = f(e - acquired);
            [lit(100.0) * num.clone() / f(s.clone()), num, f(s.clone()), s]
        },
        Aggregate::Churn => {
            let s = count_true(customer_on(&start_day));
            let churned = count_true(
                customer_on(&start_day)
                    .and(col("churned_at").gt_eq(date(&start_day)))
                    .and(col("churned_at").lt(date(&end_day)))
                    .fill_null(lit(false)),
            );
            [lit(100.0) * f(churned.clone()) / f(s.clone()), f(churned), f(s.clone()), s]
        },
        // Measured over each period's rows (`aggregations`), or at boundaries by their own modules (the
        // backlog from events, CAC and CLV from spend).
        Aggregate::Count
        | Aggregate::CountDistinct(_)
        | Aggregate::Share { .. }
        | Aggregate::Mean(_)
        | Aggregate::Quantile(..)
        | Aggregate::NetScore { .. }
        | Aggregate::NetScoreMargin { .. }
        | Aggregate::Mix { .. }
        | Aggregate::PerAgentDay { .. }
        | Aggregate::Spearman(..)
        | Aggregate::Sum(_)
        | Aggregate::Ratio { .. }
        | Aggregate::Proportion { .. }
        | Aggregate::Wilson { .. }
        | Aggregate::PerTicket(_)
        | Aggregate::Quotient { .. }
        | Aggregate::Cac
        | Aggregate::Clv { .. } => unreachable!("{a:?} is not measured by `snapshot`"),
    }
}

/// Label of rows whose mix column is null.
pub const NONE_LABEL: &str = "(none)";

/// A `Mix` stat: per group and value of `of`, the value's share of the group's rows (filter applied).
/// Returns the group keys plus `stat` (the value), `value`, `numerator`, `denominator`, `n`.
pub fn mix(
    lf: LazyFrame,
    keys: &[Expr],
    key_names: &[PlSmallStr],
    def: &KpiDefinition,
    of: &str,
) -> PolarsResult<LazyFrame> {
    let lf = match &def.filter {
        Some(f) => lf.filter(holds(f)),
        None => lf,
    };
    let label = mix_label(of).alias("stat");
    let mut by = keys.to_vec();
    by.push(label);
    let counts = lf.group_by(by).agg([len().cast(DataType::Int64).alias("__count")]);
    let totals_by: Vec<Expr> = key_names.iter().map(|k| col(k.clone())).collect();
    let figures = mix_share(col("__count"), col("__total"));
    let named = figures.into_iter().zip(PARTS).map(|(e, name)| e.alias(name)).collect::<Vec<_>>();
    Ok(counts.with_column(col("__count").sum().over(totals_by)?.alias("__total")).with_columns(named))
}

/// A mix value's figures (value, numerator, denominator, n) from its rows (`count`) and the group's (`total`).
fn mix_share(count: Expr, total: Expr) -> [Expr; 4] {
    let share = lit(100.0) * count.clone().cast(DataType::Float64) / total.clone().cast(DataType::Float64);
    [share, count.cast(DataType::Float64), total.clone().cast(DataType::Float64), total]
}

/// The KPI's rows in a group (those its filter keeps). A literal `true` would not broadcast inside an
/// aggregation, hence `len()` when there is no filter.
fn rows_of(filter: &Option<Expr>) -> Expr {
    match filter {
        Some(f) => count_true(f.clone()),
        None => len().cast(DataType::Int64),
    }
}

/// The KPI's rows in a group where `e` holds.
fn rows_of_where(filter: &Option<Expr>, e: Expr) -> Expr {
    match filter {
        Some(f) => count_true(f.clone().and(e)),
        None => count_true(e),
    }
}

/// The value a mix counts a row under: `of` as text, `(none)` when it is missing.
pub fn mix_label(of: &str) -> Expr {
    col(of).cast(DataType::String).fill_null(lit(NONE_LABEL))
}

/// A `Mix` stat whose values are known before the group-by (`labels`, `segment::mix_labels`), counted inside
/// the segment's one aggregation instead of a group-by of its own: per label, the KPI's rows that have it,
/// and the KPI's rows in all. `mix_figures` turns them into a row's figures.
pub fn mix_counts(k: usize, s: usize, def: &KpiDefinition, of: &str, labels: &[String], out: &mut GroupAggs) {
    let filter = def.filter.as_ref().map(holds);
    out.aggs.push(rows_of(&filter).alias(part(k, s, "mix_total")));
    for (i, label) in labels.iter().enumerate() {
        let has = mix_label(of).eq(lit(label.as_str()));
        out.aggs.push(rows_of_where(&filter, has).alias(part(k, s, &format!("mix{i}"))));
    }
}

/// The figures (value, numerator, denominator, n) of label `i` of a mix counted by `mix_counts`, and the
/// count that says whether the group has the label at all.
pub fn mix_figures(k: usize, s: usize, i: usize) -> ([Expr; 4], Expr) {
    let count = col(part(k, s, &format!("mix{i}")));
    (mix_share(count.clone(), col(part(k, s, "mix_total"))), count)
}

/// A bound of the 95 % Wilson score interval of `yes` successes in `n` trials, in percent:
/// 100 × (p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n), z = 1.96.
pub fn wilson(yes: Expr, n: Expr, upper: bool) -> Expr {
    const Z: f64 = 1.96;
    let p = yes / n.clone();
    let centre = p.clone() + lit(Z * Z) / (lit(2.0) * n.clone());
    let spread =
        lit(Z) * (p.clone() * (lit(1.0) - p) / n.clone() + lit(Z * Z) / (lit(4.0) * n.clone() * n.clone())).sqrt();
    let bound = if upper { centre + spread } else { centre - spread };
    lit(100.0) * bound / (lit(1.0) + lit(Z * Z) / n)
}

/// Sums of the yes votes and of all votes.
fn votes(mask: &dyn Fn(Expr) -> Expr, yes: &N, no: &N) -> (Expr, Expr) {
    let yes = exact_sum(mask(expr(yes).cast(DataType::Float64)));
    let no = exact_sum(mask(expr(no).cast(DataType::Float64)));
    (yes.clone(), yes + no)
}

/// A predicate where null means "no".
fn holds(e: &N) -> Expr {
    expr(e).fill_null(lit(false))
}

fn count_true(e: Expr) -> Expr {
    e.cast(DataType::Int64).sum()
}

/// Columns the aggregation of stat `i` produces, by suffix.
pub const PARTS: [&str; 4] = ["value", "numerator", "denominator", "n"];

pub fn part(kpi: usize, stat: usize, part: &str) -> String {
    format!("__k{kpi}_s{stat}_{part}")
}

/// A group-by's aggregations, and the columns computed from them after it.
///
/// Exact quantiles are computed after: the group-by collects each group's values as a list, once per
/// distinct measure. Polars' streaming engine runs that aggregation but not `quantile`, and a group-by it
/// cannot stream is computed in memory over every column it reads (10M tickets: 1.5 GB).
#[derive(Default)]
pub struct GroupAggs {
    pub aggs: Vec<Expr>,
    pub after: Vec<Expr>,
    lists: Vec<String>,
}

impl GroupAggs {
    /// The column holding each group's values of `values`, collected once.
    fn list_of(&mut self, values: Expr) -> Expr {
        let key = format!("{values:?}");
        let i = self.lists.iter().position(|l| *l == key).unwrap_or_else(|| {
            self.lists.push(key);
            self.aggs.push(values.implode(false).alias(format!("__list{}", self.lists.len() - 1)));
            self.lists.len() - 1
        });
        col(format!("__list{i}"))
    }

    /// Computes `e` after the group-by as the column `name`, and returns that column.
    fn after(&mut self, name: String, e: Expr) -> Expr {
        self.after.push(e.alias(name.as_str()));
        col(name)
    }

    /// The collected lists, which the output does not need once the quantiles are computed.
    pub fn lists(&self) -> Vec<String> {
        (0..self.lists.len()).map(|i| format!("__list{i}")).collect()
    }
}

/// Calendar days of a group's period: an expression over the group-by's result (its `period_start`), or, for
/// the `all` grain without a window, an aggregation inside it (the data's first to last day).
pub enum Days {
    After(Expr),
    InGroup(Expr),
}

/// Spearman's rank correlation of `x` and `y` over the rows where both are set: the Pearson correlation of
/// their average ranks.
fn spearman(x: Expr, y: Expr) -> Expr {
    let pairs = x.clone().is_not_null().and(y.clone().is_not_null());
    // Ranks doubled are whole numbers, so every sum below is exact in f64 (up to ~10^5 pairs per group) and
    // the result does not depend on the order rows are added in.
    let ranks = |e: Expr| {
        lit(2.0)
            * when(pairs.clone())
                .then(e)
                .otherwise(lit(NULL).cast(DataType::Float64))
                .rank(RankOptions { method: RankMethod::Average, descending: false }, None)
                .cast(DataType::Float64)
    };
    let (x, y) = (ranks(x), ranks(y));
    let n = pairs.cast(DataType::Float64).sum();
    let (sx, sy) = (x.clone().sum(), y.clone().sum());
    let sxy = (x.clone() * y.clone()).sum();
    let (sxx, syy) = ((x.clone() * x).sum(), (y.clone() * y).sum());
    let cov = n.clone() * sxy - sx.clone() * sy.clone();
    let var_x = n.clone() * sxx - sx.clone() * sx;
    let var_y = n * syy - sy.clone() * sy;
    when(var_x.clone().gt(lit(0.0)).and(var_y.clone().gt(lit(0.0))))
        .then(cov / (var_x * var_y).sqrt())
        .otherwise(lit(NULL).cast(DataType::Float64))
}

/// Adds the aggregation expressions of one KPI inside a `group_by` to `out`: four columns per stat (value,
/// numerator, denominator, n), named by `part`. `days` is the group's number of calendar days. `Mix` stats
/// are computed apart (`mix`), having one row per value.
pub fn aggregations(k: usize, def: &KpiDefinition, days: &Days, split_by: &[&str], out: &mut GroupAggs) {
    let filter = def.filter.as_ref().map(holds);
    let rows = || rows_of(&filter);
    let rows_where = |e: Expr| rows_of_where(&filter, e);
    let mask = |m: Expr| match &filter {
        Some(f) => when(f.clone()).then(m).otherwise(lit(NULL).cast(DataType::Float64)),
        None => m,
    };
    for (s, stat) in def.stats.iter().enumerate() {
        let null = || lit(NULL).cast(DataType::Float64);
        let (value, numerator, denominator, n) = match &stat.aggregate {
            Aggregate::Count => {
                let n = rows();
                (n.clone().cast(DataType::Float64), null(), null(), n)
            },
            Aggregate::CountDistinct(e) => {
                let values = match &filter {
                    Some(f) => when(f.clone()).then(expr(e)).otherwise(lit(NULL)),
                    None => expr(e),
                };
                let distinct = values.drop_nulls().n_unique().cast(DataType::Int64);
                (distinct.clone().cast(DataType::Float64), null(), null(), distinct)
            },
            Aggregate::Share { when } => {
                let num = rows_where(holds(when));
                let den = rows();
                let value = lit(100.0) * num.clone().cast(DataType::Float64) / den.clone().cast(DataType::Float64);
                (value, num.cast(DataType::Float64), den.clone().cast(DataType::Float64), den)
            },
            Aggregate::Mean(e) => {
                let (m, scale) = measure(e);
                let masked = mask(m);
                let sum = masked.clone().sum() * lit(scale);
                let cnt = masked.count().cast(DataType::Int64);
                (sum.clone() / cnt.clone().cast(DataType::Float64), sum, cnt.clone().cast(DataType::Float64), cnt)
            },
            Aggregate::Quantile(e, q) => {
                let (m, scale) = measure(e);
                let masked = mask(m);
                let values = out.list_of(masked.clone());
                let quantile = values.list().agg(element().quantile(lit(*q), QuantileMethod::Linear)) * lit(scale);
                (out.after(part(k, s, "value"), quantile), null(), null(), masked.count().cast(DataType::Int64))
            },
            Aggregate::NetScore { promoter, detractor } => {
                let p = rows_where(holds(promoter));
                let d = rows_where(holds(detractor));
                let n = rows();
                let num = (p - d).cast(DataType::Float64);
                let value = lit(100.0) * num.clone() / n.clone().cast(DataType::Float64);
                (value, num, n.clone().cast(DataType::Float64), n)
            },
            Aggregate::NetScoreMargin { promoter, detractor } => {
                let n = rows();
                let nf = n.clone().cast(DataType::Float64);
                let p = rows_where(holds(promoter)).cast(DataType::Float64) / nf.clone();
                let d = rows_where(holds(detractor)).cast(DataType::Float64) / nf.clone();
                let diff = p.clone() - d.clone();
                let var = (p + d - diff.clone() * diff) / nf;
                (lit(1.96) * var.sqrt() * lit(100.0), null(), null(), n)
            },
            Aggregate::PerAgentDay { agent } => {
                let with_agent = rows_where(col(*agent).is_not_null());
                // Distinct agents from each group's agent ids collected as 64-bit hashes (a collision among
                // 10,000 agents has a chance near 10⁻¹²): `n_unique` in a group-by does not stream, and made
                // the engine hold every column of the table.
                let agents = match split_by.contains(agent) {
                    // Split by agent, a group has one, or none when no row has it.
                    true => with_agent.clone().gt(lit(0)).cast(DataType::Float64),
                    false => {
                        let ids = out.list_of(super::hash::text_hash(mask(col(*agent)), 0));
                        ids.list().agg(element().drop_nulls().n_unique()).cast(DataType::Float64)
                    },
                };
                let days = match days {
                    Days::After(e) => e.clone().cast(DataType::Float64),
                    Days::InGroup(e) => {
                        let days_part = part(k, s, "days");
                        out.aggs.push(e.clone().cast(DataType::Float64).alias(days_part.as_str()));
                        col(days_part)
                    },
                };
                let agent_days = agents * days;
                let value = out.after(part(k, s, "value"), col(part(k, s, "numerator")) / agent_days.clone());
                let den = out.after(part(k, s, "denominator"), agent_days);
                (value, with_agent.clone().cast(DataType::Float64), den, with_agent)
            },
            Aggregate::Spearman(a, b) => {
                let (a, b) = (mask(expr(a).cast(DataType::Float64)), mask(expr(b).cast(DataType::Float64)));
                let pairs = a.clone().is_not_null().and(b.clone().is_not_null());
                let pair = |e: Expr, name: &str| when(pairs.clone()).then(e).otherwise(null()).alias(name);
                // The pairs are collected per group, a streaming aggregation, and ranked after it: ranks
                // inside the group-by made the engine run it in memory.
                let both = out.list_of(as_struct(vec![pair(a, "x"), pair(b, "y")]));
                let field = |name: &str| element().struct_().field_by_name(name);
                let r = both.list().agg(spearman(field("x"), field("y")));
                (out.after(part(k, s, "value"), r), null(), null(), count_true(pairs))
            },
            Aggregate::Sum(e) => {
                let m = mask(expr(e).cast(DataType::Float64));
                let sum = exact_sum(m.clone());
                (sum.clone(), sum, null(), m.count().cast(DataType::Int64))
            },
            Aggregate::Ratio { num, den } => {
                let (num, den) = (
                    exact_sum(mask(expr(num).cast(DataType::Float64))),
                    exact_sum(mask(expr(den).cast(DataType::Float64))),
                );
                (lit(100.0) * num.clone() / den.clone(), num, den.clone(), den.cast(DataType::Int64))
            },
            Aggregate::Proportion { yes, no } => {
                let (yes, votes) = votes(&mask, yes, no);
                (lit(100.0) * yes.clone() / votes.clone(), yes, votes.clone(), votes.cast(DataType::Int64))
            },
            Aggregate::Wilson { yes, no, upper } => {
                let (yes, n) = votes(&mask, yes, no);
                (wilson(yes, n.clone(), *upper), null(), null(), n.cast(DataType::Int64))
            },
            // Divided by the tickets after the join in `segment`.
            Aggregate::PerTicket(e) => {
                let sum = exact_sum(mask(expr(e).cast(DataType::Float64)));
                (null(), sum, null(), lit(0i64))
            },
            // Mixes and ratios are their own parts (`segment`); boundary aggregates are measured at period
            // ends (`snapshot`).
            Aggregate::Mix { .. }
            | Aggregate::Quotient { .. }
            | Aggregate::OpenAtPeriodEnd
            | Aggregate::Retention
            | Aggregate::Churn
            | Aggregate::Cac
            | Aggregate::Clv { .. } => continue,
        };
        for (name, e) in PARTS.iter().zip([value, numerator, denominator, n]) {
            let name = part(k, s, name);
            // A part computed after the group-by is already named.
            if e != col(name.as_str()) {
                out.aggs.push(e.alias(name));
            }
        }
    }
}
