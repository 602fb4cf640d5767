//! The sample pipeline's CSV outputs as a contract: every table, byte for byte, as recorded in
//! `tests/snapshots/sample_outputs.txt` (path, rows, xxh3-64 of the bytes). A change to how any KPI is
//! defined, compiled or written shows here. When a change of output is intended, rerun with
//! `UPDATE_SNAPSHOTS=1` and say why in the commit.

use std::path::Path;
use std::process::Command;

use crate::common::*;

fn record(out: &Path) -> String {
    let mut files: Vec<_> = walkdir::WalkDir::new(out)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "csv"))
        .map(|e| e.path().strip_prefix(out).unwrap().to_path_buf())
        .filter(|p| !p.starts_with("_rejected"))
        .collect();
    files.sort();
    let mut text = String::new();
    for f in files {
        let bytes = std::fs::read(out.join(&f)).unwrap();
        let rows = bytes.iter().filter(|b| **b == b'\n').count().saturating_sub(1);
        text.push_str(&format!("{}  {rows}  {:016x}\n", f.display(), xxhash_rust::xxh3::xxh3_64(&bytes)));
    }
    text
}

#[test]
fn the_sample_outputs_are_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_deskpulse"))
        .args(["run", "pipelines/support_kpis.yaml", "--out", out.to_str().unwrap(), "--as-of", "2026-11-01"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let now = record(&out);
    let path = root().join("tests/snapshots/sample_outputs.txt");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &now).unwrap();
        return;
    }
    let recorded = std::fs::read_to_string(&path).unwrap();
    if now != recorded {
        // Keep the new outputs for a diff against a run of the previous commit.
        let kept = std::env::temp_dir().join("deskpulse-sample-outputs");
        let _ = std::fs::remove_dir_all(&kept);
        std::fs::rename(&out, &kept).unwrap_or_default();
        let changed: Vec<&str> = now.lines().filter(|l| !recorded.lines().any(|r| r == *l)).collect();
        panic!("the sample outputs changed (now in {}):\n{}", kept.display(), changed.join("\n"));
    }
}
