//! Exports as nightly jobs meet them (the intake issue): bare CRs that are data, columns named like the run's
//! own, scheduler signals, a ceiling on quarantined rows, one file feeding two sources, and the rest of its
//! findings, each through the real binary on small files.

use std::path::Path;
use std::process::{Command, Output};

use polars::prelude::*;

use crate::common::*;

fn deskpulse(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deskpulse")).args(args).output().expect("binary runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Writes `pipeline.yaml` in `dir` and runs it into `dir/out`.
fn run_in(dir: &Path, yaml: &str) -> Output {
    std::fs::write(dir.join("pipeline.yaml"), yaml).unwrap();
    let (pipeline, out) = (dir.join("pipeline.yaml"), dir.join("out"));
    deskpulse(&["run", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap()])
}

/// A pipeline over one tickets source reading `path`, with `extra` lines in the source, `columns` as its
/// mapping and `by` as the one segment's dimensions.
fn tickets_pipeline(path: &str, extra: &str, columns: &str, by: &str) -> String {
    format!(
        "name: intake\nsources:\n  t:\n    table: tickets\n    path: {path}\n{extra}    columns: {{ {columns} }}\n\
         kpis: [ticket_volume]\nsegments:\n  all: {{ by: [{by}], grain: all }}\nmin_sample: 1\n"
    )
}

/// `ticket_volume` of each row of `out/all.parquet`, with its dimensions' values joined by `/`.
fn volumes(out: &Path, by: &[&str]) -> Vec<(String, f64)> {
    let df = read_parquet(&out.join("all.parquet"));
    let df = df.lazy().filter(col("kpi").eq(lit("ticket_volume"))).collect().unwrap();
    let mut rows: Vec<(String, f64)> = (0..df.height())
        .map(|i| {
            let key: Vec<String> =
                by.iter().map(|d| df.column(d).unwrap().str().unwrap().get(i).unwrap_or("∅").to_string()).collect();
            (key.join("/"), df.column("value").unwrap().f64().unwrap().get(i).unwrap())
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

#[test]
fn bare_crs_inside_fields_are_data_in_lf_and_crlf_files() {
    for end in ["\n", "\r\n"] {
        let dir = tempfile::tempdir().unwrap();
        let lines = [
            "id,created_at,subject",
            "1,2026-01-05T09:00:00Z,\"line one\rline two\"",
            "2,2026-01-05T10:00:00Z,plain",
            // A tweet of a public support dataset: two bare CRs in an unquoted field.
            "3,2026-01-05T11:00:00Z,tweet\r\rwith returns",
            "4,2026-01-05T12:00:00Z,last",
            "",
        ];
        std::fs::write(dir.path().join("cr.csv"), lines.join(end)).unwrap();
        let yaml =
            tickets_pipeline("cr.csv", "", "ticket_id: id, created_at: created_at, category: subject", "category");
        let o = run_in(dir.path(), &yaml);
        assert!(o.status.success(), "{end:?}: {}", text(&o));
        let expected: Vec<(String, f64)> = ["last", "line one\rline two", "plain", "tweet\r\rwith returns"]
            .iter()
            .map(|c| (c.to_string(), 1.0))
            .collect();
        assert_eq!(volumes(&dir.path().join("out"), &["category"]), expected, "{end:?}");
    }
}

#[test]
fn a_cr_only_file_still_reads_its_lines() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cr.csv"), "id,created_at\r1,2026-01-05T09:00:00Z\r2,2026-01-06T09:00:00Z\r")
        .unwrap();
    let o = run_in(dir.path(), &tickets_pipeline("cr.csv", "", "ticket_id: id, created_at: created_at", ""));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(volumes(&dir.path().join("out"), &[]), [(String::new(), 2.0)]);
}

#[test]
fn an_exports_columns_named_like_the_runs_own_are_read_as_its_own() {
    // CSV: `__row` and `__file` mapped, read by a source filter and by an `expr:` mapping.
    let dir = tempfile::tempdir().unwrap();
    let csv = "id,created_at,__row,__file\n1,2026-01-05T09:00:00Z,a,b\n2,2026-01-06T09:00:00Z,c,d\n\
               3,2026-01-07T09:00:00Z,a,e\n";
    std::fs::write(dir.path().join("t.csv"), csv).unwrap();
    let columns = "ticket_id: id, created_at: created_at, channel: __row, category: { expr: \"__file || '-x'\" }";
    let yaml = tickets_pipeline("t.csv", "    filter: \"__file <> 'd'\"\n", columns, "channel, category");
    let o = run_in(dir.path(), &yaml);
    assert!(o.status.success(), "{}", text(&o));
    let expected = vec![("a/b-x".to_string(), 1.0), ("a/e-x".to_string(), 1.0)];
    assert_eq!(volumes(&dir.path().join("out"), &["channel", "category"]), expected);

    // Parquet: the same names, and a bad value still reported with its own row.
    let dir = tempfile::tempdir().unwrap();
    let mut df = df!(
        "id" => ["1", "2", "3"],
        "created_at" => ["2026-01-05T09:00:00Z", "2026-01-06T09:00:00Z", "not a time"],
        "__row" => ["a", "c", "a"],
        "__file" => ["b", "d", "e"],
    )
    .unwrap();
    ParquetWriter::new(std::fs::File::create(dir.path().join("t.parquet")).unwrap()).finish(&mut df).unwrap();
    let o = run_in(
        dir.path(),
        &tickets_pipeline("t.parquet", "", "ticket_id: id, created_at: created_at, channel: __row", "channel"),
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("row 3") && text(&o).contains("not a time"), "{}", text(&o));
    let yaml = tickets_pipeline(
        "t.parquet",
        "    filter: \"__file <> 'e'\"\n",
        "ticket_id: id, created_at: created_at, channel: __row",
        "channel",
    );
    let o = run_in(dir.path(), &yaml);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(volumes(&dir.path().join("out"), &["channel"]), [("a".to_string(), 1.0), ("c".to_string(), 1.0)]);
}

/// The end of a generated dump's year.
const AS_OF: &str = "2026-01-01";

/// A generated dump of `tickets` tickets (with its message log), run once into `dir/out`: the outputs a
/// stopped run must leave as they were.
fn generated_and_run(dir: &Path, tickets: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dump = dir.join("dump");
    let o = deskpulse(&["generate", "--tickets", tickets, "--seed", "7", "--out", dump.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let (pipeline, out) = (dump.join("pipeline.yaml"), dir.join("out"));
    let o =
        deskpulse(&["run", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet", "--as-of", AS_OF]);
    assert!(o.status.success(), "{}", text(&o));
    (pipeline, out)
}

/// Every file under `dir` but the run records, with its bytes.
fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            let name = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            if name.starts_with("_runs") {
                continue;
            }
            match path.is_dir() {
                true => stack.push(path),
                false => out.push((name, std::fs::read(&path).unwrap())),
            }
        }
    }
    out.sort();
    out
}

/// Starts a `--full` run of `pipeline` into `out`, waits until it works (its work folder exists), then
/// sends `signals` 50 ms apart; returns the exit code.
fn stopped_run(pipeline: &Path, out: &Path, signals: &[i32]) -> Option<i32> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_deskpulse"))
        .args([
            "run",
            pipeline.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--full",
            "--quiet",
            "--as-of",
            AS_OF,
        ])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let working = || {
        std::fs::read_dir(out)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".deskpulse-work"))
    };
    while !working() {
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it started working");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "the run ended before the signal: give it more tickets");
    for signal in signals {
        // SAFETY: sends a signal to our own child process.
        unsafe { libc::kill(child.id() as i32, *signal) };
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    use std::os::unix::process::ExitStatusExt;
    let status = child.wait().unwrap();
    status.code().or(status.signal().map(|s| -s))
}

#[test]
fn a_scheduler_signal_stops_the_run_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (pipeline, out) = generated_and_run(dir.path(), "100000");
    let before = files_of(&out);
    // SIGTERM: the run stops at its next check; SIGINT twice: the second stops it at once.
    for (signals, code) in [(vec![libc::SIGTERM], 143), (vec![libc::SIGINT, libc::SIGINT], 130)] {
        assert_eq!(stopped_run(&pipeline, &out, &signals), Some(code), "{signals:?}");
        let left: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".deskpulse"))
            .collect();
        assert!(left.is_empty(), "{signals:?} left {left:?}");
        assert!(files_of(&out) == before, "{signals:?}: the earlier outputs or the store changed");
        let records = deskpulse::exec::run_records(&out).unwrap();
        let last = records.last().unwrap();
        assert_eq!((last.status.as_str(), last.exit_code), ("cancelled", code), "{signals:?}");
    }
    // The next run finds the store as the first run left it.
    let o = deskpulse(&["run", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap(), "--as-of", AS_OF]);
    assert!(text(&o).contains("nothing changed since run"), "{}", text(&o));
}

