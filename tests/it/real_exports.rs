//! Real exports as vendors write them: encodings, text durations, timestamps in two columns, ids written as
//! floats, references that resolve nothing, runs that would succeed on nothing, reply chains, SQL checked
//! while planning, starter presets. Each case runs the binary on a small file; the expected figures are
//! worked out by hand in the comments.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::*;

fn deskpulse(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deskpulse")).args(args).output().expect("binary runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Writes `files` and `pipeline.yaml` into a fresh folder; returns it and the pipeline's path.
fn setup(files: &[(&str, &[u8])], yaml: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let pipeline = dir.path().join("pipeline.yaml");
    std::fs::write(&pipeline, yaml).unwrap();
    (dir, pipeline)
}

fn run(pipeline: &Path, out: &Path) -> Output {
    deskpulse(&["run", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap()])
}

/// Reasons in `_rejected/<table>.parquet`, one per row, in file and row order.
fn reasons(out: &Path, table: &str) -> Vec<String> {
    let df = read_parquet(&out.join(format!("_rejected/{table}.parquet")));
    df.column("reason").unwrap().str().unwrap().iter().flatten().map(str::to_string).collect()
}

/// cp1252 bytes: "Réclamation" with é = 0xE9; durations written h:m:s.
const CP1252_TICKETS: &[u8] = b"id,opened,solved,status,via,category,talk\n\
1,2026-01-05 09:00:00,2026-01-05 12:00:00,solved,phone,R\xe9clamation,00:06:12\n\
2,2026-01-05 10:00:00,,open,phone,R\xe9clamation,0:01:00\n\
3,2026-01-06 11:00:00,,open,email,Facture,\n";

fn cp1252_pipeline(encoding: &str) -> String {
    format!(
        "name: cp1252\nsources:\n  t:\n    table: tickets\n    path: tickets.csv\n    csv: {{ encoding: {encoding} }}\n    \
         columns:\n      ticket_id: id\n      created_at: opened\n      resolved_at: solved\n      status: status\n      \
         channel: via\n      category: category\n      handle_seconds: {{ column: talk, duration: hms }}\n\
         kpis: [ticket_volume, {{ name: handle_time, stats: [mean] }}]\nsegments:\n  by_category: {{ by: [category], grain: all }}\n\
         min_sample: 1\n"
    )
}

#[test]
fn a_windows_1252_file_is_decoded_and_its_hms_durations_read() {
    let (dir, pipeline) = setup(&[("tickets.csv", CP1252_TICKETS)], &cp1252_pipeline("windows-1252"));
    let out = dir.path().join("out");
    let o = run(&pipeline, &out);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("tickets.csv read as windows-1252"), "{}", text(&o));
    let df = read_parquet(&out.join("by_category.parquet"));
    let reclamation = [("category", Some("Réclamation"))];
    assert_eq!(row(&df, &reclamation, None, "ticket_volume", "value").value, 2.0);
    // 00:06:12 = 372 s and 0:01:00 = 60 s: a mean of 216 s.
    assert_close(row(&df, &reclamation, None, "handle_time", "mean").value, 216.0, "handle time");
}

#[test]
fn a_windows_1252_file_read_as_utf8_names_file_row_byte_and_fix() {
    let (dir, pipeline) = setup(&[("tickets.csv", CP1252_TICKETS)], &cp1252_pipeline("utf-8"));
    let o = run(&pipeline, &dir.path().join("out"));
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let t = text(&o);
    for part in ["tickets.csv", "data row 1", "0xE9", "encoding: windows-1252"] {
        assert!(t.contains(part), "missing {part:?} in:\n{t}");
    }
    assert!(!t.contains("internal error"), "{t}");
}

