//! The dataset: Hive layout read back by pyarrow, totals, RFC 4180 CSV.

use exitflow_output::totals::{BYTE_GRID, COUNT_GRID, PACKET_GRID};
use exitflow_output::{FlowWriter, Format, Record};
use exitflow_synth::SynthConfig;

use crate::common::*;

#[test]
fn ingest_writes_a_hive_dataset_that_pyarrow_reads() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("relay.pcap");
    // Starts half an hour before midnight UTC: flows land in two date partitions.
    let cfg = SynthConfig {
        flows: 3000,
        start_s: 1_622_590_200,
        span_s: 3600,
        ..Default::default()
    };
    let sum = synth_file(&cap, &cfg);
    let ds = dir.path().join("ds");
    for _ in 0..2 {
        ingest(&cap, &ds, "relay-1", &[]);
    }
    let totals: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ds.join("node=relay-1/_totals.json")).unwrap())
            .unwrap();
    // Default profile: each ingest's increments are noised and rounded
    // (exitflow_output::totals); the counts the files show stay exact.
    assert_eq!(totals["captures"], 2);
    assert_noisy(&totals["flows"], 2 * sum.flows, COUNT_GRID, 2, "flows");
    assert_noisy(
        &totals["failed_flows"],
        2 * sum.failed_flows,
        COUNT_GRID,
        2,
        "failed",
    );
    assert_noisy(
        &totals["packets"],
        2 * sum.packets,
        PACKET_GRID,
        2,
        "packets",
    );
    assert_noisy(&totals["bytes"], 2 * sum.bytes, BYTE_GRID, 2, "bytes");
    let schema = run(&["schema"]).stdout;
    let schema = String::from_utf8(schema).unwrap();
    // Rows no k rows of their hour share are not written (fewer than 1 %),
    // but counted.
    let out = python(
        "check_dataset.py",
        &[
            ds.to_str().unwrap(),
            &format!("{}:{}", 2 * sum.flows * 99 / 100, 2 * sum.flows),
            &schema,
        ],
    );
    let rows: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("rows "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert_noisy(
        &totals["suppressed_flows"],
        2 * sum.flows - rows,
        COUNT_GRID,
        2,
        "withheld",
    );
    assert!(out.contains("dates 2021-06-01,2021-06-02"), "{out}");
    for f in files_under(&ds) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.ends_with(".parquet") || name == "_totals.json",
            "{name}"
        );
    }
}

/// Also the privacy gate's finding 8: cells a spreadsheet would run as a
/// formula (`=`, `+`, `-`, `@`, tab, carriage return first) come out with a
/// leading `'` (OWASP's rule); everything else round-trips exactly.
#[test]
fn finding_8_csv_cells_that_start_a_formula_are_neutralised_and_the_rest_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.csv");
    let hostile = [
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)",
        "a,b,c",
        "say \"hi\", then leave",
        "line one\nline two",
        "carriage\r\nreturn",
        "\"",
        ",",
        "",
        " leading and trailing ",
        "ünïcødé ✓ 🚀",
        "tab\there",
        "=cmd|' /C calc'!A0",
        "=HYPERLINK(\"http://x.example\",\"y\")",
        "+cmd|' /C calc'!A0",
        "-1+1",
        "@SUM(1+1)*cmd|' /C calc'!A0",
        "\tleading tab",
        "\rleading return",
    ];
    let safe: Vec<String> = hostile
        .iter()
        .map(|s| {
            if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                format!("'{s}")
            } else {
                (*s).to_owned()
            }
        })
        .collect();
    let mut policy = exitflow_output::Policy::research();
    let mut w = FlowWriter::create(&path, Format::Csv, policy.layout(), &[]).unwrap();
    let cap = corpus_pcaps()
        .into_iter()
        .find(|p| p.ends_with("dns_doh.pcap"))
        .unwrap();
    let mut flows = Vec::new();
    let (_, err) = exitflow_pipeline::meter_capture(
        &cap,
        &Default::default(),
        &mut |f, _| {
            flows.push(f);
            Ok(())
        },
        &mut |_| {},
    );
    assert!(err.is_none());
    for (i, s) in hostile.iter().enumerate() {
        let mut r = Record::unlabelled(flows[i % flows.len()].clone());
        r.application_name = (*s).to_string();
        r.application_category_name = format!("{s}|{i}");
        w.write(&policy.store(r)).unwrap();
    }
    w.finish().unwrap();
    let expected = serde_json::to_string(&safe).unwrap();
    let out = python("csv_roundtrip.py", &[path.to_str().unwrap(), &expected]);
    assert!(out.contains("csv ok") && out.contains("pandas ok"), "{out}");
    // And our own reader agrees.
    let mut r = csv::Reader::from_path(&path).unwrap();
    let col = r
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "application_name")
        .unwrap();
    let got: Vec<String> = r.records().map(|x| x.unwrap()[col].to_string()).collect();
    assert_eq!(got, safe);
}

