//! The enrichment crate's errors; each keeps its source.
use std::path::PathBuf;

/// Why a database, consensus or torrc could not be used.
#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    /// A file could not be read.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid MaxMind DB.
    #[error("{path}: not a valid MaxMind DB: {reason}")]
    InvalidDatabase {
        /// The database file.
        path: PathBuf,
        /// What the reader said.
        reason: String,
    },
    /// A consensus or torrc that does not follow its format.
    #[error("{path}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Where and what.
        #[source]
        source: LineError,
    },
}

/// A syntax error in a text document, at a 1-based line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl LineError {
    /// An error at `line`.
    pub fn new(line: usize, reason: impl Into<String>) -> LineError {
        LineError {
            line,
            reason: reason.into(),
        }
    }
}
