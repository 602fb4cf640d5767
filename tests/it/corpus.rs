//! The corpus of broken inputs (`tests/corpus/`): every broken pipeline and every broken data file gives
//! its expected exit code and message, never a panic or an internal error, and a data file that runs
//! accounts for every row: rows read = rows kept + rows quarantined.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::*;

fn deskpulse(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deskpulse")).args(args).output().expect("binary runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Never a bug's signs, whatever the input.
fn assert_no_bug(what: &str, o: &Output) {
    let all = text(o);
    assert!(!all.contains("panicked"), "{what}: panics:\n{all}");
    assert!(!all.contains("internal error"), "{what}: internal error:\n{all}");
    assert_ne!(o.status.code(), Some(1), "{what}: exit 1:\n{all}");
    assert_ne!(o.status.code(), Some(101), "{what}: exit 101:\n{all}");
}

/// `# expect: N` and `# message: …` from a corpus pipeline's first lines.
fn expectation(yaml: &str) -> (i32, String) {
    let field = |key: &str| {
        yaml.lines()
            .find_map(|l| l.strip_prefix(&format!("# {key}: ")))
            .unwrap_or_else(|| panic!("no `# {key}:` line"))
            .to_string()
    };
    (field("expect").parse().unwrap(), field("message"))
}

#[test]
fn every_broken_pipeline_fails_with_its_code_and_message() {
    let dir = root().join("tests/corpus/pipelines");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 40, "the corpus holds {} pipelines", files.len());
    let mut failures = Vec::new();
    for path in files {
        let (code, fragment) = expectation(&std::fs::read_to_string(&path).unwrap());
        let o = deskpulse(&["validate", path.to_str().unwrap()]);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert_no_bug(&name, &o);
        let all = text(&o);
        if o.status.code() != Some(code) || !all.contains(&fragment) {
            failures.push(format!(
                "{name}: exit {:?} (expected {code}), message must contain {fragment:?}:\n{all}",
                o.status.code()
            ));
        }
        // Every mistake of the file is located: `file:line:column`, or the data file's name.
        if code == 2 {
            let located = all.contains(&format!("{name}:"));
            if !located {
                failures.push(format!("{name}: the message names no line of the pipeline:\n{all}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} case(s) failed:\n\n{}", failures.len(), failures.join("\n\n"));
}

struct DataCase {
    file: String,
    on_error: String,
    code: i32,
    fragment: String,
    volume: Option<f64>,
}

fn data_cases() -> Vec<DataCase> {
    let list = std::fs::read_to_string(root().join("tests/corpus/data/cases.txt")).unwrap();
    list.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(" | ").map(str::trim).collect();
            DataCase {
                file: f[0].into(),
                on_error: f[1].into(),
                code: f[2].parse().unwrap(),
                fragment: f[3].into(),
                volume: f[4].parse().ok(),
            }
        })
        .collect()
}

fn data_pipeline(dir: &Path, case: &DataCase) -> std::path::PathBuf {
    let data = root().join("tests/corpus/data/broken").join(&case.file);
    let yaml = format!(
        "name: data_case\nsources:\n  t:\n    table: tickets\n    path: {}\n    on_error: {}\n    columns: {{ ticket_id: id, \
         created_at: created_at, resolved_at: solved_at, agent_id: assignee }}\nkpis: [ticket_volume]\nsegments:\n  s: \
         {{ by: [], grain: all }}\nmin_sample: 1\nmax_rejected_share: 1\n",
        data.display(),
        case.on_error
    );
    let path = dir.join(format!("{}.yaml", case.file));
    std::fs::write(&path, yaml).unwrap();
    path
}

/// `read tickets: N rows`, and the quarantined rows, from a run's report.
fn accounted_rows(stdout: &str) -> (u64, u64) {
    let number = |l: &str, prefix: &str| -> Option<u64> { l.strip_prefix(prefix)?.split(' ').next()?.parse().ok() };
    let read = stdout.lines().find_map(|l| number(l, "read tickets: ")).unwrap_or(0);
    let quarantined = stdout.lines().filter_map(|l| number(l, "quarantined tickets: ")).sum();
    (read, quarantined)
}

#[test]
fn every_broken_data_file_is_read_without_losing_or_inventing_rows() {
    let cases = data_cases();
    assert!(cases.len() >= 30, "the corpus holds {} data files", cases.len());
    let mut failures = Vec::new();
    // Each file through both CSV readers: read whole (files up to 256 MiB) and streamed.
    for (case, whole_limit) in cases.iter().flat_map(|c| [(c, None), (c, Some("0"))]) {
        let dir = tempfile::tempdir().unwrap();
        let pipeline = data_pipeline(dir.path(), case);
        let out = dir.path().join("out");
        let mut command = Command::new(env!("CARGO_BIN_EXE_deskpulse"));
        command.args(["run", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        if let Some(limit) = whole_limit {
            command.env("DESKPULSE_WHOLE_CSV_BYTES", limit);
        }
        let o = command.output().expect("binary runs");
        assert_no_bug(&case.file, &o);
        let all = text(&o);
        let mut problems = Vec::new();
        if o.status.code() != Some(case.code) {
            problems.push(format!("exit {:?}, expected {}", o.status.code(), case.code));
        }
        if !all.contains(&case.fragment) {
            problems.push(format!("no {:?} in the output", case.fragment));
        }
        if all.len() > 4_000 {
            problems.push(format!("the output is {} bytes long", all.len()));
        }
        if case.code == 0 && o.status.success() {
            let df = read_parquet(&out.join("s.parquet"));
            let volume = df
                .column("value")
                .unwrap()
                .f64()
                .unwrap()
                .iter()
                .zip(df.column("kpi").unwrap().str().unwrap().iter())
                .find_map(|(v, k)| (k == Some("ticket_volume")).then_some(v).flatten());
            if volume != case.volume {
                problems.push(format!("ticket_volume {volume:?}, expected {:?}", case.volume));
            }
            let (read, quarantined) = accounted_rows(&String::from_utf8_lossy(&o.stdout));
            let kept = volume.unwrap_or(0.0) as u64;
            if read != kept + quarantined {
                problems.push(format!("read {read} rows, but kept {kept} + quarantined {quarantined}"));
            }
        }
        if !problems.is_empty() {
            let reader = if whole_limit.is_some() { "streamed" } else { "read whole" };
            failures.push(format!("{} ({reader}): {}\n{all}", case.file, problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{} case(s) failed:\n\n{}", failures.len(), failures.join("\n\n"));
}