#[test]
fn schema_document_matches_the_binary() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/schema.md"))
        .unwrap();
    let table = String::from_utf8(run(&["schema"]).stdout).unwrap();
    assert!(
        doc.contains(&table),
        "docs/schema.md is stale: regenerate it with `exitflow schema`"
    );
}

/// docs/report.schema.json is the binary's `schema --report`: the
/// contract Spark's output is held to.
#[test]
fn report_schema_document_matches_the_binary() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/report.schema.json"
    ))
    .unwrap();
    let schema = String::from_utf8(run(&["schema", "--report"]).stdout).unwrap();
    assert!(
        doc == schema,
        "docs/report.schema.json is stale: regenerate it with `exitflow schema --report > docs/report.schema.json`"
    );
}

#[test]
fn protocol_document_matches_the_binary() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/protocols.md"
    ))
    .unwrap();
    let table = String::from_utf8(run(&["protocols"]).stdout).unwrap();
    assert!(table.lines().count() > 400, "{table}");
    assert!(
        doc.contains(&table),
        "docs/protocols.md is stale: regenerate it with scripts/protocol_table.sh"
    );
}

#[test]
fn configuration_file_sets_node_dataset_timeouts_and_policy() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("c.pcap");
    let cfg = SynthConfig {
        flows: 500,
        ..Default::default()
    };
    let sum = synth_file(&cap, &cfg);
    let ds = dir.path().join("ds");
    let conf = dir.path().join("exitflow.toml");
    // The printed defaults are a valid configuration to start from.
    let mut text = String::from_utf8(run(&["config"]).stdout).unwrap();
    text = text.replace("# name = \"relay-1\"", "name = \"from-config\"");
    text = text.replace(
        "# dataset = \"/var/lib/exitflow/dataset\"",
        &format!("dataset = {:?}", ds.display().to_string()),
    );
    text = text.replace("profile = \"default\"", "profile = \"strict\"");
    text = text.replace(
        "# own_addresses = [\"192.0.2.1\", \"2001:db8::1\"]",
        "own_addresses = [\"185.220.101.33\"]",
    );
    std::fs::write(&conf, &text).unwrap();
    ok(&[
        "--config",
        conf.to_str().unwrap(),
        "ingest",
        cap.to_str().unwrap(),
    ]);
    let totals: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ds.join("node=from-config/_totals.json")).unwrap())
            .unwrap();
    // Strict writes its totals noisy too.
    assert_noisy(&totals["flows"], sum.flows, COUNT_GRID, 1, "flows");
    let out = python("check_policy.py", &[ds.to_str().unwrap()]);
    assert!(
        out.contains("profile=strict") && out.contains("exit"),
        "{out}"
    );
    // A flag beats the file.
    ok(&[
        "--config",
        conf.to_str().unwrap(),
        "ingest",
        cap.to_str().unwrap(),
        "--node",
        "from-flag",
    ]);
    assert!(ds.join("node=from-flag").is_dir());
    // A misspelt key is an error that names the file and the key.
    std::fs::write(&conf, "[flow]\nidle_timout = 5\n").unwrap();
    let o = run(&[
        "--config",
        conf.to_str().unwrap(),
        "ingest",
        cap.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err.contains("exitflow.toml") && err.contains("idle_timout"),
        "{err}"
    );
}

