//! Watching the KPIs (issue 37): targets, comparisons with earlier periods, zero-filled periods, expectations
//! on the rows as read, and alerts — each figure worked out by hand below.

use std::path::Path;
use std::process::{Command, Output};

use polars::prelude::*;

use crate::common::*;

fn deskpulse(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deskpulse")).args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Ten tickets. 2025-01: #1 (email, answered in 30 min, solved), #2 (email, 2 h, open), #3 (chat, 10 min,
/// solved). 2025-03: #4 (chat, 20 min, solved), #5 (no channel, 150 min, open). 2025-04: #10 (no channel,
/// 30 min, open). 2026-01: #6, #7 (email), #8, #9 (chat), all answered in 30 min, #6–#8 solved.
const TICKETS_2025: &str = "id,created,first_reply,solved,via\n\
1,2025-01-05T09:00:00Z,2025-01-05T09:30:00Z,2025-01-05T12:00:00Z,email\n\
2,2025-01-10T09:00:00Z,2025-01-10T11:00:00Z,,email\n\
3,2025-01-20T09:00:00Z,2025-01-20T09:10:00Z,2025-01-21T09:00:00Z,chat\n\
4,2025-03-02T09:00:00Z,2025-03-02T09:20:00Z,2025-03-03T09:00:00Z,chat\n\
5,2025-03-15T09:00:00Z,2025-03-15T11:30:00Z,,\n\
10,2025-04-01T09:00:00Z,2025-04-01T09:30:00Z,,\n";
const TICKETS_2026: &str = "id,created,first_reply,solved,via\n\
6,2026-01-03T09:00:00Z,2026-01-03T09:30:00Z,2026-01-03T10:00:00Z,email\n\
7,2026-01-04T09:00:00Z,2026-01-04T09:30:00Z,2026-01-04T10:00:00Z,email\n\
8,2026-01-05T09:00:00Z,2026-01-05T09:30:00Z,2026-01-05T10:00:00Z,chat\n\
9,2026-01-06T09:00:00Z,2026-01-06T09:30:00Z,,chat\n";

fn pipeline(layout: &str) -> String {
    format!(
        "name: watch\nsources:\n  t: {{ table: tickets, path: tickets-*.csv, columns: {{ ticket_id: id, created_at: created, first_response_at: first_reply, resolved_at: solved, channel: via }} }}\n\
         kpis:\n  - ticket_volume\n  - {{ name: resolution_rate, target: 60, targets: [{{ from: 2026-01-01, target: 80 }}] }}\n  \
         - {{ name: first_response_time, stats: [median], target: 1h, targets: [{{ when: {{ channel: chat }}, target: 15m }}] }}\n\
         segments:\n  monthly: {{ by: [], grain: month, compare: [previous, year_ago], fill: zero }}\n  \
         by_channel: {{ by: [channel], grain: month, compare: [previous], kpis: [ticket_volume, first_response_time] }}\n\
         outputs: {{ layout: {layout} }}\nmin_sample: 1\n"
    )
}

/// (value, previous_value, change, change_pct) of a row.
fn compared(df: &DataFrame, dims: &[(&str, Option<&str>)], period: &str, kpi: &str) -> [Option<f64>; 4] {
    let mut pred = col("kpi").eq(lit(kpi)).and(col("period_start").cast(DataType::String).eq(lit(period)));
    for (d, v) in dims {
        pred = pred.and(match v {
            Some(v) => col(*d).eq(lit(*v)),
            None => col(*d).is_null(),
        });
    }
    let found = df.clone().lazy().filter(pred).collect().unwrap();
    assert_eq!(found.height(), 1, "{kpi} {period} {dims:?}: {found}");
    let f = |c: &str| found.column(c).unwrap().f64().unwrap().get(0);
    [f("value"), f("previous_value"), f("change"), f("change_pct")]
}

fn run(dir: &Path, out: &Path, extra: &[&str]) {
    let pipeline = dir.join("p.yaml");
    let mut args = vec!["run", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap()];
    args.extend(["--as-of", "2026-02-15"]);
    args.extend(extra);
    let o = deskpulse(&args);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn targets_and_comparisons_with_earlier_periods_worked_out_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tickets-2025.csv"), TICKETS_2025).unwrap();
    std::fs::write(dir.path().join("tickets-2026.csv"), TICKETS_2026).unwrap();
    std::fs::write(dir.path().join("p.yaml"), pipeline("single")).unwrap();
    let out = dir.path().join("out");
    run(dir.path(), &out, &[]);
    let monthly = read_parquet(&out.join("monthly.parquet"));
    // Volume 3, 0 (February, filled), 2, 1, then 0 from May to December, 4 in January 2026.
    assert_eq!(compared(&monthly, &[], "2025-01-01", "ticket_volume"), [Some(3.0), None, None, None]);
    assert_eq!(
        compared(&monthly, &[], "2025-02-01", "ticket_volume"),
        [Some(0.0), Some(3.0), Some(-3.0), Some(-100.0)]
    );
    // Against a zero: no percentage.
    assert_eq!(compared(&monthly, &[], "2025-03-01", "ticket_volume"), [Some(2.0), Some(0.0), Some(2.0), None]);
    assert_eq!(compared(&monthly, &[], "2025-04-01", "ticket_volume"), [Some(1.0), Some(2.0), Some(-1.0), Some(-50.0)]);
    assert_eq!(compared(&monthly, &[], "2025-12-01", "ticket_volume")[0], Some(0.0));
    let volumes = monthly.clone().lazy().filter(col("kpi").eq(lit("ticket_volume"))).collect().unwrap();
    assert_eq!(volumes.height(), 13, "January 2025 to January 2026, a row each");
    // A year ago: January 2026's 4 against January 2025's 3.
    let jan = monthly
        .clone()
        .lazy()
        .filter(
            col("kpi").eq(lit("ticket_volume")).and(col("period_start").cast(DataType::String).eq(lit("2026-01-01"))),
        )
        .collect()
        .unwrap();
    let f = |c: &str| jan.column(c).unwrap().f64().unwrap().get(0);
    assert_eq!((f("year_ago_value"), f("year_ago_change")), (Some(3.0), Some(1.0)));
    assert_close(f("year_ago_change_pct").unwrap(), 100.0 / 3.0, "a year ago, in percent");
    // Resolution rate (higher is better) against 60 %: 2/3 met, 1/2 missed, 0/1 missed, 3/4 met; no zero rows.
    let met = |period: &str, kpi: &str| -> (Option<f64>, Option<f64>, Option<bool>) {
        let r = monthly
            .clone()
            .lazy()
            .filter(col("kpi").eq(lit(kpi)).and(col("period_start").cast(DataType::String).eq(lit(period))))
            .collect()
            .unwrap();
        (
            r.column("value").unwrap().f64().unwrap().get(0),
            r.column("target").unwrap().f64().unwrap().get(0),
            r.column("target_met").unwrap().bool().unwrap().get(0),
        )
    };
    assert_eq!(met("2025-01-01", "resolution_rate").2, Some(true));
    assert_eq!(met("2025-03-01", "resolution_rate"), (Some(50.0), Some(60.0), Some(false)));
    assert_eq!(met("2025-04-01", "resolution_rate").2, Some(false));
    // From 2026 the resolution target is 80 %: January's 75 % misses it.
    assert_eq!(met("2026-01-01", "resolution_rate"), (Some(75.0), Some(80.0), Some(false)));
    // First response median (lower is better) against 1 h: 30 min met; March (20 and 150 min) 85 min missed.
    assert_eq!(met("2025-01-01", "first_response_time"), (Some(1800.0), Some(3600.0), Some(true)));
    assert_eq!(met("2025-03-01", "first_response_time"), (Some(5100.0), Some(3600.0), Some(false)));
    let rates = monthly.clone().lazy().filter(col("kpi").eq(lit("resolution_rate"))).collect().unwrap();
    assert_eq!(rates.height(), 4, "zero rows are for counts only");
    // By channel, no fill: chat in March has no February to compare with; the tickets without a channel
    // compare April (1) with March (1), null with null.
    let by = read_parquet(&out.join("by_channel.parquet"));
    assert_eq!(
        compared(&by, &[("channel", Some("chat"))], "2025-03-01", "ticket_volume"),
        [Some(1.0), None, None, None]
    );
    assert_eq!(
        compared(&by, &[("channel", None)], "2025-04-01", "ticket_volume"),
        [Some(1.0), Some(1.0), Some(0.0), Some(0.0)]
    );
    // Chat's first replies have their own 15 min target where the table is split by channel: January's 10
    // min meets it, March's 20 min does not; email keeps the hour (January: 30 and 120 min, median 75 min).
    let frt = |channel: &str, period: &str| -> (Option<f64>, Option<f64>, Option<bool>) {
        let r = by
            .clone()
            .lazy()
            .filter(
                col("kpi")
                    .eq(lit("first_response_time"))
                    .and(col("channel").eq(lit(channel)))
                    .and(col("period_start").cast(DataType::String).eq(lit(period))),
            )
            .collect()
            .unwrap();
        (
            r.column("value").unwrap().f64().unwrap().get(0),
            r.column("target").unwrap().f64().unwrap().get(0),
            r.column("target_met").unwrap().bool().unwrap().get(0),
        )
    };
    assert_eq!(frt("chat", "2025-01-01"), (Some(600.0), Some(900.0), Some(true)));
    assert_eq!(frt("chat", "2025-03-01"), (Some(1200.0), Some(900.0), Some(false)));
    assert_eq!(frt("email", "2025-01-01"), (Some(4500.0), Some(3600.0), Some(false)));
}

#[test]
fn a_night_that_brings_a_new_year_changes_the_comparisons_as_a_full_run_does() {
    for layout in ["single", "hive"] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tickets-2025.csv"), TICKETS_2025).unwrap();
        std::fs::write(dir.path().join("p.yaml"), pipeline(layout)).unwrap();
        let out = dir.path().join("out");
        run(dir.path(), &out, &[]);
        std::fs::write(dir.path().join("tickets-2026.csv"), TICKETS_2026).unwrap();
        run(dir.path(), &out, &[]);
        let full = dir.path().join("full");
        run(dir.path(), &full, &["--full"]);
        assert_same_tables(&full, &out, 2);
        if layout == "single" {
            let monthly = read_parquet(&out.join("monthly.parquet"));
            assert_eq!(compared(&monthly, &[], "2026-01-01", "ticket_volume"), [Some(4.0), Some(0.0), Some(4.0), None]);
        }
    }
}

