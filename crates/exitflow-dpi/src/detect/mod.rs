//! Single-packet detectors as data: each row names the protocol, the
//! transport, the ports it is limited to (either side; empty: any port),
//! the direction whose payload it reads, and the test over that payload.
//!
//! Dispatch order (the first match names the flow), stated once here:
//! - TCP ([`crate::simple::tcp`]): TLS handshakes, then HTTP requests and
//!   responses, then [`TCP`] from top to bottom, then DNS over TCP on port 53.
//! - UDP ([`crate::simple::udp`]): STUN (a flow-level state machine, see
//!   [`stun`]), QUIC (IETF, version negotiation, Google), DNS on its ports
//!   and DNS-shaped service queries, then [`UDP`] from top to bottom.
//!
//! Protocol names are resolved to ids once ([`resolved`]); a table's name
//! missing from `protocols.txt` is an error when the tables load
//! ([`crate::data::load`]), not a flow's panic.
use crate::FlowCtx;

mod apps;
mod basic;
mod bytes;
mod ics;
pub mod infra;
mod samples;
mod scan;
pub(crate) mod stun;
mod table_tcp;
mod table_udp;
pub(crate) mod voip;

/// Transport a detector reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// The first bytes of a TCP stream.
    Tcp,
    /// One UDP datagram.
    Udp,
}

/// Whose payload a detector reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// The flow's source (the client).
    Client,
    /// The flow's destination (the server).
    Server,
    /// Either.
    Either,
}

/// Declares the protocols a detector can name other than its row's, as
/// [`Alt`] variants and their names in [`ALT_NAMES`] (same order).
macro_rules! alternates {
    ($($variant:ident = $name:literal),* $(,)?) => {
        /// nDPI's names of the [`Alt`] protocols, in variant order: resolved
        /// to ids with the tables ([`Resolved`]), checked when they load.
        pub const ALT_NAMES: &[&str] = &[$($name),*];

        /// A protocol a detector names other than its row's (`Match::As`,
        /// `Match::WithApp`): typed, so that no name is looked up on the
        /// packet path.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u8)]
        pub enum Alt {
            $(
                #[doc = $name]
                $variant,
            )*
        }
    };
}

alternates! {
    S7CommPlus = "S7CommPlus",
    Mms = "ISO9506-1-MMS",
    GtpC = "GTP_C",
    GtpPrime = "GTP_PRIME",
    GtpU = "GTP_U",
    ProfinetIo = "PROFINET_IO",
    SmbV1 = "SMBv1",
    SmbV23 = "SMBv23",
    Umas = "UMAS",
    // HTTP's sub-protocols (by what a request asks for, or a response says).
    WebSocket = "WebSocket",
    Soap = "SOAP",
    Ocsp = "OCSP",
    BitTorrent = "BitTorrent",
    Gnutella = "Gnutella",
    JsonRpc = "JSON-RPC",
    WebDav = "WebDAV",
    MsRpch = "MS-RPCH",
    Hls = "HLS",
    MpegDash = "MpegDash",
    Ipp = "IPP",
    Ntop = "ntop",
    // XMPP services.
    TruPhone = "TruPhone",
    // WireGuard's variants.
    TunnelBear = "TunnelBear",
    // Applications a STUN message names.
    WhatsAppCall = "WhatsAppCall",
    Zoom = "Zoom",
    TeamsCall = "TeamsCall",
    GoogleCall = "GoogleCall",
    SignalVoip = "SignalVoip",
    FacebookVoip = "FacebookVoip",
    TelegramVoip = "TelegramVoip",
    ViberVoip = "ViberVoip",
}

/// What a detector says of a payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Match {
    /// Not this protocol.
    No,
    /// The row's protocol.
    Yes,
    /// Another protocol than the row's (a variant on a port, say).
    As(Alt),
    /// The row's protocol, with this application (service) name.
    WithApp(Alt),
    /// Evidence for the row's protocol: it is named once this many packets
    /// of the flow (either direction, any row of the same protocol) said so.
    /// For protocols whose single packet is too weak a sign (RTP) or that
    /// nDPI confirms on a request and its answer.
    Count(u8),
    /// The row's protocol if this is the first payload the flow's inspection
    /// looked at (nDPI's rules that judge only a flow's first packet and
    /// exclude themselves after it); otherwise nothing.
    First,
    /// Evidence for the row's protocol: it is named once this many packets
    /// said so, every payload before included (nDPI's rules that exclude
    /// themselves on the first packet that does not fit, as Protobuf's).
    Run(u8),
    /// [`Match::Run`]'s evidence that can only open the run: the flow's
    /// first payload (nDPI's rules whose first packet has another shape
    /// than the next, as RSH's port before its user names).
    Open(u8),
    /// [`Match::Run`]'s evidence that cannot open the run: only a payload
    /// after the run's first (nDPI's rules whose later packets have another
    /// shape than the first, as RSH's user names after its port).
    Continue(u8),
    /// The protocol's own message that names nothing (a preamble): the
    /// row reads on, where a payload not its protocol's would end it.
    Wait,
    /// Evidence for the row's protocol, from both directions: it is named
    /// once this many packets said so, one of each direction among them,
    /// every payload before included (nDPI's rules that pair a request with
    /// its answer, as Rx's).
    BothWays(u8),
    /// [`Match::BothWays`]'s evidence that cannot open the run: only an
    /// answer to it (nDPI's rules whose answer is judged by the request,
    /// as EpicGames' word with one more bit).
    Answer(u8),
}

