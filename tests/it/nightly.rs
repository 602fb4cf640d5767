//! Nightly runs through the store: whatever files are added, changed or deleted between runs, a run that
//! reuses the store writes the same bytes as a full run; backfills replace exactly their periods; a lock
//! stops a second run; a killed run leaves the previous outputs and store usable; run records add up.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::common::*;

fn deskpulse(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deskpulse")).args(args).output().expect("binary runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// `deskpulse run PIPELINE --out OUT --as-of AS_OF`, then `extra` (`--full`, `--from`…).
fn run_at(pipeline: &Path, out: &Path, as_of: &str, extra: &[&str]) -> Output {
    let mut args = vec!["run", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap(), "--as-of", as_of];
    args.extend(extra);
    deskpulse(&args)
}

/// Output files (not the run records or the store), relative, with their bytes.
fn outputs(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<(PathBuf, Vec<u8>)> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(dir).unwrap().to_path_buf())
        .filter(|p| {
            let first = p.iter().next().map(|c| c.to_string_lossy().into_owned()).unwrap_or_default();
            !["_runs", "_store", ".deskpulse.lock"].contains(&first.as_str()) && !first.starts_with(".deskpulse-work-")
        })
        .map(|p| {
            let bytes = std::fs::read(dir.join(&p)).unwrap();
            (p, bytes)
        })
        .collect();
    out.sort();
    out
}

fn assert_same_outputs(a: &Path, b: &Path, what: &str) {
    let (x, y) = (outputs(a), outputs(b));
    let names = |v: &[(PathBuf, Vec<u8>)]| v.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&x), names(&y), "{what}: the same files");
    for ((name, bytes), (_, other)) in x.iter().zip(&y) {
        assert!(bytes == other, "{what}: {} differs", name.display());
    }
}