/// A backfill of January 2025 with a late January ticket (and a 2026 one it must leave out): the window's
/// periods are recomputed, and the periods after it compare with the new January, in both layouts. By hand:
/// January 2025 had 3 tickets, now 4; February 2025 (zero-filled) compares with 4: −4, −100 %; January 2026
/// keeps its 4 tickets (the late 2026 ticket lies outside the window) and its year-ago figure is now 4.
#[test]
fn a_backfill_changes_the_comparisons_after_its_window_in_both_layouts() {
    for layout in ["single", "hive"] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tickets-2025.csv"), TICKETS_2025).unwrap();
        std::fs::write(dir.path().join("tickets-2026.csv"), TICKETS_2026).unwrap();
        std::fs::write(dir.path().join("p.yaml"), pipeline(layout)).unwrap();
        let out = dir.path().join("out");
        run(dir.path(), &out, &[]);
        std::fs::write(
            dir.path().join("tickets-late.csv"),
            "id,created,first_reply,solved,via\n\
             11,2025-01-25T09:00:00Z,2025-01-25T09:30:00Z,,email\n\
             12,2026-01-25T09:00:00Z,2026-01-25T09:30:00Z,,email\n",
        )
        .unwrap();
        run(dir.path(), &out, &["--from", "2025-01-01", "--to", "2025-02-01"]);
        let monthly = match layout {
            "single" => read_parquet(&out.join("monthly.parquet")),
            _ => {
                let df = deskpulse::sink::read_partitioned(&out.join("monthly")).unwrap().unwrap();
                df.lazy().with_column(col("period_start").cast(DataType::Date)).collect().unwrap()
            },
        };
        assert_eq!(compared(&monthly, &[], "2025-01-01", "ticket_volume"), [Some(4.0), None, None, None], "{layout}");
        assert_eq!(
            compared(&monthly, &[], "2025-02-01", "ticket_volume"),
            [Some(0.0), Some(4.0), Some(-4.0), Some(-100.0)],
            "{layout}"
        );
        let january_2026 = monthly
            .clone()
            .lazy()
            .filter(
                col("kpi")
                    .eq(lit("ticket_volume"))
                    .and(col("period_start").cast(DataType::String).eq(lit("2026-01-01"))),
            )
            .collect()
            .unwrap();
        let f = |c: &str| january_2026.column(c).unwrap().f64().unwrap().get(0);
        assert_eq!(
            [f("value"), f("year_ago_value"), f("year_ago_change")],
            [Some(4.0), Some(4.0), Some(0.0)],
            "{layout}"
        );
    }
}

