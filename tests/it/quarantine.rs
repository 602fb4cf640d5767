//! Quarantine on `tests/fixtures/quarantine/`: each broken rule, the `_rejected/` files and their reasons,
//! `keep_latest`, and `max_rejected_share` failing the run without writing anything.

use crate::common::*;

use std::process::Command;

const JAN: Option<&str> = Some("2026-01-01");

fn fixture() -> std::path::PathBuf {
    root().join("tests/fixtures/quarantine/pipeline.yaml")
}

/// (reason, detail, row) of the rejected rows of `table`, sorted.
fn rejected(out: &std::path::Path, table: &str) -> Vec<(String, String, u64)> {
    let df = read_parquet(&out.join("_rejected").join(format!("{table}.parquet")));
    let s = |c: &str, i: usize| df.column(c).unwrap().str().unwrap().get(i).unwrap_or("").to_string();
    let mut rows: Vec<_> = (0..df.height())
        .map(|i| (s("reason", i), s("detail", i), df.column("row").unwrap().u64().unwrap().get(i).unwrap()))
        .collect();
    rows.sort();
    rows
}

#[test]
fn broken_rows_are_quarantined_with_their_reason() {
    let out = run(&fixture());
    let pair = |r: &str, d: &str, row: u64| (r.to_string(), d.to_string(), row);
    assert_eq!(
        rejected(out.path(), "tickets"),
        [
            pair("duplicate_id", "ticket_id = Q4", 4),
            pair("duplicate_id", "ticket_id = Q4", 6),
            pair("negative_duration", "first_response_at is before created_at", 2),
            pair("negative_duration", "handle_seconds is negative", 5),
            pair("unreadable_value", "created_at = not a date", 3),
        ]
    );
    assert_eq!(
        rejected(out.path(), "surveys"),
        [
            pair("score_out_of_scale", "ces score 0 outside 1–7", 6),
            pair("score_out_of_scale", "csat score 7 outside 1–5", 2),
            pair("score_out_of_scale", "nps score 11 outside 0–10", 4),
            pair("unknown_survey_kind", "kind = xyz", 3),
        ]
    );
}

#[test]
fn quarantined_rows_are_never_used() {
    let out = run(&fixture());
    let overall = read_parquet(&out.path().join("overall.parquet"));
    // Kept: Q1, Q6, E1 (latest version), E2.
    assert_eq!(row(&overall, &[], JAN, "ticket_volume", "value").value, 4.0);
    // Q5's −5 s is out: (300 + 600) / 2.
    assert_eq!(row(&overall, &[], JAN, "handle_time", "mean").value, 450.0);
    // Only S1 (csat 5) and S5 (nps 10) remain.
    let csat = row(&overall, &[], JAN, "csat", "value");
    assert_eq!((csat.value, csat.n), (100.0, 1));
    assert_eq!(row(&overall, &[], JAN, "nps", "value").n, 1);
}

#[test]
fn keep_latest_keeps_the_highest_version() {
    let out = run(&fixture());
    let by = read_parquet(&out.path().join("by_status.parquet"));
    // E1's versions 1, 10 and 9: version 10 (solved) wins as a number (as text "9" would have).
    assert_eq!(row(&by, &[("status", Some("solved"))], JAN, "ticket_volume", "value").value, 2.0);
    assert_eq!(row(&by, &[("status", Some("open"))], JAN, "ticket_volume", "value").value, 1.0);
    assert_eq!(row(&by, &[("status", Some("new"))], JAN, "ticket_volume", "value").value, 1.0);
    // Superseded copies are not bad input: they are not in `_rejected`.
    assert!(rejected(out.path(), "tickets").iter().all(|r| !r.1.contains("E1")));
}

#[test]
fn the_run_prints_counts_per_reason() {
    let out = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_deskpulse"))
        .args(["run", fixture().to_str().unwrap(), "--out", out.path().to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&o.stderr));
    for line in [
        "quarantined tickets: 2 rows (duplicate_id)",
        "quarantined tickets: 2 rows (negative_duration)",
        "quarantined tickets: 1 rows (unreadable_value)",
        "quarantined surveys: 3 rows (score_out_of_scale)",
        "quarantined surveys: 1 rows (unknown_survey_kind)",
        "superseded tickets: 2 older copies dropped",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
}

#[test]
fn too_many_rejected_rows_fail_the_run_and_write_nothing() {
    // Tickets: 5 of 11 rows quarantined (45 %); surveys 4 of 6 (67 %): both over 40 %.
    let dir = fixture_variant("quarantine", |yaml| yaml.replace("max_rejected_share: 0.7", "max_rejected_share: 0.4"));
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("overall.csv"), "an earlier run's output\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_deskpulse"))
        .args(["run", dir.path().join("pipeline.yaml").to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("5 of 11 tickets rows would be quarantined (45.45 %)"), "{stderr}");
    let mut files: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    assert_eq!(files, ["_runs", "overall.csv"], "the outputs as they were, and the failed run's record");
    assert_eq!(std::fs::read_to_string(out.join("overall.csv")).unwrap(), "an earlier run's output\n");
}

#[test]
fn an_unreadable_value_still_fails_where_the_source_does_not_quarantine() {
    let dir = fixture_variant("quarantine", |yaml| yaml.replace("    on_error: quarantine", ""));
    let plan = deskpulse::load_plan(&dir.path().join("pipeline.yaml")).unwrap();
    let err = deskpulse::exec::run(&plan, &dir.path().join("out")).unwrap_err().to_string();
    assert!(err.contains("tickets.created_at") && err.contains("row 3"), "{err}");
}
