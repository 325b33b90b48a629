//! Deterministic synthetic captures of exit-relay-like traffic.
//!
//! The relay (one public address) opens connections to public destinations:
//! TCP sessions with handshake, request/response and FIN or RST teardown,
//! connection attempts that fail (no answer, or RST), UDP request/response
//! exchanges, and optionally a SYN flood from distinct spoofed sources. The
//! first packets carry real protocol messages — TLS ClientHellos with a
//! server name, HTTP requests and responses with User-Agent and Content-Type,
//! SMTP, XMPP, DNS, QUIC Initials, BitTorrent handshakes and DHT queries,
//! NTP — so inspection has something to find; [`SynthSummary::labels`] says
//! what it should find. The same seed always gives the same bytes. Packets are produced lazily in time
//! order, so captures of any size are written in constant memory.
#![forbid(unsafe_code)]

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::io::{self, Write};

use etherparse::PacketBuilder;

/// Default number of flows.
pub const DEFAULT_FLOWS: u64 = 2000;
/// Default capture start: 2021-06-01T00:00:00Z (the reference study's season).
pub const DEFAULT_START_S: u64 = 1_622_505_600;
/// Default time span over which flows start, seconds.
pub const DEFAULT_SPAN_S: u64 = 3600;
/// Most flows in progress at once while generating.
pub const MAX_CONCURRENT: usize = 4096;

/// What to generate.
#[derive(Clone, Debug)]
pub struct SynthConfig {
    /// Seed: same seed, same capture.
    pub seed: u64,
    /// Ordinary flows (TCP sessions, failed attempts, UDP exchanges).
    pub flows: u64,
    /// SYNs of a flood, each from a distinct source address.
    pub syn_flood: u64,
    /// First packet time, seconds since the epoch.
    pub start_s: u64,
    /// Span over which flows start, seconds.
    pub span_s: u64,
    /// The relay's own address.
    pub relay: [u8; 4],
    /// Percent of ordinary flows that are connections to other relays
    /// ([`relay_peers`] of the seed, on their ORPort 9001).
    pub relay_percent: u8,
    /// Percent of ordinary flows whose payload no protocol explains.
    pub unknown_percent: u8,
    /// Flows start following a daily rhythm of this UTC offset (seconds):
    /// fewest at 04:00 local time, most at 16:00; `None`: evenly.
    pub daily_rhythm_tz_s: Option<i64>,
}

/// Other relays' addresses a capture of `seed` connects to (for a consensus).
pub fn relay_peers(seed: u64) -> Vec<[u8; 4]> {
    let mut rng = Rng(seed ^ 0x7e1a_9000_0000_0001);
    (0..RELAY_PEERS).map(|_| rng.public_v4()).collect()
}

/// How many other relays a capture connects to.
pub const RELAY_PEERS: usize = 40;
/// ORPort of the other relays.
pub const PEER_OR_PORT: u16 = 9001;
/// Destination port of the flows no protocol explains.
const UNKNOWN_PORT: u16 = 47_000;

/// Fraction `q` of the flows started → time offset in the span, following
/// a daily rhythm in local time (offset `tz_s`).
fn rhythm_offset(q: f64, span_s: u64, start_s: u64, tz_s: i64) -> f64 {
    let hours = span_s.div_ceil(3600).max(1) as usize;
    let weight = |h: usize| {
        let local = ((start_s as i64 + tz_s).rem_euclid(86_400) as f64 / 3600.0 + h as f64) % 24.0;
        0.35 + 0.65 * (1.0 - (2.0 * std::f64::consts::PI * (local - 4.0) / 24.0).cos()) / 2.0
    };
    let total: f64 = (0..hours).map(weight).sum();
    let mut acc = 0.0;
    for h in 0..hours {
        let w = weight(h) / total;
        if q <= acc + w || h + 1 == hours {
            let within = ((q - acc) / w).clamp(0.0, 1.0);
            return ((h as f64 + within) * 3600.0).min(span_s as f64);
        }
        acc += w;
    }
    0.0
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            seed: 1,
            flows: DEFAULT_FLOWS,
            syn_flood: 0,
            start_s: DEFAULT_START_S,
            span_s: DEFAULT_SPAN_S,
            relay: RELAY,
            relay_percent: 0,
            unknown_percent: 0,
            daily_rhythm_tz_s: None,
        }
    }
}