/// A night in the `hive` layout that brings the days of a spike: the alerts read the whole daily series (the
/// days kept on disk as history), as a full run does.
#[test]
fn a_hive_night_judges_its_alerts_on_the_whole_series() {
    let dir = tempfile::tempdir().unwrap();
    let days = |range: std::ops::Range<i64>| {
        let mut csv = String::from("id,created\n");
        for day in range {
            let date = jiff::civil::date(2026, 1, 1).checked_add(jiff::Span::new().days(day)).unwrap();
            for k in 0..(if day == 45 { 60 } else { 10 }) {
                let at = date.at(8, 0, 0, 0).checked_add(jiff::Span::new().minutes(k)).unwrap();
                csv.push_str(&format!("{day}-{k},{at}Z\n"));
            }
        }
        csv
    };
    std::fs::write(dir.path().join("t-1.csv"), days(0..40)).unwrap();
    let yaml =
        "name: a\nsources:\n  t: { table: tickets, path: t-*.csv, columns: { ticket_id: id, created_at: created } }\n\
                kpis: [ticket_volume]\nsegments: { daily: { by: [], grain: day } }\nalerts: { kpis: [ticket_volume] }\n\
                outputs: { layout: hive }\nmin_sample: 1\n";
    std::fs::write(dir.path().join("p.yaml"), yaml).unwrap();
    let out = dir.path().join("out");
    run(dir.path(), &out, &[]);
    std::fs::write(dir.path().join("t-2.csv"), days(40..60)).unwrap();
    run(dir.path(), &out, &[]);
    let alerts = read_csv_text(&out.join("alerts.csv"));
    assert_eq!(alerts.height(), 1, "{alerts}");
    assert_eq!(alerts.column("period_start").unwrap().str().unwrap().get(0), Some("2026-02-15"));
    let full = dir.path().join("full");
    run(dir.path(), &full, &["--full"]);
    assert_same_tables(&full, &out, 2);
}

