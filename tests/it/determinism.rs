//! The same input gives the same bytes: a generated multi-file dump with fractional durations, summed by
//! several threads and joined to accounts for `sector`, run three times; every output file (CSV and
//! Parquet, in every folder) must be identical.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

fn deskpulse(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_deskpulse")).args(args).output().expect("binary runs")
}

/// Every file under `dir`, relative, sorted: outputs, quarantined rows and the store's parts (not the run
/// records and the store's manifest, which name the run).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(dir).unwrap().to_path_buf())
        // The run record, the store's manifest and the report name their run (its id and time).
        .filter(|p| !p.starts_with("_runs") && !p.ends_with("manifest.json") && !p.ends_with("report.html"))
        .collect();
    out.sort();
    out
}

/// Gives `hold_time_sec` two decimals (`37.0` → `37.41`), so that wait times are sums of fractions, whose
/// floating-point total depends on the order they are added in.
fn fractional_holds(csv: &Path) {
    let text = std::fs::read_to_string(csv).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let column = header.split(',').position(|c| c == "hold_time_sec").expect("a hold_time_sec column");
    let mut out = vec![header.to_string()];
    for (i, line) in lines.enumerate() {
        let mut fields: Vec<String> = line.split(',').map(String::from).collect();
        if let Some(f) = fields.get_mut(column).filter(|f| !f.is_empty()) {
            *f = format!("{}.{:02}", f.trim_end_matches(".0"), (i * 37) % 100);
        }
        out.push(fields.join(","));
    }
    std::fs::write(csv, out.join("\n") + "\n").unwrap();
}

#[test]
fn three_runs_write_identical_bytes_in_every_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("dump");
    let o = deskpulse(&["generate", "--tickets", "300000", "--seed", "11", "--out", dump.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let tickets: Vec<PathBuf> = std::fs::read_dir(dump.join("zendesk"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("tickets-"))
        .collect();
    assert!(tickets.len() > 1, "a multi-file dump");
    for t in &tickets {
        fractional_holds(t);
    }
    let pipeline = dump.join("pipeline.yaml");
    let yaml = std::fs::read_to_string(&pipeline).unwrap();
    std::fs::write(&pipeline, yaml.replace("  - csat\n", "  - csat\n  - wait_time\n")).unwrap();
    let outs: Vec<PathBuf> = (0..3).map(|i| tmp.path().join(format!("out{i}"))).collect();
    for out in &outs {
        let o =
            deskpulse(&["run", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap(), "--as-of", "2026-01-01"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let files = files_under(&outs[0]);
    assert!(files.iter().any(|f| f.extension().is_some_and(|e| e == "parquet")));
    assert!(files.iter().any(|f| f.starts_with("_rejected")));
    for other in &outs[1..] {
        assert_eq!(files_under(other), files, "the same files");
        for f in &files {
            let (a, b) = (std::fs::read(outs[0].join(f)).unwrap(), std::fs::read(other.join(f)).unwrap());
            assert!(a == b, "{} differs between runs", f.display());
        }
    }
    // The wait times were summed from the fractions, not rounded away.
    let df = read_parquet(&outs[0].join("sector_channel_month.parquet"));
    let waits = df.column("kpi").unwrap().str().unwrap().iter().filter(|k| *k == Some("wait_time")).count();
    assert!(waits > 0, "wait_time rows");
}

/// Staging reads a small CSV file whole and streams a large one (`DESKPULSE_WHOLE_CSV_BYTES` sets the limit),
/// and the segments read small tables held in memory and stream large ones from the staged parts
/// (`DESKPULSE_HOLD_BYTES`): the sample pipeline (eight sources, quoted fields) gives the same bytes, staged
/// parts included, every way.
#[test]
fn files_read_whole_or_streamed_and_tables_held_or_streamed_give_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let pipeline = root().join("pipelines/support_kpis.yaml");
    let ways = [
        ("whole-held", "1000000000", "1000000000"),
        ("streamed-held", "0", "1000000000"),
        ("whole-streamed", "1000000000", "0"),
    ];
    let outs: Vec<_> = ways.iter().map(|(name, _, _)| tmp.path().join(name)).collect();
    for (out, (_, whole, hold)) in outs.iter().zip(ways) {
        let o = Command::new(env!("CARGO_BIN_EXE_deskpulse"))
            .args(["run", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap(), "--as-of", "2026-01-01"])
            .env("DESKPULSE_WHOLE_CSV_BYTES", whole)
            .env("DESKPULSE_HOLD_BYTES", hold)
            .output()
            .expect("binary runs");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let files = files_under(&outs[0]);
    assert!(files.iter().any(|f| f.starts_with("_store")), "the staged parts are compared too");
    for (other, (way, _, _)) in outs.iter().zip(ways).skip(1) {
        assert_eq!(files_under(other), files, "the same files ({way})");
        for f in &files {
            let (a, b) = (std::fs::read(outs[0].join(f)).unwrap(), std::fs::read(other.join(f)).unwrap());
            assert!(a == b, "{} differs ({way})", f.display());
        }
    }
}
