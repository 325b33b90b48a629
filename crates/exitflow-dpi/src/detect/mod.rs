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
use std::sync::OnceLock;

use crate::FlowCtx;
use crate::registry::{ProtoId, registry};

mod apps;
mod ics;
pub mod infra;
pub(crate) mod stun;
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

/// What a detector says of a payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Match {
    /// Not this protocol.
    No,
    /// The row's protocol.
    Yes,
    /// Another protocol than the row's (a variant on a port, say).
    As(&'static str),
    /// The row's protocol, with this application (service) name.
    WithApp(&'static str),
    /// Evidence for the row's protocol: it is named once this many packets
    /// of the flow (either direction, any row of the same protocol) said so.
    /// For protocols whose single packet is too weak a sign (RTP) or that
    /// nDPI confirms on a request and its answer.
    Count(u8),
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

fn yes(b: bool) -> Match {
    if b { Match::Yes } else { Match::No }
}

fn either_port(flow: &FlowCtx, port: u16) -> bool {
    flow.src_port == port || flow.dst_port == port
}

fn be16(d: &[u8], at: usize) -> Option<usize> {
    d.get(at..at + 2)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
}

fn be32(d: &[u8], at: usize) -> Option<usize> {
    d.get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

fn le32(d: &[u8], at: usize) -> Option<u32> {
    d.get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// A BER element with tag `tag` at the start of `d`: where its contents
/// start and how long they are (definite lengths up to four bytes).
fn ber_element(d: &[u8], tag: u8) -> Option<(usize, usize)> {
    if *d.first()? != tag {
        return None;
    }
    let first = *d.get(1)?;
    match first {
        0..=0x7f => Some((2, usize::from(first))),
        0x81 => Some((3, usize::from(*d.get(2)?))),
        0x82 => Some((4, be16(d, 2)?)),
        0x83 => Some((5, usize::from(*d.get(2)?) << 16 | be16(d, 3)?)),
        0x84 => Some((6, be32(d, 2)?)),
        _ => None,
    }
}

fn starts_ci(d: &[u8], p: &[u8]) -> bool {
    d.len() >= p.len() && d[..p.len()].eq_ignore_ascii_case(p)
}

/// Kerberos message tags (AS-REQ, AS-REP, TGS-REQ, TGS-REP, KRB-ERROR).
const KRB_TAGS: [u8; 5] = [0x6a, 0x6b, 0x6c, 0x6d, 0x7e];
/// DHCP's magic cookie (RFC 2131).
const DHCP_COOKIE: [u8; 4] = [0x63, 0x82, 0x53, 0x63];
/// Telnet IAC followed by WILL/WONT/DO/DONT.
const TELNET_IAC: u8 = 0xff;

fn ssh(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(b"SSH-"))
}
fn bittorrent_tcp(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.len() >= 20 && d[0] == 19 && &d[1..20] == b"BitTorrent protocol")
}
fn kerberos_tcp(_: &FlowCtx, d: &[u8]) -> Match {
    // A 4-byte record length, then an ASN.1 application tag.
    yes(d.len() > 4 && KRB_TAGS.contains(&d[4]) && be32(d, 0) == Some(d.len() - 4))
}
fn mssql(_: &FlowCtx, d: &[u8]) -> Match {
    // TDS: type 1-0x12, status 0/1, total length.
    yes(d.len() >= 8 && matches!(d[0], 0x01..=0x12) && d[1] <= 1 && be16(d, 2) == Some(d.len()))
}
fn mongodb(_: &FlowCtx, d: &[u8]) -> Match {
    // Little-endian message length, then an opcode (OP_REPLY, OP_MSG family).
    let (Some(len), Some(op)) = (le32(d, 0), le32(d, 12)) else {
        return Match::No;
    };
    yes(len as usize == d.len() && matches!(op, 1 | 2001..=2013))
}
fn dnp3(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.len() >= 10 && d[0] == 0x05 && d[1] == 0x64)
}
fn iec104(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.len() >= 6 && d[0] == 0x68 && usize::from(d[1]) + 2 <= d.len())
}
fn whatsapp(_: &FlowCtx, d: &[u8]) -> Match {
    // "WA" and a version, or "ED" (the Noise handshake).
    yes(d.len() >= 4 && (d.starts_with(b"WA") && d[2] <= 9 || d.starts_with(b"ED\x00\x01")))
}
fn fix(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(b"8=FIX"))
}
fn bitcoin(_: &FlowCtx, d: &[u8]) -> Match {
    // Main and test network magics.
    yes(d.starts_with(&[0xf9, 0xbe, 0xb4, 0xd9]) || d.starts_with(&[0x0b, 0x11, 0x09, 0x07]))
}
fn bgp(_: &FlowCtx, d: &[u8]) -> Match {
    // A 16-byte all-ones marker.
    yes(d.len() >= 19 && d[..16].iter().all(|b| *b == 0xff))
}
fn mqtt(_: &FlowCtx, d: &[u8]) -> Match {
    // CONNECT with the protocol name within its first bytes.
    yes(d.len() >= 10
        && d[0] == 0x10
        && d.windows(4).take(12).any(|w| w == b"MQTT" || w == b"MQIs"))
}
fn smtp_client(_: &FlowCtx, d: &[u8]) -> Match {
    yes(starts_ci(d, b"EHLO ") || starts_ci(d, b"HELO "))
}
fn xmpp(_: &FlowCtx, d: &[u8]) -> Match {
    // An XML stream opening (not any XML document: SOAP is also "<?xml").
    if d.first() != Some(&b'<') {
        return Match::No;
    }
    let head = &d[..d.len().min(200)];
    yes(head.windows(14).any(|w| w == b"<stream:stream")
        || (d.starts_with(b"<?xml") && head.windows(6).any(|w| w == b"jabber")))
}
fn irc_client(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(b"NICK ") || d.starts_with(b"USER ") || d.starts_with(b"CAP LS"))
}
fn whois(_: &FlowCtx, d: &[u8]) -> Match {
    // One short printable query line.
    yes(d.len() < 256
        && d.ends_with(b"\r\n")
        && d.iter()
            .all(|b| b.is_ascii_graphic() || matches!(b, b' ' | b'\r' | b'\n')))
}
fn tpkt_x224_connect(d: &[u8]) -> bool {
    // TPKT version 3, length, then an X.224 connection request.
    d.len() >= 11 && d[0] == 3 && d[1] == 0 && be16(d, 2) == Some(d.len()) && d[5] == 0xe0
}
fn rdp(flow: &FlowCtx, d: &[u8]) -> Match {
    match tpkt_x224_connect(d) {
        // On port 102 the same framing carries S7, S7 Plus and MMS: the
        // first data TPDU tells them apart (ics::iso_on_tcp_data).
        true if either_port(flow, 102) => Match::No,
        true => Match::Yes,
        false => Match::No,
    }
}
fn socks(_: &FlowCtx, d: &[u8]) -> Match {
    // SOCKS 5 greeting (methods count) or SOCKS 4 CONNECT/BIND.
    yes(d.len() >= 3
        && ((d[0] == 5 && usize::from(d[1]) + 2 == d.len())
            || (d[0] == 4 && matches!(d[1], 1 | 2))))
}
fn openvpn_tcp(_: &FlowCtx, d: &[u8]) -> Match {
    // Length, then a hard-reset opcode (v1 client, v2 client, v3 client).
    yes(d.len() >= 16
        && be16(d, 0).map(|l| l + 2) == Some(d.len())
        && matches!(d[2] >> 3, 1 | 7 | 10))
}
fn telnet(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.len() >= 3 && d[0] == TELNET_IAC && matches!(d[1], 0xfb..=0xfe))
}
fn banner_220(flow: &FlowCtx, d: &[u8]) -> Match {
    // "220 " greets both FTP and SMTP clients: the text or the port tells.
    if !(d.starts_with(b"220") && d.get(3).is_some_and(|c| *c == b' ' || *c == b'-')) {
        return Match::No;
    }
    let text = &d[..d.len().min(200)];
    let has = |w: &[u8]| text.windows(w.len()).any(|x| x.eq_ignore_ascii_case(w));
    if either_port(flow, 21) || has(b"FTP") {
        Match::Yes
    } else if has(b"SMTP") || has(b"mail") || either_port(flow, 25) || either_port(flow, 587) {
        Match::As("SMTP")
    } else {
        Match::No
    }
}
fn pop3(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(b"+OK"))
}
fn vnc(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(b"RFB 00"))
}
fn irc_server(_: &FlowCtx, d: &[u8]) -> Match {
    // A prefixed server line: the welcome (001) or a notice.
    yes(d.starts_with(b":")
        && d.windows(5)
            .take(80)
            .any(|w| w == b" 001 " || w == b"NOTIC"))
}
fn imap(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(b"* OK"))
}

