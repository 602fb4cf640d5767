//! Zendesk-grade SLAs and ticket metrics on three tickets worked out by hand: a ticket across a weekend and
//! the spring DST change on a business clock, with a private note, a pending spell, a reassignment and a
//! group rule; an agent-created chat ticket still open at the as-of instant; a quick one-touch ticket.
//!
//! Paris office Monday to Friday 09:00–18:00 (email); chat around the clock. As of 2026-04-01 00:00 UTC.
//!
//! T1 email/high/g1, opened Fri 27 March 16:00 UTC (17:00 CET). Customer 16:00; private note 16:30; agent
//! Mon 30 March 08:00 UTC (10:00 CEST); customer 09:00; agent 12:00; solved 13:00. History: new 16:00, open
//! 16:05, pending Mon 08:00, open 09:00, solved 13:00; assignee a1 16:05, a2 Mon 08:30, a1 10:00; group g1.
//! T2 chat/normal/g2, opened by an agent's public comment Mon 30 March 10:00; customer 10:20; agent 10:50;
//! customer 11:00, unanswered; not solved; no history.
//! T3 email/high/g2, Tue 31 March 08:00 (10:00 CEST); agent 08:30; solved 09:00. History: new 08:00, open
//! 08:10, solved 09:00; assignee a3 08:10.

use std::path::Path;
use std::process::Command;

use polars::prelude::*;

use crate::common::*;

const HOUR: f64 = 3600.0;

const TICKETS: &str = "id,created,solved,status,priority,via,group,agent\n\
1,2026-03-27T16:00:00Z,2026-03-30T13:00:00Z,solved,high,email,g1,a2\n\
2,2026-03-30T10:00:00Z,,open,normal,chat,g2,a2\n\
3,2026-03-31T08:00:00Z,2026-03-31T09:00:00Z,solved,high,email,g2,\n";

const MESSAGES: &str = "ticket,at,role,public,author\n\
1,2026-03-27T16:00:00Z,customer,true,c1\n1,2026-03-27T16:30:00Z,agent,false,ann\n1,2026-03-30T08:00:00Z,agent,true,ann\n\
1,2026-03-30T09:00:00Z,customer,true,c1\n1,2026-03-30T12:00:00Z,agent,true,bob\n\
2,2026-03-30T10:00:00Z,agent,true,bob\n2,2026-03-30T10:20:00Z,customer,true,c2\n2,2026-03-30T10:50:00Z,agent,true,cy\n\
2,2026-03-30T11:00:00Z,customer,true,c2\n\
3,2026-03-31T08:00:00Z,customer,true,c3\n3,2026-03-31T08:30:00Z,agent,true,ann\n";

const EVENTS: &str = "ticket,at,field,value\n\
1,2026-03-27T16:00:00Z,status,new\n1,2026-03-27T16:05:00Z,status,open\n1,2026-03-27T16:05:00Z,assignee_id,a1\n\
1,2026-03-27T16:05:00Z,group_id,g1\n1,2026-03-30T08:00:00Z,status,pending\n1,2026-03-30T08:30:00Z,assignee_id,a2\n\
1,2026-03-30T09:00:00Z,status,open\n1,2026-03-30T10:00:00Z,assignee_id,a1\n1,2026-03-30T13:00:00Z,status,solved\n\
3,2026-03-31T08:00:00Z,status,new\n3,2026-03-31T08:10:00Z,status,open\n3,2026-03-31T08:10:00Z,assignee_id,a3\n\
3,2026-03-31T09:00:00Z,status,solved\n";

const PIPELINE: &str = r#"name: sla
sources:
  t:
    table: tickets
    path: tickets.csv
    columns: { ticket_id: id, created_at: created, resolved_at: solved, status: status, priority: priority, channel: via, team: group, agent_id: agent }
  m:
    table: messages
    path: messages*.csv
    columns: { ticket_id: ticket, created_at: at, author_role: role, is_public: public, author_id: author }
  e:
    table: ticket_events
    path: events.csv
    columns: { ticket_id: ticket, at: at, field: field, value: value }
calendars:
  paris: { time_zone: Europe/Paris, hours: { mon-fri: "09:00-18:00" } }
business_hours:
  - { channel: email, calendar: paris }
sla:
  first_response:
    - { channel: email, target: 90m, clock: business }
    - { channel: chat, target: 15m }
  next_reply: [{ target: 2h }]
  periodic_update: [{ target: 4h }]
  pausable_update: [{ target: 4h }]
  requester_wait: [{ target: 24h }]
  agent_work: [{ target: 72h }]
  resolution:
    - { target: 3d }
    - { group: g1, target: 68h }
