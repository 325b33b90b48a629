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
    // Every flow created was exported: evicted ones included, none lost
    // (the default profile's totals are noisy and rounded).
    use exitflow_output::totals::{COUNT_GRID, PACKET_GRID};
    assert_noisy(&totals["flows"], sum.flows, COUNT_GRID, 1, "flows");
    assert_noisy(&totals["packets"], sum.packets, PACKET_GRID, 1, "packets");
    assert_noisy(&totals["lost_flows"], 0, COUNT_GRID, 1, "lost");
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
    // Run from elsewhere than the repository: the GeoIP data is still found.
    let o = exitflow()
        .current_dir(dir.path())
        .args(["demo", "--dir", d.to_str().unwrap(), "--flows", "3000"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    // 3,000 flows and a small SYN flood per node (the default profile's
    // totals: noisy, rounded to 16).
    let de: u64 = out
        .split("demo-de: ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(de.is_multiple_of(16) && de.abs_diff(6000) <= 128, "{out}");
    assert!(!out.contains("no GeoIP database found"), "{out}");
    for node in ["demo-de", "demo-us", "demo-jp"] {
        assert!(
            d.join(format!("dataset/node={node}/_totals.json"))
                .is_file()
        );
    }
    assert!(d.join("report/report.html").is_file() && out.contains("report.html"));
    // A report that says it is synthetic, with some Unknown, relay and
    // failed flows, and a daily rhythm; source countries (Figure 5.11) are
    // of flows the relay did not begin, and the demo's relays only begin
    // flows: none, rather than each node's own country (a review found
    // the report counting the relay's own address as a source).
    let j = report_json(&d.join("report"));
    assert_eq!(j["synthetic"], true);
    let md = std::fs::read_to_string(d.join("report/report.md")).unwrap();
    assert!(md.starts_with("# Exit traffic report (synthetic data)\n\nSYNTHETIC DATA"));
    let html = std::fs::read_to_string(d.join("report/report.html")).unwrap();
    assert!(html.contains("class=\"warning\">SYNTHETIC DATA"));
    for (node, country) in [("demo-de", "DE"), ("demo-us", "US"), ("demo-jp", "JP")] {
        let f = &j["nodes"][node];
        assert_eq!(f["src_country_flows"], 0, "{node}");
        assert_eq!(f["src_countries"], serde_json::json!([]), "{node}");
        assert!(
            f["dst_countries"].as_array().unwrap().len() > 3,
            "{node} ({country}): {}",
            f["dst_countries"]
        );
        assert!(f["unknown_share"].as_f64().unwrap() > 3.0, "{node}");
        assert!(f["failed_share"].as_f64().unwrap() > 10.0, "{node}");
        let relay = f["tor_roles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r[0] == "relay")
            .map_or(0, |r| r[1].as_u64().unwrap());
        assert!(relay > 100, "{node}: {}", f["tor_roles"]);
        let local: Vec<u64> = f["flows_per_hour_local"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        // Most flows in the local afternoon, fewest before dawn.
        let busiest = (0..24).max_by_key(|h| local[*h]).unwrap();
        let quietest = (0..24).min_by_key(|h| local[*h]).unwrap();
        assert!((12..=20).contains(&busiest), "{node}: {local:?}");
        assert!(quietest <= 7, "{node}: {local:?}");
    }
}
