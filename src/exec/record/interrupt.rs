//! Stopping on a scheduler's SIGTERM or a person's Ctrl-C (SIGINT) the way a failed run stops: the work
//! folder removed, the run record written as `cancelled`, the lock released, the earlier outputs and the
//! store as they were, exit 143 or 130 (128 + the signal).
//!
//! The run checks for a signal between its stages and steps (`check`) and unwinds through its usual error
//! path. A single Polars query cannot be stopped from outside, so a run that has not stopped within `GRACE`
//! (or gets a second signal) is stopped by the watchdog thread: it cleans up what the run armed it with
//! (`arm`) and exits, unless the run is committing its outputs (`committing`), which it lets finish.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::exec::record::{self, RunRecord};

/// How long a run may take to reach its next check before the watchdog stops it.
const GRACE: Duration = Duration::from_secs(5);

/// The first signal received (0: none).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// What the watchdog cleans up if the run does not stop by itself; `None` outside a run.
static ARMED: Mutex<Option<Armed>> = Mutex::new(None);

/// Held while a run commits its outputs and its store; `true` once they are committed.
static COMMIT: Mutex<bool> = Mutex::new(false);

struct Armed {
    out_dir: PathBuf,
    lock_file: PathBuf,
    record: RunRecord,
    started: Instant,
}

/// Catches SIGTERM and SIGINT for the rest of the process (the CLI calls it; a library user keeps its own
/// handling). Outside a run, a signal exits at once.
pub fn install() -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])?;
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        let Some(first) = signals.forever().next() else { return };
        SIGNAL.store(first, Ordering::SeqCst);
        if !is_armed() {
            exit(first);
        }
        let since = Instant::now();
        let mut again = false;
        while since.elapsed() < GRACE && is_armed() && !again {
            again = signals.pending().next().is_some();
            std::thread::sleep(Duration::from_millis(50));
        }
        if is_armed() {
            stop_now(first);
        }
        // The run stopped by itself (or had committed) and is ending; a second signal ends it at once.
        if again || signals.forever().next().is_some() {
            exit(first);
        }
    })?;
    Ok(())
}

/// The error a run returns once a signal arrived: checked between stages and steps.
pub fn check() -> Result<(), Error> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => Ok(()),
        signal => Err(Error::Interrupted { signal }),
    }
}

/// Tells the watchdog what to clean up for the run that holds `lock_file` in `out_dir`: its work folders
/// and lock, and `record` to write (as cancelled).
pub(crate) fn arm(out_dir: PathBuf, lock_file: PathBuf, record: RunRecord) {
    *COMMIT.lock().unwrap_or_else(|e| e.into_inner()) = false;
    *ARMED.lock().unwrap_or_else(|e| e.into_inner()) =
        Some(Armed { out_dir, lock_file, record, started: Instant::now() });
}

/// The run is over (its record written, its lock released): nothing for the watchdog to clean up. Waits
/// while the watchdog cleans up, if it already started.
pub(crate) fn disarm() {
    ARMED.lock().unwrap_or_else(|e| e.into_inner()).take();
}

fn is_armed() -> bool {
    ARMED.lock().unwrap_or_else(|e| e.into_inner()).is_some()
}

/// Held by the run while it renames its outputs and commits its store: the watchdog waits for it, and
/// then lets the run finish.
pub(crate) struct Committing(std::sync::MutexGuard<'static, bool>);

pub(crate) fn committing() -> Committing {
    Committing(COMMIT.lock().unwrap_or_else(|e| e.into_inner()))
}

impl Committing {
    pub(crate) fn done(mut self) {
        *self.0 = true;
    }
}

/// Stops a run that did not stop by itself: cleans up and exits, unless it committed.
fn stop_now(signal: i32) {
    let mut armed = ARMED.lock().unwrap_or_else(|e| e.into_inner());
    let Some(run) = armed.take() else { exit(signal) };
    let committed = COMMIT.lock().unwrap_or_else(|e| e.into_inner());
    if *committed {
        *armed = Some(run);
        return;
    }
    crate::sink::remove_own_work(&run.out_dir);
    let mut record = run.record;
    cancelled(&mut record, signal);
    record.total_seconds = run.started.elapsed().as_secs_f64();
    let _ = record::write(&run.out_dir, &record);
    let _ = std::fs::remove_file(&run.lock_file);
    eprintln!("{}", Error::Interrupted { signal });
    exit(signal)
}

/// A record as a cancelled run leaves it.
pub(crate) fn cancelled(record: &mut RunRecord, signal: i32) {
    record.status = "cancelled".into();
    record.exit_code = 128 + signal;
    record.error = Some(Error::Interrupted { signal }.to_string());
}

/// Exits at once: the main thread may be inside Polars, so no destructor or exit handler runs.
fn exit(signal: i32) -> ! {
    // SAFETY: `_exit` ends the process without running anything else; nothing here needs to be flushed (the
    // record was written and renamed, stderr is unbuffered).
    unsafe { libc::_exit(128 + signal) }
}

/// The signal's name for messages.
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        _ => "a signal",
    }
}
