//! One run at a time per output directory: `DIR/.deskpulse.lock` names the run that holds it (process id,
//! host, start time). A second run stops with a message naming the holder; a lock left by a process that is
//! gone (killed, machine restarted) is taken over, saying so.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::Error;

const LOCK_FILE: &str = ".deskpulse.lock";

pub struct Lock {
    path: PathBuf,
    /// The holder whose lock this run took over, when its process was gone.
    pub took_over: Option<String>,
}

/// Who holds a lock, as written in the file: `pid`, `host`, `started`.
#[derive(Debug, Clone, PartialEq)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    pub started: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "process {} on {}, started {}", self.pid, self.host, self.started)
    }
}

impl Holder {
    fn parse(text: &str) -> Option<Holder> {
        let mut fields = text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.trim(), v.trim()));
        let mut holder = Holder { pid: 0, host: String::new(), started: String::new() };
        for (k, v) in fields.by_ref() {
            match k {
                "pid" => holder.pid = v.parse().ok()?,
                "host" => holder.host = v.to_string(),
                "started" => holder.started = v.to_string(),
                _ => {},
            }
        }
        (holder.pid > 0).then_some(holder)
    }
}

pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes a NUL-terminated name into it.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

impl Lock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the lock of `dir` (created if missing), or fails with `Error::Locked` naming its holder.
    pub fn acquire(dir: &Path) -> Result<Lock, Error> {
        let fail = |e: std::io::Error| Error::Output { path: dir.to_path_buf(), message: e.to_string() };
        std::fs::create_dir_all(dir).map_err(fail)?;
        let path = dir.join(LOCK_FILE);
        let me = Holder {
            pid: std::process::id(),
            host: host_name(),
            started: jiff::Timestamp::now().round(jiff::Unit::Second).unwrap_or(jiff::Timestamp::now()).to_string(),
        };
        let mut took_over = None;
        for _ in 0..2 {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    writeln!(f, "pid={}\nhost={}\nstarted={}", me.pid, me.host, me.started).map_err(fail)?;
                    return Ok(Lock { path, took_over });
                },
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    match Holder::parse(&text) {
                        // Another host's process cannot be checked from here: its lock stands.
                        Some(h) if h.host != me.host || super::process_alive(h.pid) => {
                            return Err(Error::Locked { path, holder: h.to_string() });
                        },
                        // A dead process's lock, or a lock file cut short by a kill before it was written.
                        gone => {
                            took_over =
                                Some(gone.map(|h| h.to_string()).unwrap_or_else(|| "an unreadable lock".into()));
                            std::fs::remove_file(&path).map_err(fail)?;
                        },
                    }
                },
                Err(e) => return Err(fail(e)),
            }
        }
        Err(Error::Locked { path, holder: "another run that took it at the same moment".into() })
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_holder_stops_a_second_run_and_a_dead_one_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let first = Lock::acquire(dir.path()).unwrap();
        match Lock::acquire(dir.path()) {
            Err(Error::Locked { holder, .. }) => assert!(holder.contains(&format!("process {}", std::process::id()))),
            other => panic!("expected the lock error, got {:?}", other.map(|_| ())),
        }
        drop(first);
        std::fs::write(dir.path().join(LOCK_FILE), format!("pid=2147483000\nhost={}\nstarted=x\n", host_name()))
            .unwrap();
        let taken = Lock::acquire(dir.path()).unwrap();
        assert!(taken.took_over.as_deref().unwrap_or("").contains("process 2147483000"));
        drop(taken);
        assert!(!dir.path().join(LOCK_FILE).exists());
    }
}
