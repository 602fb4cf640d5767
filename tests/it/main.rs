//! The integration tests, in one binary: each links all of Polars, and one binary per file cost a gigabyte
//! of disk each.

mod common;

mod acquisition;
mod benchmarks;
mod boundary_kpis;
mod business_hours;
mod catalog_kpis;
mod cli;
#[cfg(feature = "ballista")]
mod cluster;
mod corpus;
mod determinism;
mod docs;
mod engines;
mod generate;
mod grains;
mod hardening;
mod help_center;
mod history;
mod intake;
mod kpis_by_hand;
mod mapping;
mod messages;
mod metrics;
mod mutations;
mod nightly;
mod quarantine;
mod real_exports;
mod report;
mod review;
mod sla;
mod snapshot;
mod survey_period;
mod variants;
mod watch;
