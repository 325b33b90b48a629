//! The flow table: packets in, bidirectional flows out.
//!
//! Semantics follow NFStream (our compatibility target): a flow is keyed on the
//! 5-tuple plus VLAN id and tunnel id, independent of direction; its first
//! packet defines `src → dst`; a flow ends when it has been idle for
//! [`DEFAULT_IDLE_TIMEOUT_MS`] or active for [`DEFAULT_ACTIVE_TIMEOUT_MS`]
//! (a later packet of the same key then starts a new flow); expiry is driven
//! by packet time; everything left is flushed at the end of input.
//!
//! Beyond NFStream, the table has a hard cap on concurrent flows
//! ([`DEFAULT_MAX_FLOWS`]); when it is full the least recently seen flow is
//! exported with [`EndReason::Evicted`] — unanswered TCP flows first, so a SYN
//! flood evicts its own flows rather than established ones — and TCP flows that
//! never got a reply expire after the shorter [`DEFAULT_HALF_OPEN_TIMEOUT_MS`].
#![forbid(unsafe_code)]

use std::collections::HashMap;

use exitflow_decode::{Addr, PacketInfo, ipproto, tcp_flags};

mod state;
mod table;

pub use state::ConnState;
pub use table::{FlowTable, Hit};

/// Idle timeout (NFStream default: 120 s).
pub const DEFAULT_IDLE_TIMEOUT_MS: u64 = 120_000;
/// Active timeout (NFStream default: 1800 s).
pub const DEFAULT_ACTIVE_TIMEOUT_MS: u64 = 1_800_000;
/// The 2021 study's active timeout: it ran NFStream with
/// `active_timeout=3600` (its appendix A.2), NFStream's defaults otherwise.
pub const STUDY_2021_ACTIVE_TIMEOUT_MS: u64 = 3_600_000;

/// Named flow timeouts: NFStream's defaults, or the 2021 study's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FlowPreset {
    /// NFStream's defaults (idle 120 s, active 1800 s).
    #[default]
    Nfstream,
    /// The 2021 study's: idle 120 s, active 3600 s.
    Study2021,
}

impl FlowPreset {
    /// The preset's name, as flags and files give it.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowPreset::Nfstream => "nfstream",
            FlowPreset::Study2021 => "study-2021",
        }
    }

    /// The timeouts of the preset (the half-open timeout and the flow cap
    /// are exitflow's: NFStream has neither).
    pub fn config(self) -> FlowConfig {
        let d = FlowConfig::default();
        match self {
            FlowPreset::Nfstream => d,
            FlowPreset::Study2021 => FlowConfig {
                active_timeout_ms: STUDY_2021_ACTIVE_TIMEOUT_MS,
                ..d
            },
        }
    }
}

impl std::str::FromStr for FlowPreset {
    type Err = String;
    fn from_str(s: &str) -> Result<FlowPreset, String> {
        match s {
            "nfstream" => Ok(FlowPreset::Nfstream),
            "study-2021" => Ok(FlowPreset::Study2021),
            _ => Err(format!("{s:?}: expected nfstream or study-2021")),
        }
    }
}

/// Idle timeout for TCP connection attempts (a SYN first) that have not seen a
/// single packet from the responder. Longer than the largest gap of the usual
/// SYN retry schedules (Linux and Android back off up to 64 s), so the retries
/// of one attempt stay one flow, as in NFStream.
pub const DEFAULT_HALF_OPEN_TIMEOUT_MS: u64 = 70_000;
/// Cap on concurrent flows: 7/8 of 2^18, the load limit of a hash map with
/// 2^18 buckets, so the map never doubles past it. At
/// [`FlowTable::bytes_per_flow`] (≈ 270 bytes) that is ≈ 60 MiB, half of the
/// ~128 MiB budget, the rest being left for inspection state and output
/// buffers. A busy exit relay has a few thousand flows open at once.
pub const DEFAULT_MAX_FLOWS: usize = 229_376;
/// A flow with at most this many packets is a *failed flow*, as the
/// reference study defines it.
pub const FAILED_FLOW_MAX_PACKETS: u64 = 4;
/// How often (in packet time) idle flows are looked for, as NFStream does.
pub const IDLE_SCAN_PERIOD_MS: u64 = 10;

