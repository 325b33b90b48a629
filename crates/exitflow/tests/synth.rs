//! Synthetic captures: metering them gives back exactly what was generated;
//! a SYN flood stays within the flow cap and every flow is accounted for;
//! the demo runs.
use exitflow_synth::SynthConfig;

use crate::common::*;

#[test]
fn synthetic_capture_round_trips_through_the_meter() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("s.pcap");
    let cfg = SynthConfig {
        flows: 5000,
        syn_flood: 500,
        seed: 7,
        ..Default::default()
    };
    let sum = synth_file(&cap, &cfg);
    // Same seed, same bytes.
    let mut again = Vec::new();
    exitflow_synth::write_capture(&cfg, &mut again).unwrap();
    assert_eq!(again, std::fs::read(&cap).unwrap());
    let out = dir.path().join("out");
    // Exact counts to add up: the research profile.
    flows(&cap, &out, &["--profile", "research"]);
    let mut r = csv::Reader::from_path(out.join("s.pcap.csv")).unwrap();
    let h = r.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|c| c == n).unwrap();
    let (pk, by, failed, state) = (
        col("bidirectional_packets"),
        col("bidirectional_bytes"),
        col("failed_flow"),
        col("conn_state"),
    );
    let (mut flows, mut packets, mut bytes, mut nfailed, mut sf) = (0u64, 0u64, 0u64, 0u64, 0u64);
    for rec in r.records() {
        let rec = rec.unwrap();
        flows += 1;
        packets += rec[pk].parse::<u64>().unwrap();
        bytes += rec[by].parse::<u64>().unwrap();
        nfailed += u64::from(&rec[failed] == "1");
        sf += u64::from(&rec[state] == "SF");
    }
    assert_eq!(
        (flows, packets, bytes, nfailed),
        (sum.flows, sum.packets, sum.bytes, sum.failed_flows)
    );
    assert!(sf > sum.flows / 3, "{sf} SF flows");
}

#[test]
fn syn_flood_of_two_million_sources_stays_under_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("flood.pcap");
    let cfg = SynthConfig {
        flows: 2000,
        syn_flood: 2_000_000,
        span_s: 60,
        ..Default::default()
    };
    let sum = synth_file(&cap, &cfg);
    let ds = dir.path().join("ds");
    let o = ingest(&cap, &ds, "flooded", &[]);
    let totals: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ds.join("node=flooded/_totals.json")).unwrap())
            .unwrap();
    // Every flow created was exported: evicted ones included, none lost.
    assert_eq!(totals["flows"], sum.flows);
    assert_eq!(totals["packets"], sum.packets);
    let evicted = totals["evicted_flows"].as_u64().unwrap();
    assert!(evicted > 1_500_000, "{evicted}");
    // Peak memory stays bounded by the flow cap, not by the flood.
    let log = String::from_utf8_lossy(&o.stderr);
    let rss: u64 = log
        .split("peak_rss_mib")
        .nth(1)
        .and_then(|s| {
            s.trim_start_matches(|c: char| !c.is_ascii_digit())
                .split(|c: char| !c.is_ascii_digit())
                .next()
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no peak_rss_mib in {log}"));
    assert!(rss < 256, "peak RSS {rss} MiB");
}

#[test]
fn demo_runs_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("demo");
    let o = ok(&["demo", "--dir", d.to_str().unwrap(), "--flows", "3000"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("demo-de: 3000 flows"), "{out}");
    for node in ["demo-de", "demo-us", "demo-jp"] {
        assert!(
            d.join(format!("dataset/node={node}/_totals.json"))
                .is_file()
        );
    }
    assert!(d.join("report/report.html").is_file() && out.contains("report.html"));
}