fn netbios_session_smb(_: &FlowCtx, d: &[u8]) -> Match {
    // A NetBIOS session message (type 0, 17-bit length) carrying SMB: nDPI
    // names it NetBIOS with the SMB version as the application.
    if d.len() < 8
        || d[0] != 0
        || (usize::from(d[1] & 1) << 16 | be16(d, 2).unwrap_or(0)) + 4 < d.len()
    {
        return Match::No;
    }
    match &d[4..8] {
        b"\xffSMB" => Match::WithApp("SMBv1"),
        b"\xfeSMB" | b"\xfdSMB" => Match::WithApp("SMBv23"),
        _ => Match::No,
    }
}
fn dtls(_: &FlowCtx, d: &[u8]) -> Match {
    // A DTLS 1.0/1.2 record whose length fits the datagram.
    yes(stun::is_dtls(d) && be16(d, 11).is_some_and(|l| l + 13 <= d.len()))
}
fn ssdp(flow: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(b"M-SEARCH ")
        || d.starts_with(b"NOTIFY * HTTP/1.1")
        || (either_port(flow, 1900) && d.starts_with(b"HTTP/1.1 200")))
}
fn dhcp(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.len() >= 240 && d[236..240] == DHCP_COOKIE)
}
fn dhcpv6(_: &FlowCtx, d: &[u8]) -> Match {
    // Message types 1 (SOLICIT) to 13 (RELAY-REPL).
    yes(d.first().is_some_and(|t| (1..=13).contains(t)))
}
fn ntp(_: &FlowCtx, d: &[u8]) -> Match {
    // Version 1-4 in the first byte.
    yes(d.len() >= 48 && (1..=4).contains(&((d[0] >> 3) & 7)))
}
fn netbios_ns(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.len() >= 12)
}
fn netbios_dgm(_: &FlowCtx, d: &[u8]) -> Match {
    // Datagram types 0x10-0x16; one carrying SMB (browser announcements) is SMBv1.
    if !(d.len() >= 14 && (0x10..=0x16).contains(&d[0])) {
        return Match::No;
    }
    if d.windows(4).any(|w| w == b"\xffSMB") {
        Match::WithApp("SMBv1")
    } else {
        Match::Yes
    }
}
fn kerberos_udp(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.first().is_some_and(|t| KRB_TAGS.contains(t)))
}
fn bittorrent_dht(_: &FlowCtx, d: &[u8]) -> Match {
    // A bencoded dictionary with a message type or an announce.
    yes(d.starts_with(b"d1:")
        && (d.windows(3).any(|w| w == b"1:y") || d.windows(4).any(|w| w == b"1:ad")))
}
fn dropbox(_: &FlowCtx, d: &[u8]) -> Match {
    // LAN sync discovery: JSON with a host id.
    yes(d.starts_with(b"{") && d.windows(10).any(|w| w == b"\"host_int\""))
}
fn sip(_: &FlowCtx, d: &[u8]) -> Match {
    const METHODS: [&[u8]; 7] = [
        b"INVITE sip:",
        b"REGISTER sip:",
        b"OPTIONS sip:",
        b"BYE sip:",
        b"ACK sip:",
        b"NOTIFY sip:",
        b"SUBSCRIBE sip:",
    ];
    yes(d.starts_with(b"SIP/2.0 ") || METHODS.iter().any(|m| d.starts_with(m)))
}
fn wireguard(_: &FlowCtx, d: &[u8]) -> Match {
    // Message type 1-4, three reserved zero bytes, fixed sizes for 1-3.
    yes(d.len() >= 32
        && d[1..4] == [0, 0, 0]
        && matches!((d[0], d.len()), (1, 148) | (2, 92) | (3, 64))
        || (d.len() >= 32 && d[..4] == [4, 0, 0, 0] && d.len().is_multiple_of(16)))
}
fn spotify(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(b"SpotUdp"))
}
fn eaq(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.len() == 16)
}
fn ethereum(_: &FlowCtx, d: &[u8]) -> Match {
    // Node discovery v4: hash, signature, then a packet type 1-6.
    yes(d.len() >= 98 && (1..=6).contains(&d[97]))
}

use Dir::{Client, Either, Server};
use Transport::{Tcp, Udp};