/// Tickets #1–#6 and two accounts. #3 has priority `asap`, #4 no channel, #5 a negative handle time and account
/// A9 (no such account), #6 is solved before it was opened; #2 is written twice.
const CHECKED: &str = "id,created,solved,priority,via,account,handle\n\
1,2026-01-05T09:00:00Z,2026-01-05T10:00:00Z,normal,email,A1,60\n\
2,2026-01-06T09:00:00Z,,high,email,A1,30\n\
2,2026-01-06T09:00:00Z,,high,email,A1,30\n\
3,2026-01-07T09:00:00Z,,asap,chat,A2,20\n\
4,2026-01-08T09:00:00Z,,normal,,A2,10\n\
5,2026-01-09T09:00:00Z,,low,chat,A9,-5\n\
6,2026-01-10T09:00:00Z,2026-01-09T09:00:00Z,urgent,email,A1,15\n";

fn checked_pipeline(expectations: &str) -> String {
    format!(
        "name: checks\nsources:\n  t: {{ table: tickets, path: t.csv, columns: {{ ticket_id: id, created_at: created, resolved_at: solved, priority: priority, channel: via, account_id: account, handle_seconds: handle }} }}\n  \
         a: {{ table: accounts, path: a.csv, columns: {{ account_id: id }} }}\n\
         expectations:\n{expectations}\
         kpis: [ticket_volume]\nsegments: {{ all: {{ by: [], grain: all }} }}\nmax_rejected_share: 1\nmin_sample: 1\n"
    )
}

