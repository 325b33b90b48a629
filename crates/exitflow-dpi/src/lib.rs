//! Deep packet inspection for exitflow: names each flow's application the
//! way nDPI does (`TLS.Google`, `DNS`, `QUIC.YouTube`, `Unknown`), in safe
//! Rust.
//!
//! The meter hands every packet of a flow to [`Engine::inspect`] until the
//! label is final or [`DEFAULT_MAX_PACKETS`] packets were seen (NFStream's
//! `n_dissections`); [`Engine::finish`] gives the flow's [`Classification`],
//! falling back to the well-known port of the flow when inspection found
//! nothing (`application_is_guessed` = 1), as nDPI does when it gives up.
//!
//! One directory per protocol holds a stateless `parser.rs` over `&[u8]`
//! returning [`parse::Parse`] (done / incomplete / not mine / error); the
//! state a protocol needs across packets sits beside it. Per-flow state is
//! allocated only when a protocol needs more than one packet to decide.
#![forbid(unsafe_code)]

pub mod cache;
pub mod coverage;
pub mod craft;
pub mod data;
pub mod detect;
pub mod dns;
pub mod ftp;
pub mod http;
pub mod imap;
pub mod iplist;
pub mod namemap;
pub mod parse;
pub mod quic;
pub mod registry;
mod simple;
pub mod smtp;
mod starttls;
mod stream;
mod stun_flow;
pub mod tftp;
pub mod tls;
pub mod z3950;

use exitflow_decode::{PacketInfo, ipproto, tcp_flags};
pub use registry::{ProtoId, known, registry};
use stream::Stream;

/// Packets of a flow inspected at most (NFStream's `n_dissections` default).
pub const DEFAULT_MAX_PACKETS: u32 = 20;
/// Payloads without any detector match after which a flow is no longer
/// inspected (see `FlowDpi::missed`).
pub const DEFAULT_MAX_MISSES: u8 = 4;
/// Bytes buffered per direction for reassembly (a ClientHello with
/// post-quantum key shares spans two segments; HTTP headers a few).
pub const DEFAULT_STREAM_CAP: usize = 16 * 1024;

/// Payloads after which nDPI 5.0 has no dissector left for a TCP flow
/// that none recognised: it then names the flow by port as a finished
/// detection, not a guess (measured with nDPI through NFStream on text,
/// random and zero payloads, either direction).
pub const TCP_PAYLOADS_ALL_EXCLUDED: u8 = 11;
/// The same for UDP datagrams from one side only.
pub const UDP_PAYLOADS_ALL_EXCLUDED: u8 = 9;
/// The same for UDP datagrams when both sides sent some (measured on every
/// split of up to 13 datagrams between the two sides), unless one of the
/// long-lived dissectors is still looking ([`Seen::linger`]).
pub const UDP_PAYLOADS_ALL_EXCLUDED_BOTH_WAYS: u8 = 7;

/// The lowest RTP header (version 2, no CSRC).
const RTP_HEADER: usize = 12;
/// RTP payload types nDPI takes for RTP (static ones up to 34, dynamic from
/// 96), the marker bit aside.
const RTP_MAX_STATIC_TYPE: u8 = 34;
const RTP_MIN_DYNAMIC_TYPE: u8 = 96;

/// An RTP header as nDPI's RTP dissector accepts one: version 2, its CSRC
/// list inside the datagram, a payload type RTP uses.
fn rtp_like(d: &[u8]) -> bool {
    let [b0, b1, ..] = *d else { return false };
    let pt = b1 & 0x7f;
    b0 >> 6 == 2
        && d.len() >= RTP_HEADER + 4 * usize::from(b0 & 0x0f)
        && (pt <= RTP_MAX_STATIC_TYPE || pt >= RTP_MIN_DYNAMIC_TYPE)
}

/// A UDP datagram, recognised or not: which sides spoke, and what the
/// long-lived dissectors make of it.
fn udp_payload_seen(st: &mut FlowDpi, payload: &[u8], src2dst: bool) {
    if payload.is_empty() {
        return;
    }
    let first = !st.seen.has(Seen::DIR_PAYLOAD[0]) && !st.seen.has(Seen::DIR_PAYLOAD[1]);
    st.seen.add(Seen::DIR_PAYLOAD[usize::from(!src2dst)]);
    st.seen.linger(first, payload);
}

/// nDPI confidence: match by port.
pub const CONFIDENCE_PORT: u8 = 1;
/// nDPI confidence: detected by inspection.
pub const CONFIDENCE_DPI: u8 = 6;
/// nDPI's confidence for a label its dissector gave at give-up, not on a
/// match (`NDPI_CONFIDENCE_DPI_PARTIAL`): NFStream reports it guessed.
pub const CONFIDENCE_DPI_PARTIAL: u8 = 3;
/// nDPI confidence: match by IP address.
pub const CONFIDENCE_IP: u8 = 7;

