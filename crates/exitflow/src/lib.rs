//! exitflow: measure what leaves a Tor exit relay without writing personal data.
//!
//! The binary's commands live in [`cli`]; the per-capture pipeline in [`pipeline`].
#![forbid(unsafe_code)]

pub mod bench;
#[cfg(target_os = "linux")]
pub mod capture;
pub mod cli;
pub mod config;
pub mod datagen;
pub mod exclude;
pub mod metrics;
pub mod pipeline;
#[cfg(feature = "sql")]
pub mod query;
