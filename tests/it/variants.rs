//! Variants of one catalog KPI (`as:`): the same definition under another output name, with its own options.

use std::process::{Command, Output};

use crate::common::*;

fn deskpulse(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deskpulse")).args(args).output().expect("binary runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// First responses after 10, 30 and 50 minutes.
const TICKETS: &str =
    "id,opened,first\n1,2026-01-05 09:00:00,2026-01-05 09:10:00\n2,2026-01-05 10:00:00,2026-01-05 10:30:00\n\
3,2026-01-06 11:00:00,2026-01-06 11:50:00\n";

fn pipeline(kpis: &str, segments: &str) -> String {
    format!(
        "name: variants\nsources:\n  t: {{ table: tickets, path: t.csv, columns: {{ ticket_id: id, created_at: opened, \
         first_response_at: first }} }}\nkpis:\n{kpis}segments: {segments}\nmin_sample: 1\n"
    )
}

#[test]
fn a_variant_is_computed_beside_the_plain_kpi_with_its_own_options() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.csv"), TICKETS).unwrap();
    let kpis = "  - { name: first_response_time, stats: [mean] }\n  - { name: first_response_time, as: first_response_p90, stats: [p90] }\n";
    let yaml =
        pipeline(kpis, "{ all: { by: [], grain: all }, p90_only: { by: [], grain: all, kpis: [first_response_p90] } }");
    let path = dir.path().join("pipeline.yaml");
    std::fs::write(&path, yaml).unwrap();
    let out = dir.path().join("out");
    let o = deskpulse(&["run", path.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let all = read_parquet(&out.join("all.parquet"));
    // Mean of 600, 1800 and 3000 s; p90 interpolates between 1800 and 3000: 1800 + 0.8 × 1200.
    assert_close(row(&all, &[], None, "first_response_time", "mean").value, 1800.0, "mean");
    assert_close(row(&all, &[], None, "first_response_p90", "p90").value, 2760.0, "p90");
    assert_eq!(all.height(), 2, "{all}");
    let only = read_parquet(&out.join("p90_only.parquet"));
    assert_eq!(only.height(), 1, "{only}");
    // The Parquet metadata (key-value pairs, stored as plain text in the footer) names the catalog KPI a
    // variant comes from.
    let bytes = std::fs::read(out.join("all.parquet")).unwrap();
    let needle = b"\"variant_of\":\"first_response_time\"";
    assert!(bytes.windows(needle.len()).any(|w| w == needle), "no variant_of in the Parquet metadata");
}

#[test]
fn the_same_kpi_twice_without_a_name_is_a_located_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.csv"), TICKETS).unwrap();
    let kpis = "  - first_response_time\n  - { name: first_response_time, stats: [p90] }\n  - { name: ticket_volume, as: csat }\n";
    let path = dir.path().join("pipeline.yaml");
    std::fs::write(&path, pipeline(kpis, "{ all: { by: [], grain: all } }")).unwrap();
    let o = deskpulse(&["validate", path.to_str().unwrap(), "--no-data"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("pipeline.yaml:6:13: KPI `first_response_time` is listed twice"), "{t}");
    assert!(t.contains("as: first_response_time_2"), "{t}");
    assert!(t.contains("pipeline.yaml:7:32: `as: csat` is the name of another catalog KPI"), "{t}");
}
