//! The aggregate stage: each segment's KPI table as group-bys over the facts (`segment`), the reductions every
//! KPI definition compiles to (`compile::GroupAggs`), on Polars or the cluster (`grouped`); the KPIs that are
//! not one group-by (`backlog`, `ratio`, `acquisition`), and the sector benchmarks on the computed tables.

pub(crate) mod acquisition;
pub(crate) mod backlog;
pub(crate) mod benchmark;
pub(crate) mod compile;
pub(crate) mod grouped;
pub(crate) mod period_exprs;
pub(crate) mod ratio;
pub(crate) mod rows;
pub(crate) mod segment;
