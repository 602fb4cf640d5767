//! The distributed engine against the local one, on a real Ballista cluster on loopback: one scheduler and
//! two executors, each a `deskpulse cluster` process started and stopped here. Every output table must have
//! the local run's bytes (a quantile's interpolation is one formula for both engines), and the quarantined
//! rows must be the same rows. A
//! cluster that is not there, or loses an executor, must fail clearly and leave the outputs as they were.

use crate::common::*;

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_deskpulse"))
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for_port(port: u16, what: &str) {
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "{what} did not listen on {port} within 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One scheduler and two executors on loopback, stopped when dropped.
struct LocalCluster {
    url: String,
    scheduler: Child,
    executors: Vec<Child>,
    _work: tempfile::TempDir,
}

impl LocalCluster {
    fn start() -> LocalCluster {
        let work = tempfile::tempdir().unwrap();
        let port = free_port();
        let scheduler = bin()
            .args(["cluster", "scheduler", "--bind", "127.0.0.1", "--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for_port(port, "the scheduler");
        let executors: Vec<Child> = (0..2)
            .map(|i| {
                let (flight, grpc) = (free_port(), free_port());
                let dir = work.path().join(format!("executor-{i}"));
                std::fs::create_dir_all(&dir).unwrap();
                let child = bin()
                    .args(["cluster", "executor", "--scheduler", &format!("127.0.0.1:{port}"), "--bind", "127.0.0.1"])
                    .args(["--port", &flight.to_string(), "--grpc-port", &grpc.to_string()])
                    .args(["--work-dir", dir.to_str().unwrap(), "--concurrent-tasks", "2"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                wait_for_port(flight, "an executor");
                child
            })
            .collect();
        // The executors register with the scheduler right after they listen.
        std::thread::sleep(Duration::from_secs(1));
        LocalCluster { url: format!("df://127.0.0.1:{port}"), scheduler, executors, _work: work }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for child in self.executors.iter_mut().chain([&mut self.scheduler]) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn run(pipeline: &Path, out: &Path, cluster: Option<&str>) -> Output {
    let mut command = bin();
    command.args(["run", pipeline.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"]);
    command.args(["--as-of", "2026-07-01T00:00:00Z"]);
    if let Some(url) = cluster {
        // Where each table's rows come from is logged at info.
        command.args(["--engine", "ballista", "--cluster", url]).env("RUST_LOG", "info");
    }
    // A lost executor must not hang the test: the run gives up after this long.
    command.env("DESKPULSE_CLUSTER_TIMEOUT", "90");
    command.output().unwrap()
}

fn assert_ran(o: &Output, what: &str) {
    assert!(o.status.success(), "{what}: {}", String::from_utf8_lossy(&o.stderr));
}

/// The quarantined rows of both runs are the same rows.
fn assert_same_rejected(expected: &Path, actual: &Path) {
    let dir = expected.join("_rejected");
    let Ok(entries) = std::fs::read_dir(&dir) else { return };
    for entry in entries {
        let path = entry.unwrap().path();
        let (a, b) = (read_parquet(&path), read_parquet(&actual.join("_rejected").join(path.file_name().unwrap())));
        assert!(a.equals_missing(&b), "{} differs", path.display());
    }
}

/// Runs `pipeline` locally and on `cluster`, checks that they wrote the same, and gives the cluster run's
/// standard error.
fn assert_same_run(pipeline: &Path, cluster: &LocalCluster, at_least: usize) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let (local, distributed) = (tmp.path().join("local"), tmp.path().join("ballista"));
    assert_ran(&run(pipeline, &local, None), "local run");
    let on_cluster = run(pipeline, &distributed, Some(&cluster.url));
    assert_ran(&on_cluster, "ballista run");
    assert_same_tables(&local, &distributed, at_least);
    assert_same_rejected(&local, &distributed);
    assert!(!distributed.join("_exchange").read_dir().is_ok_and(|mut d| d.next().is_some()), "rows left over");
    String::from_utf8_lossy(&on_cluster.stderr).to_string()
}

/// A dump from `deskpulse generate` with `tickets` tickets.
fn generated(tickets: u32, seed: &str) -> tempfile::TempDir {
    let dump = tempfile::tempdir().unwrap();
    let out = dump.path().to_str().unwrap();
    let o = bin().args(["generate", "--tickets", &tickets.to_string(), "--seed", seed, "--out", out]).output().unwrap();
    assert_ran(&o, "generate");
    dump
}

/// Whether a cluster run's log says the executors read `table`'s rows from the store's parts.
fn read_from_store(stderr: &str, table: &str) -> bool {
    stderr.contains(&format!("{table}: the executors read its rows from the store's parts"))
}

#[test]
fn the_cluster_writes_what_a_local_run_writes() {
    let cluster = LocalCluster::start();
    let stderr = assert_same_run(&root().join("pipelines/support_kpis.yaml"), &cluster, 10);
    assert!(read_from_store(&stderr, "kb_articles"), "{stderr}");
    assert!(!read_from_store(&stderr, "tickets"), "tickets are completed from their messages on the client");
    // The catalog's hand-checked fixture: the `all` grain without a window, where per-agent-day rates count
    // the days between each group's first and last ticket.
    let stderr = assert_same_run(&root().join("tests/fixtures/catalog/pipeline.yaml"), &cluster, 3);
    assert!(read_from_store(&stderr, "tickets"), "the answered tickets are a lookup: {stderr}");

    let dump = generated(200_000, "7");
    let stderr = assert_same_run(&dump.path().join("pipeline-core.yaml"), &cluster, 1);
    assert!(read_from_store(&stderr, "tickets"), "{stderr}");
    assert!(!read_from_store(&stderr, "surveys"), "answers take their tickets' columns on the client");
}

#[test]
fn cluster_executors_reading_the_store_keep_the_rows_a_local_run_keeps() {
    let cluster = LocalCluster::start();
    let dump = generated(20_000, "11");
    // Repeated ids, which only a judgement over the whole table finds: the client hands their places over.
    let tickets = dump.path().join("zendesk/tickets-00000.csv");
    let text = std::fs::read_to_string(&tickets).unwrap();
    let again: String = text.lines().skip(1).take(40).map(|l| format!("{l}\n")).collect();
    std::fs::write(&tickets, format!("{text}{again}")).unwrap();
    let pipeline = dump.path().join("pipeline-core.yaml");
    let stderr = assert_same_run(&pipeline, &cluster, 1);
    assert!(read_from_store(&stderr, "tickets"), "{stderr}");

    let out = tempfile::tempdir().unwrap();
    let (local, handed) = (out.path().join("local"), out.path().join("handed"));
    assert_ran(&run(&pipeline, &local, None), "local run");
    let rejected = read_parquet(&local.join("_rejected/tickets.parquet"));
    let reasons = rejected.column("reason").unwrap().str().unwrap().iter();
    assert_eq!(reasons.filter(|r| *r == Some("duplicate_id")).count(), 80, "both copies of 40 ids");

    // Executors that cannot read the store: the client hands the rows over, and the tables are the same.
    let mut command = bin();
    command.args(["run", pipeline.to_str().unwrap(), "--out", handed.to_str().unwrap(), "--quiet"]);
    command.args(["--as-of", "2026-07-01T00:00:00Z", "--engine", "ballista", "--cluster", &cluster.url]);
    let o = command.args(["--hand-over-rows"]).env("RUST_LOG", "info").output().unwrap();
    assert_ran(&o, "ballista run, rows handed over");
    assert!(!read_from_store(&String::from_utf8_lossy(&o.stderr), "tickets"));
    assert_same_tables(&local, &handed, 1);
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().to_path_buf(), std::fs::read(e.path()).unwrap()))
        .collect();
    files.sort();
    files
}

/// The output tables under `dir` with their bytes: not the store, run records, lock or exchange, which a
/// failed run may add to.
fn output_tables(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let bookkeeping = ["_store", "_runs", "_exchange"].map(|d| dir.join(d));
    snapshot(dir)
        .into_iter()
        .filter(|(p, _)| !bookkeeping.iter().any(|b| p.starts_with(b)))
        .filter(|(p, _)| p.extension().is_some_and(|e| e == "parquet" || e == "csv" || e == "html"))
        .collect()
}

#[test]
fn an_unreachable_scheduler_fails_before_any_work_and_touches_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let pipeline = root().join("pipelines/support_kpis.yaml");
    assert_ran(&run(&pipeline, tmp.path(), None), "local run");
    let before = snapshot(tmp.path());
    let o = run(&pipeline, tmp.path(), Some(&format!("df://127.0.0.1:{}", free_port())));
    assert_eq!(o.status.code(), Some(6), "{}", String::from_utf8_lossy(&o.stderr));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("no scheduler answers"), "{stderr}");
    assert_eq!(snapshot(tmp.path()), before);
}

/// A generated dump, its local run's outputs, and an earlier run's outputs that a failed run must leave as
/// they are.
struct Scene {
    _dump: tempfile::TempDir,
    pipeline: std::path::PathBuf,
    _tmp: tempfile::TempDir,
    local: std::path::PathBuf,
    out: std::path::PathBuf,
}

fn scene(seed: &str) -> Scene {
    let dump = generated(200_000, seed);
    let pipeline = dump.path().join("pipeline.yaml");
    let tmp = tempfile::tempdir().unwrap();
    let (local, out) = (tmp.path().join("local"), tmp.path().join("ballista"));
    assert_ran(&run(&pipeline, &local, None), "local run");
    assert_ran(&run(&pipeline, &out, None), "earlier run");
    Scene { _dump: dump, pipeline, _tmp: tmp, local, out }
}

/// A run on `cluster` into `scene.out`, with `fault` done to the cluster once the client hands rows over,
/// that is while the cluster works.
fn run_with_fault(
    scene: &Scene,
    cluster: &mut LocalCluster,
    timeout: &str,
    fault: impl FnOnce(&mut LocalCluster),
) -> Output {
    let mut command = bin();
    command.args(["run", scene.pipeline.to_str().unwrap(), "--out", scene.out.to_str().unwrap(), "--quiet"]);
    command.args(["--as-of", "2026-07-01T00:00:00Z", "--engine", "ballista", "--cluster", &cluster.url, "--full"]);
    let child = command.env("DESKPULSE_CLUSTER_TIMEOUT", timeout).stderr(Stdio::piped()).spawn().unwrap();
    let exchange = scene.out.join("_exchange");
    let started = Instant::now();
    while !exchange.read_dir().is_ok_and(|mut d| d.next().is_some()) && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    fault(cluster);
    child.wait_with_output().unwrap()
}

#[test]
fn a_lost_executor_gives_the_same_tables_or_a_clear_error_and_untouched_outputs() {
    let mut cluster = LocalCluster::start();
    let scene = scene("3");
    let before = output_tables(&scene.out);
    let o = run_with_fault(&scene, &mut cluster, "60", |c| c.executors[1].kill().unwrap());
    let stderr = String::from_utf8_lossy(&o.stderr);
    match o.status.code() {
        // Ballista ran the lost executor's tasks on the other.
        Some(0) => assert_same_tables(&scene.local, &scene.out, 1),
        Some(6) => {
            assert!(stderr.contains("cluster df://127.0.0.1"), "{stderr}");
            assert_eq!(output_tables(&scene.out), before, "a failed run changed the outputs");
        },
        other => panic!("exit {other:?}: {stderr}"),
    }
}

#[test]
fn losing_every_executor_fails_clearly_and_leaves_the_outputs_as_they_were() {
    let mut cluster = LocalCluster::start();
    let scene = scene("5");
    let before = output_tables(&scene.out);
    let o = run_with_fault(&scene, &mut cluster, "15", |c| {
        for executor in &mut c.executors {
            executor.kill().unwrap();
        }
    });
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(6), "{stderr}");
    assert!(stderr.contains("cluster df://127.0.0.1"), "{stderr}");
    assert_eq!(output_tables(&scene.out), before, "a failed run changed the outputs");
}