/// Flow table settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowConfig {
    /// See [`DEFAULT_IDLE_TIMEOUT_MS`].
    pub idle_timeout_ms: u64,
    /// See [`DEFAULT_ACTIVE_TIMEOUT_MS`].
    pub active_timeout_ms: u64,
    /// See [`DEFAULT_HALF_OPEN_TIMEOUT_MS`].
    pub half_open_timeout_ms: u64,
    /// See [`DEFAULT_MAX_FLOWS`].
    pub max_flows: usize,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            idle_timeout_ms: DEFAULT_IDLE_TIMEOUT_MS,
            active_timeout_ms: DEFAULT_ACTIVE_TIMEOUT_MS,
            half_open_timeout_ms: DEFAULT_HALF_OPEN_TIMEOUT_MS,
            max_flows: DEFAULT_MAX_FLOWS,
        }
    }
}

/// Why a flow was exported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EndReason {
    /// No packet for the idle timeout (or the half-open timeout).
    Idle = 0,
    /// Open for longer than the active timeout.
    Active = 1,
    /// Still open when the input ended (or the capture stopped).
    EndOfInput = 2,
    /// Pushed out of a full table.
    Evicted = 3,
}

impl EndReason {
    /// Stable name used in datasets.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Idle => "idle",
            EndReason::Active => "active",
            EndReason::EndOfInput => "end_of_input",
            EndReason::Evicted => "evicted",
        }
    }
}

/// Direction-agnostic flow key: the lower endpoint first.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    lo: Addr,
    hi: Addr,
    lo_port: u16,
    hi_port: u16,
    protocol: u8,
    ip_version: u8,
    vlan_id: u16,
    tunnel_id: u32,
}

impl FlowKey {
    /// The key of a flow (the same as the key of any of its packets).
    pub fn of_flow(f: &Flow) -> FlowKey {
        Self::build(
            (f.src, f.src_port),
            (f.dst, f.dst_port),
            [f.protocol, f.ip_version],
            f.vlan_id,
            f.tunnel_id,
        )
        .0
    }

    /// The key of a packet, and whether the packet goes from `lo` to `hi`.
    #[inline]
    pub fn of(p: &PacketInfo<'_>) -> (FlowKey, bool) {
        Self::build(
            (p.src, p.src_port),
            (p.dst, p.dst_port),
            [p.protocol, p.ip_version],
            p.vlan_id,
            p.tunnel_id,
        )
    }

    /// Orders the endpoints so both directions give the same key.
    #[inline]
    fn build(
        a: (Addr, u16),
        b: (Addr, u16),
        [protocol, ip_version]: [u8; 2],
        vlan_id: u16,
        tunnel_id: u32,
    ) -> (FlowKey, bool) {
        let fwd = a <= b;
        let ((lo, lo_port), (hi, hi_port)) = if fwd { (a, b) } else { (b, a) };
        (
            FlowKey {
                lo,
                hi,
                lo_port,
                hi_port,
                protocol,
                ip_version,
                vlan_id,
                tunnel_id,
            },
            fwd,
        )
    }
}

/// Counts of TCP flags over a flow's packets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlagCounts {
    /// Packets with SYN.
    pub syn: u32,
    /// Packets with CWR.
    pub cwr: u32,
    /// Packets with ECE.
    pub ece: u32,
    /// Packets with URG.
    pub urg: u32,
    /// Packets with ACK.
    pub ack: u32,
    /// Packets with PSH.
    pub psh: u32,
    /// Packets with RST.
    pub rst: u32,
    /// Packets with FIN.
    pub fin: u32,
}

impl TcpFlagCounts {
    #[inline]
    fn add(&mut self, f: u8) {
        self.fin += u32::from(f & tcp_flags::FIN != 0);
        self.syn += u32::from(f & tcp_flags::SYN != 0);
        self.rst += u32::from(f & tcp_flags::RST != 0);
        self.psh += u32::from(f & tcp_flags::PSH != 0);
        self.ack += u32::from(f & tcp_flags::ACK != 0);
        self.urg += u32::from(f & tcp_flags::URG != 0);
        self.ece += u32::from(f & tcp_flags::ECE != 0);
        self.cwr += u32::from(f & tcp_flags::CWR != 0);
    }
}

