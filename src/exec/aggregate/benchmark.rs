//! Sector benchmarks on a computed KPI table: confidence intervals, the gap to a published reference figure
//! with a verdict by the KPI's direction, and, for segments by account, each account against the
//! distribution of its sector's accounts in the same period. See `docs/benchmarks.md`.

use polars::prelude::*;

use crate::catalog::{Aggregate, Direction};
use crate::error::{DataError, Error};
use crate::exec::aggregate::compile::wilson;
use crate::exec::aggregate::period_exprs::PERIOD;
use crate::plan::{Benchmarks, Plan, Segment};

const ROW: &str = "__bench_row";
/// Significant digits to which peers' values are compared for ranks.
const TIE_DIGITS: i32 = 12;

/// The columns a reference table must have; the others (source_url, source_sector, notes) are carried along.
const REFERENCE_COLUMNS: [&str; 9] = ["sector", "kpi", "stat", "p25", "median", "p75", "mean", "source", "year"];

/// Reads the reference table, every column as text, the figures as numbers.
pub fn reference_table(b: &Benchmarks) -> Result<Option<LazyFrame>, Error> {
    let Some(path) = &b.reference else { return Ok(None) };
    let unreadable = |message: String| {
        Error::Data(DataError::Unreadable {
            source_name: "benchmarks.reference".into(),
            file: path.display().to_string(),
            message,
        })
    };
    if !path.exists() {
        return Err(Error::Data(DataError::NoFiles {
            source_name: "benchmarks.reference".into(),
            pattern: path.display().to_string(),
            at: b.reference_at,
        }));
    }
    let df = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|r| r.finish())
        .map_err(|e| unreadable(e.to_string()))?;
    for c in REFERENCE_COLUMNS {
        if df.column(c).is_err() {
            return Err(unreadable(format!(
                "no column `{c}` (expected {}, then optional source_url, source_sector, notes)",
                REFERENCE_COLUMNS.join(", ")
            )));
        }
    }
    let number = |c: &str| col(c).str().strip_chars(lit(NULL)).cast(DataType::Float64).alias(format!("ref_{c}"));
    let mut columns = vec![
        col("sector"),
        col("kpi"),
        col("stat"),
        number("p25"),
        number("median"),
        number("p75"),
        number("mean"),
        col("source").alias("ref_source"),
        col("year").alias("ref_year"),
    ];
    if df.column("source_url").is_ok() {
        columns.push(col("source_url").alias("ref_source_url"));
    }
    let lf = df.lazy().select(columns);
    // A figure that does not read as a number is the file's fault, not a silent gap.
    let bad = lf
        .clone()
        .filter(
            col("ref_p25")
                .is_null()
                .and(col("ref_median").is_null())
                .and(col("ref_p75").is_null())
                .and(col("ref_mean").is_null()),
        )
        .select([col("sector"), col("kpi")])
        .collect()?;
    if bad.height() > 0 {
        let sector = bad.column("sector")?.str()?.get(0).unwrap_or("").to_string();
        let kpi = bad.column("kpi")?.str()?.get(0).unwrap_or("").to_string();
        return Err(unreadable(format!(
            "{} row(s) have no numeric p25, median, p75 or mean (first: sector {sector:?}, kpi {kpi:?})",
            bad.height()
        )));
    }
    if let Some(own) = &b.sector {
        let sectors = lf.clone().select([col("sector").unique_stable()]).collect()?;
        let sectors: Vec<&str> = sectors.column("sector")?.str()?.iter().flatten().collect();
        if !sectors.contains(&own.as_str()) {
            return Err(unreadable(format!(
                "no figure for sector `{own}` (benchmarks.sector, line {}); its sectors: {}",
                b.sector_at.line,
                sectors.join(", ")
            )));
        }
    }
    Ok(Some(lf))
}

fn direction_of(plan: &Plan) -> Expr {
    let mut e = lit(NULL).cast(DataType::String);
    for k in plan.kpis.iter().rev() {
        let d = match k.direction {
            Direction::HigherIsBetter => lit("higher"),
            Direction::LowerIsBetter => lit("lower"),
            Direction::Neutral => lit(NULL).cast(DataType::String),
        };
        e = when(col("kpi").eq(lit(k.name.as_str()))).then(d).otherwise(e);
    }
    e
}

