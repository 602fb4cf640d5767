//! `deskpulse report`: the sample run's page rendered by headless Chromium. Every chart is drawn (SVG with
//! marks), nothing is logged to the console, a screenshot is kept (`$CARGO_TARGET_TMPDIR/report/report.png`),
//! and the numbers the page carries equal the run's outputs, computed again here from the Parquet tables.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
use polars::prelude::*;

fn deskpulse(args: &[&str]) {
    let o = Command::new(env!("CARGO_BIN_EXE_deskpulse")).args(args).output().expect("binary runs");
    assert!(o.status.success(), "deskpulse {args:?}: {}", String::from_utf8_lossy(&o.stderr));
}

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser"].iter().find_map(|name| {
        std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(name)).find(|p| p.is_file())
    })
}

/// Chromium, or `None` (the test is skipped) on a machine without it; CI requires it.
fn chromium_or_skip() -> Option<PathBuf> {
    let found = chromium();
    if found.is_none() {
        let required = std::env::var_os("DESKPULSE_REQUIRE_BROWSER").is_some();
        assert!(!required, "the report test needs Chromium here (.ci/run installs it)");
        eprintln!("skipped: no chromium on this machine (.ci/run installs it)");
    }
    found
}

/// Headless Chromium with the flags this machine's closed network needs, on `page`.
fn headless(browser: &Path, page: &Path, extra: &[&str]) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        .args(["--disable-component-update", "--disable-sync", "--no-first-run", "--enable-logging=stderr", "--v=0"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium starts")
}

/// The attributes of every `<tag …>` element in `html`.
fn elements(html: &str, tag: &str) -> Vec<BTreeMap<String, String>> {
    let open = format!("<{tag} ");
    html.match_indices(&open)
        .map(|(at, _)| {
            let end = at + html[at..].find('>').expect("closed tag");
            let mut attrs = BTreeMap::new();
            let mut rest = &html[at + open.len()..end];
            while let Some(eq) = rest.find("=\"") {
                let name = rest[..eq].trim().to_string();
                let value_end = eq + 2 + rest[eq + 2..].find('"').expect("closed attribute");
                attrs.insert(name, rest[eq + 2..value_end].replace("&amp;", "&"));
                rest = &rest[value_end + 1..];
            }
            attrs
        })
        .collect()
}

fn value(attrs: &BTreeMap<String, String>) -> f64 {
    attrs["data-value"].parse().unwrap()
}

#[test]
fn the_sample_report_renders_in_chromium_with_the_runs_numbers() {
    let Some(browser) = chromium_or_skip() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let pipeline = root().join("pipelines/support_kpis.yaml");
    deskpulse(&["run", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap(), "--as-of", "2026-07-01", "-q"]);
    let page = tmp.path().join("report.html");
    deskpulse(&["report", out.to_str().unwrap(), "--out", page.to_str().unwrap()]);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "nothing loaded from the network");

    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join("report.png");
    let _ = std::fs::remove_file(&shot);
    let drawn = headless(&browser, &page, &["--window-size=1000,4200", &format!("--screenshot={}", shot.display())]);
    assert!(std::fs::metadata(&shot).map(|m| m.len() > 10_000).unwrap_or(false), "a screenshot: {drawn:?}");
    let dumped = headless(&browser, &page, &["--dump-dom"]);
    let dom = String::from_utf8(dumped.stdout).unwrap();
    let log = String::from_utf8_lossy(&dumped.stderr);
    assert!(!log.contains("CONSOLE") && !log.contains("Uncaught"), "console messages: {log}");

    // Every chart has marks: points on the line charts, bars on the bar charts.
    let charts: Vec<&str> = dom.split("<svg").skip(1).map(|s| &s[..s.find("</svg>").unwrap()]).collect();
    assert!(charts.len() >= 5, "{} charts", charts.len());
    for c in &charts {
        assert!(c.contains("<circle") || c.contains("<rect class=\"bar"), "a chart without marks: {}", &c[..200]);
    }

    // Ticket volume per channel and month, summed here from channel_month.
    let volume = read_parquet(&out.join("channel_month.parquet"))
        .lazy()
        .filter(col("kpi").eq(lit("ticket_volume")))
        .group_by([col("channel"), col("period_start").cast(DataType::String)])
        .agg([col("value").sum()])
        .collect()
        .unwrap();
    let points: Vec<_> = elements(&dom, "circle");
    let volume_points: Vec<_> =
        points.iter().filter(|p| p["data-series"] != "median" && p["data-series"] != "p90").collect();
    let channels = volume.column("channel").unwrap().str().unwrap().clone();
    let periods = volume.column("period_start").unwrap().str().unwrap().clone();
    let sums = volume.column("value").unwrap().f64().unwrap().clone();
    for i in 0..volume.height() {
        let (c, p, v) = (channels.get(i).unwrap(), periods.get(i).unwrap(), sums.get(i).unwrap());
        let drawn = volume_points.iter().find(|a| a["data-series"] == c && a["data-x"] == p);
        assert_eq!(drawn.map(|a| value(a)), Some(v), "volume of {c} in {p}");
    }

    // First response time, median and p90, as overall_month has them.
    let overall = read_parquet(&out.join("overall_month.parquet"));
    for stat in ["median", "p90"] {
        let drawn: Vec<_> = points.iter().filter(|p| p["data-series"] == stat).collect();
        assert!(!drawn.is_empty(), "{stat} drawn");
        for p in drawn {
            let r = row(&overall, &[], Some(p["data-x"].as_str()), "first_response_time", stat);
            assert_eq!(value(p), r.value, "{stat} in {}", p["data-x"]);
        }
    }

    // Bars against the sector reference: each is a sector's value in benchmarks/sector_month's last period.
    let sectors = read_parquet(&out.join("benchmarks/sector_month.parquet"));
    let with_reference = sectors.clone().lazy().filter(col("reference").is_not_null()).collect().unwrap();
    let last = with_reference.column("period_start").unwrap().cast(&DataType::String).unwrap();
    let last = last.str().unwrap().iter().flatten().max().unwrap().to_string();
    let bars = elements(&dom, "rect");
    let csat_bars: Vec<_> = dom
        .split("<h3>Customer satisfaction (CSAT)</h3>")
        .nth(1)
        .map(|s| elements(&s[..s.find("</svg>").unwrap()], "rect"))
        .unwrap();
    assert!(!csat_bars.is_empty(), "CSAT against its reference");
    for b in &csat_bars {
        let r = row(&sectors, &[("sector", Some(b["data-label"].as_str()))], Some(last.as_str()), "csat", "value");
        assert_eq!(value(b), r.value, "CSAT of {}", b["data-label"]);
    }
    assert!(bars.len() > csat_bars.len());

    // Headlines: June 2026 (complete by the as-of, 1 July), eight tiles, the other KPIs in a table below.
    let headlines = &dom[dom.find("<h2>Headlines</h2>").unwrap()..];
    let headlines = &headlines[..headlines.find("</section>").unwrap()];
    assert!(headlines.contains("June 2026, the latest complete period of overall_month"), "{}", &headlines[..300]);
    assert_eq!(headlines.matches("class=\"tile\"").count(), 8);
    assert!(headlines.contains("<th>Other KPIs</th>"));
    // CSAT's tile counts June's sectors by their verdict in benchmarks/sector_month, the worse ones named.
    let june = sectors
        .clone()
        .lazy()
        .filter(
            col("period_start")
                .cast(DataType::String)
                .eq(lit("2026-06-01"))
                .and(col("kpi").eq(lit("csat")))
                .and(col("stat").eq(lit("value")))
                .and(col("verdict").is_not_null()),
        )
        .collect()
        .unwrap();
    let verdicts: Vec<(String, String)> = june
        .column("sector")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .zip(june.column("verdict").unwrap().str().unwrap().iter())
        .map(|(s, v)| (s.unwrap().to_string(), v.unwrap().to_string()))
        .collect();
    let mut parts = Vec::new();
    for (verdict, words) in [("worse", "worse"), ("on_par", "on par"), ("better", "better")] {
        let named: Vec<&str> = verdicts.iter().filter(|(_, v)| v == verdict).map(|(s, _)| s.as_str()).collect();
        match named.len() {
            0 => {},
            1..=3 if verdict == "worse" => parts.push(format!("{} worse ({})", named.len(), named.join(", "))),
            n => parts.push(format!("{n} {words}")),
        }
    }
    assert!(!parts.is_empty(), "June has CSAT verdicts");
    let expected = format!("sectors vs reference: {}", parts.join(", "));
    let csat_tile = &headlines[headlines.find("Customer satisfaction (CSAT)</div>").unwrap()..];
    assert!(csat_tile[..csat_tile.find("</div></div>").unwrap()].contains(&expected), "{expected}: {csat_tile}");

    // The rankings: the best CSAT is the highest value of the ranked table's last period, low samples marked.
    let ranked: Vec<_> =
        elements(&dom, "tr").into_iter().filter(|t| t.get("data-kpi").map(String::as_str) == Some("csat")).collect();
    let accounts = read_parquet(&out.join("account_quarter.parquet"));
    let csat = accounts.lazy().filter(col("kpi").eq(lit("csat")).and(col("stat").eq(lit("value")))).collect().unwrap();
    let periods = csat.column("period_start").unwrap().cast(&DataType::String).unwrap();
    let last = periods.str().unwrap().iter().flatten().max().unwrap().to_string();
    let last_rows = csat.lazy().filter(col("period_start").cast(DataType::String).eq(lit(last))).collect().unwrap();
    let values: Vec<f64> = last_rows.column("value").unwrap().f64().unwrap().iter().flatten().collect();
    let low: Vec<bool> = last_rows.column("low_sample").unwrap().bool().unwrap().iter().flatten().collect();
    let best = values.iter().copied().fold(f64::MIN, f64::max);
    assert_eq!(value(&ranked[0]), best, "the best CSAT first");
    // A listed row is marked when the rows with its value are low samples (not hidden).
    for t in &ranked {
        let same: Vec<bool> = values.iter().zip(&low).filter(|(v, _)| **v == value(t)).map(|(_, l)| *l).collect();
        if same.iter().all(|l| *l) {
            assert_eq!(t["class"], "low", "{t:?}");
        } else if same.iter().all(|l| !*l) {
            assert_eq!(t["class"], "", "{t:?}");
        }
    }
    assert!(dom.contains("Definitions in force: resolved:"), "the footer names the definitions");
}

