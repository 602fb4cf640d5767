//! The streaming engine (one aggregation at a time, for large runs) and the in-memory engine (one joint
//! plan) must write the same tables: every output of the sample pipeline is compared, text and counts
//! exactly, figures to 1e-9 relative (the engines add floating-point values in different orders).

use crate::common::*;

use polars::prelude::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn run_with(engine: &str, out: &Path) {
    let pipeline = root().join("pipelines/support_kpis.yaml");
    let o = Command::new(env!("CARGO_BIN_EXE_deskpulse"))
        .args(["run", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .args(["--engine", engine, "--as-of", "2026-07-01T00:00:00Z"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{engine}: {}", String::from_utf8_lossy(&o.stderr));
}

fn csv_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(csv_files(&path));
        } else if path.extension().is_some_and(|e| e == "csv") {
            found.push(path);
        }
    }
    found.sort();
    found
}

#[test]
fn streaming_and_in_memory_runs_write_the_same_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let (streamed, in_memory) = (tmp.path().join("streaming"), tmp.path().join("in-memory"));
    run_with("streaming", &streamed);
    run_with("in-memory", &in_memory);
    let files = csv_files(&in_memory);
    assert!(files.len() >= 10, "the sample writes every kind of table: {files:?}");
    for file in files {
        let relative = file.strip_prefix(&in_memory).unwrap();
        let (a, b) = (read_csv(&file), read_csv(&streamed.join(relative)));
        assert_eq!(a.shape(), b.shape(), "{}", relative.display());
        for (x, y) in a.columns().iter().zip(b.columns()) {
            let what = format!("{} column {}", relative.display(), x.name());
            assert_eq!(x.name(), y.name(), "{what}");
            let (x, y) = (x.as_materialized_series(), y.as_materialized_series());
            if x.equals_missing(y) {
                continue;
            }
            // Not the same text: only figures may differ, in their last digits.
            let (u, v) = (x.cast(&DataType::Float64).unwrap(), y.cast(&DataType::Float64).unwrap());
            assert_eq!(u.null_count(), x.null_count(), "{what}: {x} differs from {y}");
            for (u, v) in u.f64().unwrap().iter().zip(v.f64().unwrap().iter()) {
                match (u, v) {
                    (Some(u), Some(v)) => assert_close(v, u, &what),
                    _ => assert_eq!(u, v, "{what}"),
                }
            }
        }
    }
}

fn read_csv(path: &Path) -> DataFrame {
    CsvReadOptions::default()
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .unwrap()
        .finish()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
