//! How a run shows itself as it goes: `tracing` logs on standard error (text or one JSON object a line, at
//! the level `RUST_LOG` or `DESKPULSE_LOG` asks for) and, on a terminal, indicatif progress bars for the long
//! steps (staging files, segments).

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use clap::ValueEnum;
use deskpulse::exec;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing::level_filters::LevelFilter;

#[derive(Clone, Copy, PartialEq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The level asked for in `DESKPULSE_LOG` (or `RUST_LOG`): its first bare level, or `deskpulse=LEVEL`;
/// warn when neither says. (Other crates' targets are ignored: deskpulse is the only one that logs.)
pub fn log_level() -> LevelFilter {
    let spec = std::env::var("DESKPULSE_LOG").or_else(|_| std::env::var("RUST_LOG")).unwrap_or_default();
    let level = |l: &str| l.trim().parse::<LevelFilter>().ok();
    spec.split(',')
        .filter(|part| !part.trim().is_empty())
        .find_map(|part| match part.split_once('=') {
            Some((target, l)) if target.trim() == "deskpulse" => level(l),
            Some(_) => None,
            None => level(part),
        })
        .unwrap_or(LevelFilter::WARN)
}

/// Installs the log subscriber: every event on standard error, in `format`.
pub fn init_logs(format: LogFormat) {
    let logs = tracing_subscriber::fmt().with_writer(std::io::stderr).with_max_level(log_level()).with_target(false);
    let _ = match format {
        LogFormat::Json => logs.json().flatten_event(true).with_current_span(false).try_init(),
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).try_init(),
    };
}

/// A warning of a run that succeeded: a plain line in text (level warn and above), a log event in JSON.
pub fn warning(format: LogFormat, message: &str) {
    match format {
        LogFormat::Json => tracing::warn!(event = "warning", "{message}"),
        LogFormat::Text if log_level() >= LevelFilter::WARN => eprintln!("warning: {message}"),
        LogFormat::Text => {},
    }
}

/// Logs each stage at level info; on a terminal (and unless `quiet` or logs at info), draws a progress bar
/// for the step under way.
pub fn observer(quiet: bool) -> Bridge {
    let bars = !quiet && log_level() < LevelFilter::INFO && std::io::stderr().is_terminal();
    Bridge { bars, bar: Arc::new(Mutex::new(None)) }
}

pub struct Bridge {
    bars: bool,
    /// The bar on screen and the step it counts.
    bar: Arc<Mutex<Option<(String, ProgressBar)>>>,
}

impl Bridge {
    pub fn hook(&self) -> exec::StageHook {
        exec::StageHook(Arc::new(Observer { bars: self.bars, bar: self.bar.clone() }))
    }

    /// Removes the bar before the report is printed.
    pub fn clear(&self) {
        if let Some((_, bar)) = self.bar.lock().ok().and_then(|mut b| b.take()) {
            bar.finish_and_clear();
        }
    }
}

struct Observer {
    bars: bool,
    bar: Arc<Mutex<Option<(String, ProgressBar)>>>,
}

impl exec::Observe for Observer {
    fn stage_done(&self, stage: &str, seconds: f64) {
        tracing::info!(event = "stage", stage, seconds, "{stage} ({seconds:.2} s)");
        if let Some((_, bar)) = self.bar.lock().ok().as_ref().and_then(|b| b.as_ref()) {
            bar.set_message(stage.to_string());
        }
    }

    fn progress(&self, step: &str, done: u64, total: u64) {
        if !self.bars || total == 0 {
            return;
        }
        let Ok(mut current) = self.bar.lock() else { return };
        if current.as_ref().is_none_or(|(s, _)| s != step) {
            if let Some((_, old)) = current.take() {
                old.finish_and_clear();
            }
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("{prefix:>14} [{bar:30}] {pos}/{len} {elapsed} {msg}") {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(step.to_string());
            *current = Some((step.to_string(), bar));
        }
        if let Some((_, bar)) = current.as_ref() {
            bar.set_length(total);
            bar.set_position(done);
        }
    }
}