/// What was generated (the ground truth a test can check against).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SynthSummary {
    /// Packets written.
    pub packets: u64,
    /// Bytes of frames written.
    pub bytes: u64,
    /// Distinct flows generated (flood SYNs count one each).
    pub flows: u64,
    /// Flows with at most 4 packets.
    pub failed_flows: u64,
    /// Flows per application label inspection should give them.
    pub labels: BTreeMap<String, u64>,
}

/// TLS server names and the labels they give.
const TLS_NAMES: &[(&str, &str)] = &[
    ("www.google.com", "TLS.Google"),
    ("www.youtube.com", "TLS.YouTube"),
    ("www.cloudflare.com", "TLS.Cloudflare"),
    ("www.facebook.com", "TLS.Facebook"),
    ("api.twitter.com", "TLS.Twitter"),
    ("www.netflix.com", "TLS.NetFlix"),
    ("example.org", "TLS"),
    ("mirror.example.net", "TLS"),
];
/// HTTP hosts, user agents (commas and quotes included) and content types.
const HTTP_HOSTS: &[(&str, &str)] = &[
    ("www.amazon.com", "HTTP.Amazon"),
    ("download.windowsupdate.com", "HTTP.WindowsUpdate"),
    ("example.net", "HTTP"),
    ("www.baidu.com", "HTTP"),
];
const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:83.0) Gecko/20100101 Firefox/83.0",
    "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
    "Mozilla/5.0 (Linux; Android 7.0; SM-G892A) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/60.0",
    "curl/7.68.0",
    "Wget/1.20.3 (linux-gnu) \"quoted\"",
];
const CONTENT_TYPES: &[&str] = &[
    "text/html; charset=UTF-8",
    "application/json",
    "image/jpeg",
    "application/octet-stream",
    "text/plain",
];
const DNS_NAMES: &[(&str, &str)] = &[
    ("www.google.com", "DNS.Google"),
    ("graph.facebook.com", "DNS.Facebook"),
    ("example.com", "DNS"),
    ("mail.example.org", "DNS"),
];
const QUIC_NAMES: &[(&str, &str)] = &[
    ("www.youtube.com", "QUIC.YouTube"),
    ("www.google.com", "QUIC.Google"),
    ("example.org", "QUIC"),
];