/// TCP detectors, in dispatch order.
pub static TCP: &[Detector] = &[
    row("SSH", Tcp, &[], Either, ssh, b"SSH-2.0-OpenSSH_9.6\r\n"),
    row(
        "BitTorrent",
        Tcp,
        &[],
        Either,
        bittorrent_tcp,
        b"\x13BitTorrent protocol\0\0\0\0\0\0\0\0",
    ),
    row(
        "Kerberos",
        Tcp,
        &[88],
        Either,
        kerberos_tcp,
        b"\0\0\0\x04\x6a\x02\x01\x05",
    ),
    row(
        "MsSQL-TDS",
        Tcp,
        &[1433],
        Either,
        mssql,
        b"\x12\x01\x00\x0a\x00\x00\x00\x00\x00\x00",
    ),
    row(
        "MongoDB",
        Tcp,
        &[27017],
        Either,
        mongodb,
        b"\x10\0\0\0\x01\0\0\0\0\0\0\0\xdd\x07\0\0",
    ),
    row(
        "DNP3",
        Tcp,
        &[20000],
        Either,
        dnp3,
        b"\x05\x64\x05\xc9\x01\x00\x00\x04\xe9\x21",
    ),
    row(
        "IEC60870",
        Tcp,
        &[2404],
        Either,
        iec104,
        b"\x68\x04\x07\x00\x00\x00",
    ),
    row(
        "WhatsApp",
        Tcp,
        &[],
        Either,
        whatsapp,
        b"WA\x05\x02\x00\x00",
    ),
    row("FIX", Tcp, &[], Either, fix, b"8=FIX.4.2\x019=65\x01"),
    row(
        "BITCOIN",
        Tcp,
        &[],
        Either,
        bitcoin,
        b"\xf9\xbe\xb4\xd9version\0\0\0\0\0",
    ),
    row(
        "BGP",
        Tcp,
        &[179],
        Either,
        bgp,
        b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x13\x04",
    ),
    row(
        "MQTT",
        Tcp,
        &[],
        Either,
        mqtt,
        b"\x10\x10\x00\x04MQTT\x04\x02\x00\x3c",
    ),
    row(
        "SMTP",
        Tcp,
        &[],
        Client,
        smtp_client,
        b"EHLO client.example\r\n",
    ),
    row(
        "Jabber",
        Tcp,
        &[],
        Client,
        xmpp,
        b"<?xml version='1.0'?><stream:stream to='example.org'>",
    ),
    row(
        "IRC",
        Tcp,
        &[],
        Client,
        irc_client,
        b"NICK alice\r\nUSER alice 0 * :Alice\r\n",
    ),
    row("Whois-DAS", Tcp, &[43], Client, whois, b"example.org\r\n"),
    row(
        "RDP",
        Tcp,
        &[],
        Client,
        rdp,
        b"\x03\x00\x00\x0b\x06\xe0\x00\x00\x00\x00\x00",
    ),
    row("SOCKS", Tcp, &[1080], Client, socks, b"\x05\x01\x00"),
    row(
        "OpenVPN",
        Tcp,
        &[],
        Client,
        openvpn_tcp,
        b"\x00\x0e\x38\x01\x02\x03\x04\x05\x06\x07\x08\x00\x00\x00\x00\x00",
    ),
    row(
        "FTP_CONTROL",
        Tcp,
        &[],
        Server,
        banner_220,
        b"220 ProFTPD Server ready.\r\n",
    ),
    row("POP3", Tcp, &[], Server, pop3, b"+OK POP3 server ready\r\n"),
    row("VNC", Tcp, &[], Server, vnc, b"RFB 003.008\n"),
    row(
        "IRC",
        Tcp,
        &[],
        Server,
        irc_server,
        b":irc.example.net 001 alice :Welcome\r\n",
    ),
    row("IMAP", Tcp, &[], Server, imap, b"* OK IMAP4rev1 ready\r\n"),
    row(
        "Telnet",
        Tcp,
        &[],
        Either,
        telnet,
        b"\xff\xfd\x18\xff\xfd\x20",
    ),
    row(
        "NetBIOS",
        Tcp,
        &[],
        Either,
        netbios_session_smb,
        b"\0\0\0\x08\xfeSMB\x40\0\x01\0",
    ),
    row(
        "Gnutella",
        Tcp,
        &[],
        Either,
        apps::gnutella_tcp,
        b"GNUTELLA CONNECT/0.6\r\n",
    ),
    row(
        "AliCloud",
        Tcp,
        &[],
        Either,
        apps::alicloud,
        b"\xce\xfa\xbe\xba\x80\0\0\0",
    ),
    row(
        "Elasticsearch",
        Tcp,
        &[],
        Either,
        apps::elasticsearch,
        ELASTIC_SAMPLE,
    ),
    row(
        "Gearman",
        Tcp,
        &[],
        Either,
        apps::gearman,
        b"\0REQ\0\0\0\x01\0\0\0\x02wc",
    ),
    row(
        "HTTP2",
        Tcp,
        &[],
        Client,
        apps::http2,
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    ),
    row("PPTP", Tcp, &[], Either, apps::pptp, PPTP_SAMPLE),
    row(
        "OpenFlow",
        Tcp,
        &[6653, 6633],
        Either,
        apps::openflow,
        b"\x06\x00\x00\x10\0\0\0\x01\0\x01\0\x08\0\0\0\x40",
    ),
    row(
        "Usenet",
        Tcp,
        &[],
        Client,
        apps::nntp_client,
        b"MODE READER\r\n",
    ),
    row(
        "Usenet",
        Tcp,
        &[],
        Server,
        apps::nntp_server,
        b"200 news.example.org NNTP server ready\r\n",
    ),
    row(
        "BeckhoffADS",
        Tcp,
        &[],
        Either,
        ics::beckhoff_ads,
        ADS_SAMPLE,
    ),
    row(
        "HiSLIP",
        Tcp,
        &[],
        Either,
        ics::hislip,
        b"HS\0\0\x01\0RS\0\0\0\0\0\0\0\x07hislip0",
    ),
    row(
        "S7Comm",
        Tcp,
        &[102],
        Either,
        ics::iso_on_tcp_data,
        b"\x03\0\0\x0b\x02\xf0\x80\x32\x01\0\0",
    ),
    row(
        "FINS",
        Tcp,
        &[],
        Either,
        ics::fins_tcp,
        b"FINS\0\0\0\x0c\0\0\0\0\0\0\0\0\0\0\0\0",
    ),
    row(
        "HART-IP",
        Tcp,
        &[5094],
        Either,
        ics::hart_ip,
        b"\x01\0\0\0\0\x02\0\x0d\x01\0\0\x75\x30",
    ),
    row("ATG", Tcp, &[], Client, ics::atg, b"\x01I20100\r\n"),
    row(
        "ATG",
        Tcp,
        &[10001],
        Server,
        ics::atg_reply,
        b"\nI20100\n08/19/2024",
    ),
    row("RSH", Tcp, &[514], Client, apps::rsh, b"1022\0"),
    row(
        "Modbus",
        Tcp,
        &[502],
        Either,
        ics::modbus,
        b"\0\x01\0\0\0\x06\x01\x03\0\0\0\x0a",
    ),
    row(
        "IEC62056",
        Tcp,
        &[],
        Either,
        ics::dlms_hdlc,
        DLMS_HDLC_SAMPLE,
    ),
    row(
        "IEC62056",
        Tcp,
        &[4059],
        Either,
        ics::dlms_wrapper,
        b"\0\x01\0\x10\0\x01\0\x02\x60\x1d",
    ),
    row("Xiaomi", Tcp, &[], Either, apps::xiaomi, XIAOMI_SAMPLE),
    row(
        "Spotify",
        Tcp,
        &[],
        Client,
        apps::spotify_tcp,
        SPOTIFY_SAMPLE,
    ),
    row("TRDP", Tcp, &[17225], Either, ics::trdp, TRDP_SAMPLE),
    row("ANSI_C1222", Tcp, &[1153], Either, ics::c1222, C1222_SAMPLE),
    row(
        "LDAP",
        Tcp,
        &[],
        Either,
        infra::ldap,
        b"\x30\x0c\x02\x01\x01\x60\x07\x02\x01\x03\x04\0\x80\0",
    ),
    row("RSYNC", Tcp, &[], Either, infra::rsync, b"@RSYNCD: 31.0\n"),
    row(
        "RESP",
        Tcp,
        &[],
        Either,
        infra::resp,
        b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
    ),
    row(
        "Cassandra",
        Tcp,
        &[],
        Either,
        infra::cassandra,
        b"\x04\0\0\x01\x05\0\0\0\0",
    ),
    row(
        "Kafka",
        Tcp,
        &[],
        Client,
        infra::kafka,
        b"\0\0\0\x10\0\x12\0\x03\0\0\0\x01\0\x04kcat\0\0",
    ),
    row(
        "FastCGI",
        Tcp,
        &[9000],
        Either,
        infra::fastcgi,
        b"\x01\x01\0\x01\0\x08\0\0\0\x01\0\0\0\0\0\0",
    ),
    row(
        "AJP",
        Tcp,
        &[],
        Either,
        infra::ajp,
        b"\x12\x34\0\x02\x02\x02",
    ),
    row(
        "HAProxy",
        Tcp,
        &[],
        Client,
        infra::haproxy,
        b"PROXY TCP4 192.0.2.1 192.0.2.2 56324 443\r\n",
    ),
    row(
        "STOMP",
        Tcp,
        &[],
        Either,
        infra::stomp,
        b"CONNECT\naccept-version:1.2\n\n\0",
    ),
    row(
        "Diameter",
        Tcp,
        &[],
        Either,
        infra::diameter,
        DIAMETER_SAMPLE,
    ),
    row(
        "SMPP",
        Tcp,
        &[],
        Either,
        infra::smpp,
        b"\0\0\0\x10\0\0\0\x02\0\0\0\0\0\0\0\x01",
    ),
    row(
        "DICOM",
        Tcp,
        &[],
        Either,
        infra::dicom,
        b"\x01\0\0\0\0\x04\0\x01\0\0",
    ),
    row(
        "ZeroMQ",
        Tcp,
        &[],
        Either,
        infra::zeromq,
        b"\xff\0\0\0\0\0\0\0\x01\x7f\x03\x00",
    ),
    row(
        "Monero",
        Tcp,
        &[],
        Either,
        infra::monero,
        b"\x01\x21\x01\x01\x01\x01\x01\x01\xe2\0",
    ),
    row("JRMI", Tcp, &[], Client, infra::jrmi, b"JRMI\0\x02\x4b"),
    row(
        "Corba",
        Tcp,
        &[],
        Either,
        infra::corba,
        b"GIOP\x01\x02\x01\0\0\0\0\x10",
    ),
    row(
        "Megaco",
        Tcp,
        &[],
        Either,
        infra::megaco,
        b"MEGACO/1 [192.0.2.1]:2944\r\n",
    ),
    row("TuyaLP", Tcp, &[], Either, infra::tuya, TUYA_SAMPLE),
    row("Ceph", Tcp, &[], Either, infra::ceph, b"ceph v027\0\0\0\0"),
    row(
        "Git",
        Tcp,
        &[],
        Client,
        infra::git,
        b"0032git-upload-pack /project.git\0host=example.org\0",
    ),
    row(
        "Zabbix",
        Tcp,
        &[],
        Either,
        infra::zabbix,
        b"ZBXD\x01\x05\0\0\0\0\0\0\0agent",
    ),
    row(
        "CHECKMK",
        Tcp,
        &[],
        Server,
        infra::checkmk,
        b"<<<check_mk>>>\nVersion: 2.2\n",
    ),
    row("Oracle", Tcp, &[], Client, infra::oracle_tns, ORACLE_SAMPLE),
    row(
        "OPC-UA",
        Tcp,
        &[],
        Either,
        infra::opc_ua,
        b"HELF\x0c\0\0\0\0\0\0\0",
    ),
    row(
        "EthernetIP",
        Tcp,
        &[44818],
        Either,
        infra::ethernet_ip,
        ENIP_SAMPLE,
    ),
    row(
        "HL7",
        Tcp,
        &[],
        Either,
        infra::hl7,
        b"\x0bMSH|^~\\&|APP|FAC|",
    ),
    row(
        "Kismet",
        Tcp,
        &[],
        Either,
        infra::kismet,
        b"*KISMET: 0.0.0 1 \x01Kismet\x01",
    ),
    row(
        "Munin",
        Tcp,
        &[],
        Server,
        infra::munin,
        b"# munin node at host.example.org\n",
    ),
    row(
        "OpenWire",
        Tcp,
        &[],
        Either,
        infra::openwire,
        b"\0\0\x01\x06\x01ActiveMQ\0\0\0\x0c",
    ),
    row("TINC", Tcp, &[], Either, infra::tinc, b"0 node1 17.7\n"),
    row(
        "Memcached",
        Tcp,
        &[],
        Either,
        infra::memcached,
        b"get key1\r\n",
    ),
    row(
        "LDP",
        Tcp,
        &[646],
        Either,
        infra::ldp,
        b"\0\x01\0\x06\x0a\0\0\x01\0\0",
    ),
    row(
        "Service_Location_Protocol",
        Tcp,
        &[427],
        Either,
        infra::slp,
        SLP_SAMPLE,
    ),
    row(
        "eDonkey",
        Tcp,
        &[],
        Either,
        apps::edonkey,
        b"\xe3\x05\0\0\0\x01\x02\x03\x04\x05",
    ),
    row(
        "IceCast",
        Tcp,
        &[],
        Client,
        apps::icecast_source,
        b"SOURCE /live ICE/1.0\r\nice-name: radio\r\n\r\n",
    ),
    row("GuildWars2", Tcp, &[], Either, apps::guildwars2, GW2_SAMPLE),
    row(
        "AFP",
        Tcp,
        &[],
        Either,
        apps::afp,
        b"\0\x04\0\x01\0\0\0\0\0\0\0\x06\0\0\0\0\x01\x04\0\0\x04\0",
    ),
    row(
        "HCL_Notes",
        Tcp,
        &[],
        Client,
        apps::hcl_notes,
        b"\x4a\0\0\0\0\0\0\0\x02\0\0\x40\x02\x0f\0\0\0\0",
    ),
    row(
        "HP_VIRTGRP",
        Tcp,
        &[],
        Client,
        apps::hp_virtgrp,
        b"\x16\0\x08\0\x01\x02\x03\x04",
    ),
    row(
        "NestLogSink",
        Tcp,
        &[11095],
        Either,
        apps::nest_log_sink,
        b"\x01\x01\x10\x13\0\0\0\0",
    ),
    row("SOMEIP", Tcp, &[], Either, apps::someip, SOMEIP_SAMPLE),
    row(
        "Thrift",
        Tcp,
        &[],
        Either,
        apps::thrift,
        b"\x80\x01\0\x01\0\0\0\x04ping\0\0\0\0",
    ),
    row("MELSEC", Tcp, &[], Either, ics::melsec, MELSEC_SAMPLE),
    row("IEEE-C37118", Tcp, &[], Either, ics::c37118, C37118_SAMPLE),
    row(
        "TiVoConnect",
        Tcp,
        &[],
        Either,
        apps::tivoconnect,
        b"tivoconnect=1\nswversion=1\n",
    ),
    row(
        "SOAP",
        Tcp,
        &[],
        Either,
        apps::soap,
        b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><ZMessage>",
    ),
    row(
        "JSON-RPC",
        Tcp,
        &[],
        Either,
        apps::json_rpc,
        b"{\"jsonrpc\": \"2.0\", \"method\": \"echo\", \"id\": 1}",
    ),
    row("AMQP", Tcp, &[], Either, apps::amqp, b"AMQP\0\0\x09\x01"),
    row(
        "DRDA",
        Tcp,
        &[],
        Either,
        apps::drda,
        b"\0\x0a\xd0\x41\0\x01\0\x04\x10\x41",
    ),
    row(
        "Nats",
        Tcp,
        &[],
        Either,
        apps::nats,
        b"INFO {\"server_id\":\"x\"}\r\n",
    ),
    row("Nano", Tcp, &[], Either, apps::nano, NANO_SAMPLE),
    row(
        "AVAST",
        Tcp,
        &[],
        Either,
        apps::avast,
        b"NOSA\0\x08\x01\x02",
    ),
    row(
        "UltraSurf",
        Tcp,
        &[],
        Either,
        apps::ultrasurf,
        b"\xcc\x1c\x30\x41\x5b\xa4\x38\x66",
    ),
    row(
        "TencentGames",
        Tcp,
        &[],
        Either,
        apps::tencent_games,
        TENCENT_SAMPLE,
    ),
    row(
        "Threema",
        Tcp,
        &[5222],
        Client,
        apps::threema,
        THREEMA_SAMPLE,
    ),
    row(
        "PathofExile",
        Tcp,
        &[],
        Client,
        apps::path_of_exile,
        POE_SAMPLE,
    ),
    row(
        "Mining",
        Tcp,
        &[],
        Either,
        apps::mining,
        b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}",
    ),
    row(
        "MySQL",
        Tcp,
        &[],
        Server,
        apps::mysql_greeting,
        MYSQL_SAMPLE,
    ),
    row(
        "PostgreSQL",
        Tcp,
        &[],
        Client,
        apps::postgres_client,
        b"\0\0\0\x08\x04\xd2\x16\x2f",
    ),
    row(
        "PostgreSQL",
        Tcp,
        &[],
        Server,
        apps::postgres_ssl_answer,
        b"S",
    ),
    row(
        "NoMachine",
        Tcp,
        &[],
        Either,
        apps::nomachine,
        b"NXSH-8.10.1\n",
    ),
    row("NFS", Tcp, &[], Client, apps::nfs_tcp, NFS_TCP_SAMPLE),
    row("H323", Tcp, &[], Either, voip::h323, H323_SAMPLE),
    row(
        "RTSP",
        Tcp,
        &[],
        Either,
        voip::rtsp,
        b"DESCRIBE rtsp://cam.example/stream RTSP/1.0\r\nCSeq: 2\r\n\r\n",
    ),
    row(
        "CiscoSkinny",
        Tcp,
        &[2000],
        Either,
        voip::skinny,
        b"\x04\0\0\0\0\0\0\0\x00\0\0\0",
    ),
    row(
        "Syslog",
        Tcp,
        &[],
        Client,
        apps::syslog,
        b"<34>Oct 11 22:14:15 host su: 'su root' failed",
    ),
];

