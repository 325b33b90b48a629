//! [`Meter`]: decode → exclusions → flow table → inspection, one packet at a
//! time, and [`meter_capture`], which drives it over a capture file.
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use exitflow_capture::{CaptureError, CaptureReader, Packet, ReadStats};
use exitflow_decode::{DecodeOptions, PacketInfo, SkipCounters, decode};
use exitflow_dpi::{Classification, DpiConfig, Engine, FlowCtx, FlowDpi};
use exitflow_flow::{Flow, FlowConfig, FlowStats, FlowTable};
use exitflow_output::{NodeTotals, OutputError};

use crate::exclude::Exclusions;

/// Packets between two progress reports of [`meter_capture`].
pub const PROGRESS_EVERY_PACKETS: u64 = 1 << 16;

/// Settings of the metering pipeline.
#[derive(Clone, Debug, Default)]
pub struct MeterOptions {
    /// Flow table settings.
    pub flow: FlowConfig,
    /// Decoder settings.
    pub decode: DecodeOptions,
    /// Inspection settings (`max_packets` 0 turns inspection off).
    pub dpi: DpiConfig,
    /// Traffic not measured (management, monitoring).
    pub exclusions: Exclusions,
}

/// What metering one capture did.
#[derive(Clone, Debug, Default)]
pub struct CaptureSummary {
    /// Reader counters.
    pub read: ReadStats,
    /// Frames not metered, by reason.
    pub ignored: SkipCounters,
    /// Frames not metered because the configuration excludes them.
    pub excluded: u64,
    /// Flow table counters.
    pub flows: FlowStats,
    /// Bytes metered (original frame lengths).
    pub bytes: u64,
}

pub use exitflow_output::totals::EXCLUDED_KEY;

impl CaptureSummary {
    /// These counters as dataset totals for one capture.
    pub fn totals(&self, node: &str) -> NodeTotals {
        let mut ignored: std::collections::BTreeMap<String, u64> = self
            .ignored
            .iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        if self.excluded > 0 {
            ignored.insert(EXCLUDED_KEY.to_owned(), self.excluded);
        }
        NodeTotals {
            node: node.to_owned(),
            captures: 1,
            flows: self.flows.flows_exported,
            failed_flows: self.flows.failed_flows,
            packets: self.flows.packets,
            bytes: self.bytes,
            ignored_packets: ignored,
            evicted_flows: self.flows.evicted,
            half_open_expired: self.flows.expired_half_open,
            files: 0,
            dataset_bytes: 0,
            lost_flows: 0,
            exit_policy: None,
            ..NodeTotals::default()
        }
    }
}

/// Error from one capture: the reader's, or the sink's.
#[derive(Debug, thiserror::Error)]
pub enum MeterError {
    /// The capture could not be read (flows metered before the problem were exported).
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// The sink failed to write a flow.
    #[error("writing flows")]
    Sink(#[source] OutputError),
}

/// Decode → exclusions → meter → inspect, one packet at a time: the
/// per-packet path of offline metering, live capture and the benchmark.
/// Flows leave with their verdict.
pub struct Meter {
    table: FlowTable<FlowDpi>,
    engine: Engine,
    inspect: bool,
    decode: DecodeOptions,
    exclusions: Exclusions,
    /// Frames not metered, by reason.
    pub ignored: SkipCounters,
    /// Frames not metered because the configuration excludes them.
    pub excluded: u64,
    /// Bytes metered (original frame lengths).
    pub bytes: u64,
}

impl Meter {
    /// A meter with `opts`.
    pub fn new(opts: &MeterOptions) -> Meter {
        Meter {
            table: FlowTable::new(opts.flow),
            engine: Engine::new(opts.dpi),
            inspect: opts.dpi.max_packets > 0,
            decode: opts.decode,
            exclusions: opts.exclusions.clone(),
            ignored: SkipCounters::default(),
            excluded: 0,
            bytes: 0,
        }
    }

