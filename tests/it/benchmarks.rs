//! Reference and peer benchmarks on `tests/fixtures/benchmarks/`, against values worked out by hand.
//!
//! January, Retail: R1 resolves 4 of 4 tickets and escalates 1; R2 resolves 2 of 4, escalates none; R3
//! resolves 2 of 4, escalates 2; R5 resolves 1 of 4, escalates 1; R4 has one resolved ticket (fewer than
//! min_sample 3: low_sample). Software has one account, S1 (3 of 4 resolved). min_peers is 3.

use crate::common::*;

use polars::prelude::*;

struct Bench {
    df: DataFrame,
}

impl Bench {
    fn row(&self, account: Option<&str>, kpi: &str, stat: &str) -> DataFrame {
        let mut pred = col("kpi").eq(lit(kpi)).and(col("stat").eq(lit(stat)));
        if let Some(a) = account {
            pred = pred.and(col("account_id").eq(lit(a)));
        }
        let found = self.df.clone().lazy().filter(pred).collect().unwrap();
        assert_eq!(found.height(), 1, "{found}");
        found
    }
    fn f(&self, account: Option<&str>, kpi: &str, column: &str) -> Option<f64> {
        self.row(account, kpi, "value").column(column).unwrap().cast(&DataType::Float64).unwrap().f64().unwrap().get(0)
    }
    fn s(&self, account: Option<&str>, kpi: &str, column: &str) -> Option<String> {
        let r = self.row(account, kpi, "value");
        let c = r.column(column).unwrap().cast(&DataType::String).unwrap();
        c.str().unwrap().get(0).map(str::to_string)
    }
}

fn outputs() -> (tempfile::TempDir, Bench, Bench) {
    let out = run(&root().join("tests/fixtures/benchmarks/pipeline.yaml"));
    let accounts = Bench { df: read_parquet(&out.path().join("benchmarks/account_month.parquet")) };
    let sectors = Bench { df: read_parquet(&out.path().join("benchmarks/sector_month.parquet")) };
    (out, accounts, sectors)
}

fn retail(b: &Bench, account: &str, kpi: &str, column: &str) -> Option<f64> {
    b.f(Some(account), kpi, column)
}

#[test]
fn percentile_ranks_and_quartiles_with_ties() {
    let (_out, b, _) = outputs();
    // Resolution (higher is better), peers R1 100, R2 50, R3 50, R5 25 (R4 is low_sample):
    // strictly worse than R1: 3 of n − 1 = 3 → 100, quartile 1; R2 and R3 tie: 1 / 3 → 33.3, quartile 3;
    // R5: 0 → quartile 4.
    assert_eq!(retail(&b, "R1", "resolution_rate", "percentile_rank"), Some(100.0));
    assert_close(retail(&b, "R2", "resolution_rate", "percentile_rank").unwrap(), 100.0 / 3.0, "R2 rank");
    assert_eq!(
        retail(&b, "R2", "resolution_rate", "percentile_rank"),
        retail(&b, "R3", "resolution_rate", "percentile_rank")
    );
    assert_eq!(retail(&b, "R5", "resolution_rate", "percentile_rank"), Some(0.0));
    let quartiles: Vec<Option<f64>> =
        ["R1", "R2", "R3", "R5"].iter().map(|a| retail(&b, a, "resolution_rate", "quartile")).collect();
    assert_eq!(quartiles, [Some(1.0), Some(3.0), Some(3.0), Some(4.0)]);
    // Escalation (lower is better), R1 25, R2 0, R3 50, R5 25: R2 is best (3 of 3 worse), R3 worst.
    assert_eq!(retail(&b, "R2", "escalation_rate", "percentile_rank"), Some(100.0));
    assert_eq!(retail(&b, "R3", "escalation_rate", "percentile_rank"), Some(0.0));
    assert_close(retail(&b, "R1", "escalation_rate", "percentile_rank").unwrap(), 100.0 / 3.0, "R1 escalation rank");
}

