//! Flow records out: the schema, CSV (RFC 4180), JSON lines, Parquet files and
//! the Hive-partitioned dataset, and the address privacy policy applied before
//! anything is written.
#![forbid(unsafe_code)]

use std::path::PathBuf;

pub mod aggregate;
pub mod dataset;
pub mod files;
pub mod flowtable;
pub mod kanon;
pub mod layout;
pub mod noise;
pub mod policy;
pub mod privacy;
pub mod row;
pub mod schema;
pub mod spool;
pub mod totals;
pub mod useragent;
pub mod writers;

pub use dataset::{DatasetConfig, DatasetWriter, Written};
pub use flowtable::FlowTable;
pub use policy::{AddressMode, Policy, PolicySettings, Profile, SELF_SOURCE, ServerNames};
pub use privacy::{AddressPolicy, CryptoPan, Redacted};
pub use row::{Cell, ExactSums, Layout, Row};
pub use schema::{COLUMNS, Col, ColType, ColumnDef, PrivacyClass, Record, Selection, Value};
pub use totals::{ExitPolicyNote, NodeTotals, TotalsRule};
pub use writers::{FlowWriter, Format};

/// Errors while writing flows.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// A file or directory could not be created, written or renamed.
    #[error("{path}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The Parquet library refused the data.
    #[error("{path}: parquet")]
    Parquet {
        /// The file concerned.
        path: PathBuf,
        /// What the library said.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// The Arrow library refused the data.
    #[error("{path}: arrow")]
    Arrow {
        /// The file concerned.
        path: PathBuf,
        /// What the library said.
        #[source]
        source: arrow_schema::ArrowError,
    },
    /// The CSV library failed.
    #[error("{path}: csv")]
    Csv {
        /// The file concerned.
        path: PathBuf,
        /// What the library said.
        #[source]
        source: csv::Error,
    },
    /// A key file for pseudonymisation is unusable.
    #[error("{path}: {reason}")]
    BadKey {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Privacy settings that cannot be used together, or a value out of range.
    #[error("{0}")]
    Policy(String),
    /// Rows could be neither written nor held (the disk is full and the
    /// memory cap reached).
    #[error("{rows} rows held and none can be spilled to disk: refusing more")]
    Full {
        /// Rows held.
        rows: usize,
    },
    /// A name given for the dataset cannot be used as a partition value.
    #[error("invalid node name {0:?}: use letters, digits, '-', '_' and '.' only")]
    BadNodeName(String),
}

pub(crate) fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.to_owned(),
        source,
    }
}

/// An error and its sources, `a: b: c`: how errors are printed (their
/// messages never repeat their source).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut s = e.source();
    while let Some(x) = s {
        out.push_str(": ");
        out.push_str(&x.to_string());
        s = x.source();
    }
    out
}
