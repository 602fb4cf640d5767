//! The weekly review sample (reproducible, stratified) and the follow-up list (with comments that survive
//! the CSV round trip) on `tests/fixtures/review/`.

use crate::common::*;

use polars::prelude::*;
use std::path::Path;

fn fixture_copy(tickets: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixture = root().join("tests/fixtures/review");
    for f in ["pipeline.yaml", "surveys.csv", "accounts.csv"] {
        std::fs::copy(fixture.join(f), dir.path().join(f)).unwrap();
    }
    std::fs::copy(fixture.join(tickets), dir.path().join("tickets.csv")).unwrap();
    dir
}

/// (week, agent, ticket) of the sample, in file order.
fn sample(out: &Path) -> Vec<(String, String, String)> {
    let df = read_parquet(&out.join("review_sample/review_sample.parquet"));
    let s = |c: &str, i: usize| {
        let column = df.column(c).unwrap().cast(&DataType::String).unwrap();
        column.str().unwrap().get(i).unwrap().to_string()
    };
    (0..df.height()).map(|i| (s("period_start", i), s("agent_id", i), s("ticket_id", i))).collect()
}

#[test]
fn the_sample_is_stratified_by_agent_and_week() {
    let dir = fixture_copy("tickets.csv");
    let out = run(&dir.path().join("pipeline.yaml"));
    let drawn = sample(out.path());
    let per = |week: &str, agent: &str| drawn.iter().filter(|(w, a, _)| w == week && a == agent).count();
    // Week of 5 Jan: a resolved 4 (its open A9 is not drawn) → 2; b resolved 1 → 1.
    // Week of 12 Jan: a resolved 3 → 2; c resolved 2 → 2.
    assert_eq!(per("2026-01-05", "a"), 2);
    assert_eq!(per("2026-01-05", "b"), 1);
    assert_eq!(per("2026-01-12", "a"), 2);
    assert_eq!(per("2026-01-12", "c"), 2);
    assert_eq!(drawn.len(), 7);
    assert!(drawn.iter().all(|(_, _, t)| t != "A9"));
    // What a reviewer needs, with the declared link.
    let df = read_parquet(&out.path().join("review_sample/review_sample.parquet"));
    for c in ["channel", "created_at", "resolved_at", "first_response_seconds", "resolution_seconds", "csat_score"] {
        assert!(df.column(c).is_ok(), "missing {c}");
    }
    let b0 = df.clone().lazy().filter(col("ticket_id").eq(lit("B0"))).collect().unwrap();
    let get =
        |c: &str| b0.column(c).unwrap().cast(&DataType::String).unwrap().str().unwrap().get(0).map(str::to_string);
    assert_eq!(get("link").as_deref(), Some("https://support.example/tickets/B0?agent=b"));
    assert_eq!((get("channel").as_deref(), get("resolution_seconds").as_deref()), (Some("chat"), Some("21600.0")));
    assert_eq!((get("csat_score").as_deref(), get("csat_comment").as_deref()), (Some("2.0"), Some("Pas résolu")));
}

#[test]
fn the_sample_is_the_same_on_every_run_and_past_weeks_never_change() {
    let dir = fixture_copy("tickets.csv");
    let first = sample(run(&dir.path().join("pipeline.yaml")).path());
    let second = sample(run(&dir.path().join("pipeline.yaml")).path());
    assert_eq!(first, second);
    // A week of new tickets: the earlier weeks' draws stay as they were, and the new week gets its own.
    let more = fixture_copy("tickets_one_more_week.csv");
    let later = sample(run(&more.path().join("pipeline.yaml")).path());
    let past: Vec<_> = later.iter().filter(|(w, _, _)| w.as_str() < "2026-01-19").cloned().collect();
    assert_eq!(past, first);
    assert_eq!(later.iter().filter(|(w, _, _)| w == "2026-01-19").count(), 2);
}

#[test]
fn follow_up_lists_the_answers_that_need_a_human() {
    let dir = fixture_copy("tickets.csv");
    let out = run(&dir.path().join("pipeline.yaml"));
    let df = read_parquet(&out.path().join("follow_up/follow_up.parquet"));
    let s = |c: &str, i: usize| {
        df.column(c).unwrap().cast(&DataType::String).unwrap().str().unwrap().get(i).unwrap_or("").to_string()
    };
    let rows: Vec<(String, String, String, String, String)> = (0..df.height())
        .map(|i| (s("period_start", i), s("reason", i), s("ticket_id", i), s("score", i), s("sector", i)))
        .collect();
    let r = |w: &str, why: &str, t: &str, score: &str, sector: &str| {
        (w.to_string(), why.to_string(), t.to_string(), score.to_string(), sector.to_string())
    };
    // NPS 3 is a detractor; NPS 10 with a comment a testimonial (without one, or NPS 7, nothing); CSAT 2 and
    // CES 2 are the bottom two points of 1–5 and 1–7 (CSAT 3 is not).
    assert_eq!(
        rows,
        [
            r("2026-01-05", "detractor", "A0", "3.0", "Retail"),
            r("2026-01-05", "promoter_comment", "A1", "10.0", "Retail"),
            r("2026-01-05", "unsatisfied", "B0", "2.0", "Software"),
            r("2026-01-12", "high_effort", "A11", "2.0", "Retail"),
        ]
    );
}

#[test]
fn a_comment_reads_back_byte_identical_from_the_csv() {
    let dir = fixture_copy("tickets.csv");
    let out = run(&dir.path().join("pipeline.yaml"));
    let csv = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(out.path().join("follow_up/follow_up.csv")))
        .unwrap()
        .finish()
        .unwrap();
    let promoter = csv.lazy().filter(col("reason").eq(lit("promoter_comment"))).collect().unwrap();
    let comment = promoter.column("comment").unwrap().str().unwrap().get(0).unwrap().to_string();
    // A comma, doubled quotes, a line break and accents, exactly as the survey tool wrote them.
    assert_eq!(comment.as_bytes(), "Très bien, merci !\n\"Parfait\", vraiment — œuvre d'art".as_bytes());
}
