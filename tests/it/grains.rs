//! Time grains at their boundaries: a ticket one second before a period starts belongs to the previous one.

use crate::common::*;

#[test]
fn each_grain_splits_exactly_at_its_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let instants = [
        "2026-01-04 23:59:59", // Sunday: ISO week of Monday 29 December 2025, day 4 January
        "2026-01-05 00:00:00", // Monday: a new week
        "2026-03-31 23:59:59", // last second of March and of Q1
        "2026-04-01 00:00:00", // first second of April and of Q2
        "2026-12-31 23:59:59", // last second of 2026
        "2027-01-01 00:00:00", // 2027
    ];
    let csv: String = std::iter::once("id,created\n".to_string())
        .chain(instants.iter().enumerate().map(|(i, t)| format!("G{i},{t}\n")))
        .collect();
    std::fs::write(dir.path().join("tickets.csv"), csv).unwrap();
    let pipeline = "name: grains
sources: { t: { table: tickets, path: tickets.csv, columns: { ticket_id: id, created_at: created } } }
kpis: [ticket_volume]
# The instants reach into 2027: declared plausible, whenever the test runs.
definitions: { plausible: { to: 2030-01-01 } }
segments:
  day: { by: [], grain: day }
  week: { by: [], grain: week }
  month: { by: [], grain: month }
  quarter: { by: [], grain: quarter }
  year: { by: [], grain: year }
  all: { by: [], grain: all }
";
    std::fs::write(dir.path().join("pipeline.yaml"), pipeline).unwrap();
    let out = run(&dir.path().join("pipeline.yaml"));
    let volume = |segment: &str, period: Option<&str>| {
        let df = read_parquet(&out.path().join(format!("{segment}.parquet")));
        row(&df, &[], period, "ticket_volume", "value").value
    };
    assert_eq!(volume("day", Some("2026-01-04")), 1.0);
    assert_eq!(volume("day", Some("2026-01-05")), 1.0);
    assert_eq!(volume("week", Some("2025-12-29")), 1.0);
    assert_eq!(volume("week", Some("2026-01-05")), 1.0);
    assert_eq!(volume("month", Some("2026-03-01")), 1.0);
    assert_eq!(volume("month", Some("2026-04-01")), 1.0);
    assert_eq!(volume("quarter", Some("2026-01-01")), 3.0); // 4 January, 5 January, 31 March
    assert_eq!(volume("quarter", Some("2026-04-01")), 1.0);
    assert_eq!(volume("quarter", Some("2026-10-01")), 1.0);
    assert_eq!(volume("year", Some("2026-01-01")), 5.0);
    assert_eq!(volume("year", Some("2027-01-01")), 1.0);
    // `all` without a window: one period, with no start date.
    assert_eq!(volume("all", None), 6.0);
}