#[test]
fn a_quarter_of_the_rows_quarantined_fails_the_run_by_default() {
    // A call log whose second call has no id: 1 of 4 rows (25 %) would be quarantined as missing_id.
    let dir = tempfile::tempdir().unwrap();
    let csv = "id,created_at\n1,2026-01-05T09:00:00Z\n,2026-01-05T10:00:00Z\n3,2026-01-05T11:00:00Z\n4,2026-01-05T12:00:00Z\n";
    std::fs::write(dir.path().join("calls.csv"), csv).unwrap();
    let yaml = tickets_pipeline("calls.csv", "", "ticket_id: id, created_at: created_at", "");
    let o = run_in(dir.path(), &yaml);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains(
            "1 of 4 tickets rows would be quarantined (25.00 %), more than max_rejected_share 5.00 % (the default, which \
             counts the rows' own faults, not orphan references): missing_id: 1"
        ),
        "{t}"
    );
    assert!(!dir.path().join("out/all.parquet").exists(), "nothing is written");
    // Declared, the same share passes; the quarantined row is in `_rejected/`.
    let o = run_in(dir.path(), &format!("{yaml}max_rejected_share: 0.3\n"));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(volumes(&dir.path().join("out"), &[]), [(String::new(), 3.0)]);
    assert_eq!(read_parquet(&dir.path().join("out/_rejected/tickets.parquet")).height(), 1);
}

/// FNV-1a of eight zero bytes and `text`: the id `from: [..]` gives, computed here independently.
fn fnv_id(text: &str) -> String {
    let h = [0u8; 8]
        .iter()
        .chain(text.as_bytes())
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ *b as u64).wrapping_mul(0x100_0000_01b3));
    format!("{h:016x}")
}

