//! The cluster's processes as deskpulse subcommands (`deskpulse cluster scheduler|executor`): Ballista's
//! scheduler and executor libraries, so that a cluster runs the same build of DataFusion as the client.

use std::path::PathBuf;
use std::sync::Arc;

use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;

use crate::error::Error;

fn runtime(what: &str) -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Deep plans recurse: Ballista's own binaries run with this stack.
        .thread_stack_size(32 * 1024 * 1024)
        .build()
        .map_err(|e| Error::Internal(format!("{what}: {e}")))
}

/// Runs a scheduler listening on `bind:port` until the process is stopped.
pub fn scheduler(bind: &str, port: u16) -> Result<(), Error> {
    let url = format!("df://{bind}:{port}");
    let fail = |e: &dyn std::fmt::Display| Error::Cluster { url: url.clone(), message: e.to_string() };
    let address = format!("{bind}:{port}").parse().map_err(|e| fail(&e))?;
    let config = SchedulerConfig { bind_host: bind.to_string(), bind_port: port, ..Default::default() };
    runtime("scheduler")?.block_on(async {
        let cluster = BallistaCluster::new_from_config(&config).await.map_err(|e| fail(&e))?;
        start_server(cluster, address, Arc::new(config)).await.map_err(|e| fail(&e))
    })
}

/// What an executor is told at its start.
pub struct ExecutorOptions {
    /// The scheduler's `HOST:PORT`.
    pub scheduler: String,
    pub bind: String,
    /// The port tasks' results are fetched from (Arrow Flight), and the gRPC port the scheduler calls.
    pub port: u16,
    pub grpc_port: u16,
    /// Where shuffle files are written (a temporary directory when not given).
    pub work_dir: Option<PathBuf>,
    /// Tasks run at once (default: the machine's cores).
    pub concurrent_tasks: Option<usize>,
}

/// Runs an executor registered with its scheduler until the process is stopped.
pub fn executor(options: ExecutorOptions) -> Result<(), Error> {
    let url = format!("df://{}", options.scheduler);
    let fail = |message: String| Error::Cluster { url: url.clone(), message };
    let (host, port) = options
        .scheduler
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
        .ok_or_else(|| fail("expected the scheduler as HOST:PORT".into()))?;
    let mut config = ExecutorProcessConfig {
        bind_host: options.bind.clone(),
        external_host: Some(options.bind.clone()),
        port: options.port,
        grpc_port: options.grpc_port,
        scheduler_host: host,
        scheduler_port: port,
        scheduler_connect_timeout_seconds: 10,
        work_dir: options.work_dir.map(|d| d.to_string_lossy().to_string()),
        print_thread_info: false,
        ..Default::default()
    };
    if let Some(n) = options.concurrent_tasks {
        config.vcores = n;
    }
    runtime("executor")?.block_on(start_executor_process(Arc::new(config))).map_err(|e| fail(e.to_string()))
}