/// UDP detectors, in dispatch order.
pub static UDP: &[Detector] = &[
    row(
        "SSDP",
        Udp,
        &[],
        Either,
        ssdp,
        b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n\r\n",
    ),
    row("DHCP", Udp, &[67, 68], Either, dhcp, DHCP_SAMPLE),
    row(
        "DHCPV6",
        Udp,
        &[546, 547],
        Either,
        dhcpv6,
        b"\x01\x12\x34\x56",
    ),
    row("NTP", Udp, &[123], Either, ntp, NTP_SAMPLE),
    row(
        "NetBIOS",
        Udp,
        &[137],
        Either,
        netbios_ns,
        b"\x82\x28\x00\x10\x00\x01\x00\x00\x00\x00\x00\x00",
    ),
    row(
        "NetBIOS",
        Udp,
        &[138],
        Either,
        netbios_dgm,
        b"\x11\x02\x00\x01\xc0\xa8\x00\x01\x00\x8a\x00\xbb\x00\x00",
    ),
    row(
        "Kerberos",
        Udp,
        &[88],
        Either,
        kerberos_udp,
        b"\x6a\x81\x90",
    ),
    row(
        "BitTorrent",
        Udp,
        &[],
        Either,
        bittorrent_dht,
        b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe",
    ),
    row(
        "Dropbox",
        Udp,
        &[17500],
        Either,
        dropbox,
        b"{\"host_int\": 1234, \"version\": [2, 0]}",
    ),
    row(
        "SIP",
        Udp,
        &[],
        Either,
        sip,
        b"OPTIONS sip:user@example.org SIP/2.0\r\n",
    ),
    row("WireGuard", Udp, &[], Either, wireguard, WIREGUARD_SAMPLE),
    row(
        "Source_Engine",
        Udp,
        &[],
        Either,
        apps::source_engine,
        b"\xff\xff\xff\xffTSource Engine Query\0",
    ),
    row(
        "Spotify",
        Udp,
        &[57621],
        Either,
        spotify,
        b"SpotUdp0\x00\x01\x00\x04",
    ),
    row("VMware", Udp, &[902], Client, apps::vmware, VMWARE_SAMPLE),
    row("UBNTAC2", Udp, &[10001], Either, ics::ubntac2, b"\x02\x06\0\x04\x03\0\x01\x31"),
    row("CPHA", Udp, &[8116], Either, ics::cpha, CPHA_SAMPLE),
    row("MerakiCloud", Udp, &[7351], Either, apps::meraki, b"\xfe\xf7\x28\x91\0\x01"),
    row("AmongUs", Udp, &[], Either, apps::among_us, b"\x08\0\x01\0\x80\xd9\x02\x03\0\x05"),
    row("Crossfire", Udp, &[], Either, apps::crossfire, CROSSFIRE_SAMPLE),
    row("TocaBoca", Udp, &[], Either, apps::tocaboca, b"}}}}}}}}\0\x01\x02\x03\x04"),
    row("SD-RTN", Udp, &[], Either, apps::sd_rtn, SDRTN_SAMPLE),
    row("SteamDatagramRelay", Udp, &[], Either, apps::steam_datagram_relay, SDR_SAMPLE),
    row("i3D", Udp, &[], Either, apps::i3d, I3D_SAMPLE),
    row("TiVoConnect", Udp, &[], Either, apps::tivoconnect, b"tivoconnect=1\nswversion=1\n"),
    row("CryNetwork", Udp, &[], Either, apps::crynet, CRYNET_SAMPLE),
    row("SOMEIP", Udp, &[], Either, apps::someip, SOMEIP_SAMPLE),
    row("Thrift", Udp, &[], Either, apps::thrift, b"\x82\x21\0\0\x01\x04ping\0\0"),
    row("MELSEC", Udp, &[], Either, ics::melsec, MELSEC_SAMPLE),
    row("IEEE-C37118", Udp, &[], Either, ics::c37118, C37118_SAMPLE),
    row("Corba", Udp, &[], Either, infra::corba, b"MIOP\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"),
    row("SNMP", Udp, &[], Either, infra::snmp, b"\x30\x1a\x02\x01\x01\x04\x06public\xa0\x0d\x02\x01\x01\x02\x01\0\x02\x01\0\x30\x02\x05\0"),
    row("TFTP", Udp, &[], Client, infra::tftp, b"\0\x01boot.img\0octet\0"),
    row("XDMCP", Udp, &[177], Either, infra::xdmcp, b"\0\x01\0\x02\0\x01\0"),
    row("COAP", Udp, &[5683, 5684], Either, infra::coap, b"\x40\x01\x12\x34\xb4test"),
    row("Memcached", Udp, &[11211], Either, infra::memcached, b"stats\r\n"),
    row("VXLAN", Udp, &[4789], Either, infra::vxlan, VXLAN_SAMPLE),
    row("Radius", Udp, &[1812, 1813, 1645, 1646, 3799], Either, infra::radius, RADIUS_SAMPLE),
    row("NetFlow", Udp, &[], Either, infra::netflow, NETFLOW_SAMPLE),
    row("sFlow", Udp, &[6343], Either, infra::sflow, SFLOW_SAMPLE),
    row("NAT-PMP", Udp, &[5351], Either, infra::nat_pmp, b"\0\0"),
    row("BJNP", Udp, &[], Either, infra::bjnp, b"BJNP\x01\x01\0\0\0\0\0\0\0\0\0\0"),
    row("KNXnet_IP", Udp, &[], Either, infra::knxnet_ip, b"\x06\x10\x02\x01\0\x0e\x08\x01\0\0\0\0\0\0"),
    row("PTPv2", Udp, &[319, 320], Either, infra::ptp, PTP_SAMPLE),
    row("BFD", Udp, &[3784, 4784], Either, infra::bfd, BFD_SAMPLE),
    row("LDP", Udp, &[646], Either, infra::ldp, b"\0\x01\0\x06\x0a\0\0\x01\0\0"),
    row("CAPWAP", Udp, &[5246, 5247], Either, infra::capwap, b"\0\x10\0\0\0\0\0\0"),
    row("Mikrotik", Udp, &[5678], Either, infra::mikrotik, b"\0\0\0\0\0\x01\0\x06\x00\x0c\x42\x01\x02\x03"),
    row("Service_Location_Protocol", Udp, &[427], Either, infra::slp, SLP_SAMPLE),
    row("WSD", Udp, &[3702], Either, infra::wsd, b"<?xml version=\"1.0\"?><soap:Envelope xmlns:wsd=\"http://schemas.xmlsoap.org/ws/2005/04/discovery\">"),
    row("IAX", Udp, &[4569], Either, infra::iax, b"\x80\x01\0\0\0\0\0\x03\0\0\x06\x01"),
    row("RakNet", Udp, &[], Either, infra::raknet, b"\x01\0\0\0\0\0\0\0\x01\0\xff\xff\0\xfe\xfe\xfe\xfe\xfd\xfd\xfd\xfd\x12\x34\x56\x78"),
    row("Roughtime", Udp, &[], Either, infra::roughtime, b"ROUGHTIM\x10\0\0\0"),
    row("Megaco", Udp, &[2944, 2945], Either, infra::megaco, b"MEGACO/1 [192.0.2.1]:2944\r\n"),
    row("TuyaLP", Udp, &[], Either, infra::tuya, TUYA_SAMPLE),
    row("MPEG_TS", Udp, &[], Either, infra::mpeg_ts, MPEGTS_SAMPLE),
    row("GenshinImpact", Udp, &[], Either, apps::genshin, GENSHIN_SAMPLE),
    row("TeamSpeak", Udp, &[], Either, apps::teamspeak, b"TS3INIT1\0\x65"),
    row("Teredo", Udp, &[], Either, apps::teredo, TEREDO_SAMPLE),
    row("FLUTE", Udp, &[], Either, apps::flute_fdt, FLUTE_SAMPLE),
    row("DTLS", Udp, &[], Either, dtls, b"\x16\xfe\xfd\0\0\0\0\0\0\0\0\0\x02\x01\0"),
    row_range("Telegram", Udp, TELEGRAM_RELAY_PORTS, Either, voip::telegram_udp, TELEGRAM_SAMPLE),
    row("Tailscale", Udp, &[41641], Either, voip::tailscale, b"TS\xf0\x9f\x92\xac\0\x01"),
    row("Zoom", Udp, &[], Either, voip::zoom, ZOOM_P2P_SAMPLE),
    row("NoMachine", Udp, &[], Either, voip::nomachine_udp, b"\0\0\x01\0\x0c\0\0\0\0\0\x01\x02"),
    row("IMO", Udp, &[], Either, apps::imo, b"\0\x09\x03\x21\x9a\x02\0\0\0\0\0"),
    row("LoLWildRift", Udp, &[], Either, apps::lol_wild_rift, LOL_SAMPLE),
    row("NetEaseGames", Udp, &[], Either, apps::netease_games, b"\x01\0\xd0\x01\0\0\0\0\0\x01\x01\x01"),
    row("GaijinEntertainment", Udp, &[], Either, apps::gaijin, GAIJIN_SAMPLE),
    row("Heroes_of_the_Storm", Udp, &[1119, 1120, 3724, 6113], Either, apps::hots, HOTS_SAMPLE),
    row("Softether", Udp, &[], Either, apps::softether_udp, b"IP=192.0.2.1,PORT=443"),
    row("NFS", Udp, &[], Client, apps::nfs_udp, NFS_UDP_SAMPLE),
    row("H323", Udp, &[1719], Either, voip::h323, H323_RAS_SAMPLE),
    row("Syslog", Udp, &[], Client, apps::syslog, b"<34>Oct 11 22:14:15 host su: 'su root' failed"),
    row("Gnutella", Udp, &[], Either, apps::gnutella_udp, GNUTELLA_SAMPLE),
    row("BACnet", Udp, &[], Either, ics::bacnet, b"\x81\x0a\0\x11\x01\x04\0\x05\xa9\x0c\x0c\x02\x3f\xff\xff\x19\x4b"),
    row("ANSI_C1222", Udp, &[1153], Either, ics::c1222, C1222_SAMPLE),
    row("CNP-IP", Udp, &[1628, 1629], Either, ics::cnp_ip, CNP_SAMPLE),
    row("IEC62056", Udp, &[], Either, ics::dlms_hdlc, DLMS_HDLC_SAMPLE),
    row("EthernetGlobalData", Udp, &[18246], Either, ics::egd, EGD_SAMPLE),
    row("Ether-S-Bus", Udp, &[5050], Either, ics::ether_s_bus, b"\0\0\0\x0d\x01\0\0\x01\0\x0a\x20\x53\x18"),
    row("EtherSIO", Udp, &[], Either, ics::ethersio, b"ESIO\0\x01\0\0\0\x31"),
    row("FINS", Udp, &[9600], Either, ics::fins_udp, b"\x80\0\x02\0\0\0\0\0\0\x7a\x01\x01\0"),
    row("HART-IP", Udp, &[5094], Either, ics::hart_ip, b"\x01\0\0\0\0\x02\0\x0d\x01\0\0\x75\x30"),
    row("HSRP", Udp, &[1985, 2029], Either, ics::hsrp, HSRP_SAMPLE),
    row("RTPS", Udp, &[], Either, ics::rtps, b"RTPS\x02\x01\x01\x01NDDSPING"),
    row("TRDP", Udp, &[17224, 17225], Either, ics::trdp, TRDP_SAMPLE),
    row("KCP", Udp, &[], Either, apps::kcp, KCP_SAMPLE),
    row("MGCP", Udp, &[], Either, apps::mgcp, b"RSIP 1 *@gw.example.org MGCP 1.0\r\n"),
    row("Mumble", Udp, &[64738], Either, apps::mumble_ping, b"\0\0\0\0\x03\xd7\x20\0\xfa\x76\x28\x7e"),
    row("OICQ", Udp, &[8000], Either, apps::oicq, b"\x02\x3b\x0b\0\x01\0\x17\x56\x1f\x0c\x7b\0\x03"),
    row("PFCP", Udp, &[8805], Either, apps::pfcp, b"\x21\x37\0\x04\0\0\0\x01"),
    row("GTP", Udp, &[2152, 2123, 3386], Either, apps::gtp, b"\x30\xff\0\x04\0\0\0\x01\x45\0\0\0"),
    row("UFTP", Udp, &[1044], Either, apps::uftp, b"\x40\x01\0\0\x0a\0\0\x01\x96\xf4\xc3\x04\0\x9d\0\0"),
    row("RipeAtlas", Udp, &[], Either, apps::ripe_atlas, b"MGLNDD_192.0.2.1_1114"),
    row("RMCP", Udp, &[623], Either, apps::rmcp, b"\x06\0\xff\x06\0\0\x11\xbe\x80\0\0\0"),
    row("Discord", Udp, &[], Either, apps::discord_udp, b"\x13\x37\xca\xfe\x0e\0\0\0"),
    row("ZUG", Udp, &[], Either, apps::zug, b"\0\x0aUG\x10\xae\xa0\x41\0\x6e"),
    row("DCERPC", Udp, &[], Either, apps::dcerpc_udp, DCERPC_SAMPLE),
    row("EpicGames", Udp, &[], Either, apps::epic_games, EPIC_SAMPLE),
    row("EAQ", Udp, &[6000], Either, eaq, b"0123456789abcdef"),
    row("RTP", Udp, &[], Either, voip::rtp_udp, RTP_SAMPLE),
    row("RTCP", Udp, &[], Either, voip::rtcp_udp, b"\x80\xc8\0\x06\x01\x02\x03\x04\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"),

    row("ETHEREUM", Udp, &[30303], Either, ethereum, ETHEREUM_SAMPLE),
];