/// Whether the row's figure is a proportion of counted events (its numerator and denominator are counts).
fn is_proportion(plan: &Plan) -> Expr {
    let mut e = lit(false);
    for k in &plan.kpis {
        for s in &k.stats {
            if matches!(s.aggregate, Aggregate::Share { .. } | Aggregate::Proportion { .. } | Aggregate::Churn) {
                e = e.or(col("kpi").eq(lit(k.name.as_str())).and(col("stat").eq(lit(s.stat.as_str()))));
            }
        }
    }
    e
}

/// The segment's table with the benchmark columns, or `None` for a segment without a sector (unless the
/// pipeline names its own: `benchmarks.sector`, whose figures every row is then compared with).
pub fn benchmark(
    plan: &Plan,
    b: &Benchmarks,
    seg: &Segment,
    table: &DataFrame,
    reference: Option<LazyFrame>,
) -> Result<Option<LazyFrame>, Error> {
    let own_sector = b.sector.as_deref().filter(|_| !seg.dimensions.contains(&"sector"));
    if !seg.dimensions.contains(&"sector") && own_sector.is_none() {
        return Ok(None);
    }
    let dims: Vec<Expr> = seg.dimensions.iter().map(|d| col(*d)).collect();
    let row_key: Vec<Expr> = dims.iter().cloned().chain([col(PERIOD), col("kpi")]).collect();
    let null_f = || lit(NULL).cast(DataType::Float64);

    // Confidence intervals: Wilson for proportions, ± the margin of error for net scores.
    let proportion = is_proportion(plan).and(col("denominator").gt(lit(0.0))).fill_null(lit(false));
    let margin = col("value").filter(col("stat").eq(lit("margin_of_error"))).first().over(row_key.clone())?;
    let net_kinds: Vec<&str> = plan.definitions.survey_kinds().iter().filter(|k| k.net_score).map(|k| k.name).collect();
    let net_score = crate::exec::aggregate::compile::one_of(col("kpi"), &net_kinds).and(col("stat").eq(lit("value")));
    let ci = |upper: bool| {
        // A net score lives in −100..100, and so does its interval.
        let net = if upper { col("value") + margin.clone() } else { col("value") - margin.clone() }
            .clip(lit(-100.0), lit(100.0));
        when(proportion.clone())
            .then(wilson(col("numerator"), col("denominator"), upper))
            .when(net_score.clone())
            .then(net)
            .otherwise(null_f())
    };
    let mut lf = table.clone().lazy().with_row_index(ROW, None).with_columns([
        ci(false).alias("ci_low"),
        ci(true).alias("ci_high"),
        direction_of(plan).alias("direction"),
    ]);

    // Reference figures: the median when published, else the mean.
    // Without a reference table the reference columns are there, empty.
    lf = match (reference, own_sector) {
        (Some(r), Some(own)) => {
            let keys = [col("kpi"), col("stat")];
            let r = r.filter(col("sector").eq(lit(own))).drop(cols(["sector"]));
            lf.join(r, keys.clone(), keys, JoinArgs::new(JoinType::Left))
                .with_column(lit(own).alias("reference_sector"))
        },
        (Some(r), None) => {
            let keys = [col("sector"), col("kpi"), col("stat")];
            lf.join(r, keys.clone(), keys, JoinArgs::new(JoinType::Left))
        },
        (None, _) => lf.with_columns(
            ["ref_p25", "ref_median", "ref_p75", "ref_mean"]
                .map(|c| null_f().alias(c))
                .into_iter()
                .chain(["ref_source", "ref_year"].map(|c| lit(NULL).cast(DataType::String).alias(c)))
                .collect::<Vec<_>>(),
        ),
    };
    let reference_value = when(col("ref_median").is_not_null()).then(col("ref_median")).otherwise(col("ref_mean"));
    let gap = col("value") - col("reference");
    let significant = when(col("ci_low").is_null().or(col("reference").is_null()))
        .then(lit(NULL).cast(DataType::Boolean))
        .otherwise(col("reference").lt(col("ci_low")).or(col("reference").gt(col("ci_high"))));
    lf = lf
        .with_columns([
            reference_value.alias("reference"),
            when(col("ref_median").is_not_null())
                .then(lit("median"))
                .when(col("ref_mean").is_not_null())
                .then(lit("mean"))
                .otherwise(lit(NULL).cast(DataType::String))
                .alias("reference_statistic"),
        ])
        .with_columns([
            gap.clone().alias("gap"),
            when(col("reference").neq(lit(0.0)))
                .then(gap / col("reference").abs())
                .otherwise(null_f())
                .alias("gap_relative"),
            significant.alias("significant"),
        ])
        .with_column(verdict(col("gap"), col("significant")).alias("verdict"));

    if seg.dimensions.contains(&"account_id") {
        lf = peers(b, seg, lf)?;
    }
    Ok(Some(lf.sort([ROW], SortMultipleOptions::default()).drop(cols([ROW]))))
}