#[test]
fn peer_distribution_leaves_out_low_samples_and_small_sectors() {
    let (_out, b, _) = outputs();
    // Sorted peer values 25, 50, 50, 100; linear interpolation: p25 at 0.75 → 43.75, median 50, p75 at
    // 2.25 → 62.5.
    assert_eq!(retail(&b, "R1", "resolution_rate", "n_peers"), Some(4.0));
    assert_eq!(retail(&b, "R1", "resolution_rate", "peer_p25"), Some(43.75));
    assert_eq!(retail(&b, "R1", "resolution_rate", "peer_median"), Some(50.0));
    assert_eq!(retail(&b, "R1", "resolution_rate", "peer_p75"), Some(62.5));
    assert_eq!(retail(&b, "R1", "resolution_rate", "gap_to_peer_median"), Some(50.0));
    // R4 (one ticket) is flagged and not ranked, but still sees its sector's distribution.
    assert_eq!(retail(&b, "R4", "resolution_rate", "percentile_rank"), None);
    assert_eq!(retail(&b, "R4", "resolution_rate", "peer_median"), Some(50.0));
    assert!(b.s(Some("R4"), "resolution_rate", "peer_note").unwrap().starts_with("low_sample"));
    // Software has one account, under min_peers 3: no distribution, and the note says why.
    assert_eq!(b.f(Some("S1"), "resolution_rate", "peer_median"), None);
    assert_eq!(b.f(Some("S1"), "resolution_rate", "percentile_rank"), None);
    assert_eq!(
        b.s(Some("S1"), "resolution_rate", "peer_note").as_deref(),
        Some("only 1 peer(s), fewer than min_peers 3: no distribution")
    );
}

#[test]
fn reference_gaps_intervals_and_verdicts() {
    let (_out, _, s) = outputs();
    let retail = |kpi: &str, column: &str| {
        let r =
            s.df.clone()
                .lazy()
                .filter(col("sector").eq(lit("Retail")).and(col("kpi").eq(lit(kpi))).and(col("stat").eq(lit("value"))))
                .collect()
                .unwrap();
        r.column(column).unwrap().cast(&DataType::Float64).unwrap().f64().unwrap().get(0)
    };
    let text = |sector: &str, kpi: &str, column: &str| {
        let r =
            s.df.clone()
                .lazy()
                .filter(col("sector").eq(lit(sector)).and(col("kpi").eq(lit(kpi))).and(col("stat").eq(lit("value"))))
                .collect()
                .unwrap();
        r.column(column).unwrap().cast(&DataType::String).unwrap().str().unwrap().get(0).map(str::to_string)
    };
    // Retail resolution 10 / 17 = 58.82 % against a median of 60: gap −1.18 (−1.96 %). The 95 % Wilson
    // interval of 10 / 17 (the roots of (p̂ − p)² = 1.96² p (1 − p) / 17) holds 60: on par, not significant.
    assert_close(retail("resolution_rate", "gap").unwrap(), 1000.0 / 17.0 - 60.0, "gap");
    assert_close(retail("resolution_rate", "gap_relative").unwrap(), (1000.0 / 17.0 - 60.0) / 60.0, "relative gap");
    let (low, high) = wilson_roots(10.0, 17.0);
    assert_close(retail("resolution_rate", "ci_low").unwrap(), 100.0 * low, "Wilson low");
    assert_close(retail("resolution_rate", "ci_high").unwrap(), 100.0 * high, "Wilson high");
    assert_eq!(text("Retail", "resolution_rate", "verdict").as_deref(), Some("on_par"));
    assert_eq!(text("Retail", "resolution_rate", "significant").as_deref(), Some("false"));
    // Escalation 4 / 17 = 23.5 % against 80 (lower is better): outside the interval → better, significant.
    assert_eq!(text("Retail", "escalation_rate", "verdict").as_deref(), Some("better"));
    assert_eq!(text("Retail", "escalation_rate", "significant").as_deref(), Some("true"));
    // NPS of R1's four answers (10, 10, 9, 3) = 50 ± 1.96 × sqrt((0.75 + 0.25 − 0.25) / 4) × 100 = ± 84.87,
    // clipped to −100..100: the published 28.4 (a mean) is inside → on par.
    let margin = 1.96 * (0.75_f64 / 4.0).sqrt() * 100.0;
    assert_close(retail("nps", "ci_low").unwrap(), 50.0 - margin, "NPS low");
    assert_eq!(retail("nps", "ci_high"), Some(100.0));
    assert_eq!(text("Retail", "nps", "reference_statistic").as_deref(), Some("mean"));
    assert_eq!(text("Retail", "nps", "verdict").as_deref(), Some("on_par"));
    // No reference for Software's escalations: no verdict rather than a guess.
    assert_eq!(text("Software", "escalation_rate", "verdict"), None);
}