/// Inspection settings.
#[derive(Clone, Copy, Debug)]
pub struct DpiConfig {
    /// See [`DEFAULT_MAX_PACKETS`].
    pub max_packets: u32,
    /// See [`DEFAULT_STREAM_CAP`].
    pub stream_cap: usize,
}

impl Default for DpiConfig {
    fn default() -> Self {
        DpiConfig {
            max_packets: DEFAULT_MAX_PACKETS,
            stream_cap: DEFAULT_STREAM_CAP,
        }
    }
}

/// The flow-level facts inspection needs besides the packet.
#[derive(Clone, Copy)]
pub struct FlowCtx {
    /// IP protocol number.
    pub protocol: u8,
    /// The flow's source port (first packet's sender).
    pub src_port: u16,
    /// The flow's destination port.
    pub dst_port: u16,
    /// IP version (4 or 6) of the addresses.
    pub ip_version: u8,
    /// The flow's source address (the first packet's sender).
    pub src: exitflow_decode::Addr,
    /// The flow's destination address.
    pub dst: exitflow_decode::Addr,
}

impl std::fmt::Debug for FlowCtx {
    /// Never the addresses: they reach no log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowCtx")
            .field("protocol", &self.protocol)
            .field("src_port", &self.src_port)
            .field("dst_port", &self.dst_port)
            .field("ip_version", &self.ip_version)
            .finish_non_exhaustive()
    }
}

/// Metadata found by inspection. Which of it reaches disk is the privacy
/// policy's decision; here it is all available.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    /// TLS/QUIC SNI, HTTP Host or DNS query name.
    pub server_name: Option<String>,
    /// HTTP User-Agent.
    pub user_agent: Option<String>,
    /// HTTP response Content-Type.
    pub content_type: Option<String>,
    /// Client fingerprint (JA4 for TLS and QUIC).
    pub client_fingerprint: Option<String>,
    /// Server fingerprint.
    pub server_fingerprint: Option<String>,
}

/// What one payload says of a session that may turn into TLS ([`ftp`],
/// [`imap`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SessionStep {
    /// The protocol in the clear (false) or its TLS form (true).
    Named { secure: bool },
    /// The protocol's word (not a detector miss).
    Alive,
    /// Nothing the protocol said here.
    Nothing,
}

/// A session rule's view of a flow's payloads ([`smtp`], [`ftp`],
/// [`imap`]): how many it counted, and whether it gave the flow up.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Watch {
    payloads: u8,
    out: bool,
}

impl Watch {
    /// The rule started on this flow and still reads it.
    pub(crate) fn live(&self) -> bool {
        self.payloads > 0 && !self.out
    }

    /// Counts one more payload: false once the rule gave up, or when the
    /// payload is past `window` (the rule then gives up).
    pub(crate) fn next(&mut self, window: u8) -> bool {
        if self.out {
            return false;
        }
        self.payloads = self.payloads.saturating_add(1);
        self.out = self.payloads > window;
        !self.out
    }
}

/// Per-flow state that only some flows need, boxed to keep the common case small.
#[derive(Default)]
struct Ext {
    meta: Meta,
    streams: [Stream; 2],
    quic: quic::QuicState,
    scratch: Vec<u8>,
    /// A protocol some packets spoke for ([`detect::Match::Count`]) and how many.
    cand: ProtoId,
    cand_hits: u8,
    /// The directions (bit 0: the client's, bit 1: the server's) that spoke for `cand`.
    cand_dirs: u8,
    /// A mail or FTP client asked for TLS; the server's yes is awaited.
    starttls_asked: bool,
    /// The server sent a TLS handshake: a client's certificate after it is
    /// read as nDPI reads it (its subject too).
    tls_server_spoke: bool,
    /// The HTTP request's method named the application (WebDAV, RPC over
    /// HTTP): what the answer says does not override it.
    http_app_by_method: bool,
    /// A TFTP transfer's sequence ([`tftp::transfer`]).
    tftp: tftp::Transfer,
    /// A Z39.50 session's evidence ([`z3950::session`]).
    z3950: z3950::Session,
    /// An SMTP session's words ([`smtp::session`]).
    smtp: smtp::Session,
    /// An FTP control session's commands and replies ([`ftp::session`]).
    ftp: ftp::Session,
    /// An IMAP session's words ([`imap::session`]).
    imap: imap::Session,
}

/// Per-flow inspection state (kept in the flow table beside each flow).
#[derive(Default)]
pub struct FlowDpi {
    packets: u32,
    /// The label is final.
    done: bool,
    /// Still want HTTP response headers (Content-Type) after the label.
    want_http_response: bool,
    /// A packet inspection could use was seen (not cut by the snap length):
    /// only then may the label be guessed from the port at give-up.
    valid: bool,
    /// The port's protocol was looked for and ruled out: no port guess.
    excluded: bool,

