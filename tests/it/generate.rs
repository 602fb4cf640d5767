//! `deskpulse generate` and a run on its output: the small smoke test CI runs (the benchmark is
//! `benches/compare.sh`).

use crate::common::*;

use polars::prelude::*;
use std::process::Command;

fn generate(dir: &std::path::Path, seed: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_deskpulse"))
        .args(["generate", "--tickets", "20000", "--seed", seed, "--out", dir.to_str().unwrap()])
        .output()
        .unwrap()
}

#[test]
fn a_generated_dump_runs_and_every_ticket_is_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("dump");
    let o = generate(&dump, "3");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = run(&dump.join("pipeline.yaml"));
    let df = read_parquet(&out.path().join("sector_channel_month.parquet"));
    let volume = df.lazy().filter(col("kpi").eq(lit("ticket_volume"))).select([col("value").sum()]).collect().unwrap();
    // Every generated ticket falls in the generated year and has an account with a sector.
    assert_eq!(volume.column("value").unwrap().f64().unwrap().get(0), Some(20_000.0));
}

#[test]
fn the_same_seed_gives_the_same_files_and_a_full_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (tmp.path().join("a"), tmp.path().join("b"), tmp.path().join("c"));
    for (dir, seed) in [(&a, "5"), (&b, "5"), (&c, "6")] {
        assert!(generate(dir, seed).status.success());
    }
    let read = |d: &std::path::Path| std::fs::read(d.join("zendesk/tickets-00000.csv")).unwrap();
    assert_eq!(read(&a), read(&b));
    assert_ne!(read(&a), read(&c));
    let again = generate(&a, "5");
    assert_eq!(again.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
}