#[test]
fn an_export_without_ids_gets_them_from_its_columns_or_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    // Calls 1 and 3 are the same call exported twice; call 2 has no caller.
    let csv = "caller,started_at,agent\nA,2026-01-05T09:00:00Z,x\n,2026-01-05T10:00:00Z,y\nA,2026-01-05T09:00:00Z,x\n\
               B,2026-01-05T11:00:00Z,x\n";
    std::fs::write(dir.path().join("calls.csv"), csv).unwrap();
    let ids_of = |out: &Path| -> Vec<String> {
        let df = read_parquet(&out.join("tickets/tickets.parquet"));
        let mut ids: Vec<String> =
            df.column("ticket_id").unwrap().str().unwrap().iter().flatten().map(String::from).collect();
        ids.sort();
        ids
    };
    let columns = "ticket_id: { from: [caller, started_at, agent] }, created_at: started_at, agent_id: agent";
    let yaml = format!(
        "{}outputs: {{ tickets: true }}\nmax_rejected_share: 0.5\n",
        tickets_pipeline("calls.csv", "", columns, "")
    );
    let o = run_in(dir.path(), &yaml);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("quarantined tickets: 2 rows (duplicate_id)"), "{}", text(&o));
    let mut expected =
        vec![fnv_id("\u{0}\u{1f}2026-01-05T10:00:00Z\u{1f}y"), fnv_id("B\u{1f}2026-01-05T11:00:00Z\u{1f}x")];
    expected.sort();
    assert_eq!(ids_of(&dir.path().join("out")), expected);

    let columns = "ticket_id: { from: row }, created_at: started_at, agent_id: agent";
    let yaml = format!("{}outputs: {{ tickets: true }}\n", tickets_pipeline("calls.csv", "", columns, ""));
    let o = run_in(dir.path(), &yaml);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(ids_of(&dir.path().join("out")), ["calls.csv:1", "calls.csv:2", "calls.csv:3", "calls.csv:4"]);

    // `from` builds a text id alone: on a timestamp, or beside `column`, it is a located pipeline error.
    for (columns, message) in [
        ("ticket_id: id, created_at: { from: [started_at] }", "`from` builds a text id, and `created_at` is timestamp"),
        ("ticket_id: { from: rows }, created_at: started_at", "`ticket_id`: `from` is a list of columns or `row`"),
        ("ticket_id: { from: [a], column: b }, created_at: started_at", "`from` builds the value alone"),
    ] {
        let o = run_in(dir.path(), &tickets_pipeline("calls.csv", "", columns, ""));
        assert_eq!(o.status.code(), Some(2), "{columns}: {}", text(&o));
        assert!(text(&o).contains(message) && text(&o).contains("pipeline.yaml:6:"), "{columns}: {}", text(&o));
    }
}

#[test]
fn a_file_feeding_two_sources_counts_its_records_once() {
    // One message log split by role into two sources: one malformed record and one blank line in it.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.csv"), "id,created_at\n1,2026-01-05T08:00:00Z\n2,2026-01-05T08:00:00Z\n")
        .unwrap();
    let log = "ticket,at,role\n1,2026-01-05T09:00:00Z,customer\n\n1,2026-01-05T09:10:00Z,agent,extra\n\
               2,2026-01-05T09:00:00Z,customer\n2,2026-01-05T09:20:00Z,agent\n";
    std::fs::write(dir.path().join("log.csv"), log).unwrap();
    let source = |name: &str, role: &str| {
        format!(
            "  {name}:\n    table: messages\n    path: log.csv\n    on_error: quarantine\n    filter: \"role = '{role}'\"\n    \
             columns: {{ ticket_id: ticket, created_at: at, author_role: role }}\n"
        )
    };
    let yaml = format!(
        "name: two\nsources:\n  t: {{ table: tickets, path: t.csv, columns: {{ ticket_id: id, created_at: created_at }} }}\n\
         {}{}kpis: [ticket_volume]\nsegments:\n  all: {{ by: [], grain: all }}\nmin_sample: 1\nmax_rejected_share: 0.5\n",
        source("customers", "customer"),
        source("agents", "agent")
    );
    let o = run_in(dir.path(), &yaml);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    // 4 records and a malformed one: 2 customers', 1 agent's and the bad one, each once.
    assert!(t.contains("read messages: 4 rows"), "{t}");
    assert!(t.contains("quarantined messages: 1 rows (malformed_row)"), "{t}");
    assert_eq!(t.matches("blank line(s) in").count(), 1, "{t}");
    assert!(t.contains("skipped messages: 1 blank line(s)"), "{t}");
    assert_eq!(read_parquet(&dir.path().join("out/_rejected/messages.parquet")).height(), 1);
    let records = deskpulse::exec::run_records(&dir.path().join("out")).unwrap();
    let messages = records[0].tables.iter().find(|c| c.table == "messages").unwrap();
    assert_eq!((messages.read, messages.kept, messages.rejected), (4, 3, 1));
}

#[test]
fn messages_of_an_unknown_author_role_are_quarantined_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.csv"), "id,created_at\n1,2026-01-05T08:00:00Z\n2,2026-01-05T08:00:00Z\n")
        .unwrap();
    // A log whose role column was exported as a boolean.
    let log =
        "ticket,at,role\n1,2026-01-05T09:00:00Z,true\n1,2026-01-05T09:10:00Z,false\n2,2026-01-05T09:00:00Z,customer\n\
               2,2026-01-05T09:30:00Z,agent\n";
    std::fs::write(dir.path().join("log.csv"), log).unwrap();
    let yaml = "name: roles\nsources:\n  t: { table: tickets, path: t.csv, columns: { ticket_id: id, created_at: created_at } }\n  \
                m: { table: messages, path: log.csv, columns: { ticket_id: ticket, created_at: at, author_role: role } }\n\
                kpis: [ticket_volume, next_reply_time]\nsegments:\n  all: { by: [], grain: all }\nmin_sample: 1\n";
    let o = run_in(dir.path(), yaml);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("2 of 4 messages rows would be quarantined (50.00 %)")
            && text(&o).contains("unknown_author_role: 2"),
        "{}",
        text(&o)
    );
    let o = run_in(dir.path(), &format!("{yaml}max_rejected_share: 0.5\n"));
    assert!(o.status.success(), "{}", text(&o));
    let rejected = read_parquet(&dir.path().join("out/_rejected/messages.parquet"));
    let detail = rejected.column("detail").unwrap().str().unwrap().get(0).unwrap().to_string();
    assert_eq!(detail, "author_role = true is none of customer, agent, bot, system");
    // Ticket 2's customer message waited 30 minutes for its reply; ticket 1's messages count nowhere.
    let df = read_parquet(&dir.path().join("out/all.parquet"));
    let r = row(&df, &[], None, "next_reply_time", "mean");
    assert_eq!((r.value, r.n), (1800.0, 1));
}

