//! Lowers engine-neutral KPI definitions (`catalog`) to Polars expressions. The only place that knows how a
//! definition becomes an aggregation: every reduction of a group's rows goes through `GroupAggs`, which
//! gives Polars aggregations, or SQL for another engine over row inputs that Polars computes (`Reductions`).

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
            crate::exec::normalise::sql(&sql).expect("a metric's SQL was compiled when the plan was loaded")
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

/// One side of a ratio over its table's rows in a group: the rows counted, or the exact sum of the measure.
pub fn side_total(side: &crate::catalog::Side, out: &mut GroupAggs) -> Expr {
    match &side.sum {
        None => out.count_rows().cast(DataType::Float64),
        Some(e) => out.exact_sum(expr(e).cast(DataType::Float64)),
    }
}

/// The aggregation of a boundary KPI for the period `[start, end)`: (value, numerator, denominator, n).
/// The bounds are expressions (literals, or columns of a frame of periods): days since the epoch (`Int32`);
/// the end instant is the first instant of `end_day`.
pub fn snapshot(a: &Aggregate, start_day: Expr, end_day: Expr, out: &mut GroupAggs) -> [Expr; 4] {
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
            let value = out.count_true(open);
            [f(value), lit(NULL).cast(DataType::Float64), lit(NULL).cast(DataType::Float64), out.count_true(created)]
        },
        Aggregate::Retention => {
            let s = out.count_true(customer_on(&start_day));
            let e = out.count_true(customer_on(&end_day));
            let acquired = out.count_true(
                col("customer_since")
                    .gt_eq(date(&start_day))
                    .and(col("customer_since").lt(date(&end_day)))
                    .fill_null(lit(false)),
            );
            let num = f(e - acquired);
            [lit(100.0) * num.clone() / f(s.clone()), num, f(s.clone()), s]
        },
        Aggregate::Churn => {
            let s = out.count_true(customer_on(&start_day));
            let churned = out.count_true(
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

/// A `Mix` stat's rows (its filter applied), each with the value it counts under as `stat`.
pub fn mix_rows(lf: LazyFrame, def: &KpiDefinition, of: &str) -> LazyFrame {
    let lf = match &def.filter {
        Some(f) => lf.filter(holds(f)),
        None => lf,
    };
    lf.with_column(mix_label(of).alias("stat"))
}

/// A `Mix` stat from its rows (`mix_rows`) counted per group and value (`__count`): per group and value of `of`, the
/// value's share of the group's rows. Returns the group keys plus `stat` (the value), `value`, `numerator`,
/// `denominator`, `n`.
pub fn mix_shares(counts: LazyFrame, key_names: &[PlSmallStr]) -> PolarsResult<LazyFrame> {
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
fn rows_of(filter: &Option<Expr>, out: &mut GroupAggs) -> Expr {
    match filter {
        Some(f) => out.count_true(f.clone()),
        None => out.count_rows().cast(DataType::Int64),
    }
}

/// The KPI's rows in a group where `e` holds.
fn rows_of_where(filter: &Option<Expr>, e: Expr, out: &mut GroupAggs) -> Expr {
    match filter {
        Some(f) => out.count_true(f.clone().and(e)),
        None => out.count_true(e),
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
    let total = rows_of(&filter, out);
    out.aggs.push(total.alias(part(k, s, "mix_total")));
    for (i, label) in labels.iter().enumerate() {
        let has = mix_label(of).eq(lit(label.as_str()));
        let count = rows_of_where(&filter, has, out);
        out.aggs.push(count.alias(part(k, s, &format!("mix{i}"))));
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
fn votes(mask: &dyn Fn(Expr) -> Expr, yes: &N, no: &N, out: &mut GroupAggs) -> (Expr, Expr) {
    let yes = out.exact_sum(mask(expr(yes).cast(DataType::Float64)));
    let no = out.exact_sum(mask(expr(no).cast(DataType::Float64)));
    (yes.clone(), yes + no)
}

/// A predicate where null means "no".
fn holds(e: &N) -> Expr {
    expr(e).fill_null(lit(false))
}

/// Columns the aggregation of stat `i` produces, by suffix.
pub const PARTS: [&str; 4] = ["value", "numerator", "denominator", "n"];

pub fn part(kpi: usize, stat: usize, part: &str) -> String {
    format!("__k{kpi}_s{stat}_{part}")
}

/// A group-by's reductions, the columns computed from them (`aggs`), and those computed after it (`after`).
///
/// With Polars, the reductions run inside its group-by and `aggs` are aggregation expressions. With SQL
/// (`SqlReductions`, another engine), Polars computes the reductions' row inputs, the engine reduces them,
/// and Polars computes `aggs` then `after` over the engine's result: every formula after a reduction is the
/// same for both engines.
///
/// Exact quantiles are computed after: the Polars group-by collects each group's values as a list, once per
/// distinct measure. Polars' streaming engine runs that aggregation but not `quantile`, and a group-by it
/// cannot stream is computed in memory over every column it reads (10M tickets: 1.5 GB).
#[derive(Default)]
pub struct GroupAggs {
    pub aggs: Vec<Expr>,
    /// Columns computed from the collected lists before `after`: a list's values sorted and counted once for
    /// all the quantiles that read it.
    pub sorted: Vec<Expr>,
    pub after: Vec<Expr>,
    lists: Vec<String>,
    /// The lists that have their `sorted` columns.
    sorted_lists: Vec<usize>,
    /// The reductions as SQL, when another engine runs them.
    pub sql: Option<SqlReductions>,
}

impl GroupAggs {
    /// Reductions for an engine that runs SQL.
    pub fn for_sql() -> GroupAggs {
        GroupAggs { sql: Some(SqlReductions::default()), ..Default::default() }
    }

    /// The column holding each group's values of `values`, collected once.
    fn list_of(&mut self, values: Expr) -> Expr {
        col(format!("__list{}", self.list_index(values)))
    }

    fn list_index(&mut self, values: Expr) -> usize {
        let key = format!("{values:?}");
        self.lists.iter().position(|l| *l == key).unwrap_or_else(|| {
            self.lists.push(key);
            self.aggs.push(values.implode(false).alias(format!("__list{}", self.lists.len() - 1)));
            self.lists.len() - 1
        })
    }

    /// Computes `e` after the group-by as the column `name`, and returns that column.
    fn after(&mut self, name: String, e: Expr) -> Expr {
        self.after.push(e.alias(name.as_str()));
        col(name)
    }

    /// The collected lists (and their sorted values), which the output does not need once the quantiles are
    /// computed.
    pub fn lists(&self) -> Vec<String> {
        let lists = (0..self.lists.len()).map(|i| format!("__list{i}"));
        let sorted = self.sorted_lists.iter().flat_map(|i| [format!("__sorted{i}"), format!("__count{i}")]);
        lists.chain(sorted).collect()
    }

    /// The group's values of `values` sorted (nulls last), and how many are not null: computed once per list.
    fn sorted_values(&mut self, values: Expr) -> (Expr, Expr) {
        let i = self.list_index(values);
        let list = col(format!("__list{i}"));
        if !self.sorted_lists.contains(&i) {
            self.sorted_lists.push(i);
            let nulls_last = SortOptions { nulls_last: true, ..Default::default() };
            self.sorted.push(list.clone().list().sort(nulls_last).alias(format!("__sorted{i}")));
            self.sorted.push(list.list().agg(element().count()).alias(format!("__count{i}")));
        }
        (col(format!("__count{i}")), col(format!("__sorted{i}")))
    }

    /// `e` reduced over a group: `polars` inside a Polars group-by, else the SQL `template` (`{}` stands
    /// for the row input).
    fn reduce(&mut self, e: Expr, polars: impl FnOnce(Expr) -> Expr, template: &str) -> Expr {
        match &mut self.sql {
            None => polars(e),
            Some(sql) => sql.reduce(e, template),
        }
    }

    /// The group's rows.
    pub fn count_rows(&mut self) -> Expr {
        match &mut self.sql {
            None => len(),
            Some(sql) => sql.item("COUNT(*)".to_string()),
        }
    }

    /// Sum of `e` (0 when no row has it).
    pub fn sum(&mut self, e: Expr) -> Expr {
        self.reduce(e, |e| e.sum(), "COALESCE(SUM({}), 0)")
    }

    /// Rows where the predicate `e` holds.
    pub fn count_true(&mut self, e: Expr) -> Expr {
        self.sum(e.cast(DataType::Int64))
    }

    /// The sum of `e` over the group, exact whatever the order of the rows (see `measure`).
    pub fn exact_sum(&mut self, e: Expr) -> Expr {
        self.sum(thousandths(e)) / lit(1000.0)
    }

    /// Rows where `e` is set.
    pub fn count(&mut self, e: Expr) -> Expr {
        self.reduce(e, |e| e.count(), "COUNT({})")
    }

    /// Distinct values of `e`, nulls left out.
    fn n_unique(&mut self, e: Expr) -> Expr {
        self.reduce(e, |e| e.drop_nulls().n_unique(), "COUNT(DISTINCT {})")
    }

    fn min(&mut self, e: Expr) -> Expr {
        self.reduce(e, |e| e.min(), "MIN({})")
    }

    fn max(&mut self, e: Expr) -> Expr {
        self.reduce(e, |e| e.max(), "MAX({})")
    }

    /// The linear-interpolation quantile `q` of `e`'s values, for an expression computed after the group-by:
    /// from the group's sorted values on Polars, from the two values a query picks on the cluster, and the
    /// same formula after (`linear_quantile`), so both engines give the same bits.
    fn quantile_after(&mut self, e: Expr, q: f64) -> Expr {
        match &mut self.sql {
            None => {
                let (n, sorted) = self.sorted_values(e);
                let at = (n.clone().cast(DataType::Float64) - lit(1.0)) * lit(q);
                let pick = |i: Expr| sorted.clone().list().get(i.cast(DataType::Int64), true);
                linear_quantile(n, pick(at.clone().floor()), pick(at.ceil()), q)
            },
            Some(sql) => sql.quantile(e, q),
        }
    }

    /// Distinct values of `e`, nulls left out, for an expression computed after the group-by.
    fn n_unique_after(&mut self, e: Expr) -> Expr {
        match &mut self.sql {
            None => self.list_of(e).list().agg(element().drop_nulls().n_unique()),
            Some(sql) => sql.reduce(e, "COUNT(DISTINCT {})"),
        }
    }

    /// Spearman's rank correlation of the pairs `(x, y)` (both set), for an expression computed after the
    /// group-by.
    fn spearman_after(&mut self, x: Expr, y: Expr) -> Expr {
        match &mut self.sql {
            None => {
                // The pairs are collected per group, a streaming aggregation, and ranked after it: ranks
                // inside the group-by made the engine run it in memory.
                let both = self.list_of(as_struct(vec![x.alias("x"), y.alias("y")]));
                let field = |name: &str| element().struct_().field_by_name(name);
                both.list().agg(spearman(field("x"), field("y")))
            },
            Some(sql) => sql.spearman(x, y),
        }
    }
}

/// Reductions that another engine runs as SQL: Polars computes their row inputs (`inputs`, columns
/// `__i<n>`); the engine computes `items` (columns `__r<n>`) per group, and the reductions that need the
/// group's rows in order with a query of their own (`ordered`). Equal inputs and items are computed once.
#[derive(Default)]
pub struct SqlReductions {
    /// Inputs the client computes (named `__i<n>`), for those SQL cannot express (`to_sql`).
    pub inputs: Vec<Expr>,
    /// Inputs the cluster computes: `(SQL, name)` over the columns in `columns`.
    pub lowered: Vec<(String, String)>,
    /// The columns the lowered inputs and keys read, handed over as they are.
    pub columns: std::collections::BTreeSet<String>,
    /// Group keys the cluster computes: `(SQL, name)` over the columns in `columns` (`compute_key`).
    pub computed_keys: Vec<(String, String)>,
    input_keys: Vec<String>,
    /// `(SQL, column)`.
    pub items: Vec<(String, String)>,
    pub ordered: Vec<Ordered>,
}

/// The linear-interpolation quantile `q` of a group's `n` non-null values from the two of them at its ends
/// in sorted order (`lo` at floor((n - 1) q), `hi` at the ceiling): the one formula of both engines, the one
/// polars-core's `linear_interpol` applies. Polars' own quantile of values with nulls offsets the position by
/// the null count first, which moves the fraction in its last bits (two values 1 and 1000 and a null, p90:
/// 900.0999999999999 instead of 900.1), so neither engine calls it.
pub(crate) fn linear_quantile(n: Expr, lo: Expr, hi: Expr, q: f64) -> Expr {
    let at = (n.cast(DataType::Float64) - lit(1.0)) * lit(q);
    let fraction = at.clone() - at.floor();
    when(fraction.clone().eq(lit(0.0)).or(lo.clone().eq(hi.clone())))
        .then(lo.clone())
        .otherwise(fraction * (hi - lo.clone()) + lo)
}

/// A reduction over a group's rows in order, and the columns its query gives (named from `prefix`).
// Read by the distributed backend only.
#[cfg_attr(not(feature = "ballista"), allow(dead_code))]
pub enum Ordered {
    /// Exact quantiles `qs` of input `x`: `<prefix>_n` values, and for the j-th quantile the values at
    /// both ends of its interpolation, `<prefix>_<j>_lo` and `_hi`.
    Quantiles { x: String, qs: Vec<f64>, prefix: String },
    /// Spearman's rank sums of the pairs `(x, y)`: with a = rank ascending − rank descending of x (b of
    /// y), `<prefix>_n`, `_sa`, `_sb`, `_sab`, `_saa`, `_sbb` (`SPEARMAN_SUMS`).
    Spearman { x: String, y: String, prefix: String },
}

/// The sums a `Ordered::Spearman` query gives, in order.
pub const SPEARMAN_SUMS: [&str; 6] = ["n", "sa", "sb", "sab", "saa", "sbb"];

impl SqlReductions {
    fn input(&mut self, e: Expr) -> String {
        let key = format!("{e:?}");
        let i = self.input_keys.iter().position(|k| *k == key).unwrap_or_else(|| {
            let name = format!("__i{}", self.input_keys.len());
            self.input_keys.push(key);
            match crate::exec::cluster::to_sql::row_sql(&e) {
                Some(lowered) => {
                    self.columns.extend(lowered.columns);
                    self.lowered.push((lowered.sql, name));
                },
                None => self.inputs.push(e.alias(name)),
            }
            self.input_keys.len() - 1
        });
        format!("__i{i}")
    }

    /// Has the cluster compute the group key `name` as `e` (a grain's period start) from the columns `e`
    /// reads, when SQL expresses it; otherwise the client computes that key, as it does the others.
    pub fn compute_key(&mut self, name: &str, e: &Expr) {
        if let Some(lowered) = crate::exec::cluster::to_sql::row_sql(e) {
            self.columns.extend(lowered.columns);
            self.computed_keys.push((lowered.sql, name.to_string()));
        }
    }

    /// Whether the cluster computes the group key `name` (`compute_key`) rather than reading it.
    #[cfg_attr(not(feature = "ballista"), allow(dead_code))]
    pub fn computes_key(&self, name: &str) -> bool {
        self.computed_keys.iter().any(|(_, key)| key == name)
    }

    /// How many inputs the cluster computes, and how many the client.
    pub fn split(&self) -> (usize, usize) {
        (self.lowered.len(), self.inputs.len())
    }

    fn item(&mut self, sql: String) -> Expr {
        let i = self.items.iter().position(|(s, _)| *s == sql).unwrap_or_else(|| {
            self.items.push((sql, format!("__r{}", self.items.len())));
            self.items.len() - 1
        });
        col(self.items[i].1.as_str())
    }

    fn reduce(&mut self, e: Expr, template: &str) -> Expr {
        let input = quoted(&self.input(e));
        self.item(template.replace("{}", &input))
    }

    /// The linear-interpolation quantile `q` of `e`, as `quantile_idx` and `linear_interpol` of
    /// polars-core compute it from the two values at its ends.
    fn quantile(&mut self, e: Expr, q: f64) -> Expr {
        let x = self.input(e);
        let found = self.ordered.iter().position(|o| matches!(o, Ordered::Quantiles { x: seen, .. } if *seen == x));
        let i = found.unwrap_or_else(|| {
            let prefix = format!("__q{}", self.ordered.len());
            self.ordered.push(Ordered::Quantiles { x, qs: Vec::new(), prefix });
            self.ordered.len() - 1
        });
        let Ordered::Quantiles { qs, prefix, .. } = &mut self.ordered[i] else { unreachable!() };
        let j = qs.iter().position(|seen| *seen == q).unwrap_or_else(|| {
            qs.push(q);
            qs.len() - 1
        });
        let (lo, hi) = (col(format!("{prefix}_{j}_lo")), col(format!("{prefix}_{j}_hi")));
        linear_quantile(col(format!("{prefix}_n")), lo, hi, q)
    }

    /// Spearman's correlation from the sums of an `Ordered::Spearman` query. The doubled average rank of a
    /// value is a + n + 1 (rank ascending + rank of its last tie), so the doubled ranks' sums follow from
    /// the query's, exactly: every term is a whole number below 2⁵³.
    fn spearman(&mut self, x: Expr, y: Expr) -> Expr {
        let (x, y) = (self.input(x), self.input(y));
        let prefix = format!("__rank{}", self.ordered.len());
        self.ordered.push(Ordered::Spearman { x, y, prefix: prefix.clone() });
        let [n, sa, sb, sab, saa, sbb] = SPEARMAN_SUMS.map(|sum| col(format!("{prefix}_{sum}")));
        let c = n.clone() + lit(1.0);
        let nc2 = n.clone() * c.clone() * c.clone();
        let sx = sa.clone() + n.clone() * c.clone();
        let sy = sb.clone() + n.clone() * c.clone();
        let sxy = sab + c.clone() * sa.clone() + c.clone() * sb.clone() + nc2.clone();
        let sxx = saa + lit(2.0) * c.clone() * sa + nc2.clone();
        let syy = sbb + lit(2.0) * c * sb + nc2;
        correlation([n, sx, sy, sxy, sxx, syy])
    }
}

/// `name` as a quoted SQL identifier.
pub fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Calendar days of a group's period: an expression over the group-by's result (its `period_start`), or, for
/// the `all` grain without a window, the data's first to last day (`InGroup`: the day of each row).
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
    correlation([n, sx, sy, sxy, sxx, syy])
}

/// The Pearson correlation from the pairs' count and the sums of x, y, xy, x², y²; null when either side
/// is constant.
fn correlation([n, sx, sy, sxy, sxx, syy]: [Expr; 6]) -> Expr {
    let cov = n.clone() * sxy - sx.clone() * sy.clone();
    let var_x = n.clone() * sxx - sx.clone() * sx;
    let var_y = n * syy - sy.clone() * sy;
    when(var_x.clone().gt(lit(0.0)).and(var_y.clone().gt(lit(0.0))))
        .then(cov / (var_x * var_y).sqrt())
        .otherwise(lit(NULL).cast(DataType::Float64))
}

/// Tickets per agent and calendar day: the group's rows with an agent over its distinct agents times its
/// days.
#[allow(clippy::too_many_arguments)]
fn per_agent_day(
    k: usize,
    s: usize,
    agent: &'static str,
    filter: &Option<Expr>,
    mask: &dyn Fn(Expr) -> Expr,
    split_by: &[&str],
    days: &Days,
    out: &mut GroupAggs,
) -> (Expr, Expr, Expr, Expr) {
    let with_agent = rows_of_where(filter, col(agent).is_not_null(), out);
    // Distinct agents from each group's agent ids collected as 64-bit hashes (a collision among
    // 10,000 agents has a chance near 10⁻¹²): `n_unique` in a group-by does not stream, and made
    // the engine hold every column of the table.
    let agents = match split_by.contains(&agent) {
        // Split by agent, a group has one, or none when no row has it.
        true => col(part(k, s, "n")).gt(lit(0)).cast(DataType::Float64),
        // An engine of SQL counts distinct text itself (the hashes serve Polars' streaming).
        false => {
            let ids = match (&out.sql, filter) {
                (None, _) => crate::exec::hash::text_hash(mask(col(agent)), 0),
                (Some(_), None) => col(agent),
                (Some(_), Some(f)) => when(f.clone()).then(col(agent)).otherwise(lit(NULL).cast(DataType::String)),
            };
            out.n_unique_after(ids).cast(DataType::Float64)
        },
    };
    let days = match days {
        Days::After(e) => e.clone().cast(DataType::Float64),
        Days::InGroup(day) => {
            let span = (out.max(day.clone()) - out.min(day.clone())).dt().total_days(false) + lit(1i64);
            let days_part = part(k, s, "days");
            out.aggs.push(span.cast(DataType::Float64).alias(days_part.as_str()));
            col(days_part)
        },
    };
    let agent_days = agents * days;
    let value = out.after(part(k, s, "value"), col(part(k, s, "numerator")) / agent_days.clone());
    let den = out.after(part(k, s, "denominator"), agent_days);
    (value, with_agent.clone().cast(DataType::Float64), den, with_agent)
}

/// Adds the aggregation expressions of one KPI inside a `group_by` to `out`: four columns per stat (value,
/// numerator, denominator, n), named by `part`. `days` is the group's number of calendar days. `Mix` stats
/// are computed apart (`mix`), having one row per value.
pub fn aggregations(k: usize, def: &KpiDefinition, days: &Days, split_by: &[&str], out: &mut GroupAggs) {
    let filter = def.filter.as_ref().map(holds);
    let mask = |m: Expr| match &filter {
        Some(f) => when(f.clone()).then(m).otherwise(lit(NULL).cast(DataType::Float64)),
        None => m,
    };
    for (s, stat) in def.stats.iter().enumerate() {
        let null = || lit(NULL).cast(DataType::Float64);
        let (value, numerator, denominator, n) = match &stat.aggregate {
            Aggregate::Count => {
                let n = rows_of(&filter, out);
                (n.clone().cast(DataType::Float64), null(), null(), n)
            },
            Aggregate::CountDistinct(e) => {
                let values = match &filter {
                    Some(f) => when(f.clone()).then(expr(e)).otherwise(lit(NULL)),
                    None => expr(e),
                };
                let distinct = out.n_unique(values).cast(DataType::Int64);
                (distinct.clone().cast(DataType::Float64), null(), null(), distinct)
            },
            Aggregate::Share { when } => {
                let num = rows_of_where(&filter, holds(when), out);
                let den = rows_of(&filter, out);
                let value = lit(100.0) * num.clone().cast(DataType::Float64) / den.clone().cast(DataType::Float64);
                (value, num.cast(DataType::Float64), den.clone().cast(DataType::Float64), den)
            },
            Aggregate::Mean(e) => {
                let (m, scale) = measure(e);
                let masked = mask(m);
                let sum = out.sum(masked.clone()) * lit(scale);
                let cnt = out.count(masked).cast(DataType::Int64);
                (sum.clone() / cnt.clone().cast(DataType::Float64), sum, cnt.clone().cast(DataType::Float64), cnt)
            },
            Aggregate::Quantile(e, q) => {
                let (m, scale) = measure(e);
                let masked = mask(m);
                let quantile = out.quantile_after(masked.clone(), *q) * lit(scale);
                (out.after(part(k, s, "value"), quantile), null(), null(), out.count(masked).cast(DataType::Int64))
            },
            Aggregate::NetScore { promoter, detractor } => {
                let p = rows_of_where(&filter, holds(promoter), out);
                let d = rows_of_where(&filter, holds(detractor), out);
                let n = rows_of(&filter, out);
                let num = (p - d).cast(DataType::Float64);
                let value = lit(100.0) * num.clone() / n.clone().cast(DataType::Float64);
                (value, num, n.clone().cast(DataType::Float64), n)
            },
            Aggregate::NetScoreMargin { promoter, detractor } => {
                let n = rows_of(&filter, out);
                let nf = n.clone().cast(DataType::Float64);
                let p = rows_of_where(&filter, holds(promoter), out).cast(DataType::Float64) / nf.clone();
                let d = rows_of_where(&filter, holds(detractor), out).cast(DataType::Float64) / nf.clone();
                let diff = p.clone() - d.clone();
                let var = (p + d - diff.clone() * diff) / nf;
                (lit(1.96) * var.sqrt() * lit(100.0), null(), null(), n)
            },
            Aggregate::PerAgentDay { agent } => per_agent_day(k, s, agent, &filter, &mask, split_by, days, out),
            Aggregate::Spearman(a, b) => {
                let (a, b) = (mask(expr(a).cast(DataType::Float64)), mask(expr(b).cast(DataType::Float64)));
                let pairs = a.clone().is_not_null().and(b.clone().is_not_null());
                let pair = |e: Expr| when(pairs.clone()).then(e).otherwise(null());
                let r = out.spearman_after(pair(a), pair(b));
                (out.after(part(k, s, "value"), r), null(), null(), out.count_true(pairs))
            },
            Aggregate::Sum(e) => {
                let m = mask(expr(e).cast(DataType::Float64));
                let sum = out.exact_sum(m.clone());
                (sum.clone(), sum, null(), out.count(m).cast(DataType::Int64))
            },
            Aggregate::Ratio { num, den } => {
                let (num, den) = (
                    out.exact_sum(mask(expr(num).cast(DataType::Float64))),
                    out.exact_sum(mask(expr(den).cast(DataType::Float64))),
                );
                (lit(100.0) * num.clone() / den.clone(), num, den.clone(), den.cast(DataType::Int64))
            },
            Aggregate::Proportion { yes, no } => {
                let (yes, votes) = votes(&mask, yes, no, out);
                (lit(100.0) * yes.clone() / votes.clone(), yes, votes.clone(), votes.cast(DataType::Int64))
            },
            Aggregate::Wilson { yes, no, upper } => {
                let (yes, n) = votes(&mask, yes, no, out);
                (wilson(yes, n.clone(), *upper), null(), null(), n.cast(DataType::Int64))
            },
            // Divided by the tickets after the join in `segment`.
            Aggregate::PerTicket(e) => {
                let sum = out.exact_sum(mask(expr(e).cast(DataType::Float64)));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The columns `exprs` give over a one-row frame of `columns`.
    fn evaluate(columns: &[(&str, f64)], e: Expr) -> Option<f64> {
        let columns = columns.iter().map(|(name, v)| Column::new((*name).into(), [*v])).collect();
        let df = DataFrame::new(1, columns).unwrap().lazy().select([e.alias("out")]).collect().unwrap();
        df.column("out").unwrap().cast(&DataType::Float64).unwrap().f64().unwrap().get(0)
    }

    #[test]
    fn sql_reductions_share_inputs_and_items() {
        let mut out = GroupAggs::for_sql();
        let a = out.sum(col("x"));
        let b = out.sum(col("x"));
        let n = out.count(col("x"));
        let rows = out.count_rows();
        assert_eq!(a, b);
        let sql = out.sql.as_ref().unwrap();
        // A column is handed over as it is and read by the SQL.
        assert_eq!(sql.split(), (1, 0));
        assert_eq!(sql.lowered, [("\"x\"".to_string(), "__i0".to_string())]);
        let items: Vec<&str> = sql.items.iter().map(|(e, _)| e.as_str()).collect();
        assert_eq!(items, ["COALESCE(SUM(\"__i0\"), 0)", "COUNT(\"__i0\")", "COUNT(*)"]);
        assert_eq!((n, rows), (col("__r1"), col("__r2")));
    }

    #[test]
    fn a_quantile_from_its_two_ends_is_polars_linear_quantile() {
        let values = [1.0, 10.0, 2.0, 4.0, 3.0];
        for q in [0.5, 0.9, 0.25, 0.0, 1.0] {
            let mut out = GroupAggs::for_sql();
            let e = out.quantile_after(col("x"), q);
            // The group's values sorted, and the two a query gives for q: at floor((n - 1) q) and the next.
            let sorted = [1.0, 2.0, 3.0, 4.0, 10.0];
            let below = ((sorted.len() - 1) as f64 * q).floor() as usize;
            let (lo, hi) = (sorted[below], sorted[(below + 1).min(sorted.len() - 1)]);
            let got = evaluate(&[("__q0_n", 5.0), ("__q0_0_lo", lo), ("__q0_0_hi", hi)], e).unwrap();
            let polars = Series::new("x".into(), values).quantile_reduce(q, QuantileMethod::Linear).unwrap();
            assert_eq!(got, polars.value().extract::<f64>().unwrap(), "q = {q}");
        }
    }

    #[test]
    fn a_quantile_is_the_same_bits_on_polars_and_from_a_querys_two_ends() {
        // Two values and a null, p90: at = (2 - 1) 0.9, 900.1 by hand. Polars' own quantile counts the null
        // in the position (1.9 - 1 = 0.8999999999999999) and gives 900.0999999999999.
        let df = df!("g" => [1, 1, 1], "x" => [Some(1.0), None, Some(1000.0)]).unwrap();
        let mut out = GroupAggs::default();
        let e = out.quantile_after(col("x"), 0.9);
        let grouped =
            df.lazy().group_by([col("g")]).agg(out.aggs.clone()).with_columns(out.sorted).select([e.alias("p90")]);
        let local = grouped.collect().unwrap().column("p90").unwrap().f64().unwrap().get(0).unwrap();
        let mut sql = GroupAggs::for_sql();
        let from_ends = sql.quantile_after(col("x"), 0.9);
        let cluster = evaluate(&[("__q0_n", 2.0), ("__q0_0_lo", 1.0), ("__q0_0_hi", 1000.0)], from_ends).unwrap();
        assert_eq!((local, cluster), (900.1, 900.1));
        let polars = Series::new("x".into(), [Some(1.0), None, Some(1000.0)])
            .quantile_reduce(0.9, QuantileMethod::Linear)
            .unwrap();
        assert_ne!(polars.value().extract::<f64>().unwrap(), 900.1, "polars' own quantile differs in the last bits");
    }

    #[test]
    fn spearman_from_rank_sums_matches_a_hand_computed_correlation() {
        // x = 1, 2, 2, 4 and y = 3, 1, 2, 2: average ranks 1, 2.5, 2.5, 4 and 4, 1, 2.5, 2.5, whose Pearson
        // correlation is -2.25 / 4.5. With a = rank ascending − rank descending: a = -3, 0, 0, 3 and
        // b = 3, -3, 0, 0.
        let mut out = GroupAggs::for_sql();
        let e = out.spearman_after(col("x"), col("y"));
        let sums = [("n", 4.0), ("sa", 0.0), ("sb", 0.0), ("sab", -9.0), ("saa", 18.0), ("sbb", 18.0)];
        let columns: Vec<(String, f64)> = sums.iter().map(|(s, v)| (format!("__rank0_{s}"), *v)).collect();
        let columns: Vec<(&str, f64)> = columns.iter().map(|(s, v)| (s.as_str(), *v)).collect();
        assert_eq!(evaluate(&columns, e), Some(-0.5));
    }
}