const DHCP_SAMPLE: &[u8] = &{
    let mut d = [0u8; 244];
    d[0] = 1;
    d[236] = DHCP_COOKIE[0];
    d[237] = DHCP_COOKIE[1];
    d[238] = DHCP_COOKIE[2];
    d[239] = DHCP_COOKIE[3];
    d
};
const NTP_SAMPLE: &[u8] = &{
    let mut d = [0u8; 48];
    d[0] = 0x23; // version 4, client
    d
};
const WIREGUARD_SAMPLE: &[u8] = &{
    let mut d = [0u8; 148];
    d[0] = 1;
    d
};
const ETHEREUM_SAMPLE: &[u8] = &{
    let mut d = [0u8; 120];
    d[97] = 1;
    d
};

const TENCENT_SAMPLE: &[u8] = &{
    let mut d = [0u8; 60];
    d[0] = 0x33;
    d[1] = 0x66;
    d[3] = 0x0b;
    d[5] = 0x0b;
    d
};
const THREEMA_SAMPLE: &[u8] = &[0xc1; 48];
const POE_SAMPLE: &[u8] =
    b"\0\x03\0\x37\x75\x60\0\x02\0\x09nDPI_Test\xec\x8f\xec\xf2\0\0\0\0\x40\0\0\x01";
