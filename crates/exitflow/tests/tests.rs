//! Integration tests: the `exitflow` binary on real and synthetic captures.
//! One test binary with modules keeps link time down.

mod common;
mod corpus;
mod data;
mod dataset;
mod enrich;
#[cfg(target_os = "linux")]
mod live;
#[cfg(target_os = "linux")]
mod live_faults;
mod privacy;
mod publish;
mod relay;
mod report;
mod report_browser;
mod report_crosscheck;
#[cfg(target_os = "linux")]
mod support;
mod synth;
#[cfg(target_os = "linux")]
mod systemd;
#[cfg(target_os = "linux")]
mod tornet;
