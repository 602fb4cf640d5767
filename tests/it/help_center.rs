//! Help-center KPIs on `tests/fixtures/help_center/`, against values worked out by hand.

use crate::common::*;

use polars::prelude::*;

const JAN: Option<&str> = Some("2026-01-01");
const FEB: Option<&str> = Some("2026-02-01");

fn outputs() -> tempfile::TempDir {
    run(&root().join("tests/fixtures/help_center/pipeline.yaml"))
}

#[test]
fn views_bounce_rate_and_self_service_ratio() {
    let out = outputs();
    let overall = read_parquet(&out.path().join("overall.parquet"));
    // January rows: views 100 + 50 + 30 + 10; sessions 80 + 40 + 20 + 8 = 148; bounces 20 + 20 + 5 + 8 = 53.
    let views = row(&overall, &[], JAN, "kb_views", "value");
    assert_eq!((views.value, views.low_sample), (190.0, false));
    let bounce = row(&overall, &[], JAN, "kb_bounce_rate", "value");
    assert_close(bounce.value, 100.0 * 53.0 / 148.0, "bounce rate");
    assert_eq!((bounce.numerator, bounce.denominator), (Some(53.0), Some(148.0)));
    // Tickets created in January: T1–T4 (T4 at 23:59:59) → 190 / 4; February: T5, T6 → 40 / 2.
    let ratio = row(&overall, &[], JAN, "self_service_ratio", "value");
    assert_eq!(
        (ratio.value, ratio.numerator, ratio.denominator, ratio.unit.as_str()),
        (47.5, Some(190.0), Some(4.0), "ratio")
    );
    assert_eq!(row(&overall, &[], FEB, "self_service_ratio", "value").value, 20.0);

    let by = read_parquet(&out.path().join("by_section.parquet"));
    assert_eq!(row(&by, &[("section", Some("Billing"))], JAN, "kb_views", "value").value, 180.0);
    assert_close(
        row(&by, &[("section", Some("Billing"))], JAN, "kb_bounce_rate", "value").value,
        100.0 * 45.0 / 140.0,
        "Billing bounce rate",
    );
    assert_eq!(row(&by, &[("section", Some("Legal"))], JAN, "kb_bounce_rate", "value").value, 100.0);
    // Self-service is views per ticket: tickets have no section, so it stays out of the section split.
    assert_eq!(count(&by, "self_service_ratio", None), 0);
}

#[test]
fn helpfulness_with_its_wilson_interval() {
    let out = outputs();
    let by = read_parquet(&out.path().join("by_article.parquet"));
    // K1 in January: 8 helpful of 10 votes. The 95 % Wilson interval for 8 / 10 is 0.4902–0.9433, the roots
    // p of (0.8 − p)² = 1.96² p (1 − p) / 10, solved here as a quadratic independently of the engine's form.
    let k1 = |stat| row(&by, &[("article_id", Some("K1"))], JAN, "article_helpfulness", stat);
    let value = k1("value");
    assert_eq!((value.value, value.n, value.low_sample), (80.0, 10, false));
    let (low, high) = wilson_roots(8.0, 10.0);
    assert_close(k1("wilson_low").value, 100.0 * low, "Wilson low");
    assert_close(k1("wilson_high").value, 100.0 * high, "Wilson high");
    assert_eq!((format!("{:.2}", 100.0 * low), format!("{:.2}", 100.0 * high)), ("49.02".into(), "94.33".into()));
    // K2: one helpful vote of one, under min_sample 5; the interval still lies within 0–100.
    let k2 = |stat| row(&by, &[("article_id", Some("K2"))], JAN, "article_helpfulness", stat);
    assert_eq!((k2("value").value, k2("value").low_sample), (100.0, true));
    assert!(k2("wilson_low").value > 0.0 && k2("wilson_high").value <= 100.0);
    // February: 3 of 4.
    assert_eq!(row(&by, &[("article_id", Some("K1"))], FEB, "article_helpfulness", "value").value, 75.0);
}

#[test]
fn no_votes_give_no_row_and_no_nan() {
    let out = outputs();
    let by_article = read_parquet(&out.path().join("by_article.parquet"));
    // K3 (Legal) has 0 helpful and 0 unhelpful votes.
    let k3 = by_article.clone().lazy().filter(col("article_id").eq(lit("K3"))).collect().unwrap();
    assert_eq!(k3.height(), 0, "{k3}");
    let by_section = read_parquet(&out.path().join("by_section.parquet"));
    let legal_help = by_section
        .clone()
        .lazy()
        .filter(col("section").eq(lit("Legal")).and(col("kpi").eq(lit("article_helpfulness"))))
        .collect()
        .unwrap();
    assert_eq!(legal_help.height(), 0);
    for df in [&by_article, &by_section] {
        let nan = df.clone().lazy().filter(col("value").is_nan().or(col("value").is_null())).collect().unwrap();
        assert_eq!(nan.height(), 0, "{nan}");
    }
}

/// Roots of (p̂ − p)² = z² p (1 − p) / n in p, z = 1.96: a p² + b p + c = 0.
fn wilson_roots(yes: f64, n: f64) -> (f64, f64) {
    let (z, p) = (1.96_f64, yes / n);
    let a = 1.0 + z * z / n;
    let b = -(2.0 * p + z * z / n);
    let c = p * p;
    let d = (b * b - 4.0 * a * c).sqrt();
    ((-b - d) / (2.0 * a), (-b + d) / (2.0 * a))
}