const MYSQL_SAMPLE: &[u8] = b"\x4a\0\0\0\x0a8.0.36\0\x08\0\0\0abcdefgh\0\xff\xff\xff\x02\0\xff\xdf\x15\0\0\0\0\0\0\0\0\0\0ijklmnopqrst\0caching_sha2_password\0";
const NFS_TCP_SAMPLE: &[u8] = &{
    let mut d = [0u8; 48];
    d[0] = 0x80;
    d[3] = 44;
    d[4 + 11] = 2; // RPC version
    d[4 + 13] = 0x01;
    d[4 + 14] = 0x86;
    d[4 + 15] = 0xa3; // NFS
    d[4 + 19] = 3;
    d
};
const NFS_UDP_SAMPLE: &[u8] = &{
    let mut d = [0u8; 44];
    d[11] = 2;
    d[13] = 0x01;
    d[14] = 0x86;
    d[15] = 0xa3;
    d[19] = 3;
    d
};
const H323_SAMPLE: &[u8] = &{
    let mut d = [0u8; 24];
    d[0] = 3;
    d[3] = 24;
    d[4] = 0x08; // Q.931
    d[5] = 0x02;
    d
};
const H323_RAS_SAMPLE: &[u8] = &{
    let mut d = [0u8; 24];
    d[4] = 0x06;
    d[6] = 0x08;
    d[7] = 0x91;
    d[8] = 0x4a;
    d
};
const GW2_SAMPLE: &[u8] =
    b"P /Sts/Connect STS/1.0\r\nl:123\r\ns:1\r\n\r\n<Connect><ConnType>400</ConnType>";
