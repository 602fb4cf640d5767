//! The streaming engine (one aggregation at a time, for large runs) and the in-memory engine (one joint
//! plan) must write the same tables: every output of the sample pipeline is compared, text and counts
//! exactly, figures to 1e-9 relative (the engines add floating-point values in different orders).

use crate::common::*;

use std::path::Path;
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

#[test]
fn streaming_and_in_memory_runs_write_the_same_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let (streamed, in_memory) = (tmp.path().join("streaming"), tmp.path().join("in-memory"));
    run_with("streaming", &streamed);
    run_with("in-memory", &in_memory);
    assert_same_tables(&in_memory, &streamed, 10);
}
