//! The outputs stage beyond the segments' tables: tables for people (the review sample, the follow-up list,
//! the per-ticket table). Writing, merging and committing the tables is `crate::sink`'s.

pub(crate) mod review;
pub(crate) mod write;