/// A pipeline over `tickets/*.csv`, `surveys/*.csv` and `accounts.csv`: volume, times, rates, backlog by
/// sector and week, a quarterly table, and accounts compared with their peers (`with_messages` adds a
/// message log).
const PIPELINE: &str = "name: nightly
sources:
  tickets:
    table: tickets
    path: tickets/*.csv
    on_error: quarantine
    columns: { ticket_id: id, created_at: created, resolved_at: solved, channel: channel, account_id: account }
  surveys:
    table: surveys
    path: surveys/*.csv
    columns: { survey_id: id, ticket_id: ticket, kind: { constant: csat }, score: score, submitted_at: at }
  accounts:
    table: accounts
    path: accounts.csv
    columns: { account_id: id, sector: sector }
kpis: [ticket_volume, resolution_time, resolution_rate, backlog, csat, survey_response_rate]
min_sample: 2
# Random steps may leave every survey rating a ticket no file holds (quarantined as orphan_ticket_id).
allow_empty: true
# The files hold repeated ids and orphans on purpose: more than the default 5 % of a table may be quarantined.
max_rejected_share: 1
segments:
  sector_week: { by: [sector], grain: week }
  channel_quarter: { by: [channel], grain: quarter }
  overall: { by: [], grain: all }
  channel_month: { by: [channel], grain: month, kpis: [ticket_volume, resolution_time, resolution_rate, csat, survey_response_rate] }
  sector_day: { by: [sector], grain: day, kpis: [ticket_volume, csat] }
  account_month: { by: [sector, account_id], grain: month, kpis: [ticket_volume, resolution_time, csat] }
# Peer comparisons: each account against the others of its sector in the same period.
benchmarks: { min_peers: 2 }
";

/// A linear congruential generator started from `seed`: `next(n)` draws a number below `n`. Each file kind
/// has its own constants, so that its draws do not follow another kind's.
fn lcg(seed: u64, mul: u64, add: u64) -> impl FnMut(u64) -> u64 {
    let mut x = seed.wrapping_mul(mul).wrapping_add(add);
    move |n| {
        x = x.wrapping_mul(mul).wrapping_add(add);
        (x >> 33) % n
    }
}

/// `rows` CSAT answers drawn from `seed`, rating tickets with shared ids (so that they link across files).
fn surveys_csv(seed: u64, rows: usize) -> String {
    let mut next = lcg(seed, 2862933555777941757, 3037000493);
    let mut csv = String::from("id,ticket,score,at\n");
    for i in 0..rows {
        let id = if next(8) == 0 { format!("shared-s{}", next(3)) } else { format!("s{seed}-{i}") };
        let day = jiff::civil::date(2026, 1, 1).checked_add(jiff::Span::new().days(next(180) as i64)).unwrap();
        csv.push_str(&format!("{id},shared-{},{},{day}T12:00:00Z\n", next(5), 1 + next(5)));
    }
    csv
}

/// `rows` messages drawn from `seed`, of the first file's tickets and the shared ids (and now and then of no
/// ticket): customer and agent messages, public and private, many in the same second, so that a new file
/// changes its tickets' first responses, replies and reply waits.
fn messages_csv(seed: u64, rows: usize) -> String {
    let mut next = lcg(seed, 3202034522624059733, 4354685564936845319);
    let mut csv = String::from("ticket,at,role,author,public\n");
    for _ in 0..rows {
        let ticket = match next(12) {
            0 => "orphan".to_string(),
            1..=4 => format!("shared-{}", next(5)),
            _ => format!("t1-{}", next(30)),
        };
        let day = jiff::civil::date(2026, 1, 1).checked_add(jiff::Span::new().days(next(200) as i64)).unwrap();
        let (role, public) = (["customer", "agent", "agent"][next(3) as usize], next(5) != 0);
        csv.push_str(&format!("{ticket},{day}T{:02}:00:{:02}Z,{role},ag{},{public}\n", next(24), next(3), next(3)));
    }
    csv
}

/// `rows` tickets drawn from `seed`: dates in the first half of 2026, some unresolved, a few ids that
/// other files may hold too (settled across the store's parts), now and then a malformed line or an
/// account that does not exist. Files of seeds ending in 0 to 5 hold one month each, as monthly exports
/// do (a night then reads only some parts), the others the whole half-year.
fn tickets_csv(seed: u64, rows: usize) -> String {
    let (first_day, days) = match seed % 10 {
        m @ 0..=5 => ([0, 31, 59, 90, 120, 151][m as usize], 28),
        _ => (0, 180),
    };
    let mut next = lcg(seed, 6364136223846793005, 1442695040888963407);
    let mut csv = String::from("id,created,solved,channel,account\n");
    for i in 0..rows {
        let id = if next(10) == 0 { format!("shared-{}", next(5)) } else { format!("t{seed}-{i}") };
        let (day, hour) = (first_day + next(days), next(24));
        let created = jiff::civil::date(2026, 1, 1).checked_add(jiff::Span::new().days(day as i64)).unwrap();
        let solved = match next(4) {
            0 => String::new(),
            _ => {
                format!("{}T{:02}:30:00Z", created.checked_add(jiff::Span::new().days(next(20) as i64)).unwrap(), hour)
            },
        };
        let channel = ["email", "chat", "phone"][next(3) as usize];
        if next(25) == 0 {
            csv.push_str("broken,line\n");
            continue;
        }
        let account = if next(30) == 0 { "nowhere".to_string() } else { format!("a{}", next(4)) };
        csv.push_str(&format!("{id},{created}T{hour:02}:00:00Z,{solved},{channel},{account}\n"));
    }
    csv
}

fn setup() -> tempfile::TempDir {
    setup_with("single")
}

/// `setup` with `outputs.layout: LAYOUT`.
fn setup_with(layout: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tickets")).unwrap();
    std::fs::create_dir(dir.path().join("surveys")).unwrap();
    std::fs::write(dir.path().join("surveys/first.csv"), surveys_csv(1, 10)).unwrap();
    std::fs::write(dir.path().join("accounts.csv"), "id,sector\na0,Retail\na1,Retail\na2,SaaS\na3,Health\n").unwrap();
    std::fs::write(dir.path().join("pipeline.yaml"), format!("{PIPELINE}outputs:\n  layout: {layout}\n")).unwrap();
    dir
}

/// `setup_with(layout)` with a message log (`messages/*.csv`): tickets take their first response and replies
/// from it, and the segments compute first response, next reply time and exchanges per resolution.
fn setup_with_messages(layout: &str) -> tempfile::TempDir {
    let dir = setup_with(layout);
    std::fs::create_dir(dir.path().join("messages")).unwrap();
    std::fs::write(dir.path().join("messages/first.csv"), messages_csv(1, 20)).unwrap();
    let pipeline = dir.path().join("pipeline.yaml");
    let yaml = std::fs::read_to_string(&pipeline).unwrap();
    let source = "  messages:\n    table: messages\n    path: messages/*.csv\n    columns: { ticket_id: ticket, \
                  created_at: at, author_role: role, author_id: author, is_public: public }\n  accounts:";
    let yaml = yaml
        .replace("  accounts:", source)
        .replace(
            "survey_response_rate]\nmin_sample",
            "survey_response_rate, first_response_time, next_reply_time, \
                  exchanges_per_resolution]\nmin_sample",
        )
        .replace("csat, survey_response_rate] }", "csat, survey_response_rate, next_reply_time] }");
    assert!(yaml.contains("next_reply_time] }") && yaml.contains("table: messages"));
    std::fs::write(&pipeline, yaml).unwrap();
    dir
}

/// A night that deletes a ticket file, with a message log, leaving only a malformed line: no ticket is kept,
/// the backlog has no period (it failed with an internal error, "empty container given"), and the night's
/// outputs are still those of a full run.
#[test]
fn a_deleted_ticket_file_with_a_message_log_equals_a_full_run() {
    let dir = setup_with_messages("single");
    let pipeline = dir.path().join("pipeline.yaml");
    let (inc, full) = (dir.path().join("inc"), dir.path().join("full"));
    let mut counter = 0;
    for step in [Step::Add { seed: 1, rows: 30 }, Step::Add { seed: 0, rows: 1 }, Step::Delete { which: 0 }] {
        apply(dir.path(), &step, &mut counter);
        let o = run_at(&pipeline, &inc, "2026-08-01", &[]);
        assert!(o.status.success(), "{step:?}: {}", text(&o));
    }
    assert!(run_at(&pipeline, &full, "2026-08-01", &["--full"]).status.success());
    assert_same_outputs(&inc, &full, "after a deleted file");
}

/// A night that brings only a message file recomputes the periods of the tickets it talks about, not all of
/// them, and writes what a full run writes.
#[test]
fn a_new_message_file_recomputes_its_tickets_periods() {
    let dir = setup_with_messages("single");
    let pipeline = dir.path().join("pipeline.yaml");
    let (inc, full) = (dir.path().join("inc"), dir.path().join("full"));
    let mut counter = 0;
    apply(dir.path(), &Step::Add { seed: 1, rows: 30 }, &mut counter);
    assert!(run_at(&pipeline, &inc, "2026-08-01", &[]).status.success());
    // Replies to two of the first file's tickets (t1-3 and t1-4), on a day of their own.
    let log = "ticket,at,role,author,public\nt1-3,2026-03-02T10:00:00Z,agent,ag1,true\n\
               t1-4,2026-03-02T11:00:00Z,customer,,true\nt1-4,2026-03-02T11:05:00Z,agent,ag2,true\n";
    std::fs::write(dir.path().join("messages/late.csv"), log).unwrap();
    let o = run_at(&pipeline, &inc, "2026-08-01", &[]);
    assert!(o.status.success(), "{}", text(&o));
    let r = deskpulse::exec::run_records(&inc).unwrap().pop().unwrap();
    let recomputed: std::collections::BTreeMap<String, String> = r.periods_recomputed.into_iter().collect();
    for segment in ["sector_week", "channel_month"] {
        let how = &recomputed[segment];
        assert!(how.ends_with("period(s) new data touched") && !how.starts_with('0'), "{segment}: {how}");
    }
    assert!(run_at(&pipeline, &full, "2026-08-01", &["--full"]).status.success());
    assert_same_outputs(&inc, &full, "after a message file");
}

#[derive(Clone, Debug)]
enum Step {
    Add {
        seed: u64,
        rows: usize,
    },
    /// A new file of survey answers.
    AddSurveys {
        seed: u64,
        rows: usize,
    },
    /// A new file of messages.
    AddMessages {
        seed: u64,
        rows: usize,
    },
    Change {
        which: usize,
        seed: u64,
    },
    Delete {
        which: usize,
    },
    /// A new modification time, the same bytes.
    Touch {
        which: usize,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..1_000u64, 1..40usize).prop_map(|(seed, rows)| Step::Add { seed, rows }),
        2 => (0..10usize, 0..1_000u64).prop_map(|(which, seed)| Step::Change { which, seed }),
        1 => (0..10usize).prop_map(|which| Step::Delete { which }),
        1 => (0..10usize).prop_map(|which| Step::Touch { which }),
        2 => (0..1_000u64, 1..15usize).prop_map(|(seed, rows)| Step::AddSurveys { seed, rows }),
        2 => (0..1_000u64, 1..25usize).prop_map(|(seed, rows)| Step::AddMessages { seed, rows }),
    ]
}

fn apply(dir: &Path, step: &Step, counter: &mut usize) {
    let tickets = dir.join("tickets");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&tickets).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let pick = |which: usize| files.get(which % files.len().max(1)).cloned();
    match step {
        Step::Add { seed, rows } => {
            *counter += 1;
            std::fs::write(tickets.join(format!("day-{counter:03}.csv")), tickets_csv(*seed, *rows)).unwrap();
        },
        Step::Change { which, seed } => {
            if let Some(f) = pick(*which) {
                std::fs::write(f, tickets_csv(*seed + 7, 15)).unwrap();
            }
        },
        Step::Delete { which } => {
            if let Some(f) = pick(*which) {
                std::fs::remove_file(f).unwrap();
            }
        },
        Step::AddSurveys { seed, rows } => {
            *counter += 1;
            std::fs::write(dir.join(format!("surveys/answers-{counter:03}.csv")), surveys_csv(*seed, *rows)).unwrap();
        },
        Step::AddMessages { seed, rows } => {
            *counter += 1;
            std::fs::write(dir.join(format!("messages/log-{counter:03}.csv")), messages_csv(*seed, *rows)).unwrap();
        },
        Step::Touch { which } => {
            if let Some(f) = pick(*which) {
                let bytes = std::fs::read(&f).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(5));
                std::fs::write(&f, bytes).unwrap();
            }
        },
    }
}

#[test]
fn incremental_runs_equal_full_runs_after_any_sequence_of_file_changes() {
    incremental_runs_equal_full_runs("single", 12);
}

/// With `hive`, a night rewrites only the partitions of the periods it recomputes and keeps the others.
#[test]
fn incremental_hive_runs_equal_full_runs_after_any_sequence_of_file_changes() {
    incremental_runs_equal_full_runs("hive", 8);
}

fn incremental_runs_equal_full_runs(layout: &str, cases: u32) {
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    runner
        .run(&proptest::collection::vec(step(), 6..10), |steps| {
            let dir = setup_with_messages(layout);
            let pipeline = dir.path().join("pipeline.yaml");
            let (inc, full) = (dir.path().join("inc"), dir.path().join("full"));
            let mut counter = 0;
            // Always something to read: the first night's file.
            apply(dir.path(), &Step::Add { seed: 1, rows: 30 }, &mut counter);
            for (i, s) in steps.iter().enumerate() {
                apply(dir.path(), s, &mut counter);
                let any = std::fs::read_dir(dir.path().join("tickets")).unwrap().next().is_some();
                let o = run_at(&pipeline, &inc, "2026-08-01", &[]);
                if !any {
                    prop_assert_eq!(o.status.code(), Some(3), "no file left: {}", text(&o));
                    continue;
                }
                prop_assert!(o.status.success(), "step {i} {s:?}: {}", text(&o));
                let _ = std::fs::remove_dir_all(&full);
                let f = run_at(&pipeline, &full, "2026-08-01", &["--full"]);
                prop_assert!(f.status.success(), "full run at step {i}: {}", text(&f));
                assert_same_outputs(&inc, &full, &format!("after step {i} {s:?} of {steps:?}"));
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_run_with_nothing_new_keeps_the_outputs_and_a_touched_file_reuses_its_part() {
    let dir = setup();
    let mut counter = 0;
    apply(dir.path(), &Step::Add { seed: 3, rows: 40 }, &mut counter);
    apply(dir.path(), &Step::Add { seed: 4, rows: 40 }, &mut counter);
    let pipeline = dir.path().join("pipeline.yaml");
    let out = dir.path().join("out");
    let run = || run_at(&pipeline, &out, "2026-08-01", &[]);
    let first = run();
    assert!(first.status.success(), "{}", text(&first));
    assert!(text(&first).contains("4 file(s) staged, 0 reused"), "{}", text(&first));
    let second = run();
    assert!(text(&second).contains("0 file(s) staged, 4 reused; nothing changed since run"), "{}", text(&second));
    apply(dir.path(), &Step::Touch { which: 0 }, &mut counter);
    let third = run();
    // The touched file is read again, hashes the same, and makes the same part: nothing to recompute.
    assert!(text(&third).contains("1 file(s) staged, 3 reused; nothing changed since run"), "{}", text(&third));
    let store = deskpulse(&["store", out.to_str().unwrap()]);
    assert!(text(&store).contains("tickets: 2 file(s)"), "{}", text(&store));
}

#[test]
fn run_records_add_up() {
    let dir = setup();
    let mut counter = 0;
    apply(dir.path(), &Step::Add { seed: 9, rows: 60 }, &mut counter);
    let pipeline = dir.path().join("pipeline.yaml");
    let out = dir.path().join("out");
    let o = run_at(&pipeline, &out, "2026-08-01", &[]);
    assert!(o.status.success(), "{}", text(&o));
    let records = deskpulse::exec::run_records(&out).unwrap();
    let r = records.last().unwrap();
    assert_eq!((r.status.as_str(), r.exit_code, r.files_staged), ("ok", 0, 3));
    let tickets = r.tables.iter().find(|t| t.table == "tickets").unwrap();
    assert_eq!(tickets.read, tickets.kept + tickets.rejected + tickets.superseded);
    // Every ticket line of the file is read: 60 records (the malformed among them quarantined).
    assert_eq!(tickets.read, 60);
    let rejected = read_parquet(&out.join("_rejected/tickets.parquet"));
    assert_eq!(rejected.height() as u64, tickets.rejected);
    for output in &r.outputs {
        let df = read_parquet(&out.join(format!("{}.parquet", output.name)));
        assert_eq!(df.height(), output.rows, "{}", output.name);
    }
    assert!(r.seconds.iter().any(|(stage, _)| stage == "sources read and staged"));
    let json = deskpulse(&["runs", out.to_str().unwrap(), "--format", "json"]);
    assert!(json.status.success() && text(&json).contains(&r.run_id));
}

#[test]
fn a_backfill_replaces_exactly_its_periods() {
    let dir = setup();
    let mut counter = 0;
    apply(dir.path(), &Step::Add { seed: 21, rows: 200 }, &mut counter);
    let pipeline = dir.path().join("pipeline.yaml");
    let out = dir.path().join("out");
    let run = |extra: &[&str]| run_at(&pipeline, &out, "2026-08-01", extra);
    assert!(run(&[]).status.success());
    let before = read_parquet(&out.join("sector_week.parquet"));
    // New tickets in February and in May; the backfill covers February only.
    std::fs::write(
        dir.path().join("tickets/late.csv"),
        "id,created,solved,channel,account\nlate-1,2026-02-10T10:00:00Z,,email,a0\nlate-2,2026-05-12T10:00:00Z,,chat,a2\n",
    )
    .unwrap();
    let o = run(&["--from", "2026-02-01", "--to", "2026-03-01"]);
    assert!(o.status.success(), "{}", text(&o));
    let after = read_parquet(&out.join("sector_week.parquet"));
    let full_dir = dir.path().join("full");
    let f = run_at(&pipeline, &full_dir, "2026-08-01", &[]);
    assert!(f.status.success());
    let full = read_parquet(&full_dir.join("sector_week.parquet"));
    // Weeks starting in February are the full run's; the others are the earlier run's, in the table's order.
    use polars::prelude::*;
    let in_feb = col("period_start")
        .gt_eq(lit("2026-02-01").str().to_date(StrptimeOptions::default()))
        .and(col("period_start").lt(lit("2026-03-01").str().to_date(StrptimeOptions::default())));
    let part = |df: &DataFrame, inside: bool| {
        let keep = if inside { in_feb.clone() } else { in_feb.clone().not() };
        df.clone().lazy().filter(keep).collect().unwrap()
    };
    assert!(part(&after, true).equals_missing(&part(&full, true)), "February as a full run computes it");
    assert!(part(&after, false).equals_missing(&part(&before, false)), "the other weeks as they were");
    assert!(!part(&after, true).equals_missing(&part(&before, true)), "the late ticket changed February");
    assert_ne!(after, full, "May's new ticket is not in the backfilled table");
    // The next ordinary run recomputes everything.
    let o = run(&[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_same_outputs(&out, &full_dir, "the run after a backfill");
}

#[test]
fn a_second_run_on_a_held_directory_stops_with_the_lock_error() {
    let dir = setup();
    let mut counter = 0;
    apply(dir.path(), &Step::Add { seed: 5, rows: 10 }, &mut counter);
    let out = dir.path().join("out");
    let held = deskpulse::sink::lock::Lock::acquire(&out).unwrap();
    let pipeline = dir.path().join("pipeline.yaml");
    let o = deskpulse(&["run", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    assert!(text(&o).contains(&format!("process {}", std::process::id())), "{}", text(&o));
    drop(held);
    let o = deskpulse(&["run", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn a_killed_run_leaves_the_previous_outputs_and_the_next_run_equals_a_full_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("g");
    assert!(deskpulse(&["generate", "--tickets", "300000", "--seed", "2", "--out", dump.to_str().unwrap()])
        .status
        .success());
    let pipeline = dump.join("pipeline.yaml");
    let out = tmp.path().join("out");
    let first = run_at(&pipeline, &out, "2026-01-01", &[]);
    assert!(first.status.success(), "{}", text(&first));
    let before = outputs(&out);
    for delay_ms in [150, 500, 900] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_deskpulse"))
            .args([
                "run",
                pipeline.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--as-of",
                "2026-01-01",
                "--full",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        assert!(outputs(&out) == before, "a run killed after {delay_ms} ms changed the outputs");
        let store = deskpulse(&["store", out.to_str().unwrap()]);
        assert!(store.status.success(), "the store is readable after a kill: {}", text(&store));
    }
    let next = run_at(&pipeline, &out, "2026-01-01", &[]);
    assert!(next.status.success(), "{}", text(&next));
    let full = tmp.path().join("full");
    let f = run_at(&pipeline, &full, "2026-01-01", &["--full"]);
    assert!(f.status.success());
    assert_same_outputs(&out, &full, "after kills");
}

#[test]
fn a_damaged_store_is_repaired_and_a_changed_mapping_restaged() {
    let dir = setup();
    let mut counter = 0;
    apply(dir.path(), &Step::Add { seed: 12, rows: 50 }, &mut counter);
    let pipeline = dir.path().join("pipeline.yaml");
    let out = dir.path().join("out");
    let run = |extra: &[&str]| run_at(&pipeline, &out, "2026-08-01", extra);
    assert!(run(&[]).status.success());
    let full = dir.path().join("full");
    let f = run_at(&pipeline, &full, "2026-08-01", &["--full"]);
    assert!(f.status.success());
    // A part cut short: staged again, same outputs.
    let part = walkdir::WalkDir::new(out.join("_store/parts/tickets"))
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .unwrap();
    let bytes = std::fs::read(&part).unwrap();
    std::fs::write(&part, &bytes[..bytes.len() / 2]).unwrap();
    let o = run(&[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("1 part(s) of the store were missing or cut short"), "{}", text(&o));
    assert_same_outputs(&out, &full, "after a truncated part");
    // The parts' id files cut short or overwritten: computed again from their parts, same outputs.
    let id_files: Vec<PathBuf> = walkdir::WalkDir::new(out.join("_store/parts"))
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|p| p.to_string_lossy().ends_with(".ids"))
        .collect();
    assert!(id_files.len() >= 3, "tickets, surveys and accounts have id files: {id_files:?}");
    for (i, file) in id_files.iter().enumerate() {
        let bytes = std::fs::read(file).unwrap();
        let damaged = if i % 2 == 0 { bytes[..bytes.len() - 3].to_vec() } else { b"DPIDS001 but garbage".to_vec() };
        std::fs::write(file, damaged).unwrap();
    }
    apply(dir.path(), &Step::Add { seed: 13, rows: 20 }, &mut counter);
    let o = run(&[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(run_at(&pipeline, &full, "2026-08-01", &["--full"]).status.success());
    assert_same_outputs(&out, &full, "after damaged id files");
    for file in &id_files {
        let bytes = std::fs::read(file).unwrap();
        assert!(bytes.starts_with(b"DPIDS001") && (bytes.len() - 24) % 8 == 0, "{} written again", file.display());
    }
    // A manifest that does not parse: every file staged again.
    std::fs::write(out.join("_store/manifest.json"), "{ not json").unwrap();
    let o = run(&[]);
    assert!(o.status.success() && text(&o).contains("store not reused: its manifest does not parse"), "{}", text(&o));
    assert_same_outputs(&out, &full, "after a broken manifest");
    // A changed mapping: refused with --no-restage, staged again without.
    std::fs::write(
        &pipeline,
        PIPELINE.replace("channel: channel,", "channel: { column: channel, map: { chat: messaging } },"),
    )
    .unwrap();
    let o = run(&["--no-restage"]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(text(&o).contains("the mapping of source(s) tickets changed"), "{}", text(&o));
    let o = run(&[]);
    assert!(o.status.success() && text(&o).contains("source `tickets`: its mapping changed"), "{}", text(&o));
    let csv = std::fs::read_to_string(out.join("channel_quarter.csv")).unwrap();
    assert!(csv.contains("messaging") && !csv.contains("chat"), "the new mapping is used");
}

#[test]
fn logs_are_json_lines_a_scheduler_can_ship() {
    let dir = setup();
    let mut counter = 0;
    apply(dir.path(), &Step::Add { seed: 8, rows: 20 }, &mut counter);
    let pipeline = dir.path().join("pipeline.yaml");
    let out = dir.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_deskpulse"))
        .args(["run", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet", "--log-format", "json"])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(o.stdout.is_empty(), "--quiet prints nothing on stdout");
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&o.stderr).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert!(lines.iter().any(|l| l["event"] == "stage" && l["stage"] == "sources read and staged"));
    assert!(lines.iter().any(|l| l["event"] == "stage" && l["stage"] == "segment sector_week"));
    let done = lines.iter().find(|l| l["event"] == "done").expect("a done line");
    assert_eq!(done["files_staged"], 3);
    // An error is one JSON line too, with the pipeline's line.
    std::fs::write(&pipeline, PIPELINE.replace("grain: week", "grain: weekly")).unwrap();
    let o = deskpulse(&["validate", pipeline.to_str().unwrap(), "--log-format", "json"]);
    let line: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&o.stderr).trim()).unwrap();
    assert_eq!(line["exit_code"], 2);
    assert!(line["message"].as_str().unwrap().contains("pipeline.yaml:23:39: unknown grain `weekly`"), "{line}");
    // Without RUST_LOG, nothing but the report.
    let o = deskpulse(&["run", dir.path().join("none.yaml").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_new_file_recomputes_only_the_periods_it_touches() {
    new_file_recomputes_only_the_periods_it_touches("single");
}

#[test]
fn a_new_file_rewrites_only_the_hive_partitions_it_touches() {
    let out = new_file_recomputes_only_the_periods_it_touches("hive");
    // The night rewrote March of channel_month, and left January and its peers' tables as they were.
    let stamp = |relative: &str| std::fs::metadata(out.path().join("out").join(relative)).unwrap().modified().unwrap();
    let night = stamp("channel_month/period_start=2026-03-01/part-0.parquet");
    assert!(stamp("channel_month/period_start=2026-01-01/part-0.parquet") < night);
    assert!(stamp("benchmarks/account_month/period_start=2026-01-01/part-0.parquet") < night);
}

/// Returns the folder (the outputs in `out/`).
fn new_file_recomputes_only_the_periods_it_touches(layout: &str) -> tempfile::TempDir {
    let dir = setup_with(layout);
    let mut counter = 0;
    apply(dir.path(), &Step::Add { seed: 36, rows: 120 }, &mut counter);
    let pipeline = dir.path().join("pipeline.yaml");
    let out = dir.path().join("out");
    let run = |out: &Path, full: bool| run_at(&pipeline, out, "2026-08-01", if full { &["--full"] } else { &[] });
    assert!(run(&out, false).status.success());
    // One new ticket in March, rated by a survey in April.
    std::fs::write(
        dir.path().join("tickets/late.csv"),
        "id,created,solved,channel,account\nlate-1,2026-03-10T10:00:00Z,2026-03-11T10:00:00Z,email,a0\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("surveys/late.csv"), "id,ticket,score,at\nlate-s,late-1,5,2026-04-02T12:00:00Z\n")
        .unwrap();
    let o = run(&out, false);
    assert!(o.status.success(), "{}", text(&o));
    let r = deskpulse::exec::run_records(&out).unwrap().pop().unwrap();
    let recomputed: std::collections::BTreeMap<String, String> = r.periods_recomputed.into_iter().collect();
    // March and April of channel_month; 10 March and 2 April of sector_day; the `all` grain whole.
    assert_eq!(recomputed["channel_month"], "2 period(s) new data touched");
    assert_eq!(recomputed["sector_day"], "2 period(s) new data touched");
    // The backlog's weeks from the new ticket's (9 March) to the last week a ticket was created in (the
    // file's last, 29 June): 17.
    assert_eq!(recomputed["sector_week"], "17 period(s) new data touched");
    assert_eq!(recomputed["overall"], "all");
    let full = dir.path().join("full");
    assert!(run(&full, true).status.success());
    assert_same_outputs(&out, &full, "after a partial recompute");
    dir
}

#[test]
fn rows_the_moving_plausible_range_lets_in_are_recomputed() {
    // Without SLA targets, --as-of moves only the plausible range's end (the day after it): a ticket dated
    // 2027-01-15 is implausible on 2027-01-01 and counts on 2027-02-01.
    let dir = setup();
    let mut counter = 0;
    apply(dir.path(), &Step::Add { seed: 41, rows: 60 }, &mut counter);
    std::fs::write(
        dir.path().join("tickets/future.csv"),
        "id,created,solved,channel,account\nf-1,2027-01-15T10:00:00Z,,email,a0\n",
    )
    .unwrap();
    let pipeline = dir.path().join("pipeline.yaml");
    let run = |out: &Path, as_of: &str, full: bool| run_at(&pipeline, out, as_of, if full { &["--full"] } else { &[] });
    let out = dir.path().join("out");
    let first = run(&out, "2027-01-01", false);
    assert!(text(&first).contains("implausible_timestamp"), "{}", text(&first));
    let second = run(&out, "2027-02-01", false);
    assert!(second.status.success(), "{}", text(&second));
    assert!(!text(&second).contains("implausible_timestamp"), "{}", text(&second));
    let r = deskpulse::exec::run_records(&out).unwrap().pop().unwrap();
    let recomputed: std::collections::BTreeMap<String, String> = r.periods_recomputed.into_iter().collect();
    assert_eq!(recomputed["channel_month"], "1 period(s) new data touched");
    let full = dir.path().join("full");
    assert!(run(&full, "2027-02-01", true).status.success());
    assert_same_outputs(&out, &full, "after the plausible range moved");
}