#[test]
fn iso_8859_1_and_utf16_with_a_byte_order_mark_are_read() {
    // ISO 8859-1: 0xE9 is é too.
    let (dir, pipeline) = setup(&[("tickets.csv", CP1252_TICKETS)], &cp1252_pipeline("iso-8859-1"));
    let out = dir.path().join("out");
    assert!(run(&pipeline, &out).status.success());
    let df = read_parquet(&out.join("by_category.parquet"));
    assert_eq!(row(&df, &[("category", Some("Réclamation"))], None, "ticket_volume", "value").value, 2.0);
    // The same text as UTF-16LE with its byte-order mark, under `auto`.
    let utf8: String = CP1252_TICKETS.iter().map(|&b| b as char).collect();
    let utf16: Vec<u8> = [0xFF, 0xFE].into_iter().chain(utf8.encode_utf16().flat_map(u16::to_le_bytes)).collect();
    let (dir, pipeline) = setup(&[("tickets.csv", &utf16)], &cp1252_pipeline("auto"));
    let out = dir.path().join("out");
    let o = run(&pipeline, &out);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("read as UTF-16LE"), "{}", text(&o));
    // Without a mark, `auto` reads UTF-8 and says so.
    let (dir, pipeline) = setup(&[("tickets.csv", utf8.as_bytes())], &cp1252_pipeline("auto"));
    let o = run(&pipeline, &dir.path().join("out"));
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("tickets.csv read as UTF-8 (no byte-order mark)"), "{}", text(&o));
    let df = read_parquet(&out.join("by_category.parquet"));
    assert_eq!(row(&df, &[("category", Some("Réclamation"))], None, "ticket_volume", "value").value, 2.0);
}

#[test]
fn durations_in_every_layout_and_a_bad_one_named_by_its_source_column() {
    // Seconds: hms 1:02:03.5 = 3723.5; iso PT6M12S = 372, P1DT2H = 93600; minutes 2.5 = 150.
    let csv =
        b"id,opened,talk,iso,mins\n1,2026-01-05 09:00:00,1:02:03.5,PT6M12S,2.5\n2,2026-01-05 10:00:00,6:12,P1DT2H,1\n";
    let yaml = |handle: &str| {
        format!(
            "name: d\nsources:\n  t:\n    table: tickets\n    path: t.csv\n    columns:\n      ticket_id: id\n      \
             created_at: opened\n      handle_seconds: {handle}\nkpis: [{{ name: handle_time, stats: [mean, p90] }}]\n\
             segments:\n  all: {{ by: [], grain: all }}\nmin_sample: 1\n"
        )
    };
    for (handle, mean, max) in [
        ("{ column: talk, duration: hms }", (3723.5 + 372.0) / 2.0, 3723.5),
        ("{ column: iso, duration: iso8601 }", (372.0 + 93_600.0) / 2.0, 93_600.0),
        ("{ column: mins, duration: minutes }", (150.0 + 60.0) / 2.0, 150.0),
    ] {
        let (dir, pipeline) = setup(&[("t.csv", csv)], &yaml(handle));
        let out = dir.path().join("out");
        let o = run(&pipeline, &out);
        assert!(o.status.success(), "{handle}: {}", text(&o));
        let df = read_parquet(&out.join("all.parquet"));
        assert_close(row(&df, &[], None, "handle_time", "mean").value, mean, handle);
        // p90 of two values interpolates between them: low + 0.9 × (high − low).
        let low = 2.0 * mean - max;
        assert_close(row(&df, &[], None, "handle_time", "p90").value, low + 0.9 * (max - low), handle);
    }
    // `iso` read as h:m:s: both values are bad, named by the source column.
    let (dir, pipeline) = setup(&[("t.csv", csv)], &yaml("{ column: iso, duration: hms }"));
    let o = run(&pipeline, &dir.path().join("out"));
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("2 value(s) of column `iso` (mapped to tickets.handle_seconds)"), "{t}");
    assert!(t.contains("H:MM:SS"), "{t}");
    assert!(t.contains("row 1: column `iso` = \"PT6M12S\""), "{t}");
}