/// One detector.
pub struct Detector {
    /// Protocol named (as in `protocols.txt`).
    pub name: &'static str,
    /// Transport.
    pub transport: Transport,
    /// Ports, either side; empty: any port (unless `range` is set).
    pub ports: &'static [u16],
    /// A port range, either side, instead of `ports`.
    pub range: Option<(u16, u16)>,
    /// Direction read.
    pub dir: Dir,
    /// The test.
    pub detect: fn(&FlowCtx, &[u8]) -> Match,
    /// A payload it recognises (unit tests; documentation of the rule).
    pub sample: &'static [u8],
    /// It only ever answers [`Match::First`], [`Match::Run`],
    /// [`Match::BothWays`] or [`Match::Continue`]: after a payload no row
    /// took, or one another protocol's rule took, the scan skips it.
    pub from_first: bool,
    /// How many payloads no row took the row still reads after: 0 for
    /// most, as most of nDPI's dissectors exclude themselves on the first
    /// packet that is not theirs (with 0, another protocol's evidence
    /// before ends the row too); [`ANY_MISSES`] for the few that go on
    /// looking (measured per rule with nDPI 5.0: foreign payloads from
    /// either side before the rule's sample, `scripts/check_windows.py`).
    pub misses_allowed: u8,
}

/// [`Detector::misses_allowed`] of a rule that reads every payload the
/// engine inspects.
pub const ANY_MISSES: u8 = u8::MAX;

/// The packets a [`Match::Wait`] asks for: never reached, a preamble names
/// nothing by itself.
pub const WAIT_NEED: u8 = u8::MAX;

impl Detector {
    /// Marks a row that still reads after `n` payloads that were not its
    /// protocol's.
    const fn after_misses(mut self, n: u8) -> Detector {
        self.misses_allowed = n;
        self
    }

    /// Marks a row whose rule holds from the flow's first payload only.
    const fn only_from_first(mut self) -> Detector {
        self.from_first = true;
        self
    }
}

const fn row(
    name: &'static str,
    transport: Transport,
    ports: &'static [u16],
    dir: Dir,
    detect: fn(&FlowCtx, &[u8]) -> Match,
    sample: &'static [u8],
) -> Detector {
    Detector {
        name,
        transport,
        ports,
        range: None,
        dir,
        detect,
        sample,
        from_first: false,
        misses_allowed: 0,
    }
}

/// A row limited to a port range (either side).
const fn row_range(
    name: &'static str,
    transport: Transport,
    range: (u16, u16),
    dir: Dir,
    detect: fn(&FlowCtx, &[u8]) -> Match,
    sample: &'static [u8],
) -> Detector {
    let mut d = row(name, transport, &[], dir, detect, sample);
    d.range = Some(range);
    d
}