#[test]
fn a_boolean_or_number_compared_with_text_is_a_located_error_of_validate() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("t.csv"),
        "id,created_at,esc\n1,2026-01-05T08:00:00Z,True\n2,2026-01-05T08:00:00Z,False\n",
    )
    .unwrap();
    let mut df = df!("id" => ["1", "2"], "created_at" => ["2026-01-05T08:00:00Z", "2026-01-06T08:00:00Z"], "vip" => [true, false], "n" => [1.0, 2.0])
        .unwrap();
    ParquetWriter::new(std::fs::File::create(dir.path().join("t.parquet")).unwrap()).finish(&mut df).unwrap();
    let validate = |yaml: &str, no_data: bool| {
        std::fs::write(dir.path().join("pipeline.yaml"), yaml).unwrap();
        let pipeline = dir.path().join("pipeline.yaml");
        let mut args = vec!["validate", pipeline.to_str().unwrap()];
        if no_data {
            args.push("--no-data");
        }
        deskpulse(&args)
    };
    let csv = "name: b\nsources:\n  t: { table: tickets, path: t.csv, columns: { ticket_id: id, created_at: created_at, escalated: esc } }\n";
    let tail = "kpis: [ticket_volume]\nsegments:\n  all: { by: [], grain: all }\n";
    // A canonical boolean (the file's True/False read as one) compared with 'True': no data needed.
    let o = validate(&format!("{csv}filters: {{ tickets: \"escalated = 'True'\" }}\n{tail}"), true);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("pipeline.yaml:4:21: `escalated = 'True'` compares `escalated`, a boolean column"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("escalated = true (or escalated alone)"), "{}", text(&o));
    // Exactly 'true' is read as the boolean: allowed; the same for a declared metric's `where` with a number.
    assert!(validate(&format!("{csv}filters: {{ tickets: \"escalated = 'true'\" }}\n{tail}"), true).status.success());
    let metric = "metrics:\n  slow: { count_of: tickets, where: \"handle_seconds > '600'\" }\n";
    let o = validate(&format!("{csv}{metric}{tail}"), true);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("a number column, with the text '600', which the engine cannot compare"), "{}", text(&o));
    // A Parquet file's boolean column in a source filter: found from the file's types.
    let parquet = "name: b\nsources:\n  t:\n    table: tickets\n    path: t.parquet\n    filter: \"vip = 'True' OR n IN ('1', '2')\"\n    \
                   columns: { ticket_id: id, created_at: created_at }\n";
    let o = validate(&format!("{parquet}{tail}"), false);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("pipeline.yaml:6:13:") && text(&o).contains("compares `vip`, a boolean column"),
        "{}",
        text(&o)
    );
}

#[test]
fn history_events_of_unknown_tickets_are_quarantined_and_a_reopened_ticket_is_not_resolved() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("t.csv"),
        "id,opened,solved\n1,2026-01-05 09:00:00,\n2,2026-01-05 10:00:00,\n3,2026-01-05 11:00:00,2026-01-05 11:30:00\n",
    )
    .unwrap();
    // Ticket 1 solved at 12:00; ticket 2 solved then reopened (open at its last change); ticket 3's export
    // says 11:30 and its history 13:00: the export wins. Ticket 9 is no ticket read: its 2 events are orphans.
    let events = "ticket,at,field,value\n1,2026-01-05 09:00:00,status,new\n1,2026-01-05 12:00:00,status,solved\n\
                  2,2026-01-05 10:00:00,status,new\n2,2026-01-05 11:00:00,status,solved\n2,2026-01-05 12:00:00,status,open\n\
                  3,2026-01-05 13:00:00,status,solved\n9,2026-01-05 09:00:00,status,new\n9,2026-01-05 10:00:00,status,solved\n";
    std::fs::write(dir.path().join("e.csv"), events).unwrap();
    let yaml = "name: history\nsources:\n  t: { table: tickets, path: t.csv, columns: { ticket_id: id, created_at: opened, resolved_at: solved } }\n  \
                e: { table: ticket_events, path: e.csv, columns: { ticket_id: ticket, at: at, field: field, value: value } }\n\
                kpis:\n  - { name: resolution_time, stats: [mean] }\n  - resolution_rate\n\
                segments: { all: { by: [], grain: all } }\nmin_sample: 1\noutputs: { tickets: true }\n";
    // A declared ceiling counts orphans; the default (the rows' own faults) does not.
    let o = run_in(dir.path(), &format!("{yaml}max_rejected_share: 0.2\n"));
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("2 of 8 ticket_events rows would be quarantined (25.00 %)")
            && text(&o).contains("orphan_ticket_id: 2"),
        "{}",
        text(&o)
    );
    let o = run_in(dir.path(), yaml);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("quarantined ticket_events: 2 rows (orphan_ticket_id)"), "{}", text(&o));
    let df = read_parquet(&dir.path().join("out/all.parquet"));
    let resolution = row(&df, &[], None, "resolution_time", "mean");
    // Ticket 1: 3 h from the history; ticket 3: 30 min as exported; ticket 2 is open again.
    assert_eq!(resolution.n, 2);
    assert_close(resolution.value, (10_800.0 + 1_800.0) / 2.0, "resolution time");
    assert_close(row(&df, &[], None, "resolution_rate", "value").value, 200.0 / 3.0, "resolution rate");
}

