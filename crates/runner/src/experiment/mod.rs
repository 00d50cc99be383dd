//! Experiments: experiment files, their expansion into runs, the sweep that runs them, and the files of an
//! experiment folder.

pub mod plan;
mod problems;
pub mod record;
pub mod spec;
pub mod stages;
pub mod sweep;
mod variants;