#[test]
fn a_timestamp_in_two_columns_and_one_counted_in_minutes_after_another() {
    // The CFPB-style complaint log: date and time apart; the first reply as minutes after creation.
    let csv =
        b"Complaint ID,Date received,ser_start,reply_minutes\n7,01/05/2026,09:00:00,30\n8,01/06/2026,23:50:00,20\n";
    let yaml = "name: two\nsources:\n  t:\n    table: tickets\n    path: t.csv\n    columns:\n      ticket_id: Complaint ID\n      \
                created_at: { date: Date received, time: ser_start, format: \"%m/%d/%Y %H:%M:%S\" }\n      \
                first_response_at: { column: reply_minutes, after: created_at, duration: minutes }\n\
                kpis: [ticket_volume, { name: first_response_time, stats: [mean] }]\nsegments:\n  day: { by: [], grain: day }\nmin_sample: 1\n";
    let (dir, pipeline) = setup(&[("t.csv", csv)], yaml);
    let out = dir.path().join("out");
    let o = run(&pipeline, &out);
    assert!(o.status.success(), "{}", text(&o));
    let df = read_parquet(&out.join("day.parquet"));
    // 2026-01-05 and 2026-01-06, one ticket each; 30 and 20 minutes.
    assert_eq!(row(&df, &[], Some("2026-01-05"), "ticket_volume", "value").value, 1.0);
    assert_close(row(&df, &[], Some("2026-01-06"), "first_response_time", "mean").value, 1200.0, "20 min");
    assert_close(row(&df, &[], Some("2026-01-05"), "first_response_time", "mean").value, 1800.0, "30 min");
}

const TICKETS: &[u8] =
    b"id,opened,first_reply,solved,org\n1,2026-01-05 09:00:00,2026-01-05 09:10:00,2026-01-05 12:00:00,A\n\
2,2026-01-05 10:00:00,2026-01-05 10:05:00,,B\n3,2026-01-06 11:00:00,,,ZZ\n,2026-01-06 12:00:00,,,A\n";
const ACCOUNTS: &[u8] = b"account,sector\nA,retail\nB,software\n";

fn references_pipeline(messages_columns: &str, extra: &str) -> String {
    format!(
        "name: refs\nsources:\n  t:\n    table: tickets\n    path: tickets.csv\n    columns: {{ ticket_id: id, created_at: opened, \
         first_response_at: first_reply, resolved_at: solved, account_id: org }}\n  a:\n    table: accounts\n    path: accounts.csv\n    \
         columns: {{ account_id: account, sector: sector }}\n  m:\n    table: messages\n    path: messages.csv\n{extra}    \
         columns: {{ {messages_columns} }}\n  s:\n    table: surveys\n    path: surveys.csv\n    columns: {{ survey_id: sid, ticket_id: ticket, \
         kind: {{ constant: csat }}, score: score, submitted_at: at }}\n\
         kpis: [ticket_volume, next_reply_time, csat]\nsegments:\n  all: {{ by: [], grain: all }}\nmin_sample: 1\n\
         max_rejected_share: 1\n"
    )
}

#[test]
fn references_that_resolve_nothing_are_quarantined_with_their_own_reasons() {
    let messages = b"msg,ticket,at,role\n10,1,2026-01-05 09:00:00,customer\n11,1,2026-01-05 09:10:00,agent\n\
12,99,2026-01-05 10:06:00,agent\n13,,2026-01-05 10:07:00,agent\n";
    let surveys =
        b"sid,ticket,score,at\nS1,1,5,2026-01-06 09:00:00\nS2,42,1,2026-01-06 09:00:00\nS3,,4,2026-01-06 09:00:00\n";
    let files: [(&str, &[u8]); 4] =
        [("tickets.csv", TICKETS), ("accounts.csv", ACCOUNTS), ("messages.csv", messages), ("surveys.csv", surveys)];
    let (dir, pipeline) =
        setup(&files, &references_pipeline("ticket_id: ticket, created_at: at, author_role: role", ""));
    let out = dir.path().join("out");
    let o = run(&pipeline, &out);
    assert!(o.status.success(), "{}", text(&o));
    // Ticket 3's account ZZ is no account; the fourth ticket has no id.
    assert_eq!(reasons(&out, "tickets"), ["orphan_account_id", "missing_id"]);
    // Message 12's ticket 99 is no ticket; message 13 has none.
    assert_eq!(reasons(&out, "messages"), ["orphan_ticket_id", "missing_id"]);
    // Survey S2's ticket 42 is no ticket; S3 has none, which is allowed (a survey about no ticket).
    assert_eq!(reasons(&out, "surveys"), ["orphan_ticket_id"]);
    let t = text(&o);
    assert!(t.contains("quarantined messages: 1 rows (orphan_ticket_id)"), "{t}");
    // Rows kept + quarantined = rows read, in the run record.
    let record = std::fs::read_dir(out.join("_runs")).unwrap().next().unwrap().unwrap().path();
    let record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(record).unwrap()).unwrap();
    for table in record["tables"].as_array().unwrap() {
        let n = |k: &str| table[k].as_u64().unwrap();
        assert_eq!(n("kept") + n("rejected") + n("superseded"), n("read"), "{table}");
    }
    // Ticket volume counts tickets 1 and 2 only.
    let df = read_parquet(&out.join("all.parquet"));
    assert_eq!(row(&df, &[], None, "ticket_volume", "value").value, 2.0);
}