const SOMEIP_SAMPLE: &[u8] = b"\xff\xff\0\0\0\0\0\x08\xde\xad\xbe\xef\x01\x01\x01\x00";
const MELSEC_SAMPLE: &[u8] = &{
    let mut d = [0u8; 44];
    d[0] = 0x57;
    d[5] = 0x11;
    d[6] = 0x11;
    d[19] = 23; // data length: 44 - 21
    d
};
const C37118_SAMPLE: &[u8] = &[
    0xaa, 0x41, 0x00, 0x12, 0x00, 0x01, 0x5f, 0x5e, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,
    0x17, 0x31,
];
const VMWARE_SAMPLE: &[u8] = &{
    let mut d = [0u8; 66];
    d[0] = 0xa4;
    d
};
const CPHA_SAMPLE: &[u8] = &{
    let mut d = [0u8; 24];
    d[0] = 0x1a;
    d[1] = 0x90;
    d
};
const CROSSFIRE_SAMPLE: &[u8] = &{
    let mut d = [0u8; 25];
    d[0] = 0xc7;
    d[1] = 0xd9;
    d[2] = 0x19;
    d[3] = 0x99;
    d[4] = 0x02;
    d[22] = 0x7d;
    d
};
const SDRTN_SAMPLE: &[u8] = &{
    let mut d = [0u8; 24];
    d[6] = 0x21;
    d[12] = 0x04;
    d[13] = b'S';
    d[14] = b'N';
    d[15] = b'I';
    d[17] = 4;
    d
};
const SDR_SAMPLE: &[u8] = &{
    let mut d = [0u8; 100];
    let p = b"sdping";
    let mut i = 0;
    while i < 6 {
        d[2 + i] = p[i];
        i += 1;
    }
    d
};
const I3D_SAMPLE: &[u8] = &{
    let mut d = [0u8; 80];
    d[1] = 0x01;
    d[3] = 0x46;
    d[5] = 0x03;
    d[6] = 0xcf;
    d[7] = 0xa8;
    d
};
const CRYNET_SAMPLE: &[u8] = &{
    let mut d = [0u8; 30];
    d[0] = 20;
    d[3] = 0x08;
    d[4] = 0xed;
    d[16] = 1;
    d[20] = 7;
    d[24] = 0x03;
    d[25] = 0x07;
    d
};
const DIAMETER_SAMPLE: &[u8] = &{
    let mut d = [0u8; 20];
    d[0] = 1;
    d[3] = 20;
    d[4] = 0x80;
    d[6] = 0x01;
    d[7] = 0x01; // capabilities exchange (257)
    d
};
const TUYA_SAMPLE: &[u8] = &{
    let mut d = [0u8; 28];
    d[2] = 0x55;
    d[3] = 0xaa;
    d[26] = 0xaa;
    d[27] = 0x55;
    d
};
const ORACLE_SAMPLE: &[u8] = &{
    let mut d = [0u8; 40];
    d[1] = 40;
    d[4] = 1; // CONNECT
    d[8] = 0x01;
    d[9] = 0x3c; // version 316
    d
};
const ENIP_SAMPLE: &[u8] = &{
    let mut d = [0u8; 28];
    d[0] = 0x65; // register session
    d[2] = 4;
    d
};
const SLP_SAMPLE: &[u8] = &{
    let mut d = [0u8; 20];
    d[0] = 2;
    d[1] = 1; // service request
    d[4] = 20;
    d
};
const VXLAN_SAMPLE: &[u8] = &{
    let mut d = [0u8; 30];
    d[0] = 0x08;
    d[6] = 1;
    d
};
const RADIUS_SAMPLE: &[u8] = &{
    let mut d = [0u8; 20];
    d[0] = 1;
    d[3] = 20;
    d
};
const NETFLOW_SAMPLE: &[u8] = &{
    let mut d = [0u8; 72];
    d[1] = 5;
    d[3] = 1;
    d
};
const SFLOW_SAMPLE: &[u8] = &{
    let mut d = [0u8; 28];
    d[3] = 5;
    d[7] = 1;
    d
};
const PTP_SAMPLE: &[u8] = &{
    let mut d = [0u8; 44];
    d[1] = 2;
    d[3] = 44;
    d
};
const BFD_SAMPLE: &[u8] = &{
    let mut d = [0u8; 24];
    d[0] = 0x20;
    d[2] = 3;
    d[3] = 24;
    d
};
const MPEGTS_SAMPLE: &[u8] = &{
    let mut d = [0xffu8; 188];
    d[0] = 0x47;
    d
};
const HSRP_SAMPLE: &[u8] = &{
    let mut d = [0u8; 42];
    d[0] = 1; // group state TLV
    d[1] = 40;
    d[2] = 2; // version 2
    d
};
const ZOOM_P2P_SAMPLE: &[u8] = &{
    let mut d = [0u8; 44];
    d[0] = 0x1f;
    d[1] = 0x02;
    d[2] = 0x01;
    d[27] = 4; // address length
    d[35] = 4; // UUID length
    d
};
/// Telegram's call relays listen on ports 500-600.
const TELEGRAM_RELAY_PORTS: (u16, u16) = (500, 600);
const TELEGRAM_SAMPLE: &[u8] = &{
    let mut d = [0u8; 48];
    let mut i = 16;
    while i < 28 {
        d[i] = 0xff;
        i += 1;
    }
    d
};
const LOL_SAMPLE: &[u8] = &{
    let mut d = [0u8; 22];
    d[0] = 0x01;
    d[1] = 0x02;
    d[2] = 0xc8;
    d[3] = 0x41;
    d[18] = b'A';
    d[19] = b'0';
    d[20] = b'B';
    d[21] = b'1';
    d
};
const GAIJIN_SAMPLE: &[u8] = &{
    let mut d = [0u8; 52];
    d[0] = 0x8f;
    d[1] = 0xff;
    d[4] = 0x82;
    d[5] = 0xff;
    d[7] = 0x01;
    d
};
const HOTS_SAMPLE: &[u8] = &{
    let mut d = [0u8; 24];
    d[2] = 0x34;
    d[14] = 0x40;
    d
};
const EPIC_SAMPLE: &[u8] = &{
    let mut d = [0u8; 50];
    d[0] = 0x47;
    d[1] = 0x1a;
    d[2] = 0x20;
    d
};
const RTP_SAMPLE: &[u8] = b"\x80\x00\x12\x34\0\0\x01\x00\xde\xad\xbe\xef\x55\x55\x55\x55";
const NANO_SAMPLE: &[u8] = &{
    let mut d = [0u8; 40];
    d[0] = b'R';
    d[1] = b'C';
    d[2] = 20;
    d[3] = 19;
    d[4] = 18;
    d[5] = 0x0a;
    d
};
const GENSHIN_SAMPLE: &[u8] = &{
    let mut d = [0xffu8; 20];
    d[0] = 0;
    d[1] = 0;
    d[2] = 0;
    d
};
const TEREDO_SAMPLE: &[u8] = &{
    let mut d = [0u8; 48];
    d[8] = 0x60; // IPv6 after an origin indication
    d
};
const FLUTE_SAMPLE: &[u8] = &{
    let mut d = [0u8; 260];
    d[0] = 0x10;
    d[2] = 4; // header of 16 bytes
    let x = b"<?xml";
    let mut i = 0;
    while i < 5 {
        d[20 + i] = x[i];
        i += 1;
    }
    let f = b"<FDT";
    i = 0;
    while i < 4 {
        d[59 + i] = f[i];
        i += 1;
    }
    d
};
const ELASTIC_SAMPLE: &[u8] = b"ES\0\0\0\x34\0\0\0\0\0\0\0\x01\x08\0\x5c\xc6\x63\0\0\x01\x06x-pack";
const PPTP_SAMPLE: &[u8] = b"\0\x10\0\x01\x1a\x2b\x3c\x4d\0\x01\0\0\x01\0\0\0";
const ADS_SAMPLE: &[u8] = &{
    let mut d = [0u8; 38];
    d[2] = 32; // AMS length
    d[6 + 16] = 4; // command: read state
    d
};
const DLMS_HDLC_SAMPLE: &[u8] = b"\x7e\xa0\x07\x03\x21\x93\x0f\x01\x7e";
const XIAOMI_SAMPLE: &[u8] = b"\xc2\xfe\0\x05\0\0\0\x04\0\x02\0\x16\x08\0\x1a\x0a";
const SPOTIFY_SAMPLE: &[u8] = b"\0\x04\0\0\0\x10\x52\x0f\x50\x02\xa0\x01\0\xf0\x01\x06";
const TRDP_SAMPLE: &[u8] = &{
    let mut d = [0u8; 48];
    d[4] = 1;
    d[6] = b'M';
    d[7] = b'r';
    d
};
const C1222_SAMPLE: &[u8] = b"\x60\x09\xa2\x07\x06\x05\x60\x7c\x86\xf7\x54";
const GNUTELLA_SAMPLE: &[u8] = &{
    let mut d = [0u8; 28];
    d[17] = 1; // TTL
    d[19] = 5; // payload length
    d
};
const CNP_SAMPLE: &[u8] = &{
    let mut d = [0u8; 28];
    d[1] = 28;
    d[2] = 1;
    d[3] = 1;
    d
};
const EGD_SAMPLE: &[u8] = &{
    let mut d = [0u8; 40];
    d[0] = 0x0d;
    d[1] = 0x01;
    d
};
const KCP_SAMPLE: &[u8] = &{
    let mut d = [0u8; 28];
    d[0] = 10;
    d[4] = 81;
    d[20] = 4;
    d
};
const DCERPC_SAMPLE: &[u8] = &{
    let mut d = [0u8; 96];
    d[0] = 4;
    d[1] = 0;
    d[2] = 8;
    d
};

