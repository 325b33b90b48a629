//! `exitflow demo`: a day of traffic for three relays — synthesise, ingest,
//! report — on any machine, offline.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

use exitflow_synth::SynthConfig;

use crate::args::{
    DemoArgs, EnrichArgs, IngestArgs, NodeArgs, PipelineArgs, ReportArgs, ReportFormat,
};
use crate::config::Config;

/// The demo's relays: synthesis seed, node name, UTC offset in minutes,
/// the relay's address (in the country its name says, per GeoIP data).
const NODES: [(u64, &str, i32, [u8; 4]); 3] = [
    (1, "demo-de", 60, [185, 220, 101, 33]),
    (2, "demo-us", -300, [104, 244, 72, 115]),
    (3, "demo-jp", 540, [153, 127, 1, 1]),
];
/// The country database the project's tests use, in `shared/` beside the
/// repository.
const SHARED_GEOIP: &str = "shared/geoip/geo-whois-asn-country.mmdb";
/// Seconds of traffic per relay.
const DEMO_SPAN_S: u64 = 86_400;
/// Percent of flows between the relay and other relays.
const DEMO_RELAY_PERCENT: u8 = 12;
/// Percent of flows no protocol explains.
const DEMO_UNKNOWN_PERCENT: u8 = 9;
/// Unanswered SYNs to the relay per sample (a small flood).
const DEMO_SYN_FLOOD: u64 = 3_000;

/// The shared country database, found from the working directory, the
/// binary's location or the source tree, whichever has it.
fn find_geoip() -> Option<PathBuf> {
    let mut starts: Vec<PathBuf> = Vec::new();
    if let Ok(d) = std::env::current_dir() {
        starts.push(d);
    }
    if let Ok(e) = std::env::current_exe() {
        starts.push(e);
    }
    starts.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    starts
        .iter()
        .flat_map(|s| {
            s.ancestors()
                .map(|a| a.join("..").join(SHARED_GEOIP))
                .collect::<Vec<_>>()
        })
        .chain(starts.iter().flat_map(|s| {
            s.ancestors()
                .map(|a| a.join(SHARED_GEOIP))
                .collect::<Vec<_>>()
        }))
        .find(|p| p.is_file())
}

/// A consensus listing the other relays a sample talks to, so that their
/// flows are recognised as `relay`.
fn write_consensus(path: &Path, seed: u64) -> Result<()> {
    let mut doc = String::from(
        "network-status-version 3\nvote-status consensus\nvalid-after 2021-06-01 00:00:00\n",
    );
    for (i, ip) in exitflow_synth::relay_peers(seed).iter().enumerate() {
        doc.push_str(&format!(
            "r peer{i} AAAA BBBB 2021-05-31 12:00:00 {} {} 0\n",
            std::net::Ipv4Addr::from(*ip),
            exitflow_synth::PEER_OR_PORT
        ));
    }
    std::fs::write(path, doc).with_context(|| format!("writing {}", path.display()))
}

/// The demo's enrichment for a node: its address, its consensus, and the
/// country database when one is found (no network needed).
fn demo_enrich(
    given: &EnrichArgs,
    relay: [u8; 4],
    consensus: PathBuf,
    geoip: Option<&Path>,
) -> EnrichArgs {
    let mut e = given.clone();
    if e.own_address.is_empty() {
        e.own_address.push(std::net::IpAddr::from(relay));
    }
    if e.consensus.is_none() {
        e.consensus = Some(consensus);
    }
    if e.geoip.is_empty()
        && let Some(g) = geoip
    {
        e.geoip.push(g.to_owned());
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
    let mut noisy = false;
    let geoip = if a.enrich.geoip.is_empty() {
        find_geoip()
    } else {
        None
    };
    if a.enrich.geoip.is_empty() && geoip.is_none() {
        lines.push(format!(
            "note: no GeoIP database found ({SHARED_GEOIP} beside the repository): countries are 'unknown'; give --geoip FILE"
        ));
    }
    for (seed, node, tz, relay) in NODES {
        let cap = a.dir.join(format!("sample-{node}.pcap"));
        super::synth::write(
            &SynthConfig {
                seed,
                flows: a.flows,
                syn_flood: DEMO_SYN_FLOOD,
                span_s: DEMO_SPAN_S,
                relay,
                relay_percent: DEMO_RELAY_PERCENT,
                unknown_percent: DEMO_UNKNOWN_PERCENT,
                daily_rhythm_tz_s: Some(i64::from(tz) * 60),
                ..Default::default()
            },
            &cap,
        )?;
        let consensus = a.dir.join(format!("consensus-{node}"));
        write_consensus(&consensus, seed)?;
        let (c, t) = super::ingest::run(
            &IngestArgs {
                captures: vec![cap.clone()],
                node: NodeArgs {
                    dataset: Some(dataset.clone()),
                    node: Some(node.into()),
                },
                pipeline: PipelineArgs {
                    enrich: demo_enrich(&a.enrich, relay, consensus, geoip.as_deref()),
                    policy: crate::args::PolicyArgs {
                        profile: a.profile,
                        ..Default::default()
                    },
                    ..Default::default()
                },
                synthetic: true,
            },
            conf,
        )?;
        if c != ExitCode::SUCCESS {
            code = c;
        }
        noisy |= t.noisy_writes > 0;
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
        from_json: None,
        rows: false,
        out: report_dir.clone(),
        format: vec![ReportFormat::Html, ReportFormat::Md, ReportFormat::Json],
        node: Vec::new(),
        from: None,
        to: None,
        tz: NODES
            .iter()
            .map(|(_, n, tz, _)| ((*n).to_owned(), exitflow_analyze::Zone::Fixed(*tz)))
            .collect(),
        publish: false,
        epsilon: exitflow_analyze::publish::DEFAULT_EPSILON,
        budget: exitflow_analyze::publish::DEFAULT_BUDGET,
        unit_days: exitflow_analyze::publish::DEFAULT_UNIT_DAYS,
        action_bound: exitflow_analyze::publish::DEFAULT_ACTION_BOUND,
    })?;
    for l in &lines {
        println!("{l}");
    }
    if noisy {
        println!(
            "(node totals as the profile writes them: flows to 16, packets to 1,024 and bytes to 1 MiB, with noise; docs/privacy.md)"
        );
    }
    println!("synthetic traffic: the report says so on its first line");
    println!("dataset: {}", dataset.display());
    println!("report:  {}", report_dir.join("report.html").display());
    Ok(code)
}
