//! Problems found in an experiment file, each with its location: all of them are reported at once, before
//! anything runs.

use std::fmt;
use std::path::PathBuf;

/// One problem of an experiment file, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Where: a key path such as `variants[2] (deberta-no-c2p).model.position`.
    pub location: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Every problem found in one experiment file.
#[derive(Debug, Clone, PartialEq)]
pub struct Problems {
    /// The file.
    pub file: PathBuf,
    /// The problems, in file order.
    pub list: Vec<Problem>,
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} has {} problem{}:",
            self.file.display(),
            self.list.len(),
            if self.list.len() == 1 { "" } else { "s" }
        )?;
        for p in &self.list {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}
