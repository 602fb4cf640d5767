//! Business-hours durations and SLA targets on `tests/fixtures/business_hours/` (Paris office, Monday to
//! Friday 09:00–18:00, Easter Monday closed; email on that calendar, chat around the clock), worked out by
//! hand: over a weekend, across the spring DST change (29 March 2026) and across a holiday.

use crate::common::*;

const JAN: Option<&str> = Some("2026-01-01");
const HOUR: f64 = 3600.0;

fn run_at(pipeline: &std::path::Path, as_of: &str) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let settings = deskpulse::plan::RunSettings { as_of: Some(as_of.parse().unwrap()), ..Default::default() };
    let plan = deskpulse::load_plan_with(pipeline, settings).unwrap_or_else(|e| panic!("{e}"));
    deskpulse::exec::run(&plan, out.path()).unwrap_or_else(|e| panic!("{e}"));
    out
}

fn fixture() -> std::path::PathBuf {
    root().join("tests/fixtures/business_hours/pipeline.yaml")
}

#[test]
fn first_response_in_business_seconds() {
    let out = run_at(&fixture(), "2026-06-26T12:00:00Z");
    let by = read_parquet(&out.path().join("by_channel.parquet"));
    // Email, January (Paris is UTC+1):
    //   T1 Fri 17:00 → Mon 10:00: 1 h Friday + 1 h Monday = 2 h (65 h elapsed);
    //   T5 Sat 11:00 → Sat 13:00: closed, 0;
    //   T6 Mon 09:00 → Wed 18:30: 9 + 9 + 9 h = 27 h (the half hour after closing does not count);
    //   T7 Fri 09:00 → Mon 17:00: 9 + 8 = 17 h.
    let email = row(&by, &[("channel", Some("email"))], JAN, "first_response_time", "mean");
    assert_close(email.value, (2.0 + 0.0 + 27.0 + 17.0) * HOUR / 4.0, "email January business FRT");
    // Chat has no calendar: elapsed seconds (T4, 30 s on a Saturday).
    assert_eq!(row(&by, &[("channel", Some("chat"))], JAN, "first_response_time", "mean").value, 30.0);
    // T2 Fri 27 March 17:00 CET → Tue 31 March 10:00 CEST: 1 h + Monday 9 h (opening 07:00 UTC after the
    // change) + 1 h = 11 h, not the 12 h a fixed UTC offset would give.
    let march = row(&by, &[("channel", Some("email"))], Some("2026-03-01"), "first_response_time", "mean");
    assert_eq!(march.value, 11.0 * HOUR);
    // T3 Thu 2 April 17:00 → Tue 7 April 10:00 over Good Friday (open) and Easter Monday (closed): 1 + 9 + 1.
    let april = row(&by, &[("channel", Some("email"))], Some("2026-04-01"), "first_response_time", "mean");
    assert_eq!(april.value, 11.0 * HOUR);
    // Resolution time keeps the default wall clock: T1 Fri 9 Jan 16:00 → Tue 13 Jan 09:00 UTC = 89 h.
    assert_eq!(row(&by, &[("channel", Some("email"))], JAN, "resolution_time", "mean").value, 89.0 * HOUR);
}

#[test]
fn sla_targets_in_business_hours() {
    let out = run_at(&fixture(), "2026-06-26T12:00:00Z");
    let overall = read_parquet(&out.path().join("overall.parquet"));
    // January: email within 24 business hours: T1 (2 h), T5 (0), T7 (17 h) yes, T6 (27 h) no; chat T4 30 s
    // ≤ 60 s yes → 4 / 5. (On the wall clock T1 and T7, 65 h and 80 h, would have breached.)
    let jan = row(&overall, &[], JAN, "sla_attainment", "value");
    assert_eq!((jan.value, jan.numerator, jan.denominator), (80.0, Some(4.0), Some(5.0)));
    // June, judged on Fri 26 June 14:00 Paris: T8 (Wed 09:00, unanswered) has used 9 + 9 + 5 = 23 business
    // hours, still within 24: left out. T9 (Mon 09:00) has used 41: a breach. → 0 / 1.
    let june = row(&overall, &[], Some("2026-06-01"), "sla_attainment", "value");
    assert_eq!((june.value, june.denominator), (0.0, Some(1.0)));
    // Resolution within 16 business hours: T1 in 11 h (January) yes; T2 Fri 17:00 → Tue 18:00 CEST
    // (16:00 UTC) in 1 + 9 + 9 = 19 h (March) no.
    assert_eq!(row(&overall, &[], JAN, "resolution_sla_attainment", "value").value, 100.0);
    assert_eq!(row(&overall, &[], Some("2026-03-01"), "resolution_sla_attainment", "value").value, 0.0);
}

#[test]
fn overdue_on_the_business_clock_moves_with_as_of() {
    // One business hour later (Fri 15:00 Paris) T8 has used 24 h: not yet over; at 15:00:01 it is.
    let at_limit = run_at(&fixture(), "2026-06-26T13:00:00Z");
    let june = row(
        &read_parquet(&at_limit.path().join("overall.parquet")),
        &[],
        Some("2026-06-01"),
        "sla_attainment",
        "value",
    );
    assert_eq!(june.denominator, Some(1.0));
    let after = run_at(&fixture(), "2026-06-26T13:00:01Z");
    let june =
        row(&read_parquet(&after.path().join("overall.parquet")), &[], Some("2026-06-01"), "sla_attainment", "value");
    assert_eq!(june.denominator, Some(2.0));
}

#[test]
fn resolution_time_on_the_business_clock() {
    let dir = fixture_variant("business_hours", |yaml| {
        yaml.replace(
            "{ name: resolution_time, stats: [mean] }",
            "{ name: resolution_time, stats: [mean], clock: business }",
        )
    });
    let out = run_at(&dir.path().join("pipeline.yaml"), "2026-06-26T12:00:00Z");
    let by = read_parquet(&out.path().join("by_channel.parquet"));
    // T1 Fri 17:00 → Tue 10:00 Paris: 1 + 9 + 1 = 11 business hours.
    assert_eq!(row(&by, &[("channel", Some("email"))], JAN, "resolution_time", "mean").value, 11.0 * HOUR);
}

#[test]
fn business_clock_without_calendars_is_a_pipeline_error() {
    let yaml = std::fs::read_to_string(fixture()).unwrap();
    let start = yaml.find("calendars:").unwrap();
    let end = yaml.find("sla:").unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pipeline.yaml"), format!("{}{}", &yaml[..start], &yaml[end..])).unwrap();
    let Err(deskpulse::error::Error::Plan(p)) = deskpulse::load_plan(&dir.path().join("pipeline.yaml")) else {
        panic!("expected a plan error");
    };
    let messages: Vec<&str> = p.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert!(messages.iter().any(|m| m.contains("`clock: business` need `calendars`")), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("first_response_time` on the business clock")), "{messages:?}");
}