#[test]
fn references_keep_counts_orphans_and_warns_about_ids_written_as_floats() {
    // pandas wrote the messages' ticket ids as floats: 1.0 for 1. Without `integer`, none joins.
    let messages = b"msg,ticket,at,role\n10,1.0,2026-01-05 09:00:00,customer\n11,1.0,2026-01-05 09:10:00,agent\n\
12,2.0,2026-01-05 10:06:00,agent\n";
    let surveys = b"sid,ticket,score,at\nS1,1,5,2026-01-06 09:00:00\n";
    let files: [(&str, &[u8]); 4] =
        [("tickets.csv", TICKETS), ("accounts.csv", ACCOUNTS), ("messages.csv", messages), ("surveys.csv", surveys)];
    let (dir, pipeline) = setup(
        &files,
        &references_pipeline("ticket_id: ticket, created_at: at, author_role: role", "    references: keep\n"),
    );
    let out = dir.path().join("out");
    let o = run(&pipeline, &out);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("messages: 3 of 3 row(s) (100.00 %) have a ticket_id matching no ticket (kept"), "{t}");
    assert!(t.contains("integer: true"), "{t}");
    assert!(reasons(&out, "messages").is_empty());
    // With `integer: true`, every message joins its ticket.
    let (dir, pipeline) = setup(
        &files,
        &references_pipeline("ticket_id: { column: ticket, integer: true }, created_at: at, author_role: role", ""),
    );
    let out = dir.path().join("out");
    let o = run(&pipeline, &out);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains("matching no ticket"), "{}", text(&o));
    assert!(reasons(&out, "messages").is_empty());
    // A fraction is no whole number: a bad value.
    let bad = b"msg,ticket,at,role\n10,1.5,2026-01-05 09:00:00,customer\n";
    let files: [(&str, &[u8]); 4] =
        [("tickets.csv", TICKETS), ("accounts.csv", ACCOUNTS), ("messages.csv", bad), ("surveys.csv", surveys)];
    let (dir, pipeline) = setup(
        &files,
        &references_pipeline("ticket_id: { column: ticket, integer: true }, created_at: at, author_role: role", ""),
    );
    let o = run(&pipeline, &dir.path().join("out"));
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("column `ticket` = \"1.5\""), "{}", text(&o));
}

#[test]
fn a_run_whose_rows_are_all_quarantined_fails_unless_empty_is_allowed() {
    // Both tickets resolved before they were opened.
    let csv =
        b"id,opened,solved\n1,2026-01-05 09:00:00,2026-01-04 09:00:00\n2,2026-01-05 09:00:00,2026-01-04 08:00:00\n";
    let yaml = "name: all_bad\nsources:\n  t: { table: tickets, path: t.csv, columns: { ticket_id: id, created_at: opened, resolved_at: solved } }\n\
                kpis: [ticket_volume]\nsegments: { all: { by: [], grain: all } }\n";
    let (dir, pipeline) = setup(&[("t.csv", csv)], yaml);
    let out = dir.path().join("out");
    let o = run(&pipeline, &out);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("none of the 2 tickets row(s) read is usable: negative_duration: 2"), "{}", text(&o));
    assert!(!out.join("all.parquet").exists());
    std::fs::write(&pipeline, format!("{yaml}allow_empty: true\nmax_rejected_share: 1\n")).unwrap();
    let o = run(&pipeline, &out);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("segment `all` has no rows"), "{}", text(&o));
}

#[test]
fn a_segment_without_rows_fails_the_run() {
    // Every ticket is filtered out by the table filter: the segment is empty.
    let csv = b"id,opened\n1,2026-01-05 09:00:00\n";
    let yaml = "name: empty_segment\nsources:\n  t: { table: tickets, path: t.csv, columns: { ticket_id: id, created_at: opened } }\n\
                filters: { tickets: \"ticket_id = 'none'\" }\nkpis: [ticket_volume]\nsegments: { all: { by: [], grain: month } }\n";
    let (dir, pipeline) = setup(&[("t.csv", csv)], yaml);
    let o = run(&pipeline, &dir.path().join("out"));
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("segment `all` has no rows"), "{}", text(&o));
    assert!(text(&o).contains("allow_empty: true"), "{}", text(&o));
}