    /// The first stage alone: decodes a frame, counting what is not
    /// metered (undecodable, excluded). `None`: the frame stops here.
    #[inline]
    pub fn decode<'p>(&mut self, pkt: &Packet<'p>) -> Option<PacketInfo<'p>> {
        let info = match decode(pkt.link_type, pkt.data, &self.decode) {
            Ok(info) => info,
            Err(skip) => {
                self.ignored.add(skip);
                return None;
            }
        };
        if self.exclusions.excludes(&info) {
            self.excluded += 1;
            return None;
        }
        Some(info)
    }

    /// Meters one frame; flows that end on the way go to `export`.
    #[inline]
    pub fn packet(&mut self, pkt: &Packet<'_>, export: &mut impl FnMut(Flow, Classification)) {
        let Some(info) = self.decode(pkt) else {
            return;
        };
        self.bytes += u64::from(pkt.orig_len);
        let engine = &self.engine;
        let hit = self
            .table
            .process(&info, pkt.ts_us, pkt.orig_len, &mut |f, mut st| {
                let class = engine.finish(&mut st, &ctx(&f));
                export(f, class)
            });
        if self.inspect {
            engine.inspect(hit.ext, &ctx(hit.flow), &info, hit.src2dst);
        }
    }

    /// Exports every flow idle at `now_ms` (wall time in live capture).
    pub fn expire_idle(&mut self, now_ms: u64, export: &mut impl FnMut(Flow, Classification)) {
        let engine = &self.engine;
        self.table.expire_idle(now_ms, &mut |f, mut st| {
            let class = engine.finish(&mut st, &ctx(&f));
            export(f, class)
        });
    }

    /// Exports every flow (end of input, shutdown).
    pub fn flush(&mut self, export: &mut impl FnMut(Flow, Classification)) {
        let engine = &self.engine;
        self.table.flush(&mut |f, mut st| {
            let class = engine.finish(&mut st, &ctx(&f));
            export(f, class)
        });
    }

    /// Flow table counters.
    pub fn stats(&self) -> &FlowStats {
        self.table.stats()
    }

    /// Entries the DPI engine's caches evicted so far.
    pub fn dpi_cache_evicted(&self) -> exitflow_dpi::CacheEvictions {
        self.engine.cache_evictions()
    }

    /// Flows in the table.
    pub fn active(&self) -> usize {
        self.table.active()
    }

    /// Frames taken but not metered: undecodable or excluded.
    pub fn not_metered(&self) -> u64 {
        self.ignored.total() + self.excluded
    }
}

/// What inspection needs to know of a flow.
pub fn ctx(f: &Flow) -> FlowCtx {
    FlowCtx {
        protocol: f.protocol,
        src_port: f.src_port,
        dst_port: f.dst_port,
        ip_version: f.ip_version,
        src: f.src,
        dst: f.dst,
    }
}

/// Counts the bytes read through it, for progress reports.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn open_counting(
    path: &Path,
    read: Arc<AtomicU64>,
) -> Result<CaptureReader<'static>, CaptureError> {
    if path.as_os_str() == "-" {
        let inner = std::io::stdin();
        return CaptureReader::from_reader(path, Counting { inner, read });
    }
    let inner = std::fs::File::open(path).map_err(|source| CaptureError::Io {
        path: path.to_owned(),
        source,
    })?;
    CaptureReader::from_reader(path, Counting { inner, read })
}

/// Meters one capture; every flow goes to `sink` (at expiry and at the end).
/// `progress` is told the bytes of file read so far every
/// [`PROGRESS_EVERY_PACKETS`] packets.
///
/// On a read error the flows metered so far are still flushed to the sink
/// before the error is reported, so nothing collected is lost: the summary
/// is always returned, with the error beside it.
pub fn meter_capture(
    path: &Path,
    opts: &MeterOptions,
    sink: &mut dyn FnMut(Flow, Classification) -> Result<(), OutputError>,
    progress: &mut dyn FnMut(u64),
) -> (CaptureSummary, Option<MeterError>) {
    let mut summary = CaptureSummary::default();
    let read = Arc::new(AtomicU64::new(0));
    let mut reader = match open_counting(path, read.clone()) {
        Ok(r) => r,
        Err(e) => return (summary, Some(MeterError::Capture(e))),
    };
    let mut meter = Meter::new(opts);
    let mut sink_err: Option<OutputError> = None;
    let mut export = |f: Flow, class: Classification| {
        if sink_err.is_none()
            && let Err(e) = sink(f, class)
        {
            sink_err = Some(e);
        }
    };
    let mut n = 0u64;
    let res = reader.for_each(|pkt| {
        meter.packet(&pkt, &mut export);
        n += 1;
        if n.is_multiple_of(PROGRESS_EVERY_PACKETS) {
            progress(read.load(Ordering::Relaxed));
        }
        true
    });
    meter.flush(&mut export);
    progress(read.load(Ordering::Relaxed));
    summary.read = reader.stats();
    summary.ignored = meter.ignored;
    summary.excluded = meter.excluded;
    summary.flows = *meter.stats();
    summary.bytes = meter.bytes;
    let err = match (sink_err, res) {
        (Some(e), _) => Some(MeterError::Sink(e)),
        (None, Err(e)) => Some(MeterError::Capture(e)),
        (None, Ok(())) => None,
    };
    (summary, err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_flow_cap_with_inspection_state_fits_the_budget() {
        let per_flow = FlowTable::<FlowDpi>::bytes_per_flow();
        let total = exitflow_flow::DEFAULT_MAX_FLOWS * per_flow;
        assert!(total < 96 << 20, "{total}");
    }
}
