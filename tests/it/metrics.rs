//! KPIs the pipeline declares (`metrics:`) over the canonical columns and the sources' `attributes:`.

use std::process::{Command, Output};

use crate::common::*;

fn deskpulse(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deskpulse")).args(args).output().expect("binary runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Writes `yaml` as `dir/pipeline.yaml`, runs it, and returns the output folder.
fn run_ok(dir: &std::path::Path, yaml: &str) -> std::path::PathBuf {
    let path = dir.join("pipeline.yaml");
    std::fs::write(&path, yaml).unwrap();
    let out = dir.join("out");
    let o = deskpulse(&["run", path.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}\n{yaml}", text(&o));
    out
}

/// Four tickets with a reassignment count and a support level (text), from one export; a fifth from another export
/// that carries neither.
const EXPORT_A: &str = "id,opened,solved,status,via,reassigned,level\n\
1,2026-01-05 09:00:00,2026-01-05 12:00:00,solved,email,2,gold\n\
2,2026-01-05 10:00:00,2026-01-06 10:00:00,solved,email,0,silver\n\
3,2026-01-06 11:00:00,,open,chat,0,gold\n\
4,2026-01-07 09:00:00,2026-01-07 10:00:00,solved,email,1,gold\n";
const EXPORT_B: &str = "id,opened,via\n5,2026-01-08 09:00:00,email\n";

const PIPELINE: &str = r#"name: declared
sources:
  a:
    table: tickets
    path: a.csv
    attributes: { reassignments: reassigned, level: level }
    columns: { ticket_id: id, created_at: opened, resolved_at: solved, status: status, channel: via }
  b:
    table: tickets
    path: b.csv
    columns: { ticket_id: id, created_at: opened, channel: via }
metrics:
  reassigned_share: { share_of: tickets, where: "reassignments > 0", unit: percent, direction: lower }
  gold_share: { share_of: tickets, where: "level = 'gold'" }
  reassignments_total: { sum_of: tickets.reassignments, unit: count }
  reassignments_when_solved: { mean_of: tickets.reassignments, where: "status = 'solved'" }
  solved_by_email: { count_of: tickets, where: "status = 'solved' AND channel = 'email'" }
  channels: { count_distinct_of: tickets.channel }
  levels_reassigned: { count_distinct_of: tickets.level, where: "reassignments > 0" }
kpis: [ticket_volume, reassigned_share, gold_share, reassignments_total, reassignments_when_solved, solved_by_email,
  channels, levels_reassigned]
segments:
  all: { by: [], grain: all }
min_sample: 1
"#;

#[test]
fn declared_metrics_measure_attributes_and_canonical_columns() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.csv"), EXPORT_A).unwrap();
    std::fs::write(dir.path().join("b.csv"), EXPORT_B).unwrap();
    let out = run_ok(dir.path(), PIPELINE);
    let all = read_parquet(&out.join("all.parquet"));
    let get = |kpi: &str| row(&all, &[], None, kpi, "value");
    assert_close(get("ticket_volume").value, 5.0, "volume");
    // Tickets 1 and 4 were reassigned, of five (ticket 5's export has no count: not reassigned).
    let share = get("reassigned_share");
    assert_close(share.value, 40.0, "reassigned share");
    assert_eq!((share.numerator, share.denominator, share.n), (Some(2.0), Some(5.0), 5), "reassigned share");
    // Tickets 1, 3 and 4 are gold: a text attribute compared with a text.
    assert_close(get("gold_share").value, 60.0, "gold share");
    // 2 + 0 + 0 + 1 over the four tickets that have a count.
    let total = get("reassignments_total");
    assert_close(total.value, 3.0, "total");
    assert_eq!(total.n, 4, "tickets with a count");
    // Tickets 1, 2 and 4 are solved: (2 + 0 + 1) / 3.
    let mean = get("reassignments_when_solved");
    assert_close(mean.value, 1.0, "mean when solved");
    assert_eq!(mean.n, 3, "solved tickets with a count");
    assert_close(get("solved_by_email").value, 3.0, "solved by email");
    // Email and chat; the reassigned tickets (1 and 4) are both gold.
    assert_close(get("channels").value, 2.0, "distinct channels");
    assert_close(get("levels_reassigned").value, 1.0, "distinct levels among the reassigned");
    assert_eq!((share.unit.as_str(), total.unit.as_str(), mean.unit.as_str()), ("percent", "count", "ratio"));
    // The metadata says the KPI is declared by the pipeline, with its formula.
    let bytes = std::fs::read(out.join("all.parquet")).unwrap();
    for needle in [&b"\"declared\":true"[..], &b"(reassignments > 0)"[..]] {
        assert!(
            bytes.windows(needle.len()).any(|w| w == needle),
            "{} not in the metadata",
            String::from_utf8_lossy(needle)
        );
    }
}

/// The line of `yaml` holding `needle`, counted from 1.
fn line_of(yaml: &str, needle: &str) -> usize {
    yaml[..yaml.find(needle).expect("needle in the pipeline")].matches('\n').count() + 1
}

#[test]
fn metric_and_attribute_mistakes_are_located_errors() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = PIPELINE
        .replace("reassignments > 0", "reasignments > 0")
        .replace("level: level }", "level: { column: level, type: txt }, status: status }")
        .replace("{ share_of: tickets, where: \"level = 'gold'\" }", "{ share_of: tickets }")
        .replace("unit: count }", "unit: counts }")
        .replace("solved_by_email:", "csat:")
        .replace("kpis: [", "  bad_ratio: { ratio: [avg(tickets.reassignments), count(tickets)] }\nkpis: [");
    let path = dir.path().join("pipeline.yaml");
    std::fs::write(&path, &yaml).unwrap();
    let o = deskpulse(&["validate", path.to_str().unwrap(), "--no-data"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    let located = |needle: &str, message: &str| {
        let prefix = format!("pipeline.yaml:{}:", line_of(&yaml, needle));
        assert!(t.lines().any(|l| l.contains(&prefix) && l.contains(message)), "no `{prefix}… {message}` in:\n{t}");
    };
    located("reasignments > 0", "reads column `reasignments`, which the tickets table");
    assert!(t.contains("reassignments"), "the help names the attribute: {t}");
    located("type: txt", "unknown attribute type `txt`");
    located("status: status }", "attribute `status` is a canonical column of the tickets table");
    located("gold_share:", "`share_of` needs `where`");
    located("unit: counts", "unknown unit `counts`");
    located("csat:", "metric `csat` has the name of a catalog KPI");
    located("bad_ratio:", "each measure is count(TABLE) or sum(TABLE.COLUMN)");
}

#[test]
fn a_table_filter_reads_attributes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.csv"), EXPORT_A).unwrap();
    std::fs::write(dir.path().join("b.csv"), EXPORT_B).unwrap();
    let out = run_ok(dir.path(), &format!("{PIPELINE}filters: {{ tickets: \"level = 'gold'\" }}\n"));
    let all = read_parquet(&out.join("all.parquet"));
    // Tickets 1, 3 and 4; two of them reassigned.
    assert_close(row(&all, &[], None, "ticket_volume", "value").value, 3.0, "gold tickets");
    assert_close(row(&all, &[], None, "reassigned_share", "value").value, 200.0 / 3.0, "share among gold");
}

#[test]
fn an_attribute_typed_text_in_some_file_is_a_located_error_unless_typed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("a")).unwrap();
    std::fs::write(dir.path().join("a/1.csv"), EXPORT_A).unwrap();
    // A later export writes "n/a" where it has no count: typed from its values, the attribute is text there.
    let later = "id,opened,solved,status,via,reassigned,level\n6,2026-01-09 09:00:00,,open,email,n/a,gold\n";
    std::fs::write(dir.path().join("a/2.csv"), later).unwrap();
    std::fs::write(dir.path().join("b.csv"), EXPORT_B).unwrap();
    let yaml = PIPELINE.replace("path: a.csv", "path: a/*.csv");
    let path = dir.path().join("pipeline.yaml");
    std::fs::write(&path, &yaml).unwrap();
    let out = dir.path().join("out");
    let o = deskpulse(&["run", path.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    let at = format!("pipeline.yaml:{}:", line_of(&yaml, "reassignments > 0"));
    assert!(t.contains(&at) && t.contains("`reassignments > 0` cannot be evaluated on the tickets table"), "{t}");
    assert!(t.contains("declare its `type`"), "{t}");
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().all(|e| e.unwrap().file_name() != "all.parquet"));
    // Declared a number, "n/a" is left empty: ticket 6 counts in the share's denominator only.
    let typed = yaml.replace("reassignments: reassigned,", "reassignments: { column: reassigned, type: number },");
    std::fs::write(&path, &typed).unwrap();
    let o = deskpulse(&["run", path.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let all = read_parquet(&out.join("all.parquet"));
    let share = row(&all, &[], None, "reassigned_share", "value");
    assert_eq!((share.numerator, share.denominator), (Some(2.0), Some(6.0)), "2 of 6 tickets");
}

#[test]
fn a_ratio_divides_two_tables_measures_in_each_group_and_period() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.csv"), EXPORT_A).unwrap();
    std::fs::write(dir.path().join("b.csv"), EXPORT_B).unwrap();
    // Answers about tickets 1 and 2 (email) and 3 (chat).
    let surveys =
        "id,ticket,at,score\ns1,1,2026-01-05 13:00:00,5\ns2,2,2026-01-06 11:00:00,1\ns3,3,2026-01-06 12:00:00,4\n";
    std::fs::write(dir.path().join("s.csv"), surveys).unwrap();
    let sources = PIPELINE.split("metrics:").next().unwrap();
    let yaml = format!(
        "{sources}  s:\n    table: surveys\n    path: s.csv\n    columns: {{ survey_id: id, ticket_id: ticket, submitted_at: at, \
         score: score, kind: {{ constant: csat }} }}\nmetrics:\n  answers_per_ticket: {{ ratio: [count(surveys), \
         count(tickets)] }}\n  reassignments_per_ticket: {{ ratio: [sum(tickets.reassignments), count(tickets)] }}\n\
         kpis: [answers_per_ticket, reassignments_per_ticket]\nsegments:\n  all: {{ by: [], grain: all }}\n  \
         by_channel: {{ by: [channel], grain: all }}\nmin_sample: 1\n"
    );
    let out = run_ok(dir.path(), &yaml);
    let all = read_parquet(&out.join("all.parquet"));
    // Three answers for five tickets; 2 + 0 + 0 + 1 reassignments for five tickets.
    let answers = row(&all, &[], None, "answers_per_ticket", "value");
    assert_close(answers.value, 0.6, "answers per ticket");
    assert_eq!((answers.numerator, answers.denominator, answers.n), (Some(3.0), Some(5.0), 5));
    assert_close(row(&all, &[], None, "reassignments_per_ticket", "value").value, 0.6, "reassignments per ticket");
    let by_channel = read_parquet(&out.join("by_channel.parquet"));
    // Email: answers about tickets 1 and 2, of tickets 1, 2, 4 and 5; chat: one answer, one ticket.
    assert_close(
        row(&by_channel, &[("channel", Some("email"))], None, "answers_per_ticket", "value").value,
        0.5,
        "email",
    );
    assert_close(
        row(&by_channel, &[("channel", Some("chat"))], None, "answers_per_ticket", "value").value,
        1.0,
        "chat",
    );
    // The formula is in the metadata.
    let bytes = std::fs::read(out.join("all.parquet")).unwrap();
    let needle = b"count(surveys) / count(tickets)";
    assert!(bytes.windows(needle.len()).any(|w| w == needle), "no formula in the metadata");
}

#[test]
fn segments_split_by_attributes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.csv"), EXPORT_A).unwrap();
    std::fs::write(dir.path().join("b.csv"), EXPORT_B).unwrap();
    let yaml = PIPELINE.replace("segments:\n", "segments:\n  by_level: { by: [level], grain: all }\n");
    let out = run_ok(dir.path(), &yaml);
    let path = dir.path().join("pipeline.yaml");
    let df = read_parquet(&out.join("by_level.parquet"));
    let get = |level: Option<&str>, kpi: &str| row(&df, &[("level", level)], None, kpi, "value");
    // Gold: tickets 1, 3 and 4, of which 1 and 4 were reassigned; silver: ticket 2; none: ticket 5.
    assert_close(get(Some("gold"), "ticket_volume").value, 3.0, "gold volume");
    assert_close(get(Some("gold"), "reassigned_share").value, 200.0 / 3.0, "gold share");
    assert_close(get(Some("silver"), "reassigned_share").value, 0.0, "silver share");
    assert_close(get(None, "ticket_volume").value, 1.0, "ticket without a level");
    // A KPI over a table whose sources carry no such attribute cannot be split by it.
    let surveys = "  s: { table: surveys, path: s.csv, columns: { survey_id: id, ticket_id: ticket, submitted_at: at, \
                   score: score, kind: { constant: csat } } }\nmetrics:";
    let bad = yaml
        .replacen("metrics:", surveys, 1)
        .replace("kpis: [ticket_volume,", "kpis: [csat, ticket_volume,")
        .replace("by_level: { by: [level], grain: all }", "by_level: { by: [level], grain: all, kpis: [csat] }");
    std::fs::write(&path, &bad).unwrap();
    let o = deskpulse(&["validate", path.to_str().unwrap(), "--no-data"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("`level` is an attribute of other tables' sources, not of surveys"), "{}", text(&o));
}

#[test]
fn kpis_lists_a_pipelines_declared_metrics_with_their_formula() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pipeline.yaml");
    let yaml = PIPELINE.replace(
        "unit: percent, direction: lower }",
        "unit: percent, direction: lower, description: Tickets handed to another team at least once }",
    );
    std::fs::write(&path, yaml).unwrap();
    let o = deskpulse(&["kpis", "--format", "json", "--pipeline", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let docs: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let declared = docs.as_array().unwrap().iter().find(|d| d["name"] == "reassigned_share").expect("listed");
    assert_eq!(declared["definition"], "Tickets handed to another team at least once");
    assert_eq!(declared["unit"], "percent");
    assert_eq!(declared["formula"][0], "value = 100 * count(*) FILTER ((reassignments > 0)) / count(*)");
    // Without the pipeline, only the catalog.
    let o = deskpulse(&["kpis", "--format", "json"]);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("reassigned_share"));
}

#[test]
fn a_ratio_over_accounts_takes_the_groups_accounts_in_every_period() {
    let dir = tempfile::tempdir().unwrap();
    let accounts = "id,sector,revenue\nA1,retail,1000\nA2,retail,500\nA3,bank,300\n";
    let tickets = "id,opened,account\n1,2026-01-05 09:00:00,A1\n2,2026-01-06 09:00:00,A1\n3,2026-02-02 09:00:00,A2\n\
4,2026-02-03 09:00:00,A3\n";
    std::fs::write(dir.path().join("accounts.csv"), accounts).unwrap();
    std::fs::write(dir.path().join("tickets.csv"), tickets).unwrap();
    let yaml = "name: per account\nsources:\n  a: { table: accounts, path: accounts.csv, columns: { account_id: id, \
                sector: sector, annual_revenue: revenue } }\n  t: { table: tickets, path: tickets.csv, columns: { \
                ticket_id: id, created_at: opened, account_id: account } }\nmetrics:\n  revenue_per_ticket: { ratio: \
                [sum(accounts.annual_revenue), count(tickets)], unit: currency }\n  tickets_per_account: { ratio: \
                [count(tickets), count(accounts)] }\nkpis: [revenue_per_ticket, tickets_per_account]\nsegments:\n  \
                all: { by: [], grain: all }\n  sector_month: { by: [sector], grain: month }\nmin_sample: 1\n";
    let out = run_ok(dir.path(), yaml);
    let all = read_parquet(&out.join("all.parquet"));
    // 1,800 of revenue over 4 tickets; 4 tickets over 3 accounts.
    assert_close(row(&all, &[], None, "revenue_per_ticket", "value").value, 450.0, "revenue per ticket");
    let per_account = row(&all, &[], None, "tickets_per_account", "value");
    assert_close(per_account.value, 4.0 / 3.0, "tickets per account");
    assert_eq!(per_account.n, 3, "n counts the accounts");
    let monthly = read_parquet(&out.join("sector_month.parquet"));
    let get =
        |sector: &str, month: &str, kpi: &str| row(&monthly, &[("sector", Some(sector))], Some(month), kpi, "value");
    // Retail: 1,500 of revenue, two tickets in January and one in February; banking: one ticket in February.
    assert_close(get("retail", "2026-01-01", "revenue_per_ticket").value, 750.0, "retail January");
    assert_close(get("retail", "2026-02-01", "revenue_per_ticket").value, 1500.0, "retail February");
    assert_close(get("bank", "2026-02-01", "revenue_per_ticket").value, 300.0, "bank February");
    assert_close(get("retail", "2026-01-01", "tickets_per_account").value, 1.0, "two tickets, two accounts");
    assert_eq!(monthly.height(), 6, "no row for banking in January, which has no ticket:\n{monthly}");
}

/// A ratio's side over another table than the KPI's own reads that table's attributes (regression: the
/// check of declared SQL before the segments evaluated it on the KPI's table, where the attribute is absent).
#[test]
fn a_ratio_side_reads_its_own_tables_attributes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.csv"), EXPORT_A).unwrap();
    std::fs::write(dir.path().join("b.csv"), EXPORT_B).unwrap();
    // Each answer records how many minutes the customer spent on the survey.
    let surveys = "id,ticket,at,score,minutes\ns1,1,2026-01-05 13:00:00,5,2\ns2,2,2026-01-06 11:00:00,1,4\n";
    std::fs::write(dir.path().join("s.csv"), surveys).unwrap();
    let sources = PIPELINE.split("metrics:").next().unwrap();
    let yaml = format!(
        "{sources}  s:\n    table: surveys\n    path: s.csv\n    attributes: {{ survey_minutes: minutes }}\n    \
         columns: {{ survey_id: id, ticket_id: ticket, submitted_at: at, score: score, kind: {{ constant: csat }} \
         }}\nmetrics:\n  survey_minutes_per_ticket: {{ ratio: [sum(surveys.survey_minutes), count(tickets)] }}\n  \
         tickets_per_survey_minute: {{ ratio: [count(tickets), sum(surveys.survey_minutes)] }}\nkpis: \
         [survey_minutes_per_ticket, tickets_per_survey_minute]\nsegments:\n  all: {{ by: [], grain: all }}\n\
         min_sample: 1\n"
    );
    let out = run_ok(dir.path(), &yaml);
    let all = read_parquet(&out.join("all.parquet"));
    // 2 + 4 minutes over five tickets; five tickets over 6 minutes.
    assert_close(row(&all, &[], None, "survey_minutes_per_ticket", "value").value, 6.0 / 5.0, "minutes per ticket");
    assert_close(row(&all, &[], None, "tickets_per_survey_minute", "value").value, 5.0 / 6.0, "tickets per minute");
}