#[test]
fn expectations_count_the_rows_as_read_and_keep_the_failing_ones() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.csv"), CHECKED).unwrap();
    std::fs::write(dir.path().join("a.csv"), "id\nA1\nA2\n").unwrap();
    let warns = [
        "{ table: tickets, column: channel, not_null: true, severity: warn }",
        "{ table: tickets, column: ticket_id, unique: true, severity: warn }",
        "{ table: tickets, column: priority, accepted_values: [low, normal, high, urgent], severity: warn }",
        "{ table: tickets, column: handle_seconds, range: { min: 0 }, severity: warn }",
        "{ table: tickets, column: account_id, relationships: { to: accounts, field: account_id }, severity: warn }",
        "{ table: tickets, column: created_at, freshness: 7d, severity: warn }",
        "{ table: tickets, row_count: { min: 10 }, severity: warn }",
        "{ name: solved_after_opening, table: tickets, expr: \"resolved_at >= created_at\", severity: warn }",
        "{ name: tolerated, table: tickets, column: priority, accepted_values: [low, normal, high], tolerate: 2 }",
    ]
    .map(|e| format!("  - {e}\n"))
    .concat();
    let warns = warns.as_str();
    std::fs::write(dir.path().join("p.yaml"), checked_pipeline(warns)).unwrap();
    let out = dir.path().join("out");
    let o = deskpulse(&[
        "run",
        dir.path().join("p.yaml").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--as-of",
        "2026-02-01",
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    // 7 rows as read (the repeated #2 counts twice, before quarantine settles it).
    for (name, failed) in [
        ("tickets_channel_not_null", "1 of 7"),
        ("tickets_ticket_id_unique", "2 of 7"),
        ("tickets_priority_accepted_values", "1 of 7"),
        ("tickets_handle_seconds_range", "1 of 7"),
        ("tickets_account_id_relationships", "1 of 7"),
        ("tickets_created_at_freshness", "1 of 7"),
        ("tickets_row_count", "1 of 7"),
        ("solved_after_opening", "1 of 7"),
    ] {
        assert!(t.contains(&format!("expectation `{name}` (warn) failed on {failed} tickets rows")), "{name}: {t}");
    }
    assert!(t.contains("(e.g. 'asap')") && t.contains("(e.g. 'A9')"), "{t}");
    // Two priorities outside [low, normal, high] (asap, urgent), and 2 tolerated: it passes, silently.
    assert!(!t.contains("`tolerated`"), "{t}");
    // The failing rows, with the file and row they came from.
    let rows = read_parquet(&out.join("_expectations/tickets_ticket_id_unique.parquet"));
    let lines: Vec<Option<i64>> =
        rows.column("row").unwrap().cast(&DataType::Int64).unwrap().i64().unwrap().iter().collect();
    assert_eq!(lines, [Some(2), Some(3)]);
    let bad = read_parquet(&out.join("_expectations/solved_after_opening.parquet"));
    assert_eq!(bad.column("ticket_id").unwrap().cast(&DataType::String).unwrap().str().unwrap().get(0), Some("6"));
    // Every result is in the run record, and `deskpulse runs` sums them up.
    let o = deskpulse(&["runs", out.to_str().unwrap(), "--format", "json"]);
    let runs: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let results = runs[0]["expectations"].as_array().unwrap();
    assert_eq!(results.len(), 9);
    let unique = results.iter().find(|r| r["name"] == "tickets_ticket_id_unique").unwrap();
    assert_eq!(
        (unique["failed"].as_u64(), unique["rows"].as_u64(), unique["passed"].as_bool()),
        (Some(2), Some(7), Some(false))
    );
    let tolerated = results.iter().find(|r| r["name"] == "tolerated").unwrap();
    assert_eq!((tolerated["failed"].as_u64(), tolerated["passed"].as_bool()), (Some(2), Some(true)));
    let table = text(&deskpulse(&["runs", out.to_str().unwrap()]));
    assert!(table.contains("expectations: 1 passed, 8 failed"), "{table}");
}

#[test]
fn a_failed_error_expectation_stops_the_run_with_exit_7_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.csv"), CHECKED).unwrap();
    std::fs::write(dir.path().join("a.csv"), "id\nA1\nA2\n").unwrap();
    let checks = "  - { table: tickets, column: ticket_id, unique: true }\n";
    std::fs::write(dir.path().join("p.yaml"), checked_pipeline(checks)).unwrap();
    let out = dir.path().join("out");
    let o = deskpulse(&["run", dir.path().join("p.yaml").to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    assert!(
        text(&o).contains("expectation `tickets_ticket_id_unique` (error) failed on 2 of 7 tickets rows"),
        "{}",
        text(&o)
    );
    assert!(!out.join("all.csv").exists(), "nothing written");
    assert!(out.join("_expectations/tickets_ticket_id_unique.parquet").is_file(), "the failing rows are kept");
    // Checked while planning, each at its line: an unknown column, severity and table.
    let bad = concat!(
        "  - { table: tickets, column: prioirty, not_null: true }\n",
        "  - { table: tickets, column: channel, not_null: true, severity: fatal }\n",
        "  - { table: ticket, row_count: { min: 1 } }\n"
    );
    std::fs::write(dir.path().join("p.yaml"), checked_pipeline(bad)).unwrap();
    let o = deskpulse(&["validate", dir.path().join("p.yaml").to_str().unwrap(), "--no-data"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("`tickets` has no column `prioirty`") && t.contains(":6:"), "{t}");
    assert!(t.contains("unknown severity `fatal`") && t.contains(":7:"), "{t}");
    assert!(t.contains("expectation on unknown table `ticket`") && t.contains(":8:"), "{t}");
}

#[test]
fn an_alert_exits_8_with_fail_on_alert_and_the_outputs_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("id,created\n");
    let mut n = 0;
    for day in 0..60 {
        let date = jiff::civil::date(2026, 1, 1).checked_add(jiff::Span::new().days(day)).unwrap();
        for k in 0..(if day == 45 { 60 } else { 10 }) {
            n += 1;
            csv.push_str(&format!("{n},{}Z\n", date.at(8, 0, 0, 0).checked_add(jiff::Span::new().minutes(k)).unwrap()));
        }
    }
    std::fs::write(dir.path().join("t.csv"), csv).unwrap();
    let yaml = "name: a\nsources:\n  t: { table: tickets, path: t.csv, columns: { ticket_id: id, created_at: created } }\n\
                kpis: [ticket_volume]\nsegments: { daily: { by: [], grain: day } }\nalerts: { kpis: [ticket_volume] }\nmin_sample: 1\n";
    std::fs::write(dir.path().join("p.yaml"), yaml).unwrap();
    let out = dir.path().join("out");
    let p = dir.path().join("p.yaml");
    let o = deskpulse(&["run", p.to_str().unwrap(), "--out", out.to_str().unwrap(), "--fail-on-alert"]);
    assert_eq!(o.status.code(), Some(8), "{}", text(&o));
    // Day 45 is 15 February: 60 tickets where its weekday's weeks before had 10.
    assert!(
        text(&o).contains("alert: daily ticket_volume value on 2026-02-15: 60.0 is above the expected"),
        "{}",
        text(&o)
    );
    let alerts = read_csv_text(&out.join("alerts.csv"));
    assert_eq!(alerts.height(), 1, "{alerts}");
    assert!(out.join("daily.csv").is_file(), "the outputs are written");
}

#[test]
fn a_row_count_that_jumps_against_the_last_run_is_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let rows = |n: usize| {
        let mut csv = String::from("id,created\n");
        for i in 0..n {
            csv.push_str(&format!("{i},2026-01-0{}T09:00:00Z\n", 1 + i % 9));
        }
        csv
    };
    std::fs::write(dir.path().join("t.csv"), rows(10)).unwrap();
    let yaml =
        "name: c\nsources:\n  t: { table: tickets, path: t.csv, columns: { ticket_id: id, created_at: created } }\n\
                expectations:\n  - { table: tickets, row_count: { max_change: 0.5 }, severity: warn }\n\
                kpis: [ticket_volume]\nsegments: { all: { by: [], grain: all } }\nmin_sample: 1\n";
    std::fs::write(dir.path().join("p.yaml"), yaml).unwrap();
    let out = dir.path().join("out");
    let p = dir.path().join("p.yaml");
    let args = ["run", p.to_str().unwrap(), "--out", out.to_str().unwrap()];
    // No earlier run: nothing to compare with. Then 14 rows against 10 (+40 %): within; then 30 (+114 %): flagged.
    let o = deskpulse(&args);
    assert!(o.status.success() && !text(&o).contains("tickets_row_count"), "{}", text(&o));
    std::fs::write(dir.path().join("t.csv"), rows(14)).unwrap();
    let o = deskpulse(&args);
    assert!(o.status.success() && !text(&o).contains("tickets_row_count"), "{}", text(&o));
    std::fs::write(dir.path().join("t.csv"), rows(30)).unwrap();
    let o = deskpulse(&args);
    assert!(text(&o).contains("expectation `tickets_row_count` (warn) failed on 1 of 30 tickets rows"), "{}", text(&o));
}

/// Alerts watch the pipeline's own metrics as they do catalog KPIs. 60 days of 10 tickets, 2 of them escalated,
/// but 8 on 15 February. By hand, for that day: the same weekday's 8 weeks before all had 2 escalations (MAD 0),
/// so a count's range is 2 ± 3√2 = −2.24…6.24 and 8 is above it; the share, 20 % each of those days, has the
/// floor of ± 10 % of the median: 18…22, and 80 % is above it.
#[test]
fn alerts_watch_declared_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("id,created,escalated\n");
    for day in 0..60 {
        let date = jiff::civil::date(2026, 1, 1).checked_add(jiff::Span::new().days(day)).unwrap();
        for k in 0..10 {
            let at = date.at(8, 0, 0, 0).checked_add(jiff::Span::new().minutes(k)).unwrap();
            let escalated = k < if day == 45 { 8 } else { 2 };
            csv.push_str(&format!("{day}-{k},{at}Z,{escalated}\n"));
        }
    }
    std::fs::write(dir.path().join("t.csv"), csv).unwrap();
    let yaml = "name: a\nsources:\n  t: { table: tickets, path: t.csv, columns: { ticket_id: id, created_at: created, escalated: escalated } }\n\
                metrics:\n  escalations: { count_of: tickets, where: \"escalated\" }\n  \
                escalated_share: { share_of: tickets, where: \"escalated\", direction: lower }\n\
                kpis: [ticket_volume, escalations, escalated_share]\nsegments: { daily: { by: [], grain: day } }\n\
                alerts: { kpis: [escalations, escalated_share] }\nmin_sample: 1\n";
    std::fs::write(dir.path().join("p.yaml"), yaml).unwrap();
    let out = dir.path().join("out");
    run(dir.path(), &out, &[]);
    let alerts = read_parquet(&out.join("alerts.parquet"));
    let alerts = alerts.sort(["kpi"], SortMultipleOptions::default()).unwrap();
    assert_eq!(alerts.height(), 2, "{alerts}");
    let text = |c: &str| -> Vec<String> {
        let s = alerts.column(c).unwrap().cast(&DataType::String).unwrap();
        s.str().unwrap().iter().map(|v| v.unwrap_or_default().to_string()).collect()
    };
    let number = |c: &str| -> Vec<f64> { alerts.column(c).unwrap().f64().unwrap().iter().flatten().collect() };
    assert_eq!(text("kpi"), ["escalated_share", "escalations"]);
    assert_eq!(text("period_start"), ["2026-02-15", "2026-02-15"]);
    assert_eq!(text("direction"), ["above", "above"]);
    assert_eq!(number("value"), [80.0, 8.0]);
    let (low, high) = (number("expected_low"), number("expected_high"));
    assert_close(low[0], 18.0, "share low");
    assert_close(high[0], 22.0, "share high");
    assert_close(low[1], 2.0 - 3.0 * 2f64.sqrt(), "count low");
    assert_close(high[1], 2.0 + 3.0 * 2f64.sqrt(), "count high");
}
