//! `exitflow bench`: packets/s of each pipeline stage on one capture — the
//! shipped per-packet code, stage by stage — and the ratio to reading the
//! file alone and to the baseline tools' rates.
use std::process::ExitCode;

use anyhow::Result;
use exitflow_output::Policy;
use exitflow_pipeline::peak_rss_bytes;
use exitflow_pipeline::stages::{Stage, StageRun, run_stage};

use crate::args::BenchArgs;
use crate::config::Config;
use crate::settings;

/// ndpiReader 4.x on the mixed benchmark capture, packets/s (DEVELOPERS.md, upper figure).
pub const BASELINE_NDPIREADER_PPS: f64 = 0.5e6;
/// NFStream 6.6 on the same capture, packets/s.
pub const BASELINE_NFSTREAM_PPS: f64 = 0.11e6;

/// Runs every stage `--repeat` times and prints the best of each.
pub fn run(a: &BenchArgs, conf: &Config) -> Result<ExitCode> {
    let opts = settings::meter(&a.meter, conf)?;
    let enricher = settings::enricher(&a.enrich, conf)?;
    let policy = Policy::default();
    let mut passes: Vec<StageRun> = Vec::new();
    for stage in Stage::ALL {
        let mut best: Option<StageRun> = None;
        for _ in 0..a.repeat.max(1) {
            let r = run_stage(&a.capture, stage, &opts, &enricher, &policy)?;
            if best.is_none_or(|b| r.secs < b.secs) {
                best = Some(r);
            }
        }
        passes.push(best.expect("at least one run"));
    }
    let pps = |s: Stage| {
        let p = passes[s as usize];
        p.packets as f64 / p.secs
    };
    let secs = |s: Stage| passes[s as usize].secs;
    let read_pps = pps(Stage::Read);
    println!("capture: {}", a.capture.display());
    println!(
        "{:<26} {:>12} {:>10} {:>14} {:>10}",
        "stage", "packets", "seconds", "packets/s", "vs read"
    );
    let mut json = serde_json::Map::new();
    for p in &passes {
        let rate = p.packets as f64 / p.secs;
        println!(
            "{:<26} {:>12} {:>10.3} {:>14.0} {:>9.2}x",
            p.stage.name(),
            p.packets,
            p.secs,
            rate,
            rate / read_pps
        );
        json.insert(
            p.stage.name().into(),
            serde_json::json!({"packets": p.packets, "seconds": p.secs, "pps": rate}),
        );
    }
    println!(
        "inspection cost: {:.2}x the time of metering alone",
        secs(Stage::Inspect) / secs(Stage::Meter)
    );
    println!(
        "enrichment: {:.1} % less throughput than the same pipeline without it",
        100.0 * (1.0 - secs(Stage::Records) / secs(Stage::Enrich))
    );
    let dpi_pps = pps(Stage::Inspect);
    println!(
        "metering+dpi vs ndpiReader 4.x ({:.2} M pkt/s): {:.1}x; vs NFStream 6.6 ({:.2} M pkt/s): {:.1}x",
        BASELINE_NDPIREADER_PPS / 1e6,
        dpi_pps / BASELINE_NDPIREADER_PPS,
        BASELINE_NFSTREAM_PPS / 1e6,
        dpi_pps / BASELINE_NFSTREAM_PPS
    );
    println!("peak RSS: {} MiB", peak_rss_bytes() >> 20);
    if a.json {
        json.insert("peak_rss_bytes".into(), peak_rss_bytes().into());
        println!("{}", serde_json::Value::Object(json));
    }
    Ok(ExitCode::SUCCESS)
}