kpis:
  - ticket_volume
  - sla_attainment
  - next_reply_sla_attainment
  - periodic_update_sla_attainment
  - pausable_update_sla_attainment
  - requester_wait_sla_attainment
  - agent_work_sla_attainment
  - resolution_sla_attainment
  - sla_breaches
  - one_touch_resolution_rate
  - two_touch_resolution_rate
  - multi_touch_resolution_rate
  - reassignment_rate
  - assignee_stations
  - { name: agent_work_time, stats: [mean] }
segments:
  all: { by: [], grain: all }
  by_solver: { by: [agent_id], grain: all, credit: solver, kpis: [ticket_volume, one_touch_resolution_rate] }
  by_responder: { by: [agent_id], grain: all, credit: first_responder, kpis: [ticket_volume, next_reply_sla_attainment] }
outputs: { sla: true, tickets: true, replies: true }
min_sample: 1
"#;

fn written(dir: &Path) {
    for (name, text) in
        [("tickets.csv", TICKETS), ("messages.csv", MESSAGES), ("events.csv", EVENTS), ("p.yaml", PIPELINE)]
    {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

fn run(dir: &Path, out: &Path, extra: &[&str]) {
    run_with_env(dir, out, extra, &[]);
}

/// `run`, with environment variables set.
fn run_with_env(dir: &Path, out: &Path, extra: &[&str], env: &[(&str, &str)]) {
    let o = Command::new(env!("CARGO_BIN_EXE_deskpulse"))
        .args(["run", dir.join("p.yaml").to_str().unwrap(), "--out", out.to_str().unwrap()])
        .args(["--as-of", "2026-04-01T00:00:00Z"])
        .args(extra)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{text}");
}

/// (elapsed seconds, breached, breach_at, fulfilled_at, clock) of a ticket's metric instance.
fn instance(
    sla: &DataFrame,
    ticket: &str,
    metric: &str,
    n: i64,
) -> (f64, bool, Option<String>, Option<String>, String) {
    let found = sla
        .clone()
        .lazy()
        .filter(col("ticket_id").eq(lit(ticket)).and(col("metric").eq(lit(metric))).and(col("instance").eq(lit(n))))
        .select([
            col("elapsed_seconds"),
            col("breached"),
            col("breach_at").dt().to_string("%Y-%m-%dT%H:%M"),
            col("fulfilled_at").dt().to_string("%Y-%m-%dT%H:%M"),
            col("clock"),
        ])
        .collect()
        .unwrap();
    assert_eq!(found.height(), 1, "{ticket} {metric} #{n}: {found}");
    let text = |c: &str| found.column(c).unwrap().str().unwrap().get(0).map(str::to_string);
    (
        found.column("elapsed_seconds").unwrap().f64().unwrap().get(0).unwrap(),
        found.column("breached").unwrap().bool().unwrap().get(0).unwrap(),
        text("breach_at"),
        text("fulfilled_at"),
        text("clock").unwrap(),
    )
}

fn at(s: &str) -> Option<String> {
    Some(s.to_string())
}

#[test]
fn every_sla_metric_with_its_breach_instant_worked_out_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    written(dir.path());
    let out = dir.path().join("out");
    run(dir.path(), &out, &[]);
    let sla = read_parquet(&out.join("sla/sla.parquet"));
    // T1's first reply, on the Paris clock: Fri 17:00–18:00 CET and Mon 09:00–10:00 CEST (the private note
    // does not count): 2 business hours against 90 minutes, breached Monday 09:30 CEST = 07:30 UTC.
    assert_eq!(
        instance(&sla, "1", "first_response", 1),
        (2.0 * HOUR, true, at("2026-03-30T07:30"), at("2026-03-30T08:00"), "business".into())
    );
    // T2 was opened by the agent: its first reply is the 10:50 comment, 50 minutes against 15, breached 10:15.
    assert_eq!(
        instance(&sla, "2", "first_response", 1),
        (3000.0, true, at("2026-03-30T10:15"), at("2026-03-30T10:50"), "calendar".into())
    );
    assert_eq!(instance(&sla, "3", "first_response", 1).0, 1800.0);
    // Next replies: T1 customer 09:00 → agent 12:00, 3 h against 2 h (breached 11:00). T2's 10:20 comment
    // answers the agent's opening comment, so no next reply starts; its 11:00 comment is still unanswered at
    // as-of: 37 h, breached at 13:00, not fulfilled.
    assert_eq!(
        instance(&sla, "1", "next_reply", 1),
        (3.0 * HOUR, true, at("2026-03-30T11:00"), at("2026-03-30T12:00"), "calendar".into())
    );
    assert_eq!(
        instance(&sla, "2", "next_reply", 1),
        (37.0 * HOUR, true, at("2026-03-30T13:00"), None, "calendar".into())
    );
    let count = |ticket: &str, metric: &str| {
        sla.clone()
            .lazy()
            .filter(col("ticket_id").eq(lit(ticket)).and(col("metric").eq(lit(metric))))
            .collect()
            .unwrap()
            .height()
    };
    assert_eq!((count("1", "next_reply"), count("2", "next_reply"), count("3", "next_reply")), (1, 1, 0));
    // Periodic updates of T1: 08:00 → 12:00 exactly the 4 h target (met), 12:00 → the solve at 13:00. The
    // pausable one leaves out the pending hour 08:00–09:00: 3 h.
    assert_eq!(
        instance(&sla, "1", "periodic_update", 1),
        (4.0 * HOUR, false, None, at("2026-03-30T12:00"), "calendar".into())
    );
    assert_eq!(instance(&sla, "1", "periodic_update", 2).0, HOUR);
    assert_eq!(instance(&sla, "1", "pausable_update", 1).0, 3.0 * HOUR);
    // T2: its opening comment 10:00 → 10:50, then 10:50 → as-of, 37 h 10 min, breached at 14:50.
    assert_eq!(instance(&sla, "2", "periodic_update", 1).0, 50.0 * 60.0);
    assert_eq!(
        instance(&sla, "2", "periodic_update", 2),
        (37.0 * HOUR + 600.0, true, at("2026-03-30T14:50"), None, "calendar".into())
    );
    // Requester wait of T1: new 5 min + open Fri 16:05 → Mon 08:00 (63 h 55) + open 09:00 → 13:00 (4 h) = 68 h;
    // the 24 h were used by Saturday 16:00. Agent work (new and open) the same 68 h, within 72 h.
    assert_eq!(
        instance(&sla, "1", "requester_wait", 1),
        (68.0 * HOUR, true, at("2026-03-28T16:00"), at("2026-03-30T13:00"), "calendar".into())
    );
    assert_eq!(
        instance(&sla, "1", "agent_work", 1),
        (68.0 * HOUR, false, None, at("2026-03-30T13:00"), "calendar".into())
    );
    // T2 has no history: new all along, 38 h by as-of: requester wait breached (Tuesday 10:00), agent work
    // still within 72 h and not judged yet.
    assert_eq!(
        instance(&sla, "2", "requester_wait", 1),
        (38.0 * HOUR, true, at("2026-03-31T10:00"), None, "calendar".into())
    );
    assert_eq!(instance(&sla, "2", "agent_work", 1), (38.0 * HOUR, false, None, None, "calendar".into()));
    // Resolution: T1 is in group g1, whose rule (68 h) is more specific than the catch-all 3 d: 69 h,
    // breached Monday 12:00.
    assert_eq!(
        instance(&sla, "1", "resolution", 1),
        (69.0 * HOUR, true, at("2026-03-30T12:00"), at("2026-03-30T13:00"), "calendar".into())
    );
    let target = sla
        .clone()
        .lazy()
        .filter(col("ticket_id").eq(lit("3")).and(col("metric").eq(lit("resolution"))))
        .collect()
        .unwrap();
    assert_eq!(target.column("target_seconds").unwrap().f64().unwrap().get(0), Some(3.0 * 24.0 * HOUR));

    let all = read_parquet(&out.join("all.parquet"));
    let value = |kpi: &str| {
        let r = row(&all, &[], None, kpi, "value");
        (r.value, r.numerator, r.denominator)
    };
    // First response per ticket (the catalog's `sla_attainment`): only T3 within its target.
    assert_eq!(value("sla_attainment"), (100.0 / 3.0, Some(1.0), Some(3.0)));
    // Next reply: T1 breached, T2 breached while running: 0 of 2.
    assert_eq!(value("next_reply_sla_attainment"), (0.0, Some(0.0), Some(2.0)));
    // Periodic and pausable: T1 2 met, T2 1 met and 1 breached, T3 (08:30 → solve 09:00) met: 4 of 5.
    assert_eq!(value("periodic_update_sla_attainment"), (80.0, Some(4.0), Some(5.0)));
    assert_eq!(value("pausable_update_sla_attainment"), (80.0, Some(4.0), Some(5.0)));
    // Requester wait: T1 and T2 breached, T3 (1 h) met. Agent work: T1 and T3 met, T2 not judged yet.
    assert_eq!(value("requester_wait_sla_attainment"), (100.0 / 3.0, Some(1.0), Some(3.0)));
    assert_eq!(value("agent_work_sla_attainment"), (100.0, Some(2.0), Some(2.0)));
    // Resolution over resolved tickets: T1 breached its group's 68 h, T3 met.
    assert_eq!(value("resolution_sla_attainment"), (50.0, Some(1.0), Some(2.0)));
    // Breaches among the judged instances: first response 2 (of 3), next reply 2 (of 2), periodic 1 (of 5),
    // pausable 1 (of 5), requester wait 2 (of 3), agent work 0 (of 2), resolution 1 (of 2: T2 still runs).
    let breaches = row(&all, &[], None, "sla_breaches", "value");
    assert_eq!((breaches.value, breaches.n), (9.0, 22));

    // Ticket metrics. Public agent replies: T1 2 (the private note is not one), T2 1 (its opening comment is
    // not a reply), T3 1. Resolved T1 two-touch, T3 one-touch.
    assert_eq!(value("one_touch_resolution_rate"), (50.0, Some(1.0), Some(2.0)));
    assert_eq!(value("two_touch_resolution_rate"), (50.0, Some(1.0), Some(2.0)));
    assert_eq!(value("multi_touch_resolution_rate"), (0.0, Some(0.0), Some(2.0)));
    // T1 went a1 → a2 → a1 (2 stations, 2 reassignments); T3 a3 only.
    assert_eq!(value("reassignment_rate"), (50.0, Some(1.0), Some(2.0)));
    assert_eq!(value("assignee_stations").0, 1.5);
    // Agent work time over solved tickets: T1 68 h, T3 1 h.
    assert_close(row(&all, &[], None, "agent_work_time", "mean").value, (68.0 + 1.0) * HOUR / 2.0, "agent work");

    let tickets = read_parquet(&out.join("tickets/tickets.parquet"));
    let ints = |c: &str| -> Vec<Option<i64>> { tickets.column(c).unwrap().i64().unwrap().iter().collect() };
    let floats = |c: &str| -> Vec<Option<f64>> { tickets.column(c).unwrap().f64().unwrap().iter().collect() };
    assert_eq!(ints("agent_replies"), [Some(2), Some(1), Some(1)]);
    assert_eq!(ints("assignee_stations"), [Some(2), None, Some(1)]);
    assert_eq!(ints("group_stations"), [Some(1), None, Some(0)]);
    assert_eq!(ints("reassignments"), [Some(2), None, Some(0)]);
    // T1: first assigned Fri 16:05 → solved Mon 13:00 = 68 h 55 min; last assigned (a1 again) Mon 10:00 → 3 h.
    assert_eq!(
        floats("first_assignment_to_resolution_seconds"),
        [Some(68.0 * HOUR + 55.0 * 60.0), None, Some(50.0 * 60.0)]
    );
    assert_eq!(floats("last_assignment_to_resolution_seconds"), [Some(3.0 * HOUR), None, Some(50.0 * 60.0)]);
    assert_eq!(floats("agent_work_seconds"), [Some(68.0 * HOUR), None, Some(HOUR)]);
    // Unassigned from the opening to the first assignment: T1 16:00 → 16:05, T3 08:00 → 08:10.
    assert_eq!(floats("unassigned_seconds"), [Some(300.0), None, Some(600.0)]);
    let texts = |c: &str| -> Vec<Option<String>> {
        tickets.column(c).unwrap().str().unwrap().iter().map(|v| v.map(str::to_string)).collect()
    };
    // The export's agent of T1 is a2, but a1 held it when it was solved; T3's export has no agent, the
    // history says a3; T2 is not solved.
    assert_eq!(texts("solver"), [Some("a1".into()), None, Some("a3".into())]);
    assert_eq!(texts("responder"), [Some("ann".into()), Some("cy".into()), Some("ann".into())]);

    // Credit rules: by the solver (the column is `solver`), by the first responder (`responder`).
    let by_solver = read_parquet(&out.join("by_solver.parquet"));
    let volume = |df: &DataFrame, column: &str, who: Option<&str>| {
        row(df, &[(column, who)], None, "ticket_volume", "value").value
    };
    assert_eq!((volume(&by_solver, "solver", Some("a1")), volume(&by_solver, "solver", Some("a3"))), (1.0, 1.0));
    assert_eq!(volume(&by_solver, "solver", None), 1.0);
    assert_eq!(row(&by_solver, &[("solver", Some("a1"))], None, "one_touch_resolution_rate", "value").value, 0.0);
    assert_eq!(row(&by_solver, &[("solver", Some("a3"))], None, "one_touch_resolution_rate", "value").value, 100.0);
    let by_responder = read_parquet(&out.join("by_responder.parquet"));
    assert_eq!(
        (volume(&by_responder, "responder", Some("ann")), volume(&by_responder, "responder", Some("cy"))),
        (2.0, 1.0)
    );
    // Next-reply instances credited to the ticket's first responder: ann's T1 and cy's T2, both breached.
    let cy = row(&by_responder, &[("responder", Some("cy"))], None, "next_reply_sla_attainment", "value");
    assert_eq!((cy.value, cy.denominator), (0.0, Some(1.0)));

    // One row per public agent reply: the ticket's rows count its `agent_replies`, and its first reply's wait
    // is its first response time (T1: Friday 16:00 to Monday 08:00, 64 h).
    let replies = read_parquet(&out.join("replies/replies.parquet"));
    let cols = |c: &str| -> Vec<Option<String>> {
        replies
            .column(c)
            .unwrap()
            .cast(&DataType::String)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect()
    };
    let some = |v: &[&str]| -> Vec<Option<String>> { v.iter().map(|s| Some(s.to_string())).collect() };
    assert_eq!(cols("ticket_id"), some(&["1", "1", "2", "3"]));
    assert_eq!(cols("author_id"), some(&["ann", "bob", "cy", "ann"]));
    let waits: Vec<Option<f64>> = replies.column("wait_seconds").unwrap().f64().unwrap().iter().collect();
    assert_eq!(waits, [Some(64.0 * HOUR), Some(3.0 * HOUR), Some(3000.0), Some(1800.0)]);
    assert_eq!(floats("first_response_seconds"), [Some(64.0 * HOUR), Some(3000.0), Some(1800.0)]);
    assert_eq!(cols("sla_metric"), some(&["first_response", "next_reply", "first_response", "first_response"]));
    assert_eq!(cols("sla_breached"), some(&["true", "true", "true", "false"]));
}

#[test]
fn a_night_that_answers_a_wait_equals_a_full_run() {
    let dir = tempfile::tempdir().unwrap();
    written(dir.path());
    let out = dir.path().join("out");
    run(dir.path(), &out, &[]);
    // The agent answers T2's 11:00 comment on Tuesday at 09:00: its next reply is fulfilled (22 h, breached).
    std::fs::write(
        dir.path().join("messages-2.csv"),
        "ticket,at,role,public,author\n2,2026-03-31T09:00:00Z,agent,true,ann\n",
    )
    .unwrap();
    run(dir.path(), &out, &[]);
    let sla = read_parquet(&out.join("sla/sla.parquet"));
    assert_eq!(
        instance(&sla, "2", "next_reply", 1),
        (22.0 * HOUR, true, at("2026-03-30T13:00"), at("2026-03-31T09:00"), "calendar".into())
    );
    let full = dir.path().join("full");
    run(dir.path(), &full, &["--full"]);
    assert_same_tables(&full, &out, 3);
}

#[test]
fn sla_metrics_without_their_tables_are_located_errors() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "name: x\nsources:\n  t: { table: tickets, path: t.csv, columns: { ticket_id: id, created_at: c } }\n\
                sla:\n  next_reply: [{ target: 1h }]\n  agent_work: [{ target: 1h }]\n\
                kpis: [ticket_volume, sla_breaches]\nsegments: { all: { by: [], grain: all } }\n";
    std::fs::write(dir.path().join("p.yaml"), yaml).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_deskpulse"))
        .args(["validate", dir.path().join("p.yaml").to_str().unwrap(), "--no-data"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stderr).to_string() + &String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(2), "{text}");
    assert!(text.contains("`sla.next_reply` measures a ticket's comments"), "{text}");
    assert!(text.contains("`sla.agent_work` measures a ticket's status history"), "{text}");
    assert!(text.contains("no source feeds the `messages` table") && text.contains(":5:"), "{text}");
    assert!(text.contains("no source feeds the `ticket_events` table") && text.contains(":6:"), "{text}");
}

