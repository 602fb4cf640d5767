//! CAC and CLV on `tests/fixtures/acquisition/`, against values worked out by hand; and the spec's CAC example.

use crate::common::*;

const JAN: Option<&str> = Some("2026-01-01");
const FEB: Option<&str> = Some("2026-02-01");
/// A1's relationship, 2025-01-01 → 2025-07-02: 182 days, the only one complete before February.
const A1_YEARS: f64 = 182.0 / 365.25;

#[test]
fn cac_is_spend_over_accounts_acquired() {
    let out = run(&root().join("tests/fixtures/acquisition/pipeline.yaml"));
    let overall = read_parquet(&out.path().join("overall.parquet"));
    // January: 600 + 400 spent; A3 (10 Jan) and A4 (20 Jan) acquired → 500.
    let jan = row(&overall, &[], JAN, "cac", "value");
    assert_eq!((jan.value, jan.numerator, jan.denominator, jan.n), (500.0, Some(1000.0), Some(2.0), 2));
    assert_eq!(jan.unit, "currency");
    // February: 900 + 300 spent; A5 acquired → 1200.
    assert_eq!(row(&overall, &[], FEB, "cac", "value").value, 1200.0);

    let by = read_parquet(&out.path().join("by_channel.parquet"));
    // By channel, accounts count where their `acquisition_channel` says: ads won A3 then A5, events A4.
    assert_eq!(row(&by, &[("acquisition_channel", Some("ads"))], JAN, "cac", "value").value, 600.0);
    assert_eq!(row(&by, &[("acquisition_channel", Some("events"))], JAN, "cac", "value").value, 400.0);
    assert_eq!(row(&by, &[("acquisition_channel", Some("ads"))], FEB, "cac", "value").value, 900.0);
    // Events spent 300 in February and won nobody: no row rather than a division by zero.
    assert_eq!(count_where(&by, "cac", "events", "2026-02-01"), 0);
}

#[test]
fn clv_is_revenue_per_customer_times_relationship_years_minus_cac() {
    let out = run(&root().join("tests/fixtures/acquisition/pipeline.yaml"));
    let overall = read_parquet(&out.path().join("overall.parquet"));
    // Customers on 1 Feb: A2 (3000), A3 (2000), A4 (4000), A6 (no revenue: left out) → 3000 per customer.
    let jan = row(&overall, &[], JAN, "clv", "value");
    assert_close(jan.value, 3000.0 * A1_YEARS - 500.0, "January CLV");
    assert_eq!(jan.n, 3);
    // Customers on 1 Mar add A5 (6000): (3000 + 2000 + 4000 + 6000) / 4 = 3750; CAC 1200.
    assert_close(row(&overall, &[], FEB, "clv", "value").value, 3750.0 * A1_YEARS - 1200.0, "February CLV");

    let by = read_parquet(&out.path().join("by_channel.parquet"));
    // Ads on 1 Feb: A3 (2000) and A6 (none); its complete relationship is A1's; CAC 600.
    assert_close(
        row(&by, &[("acquisition_channel", Some("ads"))], JAN, "clv", "value").value,
        2000.0 * A1_YEARS - 600.0,
        "ads January CLV",
    );
    // Events has no complete relationship yet (A2 churns in June 2026): no CLV row.
    assert_eq!(count_where(&by, "clv", "events", "2026-01-01"), 0);
}

#[test]
fn a_declared_relationship_length_replaces_the_measured_one() {
    let dir = fixture_variant("acquisition", |yaml| {
        yaml.replace("kpis: [cac, clv]", "definitions: { clv: { relationship_years: 3 } }\nkpis: [cac, clv]")
    });
    let out = run(&dir.path().join("pipeline.yaml"));
    let overall = read_parquet(&out.path().join("overall.parquet"));
    assert_eq!(row(&overall, &[], JAN, "clv", "value").value, 3000.0 * 3.0 - 500.0);
}

/// The spec's example: 10,000 spent, 20,000 acquired gives 0.50.
#[test]
fn cac_matches_the_spec_example() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("id,since\n");
    for i in 0..20_000 {
        csv.push_str(&format!("a{i},2026-03-{:02}\n", i % 28 + 1));
    }
    std::fs::write(dir.path().join("accounts.csv"), csv).unwrap();
    std::fs::write(dir.path().join("spend.csv"), "month,amount\n2026-03-01,6000\n2026-03-15,4000\n").unwrap();
    let pipeline = "name: spec_example
sources:
  accounts: { table: accounts, path: accounts.csv, columns: { account_id: id, customer_since: since } }
  spend: { table: spend, path: spend.csv, columns: { period: month, amount: amount } }
kpis: [cac]
segments: { march: { by: [], grain: month } }
filters: { window: { from: 2026-03-01, to: 2026-04-01 } }
";
    std::fs::write(dir.path().join("pipeline.yaml"), pipeline).unwrap();
    let out = run(&dir.path().join("pipeline.yaml"));
    let df = read_parquet(&out.path().join("march.parquet"));
    let cac = row(&df, &[], Some("2026-03-01"), "cac", "value");
    assert_eq!((cac.value, cac.numerator, cac.denominator), (0.5, Some(10_000.0), Some(20_000.0)));
}

#[test]
fn cac_cannot_be_split_by_week_or_by_sector() {
    let fixture = root().join("tests/fixtures/acquisition/pipeline.yaml");
    let yaml = std::fs::read_to_string(&fixture).unwrap().replace(
        "  by_channel: { by: [acquisition_channel], grain: month }",
        "  by_channel: { by: [acquisition_channel], grain: month }\n  weekly: { by: [], grain: week, kpis: [cac] }\n  \
         sectors: { by: [sector], grain: month, kpis: [clv] }",
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pipeline.yaml"), yaml).unwrap();
    let err = deskpulse::load_plan(&dir.path().join("pipeline.yaml")).unwrap_err().to_string();
    let deskpulse::error::Error::Plan(p) = deskpulse::load_plan(&dir.path().join("pipeline.yaml")).unwrap_err() else {
        panic!("expected a plan error, got {err}");
    };
    let messages: Vec<&str> = p.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert!(messages.iter().any(|m| m.contains("`cac` is over monthly spend")), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("`clv` cannot be split by `sector`")), "{messages:?}");
}

fn count_where(df: &polars::prelude::DataFrame, kpi: &str, channel: &str, period: &str) -> usize {
    use polars::prelude::*;
    let pred = col("kpi")
        .eq(lit(kpi))
        .and(col("acquisition_channel").eq(lit(channel)))
        .and(col("period_start").cast(DataType::String).eq(lit(period)));
    df.clone().lazy().filter(pred).collect().unwrap().height()
}
