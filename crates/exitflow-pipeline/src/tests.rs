//! Unit tests of the pipeline over a synthetic capture built here.
use std::path::PathBuf;

use exitflow_output::Policy;
use exitflow_synth::SynthConfig;

use crate::stages::{Stage, run_stage};
use crate::{Enricher, Exclusions, MeterOptions, meter_capture};

fn capture(dir: &tempfile::TempDir, flows: u64) -> (PathBuf, exitflow_synth::SynthSummary) {
    let path = dir.path().join("synth.pcap");
    let cfg = SynthConfig {
        flows,
        ..Default::default()
    };
    let f = std::fs::File::create(&path).unwrap();
    let sum = exitflow_synth::write_capture(&cfg, f).unwrap();
    (path, sum)
}

#[test]
fn every_stage_reads_every_packet_and_the_metering_stages_export_every_flow() {
    let dir = tempfile::tempdir().unwrap();
    let (path, sum) = capture(&dir, 300);
    let opts = MeterOptions::default();
    let (summary, err) = meter_capture(&path, &opts, &mut |_, _| Ok(()), &mut |_| {});
    assert!(err.is_none());
    for stage in Stage::ALL {
        let r = run_stage(
            &path,
            stage,
            &opts,
            &Enricher::default(),
            &Policy::default(),
        )
        .unwrap();
        assert_eq!(r.packets, sum.packets, "{stage:?}");
        if stage >= Stage::Meter {
            assert_eq!(r.flows, summary.flows.flows_exported, "{stage:?}");
        } else {
            assert_eq!(r.flows, 0, "{stage:?}");
        }
    }
}

#[test]
fn offline_metering_applies_the_exclusions() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = capture(&dir, 200);
    let all = MeterOptions::default();
    let mut ports = std::collections::BTreeMap::<u16, u64>::new();
    let (_, err) = meter_capture(
        &path,
        &all,
        &mut |f, _| {
            *ports.entry(f.dst_port).or_default() += 1;
            Ok(())
        },
        &mut |_| {},
    );
    assert!(err.is_none());
    let (&port, &n) = ports.iter().max_by_key(|(_, n)| **n).unwrap();
    let opts = MeterOptions {
        exclusions: Exclusions::new(&[], &[port]).unwrap(),
        ..Default::default()
    };
    let mut seen = 0u64;
    let (s, err) = meter_capture(
        &path,
        &opts,
        &mut |f, _| {
            assert_ne!(f.dst_port, port);
            seen += 1;
            Ok(())
        },
        &mut |_| {},
    );
    assert!(err.is_none());
    assert_eq!(seen, ports.values().sum::<u64>() - n);
    assert!(s.excluded > 0);
    assert_eq!(s.totals("n").ignored_packets["excluded"], s.excluded);
}

#[test]
fn progress_reaches_the_file_size() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = capture(&dir, 50);
    let mut last = 0;
    meter_capture(
        &path,
        &MeterOptions::default(),
        &mut |_, _| Ok(()),
        &mut |b| {
            assert!(b >= last);
            last = b;
        },
    );
    assert_eq!(last, std::fs::metadata(&path).unwrap().len());
}

#[test]
fn a_missing_capture_is_an_error_naming_the_file() {
    let (s, err) = meter_capture(
        std::path::Path::new("/nonexistent/x.pcap"),
        &MeterOptions::default(),
        &mut |_, _| Ok(()),
        &mut |_| {},
    );
    let e = err.unwrap().to_string();
    assert!(e.contains("/nonexistent/x.pcap"), "{e}");
    assert_eq!(s.flows.flows_exported, 0);
}

#[test]
fn malformed_exclusions_name_what_was_given() {
    let e = Exclusions::new(&["10.0.0.0/33".into()], &[]).unwrap_err();
    assert!(e.to_string().contains("10.0.0.0/33"), "{e}");
}
