//! The per-packet pipeline of exitflow, shared by every command that meters
//! packets (`flows`, `ingest`, `bench`, and each worker of `capture`):
//!
//! ```text
//! frame → decode → exclusions → flow table → inspection → (flow ends) → verdict
//!       → enrichment (GeoIP, Tor role) → policy → Row
//! ```
//!
//! [`Meter`] is that path, one packet at a time; [`meter_capture`] drives it
//! over a capture file; [`stages`] times it stage by stage for
//! `exitflow bench`; [`to_record`] turns a finished flow into the row the
//! writers store, with the privacy policy applied.
#![forbid(unsafe_code)]

pub mod enrich;
pub mod error;
pub mod exclude;
pub mod meter;
pub mod record;
pub mod stages;

pub use enrich::{EnrichSettings, Enricher};
pub use error::PipelineError;
pub use exclude::{Exclusions, Net};
pub use meter::{CaptureSummary, Meter, MeterError, MeterOptions, meter_capture};
pub use record::to_record;

/// Peak resident memory of this process, bytes (Linux; 0 elsewhere).
pub fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

#[cfg(test)]
mod tests;