/// Roots of (p̂ − p)² = z² p (1 − p) / n in p, z = 1.96.
fn wilson_roots(yes: f64, n: f64) -> (f64, f64) {
    let (z, p) = (1.96_f64, yes / n);
    let a = 1.0 + z * z / n;
    let b = -(2.0 * p + z * z / n);
    let d = (b * b - 4.0 * a * p * p).sqrt();
    ((-b - d) / (2.0 * a), (-b + d) / (2.0 * a))
}

#[test]
fn scorecard_prints_one_account_against_its_sector() {
    let (out, _, _) = outputs();
    let pipeline = root().join("tests/fixtures/benchmarks/pipeline.yaml");
    let card = |account: &str, format: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_deskpulse"))
            .args(["scorecard", pipeline.to_str().unwrap(), "--account", account, "--format", format])
            .args(["--out", out.path().to_str().unwrap()])
            .output()
            .unwrap()
    };
    let csv = card("R1", "csv");
    assert_eq!(csv.status.code(), Some(0), "{}", String::from_utf8_lossy(&csv.stderr));
    let text = String::from_utf8(csv.stdout).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let resolution: Vec<&str> = text.lines().find(|l| l.contains(",resolution_rate,")).unwrap().split(',').collect();
    let field = |name: &str| resolution[header.iter().position(|h| *h == name).unwrap()];
    assert_eq!(
        (field("account_id"), field("value"), field("percentile_rank"), field("quartile")),
        ("R1", "100.0", "100.0", "1")
    );
    assert_eq!((field("peer_median"), field("reference"), field("verdict")), ("50.0", "60.0", "on_par"));

    let table = card("R4", "table");
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(text.starts_with("account R4 (Retail), period starting 2026-01-01"), "{text}");
    assert!(text.contains("100.00* percent"), "R4's low sample is marked:\n{text}");

    let json = card("S1", "json");
    let rows: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 3);

    let unknown = card("nobody", "table");
    assert_eq!(unknown.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("account `nobody` has no row"));
}