/// splitmix64: small, fast, good enough for synthetic traffic.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// A public unicast IPv4 address (not private, loopback, CGNAT, multicast...).
    pub fn public_v4(&mut self) -> [u8; 4] {
        loop {
            let a = (self.next_u64() >> 32) as u32;
            let b = a.to_be_bytes();
            let bad = matches!(
                b[0],
                0 | 10 | 100 | 127 | 169 | 172 | 192 | 198 | 203 | 224..=255
            );
            if !bad {
                return b;
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    /// TCP session: handshake, `exchanges` request/response pairs, FIN close.
    Tcp { exchanges: u8, rst_close: bool },
    /// SYN retried with no answer.
    TcpNoAnswer,
    /// SYN answered by RST.
    TcpRefused,
    /// UDP request/response pairs.
    Udp { exchanges: u8 },
    /// One SYN from a spoofed source (flood).
    FloodSyn,
}

struct FlowGen {
    kind: Kind,
    /// Which name/agent/type the flow uses (an index into the tables above).
    pick: usize,
    client: [u8; 4],
    server: [u8; 4],
    cport: u16,
    sport: u16,
    step: u32,
    seq_c: u32,
    seq_s: u32,
}

/// One planned packet.
struct Pkt {
    from_client: bool,
    flags: u8,
    payload: usize,
    gap_us: u64,
}

const F_FIN: u8 = 1;
const F_SYN: u8 = 2;
const F_RST: u8 = 4;
const F_PSH: u8 = 8;
const F_ACK: u8 = 16;

impl FlowGen {
    /// The `step`-th packet of this flow, or `None` when it is done.
    fn packet(&self, rng: &mut Rng) -> Option<Pkt> {
        let s = self.step;
        let p = |from_client, flags, payload, gap_us| {
            Some(Pkt {
                from_client,
                flags,
                payload,
                gap_us,
            })
        };
        match self.kind {
            Kind::FloodSyn => (s == 0).then_some(Pkt {
                from_client: true,
                flags: F_SYN,
                payload: 0,
                gap_us: 0,
            }),
            Kind::TcpNoAnswer => {
                // Retries after 1, 2, 4 s as common stacks do.
                (s < 4).then(|| Pkt {
                    from_client: true,
                    flags: F_SYN,
                    payload: 0,
                    gap_us: if s == 0 { 0 } else { 1_000_000 << (s - 1) },
                })
            }
            Kind::TcpRefused => match s {
                0 => p(true, F_SYN, 0, 0),
                1 => p(false, F_RST | F_ACK, 0, 20_000 + rng.below(80_000)),
                _ => None,
            },
            Kind::Tcp {
                exchanges,
                rst_close,
            } => {
                let rtt = 10_000 + rng.below(150_000);
                let body = 3 + u32::from(exchanges) * 2;
                match s {
                    0 => p(true, F_SYN, 0, 0),
                    1 => p(false, F_SYN | F_ACK, 0, rtt),
                    2 => p(true, F_ACK, 0, 200),
                    s if s < body => {
                        let request = (s - 3) % 2 == 0;
                        if request {
                            p(
                                true,
                                F_PSH | F_ACK,
                                100 + rng.below(500) as usize,
                                1000 + rng.below(400_000),
                            )
                        } else {
                            p(false, F_PSH | F_ACK, 200 + rng.below(1200) as usize, rtt)
                        }
                    }
                    s if s == body => {
                        if rst_close {
                            p(true, F_RST | F_ACK, 0, 5000)
                        } else {
                            p(true, F_FIN | F_ACK, 0, 5000)
                        }
                    }
                    s if s == body + 1 && !rst_close => p(false, F_FIN | F_ACK, 0, rtt),
                    s if s == body + 2 && !rst_close => p(true, F_ACK, 0, 200),
                    _ => None,
                }
            }
            Kind::Udp { exchanges } => {
                let rtt = 5_000 + rng.below(100_000);
                if s >= u32::from(exchanges) * 2 {
                    return None;
                }
                if s.is_multiple_of(2) {
                    p(
                        true,
                        0,
                        30 + rng.below(60) as usize,
                        if s == 0 { 0 } else { 200_000 },
                    )
                } else {
                    p(false, 0, 60 + rng.below(400) as usize, rtt)
                }
            }
        }
    }

    /// The label inspection should give this flow (a port guess where no
    /// payload says more).
    fn expected_label(&self) -> &'static str {
        match (self.kind, self.sport) {
            (Kind::Tcp { .. }, 443) => TLS_NAMES[self.pick % TLS_NAMES.len()].1,
            (Kind::Tcp { .. }, 80) => HTTP_HOSTS[self.pick % HTTP_HOSTS.len()].1,
            (Kind::Tcp { .. }, 25) => "SMTP",
            (Kind::Tcp { .. }, 5222) => "Jabber",
            (Kind::Tcp { .. }, PEER_OR_PORT) => "TLS",
            (Kind::Tcp { .. } | Kind::TcpNoAnswer, 6881) => "BitTorrent",
            (Kind::Udp { .. }, 6881) => "BitTorrent",
            (Kind::Udp { .. }, 53) => DNS_NAMES[self.pick % DNS_NAMES.len()].1,
            (Kind::Udp { .. }, 443) => QUIC_NAMES[self.pick % QUIC_NAMES.len()].1,
            (Kind::Udp { .. }, 123) => "NTP",
            (_, 443) => "TLS",
            (_, 80) => "HTTP",
            (_, 22) => "SSH",
            (_, 8080) => "HTTP_Proxy",
            (_, 6667) => "IRC",
            _ => "Unknown",
        }
    }

    /// The real protocol message of the packet at `step`, if it carries one.
    fn message(&self, step: u32, from_client: bool) -> Option<Vec<u8>> {
        let i = self.pick;
        match (self.kind, self.sport, step, from_client) {
            (Kind::Tcp { .. }, 443, 3, true) => Some(exitflow_dpi::craft::client_hello_record(
                TLS_NAMES[i % TLS_NAMES.len()].0,
                i % 700,
            )),
            (Kind::Tcp { .. }, 80, 3, true) => Some(
                format!(
                    "GET /index.html HTTP/1.1\r\nHost: {}\r\nUser-Agent: {}\r\nAccept: */*\r\n\r\n",
                    HTTP_HOSTS[i % HTTP_HOSTS.len()].0,
                    USER_AGENTS[i % USER_AGENTS.len()]
                )
                .into_bytes(),
            ),
            (Kind::Tcp { .. }, 80, 4, false) => Some(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: 512\r\n\r\n",
                    CONTENT_TYPES[i % CONTENT_TYPES.len()]
                )
                .into_bytes(),
            ),
            // Tor's own TLS between relays: a random-looking server name.
            (Kind::Tcp { .. }, PEER_OR_PORT, 3, true) => Some(exitflow_dpi::craft::client_hello_record(
                &format!("www.{}{}.com", ["qzx", "vbn", "klm", "rtw"][i % 4], i % 9973),
                i % 700,
            )),
            (Kind::Tcp { .. }, 25, 3, true) => Some(b"EHLO relay.example\r\n".to_vec()),
            (Kind::Tcp { .. }, 25, 4, false) => Some(b"250-mx.example.org Hello\r\n250 SIZE 35882577\r\n".to_vec()),
            (Kind::Tcp { .. }, 5222, 3, true) => Some(
                b"<?xml version='1.0'?><stream:stream to='jabber.example' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>".to_vec(),
            ),
            (Kind::Tcp { .. }, 6881, 3 | 4, _) => {
                let mut h = vec![19];
                h.extend_from_slice(b"BitTorrent protocol");
                h.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 1]);
                h.extend_from_slice(&[(i % 251) as u8; 20]);
                h.extend_from_slice(b"-qB4250-");
                h.extend_from_slice(&[(i % 199) as u8; 12]);
                Some(h)
            }
            (Kind::Udp { .. }, 53, 0 | 1, _) => Some(dns_message(DNS_NAMES[i % DNS_NAMES.len()].0, !from_client, i as u16)),
            (Kind::Udp { .. }, 443, 0, true) => {
                let hs = exitflow_dpi::craft::client_hello_message(QUIC_NAMES[i % QUIC_NAMES.len()].0, 0);
                let frame = exitflow_dpi::craft::crypto_frame(0, &hs);
                let dcid = (i as u64).to_be_bytes();
                Some(exitflow_dpi::craft::client_initial(1, &dcid, 0, &frame))
            }
            (Kind::Udp { .. }, 123, _, _) => {
                let mut m = vec![0u8; 48];
                m[0] = if from_client { 0x23 } else { 0x24 };
                Some(m)
            }
            (Kind::Udp { .. }, 6881, _, _) => Some(
                format!("d1:ad2:id20:{:020}e1:q4:ping1:t2:aa1:y1:qe", i).into_bytes(),
            ),
            _ => None,
        }
    }

    fn packets_total(&self) -> u64 {
        match self.kind {
            Kind::FloodSyn => 1,
            Kind::TcpNoAnswer => 4,
            Kind::TcpRefused => 2,
            Kind::Tcp {
                exchanges,
                rst_close,
            } => 3 + u64::from(exchanges) * 2 + if rst_close { 1 } else { 3 },
            Kind::Udp { exchanges } => u64::from(exchanges) * 2,
        }
    }
}