/// `better` / `worse` by the KPI's direction, `on_par` when the gap is zero or inside the interval; null
/// without a reference or for KPIs with no better side.
fn verdict(gap: Expr, significant: Expr) -> Expr {
    let higher = col("direction").eq(lit("higher"));
    when(gap.clone().is_null().or(col("direction").is_null()))
        .then(lit(NULL).cast(DataType::String))
        .when(significant.eq(lit(false)).fill_null(lit(false)).or(gap.clone().eq(lit(0.0))))
        .then(lit("on_par"))
        .when(gap.gt(lit(0.0)).eq(higher))
        .then(lit("better"))
        .otherwise(lit("worse"))
}

/// Each account against the accounts of its sector (and the segment's other dimensions) in the same period:
/// the distribution of those without `low_sample`, the account's percentile rank and quartile.
fn peers(b: &Benchmarks, seg: &Segment, lf: LazyFrame) -> Result<LazyFrame, Error> {
    let group: Vec<Expr> = seg
        .dimensions
        .iter()
        .filter(|d| **d != "account_id")
        .map(|d| col(*d))
        .chain([col(PERIOD), col("kpi"), col("stat")])
        .collect();
    let eligible = col("low_sample").not().and(col("account_id").is_not_null()).and(col("sector").is_not_null());
    let quantile = |q: f64| col("value").quantile(lit(q), QuantileMethod::Linear);
    let distribution = lf.clone().filter(eligible.clone()).group_by(group.clone()).agg([
        len().cast(DataType::Int64).alias("n_peers"),
        quantile(0.25).alias("peer_p25"),
        quantile(0.5).alias("peer_median"),
        quantile(0.75).alias("peer_p75"),
    ]);
    // Peers strictly worse: those below for "higher is better", above for "lower is better". Ties share,
    // and values equal to 12 significant digits tie: two quantiles equal in exact arithmetic may come out of
    // different interpolations a rounding error apart.
    let rank = |descending: bool| {
        col("value")
            .round_sig_figs(TIE_DIGITS)
            .rank(RankOptions { method: RankMethod::Min, descending }, None)
            .over(group.clone())
            .expect("window over columns")
    };
    let worse = when(col("direction").eq(lit("higher")))
        .then(rank(false))
        .when(col("direction").eq(lit("lower")))
        .then(rank(true))
        .otherwise(lit(NULL).cast(DataType::UInt32))
        .cast(DataType::Float64)
        - lit(1.0);
    let ranked = lf.clone().filter(eligible).select([col(ROW), worse.alias("__worse")]);
    let enough = col("n_peers").gt_eq(lit(b.min_peers as i64)).fill_null(lit(false));
    let percentile = lit(100.0) * col("__worse") / (col("n_peers").cast(DataType::Float64) - lit(1.0));
    let null_f = || lit(NULL).cast(DataType::Float64);
    let keep_if_enough = |c: &str| when(enough.clone()).then(col(c)).otherwise(null_f()).alias(c);
    let rank = when(enough.clone().and(col("__worse").is_not_null())).then(percentile).otherwise(null_f());
    let quartile = when(col("percentile_rank").gt_eq(lit(75.0)))
        .then(lit(1i32))
        .when(col("percentile_rank").gt_eq(lit(50.0)))
        .then(lit(2i32))
        .when(col("percentile_rank").gt_eq(lit(25.0)))
        .then(lit(3i32))
        .when(col("percentile_rank").is_not_null())
        .then(lit(4i32))
        .otherwise(lit(NULL).cast(DataType::Int32));
    let note = when(col("low_sample"))
        .then(lit("low_sample: left out of the peer distribution and not ranked"))
        .when(enough.clone().not())
        .then(concat_str(
            [
                lit("only "),
                col("n_peers").fill_null(lit(0i64)).cast(DataType::String),
                lit(format!(" peer(s), fewer than min_peers {}: no distribution", b.min_peers)),
            ],
            "",
            true,
        ))
        .when(col("direction").is_null())
        .then(lit("no better side: not ranked"))
        .otherwise(lit(NULL).cast(DataType::String));
    let mut args = JoinArgs::new(JoinType::Left);
    args.nulls_equal = true;
    Ok(lf
        .join(distribution, group.clone(), group, args)
        .left_join(ranked, col(ROW), col(ROW))
        .with_columns([
            col("n_peers").fill_null(lit(0i64)),
            keep_if_enough("peer_p25"),
            keep_if_enough("peer_median"),
            keep_if_enough("peer_p75"),
            rank.alias("percentile_rank"),
        ])
        .with_columns([
            quartile.alias("quartile"),
            (col("value") - col("peer_median")).alias("gap_to_peer_median"),
            note.alias("peer_note"),
        ])
        .drop(cols(["__worse"])))
}

