//! The committed docs are generated from the code: these tests fail when they drift apart.
//! Regenerate with `cargo run --release -- kpis --format markdown > docs/kpis.md` and
//! `cargo run --release -- schema > docs/pipeline.schema.json`.

use crate::common;

#[test]
fn kpi_docs_match_the_catalog() {
    let committed = std::fs::read_to_string(common::root().join("docs/kpis.md")).unwrap();
    assert_eq!(
        committed,
        deskpulse::catalog::markdown(&deskpulse::catalog::docs()),
        "docs/kpis.md is stale: regenerate it"
    );
}

#[test]
fn committed_schema_matches_the_types() {
    let committed = std::fs::read_to_string(common::root().join("docs/pipeline.schema.json")).unwrap();
    assert_eq!(committed.trim_end(), deskpulse::spec::json_schema(), "docs/pipeline.schema.json is stale");
}

#[test]
fn every_catalog_kpi_is_in_the_docs_with_its_unit_and_direction() {
    let md = deskpulse::catalog::markdown(&deskpulse::catalog::docs());
    for k in deskpulse::catalog::CATALOG {
        let line = format!("| [`{}`](#{}) |", k.name, k.name);
        assert!(md.contains(&line), "{} missing from the summary table", k.name);
        assert!(md.contains(&format!("## {}\n", k.name)), "{} has no section", k.name);
    }
}
