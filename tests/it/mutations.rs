//! Property: however the sample pipeline is mutated (lines dropped or repeated, values swapped for other
//! keys, KPIs, numbers and punctuation), `validate` and `run` answer with a located error or a result,
//! never a panic or an internal error (exit 1).

use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::common::*;

/// Words a mutation may put in place of another: keys, KPI and dimension names, values of every type,
/// and YAML punctuation.
const VOCABULARY: &[&str] = &[
    "kpis",
    "segments",
    "sources",
    "columns",
    "stats",
    "grain",
    "by",
    "path",
    "table",
    "filter",
    "expr",
    "format",
    "csat",
    "nps",
    "backlog",
    "ticket_volume",
    "first_response_time",
    "resolution_time",
    "retention_rate",
    "cac",
    "sector",
    "channel",
    "agent_id",
    "week",
    "day",
    "all",
    "year",
    "p90",
    "avg",
    "mean",
    "[]",
    "{}",
    "-1",
    "0",
    "1e309",
    "99999999999999999999",
    "\"\"",
    "'",
    "\"",
    ":",
    "- ",
    "[",
    "{",
    "null",
    "~",
    "true",
    "2026-02-30",
    "1970-01-01",
    "%Q",
    "Europe/Pariss",
    "../nope/*.csv",
    "\"a <> \"",
    "tickets",
    "surveys",
    "accounts",
    "spend",
];

#[derive(Clone, Debug)]
enum Mutation {
    DropLine(usize),
    RepeatLine(usize),
    /// Replaces the `word`-th word-like token of a line with a vocabulary entry.
    Replace {
        line: usize,
        word: usize,
        with: usize,
    },
    /// Cuts a line after `at` characters.
    Truncate {
        line: usize,
        at: usize,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0..400usize).prop_map(Mutation::DropLine),
        (0..400usize).prop_map(Mutation::RepeatLine),
        (0..400usize, 0..8usize, 0..VOCABULARY.len()).prop_map(|(line, word, with)| Mutation::Replace {
            line,
            word,
            with
        }),
        (0..400usize, 0..60usize).prop_map(|(line, at)| Mutation::Truncate { line, at }),
    ]
}

fn apply(text: &str, mutations: &[Mutation]) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    for m in mutations {
        let n = lines.len().max(1);
        match m {
            Mutation::DropLine(i) => {
                if !lines.is_empty() {
                    lines.remove(i % n);
                }
            },
            Mutation::RepeatLine(i) => {
                if !lines.is_empty() {
                    let l = lines[i % n].clone();
                    lines.insert(i % n, l);
                }
            },
            Mutation::Replace { line, word, with } => {
                if lines.is_empty() {
                    continue;
                }
                let l = &lines[line % n];
                let spans: Vec<(usize, usize)> = l
                    .char_indices()
                    .filter(|(i, c)| {
                        c.is_alphanumeric()
                            && (*i == 0 || !l[..*i].ends_with(|p: char| p.is_alphanumeric() || p == '_'))
                    })
                    .map(|(i, _)| {
                        (i, l[i..].find(|c: char| !(c.is_alphanumeric() || c == '_')).map_or(l.len(), |e| i + e))
                    })
                    .collect();
                if spans.is_empty() {
                    continue;
                }
                let (s, e) = spans[word % spans.len()];
                lines[line % n] = format!("{}{}{}", &l[..s], VOCABULARY[*with], &l[e..]);
            },
            Mutation::Truncate { line, at } => {
                if lines.is_empty() {
                    continue;
                }
                let l = &mut lines[line % n];
                let cut = l.char_indices().nth(*at).map_or(l.len(), |(i, _)| i);
                l.truncate(cut);
            },
        }
    }
    lines.join("\n") + "\n"
}

/// A deterministic runner: the same cases on every machine, so that a failure reproduces.
fn runner(cases: u32) -> TestRunner {
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

fn sample_text() -> String {
    std::fs::read_to_string(root().join("pipelines/support_kpis.yaml")).unwrap()
}

/// Writes the mutated pipeline beside the shipped one, so that its relative paths still reach the sample.
fn write_mutant(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("mutant.yaml");
    std::fs::write(&path, text.replace("../sample_data/", &format!("{}/", root().join("sample_data").display())))
        .unwrap();
    path
}

#[test]
fn mutated_pipelines_never_panic_in_validate() {
    let original = sample_text();
    let dir = tempfile::tempdir().unwrap();
    runner(300)
        .run(&proptest::collection::vec(mutation(), 1..4), |mutations| {
            let path = write_mutant(dir.path(), &apply(&original, &mutations));
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match deskpulse::load_plan(&path) {
                    Ok(plan) => deskpulse::exec::check(&plan).err(),
                    Err(e) => Some(e),
                }));
            let error = outcome.map_err(|_| TestCaseError::fail(format!("panic for {mutations:?}")))?;
            if let Some(e) = error {
                prop_assert!(e.exit_code() != 1, "exit 1 for {mutations:?}: {e}");
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn mutated_pipelines_never_panic_in_run() {
    let original = sample_text();
    let dir = tempfile::tempdir().unwrap();
    runner(12)
        .run(&proptest::collection::vec(mutation(), 1..3), |mutations| {
            let path = write_mutant(dir.path(), &apply(&original, &mutations));
            let out = dir.path().join("out");
            let o = std::process::Command::new(env!("CARGO_BIN_EXE_deskpulse"))
                .args(["run", path.to_str().unwrap(), "--out", out.to_str().unwrap(), "--as-of", "2026-07-01"])
                .output()
                .unwrap();
            let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
            prop_assert!(!all.contains("panicked"), "panic for {mutations:?}:\n{all}");
            prop_assert!(
                o.status.code() != Some(1) && o.status.code() != Some(101),
                "bug exit for {mutations:?}:\n{all}"
            );
            Ok(())
        })
        .unwrap();
}

#[test]
fn mutations_change_the_text() {
    let original = sample_text();
    let m = [Mutation::Replace { line: 0, word: 0, with: 0 }];
    assert_ne!(apply(&original, &m), original);
    assert_eq!(apply("a: b\nc: d\n", &[Mutation::DropLine(1)]), "a: b\n");
}