/// Where a segment's benchmark table goes in the output directory.
pub fn output_name(seg: &Segment) -> String {
    format!("benchmarks/{}", seg.name)
}

/// Columns a scorecard shows, in order (those a table lacks are left out).
const CARD_COLUMNS: [&str; 17] = [
    "segment",
    "sector",
    "account_id",
    "period_start",
    "kpi",
    "stat",
    "value",
    "unit",
    "n",
    "low_sample",
    "peer_p25",
    "peer_median",
    "peer_p75",
    "percentile_rank",
    "quartile",
    "reference",
    "verdict",
];

/// One account's rows of the benchmark tables under `out_dir/benchmarks/`, for `period` (its first day) or
/// the account's latest period.
pub fn scorecard(out_dir: &std::path::Path, account: &str, period: Option<&str>) -> Result<DataFrame, Error> {
    let dir = out_dir.join("benchmarks");
    let not_found = |what: String| Error::Data(DataError::NotFound { what });
    let mut tables: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|_| not_found(format!("no benchmark tables in {} (run the pipeline first)", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "parquet") || p.is_dir())
        .collect();
    tables.sort();
    let mut parts = Vec::new();
    for path in &tables {
        // A table's file, or (layout `hive`) its folder of period parts.
        let mut lf = match path.is_dir() {
            true => match crate::sink::read_partitioned(path)? {
                Some(df) => df.lazy(),
                None => continue,
            },
            false => crate::exec::scan_file(path)?,
        };
        let schema = lf.collect_schema()?;
        if !schema.contains("account_id") {
            continue;
        }
        let segment = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let columns: Vec<Expr> = CARD_COLUMNS
            .iter()
            .filter(|c| schema.contains(c))
            .map(|c| if *c == "period_start" { col(*c).cast(DataType::String) } else { col(*c) })
            .collect();
        parts.push(
            lf.filter(col("account_id").eq(lit(account))).select(columns).with_column(lit(segment).alias("segment")),
        );
    }
    if parts.is_empty() {
        return Err(not_found(format!("no benchmark table by account_id in {}", dir.display())));
    }
    let all = concat(parts, UnionArgs { diagonal: true, ..Default::default() })?.collect()?;
    if all.height() == 0 {
        return Err(not_found(format!("account `{account}` has no row in the benchmark tables of {}", dir.display())));
    }
    let period = match period {
        Some(p) => p.to_string(),
        None => all.column("period_start")?.str()?.iter().flatten().max().unwrap_or_default().to_string(),
    };
    let card = all.lazy().filter(col("period_start").eq(lit(period.as_str()))).collect()?;
    if card.height() == 0 {
        return Err(not_found(format!("account `{account}` has no row for the period starting {period}")));
    }
    let keep: Vec<&str> = CARD_COLUMNS.iter().copied().filter(|c| card.column(c).is_ok()).collect();
    Ok(card.select(keep)?)
}

