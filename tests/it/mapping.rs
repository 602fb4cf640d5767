//! Column-mapping transforms and source formats, with expectations worked out by hand.

use crate::common::*;

use polars::prelude::*;

/// `tests/fixtures/mapping/tickets.csv`: a French export, `;`-separated, decimal commas, local Paris times.
/// A1 opens 29/03/2026 01:30 CET (00:30 UTC) and is answered 03:30 CEST (01:30 UTC), across the spring-forward
/// change: 3,600 s, not 7,200. A2 opens 02:30 on 25/10/2026, an hour that happens twice when clocks go back:
/// the earlier instant is taken for both times (00:30 and 00:45 UTC): 900 s. A3 opens 23:30 on 2 January
/// Paris, which is 22:30 UTC the same day, and is answered 40 minutes later: 2,400 s, in January.
#[test]
fn local_times_convert_to_utc_across_dst_changes() {
    let out = run(&root().join("tests/fixtures/mapping/pipeline.yaml"));
    let by = read_parquet(&out.path().join("by_channel_month.parquet"));
    let frt = |channel: &str, month: &str| {
        row(&by, &[("channel", Some(channel))], Some(month), "first_response_time", "mean").value
    };
    assert_eq!(frt("phone", "2026-03-01"), 3_600.0);
    assert_eq!(frt("chat", "2026-10-01"), 900.0);
    assert_eq!(frt("phone", "2026-01-01"), 2_400.0);

    // grain `all` over the declared window: one period starting on the window's first day.
    let all = read_parquet(&out.path().join("overall_all.parquet"));
    let day = Some("2026-01-01");
    assert_close(row(&all, &[], day, "first_response_time", "mean").value, 6_900.0 / 3.0, "mean");
    assert_close(row(&all, &[], day, "first_response_time", "median").value, 2_400.0, "median");
    // `Escalade`: oui / non / NON → true, false, false.
    assert_close(row(&all, &[], day, "escalation_rate", "value").value, 100.0 / 3.0, "escalation");
    // `Durée (min)` 2,5 and 10,0 minutes through a SQL expression: 150 s and 600 s.
    let aht = row(&all, &[], day, "handle_time", "mean");
    assert_eq!((aht.value, aht.n), (375.0, 2));
    // Done oui → solved (resolved), non → open: A1 and A3 of 3.
    assert_close(row(&all, &[], day, "resolution_rate", "value").value, 200.0 / 3.0, "resolution");
}

/// The hand fixture's tickets converted to Parquet (typed columns) and to NDJSON give the same KPI table as
/// the CSV.
#[test]
fn parquet_and_ndjson_sources_give_the_csv_results() {
    let hand = root().join("tests/fixtures/hand");
    let dir = tempfile::tempdir().unwrap();
    for f in ["surveys.csv", "accounts.csv"] {
        std::fs::copy(hand.join(f), dir.path().join(f)).unwrap();
    }
    let mut tickets = CsvReadOptions::default()
        .with_infer_schema_length(Some(100))
        .try_into_reader_with_file_path(Some(hand.join("tickets.csv")))
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(tickets.column("reopens").unwrap().dtype(), &DataType::Int64, "typed columns in the Parquet file");
    ParquetWriter::new(std::fs::File::create(dir.path().join("tickets.parquet")).unwrap())
        .finish(&mut tickets)
        .unwrap();
    JsonWriter::new(std::fs::File::create(dir.path().join("tickets.ndjson")).unwrap())
        .with_json_format(JsonFormat::JsonLines)
        .finish(&mut tickets)
        .unwrap();
    let pipeline = std::fs::read_to_string(hand.join("pipeline.yaml")).unwrap();
    let baseline = run(&hand.join("pipeline.yaml"));
    let expected = std::fs::read(baseline.path().join("overall.csv")).unwrap();
    for ext in ["parquet", "ndjson"] {
        let path = dir.path().join(format!("{ext}.yaml"));
        std::fs::write(&path, pipeline.replace("path: tickets.csv", &format!("path: tickets.{ext}"))).unwrap();
        let out = run(&path);
        let got = std::fs::read(out.path().join("overall.csv")).unwrap();
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&expected), "{ext} differs from csv");
    }
}
