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

#[test]
fn published_reports_show_no_value_under_k_and_state_epsilon() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds");
    let cap = dir.path().join("n.pcap");
    let cfg = SynthConfig {
        flows: 4000,
        ..Default::default()
    };
    exitflow_synth::write_capture(&cfg, std::fs::File::create(&cap).unwrap()).unwrap();
    ok(&[
        "ingest",
        cap.to_str().unwrap(),
        "--dataset",
        ds.to_str().unwrap(),
        "--node",
        "n1",
    ]);
    let (plain, public) = (dir.path().join("plain"), dir.path().join("public"));
    ok(&[
        "report",
        ds.to_str().unwrap(),
        "--out",
        plain.to_str().unwrap(),
    ]);
    ok(&[
        "report",
        ds.to_str().unwrap(),
        "--publish",
        "--k",
        "50",
        "--out",
        public.to_str().unwrap(),
    ]);
    let read = |d: &std::path::Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(d.join("report.json")).unwrap()).unwrap()
    };
    let (truth, p) = (read(&plain), read(&public));
    assert_eq!(p["publication"]["epsilon_per_statistic"], 0.3);
    assert_eq!(p["publication"]["k_threshold"], 50);
    let md = std::fs::read_to_string(public.join("report.md")).unwrap();
    assert!(md.contains("ε = 0.3"), "{}", &md[..300]);
    let tables = [
        "applications_top40",
        "categories",
        "dst_countries",
        "src_countries",
        "dst_ports_top40",
        "user_agents",
        "content_types_top40",
        "tor_roles",
    ];
    for agg in [&p["all"], &p["nodes"]["n1"]] {
        for t in tables {
            for row in agg[t].as_array().unwrap() {
                let n = row[1].as_u64().unwrap();
                assert!(n >= 50 && n % 4 == 0, "{t}: {row}");
            }
        }
        for h in agg["flows_per_hour_utc"].as_array().unwrap() {
            let h = h.as_u64().unwrap();
            assert!(h == 0 || h >= 50, "hour {h}");
        }
    }
    // A value the truth has under k (with margin for the noise) never shows.
    for row in truth["all"]["applications_top40"].as_array().unwrap() {
        if row[1].as_u64().unwrap() < 20 {
            let label = row[0].as_str().unwrap();
            assert!(
                !p["all"]["applications_top40"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r[0] == label),
                "{label} published"
            );
        }
    }
}
