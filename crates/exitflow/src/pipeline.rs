//! Capture → decode → meter → record: the per-capture pipeline shared by
//! `flows`, `ingest` and `bench`.
use std::path::Path;

use exitflow_capture::{CaptureError, CaptureReader, Packet, ReadStats};
use exitflow_decode::{DecodeOptions, SkipCounters, decode};
use exitflow_dpi::{Classification, DpiConfig, Engine, FlowCtx, FlowDpi};
use exitflow_enrich::role::End;
use exitflow_enrich::{Consensus, GeoSet, RoleConfig};
use exitflow_flow::{Flow, FlowConfig, FlowStats, FlowTable};
use exitflow_output::privacy::to_ip;
use exitflow_output::{NodeTotals, Policy, Record};

use crate::exclude::Exclusions;

/// Settings of the metering pipeline.
#[derive(Clone, Copy, Debug, Default)]
pub struct MeterOptions {
    /// Flow table settings.
    pub flow: FlowConfig,
    /// Decoder settings.
    pub decode: DecodeOptions,
    /// Inspection settings (`max_packets` 0 turns inspection off).
    pub dpi: DpiConfig,
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
            lost_flows: 0,
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

/// Decode → meter → inspect, one packet at a time: the per-packet path shared
/// by offline metering and live capture. Flows leave with their verdict.
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
    /// A meter with `opts`; packets matching `exclusions` are not metered.
    pub fn new(opts: &MeterOptions, exclusions: Exclusions) -> Meter {
        Meter {
            table: FlowTable::new(opts.flow),
            engine: Engine::new(opts.dpi),
            inspect: opts.dpi.max_packets > 0,
            decode: opts.decode,
            exclusions,
            ignored: SkipCounters::default(),
            excluded: 0,
            bytes: 0,
        }
    }

    /// Meters one frame; flows that end on the way go to `export`.
    #[inline]
    pub fn packet(&mut self, pkt: &Packet<'_>, export: &mut impl FnMut(Flow, Classification)) {
        let info = match decode(pkt.link_type, pkt.data, &self.decode) {
            Ok(info) => info,
            Err(skip) => return self.ignored.add(skip),
        };
        if self.exclusions.excludes(&info) {
            self.excluded += 1;
            return;
        }
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

    /// Flows in the table.
    pub fn active(&self) -> usize {
        self.table.active()
    }
}

/// Meters one capture; every flow goes to `sink` (at expiry and at the end).
///
/// On a read error the flows metered so far are still flushed to the sink
/// before the error is reported, so nothing collected is lost: the summary
/// is always returned, with the error beside it.
pub fn meter_capture(
    path: &Path,
    opts: &MeterOptions,
    sink: &mut dyn FnMut(Flow, Classification) -> anyhow::Result<()>,
) -> (CaptureSummary, Option<MeterError>) {
    let mut summary = CaptureSummary::default();
    let mut reader = match CaptureReader::open(path) {
        Ok(r) => r,
        Err(e) => return (summary, Some(MeterError::Capture(e))),
    };
    let mut meter = Meter::new(opts, Exclusions::default());
    let mut sink_err: Option<anyhow::Error> = None;
    let mut export = |f: Flow, class: Classification| {
        if sink_err.is_none()
            && let Err(e) = sink(f, class)
        {
            sink_err = Some(e);
        }
    };
    let res = reader.for_each(|pkt| {
        meter.packet(&pkt, &mut export);
        true
    });
    meter.flush(&mut export);
    summary.read = reader.stats();
    summary.ignored = meter.ignored;
    summary.flows = *meter.stats();
    summary.bytes = meter.bytes;
    let err = match (sink_err, res) {
        (Some(e), _) => Some(MeterError::Sink(e)),
        (None, Err(e)) => Some(MeterError::Capture(e)),
        (None, Ok(())) => None,
    };
    (summary, err)
}

/// What inspection needs to know of a flow.
pub fn ctx(f: &Flow) -> FlowCtx {
    FlowCtx {
        protocol: f.protocol,
        src_port: f.src_port,
        dst_port: f.dst_port,
    }
}

/// Per-flow enrichment: GeoIP and the Tor role. Clone it per worker thread:
/// the databases are shared, the caches are not.
#[derive(Clone, Default)]
pub struct Enricher {
    /// Country/ASN/proxy databases (may be empty).
    pub geo: GeoSet,
    /// The relay's consensus, if given.
    pub consensus: Option<Consensus>,
    /// The relay's own configuration.
    pub roles: RoleConfig,
    /// Where the consensus came from and when it was written, for reloads.
    pub consensus_source: Option<(std::path::PathBuf, Option<std::time::SystemTime>)>,
    /// Consensus reloads done.
    pub consensus_reloads: u64,
}

impl Enricher {
    /// Reloads GeoIP databases and the consensus whose files changed (tor
    /// writes a new consensus every hour; GeoIP updates come weekly). A file
    /// that fails to load keeps the previous copy in use; the errors are
    /// returned for the log.
    pub fn reload_changed(&mut self) -> Vec<anyhow::Error> {
        let mut errors: Vec<anyhow::Error> = self
            .geo
            .reload_changed()
            .into_iter()
            .map(Into::into)
            .collect();
        if let Some((path, seen)) = &mut self.consensus_source {
            let now = std::fs::metadata(&*path).and_then(|m| m.modified()).ok();
            if now.is_some() && now != *seen {
                *seen = now;
                match Consensus::load(path) {
                    Ok(c) => {
                        self.consensus = Some(c);
                        self.consensus_reloads += 1;
                    }
                    Err(e) => errors.push(e.into()),
                }
            }
        }
        errors
    }

