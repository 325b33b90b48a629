//! exitflow: measure what leaves a Tor exit relay without writing personal data.
//!
//! The binary's commands live in [`cli`]; the per-capture pipeline in [`pipeline`].
#![forbid(unsafe_code)]

pub mod bench;
pub mod cli;
pub mod config;
pub mod datagen;
pub mod pipeline;
#[cfg(feature = "sql")]
pub mod query;