/// The retention setting deletes partitions older than it, and only those.
#[test]
fn retention_deletes_old_partitions_after_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("old.pcap");
    // Flows of June 2021: far older than any retention.
    synth_file(&cap, &SynthConfig::default());
    let ds = dir.path().join("ds");
    ingest(&cap, &ds, "n", &[]);
    let node = ds.join("node=n");
    let dates = |d: &std::path::Path| {
        std::fs::read_dir(d)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("date=")
            })
            .count()
    };
    assert!(dates(&node) > 0);
    ingest(&cap, &ds, "n", &["--retention-days", "3650000"]);
    assert!(dates(&node) > 0, "a long retention keeps them");
    ingest(&cap, &ds, "n", &["--retention-days", "30"]);
    assert_eq!(dates(&node), 0);
    assert!(node.join("_totals.json").is_file(), "totals are kept");
    ingest_fails(&cap, &ds, "n", &["--retention-days", "0"]);
}

/// Regression (design review): six error variants printed
/// `"{path}: {source}"` and also exposed the source, so the chain the binary
/// prints gave the cause twice (`No such file or directory (os error 2): No
/// such file or directory (os error 2)`).
#[test]
fn an_error_names_its_file_and_prints_its_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pcap");
    let out = dir.path().join("out");
    for args in [
        vec![
            "flows",
            missing.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ],
        vec![
            "report",
            missing.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        vec![
            "ingest",
            missing.to_str().unwrap(),
            "--dataset",
            "/proc/exitflow-nowhere",
            "--node",
            "n",
        ],
    ] {
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?}");
        let line = err
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_else(|| panic!("{args:?}: {err}"));
        assert!(
            line.contains("missing.pcap") || line.contains("exitflow-nowhere"),
            "{line}"
        );
        assert_eq!(
            line.matches("No such file or directory").count(),
            1,
            "{line}"
        );
    }
}

/// Issue 24: a capture whose every frame is ignored (here, 802.11 frames
/// without a radio header, a link type exitflow does not decode) says so
/// at the default log level, with the reason and the count — exact under
/// research, to the nearest 16 otherwise.
#[test]
fn a_capture_whose_every_frame_is_ignored_says_why_at_the_default_log_level() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("radio.pcap");
    let mut b = Vec::new();
    // pcap global header: magic, version 2.4, zone, sigfigs, snaplen,
    // link type 105 (IEEE 802.11 without a radio header, which NFStream does
    // not decode either).
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 105] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for i in 0..3u32 {
        let frame = [0u8; 40];
        for v in [1_622_505_600 + i, 0, frame.len() as u32, frame.len() as u32] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&frame);
    }
    std::fs::write(&cap, &b).unwrap();
    for (profile, count) in [("research", "(3)"), ("default", "(fewer than 16)")] {
        let out = dir.path().join(profile);
        let o = flows(&cap, &out, &["--profile", profile]);
        let err = String::from_utf8_lossy(&o.stderr);
        let line = err
            .lines()
            .find(|l| l.contains("every frame was ignored"))
            .unwrap_or_else(|| panic!("{profile}: {err}"));
        assert!(
            line.contains("radio.pcap") && line.contains(&format!("unsupported_link_type {count}")),
            "{line}"
        );
    }
    // A capture with flows says nothing of the kind.
    let ok = small_capture(dir.path(), 20);
    let o = flows(&ok, &dir.path().join("ok"), &[]);
    assert!(!String::from_utf8_lossy(&o.stderr).contains("every frame was ignored"));
}
