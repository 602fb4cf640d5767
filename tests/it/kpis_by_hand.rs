//! Every KPI of the foundation on `tests/fixtures/hand/`, against values worked out by hand from the fixture.
//! The fixture has 6 tickets (T1–T5 in January 2026, T6 in February), 3 CSAT, 20 NPS and 4 CES answers.
//! Resolved (statuses solved/closed, never abandoned): T1, T2, T5 in January (T4 is an abandoned call the
//! system closed; T3 is open), T6 in February.

use crate::common::*;

fn outputs() -> (tempfile::TempDir, polars::prelude::DataFrame, polars::prelude::DataFrame, polars::prelude::DataFrame)
{
    let out = run(&root().join("tests/fixtures/hand/pipeline.yaml"));
    let overall = read_parquet(&out.path().join("overall.parquet"));
    let channel = read_parquet(&out.path().join("by_channel.parquet"));
    let sector = read_parquet(&out.path().join("by_sector.parquet"));
    (out, overall, channel, sector)
}

const JAN: Option<&str> = Some("2026-01-01");
const FEB: Option<&str> = Some("2026-02-01");

#[test]
fn ticket_volume_counts_tickets_per_period() {
    let (_o, overall, _, _) = outputs();
    let jan = row(&overall, &[], JAN, "ticket_volume", "value");
    assert_eq!((jan.value, jan.n, jan.unit.as_str(), jan.low_sample), (5.0, 5, "count", false));
    assert_eq!(row(&overall, &[], FEB, "ticket_volume", "value").value, 1.0);
}

#[test]
fn first_response_time_mean_median_p90() {
    let (_o, overall, channel, _) = outputs();
    // January responses: T1 60 s, T2 300 s, T3 600 s, T5 30 s (T4 none). Sorted 30, 60, 300, 600.
    let mean = row(&overall, &[], JAN, "first_response_time", "mean");
    assert_close(mean.value, 990.0 / 4.0, "mean");
    assert_eq!((mean.numerator, mean.denominator, mean.n), (Some(990.0), Some(4.0), 4));
    // median: halfway between 60 and 300.
    assert_close(row(&overall, &[], JAN, "first_response_time", "median").value, 180.0, "median");
    // p90: rank 0.9 × 3 = 2.7 → 300 + 0.7 × (600 − 300).
    assert_close(row(&overall, &[], JAN, "first_response_time", "p90").value, 510.0, "p90");
    // email in January: T2 300 s and T3 600 s.
    assert_close(
        row(&channel, &[("channel", Some("email"))], JAN, "first_response_time", "mean").value,
        450.0,
        "email",
    );
}

#[test]
fn resolution_time_over_resolved_tickets() {
    let (_o, overall, _, _) = outputs();
    // T1 3,600 s, T2 86,400 s, T5 1,800 s. Sorted 1,800, 3,600, 86,400.
    let mean = row(&overall, &[], JAN, "resolution_time", "mean");
    assert_close(mean.value, 91_800.0 / 3.0, "mean");
    assert_eq!(mean.n, 3);
    assert_close(row(&overall, &[], JAN, "resolution_time", "median").value, 3_600.0, "median");
    // p90: rank 0.9 × 2 = 1.8 → 3,600 + 0.8 × (86,400 − 3,600).
    assert_close(row(&overall, &[], JAN, "resolution_time", "p90").value, 69_840.0, "p90");
}

#[test]
fn handle_time_is_the_mean_of_known_handle_seconds() {
    let (_o, overall, _, _) = outputs();
    // T1 300, T2 600, T5 900; T3 and T4 have none.
    let r = row(&overall, &[], JAN, "handle_time", "mean");
    assert_close(r.value, 600.0, "aht");
    assert_eq!((r.n, r.low_sample), (3, false));
}

#[test]
fn rates_with_numerator_and_denominator() {
    let (_o, overall, _, _) = outputs();
    let check = |kpi: &str, num: f64, den: f64| {
        let r = row(&overall, &[], JAN, kpi, "value");
        assert_close(r.value, 100.0 * num / den, kpi);
        assert_eq!((r.numerator, r.denominator, r.unit.as_str()), (Some(num), Some(den), "percent"), "{kpi}");
    };
    check("resolution_rate", 3.0, 5.0); // T1, T2, T5 of 5
    check("fcr_rate", 2.0, 3.0); // T1 and T5: one reply, no reopen; T2 has 2 replies and a reopen
    check("escalation_rate", 1.0, 5.0); // T2
    check("reopen_rate", 1.0, 3.0); // T2 among the resolved
    check("abandonment_rate", 1.0, 3.0); // T4 among the queue channels: T1 chat, T4 and T5 phone
}