    /// Fills the enrichment columns of `r` from the flow's raw addresses
    /// (which never reach the record themselves).
    pub fn enrich(&mut self, r: &mut Record) {
        let f = &r.flow;
        let (src, dst) = (to_ip(&f.src, f.ip_version), to_ip(&f.dst, f.ip_version));
        let (sp, dp) = (f.src_port, f.dst_port);
        let s = self.geo.lookup(src);
        r.src_country = s.country.clone();
        r.src_is_proxy = s.is_proxy;
        r.src_asn = s.asn;
        let d = self.geo.lookup(dst);
        r.dst_country = d.country.clone();
        r.dst_is_proxy = d.is_proxy;
        r.dst_asn = d.asn;
        r.dst_as_org = d.as_org.clone();
        r.tor_role = self
            .roles
            .classify(
                End { ip: src, port: sp },
                End { ip: dst, port: dp },
                self.consensus.as_ref(),
            )
            .as_str();
    }
}

/// A flow and its classification as a record, enriched, with the policy
/// applied: nothing the policy does not keep is left in it.
pub fn to_record(
    flow: Flow,
    class: Classification,
    policy: &mut Policy,
    enricher: Option<&mut Enricher>,
) -> Record {
    let mut r = Record::unlabelled(flow);
    if let Some(e) = enricher {
        e.enrich(&mut r);
    }
    r.application_name = class.application_name();
    r.application_category_name = class.category().to_owned();
    r.application_is_guessed = class.guessed;
    r.application_confidence = class.confidence;
    let m = class.meta;
    r.requested_server_name = m.server_name;
    r.client_fingerprint = m.client_fingerprint;
    r.server_fingerprint = m.server_fingerprint;
    r.user_agent = m.user_agent;
    r.content_type = m.content_type;
    policy.apply(&mut r);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_flow_cap_with_inspection_state_fits_the_budget() {
        let per_flow = FlowTable::<FlowDpi>::bytes_per_flow();
        let total = exitflow_flow::DEFAULT_MAX_FLOWS * per_flow;
        eprintln!(
            "{per_flow} bytes per flow, {} MiB at the default cap",
            total >> 20
        );
        assert!(total < 96 << 20, "{total}");
    }
}
