//! `definitions.surveys.period`: an answer counts in the month it was submitted (default) or in its
//! ticket's month.

use std::process::Command;

use crate::common::*;

/// Ticket 1 opened on 30 January, rated 5 on 2 February; ticket 2 opened and rated 2 in February; a survey
/// about no ticket, rated 4 in January.
#[test]
fn csat_of_januarys_tickets_counts_answers_in_their_tickets_month() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.csv"), "id,opened\n1,2026-01-30 09:00:00\n2,2026-02-03 10:00:00\n").unwrap();
    std::fs::write(
        dir.path().join("s.csv"),
        "sid,ticket,score,at\nS1,1,5,2026-02-02 09:00:00\nS2,2,2,2026-02-04 09:00:00\nS3,,4,2026-01-20 09:00:00\n",
    )
    .unwrap();
    let run = |period: &str| {
        let yaml = format!(
            "name: p\nsources:\n  t: {{ table: tickets, path: t.csv, columns: {{ ticket_id: id, created_at: opened }} }}\n  \
             s: {{ table: surveys, path: s.csv, columns: {{ survey_id: sid, ticket_id: ticket, kind: {{ constant: csat }}, \
             score: score, submitted_at: at }} }}\n{period}kpis: [csat]\nsegments: {{ month: {{ by: [], grain: month }} }}\n\
             min_sample: 1\n"
        );
        let path = dir.path().join("pipeline.yaml");
        std::fs::write(&path, yaml).unwrap();
        let out = tempfile::tempdir().unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_deskpulse"))
            .args(["run", path.to_str().unwrap(), "--out", out.path().to_str().unwrap()])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let df = read_parquet(&out.path().join("month.parquet"));
        let csat = |month: &str| {
            let r = row(&df, &[], Some(month), "csat", "value");
            (r.numerator.unwrap(), r.denominator.unwrap())
        };
        (csat("2026-01-01"), csat("2026-02-01"))
    };
    // Submitted: January holds S3 (4, satisfied); February S1 (5) and S2 (2): 1 of 2.
    assert_eq!(run(""), ((1.0, 1.0), (1.0, 2.0)));
    // By ticket: January holds S1 (ticket 1's month) and S3 (no ticket: its own month); February S2 only.
    assert_eq!(run("definitions: { surveys: { period: ticket_created } }\n"), ((2.0, 2.0), (0.0, 1.0)));
}