#[derive(Clone, Copy, Debug)]
pub enum CardFormat {
    Table,
    Csv,
    Json,
}

/// The scorecard as text: an aligned table, CSV or JSON (one object per row).
pub fn render_scorecard(mut card: DataFrame, format: CardFormat) -> Result<String, Error> {
    let mut buf = Vec::new();
    match format {
        CardFormat::Table => {
            let shown = card.drop_many(["segment", "sector", "account_id", "period_start"]);
            let head = |c: &str| {
                card.column(c).ok().and_then(|s| s.cast(&DataType::String).ok()?.str().ok()?.get(0).map(str::to_string))
            };
            let mut out = format!(
                "account {} ({}), period starting {}\n",
                head("account_id").unwrap_or_default(),
                head("sector").unwrap_or_else(|| "no sector".into()),
                head("period_start").unwrap_or_default()
            );
            for i in 0..shown.height() {
                let cell = |c: &str| {
                    shown
                        .column(c)
                        .ok()
                        .and_then(|s| s.get(i).ok())
                        .map(|v| match v {
                            AnyValue::Null => "–".to_string(),
                            AnyValue::Float64(f) => format!("{f:.2}"),
                            AnyValue::String(s) => s.to_string(),
                            other => other.to_string(),
                        })
                        .unwrap_or_default()
                };
                let low = if cell("low_sample") == "true" { "*" } else { " " };
                out.push_str(&format!(
                    "{:<26} {:<16} {:>12}{low} {:<8} | peers p25 {:>10} median {:>10} p75 {:>10} | rank {:>6} q{} | ref {:>8} {}\n",
                    cell("kpi"),
                    cell("stat"),
                    cell("value"),
                    cell("unit"),
                    cell("peer_p25"),
                    cell("peer_median"),
                    cell("peer_p75"),
                    cell("percentile_rank"),
                    cell("quartile"),
                    cell("reference"),
                    cell("verdict"),
                ));
            }
            out.push_str("* low sample: fewer observations than min_sample; left out of the peer distribution\n");
            return Ok(out);
        },
        CardFormat::Csv => CsvWriter::new(&mut buf).include_header(true).finish(&mut card)?,
        CardFormat::Json => JsonWriter::new(&mut buf).with_json_format(JsonFormat::Json).finish(&mut card)?,
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Grain;

    /// Five accounts of one sector, higher is better. A's value comes out of arithmetic a rounding error above
    /// B's (0.1 + 0.2 against 0.3): they tie, each with 2 of 4 peers strictly worse (C and D), rank 50.
    #[test]
    fn values_a_rounding_error_apart_tie() {
        let a = 0.1 + 0.2;
        assert_ne!(a, 0.3, "the test needs two values a rounding error apart");
        let n = 5;
        let df = df!(
            ROW => (0..n as u32).collect::<Vec<_>>(),
            "sector" => vec!["Retail"; n],
            "account_id" => ["A", "B", "C", "D", "E"],
            PERIOD => vec!["2025-01-01"; n],
            "kpi" => vec!["csat"; n],
            "stat" => vec!["value"; n],
            "value" => [a, 0.3, 0.2, 0.1, 0.9],
            "low_sample" => vec![false; n],
            "direction" => vec!["higher"; n],
        )
        .unwrap();
        let b = Benchmarks {
            reference: None,
            reference_at: Default::default(),
            min_peers: 5,
            sector: None,
            sector_at: Default::default(),
        };
        let seg = Segment {
            name: "account_month".into(),
            dimensions: vec!["sector", "account_id"],
            grain: Grain::Month,
            kpis: Vec::new(),
            left_out: Vec::new(),
            compare: Vec::new(),
            fill_zero: false,
        };
        let ranked = peers(&b, &seg, df.lazy()).unwrap().sort([ROW], Default::default()).collect().unwrap();
        let ranks: Vec<Option<f64>> = ranked.column("percentile_rank").unwrap().f64().unwrap().iter().collect();
        assert_eq!(ranks, [Some(50.0), Some(50.0), Some(25.0), Some(0.0), Some(100.0)]);
    }
}
