//! KPIs measured at period boundaries (backlog, retention, churn) on `tests/fixtures/boundaries/`, against
//! values worked out by hand; and the spec's retention example.

use crate::common::*;

const JAN: Option<&str> = Some("2026-01-01");
const FEB: Option<&str> = Some("2026-02-01");

#[test]
fn backlog_counts_tickets_open_at_each_period_end() {
    let out = run(&root().join("tests/fixtures/boundaries/pipeline.yaml"));
    let overall = read_parquet(&out.path().join("overall.parquet"));
    // End of January (1 Feb 00:00): created before it B1 (in December, before the window), B2, B3. B1 was
    // resolved on 10 Jan; B2 exactly at the end instant, so no longer open; B3 never: backlog 1.
    let jan = row(&overall, &[], JAN, "backlog", "value");
    assert_eq!((jan.value, jan.n, jan.unit.as_str(), jan.low_sample), (1.0, 3, "count", false));
    // End of February: B3 and B5 (resolved 5 March) are open; B4 was resolved in February.
    let feb = row(&overall, &[], FEB, "backlog", "value");
    assert_eq!((feb.value, feb.n), (2.0, 5));
}

#[test]
fn retention_and_churn_per_period() {
    let out = run(&root().join("tests/fixtures/boundaries/pipeline.yaml"));
    let overall = read_parquet(&out.path().join("overall.parquet"));
    // January: S on 1 Jan = A1, A2, A5 (churns on 1 Jan itself, so still a customer that day), A6 → 4.
    // E on 1 Feb = A1, A3, A4, A6 (churns on 1 Feb) → 4. N = A3, A4 (A4 starts on 1 Jan: not yet a customer
    // that day, acquired during January) → 2. CRR = (4 − 2) / 4 = 50 %; churned in January: A2, A5 → 2 / 4.
    let crr = row(&overall, &[], JAN, "retention_rate", "value");
    assert_eq!((crr.value, crr.numerator, crr.denominator, crr.n), (50.0, Some(2.0), Some(4.0), 4));
    assert_eq!(row(&overall, &[], JAN, "churn_rate", "value").value, 50.0);
    // February: S = 4, E on 1 Mar = A1, A3, A4 → 3, N = 0: CRR 75 %; A6 churned: 25 %.
    assert_eq!(row(&overall, &[], FEB, "retention_rate", "value").value, 75.0);
    assert_eq!(row(&overall, &[], FEB, "churn_rate", "value").value, 25.0);

    let by = read_parquet(&out.path().join("by_sector.parquet"));
    // Retail January: S = A1, A2; E = A1, A3; N = A3 → 50 %; Software February: S = A4, A6, E = A4 → 50 %.
    assert_eq!(row(&by, &[("sector", Some("Retail"))], JAN, "retention_rate", "value").value, 50.0);
    assert_eq!(row(&by, &[("sector", Some("Retail"))], FEB, "churn_rate", "value").value, 0.0);
    let sw = row(&by, &[("sector", Some("Software"))], FEB, "retention_rate", "value");
    assert_eq!((sw.value, sw.low_sample), (50.0, true));
}

/// The spec's example: S = 100, E = 90, N = 15 gives 75.
#[test]
fn retention_matches_the_spec_example() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("id,since,churned\n");
    for i in 0..100 {
        // 100 customers before March; 25 of them churn during March.
        let churned = if i < 25 { "2026-03-10" } else { "" };
        csv.push_str(&format!("old{i},2025-06-01,{churned}\n"));
    }
    for i in 0..15 {
        csv.push_str(&format!("new{i},2026-03-{:02},\n", i + 2));
    }
    std::fs::write(dir.path().join("accounts.csv"), csv).unwrap();
    std::fs::write(dir.path().join("tickets.csv"), "id,created\nT,2026-03-05 10:00:00\n").unwrap();
    let pipeline = "name: spec_example
sources:
  tickets: { table: tickets, path: tickets.csv, columns: { ticket_id: id, created_at: created } }
  accounts:
    table: accounts
    path: accounts.csv
    columns: { account_id: id, customer_since: since, churned_at: churned }
kpis: [retention_rate, churn_rate]
segments: { march: { by: [], grain: month } }
filters: { window: { from: 2026-03-01, to: 2026-04-01 } }
";
    std::fs::write(dir.path().join("pipeline.yaml"), pipeline).unwrap();
    let out = run(&dir.path().join("pipeline.yaml"));
    let df = read_parquet(&out.path().join("march.parquet"));
    let crr = row(&df, &[], Some("2026-03-01"), "retention_rate", "value");
    // E = 75 remaining + 15 new = 90: (90 − 15) / 100.
    assert_eq!((crr.value, crr.numerator, crr.denominator), (75.0, Some(75.0), Some(100.0)));
    assert_eq!(row(&df, &[], Some("2026-03-01"), "churn_rate", "value").value, 25.0);
}

/// Account KPIs are over accounts, not tickets: a segment that asks for them by a ticket dimension is refused,
/// one that merely has them in scope leaves them out.
#[test]
fn account_kpis_refuse_ticket_dimensions() {
    let fixture = root().join("tests/fixtures/boundaries");
    let yaml = std::fs::read_to_string(fixture.join("pipeline.yaml")).unwrap().replace(
        "  by_sector: { by: [sector], grain: month, kpis: [retention_rate, churn_rate] }",
        "  by_sector: { by: [sector], grain: month, kpis: [retention_rate, churn_rate] }\n  \
         by_channel: { by: [channel], grain: month, kpis: [churn_rate] }",
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pipeline.yaml"), yaml).unwrap();
    let Err(deskpulse::error::Error::Plan(p)) = deskpulse::load_plan(&dir.path().join("pipeline.yaml")) else {
        panic!("expected a plan error");
    };
    assert_eq!(p.diagnostics.len(), 1, "{:?}", p.diagnostics);
    assert!(
        p.diagnostics[0]
            .message
            .contains("KPI `churn_rate` cannot be split by `channel`: `channel` is not a dimension of accounts"),
        "{}",
        p.diagnostics[0].message
    );
}
