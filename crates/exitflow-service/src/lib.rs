//! The live capture service behind `exitflow capture`.
//!
//! ```text
//! supervisor ── opens the sockets, drops privileges, starts the threads,
//!   │           reloads GeoIP/consensus, logs status, stops on a signal
//!   ├── worker × N: AF_PACKET ring → pipeline::Meter → records ─┐ bounded queue
//!   └── writer: completes a Parquet file per date every flush ◄─┘ interval,
//!               holds flows and retries while the disk is full
//! ```
//!
//! Workers each own an `AF_PACKET` ring in one fanout group (a flow stays on
//! one worker), a flow table, the inspection engine, an enricher and the
//! policy; finished flows leave as anonymised records through a bounded
//! queue to one writer thread. No packet or payload is written anywhere.
//!
//! Shutdown (the stop flag, set by SIGTERM/SIGINT in the binary): every
//! worker drains its ring, exports every active flow, and the writer
//! completes its files. A SIGKILL loses at most the flows of the last flush
//! interval; files already completed are whole, and a restart removes the
//! dead run's temporary files and carries on.
#![forbid(unsafe_code)]

pub mod metrics;
pub mod status;
pub mod writer;

#[cfg(target_os = "linux")]
pub mod supervisor;
#[cfg(target_os = "linux")]
pub mod worker;

#[cfg(target_os = "linux")]
pub use supervisor::{ServiceConfig, run};
pub use writer::{DatasetStore, Store, WriterConfig, write_loop};

use std::time::Duration;

/// Finished flows reach a completed dataset file within this many seconds.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(30);
/// Seconds between status lines in the log.
pub const DEFAULT_STATUS_INTERVAL: Duration = Duration::from_secs(60);
/// Seconds between checks for changed GeoIP databases and consensus.
pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(60);
/// Records a worker collects before handing them to the writer.
pub const EXPORT_BATCH: usize = 1024;
/// Batches the export queue holds; a worker waits (counted) when it is full.
pub const DEFAULT_EXPORT_QUEUE_BATCHES: usize = 256;
/// A file is completed early once this many flows wait (bounds memory under floods).
pub const DEFAULT_FLUSH_ROWS: usize = 131_072;
/// Most flows held while the dataset cannot be written (a full disk);
/// beyond, flows are counted as lost. About 400 bytes each.
pub const DEFAULT_MAX_PENDING_FLOWS: usize = 524_288;
/// Time between attempts to write after a failure.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(5);
/// Most capture workers.
pub const MAX_WORKERS: usize = 64;

/// Why the service could not start or did not end cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A socket, the filter or the privilege drop failed.
    #[error(transparent)]
    Live(#[from] exitflow_capture::live::LiveError),
    /// The dataset could not be prepared.
    #[error(transparent)]
    Output(#[from] exitflow_output::OutputError),
    /// A system resource (directory, thread, signal, endpoint) failed.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A setting cannot be used.
    #[error("{0}")]
    Config(String),
    /// Flows were lost: the dataset could not be written and the write
    /// buffer was full.
    #[error("{0} flows could not be written (see the errors above)")]
    Lost(u64),
    /// A worker thread or the writer panicked.
    #[error("the {0} thread panicked")]
    Panicked(&'static str),
}

/// Worst-case memory of a capture: rings, flow tables (with inspection
/// state), a full export queue, a full write buffer, and a fixed allowance
/// for the program, GeoIP databases and allocator slack. The SYN-flood test
/// holds the process to it.
pub fn memory_budget(
    workers: usize,
    ring_bytes: u64,
    flows_per_worker: usize,
    write_buffer: usize,
) -> u64 {
    /// Upper bound of one record in memory (strings included).
    const RECORD_BYTES: u64 = 512;
    /// The program, GeoIP databases, allocator slack.
    const BASE_BYTES: u64 = 96 << 20;
    let w = workers as u64;
    let per_flow = exitflow_flow::FlowTable::<exitflow_dpi::FlowDpi>::bytes_per_flow();
    let table = (flows_per_worker * per_flow) as u64;
    w * (ring_bytes + table)
        + (DEFAULT_EXPORT_QUEUE_BATCHES * EXPORT_BATCH) as u64 * RECORD_BYTES
        + write_buffer as u64 * RECORD_BYTES
        + BASE_BYTES
}

/// Prints an error with its sources, `a: b: c`.
pub(crate) struct ErrorChain<'a>(&'a dyn std::error::Error);

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&exitflow_output::error_chain(self.0))
    }
}
