//! The catalog KPIs beyond the foundation on `tests/fixtures/catalog/`, against values worked out by hand.
//! January: K1 phone, K2 chat, K3 email, K4 email, K5 chat (open, no agent, no category), K7 email (resolved
//! without reply); February: K6 phone. Resolved in January: K1, K2, K3, K4, K7.

use crate::common::*;

fn outputs() -> (tempfile::TempDir, polars::prelude::DataFrame) {
    let out = run(&root().join("tests/fixtures/catalog/pipeline.yaml"));
    let overall = read_parquet(&out.path().join("overall.parquet"));
    (out, overall)
}

const JAN: Option<&str> = Some("2026-01-01");

#[test]
fn wait_time_is_over_queue_channels_only() {
    let (_o, overall) = outputs();
    // Phone and chat tickets with a wait: K1 30, K2 90, K5 200.
    let r = row(&overall, &[], JAN, "wait_time", "mean");
    assert_close(r.value, 320.0 / 3.0, "wait");
    assert_eq!((r.n, r.unit.as_str()), (3, "seconds"));
}

#[test]
fn exchanges_per_resolution_is_the_mean_of_agent_replies_over_resolved() {
    let (_o, overall) = outputs();
    // Replies of K1, K2, K3, K4, K7: 1, 3, 2, 1, 0.
    let r = row(&overall, &[], JAN, "exchanges_per_resolution", "value");
    assert_eq!((r.value, r.numerator, r.denominator), (1.4, Some(7.0), Some(5.0)));
}

#[test]
fn tickets_per_agent_day_divides_by_agents_and_calendar_days() {
    let (o, overall) = outputs();
    // Five January tickets have an agent (all but K5), two agents, 31 days.
    let r = row(&overall, &[], JAN, "tickets_per_agent_day", "value");
    assert_close(r.value, 5.0 / 62.0, "overall");
    assert_eq!((r.numerator, r.denominator), (Some(5.0), Some(62.0)));
    // February has 28 days.
    assert_close(row(&overall, &[], Some("2026-02-01"), "tickets_per_agent_day", "value").value, 1.0 / 28.0, "feb");
    // Per agent: a1 handled K1 and K2, a2 handled K3, K4 and K7.
    let by = read_parquet(&o.path().join("by_agent.parquet"));
    assert_close(row(&by, &[("agent_id", Some("a1"))], JAN, "tickets_per_agent_day", "value").value, 2.0 / 31.0, "a1");
    assert_close(row(&by, &[("agent_id", Some("a2"))], JAN, "tickets_per_agent_day", "value").value, 3.0 / 31.0, "a2");
}

#[test]
fn survey_response_rate_counts_resolved_tickets_with_an_answer() {
    let (_o, overall) = outputs();
    // K1, K2, K3, K4 have an answer, K7 has none; Q4 rates K5, which is not resolved.
    let r = row(&overall, &[], JAN, "survey_response_rate", "value");
    assert_eq!((r.value, r.numerator, r.denominator), (80.0, Some(4.0), Some(5.0)));
}

#[test]
fn channel_and_category_mix_give_one_row_per_value() {
    let (o, overall) = outputs();
    // January: phone 1, chat 2, email 3 of 6.
    for (channel, share) in [("phone", 100.0 / 6.0), ("chat", 200.0 / 6.0), ("email", 50.0)] {
        let r = row(&overall, &[], JAN, "channel_mix", channel);
        assert_close(r.value, share, channel);
        assert_eq!(r.denominator, Some(6.0));
    }
    // billing 2, bug 3, no category 1.
    assert_close(row(&overall, &[], JAN, "category_mix", "bug").value, 50.0, "bug");
    assert_close(row(&overall, &[], JAN, "category_mix", "(none)").value, 100.0 / 6.0, "none");
    // Split by channel, the channel mix would be 100 % everywhere: it is left out of that segment.
    let by_channel = read_parquet(&o.path().join("by_channel.parquet"));
    assert_eq!(count(&by_channel, "channel_mix", None), 0);
    assert_close(
        row(&by_channel, &[("channel", Some("email"))], None, "category_mix", "bug").value,
        100.0,
        "email bugs",
    );
}

#[test]
fn enps_is_an_nps_on_employee_surveys() {
    let (_o, overall) = outputs();
    // 10, 9 promoters; 8 passive; 5, 6 detractors: 40 % − 40 % = 0.
    let r = row(&overall, &[], JAN, "enps", "value");
    assert_eq!((r.value, r.n, r.unit.as_str()), (0.0, 5, "points"));
    // 1.96 × sqrt((0.4 + 0.4 − 0²) / 5) × 100 = 1.96 × 0.4 × 100.
    assert_close(row(&overall, &[], JAN, "enps", "margin_of_error").value, 78.4, "moe");
}