#[test]
fn a_pipeline_report_is_written_at_the_end_of_the_run_and_a_bad_name_is_refused() {
    let (dir, pipeline) = crate::cli::broken_fixture(|s| format!("{s}\nreport: pages/report.html\n"));
    let out = dir.path().join("out");
    deskpulse(&["run", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap(), "-q"]);
    let html = std::fs::read_to_string(out.join("pages/report.html")).expect("the run wrote its report");
    assert!(html.matches("<svg").count() >= 2 && html.contains("<circle"), "charts drawn");

    let (_dir, bad) = crate::cli::broken_fixture(|s| format!("{s}\nreport: ../report.html\n"));
    let o = Command::new(env!("CARGO_BIN_EXE_deskpulse"))
        .args(["validate", "--no-data", bad.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{text}");
    assert!(
        text.contains("`report` is an .html file name inside the output directory") && text.contains("pipeline.yaml:"),
        "{text}"
    );
}

#[test]
fn a_folder_without_tables_has_no_report() {
    let empty = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_deskpulse"))
        .args(["report", empty.path().to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && text.contains("no KPI tables in"), "{text}");
    assert!(!empty.path().join("report.html").exists(), "nothing written");
}

/// The report of a `hive` run (a folder of period parts per table) carries the same figures as a `single` one.
#[test]
fn the_report_reads_either_layout() {
    let marks = |layout: &str| {
        let (dir, pipeline) = crate::cli::broken_fixture(|s| format!("{s}\noutputs:\n  layout: {layout}\n"));
        let out = dir.path().join("out");
        deskpulse(&["run", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap(), "-q", "--as-of", "2026-07-01"]);
        if layout == "hive" {
            assert!(!out.join("overall_month.parquet").exists(), "the hive layout writes folders");
        }
        let page = dir.path().join("report.html");
        deskpulse(&["report", out.to_str().unwrap(), "--out", page.to_str().unwrap()]);
        let html = std::fs::read_to_string(page).unwrap();
        let mut values: Vec<String> = ["circle", "rect"]
            .iter()
            .flat_map(|tag| elements(&html, tag))
            .filter_map(|a| Some(format!("{}|{}|{}", a.get("data-series")?, a.get("data-x")?, a.get("data-value")?)))
            .collect();
        values.sort();
        values
    };
    let single = marks("single");
    assert!(single.len() > 5, "{single:?}");
    assert_eq!(marks("hive"), single);
}

/// A report a manager reads in a minute, at a laptop's 1280 px and a phone's 390 px: the alerts and the failed
/// data checks first, then headline tiles in people's words and units whose figures are the run's, with the
/// change against the period before and the target.
#[test]
fn the_headlines_read_back_at_laptop_and_phone_widths() {
    let Some(browser) = chromium_or_skip() else { return };
    let tmp = tempfile::tempdir().unwrap();
    // 70 days of 10 tickets a day answered in 30 min, 100 on 2026-02-10; a ticket of priority `asap`.
    let mut csv = String::from("id,created,first_reply,priority\n");
    let mut n = 0;
    for day in 0..70 {
        let date = jiff::civil::date(2026, 1, 1).checked_add(jiff::Span::new().days(day)).unwrap();
        for k in 0..(if date == jiff::civil::date(2026, 2, 10) { 100 } else { 10 }) {
            n += 1;
            let at = date.at(8, 0, 0, 0).checked_add(jiff::Span::new().minutes(k)).unwrap();
            let reply = at.checked_add(jiff::Span::new().minutes(30)).unwrap();
            let priority = if n == 7 { "asap" } else { "normal" };
            csv.push_str(&format!("{n},{at}Z,{reply}Z,{priority}\n"));
        }
    }
    std::fs::write(tmp.path().join("t.csv"), csv).unwrap();
    let yaml = "name: desk\nsources:\n  t: { table: tickets, path: t.csv, columns: { ticket_id: id, created_at: created, first_response_at: first_reply, priority: priority } }\n\
                expectations:\n  - { table: tickets, column: priority, accepted_values: [low, normal, high, urgent], severity: warn }\n\
                kpis:\n  - ticket_volume\n  - { name: first_response_time, stats: [median], target: 1h }\n\
                segments:\n  daily: { by: [], grain: day, compare: [previous] }\n  monthly: { by: [], grain: month, compare: [previous] }\n\
                alerts: { kpis: [ticket_volume] }\nreport: report.html\nmin_sample: 1\n";
    std::fs::write(tmp.path().join("p.yaml"), yaml).unwrap();
    let out = tmp.path().join("out");
    deskpulse(&[
        "run",
        tmp.path().join("p.yaml").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--as-of",
        "2026-03-12",
        "-q",
    ]);
    let page = out.join("report.html");
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report");
    std::fs::create_dir_all(&shots).unwrap();
    for (width, name) in [(1280, "headlines-1280.png"), (390, "headlines-390.png")] {
        let shot = shots.join(name);
        let _ = std::fs::remove_file(&shot);
        let size = format!("--window-size={width},2400");
        let drawn = headless(&browser, &page, &[&size, &format!("--screenshot={}", shot.display())]);
        assert!(
            std::fs::metadata(&shot).map(|m| m.len() > 10_000).unwrap_or(false),
            "a {width} px screenshot: {drawn:?}"
        );
    }
    let dumped = headless(&browser, &page, &["--window-size=390,2400", "--dump-dom"]);
    let dom = String::from_utf8(dumped.stdout).unwrap();
    // What needs a look comes first: the data check on `asap`, then the alert on 10 February's 100 tickets.
    let watch = dom.find("Needs a look").expect("a watch list");
    assert!(watch < dom.find("Headlines").expect("headlines"), "the watch list comes first");
    assert!(
        dom.contains("Data check: expectation `tickets_priority_accepted_values` (warn)") && dom.contains("'asap'")
    );
    assert!(
        dom.contains("Ticket volume daily on 2026-02-10: 100, above the expected"),
        "{}",
        &dom[watch..watch + 1500]
    );
    // Headlines: the latest complete day, 11 March 2026 (as of the 12th): 10 tickets, unchanged; the first
    // response median 30 min, a 1 h target met.
    let tiles = &dom[dom.find("Headlines").unwrap()..];
    assert!(tiles.contains("11 Mar 2026, the latest complete period of daily"), "{}", &tiles[..600]);
    assert!(
        tiles.contains("<div class=\"name\">Ticket volume</div><div class=\"figure\">10</div>"),
        "{}",
        &tiles[..900]
    );
    assert!(
        tiles.contains("First response time (median)</div><div class=\"figure\">30 min</div>"),
        "{}",
        &tiles[..900]
    );
    assert!(tiles.contains("target 1 h: met"), "{}", &tiles[..900]);
    // The page fits a phone: nothing wider than the viewport but the charts, which scale down.
    assert!(dom.contains("width=device-width") && dom.contains("svg{max-width:100%"));
}
