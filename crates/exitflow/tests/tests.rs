//! Integration tests: the `exitflow` binary on real and synthetic captures.
//! One test binary with modules keeps link time down.

mod common;
mod corpus;
mod data;
mod dataset;
mod enrich;
#[cfg(target_os = "linux")]
mod live;
mod privacy;
mod publish;
mod relay;
mod report;
mod synth;
#[cfg(target_os = "linux")]
mod systemd;
#[cfg(target_os = "linux")]
mod tornet;