    /// TLS without a service yet: look at the server's certificate.
    want_cert: bool,
    /// A mail or FTP session that may turn into TLS ([`starttls`]).
    want_starttls: bool,
    /// What earlier payloads ruled out or showed ([`Seen`]), flags in two
    /// bytes to keep the state within its 40.
    seen: Seen,
    master: ProtoId,
    app: ProtoId,
    /// Payloads the detector tables found nothing in.
    misses: u8,
    /// Retransmitted payloads since the last new one: no detector sees
    /// them, but they count (as in nDPI's packet counter) once two new
    /// payloads have come after them for the detectors to judge.
    retransmitted: u8,
    /// Retransmissions between the last two new payloads: they count when
    /// the next new payload comes.
    retransmissions_staged: u8,
    /// Retransmissions so counted: with the misses, they tell when nDPI
    /// would have no dissector left.
    retransmissions_counted: u8,
    /// Each direction's next sequence number, 0 while unknown (as nDPI
    /// tracks it): tells retransmissions, which no detector sees.
    next_seq: [u32; 2],
    ext: Option<Box<Ext>>,
}

/// Flags about the payloads a flow's inspection has already judged.
#[derive(Clone, Copy, Default)]
struct Seen(u16);

impl Seen {
    /// A payload was judged.
    const PAYLOAD: u16 = 1;
    /// A TLS record that does not parse was seen: a later application-data
    /// record does not make the flow TLS (nDPI excludes TLS for it).
    const NOT_TLS: u16 = 2;
    /// The flow's first payload was neither a request nor a response: a
    /// later one does not make it HTTP (nDPI excludes HTTP on it).
    const NOT_HTTP: u16 = 4;
    /// The flow's first payload did not begin like a TLS record: no later
    /// record makes it TLS (nDPI has excluded its TLS dissector).
    const TLS_EXCLUDED: u16 = 32;
    /// UDP: a payload was seen from the client ([0]) or the server ([1]).
    const DIR_PAYLOAD: [u16; 2] = [8, 16];
    /// UDP: the flow opened with text, and how many datagrams since were
    /// not text (none, or one); the RTP-like rule saw one datagram that was
    /// not RTP-like, or two ([`Seen::linger`]).
    const TEXT_OPENED: u16 = 64;
    const TEXT_MISSED: u16 = 128;
    const RTP_MISSED: u16 = 256;
    const RTP_GONE: u16 = 512;
    /// UDP: QUIC's short-header rule is out for the flow.
    const QUIC_SHORT_GONE: u16 = 1024;
    /// TCP: SSH named on the server's banner, which nDPI's dissector takes
    /// for a partial match until the client's first payload is a banner
    /// too (measured with nDPI 5.0: any other first payload, or none, and
    /// the flow is SSH guessed at confidence "DPI partial").
    const SSH_PARTIAL: u16 = 2048;
    /// TCP: the client's first payload after the server's SSH banner came.
    const SSH_SETTLED: u16 = 4096;
    /// TCP: the flow's last packet (either way) carried a payload. nDPI
    /// takes a payload behind the expected sequence for a retransmission
    /// only then: after a pure ACK it is read like any other.
    const PREV_PAYLOAD: u16 = 8192;

    fn has(self, f: u16) -> bool {
        self.0 & f != 0
    }

    fn add(&mut self, f: u16) {
        self.0 |= f;
    }

    fn put(&mut self, f: u16, on: bool) {
        if on {
            self.0 |= f;
        } else {
            self.0 &= !f;
        }
    }

    /// Two of nDPI 5.0's UDP dissectors look past the datagram count after
    /// which the others have given up (measured through NFStream on
    /// arrangements of text, RTP-like and binary datagrams up to nine): one
    /// while the flow opened with text (a printable first byte) and no more
    /// than one datagram since was not text, the other while no more than
    /// one datagram was not RTP-like.
    fn linger(&mut self, first: bool, payload: &[u8]) {
        let text = payload.first().is_some_and(|b| (0x20..0x7f).contains(b));
        if first && text {
            self.add(Self::TEXT_OPENED);
        } else if !first && !text && self.text_lingers() {
            if self.has(Self::TEXT_MISSED) {
                self.0 &= !Self::TEXT_OPENED;
            }
            self.add(Self::TEXT_MISSED);
        }
        if !rtp_like(payload) {
            if self.has(Self::RTP_MISSED) {
                self.add(Self::RTP_GONE);
            }
            self.add(Self::RTP_MISSED);
        }
    }

    fn text_lingers(self) -> bool {
        self.has(Self::TEXT_OPENED)
    }

    fn rtp_lingers(self) -> bool {
        !self.has(Self::RTP_GONE)
    }
}

impl FlowDpi {
    fn ext(&mut self) -> &mut Ext {
        self.ext.get_or_insert_with(Default::default)
    }

    fn set(&mut self, master: ProtoId, app: ProtoId) {
        self.master = master;
        self.app = app;
        self.done = true;
    }

