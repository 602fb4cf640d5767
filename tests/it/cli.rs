//! The real binary: the sample pipeline end to end, and every bad-input case of the foundation issue with
//! its exit code, its message, and no output left behind.

use crate::common::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn deskpulse(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deskpulse")).args(args).output().expect("binary runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A copy of the hand fixture whose pipeline text is changed by `edit`.
pub(crate) fn broken_fixture(edit: impl Fn(&str) -> String) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let src = root().join("tests/fixtures/hand");
    for f in ["tickets.csv", "surveys.csv", "accounts.csv"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let pipeline = std::fs::read_to_string(src.join("pipeline.yaml")).unwrap();
    let path = dir.path().join("pipeline.yaml");
    std::fs::write(&path, edit(&pipeline)).unwrap();
    (dir, path)
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[test]
fn sample_pipeline_runs_and_reads_back() {
    let out = tempfile::tempdir().unwrap();
    let o = deskpulse(&[
        "run",
        root().join("pipelines/support_kpis.yaml").to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let printed = text(&o);
    assert!(printed.contains("read tickets: 4200 rows"), "{printed}");
    for seg in ["overall_month", "sector_month", "channel_month", "agent_week", "team_all"] {
        let df = read_parquet(&out.path().join(format!("{seg}.parquet")));
        assert!(df.height() > 0, "{seg} is empty");
        let csv = std::fs::read_to_string(out.path().join(format!("{seg}.csv"))).unwrap();
        assert_eq!(csv.lines().count(), df.height() + 1, "{seg}: CSV and Parquet rows differ");
    }
    // January overall volume, counted independently from the raw export.
    let jan = std::fs::read_to_string(root().join("sample_data/zendesk/tickets-2026-01.csv")).unwrap();
    let mut reader = jan.trim_start_matches('\u{feff}').as_bytes();
    let tickets = count_csv_records(&mut reader);
    let overall = read_parquet(&out.path().join("overall_month.parquet"));
    assert_eq!(row(&overall, &[], Some("2026-01-01"), "ticket_volume", "value").value, tickets as f64);
    // The five CRM sectors (every ticket has an account); only employee surveys (eNPS) have no sector.
    let sectors = read_parquet(&out.path().join("sector_month.parquet"));
    let (sector, kpi) =
        (sectors.column("sector").unwrap().str().unwrap(), sectors.column("kpi").unwrap().str().unwrap());
    let named: std::collections::BTreeSet<&str> = (0..sectors.height()).filter_map(|i| sector.get(i)).collect();
    assert_eq!(named.len(), 5, "{named:?}");
    let unsectored: std::collections::BTreeSet<&str> =
        (0..sectors.height()).filter(|i| sector.get(*i).is_none()).filter_map(|i| kpi.get(i)).collect();
    assert_eq!(unsectored.into_iter().collect::<Vec<_>>(), ["enps"]);
    assert!(files_in(out.path()).iter().all(|f| !f.starts_with('.')), "work files left: {:?}", files_in(out.path()));
}

/// Records of a CSV with quoted fields that may hold commas and line breaks (the header excluded).
fn count_csv_records(input: &mut &[u8]) -> usize {
    let (mut records, mut in_quotes, mut any) = (0, false, false);
    for &b in input.iter() {
        match b {
            b'"' => in_quotes = !in_quotes,
            b'\n' if !in_quotes => {
                records += 1;
                any = false;
            },
            _ => any = true,
        }
    }
    records + usize::from(any) - 1
}

#[test]
fn two_runs_give_byte_identical_csv() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let pipeline = root().join("pipelines/support_kpis.yaml");
    for out in [&a, &b] {
        let o = deskpulse(&["run", pipeline.to_str().unwrap(), "--out", out.path().to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o));
    }
    for f in files_in(a.path()).iter().filter(|f| f.ends_with(".csv")) {
        assert_eq!(std::fs::read(a.path().join(f)).unwrap(), std::fs::read(b.path().join(f)).unwrap(), "{f} differs");
    }
}

#[test]
fn validate_accepts_every_shipped_pipeline() {
    for entry in std::fs::read_dir(root().join("pipelines")).unwrap() {
        let path = entry.unwrap().path();
        let o = deskpulse(&["validate", path.to_str().unwrap()]);
        assert!(o.status.success(), "{}: {}", path.display(), text(&o));
    }
}

fn assert_fails(o: &Output, code: i32, needles: &[&str]) {
    let t = text(o);
    assert_eq!(o.status.code(), Some(code), "{t}");
    for n in needles {
        assert!(t.contains(n), "message lacks {n:?}:\n{t}");
    }
}

#[test]
fn yaml_syntax_error_names_the_line() {
    let (_d, p) = broken_fixture(|s| s.replace("kpis: [ticket_volume,", "kpis: [ticket_volume,\n  : ]]"));
    let o = deskpulse(&["validate", p.to_str().unwrap()]);
    assert_fails(&o, 2, &["pipeline.yaml:"]);
}

#[test]
fn unknown_key_suggests_the_closest() {
    let (_d, p) = broken_fixture(|s| s.replace("segments:", "segmnets:"));
    let o = deskpulse(&["validate", p.to_str().unwrap()]);
    assert_fails(&o, 2, &["segmnets", "did you mean `segments`?", "pipeline.yaml:"]);
}

#[test]
fn unknown_kpi_and_dimension_are_reported_together() {
    let (_d, p) = broken_fixture(|s| {
        s.replace("first_response_time,", "frist_response_time,").replace("by: [channel]", "by: [chanel]")
    });
    let o = deskpulse(&["validate", "--no-data", p.to_str().unwrap()]);
    assert_fails(
        &o,
        2,
        &[
            "unknown KPI `frist_response_time`",
            "did you mean `first_response_time`?",
            "unknown dimension `chanel`",
            "did you mean `channel`?",
            "2 problem(s)",
        ],
    );
}

#[test]
fn kpi_with_unmapped_input_names_the_column() {
    let (_d, p) = broken_fixture(|s| s.replace("      handle_seconds: handle\n", ""));
    let o = deskpulse(&["validate", p.to_str().unwrap()]);
    assert_fails(&o, 2, &["KPI `handle_time` needs `tickets.handle_seconds`, which no source maps", "1 problem(s)"]);
}

#[test]
fn missing_source_file_names_the_pattern_and_line() {
    let (_d, p) = broken_fixture(|s| s.replace("path: tickets.csv", "path: tickets-*.csv"));
    let o = deskpulse(&["validate", p.to_str().unwrap()]);
    assert_fails(&o, 3, &["no file matches", "tickets-*.csv", "pipeline.yaml:6:11"]);
}

#[test]
fn mapped_column_absent_from_the_file() {
    let (_d, p) = broken_fixture(|s| s.replace("agent_id: agent", "agent_id: agnet"));
    let o = deskpulse(&["validate", p.to_str().unwrap()]);
    assert_fails(&o, 3, &["tickets.csv has no column `agnet`", "did you mean `agent`?", "pipeline.yaml:14:17"]);
}

#[test]
fn unparseable_timestamp_names_file_and_row_and_writes_nothing() {
    let (dir, p) = broken_fixture(|s| s.to_string());
    let tickets = std::fs::read_to_string(dir.path().join("tickets.csv")).unwrap();
    std::fs::write(dir.path().join("tickets.csv"), tickets.replace("2026-01-07 12:00:00", "07/01/2026 12h")).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("overall.csv"), "previous run\n").unwrap();
    let o = deskpulse(&["run", p.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_fails(&o, 3, &["tickets.created_at", "tickets.csv row 3", "\"07/01/2026 12h\"", "ISO 8601 timestamp"]);
    // The outputs are as they were; the failure is recorded beside them.
    assert_eq!(files_in(&out), ["_runs", "overall.csv"], "the failed run must leave the outputs as they were");
    let records = deskpulse::exec::run_records(&out).unwrap();
    assert_eq!((records[0].status.as_str(), records[0].exit_code), ("failed", 3));
    assert_eq!(std::fs::read_to_string(out.join("overall.csv")).unwrap(), "previous run\n");
}

/// Numbers are parsed by the CSV reader when it can; a value it cannot read sends the run back to reading
/// the files as text, which reports the value with its row.
#[test]
fn unreadable_number_names_file_and_row() {
    let (dir, p) = broken_fixture(|s| s.to_string());
    let tickets = std::fs::read_to_string(dir.path().join("tickets.csv")).unwrap();
    std::fs::write(dir.path().join("tickets.csv"), tickets.replace(",yes,no,600,", ",yes,no,10 min,")).unwrap();
    let out = dir.path().join("out");
    let o = deskpulse(&["run", p.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_fails(&o, 3, &["tickets.handle_seconds", "tickets.csv row 2", "\"10 min\"", "as a number"]);
}

#[test]
fn padded_numbers_read_as_numbers() {
    let (dir, p) = broken_fixture(|s| s.to_string());
    let out = |name: &str| dir.path().join(name);
    let o = deskpulse(&["run", p.to_str().unwrap(), "--out", out("plain").to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let tickets = std::fs::read_to_string(dir.path().join("tickets.csv")).unwrap();
    std::fs::write(dir.path().join("tickets.csv"), tickets.replace(",yes,no,600,", ",yes,no, 600 ,")).unwrap();
    let o = deskpulse(&["run", p.to_str().unwrap(), "--out", out("padded").to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let read = |d: &str| std::fs::read_to_string(out(d).join("overall.csv")).unwrap();
    assert_eq!(read("plain"), read("padded"));
}

#[test]
fn kpis_json_lists_the_catalog() {
    let o = deskpulse(&["kpis", "--format", "json"]);
    assert!(o.status.success());
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|k| k["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"nps") && names.contains(&"fcr_rate"), "{names:?}");
}

#[test]
fn explain_prints_an_optimised_plan_per_segment() {
    let o = deskpulse(&["explain", root().join("tests/fixtures/hand/pipeline.yaml").to_str().unwrap()]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    for seg in ["overall", "by_channel", "by_sector"] {
        assert!(t.contains(&format!("== segment {seg} ==")), "{t}");
    }
    assert!(t.contains("AGGREGATE"), "{t}");
}