#[test]
fn frt_csat_correlation_is_spearman_with_average_ranks() {
    let (_o, overall) = outputs();
    // Pairs (first response s, score): K1 (60, 5), K2 (600, 3), K3 (3600, 1), K4 (1200, 3); Q4 rates K5, which
    // has no response. Ranks x = 1, 2, 4, 3; y = 4, 2.5, 1, 2.5 (the two 3s share 2.5).
    // Σdxdy = −4.5, Σdx² = 5, Σdy² = 4.5: ρ = −4.5 / sqrt(22.5) = −3 / sqrt(10).
    let r = row(&overall, &[], JAN, "frt_csat_correlation", "value");
    assert_close(r.value, -3.0 / 10f64.sqrt(), "rho");
    assert_eq!((r.n, r.unit.as_str()), (4, "coefficient"));
    // February has no CSAT answer: no row rather than a NaN.
    assert_eq!(count(&overall, "frt_csat_correlation", None), 1);
}

#[test]
fn first_response_sla_counts_overdue_unanswered_tickets_as_breaches() {
    let (_o, overall) = outputs();
    // Targets: phone 60 s, chat 5 min, email 1 h. Within: K1 (phone, 60 s: ≤ counts), K3 (email, exactly 1 h),
    // K4 (email, 20 min); breached: K2 (chat, 10 min); unanswered and long overdue now: K5, K7.
    let r = row(&overall, &[], JAN, "sla_attainment", "value");
    assert_eq!((r.value, r.numerator, r.denominator), (50.0, Some(3.0), Some(6.0)));
    // February: K6 answered a phone call in 2 minutes.
    assert_eq!(row(&overall, &[], Some("2026-02-01"), "sla_attainment", "value").value, 0.0);
}

#[test]
fn unanswered_tickets_within_their_target_at_the_as_of_time_are_left_out() {
    // 9 January 09:03 UTC: K5 (chat, opened 09:00) is 3 minutes old, within its 5; K7 is not opened yet.
    let settings =
        deskpulse::plan::RunSettings { as_of: Some("2026-01-09T09:03:00Z".parse().unwrap()), ..Default::default() };
    let plan = deskpulse::load_plan_with(&root().join("tests/fixtures/catalog/pipeline.yaml"), settings).unwrap();
    let out = tempfile::tempdir().unwrap();
    deskpulse::exec::run(&plan, out.path()).unwrap();
    let overall = read_parquet(&out.path().join("overall.parquet"));
    let r = row(&overall, &[], JAN, "sla_attainment", "value");
    assert_eq!((r.value, r.numerator, r.denominator), (75.0, Some(3.0), Some(4.0)));
}

#[test]
fn resolution_sla_uses_the_most_specific_rule() {
    let (_o, overall) = outputs();
    // Phone tickets have 30 min, the rest 1 day. K1 (phone, 1 h) breached; K2 (3 h), K3 (exactly 24 h),
    // K4 (2 h), K7 (1 h) within.
    let r = row(&overall, &[], JAN, "resolution_sla_attainment", "value");
    assert_eq!((r.value, r.numerator, r.denominator), (80.0, Some(4.0), Some(5.0)));
}

/// A mix over more values than the segment's one aggregation counts (32) is a group-by of its own: the same
/// shares. 45 January tickets in 40 categories: c00–c04 twice, the others once.
#[test]
fn a_mix_over_many_values_gives_one_row_per_value() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("id,created,channel,category\n");
    for i in 0..45 {
        csv.push_str(&format!("T{i},2026-01-{:02}T10:00:00Z,email,c{:02}\n", 1 + i % 28, i % 40));
    }
    std::fs::write(dir.path().join("tickets.csv"), csv).unwrap();
    let pipeline = dir.path().join("pipeline.yaml");
    std::fs::write(
        &pipeline,
        "name: many
sources:
  tickets:
    table: tickets
    path: tickets.csv
    columns: { ticket_id: id, created_at: created, channel: channel, category: category }
kpis: [category_mix, channel_mix]
min_sample: 1
segments:
  overall: { by: [], grain: month }
",
    )
    .unwrap();
    let out = run(&pipeline);
    let overall = read_parquet(&out.path().join("overall.parquet"));
    assert_eq!(count(&overall, "category_mix", None), 40);
    let twice = row(&overall, &[], JAN, "category_mix", "c00");
    assert_close(twice.value, 200.0 / 45.0, "c00");
    assert_eq!((twice.numerator, twice.denominator, twice.n), (Some(2.0), Some(45.0), 45));
    assert_close(row(&overall, &[], JAN, "category_mix", "c39").value, 100.0 / 45.0, "c39");
    // The channel mix (one value) is counted in the aggregation: the same figures' shape.
    let email = row(&overall, &[], JAN, "channel_mix", "email");
    assert_eq!((email.value, email.numerator, email.denominator, email.n), (100.0, Some(45.0), Some(45.0), 45));
}