#[test]
fn resolved_before_the_first_response_is_a_negative_duration() {
    let csv = b"id,opened,first,solved\n1,2026-01-05 09:00:00,2026-01-05 11:00:00,2026-01-05 10:00:00\n2,2026-01-05 09:00:00,,\n";
    let yaml = "name: neg\nsources:\n  t: { table: tickets, path: t.csv, columns: { ticket_id: id, created_at: opened, first_response_at: first, resolved_at: solved } }\n\
                kpis: [ticket_volume]\nsegments: { all: { by: [], grain: all } }\nmax_rejected_share: 0.5\n";
    let (dir, pipeline) = setup(&[("t.csv", csv)], yaml);
    let out = dir.path().join("out");
    assert!(run(&pipeline, &out).status.success());
    let rejected = read_parquet(&out.join("_rejected/tickets.parquet"));
    assert_eq!(reasons(&out, "tickets"), ["negative_duration"]);
    let detail = rejected.column("detail").unwrap().str().unwrap().get(0).unwrap().to_string();
    assert_eq!(detail, "resolved_at is before first_response_at");
}

#[test]
fn reply_chains_are_conversations_and_the_responder_a_dimension() {
    // Customer-support tweets: two conversations. 2 (a customer, 22:00) is answered by sprintcare at 22:10:47
    // (647 s); 3 (23:00) by AppleSupport at 23:30 (1800 s), then the customer and AppleSupport again. pandas
    // wrote the reply ids as floats.
    let tweets = b"tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n\
1,sprintcare,False,Tue Oct 31 22:10:47 +0000 2017,hello,,2.0\n\
2,115712,True,Tue Oct 31 22:00:00 +0000 2017,help,1,\n\
3,115713,True,Tue Oct 31 23:00:00 +0000 2017,help,4,\n\
4,AppleSupport,False,Tue Oct 31 23:30:00 +0000 2017,hi,5,3.0\n\
5,115713,True,Tue Oct 31 23:40:00 +0000 2017,thanks,6,4.0\n\
6,AppleSupport,False,Tue Oct 31 23:45:00 +0000 2017,welcome,,5.0\n";
    let yaml = "name: tweets\nsources:\n  tw:\n    table: messages\n    path: tweets.csv\n    \
                thread: { id: tweet_id, in_reply_to: in_response_to_tweet_id }\n    columns:\n      \
                created_at: { column: created_at, format: \"%a %b %d %H:%M:%S %z %Y\" }\n      \
                author_role: { column: inbound, map: { \"True\": customer, \"False\": agent } }\n      author_id: author_id\n\
                kpis: [ticket_volume, { name: first_response_time, stats: [mean] }]\n\
                segments:\n  by_brand: { by: [responder], grain: all }\nmin_sample: 1\n";
    let (dir, pipeline) = setup(&[("tweets.csv", tweets)], yaml);
    let out = dir.path().join("out");
    let o = run(&pipeline, &out);
    assert!(o.status.success(), "{}", text(&o));
    let df = read_parquet(&out.join("by_brand.parquet"));
    for (brand, seconds) in [("sprintcare", 647.0), ("AppleSupport", 1800.0)] {
        assert_eq!(row(&df, &[("responder", Some(brand))], None, "ticket_volume", "value").value, 1.0);
        assert_close(
            row(&df, &[("responder", Some(brand))], None, "first_response_time", "mean").value,
            seconds,
            brand,
        );
    }
}

