//! Capture → decode → meter → record: the per-capture pipeline shared by
//! `flows`, `ingest` and `bench`.
use std::path::Path;

use exitflow_capture::{CaptureError, CaptureReader, ReadStats};
use exitflow_decode::{DecodeOptions, SkipCounters, decode};
use exitflow_flow::{Flow, FlowConfig, FlowStats, FlowTable};
use exitflow_output::{AddressPolicy, NodeTotals, Record};

/// Settings of the metering pipeline.
#[derive(Clone, Copy, Debug, Default)]
pub struct MeterOptions {
    /// Flow table settings.
    pub flow: FlowConfig,
    /// Decoder settings.
    pub decode: DecodeOptions,
}

/// What metering one capture did.
#[derive(Clone, Debug, Default)]
pub struct CaptureSummary {
    /// Reader counters.
    pub read: ReadStats,
    /// Frames not metered, by reason.
    pub ignored: SkipCounters,
    /// Flow table counters.
    pub flows: FlowStats,
    /// Bytes metered (original frame lengths).
    pub bytes: u64,
}

impl CaptureSummary {
    /// These counters as dataset totals for one capture.
    pub fn totals(&self, node: &str) -> NodeTotals {
        NodeTotals {
            node: node.to_owned(),
            captures: 1,
            flows: self.flows.flows_exported,
            failed_flows: self.flows.failed_flows,
            packets: self.flows.packets,
            bytes: self.bytes,
            ignored_packets: self
                .ignored
                .iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            evicted_flows: self.flows.evicted,
            half_open_expired: self.flows.expired_half_open,
            files: 0,
            dataset_bytes: 0,
        }
    }
}

/// Error from one capture: the reader's, or the sink's.
#[derive(Debug)]
pub enum MeterError {
    /// The capture could not be read (flows metered before the problem were exported).
    Capture(CaptureError),
    /// The sink failed.
    Sink(anyhow::Error),
}

/// Meters one capture; every flow goes to `sink` (at expiry and at the end).
///
/// On a read error the flows metered so far are still flushed to the sink
/// before the error is reported, so nothing collected is lost: the summary
/// is always returned, with the error beside it.
pub fn meter_capture(
    path: &Path,
    opts: &MeterOptions,
    sink: &mut dyn FnMut(Flow) -> anyhow::Result<()>,
) -> (CaptureSummary, Option<MeterError>) {
    let mut summary = CaptureSummary::default();
    let mut reader = match CaptureReader::open(path) {
        Ok(r) => r,
        Err(e) => return (summary, Some(MeterError::Capture(e))),
    };
    let mut table = FlowTable::new(opts.flow);
    let mut sink_err: Option<anyhow::Error> = None;
    let mut export = |f: Flow| {
        if sink_err.is_none()
            && let Err(e) = sink(f)
        {
            sink_err = Some(e);
        }
    };
    let mut ignored = SkipCounters::default();
    let mut bytes = 0u64;
    let res = reader.for_each(|pkt| {
        match decode(pkt.link_type, pkt.data, &opts.decode) {
            Ok(info) => {
                bytes += u64::from(pkt.orig_len);
                table.process(&info, pkt.ts_us, pkt.orig_len, &mut export);
            }
            Err(skip) => ignored.add(skip),
        }
        true
    });
    table.flush(&mut export);
    summary.read = reader.stats();
    summary.ignored = ignored;
    summary.flows = *table.stats();
    summary.bytes = bytes;
    let err = match (sink_err, res) {
        (Some(e), _) => Some(MeterError::Sink(e)),
        (None, Err(e)) => Some(MeterError::Capture(e)),
        (None, Ok(())) => None,
    };
    (summary, err)
}

/// A flow as a record under an address policy (labels still unknown).
pub fn to_record(flow: Flow, policy: &mut AddressPolicy) -> Record {
    let src = policy.apply(&flow.src, flow.ip_version);
    let dst = policy.apply(&flow.dst, flow.ip_version);
    let mut r = Record::unlabelled(flow);
    r.src_ip = src;
    r.dst_ip = dst;
    r
}

/// Peak resident memory of this process, bytes (Linux; 0 elsewhere).
pub fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}
