//! `exitflow capture`: the live service (see the `exitflow-service` crate)
//! with signal handling.
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result};

use crate::args::CaptureArgs;
use crate::config::Config;
use crate::settings;

/// Runs the capture until SIGTERM/SIGINT (or `--duration`).
pub fn run(a: &CaptureArgs, conf: &Config) -> Result<ExitCode> {
    let cfg = settings::service(a, conf)?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        // The first signal starts the drain; a second one while draining
        // ends the process at once (exit status 1), as operators expect.
        signal_hook::flag::register_conditional_shutdown(sig, 1, stop.clone())
            .context("installing signal handlers")?;
        signal_hook::flag::register(sig, stop.clone()).context("installing signal handlers")?;
    }
    let clean = exitflow_service::run(cfg, stop)?;
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
