//! Ticket histories (`ticket_events`): Zendesk's wait, hold and resolution measures from status changes,
//! worked out by hand below.

use std::process::{Command, Output};

use crate::common::*;

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

const TICKETS: &str = "id,opened\n1,2026-01-05 09:00:00\n2,2026-01-05 10:00:00\n3,2026-01-06 11:00:00\n";

/// Ticket 1: new 09:00, pending 09:10, open 10:10, hold 11:00, open 11:30, solved 12:00: requester wait
/// 10 + 50 + 30 + 30 min = 7,200 s, agent wait (pending) 3,600 s, on hold 1,800 s, first resolution 3 h.
/// Ticket 2 (its own vendor's names): new 10:00, open 10:30, solved 11:00, reopened (open) the next day at
/// 09:00, "Waiting on customer" 09:30, solved 10:00. Up to the last solve: requester wait 30 + 30 + 30 min
/// = 5,400 s (the solved night counts nowhere), agent wait 1,800 s, no hold; first resolution 1 h, full 24 h.
/// Ticket 3 is never solved: no measures.
const EVENTS: &str = "ticket,at,field,value\n\
1,2026-01-05 09:00:00,status,new\n1,2026-01-05 09:10:00,status,pending\n1,2026-01-05 10:10:00,status,open\n\
1,2026-01-05 11:00:00,status,hold\n1,2026-01-05 11:30:00,status,open\n1,2026-01-05 12:00:00,status,solved\n\
2,2026-01-05 10:00:00,status,New\n2,2026-01-05 10:30:00,status,Open\n2,2026-01-05 11:00:00,status,Solved\n\
2,2026-01-05 10:45:00,priority,high\n2,2026-01-06 09:00:00,status,Open\n\
2,2026-01-06 09:30:00,status,Waiting on customer\n2,2026-01-06 10:00:00,status,Solved\n\
3,2026-01-06 11:00:00,status,new\n3,2026-01-06 11:05:00,status,open\n";

#[test]
fn wait_hold_and_resolution_times_follow_the_status_history() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.csv"), TICKETS).unwrap();
    std::fs::write(dir.path().join("e.csv"), EVENTS).unwrap();
    let yaml = "name: history\nsources:\n  t: { table: tickets, path: t.csv, columns: { ticket_id: id, created_at: opened } }\n  \
                e: { table: ticket_events, path: e.csv, columns: { ticket_id: ticket, at: at, field: field, value: value } }\n\
                definitions:\n  history: { statuses: { \"Waiting on customer\": pending } }\n\
                kpis:\n  - { name: requester_wait_time, stats: [mean] }\n  - { name: agent_wait_time, stats: [mean] }\n  \
                - { name: on_hold_time, stats: [mean] }\n  - { name: first_resolution_time, stats: [mean, p90] }\n  \
                - { name: full_resolution_time, stats: [mean] }\n  - { name: resolution_time, stats: [mean] }\n\
                segments: { all: { by: [], grain: all } }\nmin_sample: 1\noutputs: { tickets: true }\n";
    let path = dir.path().join("pipeline.yaml");
    std::fs::write(&path, yaml).unwrap();
    let out = dir.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_deskpulse"))
        .args(["run", path.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let df = read_parquet(&out.join("all.parquet"));
    let mean = |kpi: &str| row(&df, &[], None, kpi, "mean");
    let requester = mean("requester_wait_time");
    assert_close(requester.value, (7200.0 + 5400.0) / 2.0, "requester wait");
    assert_eq!(requester.n, 2, "two tickets were solved");
    assert_close(mean("agent_wait_time").value, (3600.0 + 1800.0) / 2.0, "agent wait");
    assert_close(mean("on_hold_time").value, (1800.0 + 0.0) / 2.0, "on hold");
    assert_close(mean("first_resolution_time").value, (10_800.0 + 3600.0) / 2.0, "first resolution");
    assert_close(mean("full_resolution_time").value, (10_800.0 + 86_400.0) / 2.0, "full resolution");
    // The ticket export has no solve time: the history's last solve fills `resolved_at` of the tickets
    // solved at their last change, so resolution time is the full resolution time here.
    let resolution = mean("resolution_time");
    assert_eq!(resolution.n, 2, "ticket 3 is not resolved");
    assert_close(resolution.value, (10_800.0 + 86_400.0) / 2.0, "resolution from the history");
    // p90 of 3,600 and 10,800: 3,600 + 0.9 × 7,200.
    assert_close(row(&df, &[], None, "first_resolution_time", "p90").value, 10_080.0, "first resolution p90");
    // `outputs.tickets`: one row per ticket with its measures; ticket 3, never solved, has none.
    let tickets = read_parquet(&out.join("tickets/tickets.parquet"));
    assert_eq!(tickets.height(), 3, "{tickets}");
    let f = |c: &str| -> Vec<Option<f64>> { tickets.column(c).unwrap().f64().unwrap().iter().collect() };
    assert_eq!(f("requester_wait_seconds"), [Some(7200.0), Some(5400.0), None]);
    assert_eq!(f("agent_wait_seconds"), [Some(3600.0), Some(1800.0), None]);
    assert_eq!(f("on_hold_seconds"), [Some(1800.0), Some(0.0), None]);
    assert_eq!(f("first_resolution_seconds"), [Some(10_800.0), Some(3600.0), None]);
    assert_eq!(f("full_resolution_seconds"), [Some(10_800.0), Some(86_400.0), None]);
    // Reopens, counted from the history when the ticket export does not give them: ticket 2 went from
    // Solved back to Open once.
    let reopens: Vec<Option<i64>> = tickets.column("reopens").unwrap().i64().unwrap().iter().collect();
    assert_eq!(reopens, [Some(0), Some(1), Some(0)]);
}

#[test]
fn history_kpis_without_a_ticket_events_source_are_a_located_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.csv"), TICKETS).unwrap();
    let yaml = "name: history\nsources:\n  t: { table: tickets, path: t.csv, columns: { ticket_id: id, created_at: opened } }\n\
                kpis: [on_hold_time]\nsegments: { all: { by: [], grain: all } }\n";
    let path = dir.path().join("pipeline.yaml");
    std::fs::write(&path, yaml).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_deskpulse")).args(["validate", path.to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("KPI `on_hold_time` needs `ticket_events.value`, which no source maps"), "{}", text(&o));
}