#[test]
fn validate_without_data_reports_every_sql_error_with_its_line() {
    let yaml = "name: sql\nsources:\n  t:\n    table: tickets\n    path: nowhere/*.csv\n    filter: \"status <> \"\n    columns:\n      \
                ticket_id: id\n      created_at: opened\n      category: { expr: \"CASE WHEN category = THEN 1 END\" }\n\
                filters:\n  tickets: \"channel ==\"\nkpis: [ticket_volume]\nsegments: { all: { by: [], grain: all } }\n";
    let (_dir, pipeline) = setup(&[], yaml);
    let o = deskpulse(&["validate", pipeline.to_str().unwrap(), "--no-data"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    for line in ["pipeline.yaml:6:", "pipeline.yaml:10:", "pipeline.yaml:12:"] {
        assert!(t.contains(line), "no error at {line} in:\n{t}");
    }
    // A table filter reading a column the canonical table lacks, also without data.
    let yaml = yaml.replace("status <> ", "status <> 'x'").replace("category = THEN 1", "category = 'a' THEN 'b'");
    let yaml = yaml.replace("channel ==", "chanel = 'x'");
    std::fs::write(&pipeline, yaml).unwrap();
    let o = deskpulse(&["validate", pipeline.to_str().unwrap(), "--no-data"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("reads column `chanel`"), "{}", text(&o));
}

/// Zendesk's sample, by hand: first reply minutes per month and channel (Web form and Mail are email).
/// January: email 38 and 95, chat 2, phone 11; February: email 60 and 240, chat 4. Ratings: Good for
/// 101 (email), 102 (chat) and 106 (chat, February), Bad for 103 (email): January's email CSAT is 1 of 2.
#[test]
fn every_preset_runs_on_its_sample_and_zendesks_figures_are_right() {
    for preset in ["zendesk", "freshdesk", "zammad", "servicenow", "intercom", "generic"] {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join(preset);
        let o = deskpulse(&["init", "--preset", preset, target.to_str().unwrap()]);
        assert!(o.status.success(), "{preset}: {}", text(&o));
        // The written files are the shipped sample's.
        let shipped = root().join("sample_data/presets").join(preset).join("pipeline.yaml");
        assert_eq!(std::fs::read(target.join("pipeline.yaml")).unwrap(), std::fs::read(shipped).unwrap());
        let out = dir.path().join("out");
        let o = run(&target.join("pipeline.yaml"), &out);
        assert!(o.status.success(), "{preset}: {}", text(&o));
        assert!(!text(&o).contains("quarantined"), "{preset}: the sample should be clean: {}", text(&o));
        if preset == "zendesk" {
            let df = read_parquet(&out.join("channel_month.parquet"));
            let email = [("channel", Some("email"))];
            assert_eq!(row(&df, &email, Some("2026-01-01"), "ticket_volume", "value").value, 2.0);
            assert_close(
                row(&df, &email, Some("2026-01-01"), "first_response_time", "median").value,
                (38.0 + 95.0) / 2.0 * 60.0,
                "zendesk email median",
            );
            assert_close(
                row(&df, &[("channel", Some("chat"))], Some("2026-02-01"), "first_response_time", "median").value,
                240.0,
                "zendesk chat",
            );
            let csat = row(&df, &email, Some("2026-01-01"), "csat", "value");
            assert_eq!((csat.numerator, csat.denominator), (Some(1.0), Some(2.0)));
            // From the comments and the field history, Billing (101, 103, 105, 107): next replies 101 (10:30 →
            // the next day 16:40, past 8 h), 103 (16:10 → the admin's 10:00 the next day, past 8 h; the 16:30
            // note is private; 15:00 → 17:00 met): 1 of 3. Breaches among the judged instances: those 2 of 10
            // (4 first replies within 8 h, 3 next replies, 3 requester waits within 2 d; 107's still runs,
            // pending since 15:11 after 4 h of wait). 103 went from Tom Leroy to Léa Martin: 1 of 4 reassigned.
            let team = read_parquet(&out.join("team_all.parquet"));
            let billing = [("team", Some("Billing"))];
            let next = row(&team, &billing, None, "next_reply_sla_attainment", "value");
            assert_eq!((next.numerator, next.denominator), (Some(1.0), Some(3.0)));
            let breaches = row(&team, &billing, None, "sla_breaches", "value");
            assert_eq!((breaches.value, breaches.n), (2.0, 10));
            let reassigned = row(&team, &billing, None, "reassignment_rate", "value");
            assert_eq!((reassigned.numerator, reassigned.denominator), (Some(1.0), Some(4.0)));
            // Credited to the solver: Léa Martin held 101, 103 and 105 when they were solved.
            let solver = read_parquet(&out.join("solver_all.parquet"));
            assert_eq!(row(&solver, &[("solver", Some("Léa Martin"))], None, "ticket_volume", "value").value, 3.0);
        }
        if preset == "freshdesk" {
            // Conversations, Paiement: ticket 4 waits 12:05 → 12:10 (300 s), ticket 5 09:30 → 10:00 and 10:30 →
            // 11:00 (1,800 s each): mean 1,300 s.
            let group = read_parquet(&out.join("group_all.parquet"));
            let paiement = row(&group, &[("team", Some("Paiement"))], None, "next_reply_time", "mean");
            assert_eq!((paiement.value, paiement.n), (1300.0, 3));
        }
    }
    // Presets never overwrite.
    let dir = tempfile::tempdir().unwrap();
    assert!(deskpulse(&["init", "--preset", "generic", dir.path().to_str().unwrap()]).status.success());
    let o = deskpulse(&["init", "--preset", "generic", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = deskpulse(&["init", "--preset", "kayako", dir.path().join("k").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("zendesk"), "{}", text(&o));
}

#[test]
fn the_unreadable_count_is_the_files_not_the_samples() {
    // 6,000 rows of a layout no ISO format reads: the count is the file's 6,000, not the 200 sampled.
    let mut csv = String::from("id,opened\n");
    for i in 0..6000 {
        csv.push_str(&format!("{i},05.01.2026 09:00\n"));
    }
    let yaml =
        "name: count\nsources:\n  t: { table: tickets, path: t.csv, columns: { ticket_id: id, created_at: opened } }\n\
                kpis: [ticket_volume]\nsegments: { all: { by: [], grain: all } }\n";
    let (dir, pipeline) = setup(&[("t.csv", csv.as_bytes())], yaml);
    let o = run(&pipeline, &dir.path().join("out"));
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("6000 value(s) of column `opened`"), "{}", text(&o));
}

#[test]
fn kpis_a_segment_cannot_compute_are_warned_about_and_kept_in_the_run_record() {
    // CAC is over monthly spend: a weekly segment cannot compute it, and no other segment does.
    let tickets = b"id,opened,org\n1,2026-01-05 09:00:00,A\n";
    let accounts = b"id,since\nA,2026-01-02\n";
    let spend = b"month,amount\n2026-01-01,1000\n";
    let yaml = "name: warn\nsources:\n  t: { table: tickets, path: t.csv, columns: { ticket_id: id, created_at: opened, account_id: org } }\n  \
                a: { table: accounts, path: a.csv, columns: { account_id: id, customer_since: since } }\n  \
                s: { table: spend, path: s.csv, columns: { period: month, amount: amount } }\n\
                kpis: [ticket_volume, cac]\nsegments: { weekly: { by: [], grain: week } }\n";
    let (dir, pipeline) = setup(&[("t.csv", tickets), ("a.csv", accounts), ("s.csv", spend)], yaml);
    let out = dir.path().join("out");
    let o = run(&pipeline, &out);
    assert!(o.status.success(), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("warning: segment `weekly` leaves out cac (KPI `cac` is over monthly spend"), "{stderr}");
    assert!(stderr.contains("warning: no segment computes cac"), "{stderr}");
    let record = std::fs::read_dir(out.join("_runs")).unwrap().next().unwrap().unwrap().path();
    let record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(record).unwrap()).unwrap();
    assert_eq!(record["warnings"].as_array().unwrap().len(), 2, "{record}");
}

#[test]
fn sql_that_compares_a_text_column_with_a_number_is_a_located_pipeline_error() {
    // CSV columns are text: `reassigned > 0` cannot run; validate says so at the expression's line.
    let csv = b"id,opened,reassigned\n1,2026-01-05 09:00:00,2\n";
    let yaml =
        "name: types\nsources:\n  t:\n    table: tickets\n    path: t.csv\n    columns:\n      ticket_id: id\n      \
                created_at: opened\n      escalated: { expr: \"reassigned > 0\" }\nkpis: [escalation_rate]\n\
                segments: { all: { by: [], grain: all } }\n";
    let (_dir, pipeline) = setup(&[("t.csv", csv)], yaml);
    let o = deskpulse(&["validate", pipeline.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("pipeline.yaml:9:26: `reassigned > 0` cannot be evaluated on"), "{t}");
    assert!(t.contains("CAST(\"reassigned\" AS INTEGER)"), "{t}");
}