/// Tickets, a message log, a history, spend and accounts over January and February 2026, for declared
/// metrics over each table.
fn metric_tables(dir: &Path, messages: &str) {
    let files = [
        ("t.csv", "id,created_at,first,channel\n1,2026-01-05T08:00:00Z,2026-01-05T08:30:00Z,chat\n2,2026-01-05T08:00:00Z,,chat\n3,2026-02-05T08:00:00Z,2026-02-05T10:00:00Z,chat\n"),
        ("e.csv", "ticket,at,field,value\n1,2026-01-05T09:00:00Z,status,new\n1,2026-02-06T09:00:00Z,status,solved\n1,2026-02-06T09:00:00Z,priority,high\n"),
        ("s.csv", "month,amount\n2026-01-01,100.5\n2026-02-01,50\n2026-02-15,25\n"),
        ("a.csv", "id,since,sector\nA,2026-01-10,retail\nB,2026-02-10,retail\nC,2025-12-01,bank\nD,,bank\n"),
    ];
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let yaml = format!(
        "name: metrics\nsources:\n  t: {{ table: tickets, path: t.csv, columns: {{ ticket_id: id, created_at: created_at, first_response_at: first, channel: channel }} }}\n  \
         m: {{ table: messages, path: \"{messages}\", columns: {{ ticket_id: ticket, created_at: at, author_role: role, author_id: author }} }}\n  \
         e: {{ table: ticket_events, path: e.csv, columns: {{ ticket_id: ticket, at: at, field: field, value: value }} }}\n  \
         s: {{ table: spend, path: s.csv, columns: {{ period: month, amount: amount }} }}\n  \
         a: {{ table: accounts, path: a.csv, columns: {{ account_id: id, customer_since: since, sector: sector }} }}\n\
         sla:\n  first_response: [{{ channel: chat, target: 1h }}]\n\
         metrics:\n  messages_in: {{ count_of: messages }}\n  status_changes: {{ count_of: ticket_events, where: \"field = 'status'\" }}\n  \
         spent: {{ sum_of: spend.amount, unit: currency }}\n  new_accounts: {{ count_of: accounts }}\n  \
         overdue: {{ count_of: tickets, where: \"first_response_overdue\" }}\n  \
         late: {{ count_of: tickets, where: \"first_response_sla_seconds > first_response_target\" }}\n\
         kpis: [messages_in, status_changes, spent, new_accounts, overdue, late]\nsegments:\n  month: {{ by: [], grain: month }}\n\
         min_sample: 1\noutputs: {{ tickets: true }}\n"
    );
    std::fs::write(dir.join("pipeline.yaml"), yaml).unwrap();
}

#[test]
fn declared_metrics_measure_every_table_the_docs_list_and_read_sla_columns() {
    let dir = tempfile::tempdir().unwrap();
    // Ticket 1's customer message in January, its reply in February; ticket 3's pair in February.
    let log = "ticket,at,role,author\n1,2026-01-05T08:10:00Z,customer,c\n1,2026-02-01T08:30:00Z,agent,alice\n\
               3,2026-02-05T08:05:00Z,customer,d\n3,2026-02-05T10:00:00Z,agent,bob\n";
    std::fs::write(dir.path().join("m.csv"), log).unwrap();
    metric_tables(dir.path(), "m.csv");
    let (pipeline, out) = (dir.path().join("pipeline.yaml"), dir.path().join("out"));
    let o = deskpulse(&["run", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap(), "--as-of", "2026-03-01"]);
    assert!(o.status.success(), "{}", text(&o));
    let df = read_parquet(&out.join("month.parquet"));
    let value = |kpi: &str, month: &str| {
        let rows = df.clone().lazy().filter(col("kpi").eq(lit(kpi))).collect().unwrap();
        let dates: Vec<String> = rows
            .column("period_start")
            .unwrap()
            .cast(&DataType::String)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|d| d.unwrap_or("").to_string())
            .collect();
        dates.iter().position(|d| d == month).map(|i| rows.column("value").unwrap().f64().unwrap().get(i).unwrap())
    };
    // Messages by their own instant: 1 in January, 3 in February.
    assert_eq!((value("messages_in", "2026-01-01"), value("messages_in", "2026-02-01")), (Some(1.0), Some(3.0)));
    assert_eq!((value("status_changes", "2026-01-01"), value("status_changes", "2026-02-01")), (Some(1.0), Some(1.0)));
    assert_eq!((value("spent", "2026-01-01"), value("spent", "2026-02-01")), (Some(100.5), Some(75.0)));
    // Accounts by `customer_since`: C in December, A in January, B in February; D has none.
    let accounts =
        [value("new_accounts", "2025-12-01"), value("new_accounts", "2026-01-01"), value("new_accounts", "2026-02-01")];
    assert_eq!(accounts, [Some(1.0), Some(1.0), Some(1.0)]);
    // Ticket 2 (chat, never answered) is overdue at the as-of; ticket 3 answered after 2 h, over its 1 h target.
    assert_eq!((value("overdue", "2026-01-01"), value("late", "2026-02-01")), (Some(1.0), Some(1.0)));
    // The per-ticket table names each ticket's first responder.
    let tickets = read_parquet(&out.join("tickets/tickets.parquet"));
    let responders: Vec<Option<&str>> = tickets.column("responder").unwrap().str().unwrap().iter().collect();
    assert_eq!(responders, [Some("alice"), None, Some("bob")]);
}