/// One ticket, in UTC, with an office open Monday to Friday 09:00–18:00 in Paris, across the weekend of the
/// change to summer time (Sunday 29 March 2026: Paris goes from UTC+1 to UTC+2):
/// created Fri 27 March 07:00 (08:00 in Paris, before opening); pending at 16:00 (17:00 Paris); open Mon 30
/// March 07:30 (09:30 Paris, summer time); hold 08:00; open 09:00; solved 10:00; reopened (open) 14:00;
/// solved 15:00 (17:00 Paris).
/// Elapsed: requester wait (new, open, hold) 9 h + 30 min + 1 h + 1 h + 1 h = 45,000 s; agent wait (pending)
/// Fri 16:00 to Mon 07:30 = 63.5 h = 228,600 s; on hold 3,600 s; first resolution Fri 07:00 to Mon 10:00 =
/// 75 h = 270,000 s; full resolution to Mon 15:00 = 80 h = 288,000 s.
/// Business (Paris hours): new 09:00–17:00 = 8 h, so requester wait 41,400 s; pending Fri 17:00–18:00 and
/// Mon 09:00–09:30 = 5,400 s (with the winter offset Monday's 07:30 would be 08:30 in Paris, before
/// opening: 3,600 s); hold 3,600 s; first resolution Fri 09:00–18:00 + Mon 09:00–12:00 = 43,200 s; full
/// resolution Fri 9 h + Mon 09:00–17:00 = 61,200 s.
#[test]
fn history_times_in_business_hours_across_a_weekend_and_a_dst_change() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.csv"), "id,opened,via\n1,2026-03-27 07:00:00,email\n").unwrap();
    let events = "ticket,at,field,value\n1,2026-03-27 07:00:00,status,new\n1,2026-03-27 16:00:00,status,pending\n\
1,2026-03-30 07:30:00,status,open\n1,2026-03-30 08:00:00,status,hold\n1,2026-03-30 09:00:00,status,open\n\
1,2026-03-30 10:00:00,status,solved\n1,2026-03-30 14:00:00,status,open\n1,2026-03-30 15:00:00,status,solved\n";
    std::fs::write(dir.path().join("e.csv"), events).unwrap();
    let mut kpis = String::new();
    for k in ["requester_wait_time", "agent_wait_time", "on_hold_time", "first_resolution_time"] {
        kpis.push_str(&format!(
            "  - {{ name: {k}, stats: [mean] }}\n  - {{ name: {k}, as: {k}_business, clock: business, stats: [mean] }}\n"
        ));
    }
    let yaml = format!(
        "name: history\nsources:\n  t: {{ table: tickets, path: t.csv, columns: {{ ticket_id: id, created_at: opened, \
         channel: via }} }}\n  e: {{ table: ticket_events, path: e.csv, columns: {{ ticket_id: ticket, at: at, field: \
         field, value: value }} }}\ncalendars:\n  office: {{ time_zone: Europe/Paris, hours: {{ mon-fri: \
         \"09:00-18:00\" }} }}\nbusiness_hours: [{{ calendar: office }}]\nkpis:\n{kpis}segments: {{ all: {{ by: [], \
         grain: all }} }}\nmin_sample: 1\noutputs: {{ tickets: true }}\n"
    );
    let path = dir.path().join("pipeline.yaml");
    std::fs::write(&path, yaml).unwrap();
    let out = dir.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_deskpulse"))
        .args(["run", path.to_str().unwrap(), "--out", out.to_str().unwrap(), "--as-of", "2026-04-01"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let df = read_parquet(&out.join("all.parquet"));
    let mean = |kpi: &str| row(&df, &[], None, kpi, "mean").value;
    let expected = [
        ("requester_wait_time", 45_000.0, 41_400.0),
        ("agent_wait_time", 228_600.0, 5_400.0),
        ("on_hold_time", 3_600.0, 3_600.0),
        ("first_resolution_time", 270_000.0, 43_200.0),
    ];
    for (kpi, wall, business) in expected {
        assert_close(mean(kpi), wall, kpi);
        assert_close(mean(&format!("{kpi}_business")), business, &format!("{kpi} in business hours"));
    }
    let tickets = read_parquet(&out.join("tickets/tickets.parquet"));
    let f = |c: &str| tickets.column(c).unwrap().f64().unwrap().get(0);
    assert_eq!(f("full_resolution_seconds"), Some(288_000.0));
    assert_eq!(f("full_resolution_business_seconds"), Some(61_200.0));
    assert_eq!(tickets.column("reopens").unwrap().i64().unwrap().get(0), Some(1));
}
