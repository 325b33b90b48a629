//! `exitflow synth`: a deterministic synthetic exit-relay capture.
use std::path::Path;

use anyhow::{Context, Result};
use exitflow_synth::{SynthConfig, SynthSummary};

use crate::args::SynthArgs;

/// Writes the capture and returns what it holds.
pub fn run(a: &SynthArgs) -> Result<SynthSummary> {
    let cfg = SynthConfig {
        seed: a.seed,
        flows: a.flows,
        syn_flood: a.syn_flood,
        span_s: a.span,
        ..Default::default()
    };
    write(&cfg, &a.output)
}

/// Writes the capture `cfg` describes to `output` (`-`: standard output).
pub fn write(cfg: &SynthConfig, output: &Path) -> Result<SynthSummary> {
    let sum = if output.as_os_str() == "-" {
        exitflow_synth::write_capture(cfg, std::io::stdout().lock())?
    } else {
        let f = std::fs::File::create(output)
            .with_context(|| format!("creating {}", output.display()))?;
        exitflow_synth::write_capture(cfg, f)
            .with_context(|| format!("writing {}", output.display()))?
    };
    tracing::info!(
        packets = sum.packets,
        flows = sum.flows,
        failed_flows = sum.failed_flows,
        "synthesised"
    );
    Ok(sum)
}