    /// No detector row knew a payload: after [`DEFAULT_MAX_MISSES`] of them
    /// (and no evidence pending) the flow is left to the port guess, as
    /// nDPI's dissectors exclude themselves after their first packets.
    fn missed(&mut self) {
        self.held();
        let pending = self.ext.as_ref().is_some_and(|e| {
            !e.cand.is_unknown()
                || e.smtp.watch.live()
                || e.ftp.watch.live()
                || e.imap.watch.live()
                || e.quic.short.alive()
        });
        if self.misses >= DEFAULT_MAX_MISSES && !pending && self.master.is_unknown() {
            self.done = true;
        }
    }

    /// A payload no row took while a multi-packet rule (TFTP's transfer,
    /// Z39.50's session) still holds the flow open: counted as a miss for
    /// the rows that judge the first payload, but the flow is not given up.
    fn held(&mut self) {
        self.misses = self.misses.saturating_add(1);
    }

    /// Earlier payloads were missed or spoke for a protocol: a rule that
    /// must hold from the flow's first payload cannot start here.
    fn began_otherwise(&self) -> bool {
        let b = self.before();
        !b.clean || !b.cand.is_unknown()
    }

    /// No payload was inspected yet.
    fn untouched(&self) -> bool {
        self.misses == 0 && self.master.is_unknown() && self.ext.is_none()
    }

    /// What inspection saw before this payload ([`detect::Before`]).
    fn before(&self) -> detect::Before {
        detect::Before {
            clean: self.misses == 0,
            misses: self.misses,
            cand: self.ext.as_ref().map_or(ProtoId::UNKNOWN, |e| e.cand),
        }
    }

    /// A detector's finding: final, or one more packet of evidence.
    fn hit(&mut self, h: detect::Hit, src2dst: bool) {
        if h.need == 0 {
            // A first-payload rule: a later payload is not evidence.
            if self.misses == 0 && self.ext.as_ref().is_none_or(|e| e.cand.is_unknown()) {
                self.set(h.master, h.app);
            } else {
                self.missed();
            }
            return;
        }
        if h.need <= 1 {
            self.set(h.master, h.app);
            return;
        }
        if h.from_first && self.misses > 0 {
            // The rule holds from the flow's first payload, or not at all.
            self.missed();
            return;
        }
        let e = self.ext();
        let dir = if src2dst { 1 } else { 2 };
        if e.cand == h.master {
            e.cand_hits = e.cand_hits.saturating_add(1);
            e.cand_dirs |= dir;
        } else {
            e.cand = h.master;
            e.cand_hits = 1;
            e.cand_dirs = dir;
        }
        // A preamble ([`detect::Match::Wait`]) never names, however many.
        if h.need != detect::WAIT_NEED
            && e.cand_hits >= h.need
            && (!h.both_ways || e.cand_dirs == 3)
        {
            self.set(h.master, h.app);
        }
    }

    fn meta(&mut self) -> &mut Meta {
        &mut self.ext().meta
    }
}

/// A flow's labels, nDPI style.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Classification {
    /// Master protocol (TLS, HTTP, DNS, QUIC, ...), Unknown if none.
    pub master: ProtoId,
    /// Application or service on top (Google, YouTube, ...), Unknown if none.
    pub app: ProtoId,
    /// The label came from the port at give-up.
    pub guessed: bool,
    /// nDPI confidence value.
    pub confidence: u8,
    /// Metadata.
    pub meta: Meta,
}

impl Classification {
    /// `Master.App`, or one name, or `Unknown` — as NFStream writes it.
    pub fn application_name(&self) -> String {
        match (self.master.is_unknown(), self.app.is_unknown()) {
            (true, true) => "Unknown".into(),
            (false, true) => self.master.name().into(),
            (true, false) => self.app.name().into(),
            (false, false) if self.master == self.app => self.master.name().into(),
            (false, false) => format!("{}.{}", self.master.name(), self.app.name()),
        }
    }

