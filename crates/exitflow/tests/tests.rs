//! Integration tests: the `exitflow` binary on real and synthetic captures.
//! One test binary with modules keeps link time down.

mod common;
mod corpus;
mod dataset;
mod enrich;
mod privacy;
mod report;
mod synth;