#[test]
fn a_credit_rule_is_checked_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "name: x\nsources:\n  t: { table: tickets, path: t.csv, columns: { ticket_id: id, created_at: c, agent_id: a } }\n\
                kpis: [ticket_volume]\nsegments:\n  weighted: { by: [agent_id], grain: all, credit: time_weighted }\n  \
                channels: { by: [channel], grain: all, credit: solver }\n";
    std::fs::write(dir.path().join("p.yaml"), yaml).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_deskpulse"))
        .args(["validate", dir.path().join("p.yaml").to_str().unwrap(), "--no-data"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stderr).to_string() + &String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(2), "{text}");
    assert!(text.contains("unknown credit rule `time_weighted`") && text.contains(":6:"), "{text}");
    assert!(text.contains("`outputs.replies`"), "{text}");
    assert!(text.contains("a segment by `agent_id`, and this one has none") && text.contains(":7:"), "{text}");
}

/// A ticket's schedule changes in its history: calendars "early" (08:00–12:00 UTC) and "late" (12:00–20:00 UTC),
/// Monday 5 January 2026. The ticket opens at 09:00 on early, its schedule moves to late at 11:00, the agent
/// answers at 14:00; the first-reply target is 3 business hours.
#[test]
fn a_schedule_change_counts_at_completion_by_default_or_per_schedule() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("t.csv"),
        "id,created,replied,via\n1,2026-01-05T09:00:00Z,2026-01-05T14:00:00Z,email\n",
    )
    .unwrap();
    let events = |schedule: &str| format!("ticket,at,field,value\n1,2026-01-05T11:00:00Z,schedule,{schedule}\n");
    std::fs::write(dir.path().join("e.csv"), events("late")).unwrap();
    let pipeline = |rule: &str| {
        format!(
            "name: schedules\nsources:\n  t: {{ table: tickets, path: t.csv, columns: {{ ticket_id: id, created_at: created, first_response_at: replied, channel: via }} }}\n  \
             e: {{ table: ticket_events, path: e.csv, columns: {{ ticket_id: ticket, at: at, field: field, value: value }} }}\n\
             calendars:\n  early: {{ time_zone: UTC, hours: {{ mon-fri: \"08:00-12:00\" }} }}\n  late: {{ time_zone: UTC, hours: {{ mon-fri: \"12:00-20:00\" }} }}\n\
             business_hours: [{{ channel: email, calendar: early }}]\n{rule}\
             sla:\n  first_response: [{{ target: 3h, clock: business }}]\n\
             kpis: [ticket_volume, sla_breaches]\nsegments: {{ all: {{ by: [], grain: all }} }}\noutputs: {{ sla: true }}\nmin_sample: 1\n"
        )
    };
    let run_with = |rule: &str, out: &str| {
        std::fs::write(dir.path().join("p.yaml"), pipeline(rule)).unwrap();
        let out = dir.path().join(out);
        let o = Command::new(env!("CARGO_BIN_EXE_deskpulse"))
            .args(["run", dir.path().join("p.yaml").to_str().unwrap(), "--out", out.to_str().unwrap()])
            .args(["--as-of", "2026-02-01"])
            .output()
            .unwrap();
        (o, out)
    };
    // Zendesk's rule: the schedule in force at the reply (late) counts for the whole wait: 12:00–14:00, met.
    let (o, out) = run_with("", "zendesk");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let sla = read_parquet(&out.join("sla/sla.parquet"));
    assert_eq!(
        instance(&sla, "1", "first_response", 1),
        (2.0 * HOUR, false, None, at("2026-01-05T14:00"), "business".into())
    );
    // Per schedule: 09:00–11:00 on early, 12:00–14:00 on late: 4 h, the 3 h reached at 13:00.
    let (o, out) = run_with("definitions: { history: { schedule: per_schedule } }\n", "split");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let sla = read_parquet(&out.join("sla/sla.parquet"));
    assert_eq!(
        instance(&sla, "1", "first_response", 1),
        (4.0 * HOUR, true, at("2026-01-05T13:00"), at("2026-01-05T14:00"), "business".into())
    );
    // The rule in force is recorded with the other definitions in the Parquet metadata.
    let bytes = std::fs::read(out.join("all.parquet")).unwrap();
    let needle = b"\"schedule_rule\":\"per_schedule\"";
    assert!(bytes.windows(needle.len()).any(|w| w == needle), "the schedule rule is not in the metadata");
    // A schedule the pipeline does not declare stops the run, naming the file, the ticket and the calendars.
    std::fs::write(dir.path().join("e.csv"), events("night shift")).unwrap();
    let (o, out) = run_with("", "unknown");
    let text = String::from_utf8_lossy(&o.stderr).to_string() + &String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(3), "{text}");
    assert!(text.contains("e.csv") && text.contains("`night shift`") && text.contains("early, late"), "{text}");
    assert!(!out.join("all.csv").exists());
}