    /// nDPI category: the application's if any, else the master's; DNS and
    /// the mail protocols keep their own (`Network`, `Email`) whatever
    /// service they carry, as nDPI's category rule says and NFStream 6.6
    /// reports every `DNS.<service>` flow of both corpora.
    ///
    /// As nDPI fills it: an HTTP flow's content type (archives and
    /// executables Download, audio and video Media) first; then a server
    /// name on nDPI's host-category list, whatever the service; then the
    /// service's or protocol's own.
    pub fn category(&self) -> &'static str {
        if self.master.is_unknown() && self.app.is_unknown() {
            return self.master.category();
        }
        let k = known();
        // nDPI: the category of DNS and of the mail protocols is theirs,
        // whatever service they carry (`SMTPS.Google` is Email).
        if [k.dns, k.smtp, k.smtps, k.imap, k.imaps, k.pop3, k.pops].contains(&self.master) {
            return self.master.category();
        }
        let http_master = [k.http, k.http_proxy, k.http_connect].contains(&self.master);
        if (http_master || self.app == k.http)
            && let Some(c) = self
                .meta
                .content_type
                .as_deref()
                .and_then(http::naming::content_category)
        {
            return c;
        }
        if let Some(c) = self
            .meta
            .server_name
            .as_deref()
            .and_then(|n| registry().name_category(n))
        {
            return c;
        }
        // nDPI: a SOAP call or an MPEG-DASH request to a known service has
        // that service's category (measured: HTTP.SOAP to Facebook is
        // SocialNetwork); OCSP, HLS and WebDAV keep their own.
        if http_master
            && [
                detect::alt(detect::Alt::Soap),
                detect::alt(detect::Alt::MpegDash),
            ]
            .contains(&self.app)
            && let Some(service) = self
                .meta
                .server_name
                .as_deref()
                .and_then(|n| registry().service(n))
        {
            return service.category();
        }
        if !self.app.is_unknown() {
            self.app.category()
        } else {
            self.master.category()
        }
    }
}

/// The inspection engine: configuration, and the caches its flows share.
pub struct Engine {
    cfg: DpiConfig,
    stun_cache: std::sync::Mutex<cache::StunCache>,
    tinc_cache: std::sync::Mutex<cache::TincCache>,
    /// Whether the TINC cache holds anything: every UDP flow asks, almost
    /// always of an empty cache, and need not lock it to learn that.
    tinc_waiting: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Engine {
    /// The settings and how full the caches are; never their entries, which
    /// are addresses: they reach no log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("cfg", &self.cfg)
            .field(
                "stun_cache_len",
                &self.stun_cache.lock().ok().map(|c| c.len()),
            )
            .field(
                "tinc_cache_len",
                &self.tinc_cache.lock().ok().map(|c| c.len()),
            )
            .finish()
    }
}

impl Default for Engine {
    /// Default settings, and caches of their default sizes (a derived
    /// default would give caches of size 0, which remember nothing).
    fn default() -> Engine {
        Engine::new(DpiConfig::default())
    }
}

impl Clone for Engine {
    /// The same settings, an empty cache.
    fn clone(&self) -> Engine {
        Engine::new(self.cfg)
    }
}

/// Entries the engine's bounded caches dropped to stay within their caps
/// ([`cache::DEFAULT_STUN_CACHE_CAP`], [`cache::DEFAULT_TINC_CACHE_CAP`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheEvictions {
    /// STUN endpoints dropped.
    pub stun: u64,
    /// tinc meta connections dropped.
    pub tinc: u64,
}

