//! The hardening issue's cases that the corpus (`corpus.rs`) does not cover: memory bounded by the rows
//! rather than the calendar, leftovers of killed runs, a closed pipe, faults reported as the right kind.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::common::*;

fn deskpulse(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deskpulse")).args(args).output().expect("binary runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// 100 tickets in January 2026 and one of 1970, weekly backlog by agent.
fn epoch_dump(dir: &Path, plausible: &str) -> std::path::PathBuf {
    let mut csv = String::from("id,created_at,solved_at,assignee\n1001,1970-01-01T00:00:00Z,2026-01-01T20:00:00Z,a\n");
    for i in 1..=100 {
        let d = i % 28 + 1;
        csv.push_str(&format!("{},2026-01-{d:02}T10:00:00Z,2026-01-{d:02}T16:00:00Z,agent{}\n", 2000 + i, i % 7));
    }
    std::fs::write(dir.join("tickets.csv"), csv).unwrap();
    let yaml = format!(
        "name: epoch\nsources:\n  t:\n    table: tickets\n    path: tickets.csv\n    columns: {{ ticket_id: id, \
         created_at: created_at, resolved_at: solved_at, agent_id: assignee }}\nkpis: [ticket_volume, backlog]\n\
         segments:\n  s: {{ by: [agent_id], grain: week }}\n{plausible}"
    );
    let path = dir.join("pipeline.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

#[test]
fn a_1970_ticket_is_quarantined_as_implausible() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = epoch_dump(dir.path(), "");
    let out = dir.path().join("out");
    let o = deskpulse(&["run", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("read tickets: 101 rows"), "{}", text(&o));
    assert!(text(&o).contains("quarantined tickets: 1 rows (implausible_timestamp)"), "{}", text(&o));
    let rejected = read_parquet(&out.join("_rejected/tickets.parquet"));
    let detail = rejected.column("detail").unwrap().str().unwrap().get(0).unwrap().to_string();
    assert!(
        detail.starts_with("created_at = 1970-01-01T00:00:00Z is outside the plausible range 2000-01-01"),
        "{detail}"
    );
}

#[test]
fn periods_follow_the_data_not_the_calendar() {
    // With 1970 declared plausible, the old ticket is used: its week gets rows, the 2,900 empty weeks
    // between it and 2026 get none (they used to cost one aggregation each, and gigabytes).
    let dir = tempfile::tempdir().unwrap();
    let pipeline = epoch_dump(dir.path(), "definitions:\n  plausible: { from: 1960-01-01 }\n");
    let out = dir.path().join("out");
    let o = deskpulse(&["run", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let df = read_parquet(&out.join("s.parquet"));
    let periods = df.column("period_start").unwrap().unique().unwrap().len();
    // The 1970 week (1969-12-29) and the 2026 weeks with tickets (Dec 29 2025 to Jan 26 2026: five).
    assert_eq!(periods, 6, "{df}");
    // The 1970 ticket, still open until 2026-01-01, is in the backlog at the end of its week.
    let r = row(&df, &[("agent_id", Some("a"))], Some("1969-12-29"), "backlog", "value");
    assert_eq!(r.value, 1.0);
}

#[test]
fn a_killed_runs_work_folder_is_removed_by_the_next_run() {
    let out = tempfile::tempdir().unwrap();
    // A dead run's folder (no process has this id: ids stop far below), and a live run's (ours).
    let dead = out.path().join(".deskpulse-work-dead");
    let live = out.path().join(".deskpulse-work-live");
    for (dir, pid) in [(&dead, "2147483000".to_string()), (&live, std::process::id().to_string())] {
        std::fs::create_dir_all(dir.join("stage")).unwrap();
        std::fs::write(dir.join("stage/tickets.parquet"), vec![0u8; 1024]).unwrap();
        std::fs::write(dir.join("owner.pid"), pid).unwrap();
    }
    let old = out.path().join(".deskpulse-work-old-version");
    std::fs::create_dir_all(&old).unwrap();
    let pipeline = root().join("tests/fixtures/hand/pipeline.yaml");
    let o = deskpulse(&["run", pipeline.to_str().unwrap(), "--out", out.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!dead.exists() && !old.exists(), "dead runs' folders are removed");
    assert!(live.exists(), "a running run's folder is kept");
    assert!(text(&o).contains("removed the work folder of an interrupted run"), "{}", text(&o));
    let left: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".deskpulse-work") && n != ".deskpulse-work-live")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    for args in [&["kpis"][..], &["schema"][..], &["explain", "pipelines/support_kpis.yaml"][..]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_deskpulse"))
            .args(args)
            .current_dir(root())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read one byte, then go away, as `| head -c 1` does.
        let mut first = [0u8; 1];
        child.stdout.as_mut().unwrap().read_exact(&mut first).unwrap();
        drop(child.stdout.take());
        let status = child.wait().unwrap();
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(status.code(), Some(0), "{args:?}: {stderr}");
    }
}

#[test]
fn a_wrong_dimension_is_one_diagnostic_not_one_per_kpi() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = std::fs::read_to_string(root().join("tests/fixtures/hand/pipeline.yaml")).unwrap();
    let path = dir.path().join("pipeline.yaml");
    let fixture = root().join("tests/fixtures/hand");
    let yaml = yaml.replace("path: ", &format!("path: {}/", fixture.display()));
    std::fs::write(&path, format!("{yaml}\n  by_region: {{ by: [region], grain: month }}\n")).unwrap();
    let o = deskpulse(&["validate", "--no-data", path.to_str().unwrap()]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(2), "{all}");
    assert_eq!(all.matches("comes from accounts.region").count(), 1, "{all}");
    assert!(all.contains("1 problem(s)") && all.contains("`ticket_volume`") && all.contains("`csat`"), "{all}");
}

#[test]
fn a_bad_value_points_at_its_own_source_and_column() {
    // Two sources feed tickets; the second's `opened` column has the bad value: the message names that
    // source's line and the file's column, not the first source's or the canonical name.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.csv"), "id,created_at\n1,2026-01-05T09:00:00Z\n").unwrap();
    std::fs::write(dir.path().join("b.csv"), "key,opened\n2,2026-01-06T09:00:00Z\n3,soon\n").unwrap();
    let yaml = "name: two\nsources:\n  a:\n    table: tickets\n    path: a.csv\n    columns: { ticket_id: id, created_at: created_at }\n  b:\n    table: tickets\n    path: b.csv\n    columns: { ticket_id: key, created_at: opened }\nkpis: [ticket_volume]\nsegments:\n  s: { by: [], grain: all }\n";
    let path = dir.path().join("pipeline.yaml");
    std::fs::write(&path, yaml).unwrap();
    let o = deskpulse(&["run", path.to_str().unwrap(), "--out", dir.path().join("out").to_str().unwrap()]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(3), "{all}");
    assert!(all.contains("pipeline.yaml:10:"), "the second source's line: {all}");
    assert!(all.contains("column `opened` = \"soon\""), "{all}");
}

/// A small disk of its own (tmpfs), unmounted when dropped; `None` where mounting is not allowed.
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", dir.path().to_str().unwrap()])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk(dir))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

#[test]
fn a_full_disk_is_exit_4_and_keeps_the_earlier_outputs() {
    let Some(disk) = SmallDisk::mount("2m") else {
        eprintln!("skipped: mounting a 2 MB tmpfs needs root (CI runs as root)");
        return;
    };
    let out = disk.0.path().join("out");
    let hand = root().join("tests/fixtures/hand/pipeline.yaml");
    let first = deskpulse(&["run", hand.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(first.status.success(), "{}", text(&first));
    let before = std::fs::read(out.join("overall.csv")).unwrap();
    // The sample's outputs do not fit in what is left.
    let sample = root().join("pipelines/support_kpis.yaml");
    let o = deskpulse(&["run", sample.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(4), "{all}");
    assert!(all.contains("No space left on device") || all.contains("disk is full"), "{all}");
    assert!(!all.contains("bad input data"), "{all}");
    assert_eq!(std::fs::read(out.join("overall.csv")).unwrap(), before, "the earlier outputs are intact");
    let work: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with(".deskpulse-work"))
        .collect();
    assert!(work.is_empty(), "the failed run's work folder is removed");
}

#[test]
fn too_little_space_to_stage_fails_before_any_work() {
    let Some(disk) = SmallDisk::mount("256k") else {
        eprintln!("skipped: mounting a tmpfs needs root (CI runs as root)");
        return;
    };
    let dump = tempfile::tempdir().unwrap();
    let g = deskpulse(&["generate", "--tickets", "20000", "--out", dump.path().join("g").to_str().unwrap()]);
    assert!(g.status.success());
    let pipeline = dump.path().join("g/pipeline.yaml");
    let out = disk.0.path().join("out");
    let o = deskpulse(&["run", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(4), "{all}");
    assert!(all.contains("not enough free space to stage the inputs"), "{all}");
}

#[test]
fn the_backlog_from_sorted_events_matches_a_direct_count() {
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("g");
    let g = deskpulse(&["generate", "--tickets", "20000", "--seed", "4", "--out", dump.to_str().unwrap()]);
    assert!(g.status.success());
    let yaml = "name: backlog\nsources:\n  t:\n    table: tickets\n    path: g/zendesk/tickets-*.csv\n    columns: { ticket_id: id, created_at: created_at, resolved_at: solved_at, status: status }\ndefinitions:\n  resolved_when: { statuses: [solved, closed] }\nkpis: [backlog]\nsegments:\n  week: { by: [], grain: week }\n";
    let pipeline = tmp.path().join("backlog.yaml");
    std::fs::write(&pipeline, yaml).unwrap();
    let out = tmp.path().join("out");
    let o = deskpulse(&["run", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let df = read_parquet(&out.join("week.parquet"));
    assert!(df.height() > 50, "{df}");
    // The same figures counted directly from the CSV, one period end at a time.
    use polars::prelude::*;
    let path = dump.join("zendesk/tickets-00000.csv");
    let raw = CsvReadOptions::default().try_into_reader_with_file_path(Some(path)).unwrap().finish().unwrap();
    let ts = |c: &str| {
        let options = StrptimeOptions { format: Some("%Y-%m-%dT%H:%M:%SZ".into()), ..Default::default() };
        col(c).str().to_datetime(Some(TimeUnit::Milliseconds), None, options, lit("raise"))
    };
    let solved = col("status").eq(lit("solved")).or(col("status").eq(lit("closed")));
    let tickets = raw
        .lazy()
        .select([ts("created_at").alias("c"), when(solved).then(ts("solved_at")).otherwise(lit(NULL)).alias("r")])
        .collect()
        .unwrap();
    let periods = df.column("period_start").unwrap().date().unwrap().physical().clone();
    let values = df.column("value").unwrap().f64().unwrap().clone();
    let ns = df.column("n").unwrap().i64().unwrap().clone();
    for i in 0..df.height() {
        let end_ms = (periods.get(i).unwrap() as i64 + 7) * 86_400_000;
        let end = lit(end_ms).cast(DataType::Datetime(TimeUnit::Milliseconds, None));
        let counted = tickets
            .clone()
            .lazy()
            .select([
                col("c").lt(end.clone()).sum().alias("n"),
                col("c").lt(end.clone()).and(col("r").lt_eq(end).fill_null(false).not()).sum().alias("open"),
            ])
            .collect()
            .unwrap();
        let get = |c: &str| counted.column(c).unwrap().cast(&DataType::Int64).unwrap().i64().unwrap().get(0).unwrap();
        assert_eq!(ns.get(i), Some(get("n")), "n at period {i}");
        assert_eq!(values.get(i), Some(get("open") as f64), "backlog at period {i}");
    }
}

#[test]
fn a_local_time_in_a_daylight_saving_gap_names_the_zone() {
    let dir = tempfile::tempdir().unwrap();
    // 29 March 2026, 02:30 does not exist in Paris: clocks jump from 02:00 to 03:00.
    std::fs::write(dir.path().join("t.csv"), "id,opened\n1,2026-03-28 10:00:00\n2,2026-03-29 02:30:00\n").unwrap();
    let yaml = "name: dst\nsources:\n  t:\n    table: tickets\n    path: t.csv\n    columns:\n      ticket_id: id\n      created_at: { column: opened, format: \"%Y-%m-%d %H:%M:%S\", time_zone: Europe/Paris }\nkpis: [ticket_volume]\nsegments:\n  s: { by: [], grain: all }\n";
    let path = dir.path().join("pipeline.yaml");
    std::fs::write(&path, yaml).unwrap();
    let o = deskpulse(&["run", path.to_str().unwrap(), "--out", dir.path().join("out").to_str().unwrap()]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(3), "{all}");
    assert!(all.contains("in time zone Europe/Paris") && all.contains("daylight-saving"), "{all}");
    assert!(all.contains("row 2: column `opened` = \"2026-03-29 02:30:00\""), "{all}");
}