/// With `hive`, the benchmark tables are folders of period partitions; the scorecard reads them alike.
#[test]
fn scorecard_reads_hive_benchmark_tables() {
    let (single, _, _) = outputs();
    let fixture = tempfile::tempdir().unwrap();
    for file in ["accounts.csv", "reference.csv", "surveys.csv", "tickets.csv", "pipeline.yaml"] {
        std::fs::copy(root().join("tests/fixtures/benchmarks").join(file), fixture.path().join(file)).unwrap();
    }
    let pipeline = fixture.path().join("pipeline.yaml");
    let text = std::fs::read_to_string(&pipeline).unwrap();
    std::fs::write(&pipeline, format!("{text}outputs:\n  layout: hive\n")).unwrap();
    let hive = run(&pipeline);
    assert!(hive.path().join("benchmarks/account_month/period_start=2026-01-01/part-0.parquet").is_file());
    assert!(!hive.path().join("benchmarks/account_month.parquet").exists());
    let card = |out: &std::path::Path, account: &str| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_deskpulse"))
            .args(["scorecard", pipeline.to_str().unwrap(), "--account", account, "--format", "csv"])
            .args(["--out", out.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    for account in ["R1", "R4", "S1"] {
        assert_eq!(card(hive.path(), account), card(single.path(), account), "{account}");
    }
}

/// The binary with `args`: its output.
fn deskpulse(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_deskpulse")).args(args).output().unwrap()
}

/// The binary with `args`, which must succeed.
fn succeeds(args: &[&str]) {
    let o = deskpulse(args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `deskpulse run PIPELINE --out OUT` as of 1 March 2026, then `extra`, which must succeed.
fn run_pipeline(pipeline: &std::path::Path, out: &std::path::Path, extra: &[&str]) {
    let mut args = vec!["run", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap(), "--as-of", "2026-03-01"];
    args.push("-q");
    args.extend(extra);
    succeeds(&args);
}

/// The fixture's January, and a February of 10 Retail tickets (two per account, none resolved or escalated)
/// and 2 Software tickets (both resolved), in a pipeline with an overall segment; `sector:` names the data's
/// own sector when given.
fn with_february(own_sector: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixture = root().join("tests/fixtures/benchmarks");
    for file in ["accounts.csv", "surveys.csv", "reference.csv"] {
        std::fs::copy(fixture.join(file), dir.path().join(file)).unwrap();
    }
    let mut tickets = std::fs::read_to_string(fixture.join("tickets.csv")).unwrap();
    for (i, account) in ["R1", "R2", "R3", "R4", "R5"].iter().flat_map(|a| [a, a]).enumerate() {
        tickets.push_str(&format!("F{i},2026-02-{:02}T09:00:00Z,,{account},false\n", i + 2));
    }
    tickets.push_str("F10,2026-02-20T09:00:00Z,2026-02-20T12:00:00Z,S1,false\n");
    tickets.push_str("F11,2026-02-21T09:00:00Z,2026-02-21T12:00:00Z,S1,false\n");
    std::fs::write(dir.path().join("tickets.csv"), tickets).unwrap();
    let pipeline = std::fs::read_to_string(fixture.join("pipeline.yaml"))
        .unwrap()
        .replace("segments:\n", "segments:\n  overall_month: { by: [], grain: month }\n")
        .replace("  min_peers: 3\n", &format!("  min_peers: 3\n{own_sector}"));
    std::fs::write(dir.path().join("pipeline.yaml"), pipeline).unwrap();
    let out = dir.path().join("out");
    run_pipeline(&dir.path().join("pipeline.yaml"), &out, &[]);
    let report = dir.path().join("report.html");
    succeeds(&["report", out.to_str().unwrap(), "--out", report.to_str().unwrap()]);
    dir
}

/// The headline tile of a KPI, as the report writes it, to the end of its last line.
fn tile(report: &str, title: &str) -> String {
    let start = report.find(&format!("<div class=\"name\">{title}</div>")).unwrap_or_else(|| panic!("{title}"));
    let end = report[start..].find("</div></div>").unwrap();
    report[start..start + end].to_string()
}

/// `benchmarks.sector` compares the segments not split by sector with the data's own sector's figures, and
/// the headline tiles say where they stand. By hand, overall: January resolves 13 of 21 (61.9 %), February 2
/// of 12 (16.7 %: Wilson 4.7–44.8 %, the Retail median 60 outside: worse); February escalates 0 of 12 (Wilson
/// upper bound 24.3 %, the Retail 80 outside, lower is better: better); January's NPS 50 ± 84.9 holds 28.4.
#[test]
fn the_pipelines_own_sector_places_its_overall_figures() {
    let dir = with_february("  sector: Retail\n");
    let b = read_parquet(&dir.path().join("out/benchmarks/overall_month.parquet"));
    let row = |period: &str, kpi: &str, column: &str| {
        let r = b
            .clone()
            .lazy()
            .filter(
                col("kpi")
                    .eq(lit(kpi))
                    .and(col("stat").eq(lit("value")))
                    .and(col("period_start").cast(DataType::String).eq(lit(period))),
            )
            .collect()
            .unwrap();
        assert_eq!(r.height(), 1, "{r}");
        r.column(column).unwrap().cast(&DataType::String).unwrap().str().unwrap().get(0).map(str::to_string)
    };
    assert_close(row("2026-01-01", "resolution_rate", "value").unwrap().parse().unwrap(), 1300.0 / 21.0, "January");
    assert_eq!(row("2026-01-01", "resolution_rate", "reference").as_deref(), Some("60.0"));
    assert_eq!(row("2026-01-01", "resolution_rate", "reference_sector").as_deref(), Some("Retail"));
    assert_eq!(row("2026-01-01", "resolution_rate", "verdict").as_deref(), Some("on_par"));
    let (low, high) = wilson_roots(2.0, 12.0);
    assert_close(row("2026-02-01", "resolution_rate", "ci_low").unwrap().parse().unwrap(), 100.0 * low, "low");
    assert_close(row("2026-02-01", "resolution_rate", "ci_high").unwrap().parse().unwrap(), 100.0 * high, "high");
    assert_eq!(row("2026-02-01", "resolution_rate", "verdict").as_deref(), Some("worse"));
    assert_eq!(row("2026-02-01", "escalation_rate", "verdict").as_deref(), Some("better"));
    assert_eq!(row("2026-01-01", "nps", "verdict").as_deref(), Some("on_par"));
    // The headline tiles: February, the latest complete month as of 1 March.
    let report = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    let resolution = tile(&report, "Resolution rate");
    assert!(resolution.contains("<div class=\"figure\">16.7 %</div>"), "{resolution}");
    assert!(resolution.contains("−45.2 pts vs January 2026"), "{resolution}");
    assert!(resolution.contains("<div class=\"sector bad\">Retail reference 60 %: worse"), "{resolution}");
    let escalation = tile(&report, "Escalation rate");
    assert!(escalation.contains("<div class=\"sector good\">Retail reference 80 %: better"), "{escalation}");
}

/// Without `sector:`, a tile says how the sectors fare against their references in the same period. February:
/// Retail resolves 0 of 10 (Wilson upper bound 27.8 % < 60: worse), Software 2 of 2 (Wilson 34.2–100 % holds
/// its mean of 50: on par); Retail escalates 0 of 10 against 80 (better), Software has no escalation figure.
#[test]
fn a_headline_tile_counts_the_sectors_against_their_references() {
    let dir = with_february("");
    assert!(!dir.path().join("out/benchmarks/overall_month.parquet").exists());
    let report = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    let resolution = tile(&report, "Resolution rate");
    assert!(resolution.contains("sectors vs reference: 1 worse (Retail), 1 on par"), "{resolution}");
    let escalation = tile(&report, "Escalation rate");
    assert!(escalation.contains("sectors vs reference: 1 better"), "{escalation}");
}

/// `sector:` needs a reference table, and a sector the table has figures for.
#[test]
fn an_own_sector_is_checked_against_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = root().join("tests/fixtures/benchmarks");
    for file in ["accounts.csv", "surveys.csv", "reference.csv", "tickets.csv"] {
        std::fs::copy(fixture.join(file), dir.path().join(file)).unwrap();
    }
    let pipeline = std::fs::read_to_string(fixture.join("pipeline.yaml")).unwrap();
    let p = dir.path().join("pipeline.yaml");
    let both = |o: &std::process::Output| {
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
    };
    std::fs::write(&p, pipeline.replace("  reference: reference.csv\n", "  sector: Retail\n")).unwrap();
    let o = deskpulse(&["validate", p.to_str().unwrap(), "--no-data"]);
    assert!(
        !o.status.success() && both(&o).contains("`sector: Retail` compares with a reference table"),
        "{}",
        both(&o)
    );
    assert!(both(&o).contains(":19:"), "the line of `sector`: {}", both(&o));
    std::fs::write(&p, pipeline.replace("  min_peers: 3\n", "  min_peers: 3\n  sector: Grocery\n")).unwrap();
    let out = dir.path().join("out");
    let o = deskpulse(&["run", p.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(!o.status.success(), "{}", both(&o));
    assert!(
        both(&o).contains("reference.csv")
            && both(&o).contains("no figure for sector `Grocery`")
            && both(&o).contains("its sectors: Retail, Software"),
        "{}",
        both(&o)
    );
    assert!(!out.join("sector_month.parquet").exists(), "nothing written");
}

/// A night that brings February keeps the own-sector benchmark tables as a full run writes them: January's
/// rows kept, February's compared with the Retail figures.
#[test]
fn a_night_keeps_the_own_sector_tables_as_a_full_run_writes_them() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = root().join("tests/fixtures/benchmarks");
    for file in ["accounts.csv", "surveys.csv", "reference.csv"] {
        std::fs::copy(fixture.join(file), dir.path().join(file)).unwrap();
    }
    std::fs::copy(fixture.join("tickets.csv"), dir.path().join("tickets-01.csv")).unwrap();
    let pipeline = std::fs::read_to_string(fixture.join("pipeline.yaml"))
        .unwrap()
        .replace("path: tickets.csv", "path: tickets-*.csv")
        .replace("segments:\n", "segments:\n  overall_month: { by: [], grain: month }\n")
        .replace("  min_peers: 3\n", "  min_peers: 3\n  sector: Retail\n");
    let p = dir.path().join("pipeline.yaml");
    std::fs::write(&p, pipeline).unwrap();
    let run = |out: &std::path::Path, extra: &[&str]| run_pipeline(&p, out, extra);
    let out = dir.path().join("out");
    run(&out, &[]);
    std::fs::write(
        dir.path().join("tickets-02.csv"),
        "id,created,solved,account,escalated\nF1,2026-02-03T09:00:00Z,,R1,true\nF2,2026-02-04T09:00:00Z,2026-02-04T12:00:00Z,S1,false\n",
    )
    .unwrap();
    run(&out, &[]);
    let full = dir.path().join("full");
    run(&full, &["--full"]);
    assert_same_tables(&full, &out, 6);
    let b = read_csv_text(&out.join("benchmarks/overall_month.csv"));
    let february = b
        .lazy()
        .filter(col("period_start").eq(lit("2026-02-01")).and(col("kpi").eq(lit("escalation_rate"))))
        .collect()
        .unwrap();
    // 1 of 2 escalated: 50 % against the Retail 80.
    assert_eq!(february.column("value").unwrap().str().unwrap().get(0), Some("50.0"));
    assert_eq!(february.column("reference").unwrap().str().unwrap().get(0), Some("80.0"));
}
