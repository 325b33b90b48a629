//! The report's numbers against an independent computation (pyarrow).
use exitflow_synth::SynthConfig;

use crate::common::*;

#[test]
fn report_numbers_equal_an_independent_computation() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds");
    for (seed, node) in [(1u64, "relay-de"), (2, "relay-us")] {
        let cap = dir.path().join(format!("{node}.pcap"));
        let cfg = SynthConfig {
            seed,
            flows: 3000,
            syn_flood: 200,
            ..Default::default()
        };
        exitflow_synth::write_capture(&cfg, std::fs::File::create(&cap).unwrap()).unwrap();
        ok(&[
            "ingest",
            cap.to_str().unwrap(),
            "--dataset",
            ds.to_str().unwrap(),
            "--node",
            node,
        ]);
    }
    let out = dir.path().join("report");
    ok(&[
        "report",
        ds.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let check = python(
        "check_report.py",
        &[
            ds.to_str().unwrap(),
            out.join("report.json").to_str().unwrap(),
        ],
    );
    assert!(check.contains("report ok"), "{check}");
    // A self-contained page: charts drawn inline, nothing to fetch.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.matches("<svg").count() >= 5);
    for forbidden in ["<script", "src=", "href=", "@import", "url("] {
        assert!(
            !html.contains(forbidden),
            "report.html contains {forbidden}"
        );
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("| relay-de |") && md.contains("Chaabane et al. 2010"));
    // Node and date filters.
    let only = dir.path().join("only");
    ok(&[
        "report",
        ds.to_str().unwrap(),
        "--node",
        "relay-us",
        "--format",
        "json",
        "--out",
        only.to_str().unwrap(),
    ]);
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(only.join("report.json")).unwrap()).unwrap();
    assert_eq!(j["nodes"].as_object().unwrap().len(), 1);
    let none = dir.path().join("none");
    ok(&[
        "report",
        ds.to_str().unwrap(),
        "--from",
        "2030-01-01",
        "--format",
        "json",
        "--out",
        none.to_str().unwrap(),
    ]);
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(none.join("report.json")).unwrap()).unwrap();
    assert_eq!(j["all"]["flows"], 0);
}
