//! How a run treats what earlier runs left: `--full`, `--no-restage`, a backfill's window, the store's folder.

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::exec::aggregate::period_exprs;
use crate::exec::record::timing;
use crate::plan::Plan;

/// How a run treats what earlier runs left.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Stage every input again, ignoring the store.
    pub full: bool,
    /// Fail rather than stage every file of a source again when the store cannot be used for it (another
    /// deskpulse version, a changed mapping).
    pub no_restage: bool,
    /// A backfill: recompute the periods starting in `[from, to)` and replace only those.
    pub from: Option<jiff::civil::Date>,
    pub to: Option<jiff::civil::Date>,
    /// The store's folder (default `DIR/_store`).
    pub store: Option<PathBuf>,
    /// Told each stage's end (progress, logs).
    pub on_stage: Option<timing::StageHook>,
    /// The cluster that runs the segments' group-bys (`--engine ballista`); every period is recomputed.
    #[cfg(feature = "ballista")]
    pub cluster: Option<std::sync::Arc<crate::distributed::Cluster>>,
    /// The executors cannot read the store's parts (`--hand-over-rows`): the client hands every row over.
    #[cfg(feature = "ballista")]
    pub hand_over_rows: bool,
}

impl RunOptions {
    /// A backfill's window is a window, and merges into tables it can read back.
    pub(super) fn check(&self, plan: &Plan) -> Result<(), Error> {
        if let (Some(f), Some(t)) = (self.from, self.to) {
            if f >= t {
                return Err(Error::Usage(format!("--from {f} must come before --to {t}")));
            }
        }
        let backfill = self.from.is_some() || self.to.is_some();
        let single = plan.layout == crate::plan::Layout::Single;
        if backfill && single && !plan.formats.contains(&crate::plan::OutputFormat::Parquet) {
            return Err(Error::Usage(
                "a backfill (--from/--to) merges its periods into the earlier Parquet tables: add parquet to \
                 outputs.formats, or use outputs.layout: hive"
                    .into(),
            ));
        }
        Ok(())
    }

    /// A backfill's window as days since the epoch.
    pub(super) fn window_days(&self) -> (Option<i32>, Option<i32>) {
        let day = |d: Option<jiff::civil::Date>| d.map(|d| period_exprs::days_since_epoch(d) as i32);
        (day(self.from), day(self.to))
    }

    pub(super) fn store_dir(&self, plan: &Plan, out_dir: &Path) -> PathBuf {
        self.store.clone().or_else(|| plan.store_dir.clone()).unwrap_or_else(|| out_dir.join("_store"))
    }
}
