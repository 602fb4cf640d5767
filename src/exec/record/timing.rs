//! Seconds per stage of a run, for the run record; with `DESKPULSE_TRACE` set, each stage is also printed
//! with the peak and current resident memory (Linux), to profile a run.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Instant;

/// Whoever follows a run as it goes: the command line's progress bars and logs.
pub trait Observe: Send + Sync {
    /// The stage `stage` ended after `seconds`.
    fn stage_done(&self, stage: &str, seconds: f64);
    /// `done` of the `total` units of a long step are finished (`step`: "staging files", "segments").
    fn progress(&self, _step: &str, _done: u64, _total: u64) {}
}

/// The run's observer, if any.
#[derive(Clone)]
pub struct StageHook(pub Arc<dyn Observe>);

impl std::fmt::Debug for StageHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StageHook")
    }
}

pub struct Timer {
    started: Instant,
    last: RefCell<f64>,
    stages: RefCell<Vec<(String, f64)>>,
    trace: bool,
    hook: Option<StageHook>,
}

impl Timer {
    pub fn start(hook: Option<StageHook>) -> Timer {
        Timer {
            started: Instant::now(),
            last: RefCell::new(0.0),
            stages: RefCell::new(Vec::new()),
            trace: std::env::var_os("DESKPULSE_TRACE").is_some(),
            hook,
        }
    }

    /// Ends the stage `what`: records its seconds (since the previous stage ended).
    pub fn done(&self, what: &str) {
        let now = self.elapsed();
        let took = now - self.last.replace(now);
        self.stages.borrow_mut().push((what.to_string(), took));
        if let Some(hook) = &self.hook {
            hook.0.stage_done(what, took);
        }
        if self.trace {
            // Peak resident memory so far, and what is resident now: anonymous (heap) and file-backed
            // (memory-mapped inputs, which the kernel can drop).
            let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            let field = |name: &str| {
                status
                    .lines()
                    .find(|l| l.starts_with(name))
                    .map(|l| l[name.len()..].trim().to_string())
                    .unwrap_or_default()
            };
            eprintln!(
                "[{now:>8.2} s, peak {}, now heap {} + files {}] {what}",
                field("VmHWM:"),
                field("RssAnon:"),
                field("RssFile:")
            );
        }
    }

    /// `done` of `total` units of `step` are finished.
    pub fn progress(&self, step: &str, done: u64, total: u64) {
        if let Some(hook) = &self.hook {
            hook.0.progress(step, done, total);
        }
    }

    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    pub fn stages(&self) -> Vec<(String, f64)> {
        self.stages.borrow().clone()
    }
}

/// Runs `f`; with `DESKPULSE_TRACE` set, prints how long it took under `what`: the steps inside a stage
/// that do work while its plans are built (boundary periods, carried totals).
pub fn traced<T>(what: &str, f: impl FnOnce() -> T) -> T {
    if std::env::var_os("DESKPULSE_TRACE").is_none() {
        return f();
    }
    let started = Instant::now();
    let out = f();
    eprintln!("    step {:.2} s: {what}", started.elapsed().as_secs_f64());
    out
}