/// Ids read as whole numbers sort 9 before 10, their text "10" before "9": tickets, comments and history are
/// walked in one order all the same.
#[test]
fn whole_number_ids_find_their_comments() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.csv"), "id,created\n9.0,2026-01-05T09:00:00Z\n10.0,2026-01-05T09:00:00Z\n")
        .unwrap();
    let messages = "ticket,at,role\n9,2026-01-05T09:00:00Z,customer\n9,2026-01-05T09:10:00Z,agent\n9,2026-01-05T09:20:00Z,customer\n\
                    9,2026-01-05T09:50:00Z,agent\n10,2026-01-05T09:00:00Z,customer\n10,2026-01-05T10:00:00Z,agent\n";
    std::fs::write(dir.path().join("m.csv"), messages).unwrap();
    let yaml = "name: ids\nsources:\n  t: { table: tickets, path: t.csv, columns: { ticket_id: { column: id, integer: true }, created_at: created } }\n  \
                m: { table: messages, path: m.csv, columns: { ticket_id: { column: ticket, integer: true }, created_at: at, author_role: role } }\n\
                sla: { first_response: [{ target: 30m }], next_reply: [{ target: 20m }] }\n\
                kpis: [ticket_volume, next_reply_sla_attainment]\nsegments: { all: { by: [], grain: all } }\noutputs: { sla: true }\nmin_sample: 1\n";
    std::fs::write(dir.path().join("p.yaml"), yaml).unwrap();
    let out = dir.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_deskpulse"))
        .args([
            "run",
            dir.path().join("p.yaml").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--as-of",
            "2026-02-01",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let sla = read_parquet(&out.join("sla/sla.parquet"));
    // Ticket 9: first reply 10 min (met), next reply 09:20 → 09:50, 30 min past 20 (breached 09:40).
    assert_eq!(
        instance(&sla, "9", "first_response", 1),
        (600.0, false, None, at("2026-01-05T09:10"), "calendar".into())
    );
    assert_eq!(
        instance(&sla, "9", "next_reply", 1),
        (1800.0, true, at("2026-01-05T09:40"), at("2026-01-05T09:50"), "calendar".into())
    );
    // Ticket 10: first reply an hour, breached at 09:30.
    assert_eq!(
        instance(&sla, "10", "first_response", 1),
        (3600.0, true, at("2026-01-05T09:30"), at("2026-01-05T10:00"), "calendar".into())
    );
}

/// A night that brings January's tickets walks only the tickets of the parts its touched periods read, and
/// gives what a full run gives (without `outputs.sla`, which lists every instance).
#[test]
fn a_night_walks_only_the_touched_tickets_and_equals_a_full_run() {
    let dir = tempfile::tempdir().unwrap();
    written(dir.path());
    let monthly = PIPELINE
        .replace("grain: all", "grain: month")
        .replace(
            "  all: { by: [], grain: month }",
            "  all: { by: [], grain: month }\n  monthly: { by: [channel], grain: month }",
        )
        .replace("outputs: { sla: true, tickets: true, replies: true }", "outputs: { tickets: true }")
        .replace("path: tickets.csv", "path: tickets*.csv");
    std::fs::write(dir.path().join("p.yaml"), monthly).unwrap();
    let out = dir.path().join("out");
    run(dir.path(), &out, &[]);
    // January: an email ticket answered in 3 business hours (Paris: 09:00 → 12:00 CET), a next reply missed.
    std::fs::write(
        dir.path().join("tickets-jan.csv"),
        "id,created,solved,status,priority,via,group,agent\n4,2026-01-07T08:00:00Z,2026-01-07T16:00:00Z,solved,high,email,g1,a1\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("messages-jan.csv"),
        "ticket,at,role,public,author\n4,2026-01-07T08:00:00Z,customer,true,c4\n4,2026-01-07T11:00:00Z,agent,true,ann\n\
         4,2026-01-07T11:30:00Z,customer,true,c4\n4,2026-01-07T15:00:00Z,agent,true,ann\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_deskpulse"))
        .args(["run", dir.path().join("p.yaml").to_str().unwrap(), "--out", out.to_str().unwrap()])
        .args(["--as-of", "2026-04-01T00:00:00Z"])
        .env("DESKPULSE_TRACE", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{text}");
    // Only January's ticket is walked: the parts the touched month reads hold it alone.
    assert!(text.contains("SLA: walk of 1 tickets"), "{text}");
    let full = dir.path().join("full");
    run(dir.path(), &full, &["--full"]);
    assert_same_tables(&full, &out, 3);
    let monthly = read_parquet(&out.join("monthly.parquet"));
    let jan = [("channel", Some("email"))];
    // Ticket 4's next reply 11:30 → 15:00 is 3.5 h against 2 h: 0 of 1; its first reply 3 business hours > 90 min.
    let next = row(&monthly, &jan, Some("2026-01-01"), "next_reply_sla_attainment", "value");
    assert_eq!((next.value, next.denominator), (0.0, Some(1.0)));
    assert_eq!(row(&monthly, &jan, Some("2026-01-01"), "sla_attainment", "value").value, 0.0);
}

/// The SLA table is written a slice of `created_at` at a time; in slices of one instance (three slices, one
/// per ticket's creation instant) it is the table written whole, byte for byte and row for row.
#[test]
fn the_sla_table_written_in_slices_is_the_table_written_whole() {
    let dir = tempfile::tempdir().unwrap();
    written(dir.path());
    let (whole, sliced) = (dir.path().join("whole"), dir.path().join("sliced"));
    run(dir.path(), &whole, &[]);
    run_with_env(dir.path(), &sliced, &[], &[("DESKPULSE_SLICE_ROWS", "1")]);
    let csv = |d: &Path| std::fs::read_to_string(d.join("sla/sla.csv")).unwrap();
    assert_eq!(csv(&whole), csv(&sliced));
    assert!(csv(&whole).lines().count() > 10, "{}", csv(&whole));
    let (a, b) = (read_parquet(&whole.join("sla/sla.parquet")), read_parquet(&sliced.join("sla/sla.parquet")));
    assert!(a.equals_missing(&b), "{a}\n{b}");
}

/// Two agent replies in the same second, a customer comment between them in the export: a row each, each
/// with its own wait (10:06 → 10:07, 60 s; 10:07 → 10:07, 0 s) and its own next-reply instance, not every
/// pairing of the instant's waits and instances.
#[test]
fn two_replies_in_the_same_second_are_a_row_each() {
    let dir = tempfile::tempdir().unwrap();
    written(dir.path());
    let tickets = format!("{TICKETS}4,2026-03-31T10:00:00Z,,open,normal,chat,g2,a2\n");
    std::fs::write(dir.path().join("tickets.csv"), tickets).unwrap();
    std::fs::write(
        dir.path().join("messages-ties.csv"),
        "ticket,at,role,public,author\n4,2026-03-31T10:00:00Z,customer,true,c4\n4,2026-03-31T10:05:00Z,agent,true,ann\n\
         4,2026-03-31T10:06:00Z,customer,true,c4\n4,2026-03-31T10:07:00Z,agent,true,ann\n\
         4,2026-03-31T10:07:00Z,customer,true,c4\n4,2026-03-31T10:07:00Z,agent,true,bob\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    run(dir.path(), &out, &[]);
    let replies = read_parquet(&out.join("replies/replies.parquet"))
        .lazy()
        .filter(col("ticket_id").eq(lit("4")))
        .sort(["reply"], SortMultipleOptions::default())
        .collect()
        .unwrap();
    let reply: Vec<Option<i64>> = replies.column("reply").unwrap().i64().unwrap().iter().collect();
    assert_eq!(reply, [Some(1), Some(2), Some(3)], "{replies}");
    let waits: Vec<Option<f64>> = replies.column("wait_seconds").unwrap().f64().unwrap().iter().collect();
    assert_eq!(waits, [Some(300.0), Some(60.0), Some(0.0)], "{replies}");
    let instances: Vec<Option<i64>> = replies.column("sla_instance").unwrap().i64().unwrap().iter().collect();
    let metrics = replies.column("sla_metric").unwrap().str().unwrap().clone();
    assert_eq!(metrics.get(0), Some("first_response"), "{replies}");
    assert_eq!(metrics.get(1), Some("next_reply"), "{replies}");
    assert_eq!(metrics.get(2), Some("next_reply"), "{replies}");
    assert!(instances[1].is_some() && instances[2].is_some() && instances[1] != instances[2], "{replies}");
}