pub(crate) use apps::rtmp_handshake_pending;
use basic::*;
pub(crate) use basic::{BITTORRENT_TCP_PAYLOADS, bittorrent_handshake};
use bytes::*;
pub(crate) use bytes::{either_port, starts_ci};
use samples::*;
pub use scan::{
    Before, Hit, Resolved, alt, first_match, first_match_after, id, ip_protocol, resolved, scan,
};
pub use table_tcp::TCP;
pub use table_udp::UDP;

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(t: Transport, port: u16) -> FlowCtx {
        let proto = match t {
            Transport::Tcp => 6,
            Transport::Udp => 17,
        };
        crate::craft::flow_ctx(proto, 50_000, port)
    }

    #[test]
    fn every_name_the_detectors_give_is_in_the_registry() {
        let r = resolved();
        assert!(r.tcp.iter().chain(&r.udp).all(|p| !p.is_unknown()));
        for name in ["S7Comm", "SMTP", "WhatsAppCall", "SMBv1"] {
            id(name);
        }
    }

    /// One row per detector: its sample is recognised, on its first port,
    /// from its direction, as its protocol, through the whole table (so an
    /// earlier row does not take it); every prefix is safe to read.
    #[test]
    fn each_detector_names_its_sample_through_the_table() {
        let r = resolved();
        let mut failed = Vec::new();
        for (table, ids, t) in [(TCP, &r.tcp, Transport::Tcp), (UDP, &r.udp, Transport::Udp)] {
            for (det, pid) in table.iter().zip(ids.iter()) {
                assert_eq!(det.transport, t, "{}", det.name);
                let port = det
                    .ports
                    .first()
                    .copied()
                    .or(det.range.map(|r| r.0))
                    .unwrap_or(4321);
                let src2dst = det.dir != Dir::Server;
                // The flow contexts rules ask for: an ephemeral client; the
                // port on both sides, from 0.0.0.0 (CiscoVPN, LISP, GLBP,
                // CIP, DHCP, CPHA); IPv6 (Matter); a server in KakaoTalk's
                // network; one of LINE's; the port on both sides from
                // 10.0.0.1 to a multicast group (NetBIOS datagrams, HSRP,
                // WSD); the same over IPv6 (DHCPv6); a broadcast (Mikrotik).
                let plain = flow(t, port);
                let mut contexts = [plain; 8];
                contexts[1].src_port = port;
                contexts[2].ip_version = 6;
                contexts[3].dst[..4].copy_from_slice(&[1, 201, 10, 20]);
                contexts[4].dst[..4].copy_from_slice(&[147, 92, 200, 10]);
                contexts[5].src_port = port;
                contexts[5].src[..4].copy_from_slice(&[10, 0, 0, 1]);
                contexts[5].dst[..4].copy_from_slice(&[224, 0, 0, 2]);
                contexts[6] = contexts[5];
                contexts[6].ip_version = 6;
                contexts[6].dst[0] = 0xff;
                contexts[6].src_port = det.ports.get(1).copied().unwrap_or(port);
                contexts[7].dst[..4].copy_from_slice(&[255, 255, 255, 255]);
                let found = contexts.iter().find(|f| {
                    scan::first_match_in_run_of(table, ids, f, det.sample, src2dst, *pid)
                        .map(|h| h.master)
                        == Some(*pid)
                });
                let f = *found.unwrap_or(&contexts[0]);
                let got = scan::first_match_in_run_of(table, ids, &f, det.sample, src2dst, *pid);
                if got.map(|h| h.master) != Some(*pid) {
                    failed.push(format!(
                        "{} sample -> {:?}",
                        det.name,
                        got.map(|h| h.master.name())
                    ));
                    continue;
                }
                // A row the scan skips after a miss must hold from the
                // first payload only.
                if det.from_first && got.is_some_and(|h| !h.from_first) {
                    failed.push(format!("{} is marked from_first", det.name));
                }
                if det.dir != Dir::Either {
                    let other = first_match(table, ids, &f, det.sample, !src2dst);
                    assert_ne!(
                        other.map(|h| h.master),
                        Some(*pid),
                        "{} other direction",
                        det.name
                    );
                }
                for n in 0..det.sample.len() {
                    let _ = first_match(table, ids, &f, &det.sample[..n], src2dst);
                }
            }
        }
        assert!(failed.is_empty(), "{failed:#?}");
    }

    /// A row limited to ports is nDPI's precondition: off them its sample
    /// is not its protocol (unless another row of it takes any port).
    #[test]
    fn a_port_limited_row_refuses_its_sample_off_its_ports() {
        let r = resolved();
        for (table, ids, t) in [(TCP, &r.tcp, Transport::Tcp), (UDP, &r.udp, Transport::Udp)] {
            for (det, pid) in table.iter().zip(ids.iter()) {
                let unlimited = table
                    .iter()
                    .any(|o| o.name == det.name && o.ports.is_empty() && o.range.is_none());
                if unlimited {
                    continue;
                }
                let f = flow(t, 4321);
                let got = first_match(table, ids, &f, det.sample, det.dir != Dir::Server);
                assert_ne!(
                    got.map(|h| h.master),
                    Some(*pid),
                    "{} off its ports",
                    det.name
                );
            }
        }
    }

    /// (protocol, transport, client port, server port, IPv6, server address, payload)
    type Refusal<'a> = (&'a str, Transport, u16, u16, bool, [u8; 4], &'a [u8]);

    /// Every memcached word passes the first-byte filter before it.
    #[test]
    fn every_memcached_word_is_counted() {
        let f = flow(Transport::Tcp, 11311);
        for w in infra::MEMCACHED_WORDS {
            let mut d = w.to_vec();
            d.extend_from_slice(b"k 0 0 1\r\n");
            assert_eq!(infra::memcached(&f, &d), Match::Count(2), "{w:?}");
        }
    }

    /// Issue 24, nDPI 5.0's single-packet preconditions (each case checked
    /// with its library): a message one condition short of the rule, or
    /// sent where nDPI does not read it, names nothing; the rule's own
    /// sample is named where nDPI reads it.
    #[test]
    fn one_condition_short_of_ndpis_rule_names_nothing() {
        let r = resolved();
        // (protocol, transport, client port, server port, IPv6, client,
        // server, payload)
        type Case<'a> = (
            &'a str,
            Transport,
            u16,
            u16,
            bool,
            [u8; 4],
            [u8; 4],
            &'a [u8],
        );
        let (c, s, bcast, group) = ([10, 0, 0, 1], [93, 184, 216, 34], [255; 4], [224, 0, 0, 2]);
        let (tcp, udp) = (Transport::Tcp, Transport::Udp);
        let mut smb1_negotiate = vec![0u8, 0, 0, 0x2f, 0xff, b'S', b'M', b'B', 0x72];
        smb1_negotiate.resize(0x33, 0);
        let mut dhcp_no_type = DHCP_SAMPLE.to_vec();
        dhcp_no_type[240] = 0xff;
        let mut trdp_bad_fcs = TRDP_PD_SAMPLE.to_vec();
        trdp_bad_fcs[36] ^= 1;
        let mut hdlc_bad_fcs = DLMS_HDLC_SAMPLE.to_vec();
        hdlc_bad_fcs[6] ^= 1;
        let mut ads_no_flags = ADS_SAMPLE.to_vec();
        ads_no_flags[24] = 0;
        // A name service message with these flags and counts.
        let nbns = |flags: u16, counts: [u16; 4]| {
            let mut d = NBNS_QUERY_SAMPLE.to_vec();
            d[2..4].copy_from_slice(&flags.to_be_bytes());
            for (i, n) in counts.iter().enumerate() {
                d[4 + 2 * i..6 + 2 * i].copy_from_slice(&n.to_be_bytes());
            }
            d
        };
        let (nbns_3000, nbns_4810) = (nbns(0x3000, [1, 0, 0, 1]), nbns(0x4810, [1, 0, 0, 1]));
        // DHCP's options as nDPI walks them: a zero byte is an option with
        // a length, not a pad.
        let mut dhcp_pad = DHCP_SAMPLE.to_vec();
        dhcp_pad.splice(240..240, [0u8]);
        let mut egd_other = EGD_SAMPLE.to_vec();
        egd_other[4..8].copy_from_slice(&[192, 168, 0, 1]);
        let refused: &[Case<'_>] = &[
            // One condition short of nDPI's reading of a length or a line
            // end (each measured with nDPI 5.0).
            ("HiSLIP", tcp, 40000, 4880, false, c, s, b"HS\0\0\x01\0RS\0\0\0\0\0\0\0\x07hislip0\0"),
            ("Discord", udp, 40000, 50004, false, c, s, b"\x13\x37\xca\xfe\x0e\0\0\0\0"),
            ("MGCP", udp, 40000, 2427, false, c, s, b"RSIP 1 *@gw.example.org MGCP 1.0"),
            ("Nats", tcp, 40000, 4222, false, c, s, b"INFO {\"server_id\":\"x\"}\n"),
            ("CHECKMK", tcp, 40000, 6556, false, c, s, b"<<<check_mk>>>"),
            ("Crossfire", udp, 40000, 50005, false, c, s, b"\xc7\xd9\x19\x99\x02\0\0"),
            ("BJNP", udp, 40000, 8611, false, c, s, b"BJNP"),
            ("Diameter", tcp, 40000, 3868, false, c, s, b"\x01\0\0\x15\x80\0\x01\x01\0\0\0\0\0\0\0\0\0\0\0\0"),
            ("WhatsApp", tcp, 40000, 5222, false, c, s, b"WA\x05\x02\0\0"),
            ("Jabber", tcp, 40000, 5999, false, c, s, b"<?xml version='1.0'?><stream:stream to='example.org'>"),
            ("Elasticsearch", tcp, 40000, 9300, false, c, s, b"ES\0\0\0\x34\0\0\0\0\0\0\0\x01\x08\0\x5c\xc6\x63\0\0\x01\x06x-pack"),
            ("HAProxy", tcp, 40000, 8080, false, c, s, b"PROXY TCP4 192.0.2.1 192.0.2.2 56324 443\r\n"),
            ("STOMP", tcp, 40000, 61613, false, c, s, b"CONNECT\naccept-version:1.2\nhost:example.org\n\n\0"),
            ("SMPP", tcp, 40000, 2775, false, c, s, b"\0\0\0\x10\0\0\0\x02\0\0\0\0\0\0\0\x01"),
            ("Corba", tcp, 40000, 2809, false, c, s, b"GIOP\x01\x02\x01\0\0\0\0\x10"),
            ("OPC-UA", tcp, 40000, 4840, false, c, s, b"HELF\x0c\0\0\0\0\0\0\0"),
            ("HL7", tcp, 40000, 2575, false, c, s, &HL7_ADT_SAMPLE[1..]),
            ("OpenWire", tcp, 40000, 61616, false, c, s, b"\0\0\x01\x06\x01ActiveMQ\0\0\0\x0c"),
            ("LDP", tcp, 40000, 646, false, c, s, b"\0\x01\0\x1e\x0a\0\0\x01\0\0\x01\0\0\x14\0\0\0\x01\x04\0\0\x04\0\x0f\0\0\x04\x01\0\x04\x0a\0\0\x01"),
            ("Megaco", tcp, 40000, 2944, false, c, s, b"MEGACO/1 [192.0.2.1]:2944\r\n"),
            ("BITCOIN", tcp, 40000, 5000, false, c, s, b"\xf9\xbe\xb4\xd9version\0\0\0\0\0"),
            ("ATG", tcp, 40000, 10001, false, c, s, b"\nI20100\n08/19/2024"),
            ("Oracle", tcp, 40000, 5000, false, c, s, ORACLE_SAMPLE),
            ("Cassandra", tcp, 40000, 9042, false, c, s, b"\x04\0\0\x01\x05\0\0\0\0"),
            ("BeckhoffADS", tcp, 40000, 48898, false, c, s, &ads_no_flags),
            ("S7Comm", tcp, 40000, 102, false, c, s, b"\x03\0\0\x0b\x02\xf0\x80\x32\x01\0\0"),
            ("IEC62056", tcp, 40000, 4059, false, c, s, b"\0\x01\0\x10\0\x01\0\x02\x60\x1d"),
            ("IEC62056", udp, 40000, 4059, false, c, s, &hdlc_bad_fcs),
            ("NetBIOS", tcp, 40000, 445, false, c, s, &smb1_negotiate),
            ("NetBIOS", tcp, 40000, 5000, false, c, s, SMB2_NEGOTIATE_SAMPLE),
            ("NetBIOS", udp, 40000, 137, false, c, s, b"\x82\x28\0\x10\0\x01\0\0\0\0\0\0"),
            ("NetBIOS", udp, 138, 138, false, [192, 168, 0, 2], bcast, NBDS_SAMPLE),
            ("NetBIOS", udp, 137, 137, false, c, bcast, &nbns_3000),
            ("DHCP", udp, 68, 67, false, c, bcast, &dhcp_pad),
            ("Roughtime", udp, 40000, 2002, false, c, s, b"ROUGHTIM\x10\0\0\0"),
            ("GenshinImpact", udp, 40000, 22101, false, c, s, &[0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            ("TeamSpeak", udp, 40000, 9987, false, c, s, b"TS3INIT1\0\x65"),
            ("DTLS", udp, 40000, 4433, false, c, s, b"\x14\xfe\xfd\0\x01\0\0\0\0\0\x09\0\x01\x01"),
            ("DTLS", udp, 40000, 4433, false, c, s, b"\x16\xfe\xfd\0\0\0\0\0\0\0\0\0\x02\x01\0"),
            ("ANSI_C1222", udp, 40000, 1153, false, c, s, b"\x60\x09\xa2\x07\x06\x05\x60\x7c\x86\xf7\x54"),
            ("EthernetGlobalData", udp, 40000, 18246, false, c, s, &egd_other),
            ("EtherSIO", udp, 40000, 6060, false, c, s, b"ESIO\0\x01\0\0\0\x31"),
            ("PFCP", udp, 40000, 8805, false, c, s, b"\x20\x01\0\x0c\0\0\x01\0\0\x60\0\x04\x5f\xf3\xb1\xf1"),
            ("UFTP", udp, 40000, 1044, false, c, s, &UFTP_ANNOUNCE_SAMPLE[..16]),
            ("RipeAtlas", udp, 40000, 33000, false, c, s, b"MGLNDD_192.0.2.1_1114"),
            ("CryNetwork", udp, 40000, 64090, false, c, s, &CRYNET_SAMPLE[..30]),
            ("TRDP", udp, 40000, 17224, false, c, s, &trdp_bad_fcs),
            ("DHCP", udp, 68, 67, false, c, bcast, &dhcp_no_type),
            ("DHCP", udp, 40000, 67, false, c, s, DHCP_SAMPLE),
            ("DHCPV6", udp, 546, 547, false, c, s, b"\x01\x12\x34\x56"),
            ("Spotify", udp, 40000, 57621, false, c, bcast, b"SpotUdp0\0\x01\0\x04"),
            ("PTPv2", udp, 319, 320, false, c, group, PTP_SAMPLE),
            ("CPHA", udp, 8116, 8116, false, c, s, CPHA_SAMPLE),
            ("Mikrotik", udp, 5678, 5678, false, c, s, b"\0\0\0\0\0\x01\0\x06\x00\x0c\x42\x01\x02\x03"),
            ("WSD", udp, 40000, 3702, false, c, s, b"<?xml version=\"1.0\"?><soap:Envelope xmlns:wsd=\"http://schemas.xmlsoap.org/ws/2005/04/discovery\">"),
            ("HSRP", udp, 1985, 1985, false, c, s, HSRP_SAMPLE),
            ("HSRP", udp, 1985, 1985, false, c, [224, 0, 0, 102], HSRP_SAMPLE),
        ];
        let named = |t: Transport, sp, dp, v6: bool, cl: [u8; 4], sv: [u8; 4], d: &[u8]| {
            let (table, ids) = match t {
                Transport::Tcp => (TCP, &r.tcp),
                Transport::Udp => (UDP, &r.udp),
            };
            let mut f = flow(t, dp);
            f.src_port = sp;
            f.src[..4].copy_from_slice(&cl);
            f.dst[..4].copy_from_slice(&sv);
            if v6 {
                f.ip_version = 6;
            }
            // A preamble the rule reads past ([`Match::Wait`]) names nothing.
            first_match(table, ids, &f, d, true)
                .filter(|h| h.need != u8::MAX)
                .map(|h| h.master.name())
        };
        for &(name, t, sp, dp, v6, cl, sv, d) in refused {
            assert_ne!(
                named(t, sp, dp, v6, cl, sv, d),
                Some(name),
                "{name}: {d:02x?}"
            );
        }
        // Where nDPI reads them, the rules' samples are named.
        let accepted: &[Case<'_>] = &[
            // What nDPI 5.0 takes though a length does not fit the payload,
            // or the message is short.
            ("AJP", tcp, 40000, 8009, false, c, s, b"\x12\x34\0\x02\x02"),
            (
                "Diameter",
                tcp,
                40000,
                3868,
                false,
                c,
                s,
                b"\x01\0\0\x14\x80\0\x01\x01\0\0\0\0\0\0\0\0\0\0\0\0\0",
            ),
            (
                "OICQ",
                udp,
                40000,
                8000,
                false,
                c,
                s,
                b"\x02\x3b\x0b\0\x01\0\x17\x56\x1f\x0c\x7b\0\0",
            ),
            (
                "Crossfire",
                udp,
                40000,
                50005,
                false,
                c,
                s,
                b"\xc7\xd9\x19\x99\x02\0\0\0",
            ),
            ("BJNP", udp, 40000, 8611, false, c, s, b"BJNP\x01"),
            ("Zabbix", tcp, 40000, 10051, false, c, s, b"ZBXD\x02"),
            (
                "MGCP",
                udp,
                40000,
                2427,
                false,
                c,
                s,
                b"RSIP 1 *@gw.example.org MGCP 1.0\r",
            ),
            ("NetBIOS", udp, 137, 137, false, c, bcast, &nbns_4810),
            ("NetBIOS", udp, 138, 138, false, c, bcast, NBDS_SAMPLE),
            ("DHCPV6", udp, 546, 547, true, c, s, b"\x01\x12\x34\x56"),
            ("CPHA", udp, 8116, 8116, false, [0; 4], s, CPHA_SAMPLE),
            (
                "Mikrotik",
                udp,
                40000,
                5678,
                false,
                c,
                bcast,
                b"\0\0\0\0\0\x01\0\x06\x00\x0c\x42\x01\x02\x03",
            ),
            ("HSRP", udp, 1985, 1985, false, c, group, HSRP_SAMPLE),
            ("PTPv2", udp, 319, 319, false, c, group, PTP_SAMPLE),
            (
                "EthernetGlobalData",
                udp,
                40000,
                5000,
                false,
                c,
                s,
                EGD_SAMPLE,
            ),
        ];
        for &(name, t, sp, dp, v6, cl, sv, d) in accepted {
            assert_eq!(
                named(t, sp, dp, v6, cl, sv, d),
                Some(name),
                "{name}: {d:02x?}"
            );
        }
    }

    /// Messages of other protocols (or of the same one, where nDPI's
    /// precondition does not hold) that each rule with a precondition must
    /// refuse, as nDPI 5.0 refuses them (each checked with its library).
    #[test]
    fn rules_refuse_what_ndpi_refuses() {
        let r = resolved();
        let v4 = |a: [u8; 4]| {
            let mut x = [0u8; 16];
            x[..4].copy_from_slice(&a);
            x
        };
        let cases: &[Refusal<'_>] = &[
            (
                "Yojimbo",
                Transport::Udp,
                40000,
                41000,
                false,
                [0; 4],
                b"\x01NETCODE 1.02\0",
            ),
            (
                "EasyWeather",
                Transport::Udp,
                40000,
                46000,
                false,
                [0; 4],
                b"\xff\xff\x27\0\x03\x2a",
            ),
            (
                "Armagetron",
                Transport::Udp,
                40000,
                4534,
                false,
                [0; 4],
                b"\0\x0b\0\0\0\x04\x07\xd0\0\0\0\0\0\x01\0\x01",
            ),
            (
                "NOE",
                Transport::Udp,
                32512,
                32513,
                false,
                [0; 4],
                b"\x07\0\0\0\0",
            ),
            ("NOE", Transport::Tcp, 32512, 32513, false, [0; 4], b"\x05"),
            (
                "Controller_Area_Network",
                Transport::Udp,
                40000,
                11898,
                false,
                [0; 4],
                b"ISO11898\x01",
            ),
            (
                "BFCP",
                Transport::Udp,
                40000,
                41000,
                false,
                [0; 4],
                b"\x20\x01\0\x02\0\0\0\x01\0\x01\0\x02\x05\x04\0\x01",
            ),
            (
                "BFCP",
                Transport::Tcp,
                40000,
                41000,
                false,
                [0; 4],
                b"\x40\x01\0\x01\0\0\0\x01\0\x01\0\x02\x05\x04\0\x01",
            ),
            ("Mudfish", Transport::Udp, 40000, 10011, false, [0; 4], b"P"),
            (
                "CiscoVPN",
                Transport::Udp,
                40000,
                10000,
                false,
                [0; 4],
                b"\xfe\x57\x7e\x2b\0\0\0\x14",
            ),
            (
                "TPLINK_SHP",
                Transport::Udp,
                40000,
                9999,
                false,
                [0; 4],
                b"{\"system\":{\"get_sysinfo\":{}}}",
            ),
            (
                "TPLINK_SHP",
                Transport::Tcp,
                40000,
                9999,
                false,
                [0; 4],
                TPLINK_SAMPLE,
            ),
            (
                "LISP",
                Transport::Udp,
                40000,
                4342,
                false,
                [0; 4],
                LISP_MAP_REQUEST_SAMPLE,
            ),
            (
                "LISP",
                Transport::Tcp,
                40000,
                4342,
                false,
                [0; 4],
                b"\0\x05\0\x14\0\0\0\x01\x0a\0\0\x01\0\0\0\0\x9f\xac\xad\0",
            ),
            (
                "collectd",
                Transport::Udp,
                40000,
                45826,
                false,
                [0; 4],
                b"\0\0\0\x0bmyhost\0\0\x08\0\x0c\x19\x54\xfc\x40\0\0\0\0",
            ),
            ("IPSec", Transport::Udp, 40000, 40500, false, [0; 4], &{
                let mut d = [0u8; 28];
                d[17] = 0x21;
                d[27] = 28;
                d
            }),
            ("IPSec", Transport::Udp, 40000, 40500, false, [0; 4], &{
                let mut d = [0u8; 28];
                d[17] = 0x20;
                d[18] = 99; // no IKEv2 exchange, off IKE's ports
                d[27] = 28;
                d
            }),
            (
                "SamsungSDP",
                Transport::Udp,
                40000,
                15600,
                false,
                [0; 4],
                b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n\r\n",
            ),
            (
                "DLEP",
                Transport::Udp,
                40000,
                854,
                false,
                [0; 4],
                b"DLEP\0\x01\0\x18\0\x04\0\x14\0edge-rout",
            ),
            (
                "DLEP",
                Transport::Tcp,
                40000,
                41000,
                false,
                [0; 4],
                b"\0\x01\0\x10\0\x05\0\x0c\0\x0apeer-north",
            ),
            (
                "GLBP",
                Transport::Udp,
                40000,
                3222,
                false,
                [0; 4],
                GLBP_SAMPLE,
            ),
            (
                "CIP",
                Transport::Udp,
                40000,
                2222,
                false,
                [0; 4],
                b"\x02\0\x02\x80\x08\0\x01\x0a\0\0\x05\0\0\0\xb1\0\x06\0\x05\0\0\0\0\0",
            ),
            (
                "TriStation",
                Transport::Udp,
                40000,
                1502,
                false,
                [0; 4],
                b"\x05\0\x0c\0\0\x01\0\x02\0\0\x0c\0\x14\0\0\0\0",
            ),
            (
                "MSDO",
                Transport::Tcp,
                40000,
                7680,
                false,
                [0; 4],
                b"\x0eSwarm protocol\0"[..16].as_ref(),
            ),
            ("Raft", Transport::Tcp, 40000, 7001, false, [0; 4], &{
                let mut d = [0u8; 56];
                d[7] = 1; // big-endian type 1
                d[15] = 40;
                d
            }),
            (
                "Matter",
                Transport::Udp,
                40000,
                5540,
                false,
                [0; 4],
                MATTER_SAMPLE,
            ),
            ("Matter", Transport::Udp, 40000, 5540, true, [0; 4], &{
                let mut d = [0u8; 24];
                d[1] = 0x12; // a session id on an unsecured session
                d
            }),
            (
                "Lustre",
                Transport::Tcp,
                1023,
                988,
                false,
                [93, 184, 216, 34],
                b"\0\x71\xce\xac\x01\0\0\0\x01\0\0\x0a\0\0\x02\0",
            ),
            (
                "KakaoTalk_Voice",
                Transport::Udp,
                45012,
                20012,
                false,
                [1, 202, 10, 20],
                b"\x81\xc8\0\x06\x5a\x3c\x0f\x11",
            ),
            (
                "Radmin",
                Transport::Tcp,
                40000,
                4899,
                false,
                [0; 4],
                b"\x01\0\0\0\x02\0\0\0\x08\x08",
            ),
            (
                "LineCall",
                Transport::Udp,
                40000,
                41000,
                false,
                [93, 184, 216, 34],
                b"\xb6\x07\0\x04\0\0\0\x01",
            ),
            (
                "Protobuf",
                Transport::Udp,
                40000,
                41000,
                false,
                [0; 4],
                b"\x0b\x96\x01\x12\x07testing",
            ),
            (
                "Protobuf",
                Transport::Tcp,
                40000,
                41000,
                false,
                [0; 4],
                b"\x08\x96\x01\x4b\x01",
            ),
            // A remaining length cut short, a zero-length APCI.
            (
                "MQTT",
                Transport::Tcp,
                40000,
                41000,
                false,
                [0; 4],
                b"\xc0\x80",
            ),
            (
                "MQTT",
                Transport::Tcp,
                40000,
                41000,
                false,
                [0; 4],
                b"\x20\x80\x80",
            ),
            (
                "IEC60870",
                Transport::Tcp,
                40000,
                41000,
                false,
                [0; 4],
                b"\x68\x00\x68\x04\x07\x00\x00\x00",
            ),
            ("RX", Transport::Udp, 7001, 7003, false, [0; 4], &{
                let mut d = [0u8; 28];
                d[20] = 12; // PARAMS_4, which nDPI refuses
                d
            }),
        ];
        for (name, t, sp, dp, v6, server, payload) in cases {
            let (table, ids) = match t {
                Transport::Tcp => (TCP, &r.tcp),
                Transport::Udp => (UDP, &r.udp),
            };
            let mut f = flow(*t, *dp);
            f.src_port = *sp;
            f.dst = v4(*server);
            if *v6 {
                f.ip_version = 6;
            }
            let got = first_match(table, ids, &f, payload, true).map(|h| h.master.name());
            assert_ne!(got, Some(*name), "{name}: {payload:02x?}");
        }
    }

    #[test]
    fn teredo_is_only_checked_with_its_port_on_either_side() {
        // Regression: IPv6 carried in ONC-RPC or Geneve datagrams was Teredo.
        let r = resolved();
        let teredo = id("Teredo");
        for (port, want) in [(TEREDO_PORT, true), (6081, false), (2049, false)] {
            let got = first_match(
                UDP,
                &r.udp,
                &flow(Transport::Udp, port),
                TEREDO_SAMPLE,
                true,
            );
            assert_eq!(got.map(|h| h.master) == Some(teredo), want, "port {port}");
        }
    }

    #[test]
    fn the_per_packet_scan_answers_as_the_table_does() {
        let r = resolved();
        for (table, ids, t) in [(TCP, &r.tcp, Transport::Tcp), (UDP, &r.udp, Transport::Udp)] {
            for det in table {
                for port in [4321, det.ports.first().copied().unwrap_or(80)] {
                    let f = flow(t, port);
                    for src2dst in [true, false] {
                        assert_eq!(
                            scan(t, &f, det.sample, src2dst, Before::FIRST),
                            first_match_after(
                                table,
                                ids,
                                &f,
                                det.sample,
                                src2dst,
                                Some(Before::FIRST)
                            ),
                            "{}",
                            det.name
                        );
                    }
                }
            }
        }
    }

    /// Every row reads any bytes safely: random payloads of every length up
    /// to 300, and each sample with random bytes after a random prefix.
    #[test]
    fn every_detector_reads_arbitrary_bytes_without_panicking() {
        let mut next = crate::craft::xorshift(0x9e37_79b9_7f4a_7c15);
        for (table, t) in [(TCP, Transport::Tcp), (UDP, Transport::Udp)] {
            for det in table {
                let f = flow(t, det.ports.first().copied().unwrap_or(4321));
                for n in 0..300usize {
                    let mut d: Vec<u8> = (0..n).map(|_| next() as u8).collect();
                    let _ = (det.detect)(&f, &d);
                    let keep = (next() as usize) % (det.sample.len() + 1);
                    d.splice(0..keep.min(d.len()), det.sample[..keep].iter().copied());
                    let _ = (det.detect)(&f, &d);
                }
            }
        }
    }

    /// Issue 24: the RLPx rule's negative samples — a TLS ClientHello on
    /// Ethereum's port, and the auth message on another port or from the
    /// server — are refused.
    #[test]
    fn ethereum_rlpx_needs_its_marker_its_size_and_its_port() {
        let on = flow(Transport::Tcp, 30303);
        assert_eq!(basic::ethereum_rlpx(&on, ETHEREUM_RLPX_SAMPLE), Match::Yes);
        let hello = crate::craft::client_hello_record("node.example", 400);
        assert_eq!(basic::ethereum_rlpx(&on, &hello), Match::No);
        assert_eq!(
            basic::ethereum_rlpx(&on, &ETHEREUM_RLPX_SAMPLE[..300]),
            Match::No
        );
        let off = flow(Transport::Tcp, 443);
        assert_eq!(basic::ethereum_rlpx(&off, ETHEREUM_RLPX_SAMPLE), Match::No);
    }

    /// Issue 24: DNSCrypt on any port as nDPI knows it — the resolver's
    /// magic opening an answer of 64 bytes or more, or the certificate
    /// query (`2.dnscrypt-cert…`, any case) — and nothing shorter.
    #[test]
    fn dnscrypt_by_its_resolver_magic_or_its_certificate_query() {
        let f = flow(Transport::Udp, 443);
        assert_eq!(apps::dnscrypt(&f, DNSCRYPT_SAMPLE), Match::Yes);
        assert_eq!(apps::dnscrypt(&f, &DNSCRYPT_SAMPLE[..63]), Match::No);
        let ping = b"\x7fG\x01\x00\x00\x01\x00\x00\x00\x00\x00\x01\x012\rDNSCrypt-cert";
        assert_eq!(apps::dnscrypt(&f, ping), Match::Yes);
        assert_eq!(apps::dnscrypt(&f, &ping[..23]), Match::No);
        let mut other = *ping;
        other[13] = b'3';
        assert_eq!(apps::dnscrypt(&f, &other), Match::No);
    }

    /// Issue 24 (nDPI's dtls_mid_sessions capture): a DTLS record of any
    /// version nDPI accepts, OpenSSL's pre-standard 0x0100 included, met
    /// mid-session; an empty record, a 13-byte header alone or another
    /// version is not DTLS.
    #[test]
    fn dtls_records_of_every_version_ndpi_accepts() {
        let f = flow(Transport::Udp, 443);
        for v in [[0xfe, 0xff], [0xfe, 0xfd], [0xfe, 0xfc], [0x01, 0x00]] {
            let mut r = vec![0x17, v[0], v[1], 0, 1, 0, 0, 0, 0, 0, 9, 0, 4, 1, 2, 3, 4];
            assert_eq!(basic::dtls(&f, &r), Match::Yes, "{v:?}");
            r[12] = 0;
            assert_eq!(basic::dtls(&f, &r), Match::No, "empty {v:?}");
            assert_eq!(basic::dtls(&f, &r[..13]), Match::No);
        }
        let r = [0x17, 0x03, 0x03, 0, 1, 0, 0, 0, 0, 0, 9, 0, 4, 1, 2, 3, 4];
        assert_eq!(basic::dtls(&f, &r), Match::No);
    }

    /// Issue 24 (nDPI's zug capture): ZUG's opening is the constant
    /// "\0zUG" then 0x10, not a length: a 410-byte "\x01\x9aUG" answer is
    /// not ZUG.
    #[test]
    fn zug_needs_its_constant_opening() {
        let f = flow(Transport::Udp, 19000);
        assert_eq!(apps::zug(&f, b"\0zUG\x10\xae\xa0\x41\0\x6e"), Match::Yes);
        assert_eq!(apps::zug(&f, b"\0zUG\x11\xae"), Match::No);
        assert_eq!(apps::zug(&f, b"\0zUG"), Match::No);
        let mut long = vec![0x01, 0x9a, b'U', b'G', 0x10];
        long.resize(410, 0);
        assert_eq!(apps::zug(&f, &long), Match::No);
    }

    /// Issue 24 (nDPI's iqiyi capture): iQIYI over UDP is a datagram of
    /// 121 to 299 bytes that names PPStream; outside those sizes it is not.
    #[test]
    fn iqiyi_udp_names_ppstream_within_ndpis_sizes() {
        let f = flow(Transport::Udp, 16600);
        assert_eq!(apps::iqiyi_udp(&f, IQIYI_SAMPLE), Match::Yes);
        let mut big = IQIYI_SAMPLE.to_vec();
        big.resize(300, 0);
        assert_eq!(apps::iqiyi_udp(&f, &big), Match::No);
        assert_eq!(apps::iqiyi_udp(&f, &IQIYI_SAMPLE[..120]), Match::No);
        assert_eq!(apps::iqiyi_udp(&f, &[0u8; 135]), Match::No);
    }

    /// Issue 24: TDS as nDPI checks it — an RPC with a connection reset
    /// (status 0x09) is TDS; a window other than 0, or a length that is not
    /// the payload's, is not.
    #[test]
    fn tds_follows_ndpis_type_status_length_and_window() {
        let f = flow(Transport::Tcp, 1433);
        let rpc = b"\x03\x09\x00\x0c\x00\x00\x01\x00abcd";
        assert_eq!(basic::mssql(&f, rpc), Match::Yes);
        let mut windowed = *rpc;
        windowed[7] = 1;
        assert_eq!(basic::mssql(&f, &windowed), Match::No);
        assert_eq!(basic::mssql(&f, &rpc[..11]), Match::No);
        assert_eq!(basic::mssql(&f, b"GET / HTTP/1.1\r\n\r\n"), Match::No);
        // A TPKT connection request (RDP's, S7's) has the shape of a type-3
        // packet with id 0, which nDPI does not take for TDS.
        assert_eq!(
            basic::mssql(
                &f,
                b"\x03\x00\x00\x13\x0e\xe0\x00\x00\x00\x00\x00\x01\x00\x08\x00\x03\x00\x00\x00"
            ),
            Match::No
        );
    }

    /// Issue 24: Dropbox's LAN sync as nDPI checks it — the discovery
    /// broadcast (17500 to 17500) by its host id, the sync bus (another port
    /// to 17500) by its channel name; not the other way round, nor to
    /// another port.
    #[test]
    fn dropbox_lan_sync_by_its_ports_and_messages() {
        let broadcast = crate::craft::flow_ctx(17, 17500, 17500);
        let bus = crate::craft::flow_ctx(17, 50311, 17500);
        let hello = b"{\"host_int\": 274363570036934823360341409051841573579, \"version\": [2, 0]}";
        let sync = b"C\x035\x01oRMrD\\Ar\x08Bus17Cmd\x112\xff{\"messageType\":\"UPDATE\"}";
        assert_eq!(basic::dropbox(&broadcast, hello), Match::Yes);
        assert_eq!(basic::dropbox(&bus, sync), Match::Yes);
        assert_eq!(basic::dropbox(&bus, hello), Match::No);
        assert_eq!(basic::dropbox(&broadcast, sync), Match::No);
        let elsewhere = crate::craft::flow_ctx(17, 17500, 50311);
        assert_eq!(basic::dropbox(&elsewhere, sync), Match::No);
    }

    #[test]
    fn port_limited_detectors_need_their_port() {
        let r = resolved();
        let off = flow(Transport::Tcp, 4321);
        let bgp = TCP.iter().position(|d| d.name == "BGP").unwrap();
        assert_eq!(first_match(TCP, &r.tcp, &off, TCP[bgp].sample, true), None);
    }

    #[test]
    fn variants_and_services_of_a_row() {
        let r = resolved();
        // On port 102 a connection request is left to the first data TPDU,
        // whose protocol id tells S7, S7 Plus and MMS apart.
        let rdp = TCP.iter().find(|d| d.name == "RDP").unwrap().sample;
        assert_eq!(
            first_match(TCP, &r.tcp, &flow(Transport::Tcp, 102), rdp, true).map(|h| h.need),
            Some(u8::MAX),
            "read past (Match::Wait)"
        );
        for (id, name) in [
            (0x32, "S7Comm"),
            (0x72, "S7CommPlus"),
            (0x0d, "ISO9506-1-MMS"),
        ] {
            // A data TPDU with an 11-byte header after the protocol id (an
            // S7 job's, for S7).
            let mut dt = [0u8; 19];
            dt[..9].copy_from_slice(&[3, 0, 0, 19, 2, 0xf0, 0x80, id, 1]);
            let got = first_match(TCP, &r.tcp, &flow(Transport::Tcp, 102), &dt, true);
            assert_eq!(got.unwrap().master.name(), name);
        }
        // A browser announcement from the flow's own source (0.0.0.0 here).
        let mut smb = NBDS_SAMPLE.to_vec();
        smb[4..8].fill(0);
        smb.extend_from_slice(b"\xffSMB");
        let rest = u16::try_from(smb.len() - 14).unwrap().to_be_bytes();
        smb[10..12].copy_from_slice(&rest);
        let app = first_match(UDP, &r.udp, &flow(Transport::Udp, 138), &smb, true)
            .unwrap()
            .app;
        assert_eq!(app.name(), "SMBv1");
    }

    #[test]
    fn every_alternate_and_ip_protocol_is_resolved_to_its_own_name() {
        let r = resolved();
        assert_eq!(r.alt.len(), ALT_NAMES.len());
        for (i, n) in ALT_NAMES.iter().enumerate() {
            assert_eq!(r.alt[i].name(), *n);
        }
        assert_eq!(alt(Alt::Umas).name(), "UMAS");
        for (number, name) in infra::IP_PROTOCOLS {
            assert_eq!(ip_protocol(number).name(), name);
        }
        assert!(ip_protocol(255).is_unknown());
    }
}
