//! The outputs stage beyond the segments' tables: tables for people (`review`: the review sample, the
//! follow-up list, the per-ticket table), `sla` (the SLA instances), `replies` (each public agent reply) and what a night reads back from the last run's outputs to merge
//! into (`write`). Writing, merging and committing the tables is `crate::sink`'s.

pub(crate) mod alerts;
pub(crate) mod replies;
pub(crate) mod review;
pub(crate) mod sla;
pub(crate) mod watch;
pub(crate) mod write;