/// The synthetic relay's own address (every generated flow starts or ends there).
pub const RELAY: [u8; 4] = [185, 220, 101, 33];
const RELAY_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x01];
const GW_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x00, 0xfe];

/// Writes a synthetic capture (classic pcap, Ethernet, µs) to `out`.
pub fn write_capture<W: Write>(cfg: &SynthConfig, out: W) -> io::Result<SynthSummary> {
    let mut w = io::BufWriter::with_capacity(1 << 16, out);
    // pcap global header: little-endian, µs, snaplen 65535, Ethernet.
    w.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
    w.write_all(&2u16.to_le_bytes())?;
    w.write_all(&4u16.to_le_bytes())?;
    w.write_all(&[0; 8])?;
    w.write_all(&65535u32.to_le_bytes())?;
    w.write_all(&1u32.to_le_bytes())?;

    let mut rng = Rng(cfg.seed ^ 0x5eed_0000_e417_f10e);
    let mut sum = SynthSummary::default();
    let total_flows = cfg.flows + cfg.syn_flood;
    let start_us = cfg.start_s * 1_000_000;
    let span_us = cfg.span_s.max(1) * 1_000_000;
    // Flows start at evenly spread times with jitter; the heap orders their packets.
    let mut heap: BinaryHeap<Reverse<(u64, u64)>> = BinaryHeap::new();
    let mut gens: Vec<Option<FlowGen>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut started = 0u64;
    let mut frame = Vec::with_capacity(2048);
    let mut flood_left = cfg.syn_flood;
    let mut normal_left = cfg.flows;
    // Client ports from the Linux ephemeral range, as a relay's would be.
    let mut port_seq: u16 = 32768;
    let peers = relay_peers(cfg.seed);
    loop {
        // Start flows whose start time is before the next packet due.
        let next_due = heap.peek().map(|Reverse((t, _))| *t);
        if started < total_flows && gens.len() - free.len() < MAX_CONCURRENT {
            let t = match cfg.daily_rhythm_tz_s {
                None => start_us + span_us * started / total_flows.max(1),
                Some(tz) => {
                    let q = started as f64 / total_flows.max(1) as f64;
                    start_us + (rhythm_offset(q, cfg.span_s, cfg.start_s, tz) * 1e6) as u64
                }
            };
            if next_due.is_none_or(|d| t <= d) {
                let flood =
                    flood_left > 0 && (normal_left == 0 || rng.below(total_flows) < cfg.syn_flood);
                port_seq = if port_seq >= 60999 {
                    32768
                } else {
                    port_seq + 1
                };
                let g = if flood {
                    flood_left -= 1;
                    FlowGen {
                        kind: Kind::FloodSyn,
                        pick: 0,
                        client: rng.public_v4(),
                        server: cfg.relay,
                        cport: 1024 + rng.below(64_000) as u16,
                        sport: 443,
                        step: 0,
                        seq_c: rng.next_u64() as u32,
                        seq_s: 0,
                    }
                } else if (cfg.relay_percent > 0 || cfg.unknown_percent > 0) && {
                    // Drawn only when asked for: the default captures stay
                    // byte for byte what they were.
                    let r = rng.below(100);
                    r < u64::from(cfg.relay_percent) + u64::from(cfg.unknown_percent)
                } {
                    normal_left -= 1;
                    let relay = rng
                        .below(u64::from(cfg.relay_percent) + u64::from(cfg.unknown_percent))
                        < u64::from(cfg.relay_percent);
                    let peers = &peers;
                    FlowGen {
                        kind: Kind::Tcp {
                            exchanges: 2 + rng.below(8) as u8,
                            rst_close: false,
                        },
                        pick: rng.below(1 << 16) as usize,
                        client: cfg.relay,
                        server: if relay {
                            peers[rng.below(peers.len() as u64) as usize]
                        } else {
                            rng.public_v4()
                        },
                        cport: port_seq,
                        sport: if relay { PEER_OR_PORT } else { UNKNOWN_PORT },
                        step: 0,
                        seq_c: rng.next_u64() as u32,
                        seq_s: rng.next_u64() as u32,
                    }
                } else {
                    normal_left -= 1;
                    let r = rng.below(100);
                    let (kind, sport) = match r {
                        0..=51 => (
                            Kind::Tcp {
                                exchanges: 1 + rng.below(6) as u8,
                                rst_close: rng.below(10) == 0,
                            },
                            443,
                        ),
                        52..=54 => (
                            Kind::Tcp {
                                exchanges: 2,
                                rst_close: false,
                            },
                            6881,
                        ),
                        55..=69 => (
                            Kind::Tcp {
                                exchanges: 1 + rng.below(3) as u8,
                                rst_close: false,
                            },
                            80,
                        ),
                        70..=72 => (
                            Kind::Tcp {
                                exchanges: 2,
                                rst_close: false,
                            },
                            25,
                        ),
                        73..=75 => (
                            Kind::Tcp {
                                exchanges: 3,
                                rst_close: false,
                            },
                            5222,
                        ),
                        76..=81 => (
                            Kind::TcpNoAnswer,
                            [443, 80, 6881, 22][rng.below(4) as usize],
                        ),
                        82..=85 => (Kind::TcpRefused, [443, 8080, 6667][rng.below(3) as usize]),
                        86..=95 => (Kind::Udp { exchanges: 1 }, 53),
                        _ => (
                            Kind::Udp {
                                exchanges: 2 + rng.below(4) as u8,
                            },
                            [123, 443, 6881][rng.below(3) as usize],
                        ),
                    };
                    FlowGen {
                        kind,
                        pick: rng.below(1 << 16) as usize,
                        client: cfg.relay,
                        server: rng.public_v4(),
                        cport: port_seq,
                        sport,
                        step: 0,
                        seq_c: rng.next_u64() as u32,
                        seq_s: rng.next_u64() as u32,
                    }
                };
                sum.flows += 1;
                *sum.labels.entry(g.expected_label().to_owned()).or_default() += 1;
                let n = g.packets_total();
                if n <= 4 {
                    sum.failed_flows += 1;
                }
                let idx = match free.pop() {
                    Some(i) => {
                        gens[i] = Some(g);
                        i
                    }
                    None => {
                        gens.push(Some(g));
                        gens.len() - 1
                    }
                };
                heap.push(Reverse((t, idx as u64)));
                started += 1;
                continue;
            }
        }
        let Some(Reverse((t, idx))) = heap.pop() else {
            break;
        };
        let idx = idx as usize;
        let g = gens[idx].as_mut().expect("scheduled flows exist");
        let Some(pkt) = g.packet(&mut rng) else {
            gens[idx] = None;
            free.push(idx);
            continue;
        };
        // The heap time is when this packet is due; the next one follows its gap.
        build_frame(g, &pkt, &mut rng, &mut frame);
        w.write_all(&((t / 1_000_000) as u32).to_le_bytes())?;
        w.write_all(&((t % 1_000_000) as u32).to_le_bytes())?;
        w.write_all(&(frame.len() as u32).to_le_bytes())?;
        w.write_all(&(frame.len() as u32).to_le_bytes())?;
        w.write_all(&frame)?;
        sum.packets += 1;
        sum.bytes += frame.len() as u64;
        g.step += 1;
        match g.packet(&mut Rng(rng.0)) {
            Some(next) => heap.push(Reverse((t + next.gap_us.max(1), idx as u64))),
            None => {
                gens[idx] = None;
                free.push(idx);
            }
        }
    }
    w.flush()?;
    Ok(sum)
}

