//! The output disk: a failure that comes from a full disk is the disk's fault (exit 4), and a run that
//! cannot stage its inputs stops before any work.

use std::path::Path;

use crate::error::{DataError, Error};
use crate::exec::{read, short};
use crate::plan::Plan;
use crate::sink;

/// A full disk surfaces as whatever failed first: a write, or a read of a truncated staged file. Either is
/// the output disk's fault (exit 4), not the input's or a bug.
pub(super) fn as_disk_fault(out_dir: &Path, e: Error) -> Error {
    match e {
        Error::Internal(message) | Error::Data(DataError::Unreadable { message, .. })
            if disk_full(out_dir, &message) =>
        {
            Error::Output { path: out_dir.to_path_buf(), message: format!("the disk is full: {}", short(&message)) }
        },
        other => other,
    }
}

/// Does this failure come from a full disk under `dir`?
fn disk_full(dir: &Path, message: &str) -> bool {
    const NEARLY_FULL: u64 = 16 << 20;
    message.contains("No space left")
        || message.contains("os error 28")
        || message.contains("Disk quota exceeded")
        || sink::free_space(dir).is_some_and(|free| free < NEARLY_FULL)
}

/// Staging writes a typed copy of every input beside the outputs; it needs about this share of the
/// inputs' size (measured: the generated 1M-ticket dump, 167 MB of CSV, peaked at 39 MB of work files).
const STAGE_SHARE: f64 = 0.25;

/// Fails before any work when the disk cannot hold the staged copy of the inputs.
pub(super) fn check_free_space(plan: &Plan, work: &Path) -> Result<(), Error> {
    let Some(free) = sink::free_space(work) else { return Ok(()) };
    let mut inputs = 0u64;
    for source in &plan.sources {
        // A retaining source whose files all rotated away is checked by staging, against its store.
        let files = match read::files(source) {
            Err(_) if source.retain => Vec::new(),
            listed => listed?,
        };
        for file in files {
            inputs += std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        }
    }
    let needed = (inputs as f64 * STAGE_SHARE) as u64;
    if needed > free {
        return Err(Error::Output {
            path: work.parent().unwrap_or(work).to_path_buf(),
            message: format!(
                "not enough free space to stage the inputs: about {} needed (a typed copy of {} of input files), {} free; \
                 free some space or write the outputs to another disk with --out",
                human_bytes(needed),
                human_bytes(inputs),
                human_bytes(free)
            ),
        });
    }
    Ok(())
}

fn human_bytes(n: u64) -> String {
    let n = n as f64;
    match n {
        n if n >= 1e9 => format!("{:.1} GB", n / 1e9),
        n if n >= 1e6 => format!("{:.1} MB", n / 1e6),
        n => format!("{:.0} kB", n / 1e3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_an_output_fault_whatever_failed() {
        let dir = std::env::temp_dir();
        let internal = Error::Internal("parquet: Io error: No space left on device (os error 28)".into());
        assert_eq!(as_disk_fault(&dir, internal).exit_code(), crate::error::exit::OUTPUT);
        let unreadable = Error::Data(DataError::Unreadable {
            source_name: "t".into(),
            file: "(one of the source files)".into(),
            message: "parquet: No space left on device".into(),
        });
        assert_eq!(as_disk_fault(&dir, unreadable).exit_code(), crate::error::exit::OUTPUT);
        let bug = Error::Internal("not found: column x".into());
        assert_eq!(as_disk_fault(&dir, bug).exit_code(), crate::error::exit::INTERNAL);
    }
}
