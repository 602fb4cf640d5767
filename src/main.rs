//! The command line: parses arguments, calls the library, renders errors with the pipeline line they point
//! at, and turns them into exit codes (see README). No KPI logic lives here.

// Errors carry rich context and travel only on the failure path (see lib.rs).
#![allow(clippy::result_large_err)]

mod args;
mod observe;
mod render;

/// `println!` that stops quietly when the reader has gone away (`deskpulse explain … | head -1`): a closed
/// pipe is the reader's choice, not an error, so the process exits 0 instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        if let Err(e) = writeln!(out, $($arg)*).and_then(|_| out.flush()) {
            exit_on_write_error(e);
        }
    }};
}

/// `print!` with the same closed-pipe rule as `say!`.
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        if let Err(e) = write!(out, $($arg)*).and_then(|_| out.flush()) {
            exit_on_write_error(e);
        }
    }};
}

fn exit_on_write_error(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(exit::OK);
    }
    eprintln!("error: cannot write to standard output: {e}");
    std::process::exit(exit::OUTPUT);
}

/// See Cargo.toml: returns freed memory to the system instead of holding it per thread.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use args::*;
use clap::Parser;
use deskpulse::{catalog, error::exit, exec, spec, Error};
use observe::LogFormat;

/// The error with every located problem, `file:line:column: message`, for a JSON log.
fn one_line(e: &Error) -> String {
    match e {
        Error::Plan(p) => p
            .diagnostics
            .iter()
            .map(|d| format!("{}:{}:{}: {}", p.path.display(), d.at.line, d.at.column, d.message))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

fn main() -> ExitCode {
    // Unwrapped lines: messages stay greppable in scheduler logs.
    let _ = miette::set_hook(Box::new(|_| Box::new(miette::MietteHandlerOpts::new().wrap_lines(false).build())));
    let cli = Cli::parse();
    let format = cli.log_format;
    observe::init_logs(format);
    match execute(cli.command, format) {
        Ok(()) => ExitCode::from(exit::OK as u8),
        Err(e) => {
            match format {
                LogFormat::Json => tracing::error!(event = "failed", exit_code = e.exit_code(), "{}", one_line(&e)),
                LogFormat::Text => render::error(&e),
            }
            ExitCode::from(e.exit_code() as u8)
        },
    }
}

/// What a run did, for a person or a scheduler's log; the last line sums it up.
fn print_report(report: &exec::RunReport, out: &std::path::Path) {
    if let Some(holder) = &report.lock_taken_over {
        say!("took over the lock of a run that is gone: {holder}");
    }
    for folder in &report.removed_stale {
        say!("removed the work folder of an interrupted run: {}", folder.display());
    }
    for note in &report.notes {
        say!("{note}");
    }
    if let Some(why) = &report.store_discarded {
        say!("store not reused: {why}; every file is staged again");
    }
    for source in &report.remapped {
        say!("source `{source}`: its mapping changed since its files were staged; they are staged again");
    }
    if report.damaged_parts > 0 {
        say!("{} part(s) of the store were missing or cut short; their files are staged again", report.damaged_parts);
    }
    for (table, rows) in &report.rows {
        say!("read {table}: {rows} rows");
    }
    for (table, reason, rows) in &report.rejected {
        say!(
            "quarantined {table}: {rows} rows ({reason}) -> {}",
            out.join("_rejected").join(format!("{table}.parquet")).display()
        );
    }
    for (table, file, lines) in &report.blank_lines {
        say!("skipped {table}: {lines} blank line(s) in {file}");
    }
    for (table, rows) in &report.superseded {
        say!("superseded {table}: {rows} older copies dropped (duplicates: keep_latest)");
    }
    for (name, rows, paths) in &report.outputs {
        let files: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        say!("wrote {name}: {rows} rows -> {}", files.join(", "));
    }
    let what = match &report.unchanged_since {
        Some(run) => format!("nothing changed since run {run}: outputs kept"),
        None => format!("{} output(s) written", report.outputs.len()),
    };
    say!(
        "done in {:.2} s: {} file(s) staged, {} reused; {what}; run {}",
        report.seconds,
        report.files_staged,
        report.files_reused,
        report.run_id
    );
}

/// `options` with a connection to the cluster at `url`.
#[cfg(feature = "ballista")]
fn with_cluster(
    mut options: exec::RunOptions,
    plan: &deskpulse::plan::Plan,
    url: &str,
    exchange: &std::path::Path,
    hand_over_rows: bool,
) -> Result<exec::RunOptions, Error> {
    tracing::info!(event = "cluster", url, "{}", deskpulse::distributed::coverage(plan));
    options.cluster = Some(deskpulse::distributed::Cluster::connect(url, exchange)?);
    options.hand_over_rows = hand_over_rows;
    Ok(options)
}

#[cfg(not(feature = "ballista"))]
fn with_cluster(
    _: exec::RunOptions,
    _: &deskpulse::plan::Plan,
    _: &str,
    _: &std::path::Path,
    _: bool,
) -> Result<exec::RunOptions, Error> {
    Err(without_ballista())
}

#[cfg(feature = "ballista")]
fn coverage(plan: &deskpulse::plan::Plan) -> Result<String, Error> {
    Ok(deskpulse::distributed::coverage(plan).to_string())
}

#[cfg(not(feature = "ballista"))]
fn coverage(_: &deskpulse::plan::Plan) -> Result<String, Error> {
    Err(without_ballista())
}

#[cfg(not(feature = "ballista"))]
fn without_ballista() -> Error {
    Error::Usage(
        "this deskpulse was built without the distributed engine: build it with `cargo build --release --features \
         ballista`"
            .into(),
    )
}

/// `deskpulse run`: the plan built for the command line's settings, run, and its report printed.
fn run_command(args: RunArgs, log_format: LogFormat) -> Result<(), Error> {
    let RunArgs {
        pipeline,
        out,
        as_of,
        engine,
        cluster,
        exchange,
        hand_over_rows,
        full,
        fail_on_alert,
        from,
        to,
        quiet,
        no_restage,
    } = args;
    if cluster.is_some() != (engine == EngineArg::Ballista) {
        return Err(Error::Usage("--engine ballista and --cluster df://HOST:PORT go together".into()));
    }
    if hand_over_rows && cluster.is_none() {
        return Err(Error::Usage("--hand-over-rows goes with --engine ballista".into()));
    }
    let engine = match engine {
        EngineArg::Auto | EngineArg::Ballista => deskpulse::plan::EngineChoice::Auto,
        EngineArg::Streaming => deskpulse::plan::EngineChoice::Streaming,
        EngineArg::InMemory => deskpulse::plan::EngineChoice::InMemory,
    };
    let plan = deskpulse::load_plan_with(&pipeline, deskpulse::plan::RunSettings { as_of, engine })?;
    let Some(out) = out.or_else(|| plan.output_dir.clone()) else {
        return Err(Error::Output {
            path: pipeline,
            message: "no output directory: pass --out DIR or set outputs.dir in the pipeline".into(),
        });
    };
    // A scheduler's SIGTERM or a Ctrl-C stops the run as a failure does (exit 143 or 130), not half-way.
    exec::interrupt::install().map_err(|e| Error::Internal(format!("cannot catch SIGTERM and SIGINT: {e}")))?;
    let observer = observe::observer(quiet);
    #[allow(unused_mut)]
    let mut options =
        exec::RunOptions { full, from, to, no_restage, on_stage: Some(observer.hook()), ..Default::default() };
    if let Some(url) = cluster {
        let exchange = exchange.unwrap_or_else(|| out.join("_exchange"));
        options = with_cluster(options, &plan, &url, &exchange, hand_over_rows)?;
    }
    let result = exec::run_with(&plan, &out, &options);
    observer.clear();
    let report = result?;
    for w in &report.warnings {
        observe::warning(log_format, w);
    }
    tracing::info!(
        event = "done",
        run_id = %report.run_id,
        seconds = report.seconds,
        files_staged = report.files_staged,
        files_reused = report.files_reused,
        unchanged_since = report.unchanged_since.as_deref(),
        outputs = report.outputs.len(),
        "run {} done in {:.2} s",
        report.run_id,
        report.seconds
    );
    if !quiet {
        print_report(&report, &out);
    }
    if fail_on_alert && report.alerts > 0 {
        return Err(Error::Alerts { count: report.alerts, table: out.join("alerts.csv") });
    }
    Ok(())
}

/// `deskpulse kpis`: the catalog (and a pipeline's declared metrics) as a table, JSON or Markdown.
fn kpis_command(format: Format, pipeline: Option<PathBuf>) -> Result<(), Error> {
    let mut docs = catalog::docs();
    if let Some(p) = &pipeline {
        docs.extend(catalog::declared_docs(&deskpulse::load_plan(p)?.kpis));
    }
    match format {
        Format::Json => {
            let json = serde_json::to_string_pretty(&docs).map_err(|e| Error::Internal(e.to_string()))?;
            say!("{json}");
        },
        Format::Markdown => say_raw!("{}", catalog::markdown(&docs)),
        Format::Table => {
            for d in docs {
                say!("{:<22} {:<8} {:<8} better: {:<6} {}", d.name, d.table, d.unit, d.direction, d.definition);
            }
        },
    }
    Ok(())
}

/// `deskpulse init`: a preset's pipeline and folders written into `dir`.
fn init_command(preset: String, dir: PathBuf) -> Result<(), Error> {
    let Some(found) = deskpulse::presets::find(&preset) else {
        let names: Vec<String> =
            deskpulse::presets::PRESETS.iter().map(|p| format!("{} ({})", p.name, p.about)).collect();
        return Err(Error::Usage(format!("unknown preset `{preset}`; presets: {}", names.join("; "))));
    };
    let written = deskpulse::presets::write(found, &dir)?;
    for path in &written {
        say!("wrote {}", path.display());
    }
    say!(
        "{} preset ({}): put your exports under {}, then run: deskpulse run {} --out {}",
        found.name,
        found.about,
        dir.join("data").display(),
        dir.join("pipeline.yaml").display(),
        dir.join("out").display()
    );
    Ok(())
}

/// `deskpulse generate`: a dump shaped like a helpdesk's export, with its pipeline.
fn generate_command(tickets: u64, seed: u64, out: PathBuf, format: GenFormat, years: u32) -> Result<(), Error> {
    let format = match format {
        GenFormat::Csv => deskpulse::generate::FileFormat::Csv,
        GenFormat::Parquet => deskpulse::generate::FileFormat::Parquet,
    };
    let started = std::time::Instant::now();
    let g = deskpulse::generate::generate(tickets, seed, years, &out, format)?;
    say!(
        "generated {} tickets, {} messages, {} ratings, {} NPS/CES/eNPS answers, {} accounts in {} files \
         ({:.1} s); pipeline: {}",
        g.tickets,
        g.messages,
        g.ratings,
        g.answers,
        g.accounts,
        g.files,
        started.elapsed().as_secs_f64(),
        g.pipeline.display()
    );
    Ok(())
}

/// `deskpulse scorecard`: one account against its peers, from a run's benchmark tables.
fn scorecard_command(
    pipeline: PathBuf,
    account: String,
    out: Option<PathBuf>,
    period: Option<String>,
    format: CardFormat,
) -> Result<(), Error> {
    let plan = deskpulse::load_plan(&pipeline)?;
    let Some(out) = out.or_else(|| plan.output_dir.clone()) else {
        return Err(Error::Output {
            path: pipeline,
            message: "no output directory: pass --out DIR or set outputs.dir in the pipeline".into(),
        });
    };
    let card = exec::scorecard(&out, &account, period.as_deref())?;
    let format = match format {
        CardFormat::Table => exec::CardFormat::Table,
        CardFormat::Csv => exec::CardFormat::Csv,
        CardFormat::Json => exec::CardFormat::Json,
    };
    say_raw!("{}", exec::render_scorecard(card, format)?);
    Ok(())
}

fn execute(command: Command, log_format: LogFormat) -> Result<(), Error> {
    match command {
        Command::Run(args) => run_command(args, log_format)?,
        Command::Store { dir, forget } => {
            let store = if dir.join("manifest.json").is_file() { dir.clone() } else { dir.join("_store") };
            if !forget.is_empty() {
                // Under the output directory's lock, as a run changes the store.
                let _lock = deskpulse::sink::lock::Lock::acquire(&dir)?;
                for path in exec::store::forget(&store, &forget)? {
                    say!("forgot {path}: its rows leave the store; the next run recomputes every period");
                }
            }
            say_raw!("{}", exec::store::describe(&store)?);
        },
        Command::Runs { dir, format } => {
            let records = exec::run_records(&dir)?;
            match format {
                RunsFormat::Table => say_raw!("{}", exec::run_table(&records)),
                RunsFormat::Json => {
                    let json = serde_json::to_string_pretty(&records).map_err(|e| Error::Internal(e.to_string()))?;
                    say!("{json}");
                },
            }
        },
        Command::Report { dir, out } => {
            let out = out.unwrap_or_else(|| dir.join("report.html"));
            deskpulse::report::write(&dir, &out)?;
            say!("wrote {}", out.display());
        },
        Command::Validate { pipeline, no_data, engine } => {
            let plan = deskpulse::load_plan(&pipeline)?;
            if engine == EngineArg::Ballista {
                say_raw!("{}", coverage(&plan)?);
            }
            if !no_data {
                exec::check(&plan)?;
            }
            say!(
                "ok: pipeline `{}`: {} source(s), {} KPI(s), {} segment(s){}",
                plan.name,
                plan.sources.len(),
                plan.kpis.len(),
                plan.segments.len(),
                if no_data { "" } else { "; files and columns checked" }
            );
        },
        Command::Kpis { format, pipeline } => kpis_command(format, pipeline)?,
        Command::Explain { pipeline } => {
            let plan = deskpulse::load_plan(&pipeline)?;
            say!("{plan}");
            say_raw!("{}", exec::explain(&plan)?);
        },
        Command::Schema => say!("{}", spec::json_schema()),
        Command::Init { preset, dir } => init_command(preset, dir)?,
        Command::Generate { tickets, seed, out, format, years } => generate_command(tickets, seed, out, format, years)?,
        #[cfg(feature = "ballista")]
        Command::Cluster { role } => match role {
            ClusterRole::Scheduler { bind, port } => deskpulse::distributed::process::scheduler(&bind, port)?,
            ClusterRole::Executor { scheduler, bind, port, grpc_port, work_dir, concurrent_tasks } => {
                deskpulse::distributed::process::executor(deskpulse::distributed::process::ExecutorOptions {
                    scheduler,
                    bind,
                    port,
                    grpc_port,
                    work_dir,
                    concurrent_tasks,
                })?
            },
        },
        Command::Scorecard { pipeline, account, out, period, format } => {
            scorecard_command(pipeline, account, out, period, format)?
        },
    }
    Ok(())
}
