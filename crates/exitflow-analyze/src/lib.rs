//! The study report: aggregates over exitflow datasets from any number of
//! relays, computed by streaming the Parquet files batch by batch and reading
//! only the columns needed, so memory does not grow with the dataset.
//!
//! `scan` reads the files into per-node aggregates (`agg`), `publish`
//! releases them with differential privacy, `render` turns them into the
//! report's typed JSON (`contract`) and its Markdown and HTML; `published`
//! holds the studies the report is compared with.
#![forbid(unsafe_code)]
#![recursion_limit = "256"]

mod agg;
pub mod contract;
pub mod publish;
mod published;
pub mod render;
mod scan;
pub mod zone;

pub use agg::*;
pub use published::{Published, published};
pub use scan::{dataset_files, scan, scan_with_progress};
pub use zone::Zone;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

/// Rows per batch while scanning.
pub const DEFAULT_BATCH_ROWS: usize = 16 * 1024;
/// Rows in the "top" tables.
pub const TOP_ROWS: usize = 40;

/// Errors while reading a dataset.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// A file or directory could not be read.
    #[error("{path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A Parquet file is unreadable.
    #[error("{path}: parquet")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What the reader said.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// A batch of a Parquet file is unreadable.
    #[error("{path}: arrow")]
    Arrow {
        /// The file.
        path: PathBuf,
        /// What the reader said.
        #[source]
        source: arrow_schema::ArrowError,
    },
    /// Nothing to report on.
    #[error("no dataset files found under {0}")]
    Empty(String),
    /// A node's totals file is unreadable.
    #[error("node totals")]
    Totals(#[source] exitflow_output::OutputError),
    /// A node's releases and ledger do not add up (`publish::store`).
    #[error("{path}: {reason}")]
    Ledger {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// A release would spend more ε on a day than the budget allows.
    #[error(
        "node {node}, day {day}: releasing ε = {asked} would exceed the budget of ε = {budget} per node-day ({spent} already spent)"
    )]
    Budget {
        /// The node.
        node: String,
        /// The day (`YYYY-MM-DD`).
        day: String,
        /// ε already spent on the day.
        spent: f64,
        /// ε the release asked for.
        asked: f64,
        /// The budget.
        budget: f64,
    },
    /// A dataset's files could not be checked.
    #[error("dataset")]
    Dataset(#[source] exitflow_output::OutputError),
    /// Publication settings that would not give the guarantee.
    #[error("{0}")]
    Settings(String),
}

impl AnalyzeError {
    /// Nothing under these roots.
    pub fn empty(roots: &[PathBuf]) -> AnalyzeError {
        AnalyzeError::Empty(
            roots
                .iter()
                .map(|r| r.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        )
    }
}

/// Which flows to count.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only these nodes (all when empty).
    pub nodes: Vec<String>,
    /// First packet at or after this time (ms since the epoch).
    pub from_ms: Option<u64>,
    /// First packet before this time.
    pub to_ms: Option<u64>,
    /// Each node's time zone, for its local-time hours (UTC when absent).
    pub zones: BTreeMap<String, Zone>,
    /// Read every flow row even where a part has its hourly tables beside it.
    pub rows: bool,
    /// Only day directories in `[from, to)` (ms of UTC midnights), a cheap
    /// first cut before the row times are read.
    pub days: Option<(u64, u64)>,
}
/// Everything the report shows.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// Per node.
    pub nodes: BTreeMap<String, NodeAgg>,
    /// All nodes together.
    pub all: NodeAgg,
    /// What the files say about how they were made (metadata values seen).
    pub how: HowMade,
    /// Parquet files read.
    pub files: u64,
    /// How the numbers were protected for publication, if they were.
    pub publication: Option<serde_json::Value>,
    /// Each node's time zone used for local hours (`Filter::zones`).
    #[serde(skip)]
    pub zones: BTreeMap<String, Zone>,
    /// Each node's exact packets and bytes (interface-wide), from its
    /// totals file, when no time filter applies.
    pub volumes: BTreeMap<String, (u64, u64)>,
    /// Each node's exit policy as recorded in its totals (public data).
    pub exit_policies: BTreeMap<String, exitflow_output::ExitPolicyNote>,
    /// Each node's k-anonymity counts from its totals: flows taken, flows
    /// generalised, flows withheld (suppressed), strict flows folded.
    pub anonymity: BTreeMap<String, [u64; 4]>,
}

/// How the dataset was made, from its files' metadata: every distinct
/// value of each key.
#[derive(Clone, Debug, Default, Serialize)]
pub struct HowMade {
    /// exitflow versions.
    pub versions: std::collections::BTreeSet<String>,
    /// Privacy policies.
    pub policies: std::collections::BTreeSet<String>,
    /// GeoIP databases and their build dates.
    pub geoip: std::collections::BTreeSet<String>,
    /// Flow timeouts.
    pub timeouts: std::collections::BTreeSet<String>,
    /// Some file was written from synthetic traffic (`exitflow demo`).
    pub synthetic: bool,
    /// Some file does not say which privacy policy wrote it.
    pub unlabelled: bool,
}

impl HowMade {
    fn merge(&mut self, o: HowMade) {
        self.versions.extend(o.versions);
        self.policies.extend(o.policies);
        self.geoip.extend(o.geoip);
        self.timeouts.extend(o.timeouts);
        self.synthetic |= o.synthetic;
        self.unlabelled |= o.unlabelled;
    }
}

/// File metadata keys read into [`HowMade`].
pub mod meta_keys {
    /// exitflow's version.
    pub const VERSION: &str = "exitflow.version";
    /// The privacy policy.
    pub const POLICY: &str = "exitflow.policy";
    /// GeoIP databases.
    pub const GEOIP: &str = "exitflow.geoip";
    /// Flow timeouts.
    pub const TIMEOUTS: &str = "exitflow.timeouts";
    /// `true` in files written from synthetic traffic.
    pub const SYNTHETIC: &str = "exitflow.synthetic";
}

#[cfg(test)]
mod tests;