impl Engine {
    /// An engine with these settings.
    pub fn new(cfg: DpiConfig) -> Engine {
        // Load the data files now, not on the first packet.
        let _ = known();
        Engine {
            cfg,
            stun_cache: std::sync::Mutex::new(cache::StunCache::new(cache::DEFAULT_STUN_CACHE_CAP)),
            tinc_cache: std::sync::Mutex::new(cache::TincCache::new(cache::DEFAULT_TINC_CACHE_CAP)),
            tinc_waiting: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Endpoints the STUN cache dropped to stay within its cap.
    pub fn stun_cache_evicted(&self) -> u64 {
        self.stun_cache.lock().map(|c| c.evicted()).unwrap_or(0)
    }

    /// tinc meta connections the TINC cache dropped to stay within its cap.
    pub fn tinc_cache_evicted(&self) -> u64 {
        self.tinc_cache.lock().map(|c| c.evicted()).unwrap_or(0)
    }

    /// Both caches' evictions, for the metrics.
    pub fn cache_evictions(&self) -> CacheEvictions {
        CacheEvictions {
            stun: self.stun_cache_evicted(),
            tinc: self.tinc_cache_evicted(),
        }
    }

    /// A tinc meta connection just named: its UDP flow is awaited (IPv4,
    /// as nDPI keys its cache).
    fn tinc_named(&self, flow: &FlowCtx) {
        if flow.ip_version == 4
            && let Ok(mut c) = self.tinc_cache.lock()
        {
            c.put((flow.src, flow.dst, flow.dst_port), ());
            self.tinc_waiting
                .store(!c.is_empty(), std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// A UDP flow's first payload: TINC if it joins the two hosts of a
    /// tinc meta connection on its server's port (either way round); the
    /// connection's entry is spent, as in nDPI.
    fn tinc_udp(&self, flow: &FlowCtx) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        if flow.ip_version != 4 || !self.tinc_waiting.load(Relaxed) {
            return false;
        }
        let Ok(mut c) = self.tinc_cache.lock() else {
            return false;
        };
        let hit = c.take(&(flow.src, flow.dst, flow.dst_port)).is_some()
            || c.take(&(flow.dst, flow.src, flow.src_port)).is_some();
        self.tinc_waiting.store(!c.is_empty(), Relaxed);
        hit
    }

    /// Inspects one packet of a flow.
    #[inline]
    pub fn inspect(&self, st: &mut FlowDpi, flow: &FlowCtx, p: &PacketInfo<'_>, src2dst: bool) {
        if st.done && !st.want_http_response && !st.want_cert && !st.want_starttls {
            if st.seen.has(Seen::SSH_PARTIAL) && !st.seen.has(Seen::SSH_SETTLED) {
                ssh_client_after_banner(st, p, src2dst, self.cfg.max_packets);
                return;
            }
            // A flow nothing named still counts its payloads, within the
            // packets NFStream hands nDPI: enough of them and nDPI has
            // excluded every dissector, which ends detection by port.
            if st.master.is_unknown() && st.app.is_unknown() && st.packets < self.cfg.max_packets {
                st.packets += 1;
                // Packets cut by the snap length are none of nDPI's.
                let seg = if p.truncated {
                    Segment::New
                } else if flow.protocol == ipproto::TCP {
                    track_tcp(st, p, src2dst)
                } else {
                    udp_payload_seen(st, p.payload, src2dst);
                    Segment::New
                };
                if !p.payload.is_empty() && !p.truncated && !matches!(seg, Segment::Retransmitted) {
                    st.misses = st.misses.saturating_add(1);
                    // BitTorrent's rule outlives the rows' window.
                    if flow.protocol == ipproto::TCP
                        && st.misses <= detect::BITTORRENT_TCP_PAYLOADS
                        && detect::bittorrent_handshake(p.payload)
                    {
                        st.set(known().bittorrent, ProtoId::UNKNOWN);
                    }
                }
            }
            return;
        }
        st.packets += 1;
        if st.packets > self.cfg.max_packets {
            st.done = true;
            st.want_http_response = false;
            st.want_cert = false;
            st.want_starttls = false;
            return;
        }
        if p.truncated {
            // nDPI does not look at packets whose IP length exceeds what was captured.
            return;
        }
        st.valid = true;
        match flow.protocol {
            ipproto::TCP => {
                let was = st.done;
                self.tcp(st, flow, p, src2dst);
                if !was && st.done && st.master == known().tinc {
                    self.tinc_named(flow);
                }
                if !was && st.done && !src2dst && st.master == known().ssh {
                    st.seen.add(Seen::SSH_PARTIAL);
                }
            }
            ipproto::UDP => {
                udp_payload_seen(st, p.payload, src2dst);
                if !p.payload.is_empty() && !st.done {
                    let first = st.untouched();
                    simple::udp(st, flow, p, src2dst, &self.stun_cache);
                    // A tinc connection's UDP flow, if nothing else named
                    // its first payload (a DNS query between the same hosts
                    // stays DNS, as in nDPI).
                    if first && st.master.is_unknown() && st.app.is_unknown() && self.tinc_udp(flow)
                    {
                        st.set(known().tinc, ProtoId::UNKNOWN);
                    }
                }
            }
            other => {
                let id = detect::ip_protocol(other);
                if !id.is_unknown() {
                    st.set(id, ProtoId::UNKNOWN);
                } else {
                    st.done = true;
                }
            }
        }
    }

    fn tcp(&self, st: &mut FlowDpi, flow: &FlowCtx, p: &PacketInfo<'_>, src2dst: bool) {
        let dir = usize::from(!src2dst);
        let cap = self.cfg.stream_cap;
        let seg = track_tcp(st, p, src2dst);
        if p.tcp_flags & tcp_flags::SYN != 0 {
            // A SYN's bytes (padding, TCP Fast Open) are no payload to read.
            return;
        }
        if seg == Segment::Retransmitted {
            return;
        }
        if p.payload.is_empty() {
            return;
        }
        // Fast path: nothing buffered in this direction; decide on this segment.
        let buffered = st.ext.as_ref().is_some_and(|e| !e.streams[dir].is_empty());
        if buffered {
            let mut ext = st.ext.take().expect("buffered implies ext");
            match ext.streams[dir].push(p.tcp_seq, p.payload, cap) {
                stream::Pushed::Appended => {
                    let data = std::mem::take(&mut ext.streams[dir].buf);
                    st.ext = Some(ext);
                    let r = simple::tcp(st, flow, &data, src2dst);
                    let ext = st.ext();
                    ext.streams[dir].buf = data;
                    if matches!(r, Need::Nothing) || ext.streams[dir].full(cap) {
                        ext.streams[dir].clear();
                    }
                    return;
                }
                stream::Pushed::Nothing => {
                    st.ext = Some(ext);
                    return;
                }
                stream::Pushed::Gap => {
                    // Bytes of the message are missing: nDPI does not wait
                    // for them (measured: a ClientHello whose middle comes
                    // last is no TLS it names, even read after an ACK). A
                    // request head cut so is HTTP on its method, as at the
                    // flow's end; this segment is read afresh.
                    let gathered = std::mem::take(&mut ext.streams[dir].buf);
                    ext.streams[dir].clear();
                    st.ext = Some(ext);
                    if let Some(master) = cut_request_master(st, &gathered).filter(|_| src2dst) {
                        st.set(master, ProtoId::UNKNOWN);
                        st.want_http_response = true;
                        return;
                    }
                }
            }
        }
        if let Need::More = simple::tcp(st, flow, p.payload, src2dst) {
            st.ext().streams[dir].push(p.tcp_seq, p.payload, cap);
        }
    }

    /// The flow's classification, at its end (or when inspection stopped).
    pub fn finish(&self, st: &mut FlowDpi, flow: &FlowCtx) -> Classification {
        let ext = st.ext.take();
        // The client's bytes still waiting for more (a request head cut short).
        let cut_request = ext
            .as_ref()
            .filter(|_| flow.protocol == ipproto::TCP)
            .and_then(|e| cut_request_master(st, &e.streams[0].buf));
        let meta = ext.map(|e| e.meta).unwrap_or_default();
        let class = |master, app, guessed, confidence| Classification {
            master,
            app,
            guessed,
            confidence,
            meta,
        };
        let named = !st.master.is_unknown() || !st.app.is_unknown();
        // The server's address only: on an exit relay the client is the relay
        // itself, which nDPI's lists know as Tor; naming flows by it would
        // name every exit flow after the relay. Looked up once, and only
        // where it can matter (TCP for Telegram, flows nothing named).
        let by_ip = (st.valid && (flow.protocol == ipproto::TCP || !named))
            .then(|| iplist::lookup(flow.ip_version, &flow.dst))
            .flatten();
        // Telegram's TCP (MTProto) is named by its servers' addresses
        // before anything else looks at it, as nDPI's Telegram dissector does.
        if flow.protocol == ipproto::TCP && by_ip == Some(known().telegram) {
            return class(known().telegram, ProtoId::UNKNOWN, false, CONFIDENCE_IP);
        }
        if named {
            if st.seen.has(Seen::SSH_PARTIAL) {
                return class(st.master, st.app, true, CONFIDENCE_DPI_PARTIAL);
            }
            return class(st.master, st.app, false, CONFIDENCE_DPI);
        }
        // A request whose head never completed (the flow ended first) is
        // HTTP all the same: nDPI names it on its method.
        if let Some(master) = cut_request {
            return class(master, ProtoId::UNKNOWN, false, CONFIDENCE_DPI);
        }
        // Nothing recognised: nDPI's guesses, by port, then by address; a
        // guess only while some dissector was still looking.
        let both_ways = st.seen.has(Seen::DIR_PAYLOAD[0]) && st.seen.has(Seen::DIR_PAYLOAD[1]);
        let all_excluded = match flow.protocol {
            ipproto::TCP => {
                st.misses.saturating_add(st.retransmissions_counted) >= TCP_PAYLOADS_ALL_EXCLUDED
            }
            _ if st.seen.rtp_lingers() => false,
            _ if both_ways && !st.seen.text_lingers() => {
                st.misses >= UDP_PAYLOADS_ALL_EXCLUDED_BOTH_WAYS
            }
            _ => st.misses >= UDP_PAYLOADS_ALL_EXCLUDED,
        };
        if st.valid
            && !st.excluded
            && let Some(id) = guess_by_port(flow)
        {
            return class(id, ProtoId::UNKNOWN, !all_excluded, CONFIDENCE_PORT);
        }
        match by_ip {
            Some(id) => class(ProtoId::UNKNOWN, id, !all_excluded, CONFIDENCE_IP),
            None => class(ProtoId::UNKNOWN, ProtoId::UNKNOWN, false, 0),
        }
    }
}

/// How far ahead of the expected sequence number a segment may start and
/// still be new data (nDPI's `tcp_max_retransmission_window_size`); behind
/// it, or further ahead, it is a retransmission if the flow's last packet
/// carried a payload ([`track_tcp`]).
pub const TCP_RETRANSMISSION_WINDOW: u32 = 0x10000;

/// What a TCP packet is to the sequence tracking.
#[derive(Debug, PartialEq, Eq)]
enum Segment {
    /// New bytes (or no payload): inspected.
    New,
    /// Bytes already seen: nDPI hands them to no dissector, so they count
    /// in no window here either.
    Retransmitted,
}

/// Follows each direction's next sequence number, as nDPI does: the first
/// SYN sets it, a payload moves it to its end. A payload ahead of it within
/// the window is read at once, as nDPI reads it: a segment that went
/// missing (capture loss) or comes late (reordering) is not waited for
/// (measured with nDPI 5.0: a request whose first segment comes second is
/// not named; a message after lost bytes is; only a direction already
/// gathering a message over segments holds one beyond a gap). A payload
/// that starts behind it, or beyond the window ahead, is a retransmission
/// if the flow's last
/// packet carried a payload, and is read otherwise (nDPI flags it only
/// then: after a pure ACK a re-sent request is read again); one that adds
/// bytes past the expected sequence moves it to its end either way.
/// Retransmissions reach no rule, but count towards nDPI's give-up once two
/// new payloads have come after them (its dissectors exclude themselves by
/// a packet count that includes them, but only when handed a packet; the
/// count at the second-to-last one decides, measured on every placement of
/// up to ten re-sends among twelve payloads).
fn track_tcp(st: &mut FlowDpi, p: &PacketInfo<'_>, src2dst: bool) -> Segment {
    let dir = usize::from(!src2dst);
    let prev_payload = st.seen.has(Seen::PREV_PAYLOAD);
    st.seen.put(Seen::PREV_PAYLOAD, !p.payload.is_empty());
    if p.tcp_flags & tcp_flags::SYN != 0 {
        // Only the first: a stray SYN-ACK of another sequence space does not
        // make the data that follows retransmissions (nor does it in nDPI).
        if st.next_seq[dir] == 0 {
            st.next_seq[dir] = p.tcp_seq.wrapping_add(1);
        }
        return Segment::New;
    }
    if p.payload.is_empty() {
        return Segment::New;
    }
    let seg = classify_segment(st, p, dir, prev_payload);
    if seg == Segment::Retransmitted {
        st.retransmitted = st.retransmitted.saturating_add(1);
    } else {
        st.retransmissions_counted = st
            .retransmissions_counted
            .saturating_add(std::mem::take(&mut st.retransmissions_staged));
        st.retransmissions_staged = std::mem::take(&mut st.retransmitted);
    }
    seg
}

fn classify_segment(
    st: &mut FlowDpi,
    p: &PacketInfo<'_>,
    dir: usize,
    prev_payload: bool,
) -> Segment {
    let len = p.payload.len() as u32;
    let end = p.tcp_seq.wrapping_add(len);
    let next = st.next_seq[dir];
    if next == 0 || p.tcp_seq.wrapping_sub(next) <= TCP_RETRANSMISSION_WINDOW {
        st.next_seq[dir] = end;
        return Segment::New;
    }
    if next.wrapping_sub(p.tcp_seq) < len {
        // Some bytes re-sent, some new.
        st.next_seq[dir] = end;
    }
    if prev_payload {
        Segment::Retransmitted
    } else {
        Segment::New
    }
}

/// The master a client's request head that never completed still names, as
/// nDPI names it on its method: HTTP (HTTP_Connect for a CONNECT), unless
/// the flow's first payload ruled HTTP out.
fn cut_request_master(st: &FlowDpi, head: &[u8]) -> Option<ProtoId> {
    (!st.seen.has(Seen::NOT_HTTP) && http::parser::method_and_more(head)).then(|| {
        let k = known();
        if head.starts_with(b"CONNECT ") {
            k.http_connect
        } else {
            k.http
        }
    })
}

/// After the server's SSH banner named the flow: the client's first new
/// payload settles it, a banner of its own making the match whole.
fn ssh_client_after_banner(st: &mut FlowDpi, p: &PacketInfo<'_>, src2dst: bool, max: u32) {
    if st.packets >= max {
        return;
    }
    // Counted like every packet within the limit, read unless cut short.
    st.packets += 1;
    if p.truncated {
        return;
    }
    if track_tcp(st, p, src2dst) == Segment::Retransmitted
        || !src2dst
        || p.payload.is_empty()
        || p.tcp_flags & tcp_flags::SYN != 0
    {
        return;
    }
    st.seen.add(Seen::SSH_SETTLED);
    st.seen
        .put(Seen::SSH_PARTIAL, !p.payload.starts_with(b"SSH-"));
}

/// What the TCP detector wants next for a direction.
pub(crate) enum Need {
    /// Buffer this data and call again with more.
    More,
    /// Nothing more needed in this direction.
    Nothing,
}

/// nDPI's give-up guess: the protocol registered for the flow's ports
/// (the lower well-known one first).
fn guess_by_port(flow: &FlowCtx) -> Option<ProtoId> {
    let tcp = flow.protocol == ipproto::TCP;
    if !tcp && flow.protocol != ipproto::UDP {
        return None;
    }
    let r = registry();
    let (a, b) = if flow.dst_port <= flow.src_port {
        (flow.dst_port, flow.src_port)
    } else {
        (flow.src_port, flow.dst_port)
    };
    r.by_port(tcp, a).or_else(|| r.by_port(tcp, b))
}

/// Convenience for parsers: the service of a server name, if any.
pub(crate) fn service_of(name: &str) -> ProtoId {
    registry().service(name).unwrap_or(ProtoId::UNKNOWN)
}

#[cfg(test)]
mod tests;

/// The template for a new stateful protocol (`template/`), compiled and
/// tested here so that it stays true to the crate's API.
#[cfg(test)]
#[allow(dead_code)]
#[path = "../template/mod.rs"]
mod template;
