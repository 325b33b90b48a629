//! `exitflow demo`: a day of traffic for three relays — synthesise, ingest,
//! report — on any machine, offline.
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::args::{
    DemoArgs, EnrichArgs, IngestArgs, NodeArgs, PipelineArgs, ReportArgs, ReportFormat, SynthArgs,
};
use crate::config::Config;

/// The demo's relays: synthesis seed, node name, UTC offset in minutes.
const NODES: [(u64, &str, i32); 3] = [
    (1, "demo-de", 60),
    (2, "demo-us", -300),
    (3, "demo-jp", 540),
];
/// The shared country database, used when it sits beside the repository.
const SHARED_GEOIP: &str = "../shared/geoip/geo-whois-asn-country.mmdb";
/// Seconds of traffic per relay.
const DEMO_SPAN_S: u64 = 86_400;

/// The demo's enrichment: the synthetic relay's own address, and the shared
/// country database when it sits beside the repository (no network needed).
fn demo_enrich(given: &EnrichArgs) -> EnrichArgs {
    let mut e = given.clone();
    if e.own_address.is_empty() {
        e.own_address
            .push(std::net::IpAddr::from(exitflow_synth::RELAY));
    }
    if e.geoip.is_empty() && Path::new(SHARED_GEOIP).is_file() {
        e.geoip.push(SHARED_GEOIP.into());
    }
    e
}

/// Runs the demo and prints each node's totals and the report's path.
pub fn run(a: &DemoArgs, conf: &Config) -> Result<ExitCode> {
    std::fs::create_dir_all(&a.dir).with_context(|| format!("creating {}", a.dir.display()))?;
    let dataset = a.dir.join("dataset");
    // A fresh dataset each run, so the totals describe this sample alone.
    if dataset.exists() {
        std::fs::remove_dir_all(&dataset)
            .with_context(|| format!("removing {}", dataset.display()))?;
    }
    let mut code = ExitCode::SUCCESS;
    let mut lines = Vec::new();
    for (seed, node, _) in NODES {
        let cap = a.dir.join(format!("sample-{node}.pcap"));
        super::synth::run(&SynthArgs {
            output: cap.clone(),
            flows: a.flows,
            syn_flood: 0,
            seed,
            span: DEMO_SPAN_S,
        })?;
        let (c, t) = super::ingest::run(
            &IngestArgs {
                captures: vec![cap.clone()],
                node: NodeArgs {
                    dataset: Some(dataset.clone()),
                    node: Some(node.into()),
                },
                pipeline: PipelineArgs {
                    enrich: demo_enrich(&a.enrich),
                    ..Default::default()
                },
            },
            conf,
        )?;
        if c != ExitCode::SUCCESS {
            code = c;
        }
        let share = if t.flows > 0 {
            100.0 * t.failed_flows as f64 / t.flows as f64
        } else {
            0.0
        };
        lines.push(format!(
            "{node}: {} flows, {} failed ({share:.1} %), {} packets, {:.1} MB, {} Parquet file(s), {} bytes on disk; capture {}",
            t.flows,
            t.failed_flows,
            t.packets,
            t.bytes as f64 / 1e6,
            t.files,
            t.dataset_bytes,
            cap.display()
        ));
    }
    let report_dir = a.dir.join("report");
    super::report::run(&ReportArgs {
        datasets: vec![dataset.clone()],
        out: report_dir.clone(),
        format: vec![ReportFormat::Html, ReportFormat::Md, ReportFormat::Json],
        node: Vec::new(),
        from: None,
        to: None,
        tz: NODES
            .iter()
            .map(|(_, n, tz)| ((*n).to_owned(), *tz))
            .collect(),
        publish: false,
        epsilon: exitflow_analyze::publish::DEFAULT_EPSILON,
        no_noise: false,
        k: exitflow_analyze::publish::DEFAULT_K,
        round: exitflow_analyze::publish::DEFAULT_ROUND,
    })?;
    for l in &lines {
        println!("{l}");
    }
    println!("dataset: {}", dataset.display());
    println!("report:  {}", report_dir.join("report.html").display());
    Ok(code)
}
