//! The pipeline stage by stage, for `exitflow bench`: each stage runs the
//! shipped code ([`Meter`], [`to_record`]) up to a point, so the figures are
//! those of what `flows`, `ingest` and `capture` run.
use std::path::Path;
use std::time::Instant;

use exitflow_capture::{CaptureError, CaptureReader};
use exitflow_output::Policy;

use crate::{Enricher, Meter, MeterOptions, to_record};

/// How far a benchmark pass runs the pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Reading the capture alone.
    Read,
    /// … and decoding each frame (and the exclusions).
    Decode,
    /// … and the flow table, without inspection.
    Meter,
    /// … and inspection (the options' dissections).
    Inspect,
    /// … and records with the policy applied, without enrichment.
    Records,
    /// … and enrichment (GeoIP, Tor roles).
    Enrich,
}

impl Stage {
    /// Every stage, in pipeline order.
    pub const ALL: [Stage; 6] = [
        Stage::Read,
        Stage::Decode,
        Stage::Meter,
        Stage::Inspect,
        Stage::Records,
        Stage::Enrich,
    ];

    /// The stage's name in benchmark tables.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Read => "read",
            Stage::Decode => "read+decode",
            Stage::Meter => "read+decode+meter",
            Stage::Inspect => "read+decode+meter+dpi",
            Stage::Records => "...+dpi+records",
            Stage::Enrich => "...+dpi+records+enrich",
        }
    }
}

/// One timed pass over a capture.
#[derive(Clone, Copy, Debug)]
pub struct StageRun {
    /// The stage.
    pub stage: Stage,
    /// Packets read.
    pub packets: u64,
    /// Wall-clock seconds.
    pub secs: f64,
    /// Flows exported (0 before [`Stage::Meter`]).
    pub flows: u64,
}

/// Runs `stage` once over the capture at `path`. `enricher` is used from
/// [`Stage::Enrich`] on, `policy` from [`Stage::Records`] on.
pub fn run_stage(
    path: &Path,
    stage: Stage,
    opts: &MeterOptions,
    enricher: &Enricher,
    policy: &Policy,
) -> Result<StageRun, CaptureError> {
    let mut reader = CaptureReader::open(path)?;
    let mut opts = opts.clone();
    if stage <= Stage::Meter {
        // Inspection off: the shipped path with `--dissections 0`.
        opts.dpi.max_packets = 0;
    }
    let mut meter = Meter::new(&opts);
    let mut enricher = enricher.clone();
    let mut policy = policy.clone();
    let mut flows = 0u64;
    let mut sink = 0u64;
    let mut export = |f, c| {
        flows += 1;
        if stage >= Stage::Records {
            let e = (stage >= Stage::Enrich).then_some(&mut enricher);
            std::hint::black_box(to_record(f, c, &mut policy, e));
        } else {
            std::hint::black_box((f, c));
        }
    };
    let t = Instant::now();
    reader.for_each(|p| {
        match stage {
            Stage::Read => sink = sink.wrapping_add(u64::from(p.orig_len)),
            Stage::Decode => {
                if let Some(i) = meter.decode(&p) {
                    sink = sink.wrapping_add(u64::from(i.src_port));
                }
            }
            _ => meter.packet(&p, &mut export),
        }
        true
    })?;
    meter.flush(&mut export);
    let secs = t.elapsed().as_secs_f64();
    std::hint::black_box(sink);
    Ok(StageRun {
        stage,
        packets: reader.stats().packets,
        secs,
        flows,
    })
}