/// Per-direction counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirStats {
    /// First packet time, ms since the epoch (0 when no packet).
    pub first_seen_ms: u64,
    /// Last packet time, ms since the epoch.
    pub last_seen_ms: u64,
    /// Packets.
    pub packets: u64,
    /// Bytes: original frame length of each packet (NFStream accounting mode 0).
    pub bytes: u64,
    /// OR of all TCP flags seen.
    pub flags_seen: u8,
}

impl DirStats {
    #[inline]
    fn add(&mut self, ts_ms: u64, wire_len: u32, flags: u8) {
        if self.packets == 0 {
            self.first_seen_ms = ts_ms;
        }
        self.last_seen_ms = ts_ms;
        self.packets += 1;
        self.bytes += u64::from(wire_len);
        self.flags_seen |= flags;
    }
}

/// What a debug print shows instead of an address: addresses reach no
/// log, whatever the profile.
pub const REDACTED: &str = "<address>";

impl std::fmt::Debug for FlowKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowKey")
            .field("lo", &format_args!("{REDACTED}"))
            .field("hi", &format_args!("{REDACTED}"))
            .field("lo_port", &self.lo_port)
            .field("hi_port", &self.hi_port)
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Flow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flow")
            .field("id", &self.id)
            .field("src", &format_args!("{REDACTED}"))
            .field("dst", &format_args!("{REDACTED}"))
            .field("src_port", &self.src_port)
            .field("dst_port", &self.dst_port)
            .field("protocol", &self.protocol)
            .field("first_seen_ms", &self.first_seen_ms)
            .field("last_seen_ms", &self.last_seen_ms)
            .field("src2dst", &self.src2dst)
            .field("dst2src", &self.dst2src)
            .field("end_reason", &self.end_reason)
            .finish_non_exhaustive()
    }
}

/// One bidirectional flow.
#[derive(Clone, PartialEq, Eq)]
pub struct Flow {
    /// Sequence number in creation order within one table (0-based).
    pub id: u64,
    /// Source (first packet's sender) address.
    pub src: Addr,
    /// Destination address.
    pub dst: Addr,
    /// Source port (0 without ports).
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// IP protocol number.
    pub protocol: u8,
    /// 4 or 6.
    pub ip_version: u8,
    /// VLAN id, 0 when untagged.
    pub vlan_id: u16,
    /// Tunnel id, 0 when not tunnelled.
    pub tunnel_id: u32,
    /// First packet, ms since the epoch.
    pub first_seen_ms: u64,
    /// Last packet, ms since the epoch.
    pub last_seen_ms: u64,
    /// Source → destination counters.
    pub src2dst: DirStats,
    /// Destination → source counters.
    pub dst2src: DirStats,
    /// TCP flag counts, both directions.
    pub flags: TcpFlagCounts,
    /// TCP: SYN (without ACK) seen from the source before anything from the destination.
    syn_first: bool,
    /// TCP: the destination answered a SYN with SYN+ACK.
    synack: bool,
    /// Why the flow was exported (set at export).
    pub end_reason: EndReason,
}

impl Flow {
    fn new(id: u64, p: &PacketInfo<'_>, ts_ms: u64) -> Flow {
        Flow {
            id,
            src: p.src,
            dst: p.dst,
            src_port: p.src_port,
            dst_port: p.dst_port,
            protocol: p.protocol,
            ip_version: p.ip_version,
            vlan_id: p.vlan_id,
            tunnel_id: p.tunnel_id,
            first_seen_ms: ts_ms,
            last_seen_ms: ts_ms,
            src2dst: DirStats::default(),
            dst2src: DirStats::default(),
            flags: TcpFlagCounts::default(),
            syn_first: p.protocol == ipproto::TCP
                && p.tcp_flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN,
            synack: false,
            end_reason: EndReason::EndOfInput,
        }
    }

