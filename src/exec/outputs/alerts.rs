//! Alerts (`alerts: { kpis: [...] }`): a segment's period whose value leaves the range the series' own
//! earlier periods predict. The prediction is robust: the median of the reference periods and 1.4826 × their
//! median absolute deviation (a standard deviation for normal data, unmoved by an earlier spike). A daily
//! series is compared with the same weekday of the 8 weeks before (weekly seasonality), others with their 12
//! periods before; with fewer than 4 (daily) or 6 reference periods, no alert. `DIR/alerts`.

use polars::prelude::*;

use crate::catalog::Unit;
use crate::exec::aggregate::period_exprs::PERIOD;
use crate::periods::Grain;
use crate::plan::{Plan, Segment};

/// How far from the median a value may go: this many robust standard deviations, at least `MIN_SHARE` of
/// the median, and for counts at least `COUNT_SIGMAS` Poisson standard deviations (√median).
const SIGMAS: f64 = 4.0;
const MIN_SHARE: f64 = 0.1;
const COUNT_SIGMAS: f64 = 3.0;

/// An alert on point `index` of a series: the value, the expected range, and `above` or `below`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Flag {
    pub index: usize,
    pub low: f64,
    pub high: f64,
    pub above: bool,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n % 2 {
        1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// The points of a series (period start as days since the epoch, value), in period order, that leave their
/// expected range. `counts`: the values are counts (a Poisson floor on the range).
pub(crate) fn detect(points: &[(i32, f64)], grain: Grain, counts: bool) -> Vec<Flag> {
    let mut out = Vec::new();
    for (i, &(day, value)) in points.iter().enumerate() {
        let mut reference: Vec<f64> = match grain {
            Grain::Day => {
                points[..i].iter().filter(|(d, _)| (day - d) % 7 == 0 && day - d <= 56).map(|(_, v)| *v).collect()
            },
            _ => points[i.saturating_sub(12)..i].iter().map(|(_, v)| *v).collect(),
        };
        let needed = if grain == Grain::Day { 4 } else { 6 };
        if reference.len() < needed || !value.is_finite() {
            continue;
        }
        let center = median(&mut reference);
        let mut deviations: Vec<f64> = reference.iter().map(|v| (v - center).abs()).collect();
        let spread = 1.4826 * median(&mut deviations);
        let mut width = (SIGMAS * spread).max(MIN_SHARE * center.abs());
        if counts {
            width = width.max(COUNT_SIGMAS * center.abs().sqrt());
        }
        let (low, high) = (center - width, center + width);
        if value > high || value < low {
            out.push(Flag { index: i, low, high, above: value > high });
        }
    }
    out
}

/// The alerts of the run's segment tables, added to `merged` as `alerts` and to `warnings` as lines: how many.
pub(crate) fn with_alerts(
    plan: &Plan,
    merged: &mut crate::exec::outputs::write::Merged,
    warnings: &mut Vec<String>,
) -> PolarsResult<usize> {
    let named: Vec<(String, DataFrame)> =
        plan.segments.iter().filter_map(|seg| merged.tables.iter().find(|(n, _)| *n == seg.name).cloned()).collect();
    let Some(table) = alerts(plan, &named)? else { return Ok(0) };
    let count = table.height();
    warnings.extend(alert_lines(&table)?);
    merged.tables.push(("alerts".into(), table));
    Ok(count)
}

/// One warning line per alert (the first 20, then how many more).
fn alert_lines(table: &DataFrame) -> PolarsResult<Vec<String>> {
    let text = |c: &str| -> PolarsResult<Vec<String>> {
        Ok(table.column(c)?.cast(&DataType::String)?.str()?.iter().map(|v| v.unwrap_or_default().to_string()).collect())
    };
    let (segment, dims, period, kpi, stat, direction) =
        (text("segment")?, text("dimensions")?, text("period_start")?, text("kpi")?, text("stat")?, text("direction")?);
    let value = table.column("value")?.f64()?;
    let (low, high) = (table.column("expected_low")?.f64()?, table.column("expected_high")?.f64()?);
    let mut out: Vec<String> = (0..table.height().min(20))
        .map(|i| {
            let dims = if dims[i].is_empty() { String::new() } else { format!(" ({})", dims[i]) };
            format!(
                "alert: {} {} {}{dims} on {}: {} is {} the expected {:.1}–{:.1}",
                segment[i],
                kpi[i],
                stat[i],
                period[i],
                value.get(i).map(|v| format!("{v:.1}")).unwrap_or_default(),
                direction[i],
                low.get(i).unwrap_or_default(),
                high.get(i).unwrap_or_default()
            )
        })
        .collect();
    if table.height() > 20 {
        out.push(format!("alert: {} more in alerts.csv", table.height() - 20));
    }
    Ok(out)
}

/// The alerts of every segment table (`named`, in the order of the segments) on the KPIs `alerts` watches.
pub(crate) fn alerts(plan: &Plan, named: &[(String, DataFrame)]) -> PolarsResult<Option<DataFrame>> {
    if plan.alerts.is_empty() {
        return Ok(None);
    }
    let mut rows = Rows::default();
    for (seg, (_, df)) in plan.segments.iter().zip(named) {
        if seg.grain == Grain::All {
            continue;
        }
        for kpi in &plan.alerts {
            let counts = plan.kpis.iter().find(|k| &k.name == kpi).and_then(|k| k.stats.first()).map(|s| s.unit)
                == Some(Unit::Count);
            series_alerts(seg, df, kpi, counts, &mut rows)?;
        }
    }
    Ok(Some(rows.frame()?))
}

#[derive(Default)]
struct Rows {
    segment: Vec<String>,
    dimensions: Vec<String>,
    period: Vec<i32>,
    kpi: Vec<String>,
    stat: Vec<String>,
    value: Vec<f64>,
    low: Vec<f64>,
    high: Vec<f64>,
    direction: Vec<&'static str>,
}

impl Rows {
    fn frame(self) -> PolarsResult<DataFrame> {
        let period = Int32Chunked::from_vec(PERIOD.into(), self.period).into_series().cast(&DataType::Date)?;
        DataFrame::new_infer_height(vec![
            Column::new("segment".into(), self.segment),
            Column::new("dimensions".into(), self.dimensions),
            period.into(),
            Column::new("kpi".into(), self.kpi),
            Column::new("stat".into(), self.stat),
            Column::new("value".into(), self.value),
            Column::new("expected_low".into(), self.low),
            Column::new("expected_high".into(), self.high),
            Column::new("direction".into(), self.direction),
        ])
    }
}

/// The alerts of one KPI's series in one segment table: one series per dimension values and stat.
fn series_alerts(seg: &Segment, df: &DataFrame, kpi: &str, counts: bool, rows: &mut Rows) -> PolarsResult<()> {
    let mut by: Vec<Expr> = seg.dimensions.iter().map(|d| col(*d).cast(DataType::String)).collect();
    by.push(col("stat"));
    let order = SortMultipleOptions::default().with_maintain_order(true);
    let series = df
        .clone()
        .lazy()
        .filter(col("kpi").eq(lit(kpi)).and(col("value").is_not_null()).and(col(PERIOD).is_not_null()))
        .sort([PERIOD], order)
        .group_by_stable(by)
        .agg([col(PERIOD).cast(DataType::Int32).alias("__days"), col("value").alias("__values")])
        .collect()?;
    let days = series.column("__days")?.list()?.clone();
    let values = series.column("__values")?.list()?.clone();
    let stats = series.column("stat")?.str()?.clone();
    for i in 0..series.height() {
        let (Some(d), Some(v)) = (days.get_as_series(i), values.get_as_series(i)) else { continue };
        let points: Vec<(i32, f64)> = d
            .i32()?
            .iter()
            .zip(v.cast(&DataType::Float64)?.f64()?.iter())
            .filter_map(|(d, v)| Some((d?, v?)))
            .collect();
        let flags = detect(&points, seg.grain, counts);
        if flags.is_empty() {
            continue;
        }
        let dimensions = seg
            .dimensions
            .iter()
            .map(|dim| {
                let value =
                    series.column(dim).ok().and_then(|c| c.str().ok().and_then(|s| s.get(i).map(str::to_string)));
                format!("{dim}={}", value.unwrap_or_else(|| "(none)".into()))
            })
            .collect::<Vec<_>>()
            .join(", ");
        for f in flags {
            rows.segment.push(seg.name.clone());
            rows.dimensions.push(dimensions.clone());
            rows.period.push(points[f.index].0);
            rows.kpi.push(kpi.to_string());
            rows.stat.push(stats.get(i).unwrap_or_default().to_string());
            rows.value.push(points[f.index].1);
            rows.low.push(f.low);
            rows.high.push(f.high);
            rows.direction.push(if f.above { "above" } else { "below" });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reproducible stream of uniform numbers in [0, 1) (SplitMix64).
    struct Noise(u64);
    impl Noise {
        fn next(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        }
        /// A standard normal draw (Box-Muller).
        fn normal(&mut self) -> f64 {
            let (u, v) = (self.next().max(1e-12), self.next());
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        }
    }

    #[test]
    fn a_flat_series_alerts_its_spike_only() {
        let points: Vec<(i32, f64)> = (0..60).map(|d| (d, if d == 40 { 100.0 } else { 10.0 })).collect();
        let flags = detect(&points, Grain::Day, true);
        assert_eq!(flags.iter().map(|f| f.index).collect::<Vec<_>>(), [40]);
        assert!(flags[0].above && flags[0].high < 100.0);
    }

    #[test]
    fn too_little_history_gives_no_alert() {
        let points: Vec<(i32, f64)> = (0..27).map(|d| (d, if d == 26 { 1000.0 } else { 10.0 })).collect();
        assert!(detect(&points, Grain::Day, true).is_empty(), "fewer than 4 earlier same weekdays");
        let months: Vec<(i32, f64)> = (0..5).map(|m| (m * 30, if m == 4 { 900.0 } else { 300.0 })).collect();
        assert!(detect(&months, Grain::Month, true).is_empty(), "fewer than 6 earlier months");
    }

    /// Precision and recall on a year of daily counts with a weekly pattern (weekdays about 200, weekends 80,
    /// Poisson-like noise), with 10 spikes (×1.8) and 10 dips (×0.4) injected after the first 8 weeks, in 5
    /// differently seeded series: each must reach 0.9.
    #[test]
    fn precision_and_recall_on_weekly_series_with_spikes_and_dips() {
        let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
        for seed in 1..=5u64 {
            let mut noise = Noise(seed);
            let mut injected = std::collections::BTreeSet::new();
            while injected.len() < 20 {
                injected.insert(56 + (noise.next() * 300.0) as usize);
            }
            let points: Vec<(i32, f64)> = (0..365)
                .map(|d| {
                    let mean: f64 = if d % 7 >= 5 { 80.0 } else { 200.0 };
                    let mut v = (mean + mean.sqrt() * noise.normal()).round().max(0.0);
                    if injected.contains(&d) {
                        v *= if injected.iter().position(|x| *x == d).unwrap_or(0) % 2 == 0 { 1.8 } else { 0.4 };
                    }
                    (d as i32, v)
                })
                .collect();
            let flagged: std::collections::BTreeSet<usize> =
                detect(&points, Grain::Day, true).into_iter().map(|f| f.index).collect();
            tp += flagged.intersection(&injected).count();
            fp += flagged.difference(&injected).count();
            fn_ += injected.difference(&flagged).count();
        }
        let precision = tp as f64 / (tp + fp) as f64;
        let recall = tp as f64 / (tp + fn_) as f64;
        eprintln!("alerts: precision {precision:.3}, recall {recall:.3} ({tp} found, {fp} false, {fn_} missed)");
        assert!(precision >= 0.9 && recall >= 0.9, "precision {precision}, recall {recall}");
    }
}