/// The table's names resolved to registry ids, row for row.
pub struct Resolved {
    /// `TCP[i]`'s protocol.
    pub tcp: Vec<ProtoId>,
    /// `UDP[i]`'s protocol.
    pub udp: Vec<ProtoId>,
    /// Per transport (TCP, UDP) and direction (client, server): the rows
    /// that read that direction, in table order, resolved.
    lanes: [[Vec<Lane>; 2]; 2],
}

/// One row, resolved, as the scan reads it.
struct Lane {
    detect: fn(&FlowCtx, &[u8]) -> Match,
    pid: ProtoId,
    ports: &'static [u16],
    range: Option<(u16, u16)>,
}

/// Resolves a protocol name of this crate's code; panics on a name missing
/// from `protocols.txt` (the tables' names are checked when they load;
/// `Match::As` names by the unit tests).
pub fn id(name: &str) -> ProtoId {
    registry().id(name).unwrap_or_else(|| {
        panic!("{name} missing from protocols.txt (checked when the tables load)")
    })
}

fn lanes(table: &'static [Detector], ids: &[ProtoId], client: bool) -> Vec<Lane> {
    table
        .iter()
        .zip(ids)
        .filter(|(d, _)| match d.dir {
            Dir::Either => true,
            Dir::Client => client,
            Dir::Server => !client,
        })
        .map(|(d, &pid)| Lane {
            detect: d.detect,
            pid,
            ports: d.ports,
            range: d.range,
        })
        .collect()
}

/// The ids of every row, resolved once.
pub fn resolved() -> &'static Resolved {
    static R: OnceLock<Resolved> = OnceLock::new();
    R.get_or_init(|| {
        let tcp: Vec<ProtoId> = TCP.iter().map(|d| id(d.name)).collect();
        let udp: Vec<ProtoId> = UDP.iter().map(|d| id(d.name)).collect();
        let lanes = [
            [lanes(TCP, &tcp, true), lanes(TCP, &tcp, false)],
            [lanes(UDP, &udp, true), lanes(UDP, &udp, false)],
        ];
        Resolved { tcp, udp, lanes }
    })
}

/// The first row of the transport's table that recognises `d` (the same
/// answer as [`first_match`], over rows resolved and sorted by direction
/// once, for the per-packet path).
pub fn scan(transport: Transport, flow: &FlowCtx, d: &[u8], src2dst: bool) -> Option<Hit> {
    let t = usize::from(transport == Transport::Udp);
    for lane in &resolved().lanes[t][usize::from(!src2dst)] {
        if ports_ok(lane.ports, lane.range, flow)
            && let Some(h) = hit(lane.pid, (lane.detect)(flow, d))
        {
            return Some(h);
        }
    }
    None
}

/// Whether a row limited to `ports` (or `range`) applies to the flow.
#[inline]
fn ports_ok(ports: &[u16], range: Option<(u16, u16)>, flow: &FlowCtx) -> bool {
    match range {
        Some((lo, hi)) => (lo..=hi).contains(&flow.src_port) || (lo..=hi).contains(&flow.dst_port),
        None => ports.is_empty() || ports.iter().any(|p| either_port(flow, *p)),
    }
}

/// What a row's answer names, for the row's protocol `pid`.
#[inline]
fn hit(pid: ProtoId, m: Match) -> Option<Hit> {
    let (master, app, need) = match m {
        Match::No => return None,
        Match::Yes => (pid, ProtoId::UNKNOWN, 1),
        Match::As(other) => (id(other), ProtoId::UNKNOWN, 1),
        Match::WithApp(app) => (pid, id(app), 1),
        Match::Count(n) => (pid, ProtoId::UNKNOWN, n.max(1)),
    };
    Some(Hit { master, app, need })
}

/// What a row found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    /// Master protocol.
    pub master: ProtoId,
    /// Application, or Unknown.
    pub app: ProtoId,
    /// Packets of the flow that must say so before the label holds (1: this one).
    pub need: u8,
}

/// The first row of `table` that recognises `d`.
pub fn first_match(
    table: &'static [Detector],
    ids: &[ProtoId],
    flow: &FlowCtx,
    d: &[u8],
    src2dst: bool,
) -> Option<Hit> {
    for (det, &pid) in table.iter().zip(ids) {
        let dir_ok = match det.dir {
            Dir::Either => true,
            Dir::Client => src2dst,
            Dir::Server => !src2dst,
        };
        if dir_ok
            && ports_ok(det.ports, det.range, flow)
            && let Some(h) = hit(pid, (det.detect)(flow, d))
        {
            return Some(h);
        }
    }
    None
}

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
                let f = flow(t, port);
                let src2dst = det.dir != Dir::Server;
                let got = first_match(table, ids, &f, det.sample, src2dst);
                if got.map(|h| h.master) != Some(*pid) {
                    failed.push(format!(
                        "{} sample -> {:?}",
                        det.name,
                        got.map(|h| h.master.name())
                    ));
                    continue;
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

    #[test]
    fn the_per_packet_scan_answers_as_the_table_does() {
        let r = resolved();
        for (table, ids, t) in [(TCP, &r.tcp, Transport::Tcp), (UDP, &r.udp, Transport::Udp)] {
            for det in table {
                for port in [4321, det.ports.first().copied().unwrap_or(80)] {
                    let f = flow(t, port);
                    for src2dst in [true, false] {
                        assert_eq!(
                            scan(t, &f, det.sample, src2dst),
                            first_match(table, ids, &f, det.sample, src2dst),
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
            first_match(TCP, &r.tcp, &flow(Transport::Tcp, 102), rdp, true),
            None
        );
        for (id, name) in [
            (0x32, "S7Comm"),
            (0x72, "S7CommPlus"),
            (0x0d, "ISO9506-1-MMS"),
        ] {
            let dt = [3, 0, 0, 9, 2, 0xf0, 0x80, id, 0];
            let got = first_match(TCP, &r.tcp, &flow(Transport::Tcp, 102), &dt, true);
            assert_eq!(got.unwrap().master.name(), name);
        }
        let smtp = first_match(
            TCP,
            &r.tcp,
            &flow(Transport::Tcp, 25),
            b"220 mx.example.org ESMTP\r\n",
            false,
        );
        assert_eq!(smtp.unwrap().master.name(), "SMTP");
        let mut smb = b"\x11\x02\x00\x01\xc0\xa8\x00\x01\x00\x8a\x00\xbb\x00\x00".to_vec();
        smb.extend_from_slice(b"\xffSMB");
        let app = first_match(UDP, &r.udp, &flow(Transport::Udp, 138), &smb, true)
            .unwrap()
            .app;
        assert_eq!(app.name(), "SMBv1");
    }
}