/// A DNS query (or its response, with one A record) for `name`.
fn dns_message(name: &str, response: bool, id: u16) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(if response {
        &[0x81, 0x80]
    } else {
        &[0x01, 0x00]
    });
    m.extend_from_slice(&[0, 1, 0, u8::from(response), 0, 0, 0, 0]);
    for l in name.split('.') {
        m.push(l.len() as u8);
        m.extend_from_slice(l.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    if response {
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 1]);
    }
    m
}

fn build_frame(g: &mut FlowGen, pkt: &Pkt, rng: &mut Rng, frame: &mut Vec<u8>) {
    frame.clear();
    let (smac, dmac, src, dst, sp, dp) = if pkt.from_client {
        (RELAY_MAC, GW_MAC, g.client, g.server, g.cport, g.sport)
    } else {
        (GW_MAC, RELAY_MAC, g.server, g.client, g.sport, g.cport)
    };
    let payload: Vec<u8> = match g.message(g.step, pkt.from_client) {
        Some(m) => m,
        None => (0..pkt.payload)
            .map(|_| (rng.next_u64() >> 56) as u8)
            .collect(),
    };
    let b = PacketBuilder::ethernet2(smac, dmac).ipv4(src, dst, 64);
    let udp = matches!(g.kind, Kind::Udp { .. });
    let res = if udp {
        b.udp(sp, dp).write(frame, &payload)
    } else {
        let (seq, ack) = if pkt.from_client {
            (g.seq_c, g.seq_s)
        } else {
            (g.seq_s, g.seq_c)
        };
        let mut t = b.tcp(sp, dp, seq, 64_240);
        if pkt.flags & F_SYN != 0 {
            t = t.syn();
        }
        if pkt.flags & F_ACK != 0 {
            t = t.ack(ack);
        }
        if pkt.flags & F_PSH != 0 {
            t = t.psh();
        }
        if pkt.flags & F_FIN != 0 {
            t = t.fin();
        }
        if pkt.flags & F_RST != 0 {
            t = t.rst();
        }
        t.write(frame, &payload)
    };
    res.expect("writing into a Vec cannot fail");
    let adv = payload.len() as u32 + u32::from(pkt.flags & (F_SYN | F_FIN) != 0);
    if pkt.from_client {
        g.seq_c = g.seq_c.wrapping_add(adv);
    } else {
        g.seq_s = g.seq_s.wrapping_add(adv);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make(cfg: &SynthConfig) -> (Vec<u8>, SynthSummary) {
        let mut v = Vec::new();
        let s = write_capture(cfg, &mut v).unwrap();
        (v, s)
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let cfg = SynthConfig {
            flows: 300,
            syn_flood: 50,
            ..Default::default()
        };
        let (a, sa) = make(&cfg);
        let (b, sb) = make(&cfg);
        assert_eq!(a, b);
        assert_eq!(sa, sb);
        let (c, _) = make(&SynthConfig { seed: 2, ..cfg });
        assert_ne!(a, c);
        assert_eq!(sa.flows, 350);
    }

    #[test]
    fn the_capture_reads_back_in_time_order_with_the_summary_counts() {
        let cfg = SynthConfig {
            flows: 500,
            syn_flood: 100,
            ..Default::default()
        };
        let (bytes, sum) = make(&cfg);
        let mut r = exitflow_capture::CaptureReader::from_reader(
            std::path::Path::new("synth"),
            std::io::Cursor::new(bytes),
        )
        .unwrap();
        let (mut n, mut total, mut last, mut ordered) = (0u64, 0u64, 0u64, true);
        r.for_each(|p| {
            n += 1;
            total += u64::from(p.orig_len);
            ordered &= p.ts_us >= last;
            last = p.ts_us;
            assert_eq!(p.link_type, exitflow_capture::LinkType::ETHERNET);
            true
        })
        .unwrap();
        assert_eq!((n, total), (sum.packets, sum.bytes));
        assert!(ordered, "packets out of time order");
        assert!(last >= cfg.start_s * 1_000_000);
        assert!(sum.failed_flows >= 100 && sum.failed_flows < sum.flows);
    }
}