#[test]
fn a_night_that_brings_messages_recomputes_their_own_periods_for_a_message_metric() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("log")).unwrap();
    std::fs::write(dir.path().join("log/jan.csv"), "ticket,at,role,author\n1,2026-01-05T08:10:00Z,customer,c\n")
        .unwrap();
    metric_tables(dir.path(), "log/*.csv");
    let pipeline = dir.path().join("pipeline.yaml");
    let (night, full) = (dir.path().join("night"), dir.path().join("full"));
    let run = |out: &Path, extra: &[&str]| {
        let mut args = vec!["run", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap(), "--as-of", "2026-03-01"];
        args.extend(extra);
        let o = deskpulse(&args);
        assert!(o.status.success(), "{}", text(&o));
    };
    run(&night, &[]);
    // February's file holds a reply to January's ticket 1: its own period is February.
    std::fs::write(dir.path().join("log/feb.csv"), "ticket,at,role,author\n1,2026-02-01T08:30:00Z,agent,alice\n")
        .unwrap();
    run(&night, &[]);
    run(&full, &["--full"]);
    assert_eq!(std::fs::read(night.join("month.csv")).unwrap(), std::fs::read(full.join("month.csv")).unwrap());
    assert!(String::from_utf8(std::fs::read(night.join("month.csv")).unwrap())
        .unwrap()
        .contains("2026-02-01,messages_in,value,1.0"));
}

#[test]
fn a_reversed_window_is_refused_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "name: w\nsources:\n  t: { table: tickets, path: t.csv, columns: { ticket_id: id, created_at: created_at } }\n\
                filters:\n  window: { from: 2026-07-01, to: 2026-01-01 }\nkpis: [ticket_volume]\nsegments:\n  all: { by: [], grain: all }\n";
    std::fs::write(dir.path().join("pipeline.yaml"), yaml).unwrap();
    let o = deskpulse(&["validate", dir.path().join("pipeline.yaml").to_str().unwrap(), "--no-data"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o)
            .contains("pipeline.yaml:5:35: the window's `from` (2026-07-01) must come before its `to` (2026-01-01)"),
        "{}",
        text(&o)
    );
}

/// Night `n`'s change feed: a few new tickets, and updates (a solve, a channel fix) of earlier ones, each
/// with a later `updated_at` than any copy before it.
fn change_feed(n: u32) -> String {
    let mut csv = String::from("id,created_at,solved_at,via,updated_at\n");
    let day = |d: u32| format!("2026-01-{:02}", (d % 28) + 1);
    for k in 0..3 {
        let id = n * 10 + k;
        csv.push_str(&format!(
            "{id},{}T0{k}:00:00Z,,{},{}T0{k}:00:00Z\n",
            day(n),
            ["email", "chat", "phone"][k as usize % 3],
            day(n)
        ));
    }
    if n >= 2 {
        // Solve one of the night before's tickets.
        let a = (n - 1) * 10;
        csv.push_str(&format!("{a},{}T00:00:00Z,{}T12:00:00Z,email,{}T12:00:00Z\n", day(n - 1), day(n), day(n)));
    }
    if n >= 3 {
        // Move one of two nights before to chat.
        let b = (n - 2) * 10 + 1;
        csv.push_str(&format!("{b},{}T01:00:00Z,,chat,{}T13:00:00Z\n", day(n - 2), day(n)));
    }
    csv
}

#[test]
fn thirty_nights_of_a_rotating_change_feed_equal_one_run_over_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = "name: feed\nsources:\n  changes:\n    table: tickets\n    path: feed/t-*.csv\n    retain: true\n    \
                    duplicates: keep_latest\n    latest_by: updated_at\n    \
                    columns: { ticket_id: id, created_at: created_at, resolved_at: solved_at, channel: via }\n\
                    kpis: [ticket_volume, resolution_rate, resolution_time, backlog]\n\
                    segments:\n  by_channel: { by: [channel], grain: week }\n  all: { by: [], grain: month }\nmin_sample: 1\n";
    let (nights, all) = (dir.path().join("nights"), dir.path().join("all"));
    for d in [&nights, &all] {
        std::fs::create_dir_all(d.join("feed")).unwrap();
        std::fs::write(d.join("pipeline.yaml"), pipeline).unwrap();
    }
    let run = |d: &Path, extra: &[&str]| {
        let (p, out) = (d.join("pipeline.yaml"), d.join("out"));
        let mut args =
            vec!["run", p.to_str().unwrap(), "--out", out.to_str().unwrap(), "--as-of", "2026-02-01", "--quiet"];
        args.extend(extra);
        let o = deskpulse(&args);
        assert!(o.status.success(), "{}", text(&o));
    };
    for n in 1..=30 {
        let name = format!("feed/t-{n:02}.csv");
        std::fs::write(nights.join(&name), change_feed(n)).unwrap();
        std::fs::write(all.join(&name), change_feed(n)).unwrap();
        // The feed keeps three nights' files.
        if n > 3 {
            std::fs::remove_file(nights.join(format!("feed/t-{:02}.csv", n - 3))).unwrap();
        }
        run(&nights, &[]);
    }
    run(&all, &["--full"]);
    assert_eq!(std::fs::read_dir(nights.join("feed")).unwrap().count(), 3);
    for table in ["by_channel.csv", "all.csv"] {
        let (a, b) = (
            std::fs::read(nights.join("out").join(table)).unwrap(),
            std::fs::read(all.join("out").join(table)).unwrap(),
        );
        assert!(a == b, "{table} after 30 nights differs from one run over every file");
    }
    // Every ticket once, in its latest copy: 3 new tickets a night.
    let df = read_parquet(&nights.join("out/all.parquet"));
    let volume: f64 = df
        .clone()
        .lazy()
        .filter(col("kpi").eq(lit("ticket_volume")))
        .collect()
        .unwrap()
        .column("value")
        .unwrap()
        .f64()
        .unwrap()
        .sum()
        .unwrap();
    assert_eq!(volume, 90.0);
    let store = deskpulse(&["store", nights.join("out").to_str().unwrap()]);
    assert_eq!(text(&store).matches("(retained: the file is gone)").count(), 27, "{}", text(&store));
}