    #[inline]
    fn update(&mut self, p: &PacketInfo<'_>, ts_ms: u64, wire_len: u32, src2dst: bool) {
        self.last_seen_ms = self.last_seen_ms.max(ts_ms);
        if src2dst {
            self.src2dst.add(ts_ms, wire_len, p.tcp_flags);
        } else {
            self.dst2src.add(ts_ms, wire_len, p.tcp_flags);
            if p.tcp_flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN | tcp_flags::ACK
                && self.syn_first
            {
                self.synack = true;
            }
        }
        if p.protocol == ipproto::TCP {
            self.flags.add(p.tcp_flags);
        }
    }

    /// A finished flow described by its totals, for generating datasets
    /// without packets (benchmarks, tests). TCP flows are marked as
    /// answered connection attempts when both directions carry packets.
    #[allow(clippy::too_many_arguments)]
    pub fn from_totals(
        id: u64,
        protocol: u8,
        (src, src_port): (Addr, u16),
        (dst, dst_port): (Addr, u16),
        (first_seen_ms, last_seen_ms): (u64, u64),
        (s2d_packets, s2d_bytes): (u64, u64),
        (d2s_packets, d2s_bytes): (u64, u64),
        end_reason: EndReason,
    ) -> Flow {
        let dir = |packets, bytes, last| DirStats {
            first_seen_ms: if packets > 0 { first_seen_ms } else { 0 },
            last_seen_ms: if packets > 0 { last } else { 0 },
            packets,
            bytes,
            flags_seen: 0,
        };
        Flow {
            id,
            src,
            dst,
            src_port,
            dst_port,
            protocol,
            ip_version: 4,
            vlan_id: 0,
            tunnel_id: 0,
            first_seen_ms,
            last_seen_ms,
            src2dst: dir(s2d_packets, s2d_bytes, last_seen_ms),
            dst2src: dir(d2s_packets, d2s_bytes, last_seen_ms),
            flags: TcpFlagCounts::default(),
            syn_first: protocol == ipproto::TCP,
            synack: protocol == ipproto::TCP && d2s_packets > 0,
            end_reason,
        }
    }

    /// Packets in both directions.
    pub fn packets(&self) -> u64 {
        self.src2dst.packets + self.dst2src.packets
    }

    /// Bytes in both directions (original frame lengths).
    pub fn bytes(&self) -> u64 {
        self.src2dst.bytes + self.dst2src.bytes
    }

    /// Duration in ms.
    pub fn duration_ms(&self) -> u64 {
        self.last_seen_ms - self.first_seen_ms
    }

    /// A flow of at most [`FAILED_FLOW_MAX_PACKETS`] packets (the study's definition).
    pub fn is_failed(&self) -> bool {
        self.packets() <= FAILED_FLOW_MAX_PACKETS
    }

    /// Zeek-style connection state.
    pub fn conn_state(&self) -> ConnState {
        state::conn_state(self)
    }

    #[inline]
    fn answered(&self) -> bool {
        self.dst2src.packets > 0
    }
}

/// Table counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowStats {
    /// Packets metered.
    pub packets: u64,
    /// Flows created.
    pub flows_created: u64,
    /// Flows exported, any reason.
    pub flows_exported: u64,
    /// Flows exported by idle timeout (half-open included).
    pub expired_idle: u64,
    /// TCP flows that never got a reply, expired by the half-open timeout.
    pub expired_half_open: u64,
    /// Flows exported by active timeout.
    pub expired_active: u64,
    /// Flows exported at end of input.
    pub flushed: u64,
    /// Flows evicted because the table was full (the cap was hit).
    pub evicted: u64,
    /// Of those, flows that never got a reply.
    pub evicted_unanswered: u64,
    /// Highest number of concurrent flows.
    pub peak_active: u64,
    /// Packets whose timestamp went backwards (metered at the flow's last time).
    pub time_regressions: u64,
    /// Exported flows with at most [`FAILED_FLOW_MAX_PACKETS`] packets.
    pub failed_flows: u64,
}

/// Keys per hash map, re-exported so callers can size things.
pub type FlowMap<V> = HashMap<FlowKey, V, ahash::RandomState>;

#[cfg(test)]
mod tests;
