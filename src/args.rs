//! The command line: every command and option as clap reads them, and the parsers of their values.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::observe::LogFormat;

#[derive(Parser)]
#[command(
    name = "deskpulse",
    version,
    about = "Customer-support KPIs from helpdesk and CRM dumps, segmented and \
benchmarked by sector, written as Parquet and CSV."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    /// How stage logs and errors are written to standard error: `text`, or `json` (one object a line, for a
    /// scheduler to ship). Stage logs appear at level info: `RUST_LOG=info` (default warn).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
}

/// `deskpulse run`'s arguments.
#[derive(clap::Args)]
pub(crate) struct RunArgs {
    /// The pipeline file (YAML), e.g. pipelines/support_kpis.yaml.
    pub(crate) pipeline: PathBuf,
    /// Output directory (overrides `outputs.dir`); created if missing.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Judge unanswered tickets against their SLA at this instant (RFC 3339, or a date for its midnight
    /// UTC) instead of now: reruns over past periods give the figures they gave then.
    #[arg(long, value_parser = parse_as_of)]
    pub(crate) as_of: Option<jiff::Timestamp>,
    /// auto (default): Polars' streaming engine, one aggregation at a time, so memory stays bounded;
    /// `in-memory`, one joint plan that shares scans between segments but holds the tables; or `ballista`,
    /// the segments' group-bys on a Ballista cluster (`--cluster`; a build with `--features ballista`).
    #[arg(long, value_enum, default_value_t = EngineArg::Auto)]
    pub(crate) engine: EngineArg,
    /// With `--engine ballista`: the scheduler, df://HOST:PORT.
    #[arg(long)]
    pub(crate) cluster: Option<String>,
    /// With `--engine ballista`: where rows are handed to the executors, a directory they all read at the
    /// same path (default OUT/_exchange).
    #[arg(long)]
    pub(crate) exchange: Option<PathBuf>,
    /// With `--engine ballista`: the executors cannot read the store and the run's work folder (not on
    /// their shared filesystem), so the client hands every row over through the exchange directory.
    #[arg(long)]
    pub(crate) hand_over_rows: bool,
    /// Stage every input file again, ignoring what the store holds (the store is rewritten).
    #[arg(long)]
    pub(crate) full: bool,
    /// Exit 8 when the run raises an alert (`alerts:` in the pipeline); the outputs are written all the same.
    #[arg(long)]
    pub(crate) fail_on_alert: bool,
    /// Backfill: recompute the periods that start on or after this day (YYYY-MM-DD), and replace only
    /// those in the outputs.
    #[arg(long, value_parser = parse_date)]
    pub(crate) from: Option<jiff::civil::Date>,
    /// Backfill: recompute the periods that start before this day (YYYY-MM-DD).
    #[arg(long, value_parser = parse_date)]
    pub(crate) to: Option<jiff::civil::Date>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub(crate) quiet: bool,
    /// Fail instead of staging every file again when the store was written by another deskpulse
    /// version, or a source's mapping changed.
    #[arg(long)]
    pub(crate) no_restage: bool,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Run a pipeline: read its sources, compute every segment's KPI table, write Parquet and CSV.
    Run(RunArgs),
    /// What a run's store holds: files, rows, time spans and sizes per table.
    Store {
        /// The output directory (its `_store`), or a store folder.
        dir: PathBuf,
        /// Drop a retained file's rows (a file gone from a `retain: true` source), as listed by `store DIR`;
        /// the next run recomputes every period. Repeat for several files.
        #[arg(long, value_name = "PATH")]
        forget: Vec<String>,
    },
    /// The runs recorded in an output directory (`DIR/_runs`), oldest first.
    Runs {
        dir: PathBuf,
        #[arg(long, value_enum, default_value_t = RunsFormat::Table)]
        format: RunsFormat,
    },
    /// Write a self-contained HTML report of a run's outputs: charts over time, the sector references and
    /// peer quartiles, the best and worst segments, the run's definitions and quarantine counts.
    Report {
        /// The run's output directory.
        dir: PathBuf,
        /// Where to write the page (default DIR/report.html).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a pipeline file: every problem with its line, then the sources' files and columns.
    Validate {
        pipeline: PathBuf,
        /// Check the file only, without opening any source.
        #[arg(long)]
        no_data: bool,
        /// With `ballista`: also say what the cluster computes and what stays on the client.
        #[arg(long, value_enum, default_value_t = EngineArg::Auto)]
        engine: EngineArg,
    },
    /// Run a process of a Ballista cluster for `run --engine ballista` (a build with `--features ballista`).
    #[cfg(feature = "ballista")]
    Cluster {
        #[command(subcommand)]
        role: ClusterRole,
    },
    /// List the KPI catalog with exact definitions, units, directions and inputs.
    Kpis {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Also list the KPIs this pipeline declares (`metrics:`).
        #[arg(long)]
        pipeline: Option<PathBuf>,
    },
    /// Print the validated plan and the optimised Polars plan of each output.
    Explain { pipeline: PathBuf },
    /// Print the JSON Schema of the pipeline format (for editors and CI checks).
    Schema,
    /// Start a pipeline from a vendor preset: writes DIR/pipeline.yaml, mapping that vendor's export field
    /// names, and a tiny sample in that shape under DIR/data/ (never overwriting a file).
    Init {
        /// zendesk, freshdesk, zammad, servicenow, intercom or generic.
        #[arg(long)]
        preset: String,
        /// The folder to write into (created if missing).
        dir: PathBuf,
    },
    /// Write a deterministic synthetic dump (tickets, ratings, accounts) and its pipeline, for scale tests.
    Generate {
        /// Number of tickets.
        #[arg(long)]
        tickets: u64,
        /// Same seed, same files.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// A new or empty directory.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, value_enum, default_value_t = GenFormat::Csv)]
        format: GenFormat,
        /// Years the tickets are spread over, from 2025-01-01 (three give 36 monthly periods).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=20))]
        years: u32,
    },
    /// One account's KPIs against its sector: peers' quartiles, its rank, the reference figures (reads the
    /// benchmark tables a run wrote).
    Scorecard {
        /// The pipeline file; its `outputs.dir` is read unless `--out` says otherwise.
        pipeline: PathBuf,
        /// The account, as in `account_id`.
        #[arg(long)]
        account: String,
        /// The output directory of the run to read.
        #[arg(long)]
        out: Option<PathBuf>,
        /// The period to show (its first day, YYYY-MM-DD); default the account's latest.
        #[arg(long)]
        period: Option<String>,
        #[arg(long, value_enum, default_value_t = CardFormat::Table)]
        format: CardFormat,
    },
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
pub(crate) enum EngineArg {
    Auto,
    Streaming,
    InMemory,
    Ballista,
}

#[cfg(feature = "ballista")]
#[derive(Subcommand)]
pub(crate) enum ClusterRole {
    /// The scheduler: plans queries and hands tasks to the executors.
    Scheduler {
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        #[arg(long, default_value_t = 50050)]
        port: u16,
    },
    /// An executor: runs tasks, reading the exchange directory and serving results to the others.
    Executor {
        /// The scheduler's HOST:PORT.
        #[arg(long, default_value = "127.0.0.1:50050")]
        scheduler: String,
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        /// The port results are fetched from (Arrow Flight).
        #[arg(long, default_value_t = 50051)]
        port: u16,
        /// The port the scheduler calls.
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        /// Where shuffle files go (default a temporary directory).
        #[arg(long)]
        work_dir: Option<PathBuf>,
        /// Tasks run at once (default the machine's cores).
        #[arg(long)]
        concurrent_tasks: Option<usize>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum RunsFormat {
    Table,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum GenFormat {
    Csv,
    Parquet,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum CardFormat {
    Table,
    Csv,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    Table,
    Json,
    Markdown,
}

pub(crate) fn parse_as_of(text: &str) -> Result<jiff::Timestamp, String> {
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    text.parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|z| z.timestamp())
        .ok_or_else(|| {
            format!("`{text}` is neither an RFC 3339 instant (2026-07-01T00:00:00Z) nor a date (2026-07-01)")
        })
}

pub(crate) fn parse_date(text: &str) -> Result<jiff::civil::Date, String> {
    text.parse::<jiff::civil::Date>().map_err(|_| format!("`{text}` is not a date (YYYY-MM-DD)"))
}