#[test]
fn a_retained_file_stays_until_it_is_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("rot")).unwrap();
    std::fs::write(dir.path().join("rot/t-01.csv"), "id,created_at\n1,2026-01-05T09:00:00Z\n2,2026-01-06T09:00:00Z\n")
        .unwrap();
    std::fs::write(dir.path().join("rot/t-02.csv"), "id,created_at\n3,2026-02-05T09:00:00Z\n").unwrap();
    let yaml = tickets_pipeline("rot/t-*.csv", "    retain: true\n", "ticket_id: id, created_at: created_at", "");
    assert!(run_in(dir.path(), &yaml).status.success());
    std::fs::remove_file(dir.path().join("rot/t-01.csv")).unwrap();
    std::fs::write(dir.path().join("rot/t-03.csv"), "id,created_at\n4,2026-03-05T09:00:00Z\n").unwrap();
    let o = run_in(dir.path(), &yaml);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(volumes(&dir.path().join("out"), &[]), [(String::new(), 4.0)]);
    let out = dir.path().join("out");
    let listed = text(&deskpulse(&["store", out.to_str().unwrap()]));
    assert!(listed.contains("rot/t-01.csv  (retained: the file is gone)"), "{listed}");
    // Only retained files can be forgotten; then their rows are gone and every period is recomputed.
    let o = deskpulse(&["store", out.to_str().unwrap(), "--forget", "t-02.csv"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(text(&o).contains("is not retained"), "{}", text(&o));
    let o = deskpulse(&["store", out.to_str().unwrap(), "--forget", "t-01.csv"]);
    assert!(o.status.success() && text(&o).contains("forgot"), "{}", text(&o));
    assert!(run_in(dir.path(), &yaml).status.success());
    assert_eq!(volumes(&dir.path().join("out"), &[]), [(String::new(), 2.0)]);
    // Without `retain`, a file that disappears takes its rows with it (as before).
    std::fs::remove_file(dir.path().join("rot/t-02.csv")).unwrap();
    let yaml = tickets_pipeline("rot/t-*.csv", "", "ticket_id: id, created_at: created_at", "");
    assert!(run_in(dir.path(), &yaml).status.success());
    assert_eq!(volumes(&dir.path().join("out"), &[]), [(String::new(), 1.0)]);
}

#[test]
fn two_instances_with_overlapping_ids_are_two_sets_of_tickets() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("eu.csv", "id,created_at\n1,2026-01-05T09:00:00Z\n2,2026-01-06T09:00:00Z\n3,2026-01-07T09:00:00Z\n"),
        ("us.csv", "id,created_at\n1,2026-01-05T10:00:00Z\n2,2026-01-06T10:00:00Z\n"),
        // eu's ticket 1 rated 5; us's tickets 1 and 2 rated 1 and 2; a us rating of ticket 3, which only eu has.
        ("eu-ratings.csv", "ticket,score,at\n1,5,2026-01-05T12:00:00Z\n"),
        (
            "us-ratings.csv",
            "ticket,score,at\n1,1,2026-01-05T12:00:00Z\n2,2,2026-01-06T12:00:00Z\n3,4,2026-01-07T12:00:00Z\n",
        ),
    ];
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let survey = |name: &str| {
        format!(
            "  {name}-r: {{ table: surveys, path: {name}-ratings.csv, instance: {name}, columns: {{ ticket_id: ticket, score: score, \
             submitted_at: at, kind: {{ constant: csat }} }} }}\n"
        )
    };
    let yaml = format!(
        "name: instances\nsources:\n  eu: {{ table: tickets, path: eu.csv, instance: eu, columns: {{ ticket_id: id, created_at: created_at }} }}\n  \
         us: {{ table: tickets, path: us.csv, instance: us, columns: {{ ticket_id: id, created_at: created_at }} }}\n{}{}\
         kpis: [ticket_volume, csat]\nsegments:\n  all: {{ by: [], grain: all }}\n  by_instance: {{ by: [instance], grain: all }}\n\
         min_sample: 1\nmax_rejected_share: 0.5\noutputs: {{ tickets: true }}\n",
        survey("eu"),
        survey("us")
    );
    let o = run_in(dir.path(), &yaml);
    assert!(o.status.success(), "{}", text(&o));
    // us's rating of ticket 3 resolves nothing within us: quarantined, not joined to eu's ticket 3.
    assert!(text(&o).contains("quarantined surveys: 1 rows (orphan_ticket_id)"), "{}", text(&o));
    let out = dir.path().join("out");
    assert_eq!(volumes(&out, &[]), [(String::new(), 5.0)]);
    let df = read_parquet(&out.join("by_instance.parquet"));
    let by = |instance: &str, kpi: &str, stat: &str| row(&df, &[("instance", Some(instance))], None, kpi, stat);
    assert_eq!((by("eu", "ticket_volume", "value").value, by("us", "ticket_volume", "value").value), (3.0, 2.0));
    assert_eq!((by("eu", "csat", "mean").value, by("us", "csat", "mean").value), (5.0, 1.5));
    let tickets = read_parquet(&out.join("tickets/tickets.parquet"));
    let ids: Vec<&str> = tickets.column("ticket_id").unwrap().str().unwrap().iter().flatten().collect();
    let instances: Vec<&str> = tickets.column("instance").unwrap().str().unwrap().iter().flatten().collect();
    assert_eq!(ids, ["eu:1", "us:1", "eu:2", "us:2", "eu:3"]);
    assert_eq!(instances, ["eu", "us", "eu", "us", "eu"]);
    // A name with `:` would make qualified ids ambiguous.
    let o = run_in(dir.path(), &yaml.replacen("instance: eu,", "instance: \"e:u\",", 1));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("instance `e:u` must be a name without `:`"), "{}", text(&o));
}