#[test]
fn abandonment_only_counts_queue_channels() {
    let (_o, _, channel, _) = outputs();
    assert_close(row(&channel, &[("channel", Some("phone"))], JAN, "abandonment_rate", "value").value, 50.0, "phone");
    assert_close(row(&channel, &[("channel", Some("chat"))], JAN, "abandonment_rate", "value").value, 0.0, "chat");
    assert_eq!(count(&channel, "abandonment_rate", Some("email")), 0, "email has no queue: no row, not a 0/0");
}

#[test]
fn csat_share_and_mean() {
    let (_o, overall, channel, _) = outputs();
    // January CSAT scores 5, 3, 4: two of three are 4 or more.
    let r = row(&overall, &[], JAN, "csat", "value");
    assert_close(r.value, 200.0 / 3.0, "csat");
    assert_eq!((r.numerator, r.denominator, r.n, r.low_sample), (Some(2.0), Some(3.0), 3, false));
    assert_close(row(&overall, &[], JAN, "csat", "mean").value, 4.0, "csat mean");
    // Surveys take the channel of their ticket: S2 (score 3) rates T2, an email.
    assert_close(row(&channel, &[("channel", Some("email"))], JAN, "csat", "value").value, 0.0, "email csat");
    assert!(row(&channel, &[("channel", Some("email"))], JAN, "csat", "value").low_sample, "1 answer < min_sample 3");
}

#[test]
fn nps_matches_the_spec_example_with_its_margin_of_error() {
    let (_o, overall, channel, _) = outputs();
    // 16 promoters, 3 detractors of 20: 80 % − 15 % = 65 points.
    let r = row(&overall, &[], JAN, "nps", "value");
    assert_close(r.value, 65.0, "nps");
    assert_eq!((r.numerator, r.denominator, r.n, r.unit.as_str()), (Some(13.0), Some(20.0), 20, "points"));
    // 1.96 × sqrt((0.80 + 0.15 − 0.65²) / 20) × 100 = 1.96 × sqrt(0.026375) × 100 = 31.8311…
    let moe = row(&overall, &[], JAN, "nps", "margin_of_error").value;
    assert!((moe - 31.8311).abs() < 1e-3, "margin of error {moe}");
    // Relationship NPS answers have no ticket, so no channel: they land in the null-channel row.
    assert_close(row(&channel, &[("channel", None)], JAN, "nps", "value").value, 65.0, "no channel");
}

#[test]
fn ces_mean_and_easy_share() {
    let (_o, overall, _, _) = outputs();
    // January CES 7, 6, 3 (February: 5).
    assert_close(row(&overall, &[], JAN, "ces", "value").value, 16.0 / 3.0, "ces");
    assert_close(row(&overall, &[], JAN, "ces", "easy_share").value, 200.0 / 3.0, "easy share");
    assert_close(row(&overall, &[], FEB, "ces", "easy_share").value, 0.0, "feb easy share");
}

#[test]
fn sector_comes_from_the_account_through_tickets_and_surveys() {
    let (_o, _, _, sector) = outputs();
    // grain `all` without a window: one row per sector, period_start null.
    assert_eq!(row(&sector, &[("sector", Some("Retail"))], None, "ticket_volume", "value").value, 3.0);
    assert_eq!(row(&sector, &[("sector", Some("Software"))], None, "ticket_volume", "value").value, 3.0);
    // CSAT answers carry no account: they reach Retail through their tickets (all of account A).
    assert_close(row(&sector, &[("sector", Some("Retail"))], None, "csat", "value").value, 200.0 / 3.0, "csat");
    // NPS answers carry account A themselves.
    assert_close(row(&sector, &[("sector", Some("Retail"))], None, "nps", "value").value, 65.0, "nps");
    // CES: C1–C3 rate tickets of A (7, 6, 3), C4 rates T6 of B (5).
    assert_close(row(&sector, &[("sector", Some("Software"))], None, "ces", "value").value, 5.0, "ces");
}

#[test]
fn rows_are_sorted_by_dimensions_period_and_declared_kpi_order() {
    let (_o, overall, _, _) = outputs();
    let kpis: Vec<String> = (0..overall.height())
        .map(|i| overall.column("kpi").unwrap().str().unwrap().get(i).unwrap().to_string())
        .collect();
    assert_eq!(&kpis[..4], ["ticket_volume", "first_response_time", "first_response_time", "first_response_time"]);
    let columns: Vec<&str> = overall.get_column_names().iter().map(|s| s.as_str()).collect();
    assert_eq!(columns, deskpulse::exec::OUTPUT_COLUMNS);
}