/// A local S3-compatible server (moto, from the Python registry: `.ci/run` installs it and names its
/// `moto_server` in `DESKPULSE_MOTO`) on a free loopback port, stopped when dropped.
struct S3Server {
    child: std::process::Child,
    endpoint: String,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl S3Server {
    /// `None` (the test is skipped, saying so) without moto, unless `DESKPULSE_REQUIRE_S3` is set, as CI does.
    fn start() -> Option<S3Server> {
        let default = std::env::var("HOME").map(|h| format!("{h}/.cache/deskpulse-examples/venv/bin/moto_server"));
        let moto = std::env::var("DESKPULSE_MOTO").ok().or(default.ok()).filter(|m| Path::new(m).is_file());
        let Some(moto) = moto else {
            assert!(
                std::env::var_os("DESKPULSE_REQUIRE_S3").is_none(),
                "DESKPULSE_REQUIRE_S3 is set but moto_server is missing"
            );
            eprintln!("skipped: no moto_server (pip install 'moto[server]'; DESKPULSE_MOTO=path)");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let server = S3Server { child, endpoint: format!("http://127.0.0.1:{port}") };
        for _ in 0..150 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(server);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("moto_server did not answer on port {port}");
    }

    /// A plain HTTP PUT (the local server takes unsigned requests): a bucket, or an object's bytes.
    fn put(&self, path: &str, body: &[u8]) {
        use std::io::{Read, Write};
        let host = self.endpoint.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(host).unwrap();
        let head = format!(
            "PUT {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "PUT {path}: {answer}");
    }

    /// `deskpulse ARGS` with the endpoint and test credentials in the environment, as a scheduler sets them.
    fn deskpulse(&self, args: &[&str], endpoint: Option<&str>) -> Output {
        Command::new(env!("CARGO_BIN_EXE_deskpulse"))
            .args(args)
            .env("AWS_ENDPOINT_URL", endpoint.unwrap_or(&self.endpoint))
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ALLOW_HTTP", "true")
            .output()
            .unwrap()
    }
}

#[test]
fn tickets_read_from_an_s3_bucket_and_staged_again_only_when_new() {
    let Some(s3) = S3Server::start() else { return };
    s3.put("/exports", b"");
    s3.put(
        "/exports/helpdesk/tickets-2026-01.csv",
        b"id,created_at\n1,2026-01-05T09:00:00Z\n2,2026-01-06T09:00:00Z\n3,2026-01-07T09:00:00Z\n",
    );
    s3.put("/exports/helpdesk/tickets-2026-02.csv", b"id,created_at\n4,2026-02-05T09:00:00Z\n5,2026-02-06T09:00:00Z\n");
    s3.put("/exports/other/tickets-2026-01.csv", b"id,created_at\n9,2026-01-05T09:00:00Z\n");
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str| {
        let yaml = tickets_pipeline(path, "", "ticket_id: id, created_at: created_at", "");
        std::fs::write(dir.path().join("pipeline.yaml"), yaml).unwrap();
    };
    write("s3://exports/helpdesk/tickets-*.csv");
    let (pipeline, out) = (dir.path().join("pipeline.yaml"), dir.path().join("out"));
    let run = |endpoint: Option<&str>| {
        s3.deskpulse(&["run", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap()], endpoint)
    };
    let o = run(None);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("2 file(s) staged, 0 reused"), "{}", text(&o));
    assert_eq!(volumes(&out, &[]), [(String::new(), 5.0)]);
    // A new object is staged alone; nothing new keeps the outputs.
    s3.put("/exports/helpdesk/tickets-2026-03.csv", b"id,created_at\n6,2026-03-05T09:00:00Z\n");
    let o = run(None);
    assert!(o.status.success() && text(&o).contains("1 file(s) staged, 2 reused"), "{}", text(&o));
    assert_eq!(volumes(&out, &[]), [(String::new(), 6.0)]);
    let o = run(None);
    assert!(text(&o).contains("nothing changed since run"), "{}", text(&o));
    let listed = text(&s3.deskpulse(&["store", out.to_str().unwrap()], None));
    assert!(listed.contains("s3://exports/helpdesk/tickets-2026-03.csv"), "{listed}");
    // A bad value is reported with the object's URL and row.
    s3.put("/exports/helpdesk/tickets-2026-04.csv", b"id,created_at\n7,not a time\n");
    let o = run(None);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("s3://exports/helpdesk/tickets-2026-04.csv") && text(&o).contains("not a time"),
        "{}",
        text(&o)
    );
    // A missing bucket and an unreachable endpoint: exit 3 naming the path and the cause, before any work.
    let fresh = dir.path().join("fresh");
    write("s3://no-such-bucket/helpdesk/*.csv");
    let o = s3.deskpulse(&["run", pipeline.to_str().unwrap(), "--out", fresh.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("s3://no-such-bucket/helpdesk/*.csv") && text(&o).to_lowercase().contains("bucket"),
        "{}",
        text(&o)
    );
    assert!(!fresh.join("all.parquet").exists());
    write("s3://exports/helpdesk/tickets-*.csv");
    let started = std::time::Instant::now();
    let o = s3
        .deskpulse(&["run", pipeline.to_str().unwrap(), "--out", fresh.to_str().unwrap()], Some("http://127.0.0.1:9"));
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("s3://exports/helpdesk/tickets-*.csv"), "{}", text(&o));
    assert!(started.elapsed().as_secs() < 60, "an unreachable endpoint took {:?}", started.elapsed());
}
