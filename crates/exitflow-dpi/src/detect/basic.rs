//! Detectors of protocols recognised by one short test, used by the
//! tables ([`super::TCP`], [`super::UDP`]).
use super::*;
use crate::FlowCtx;

pub(super) fn ssh(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(b"SSH-"))
}
/// Payloads of a TCP flow nDPI 5.0's BitTorrent rule reads (six, measured
/// through NFStream, pure ACKs aside): more than the rows' window, so an
/// encrypted (MSE) negotiation that settles on plaintext still shows its
/// handshake to it.
pub(crate) const BITTORRENT_TCP_PAYLOADS: u8 = 6;

/// The peer wire handshake: its length byte and protocol string, and more.
pub(crate) fn bittorrent_handshake(d: &[u8]) -> bool {
    d.len() > 20 && d[0] == 19 && &d[1..20] == b"BitTorrent protocol"
}

pub(super) fn bittorrent_tcp(_: &FlowCtx, d: &[u8]) -> Match {
    yes(bittorrent_handshake(d))
}
pub(super) fn kerberos_tcp(_: &FlowCtx, d: &[u8]) -> Match {
    // A 4-byte record length, then an ASN.1 application tag.
    yes(d.len() > 4 && KRB_TAGS.contains(&d[4]) && be32(d, 0) == Some(d.len() - 4))
}
pub(super) fn mssql(_: &FlowCtx, d: &[u8]) -> Match {
    // TDS (nDPI 5.0's conditions, measured with its library): a packet
    // type of 14-18 (TDS 7's login, SSPI and pre-login), or 1-8 with a
    // packet id other than 0 (a TPKT connection request, 03 00 .. with id
    // 0, is not TDS), a status of end of message, ignore or a connection
    // reset (0x00, 0x01, 0x02, 0x04, 0x08, 0x09, 0x10), the header's length
    // the payload's, window 0.
    yes(d.len() >= 8
        && (matches!(d[0], 14..=18) || (matches!(d[0], 1..=8) && d[6] != 0))
        && matches!(d[1], 0x00 | 0x01 | 0x02 | 0x04 | 0x08 | 0x09 | 0x10)
        && be16(d, 2) == Some(d.len())
        && d[7] == 0)
}
/// MongoDB's OP_REPLY, the one answer nDPI names.
const MONGO_OP_REPLY: u32 = 1;
/// The largest message length nDPI accepts in a MongoDB header.
const MONGO_MAX_LEN: u32 = 1_000_000;

pub(super) fn mongodb(_: &FlowCtx, d: &[u8]) -> Match {
    // nDPI 5.0: the first payload, over 16 bytes, a length field in bounds
    // (not compared with the segment's: a message may span segments) and
    // a request opcode (OP_UPDATE..OP_KILL_CURSORS, OP_MSG), or an OP_REPLY
    // with a body and no reserved flag set.
    let (Some(len), Some(op)) = (le32(d, 0), le32(d, 12)) else {
        return Match::No;
    };
    if d.len() <= 16 || !(4..=MONGO_MAX_LEN).contains(&len) {
        return Match::No;
    }
    match op {
        2001..=2007 | 2013 => Match::First,
        MONGO_OP_REPLY => first(d.len() > 36 && le32(d, 16).is_some_and(|f| f & 0xffff_fff0 == 0)),
        _ => Match::No,
    }
}
pub(super) fn dnp3(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.len() >= 10 && d[0] == 0x05 && d[1] == 0x64)
}
pub(super) fn iec104(_: &FlowCtx, d: &[u8]) -> Match {
    // APCIs (0x68, length of the rest) that fill the segment exactly.
    let mut at = 0;
    while at < d.len() {
        if d[at] != 0x68 || at + 1 >= d.len() || d[at + 1] == 0 {
            return Match::No;
        }
        at += 2 + usize::from(d[at + 1]);
    }
    yes(d.len() >= 6 && at == d.len())
}
pub(super) fn whatsapp(_: &FlowCtx, d: &[u8]) -> Match {
    // nDPI 5.0's two prologues: "WA" 1.5 with more after it, or the
    // "ED" Noise prologue of version 0.1 with its 4.8 or 2.8 header.
    yes((d.starts_with(b"WA\x01\x05") && d.len() > 4)
        || d.starts_with(b"ED\0\x01\0\0\x04\x08")
        || d.starts_with(b"ED\0\x01\0\0\x02\x08"))
}
pub(super) fn fix(_: &FlowCtx, d: &[u8]) -> Match {
    // BeginString FIX (a sixth byte after it) or FIXT's "O" then BodyLength,
    // as nDPI 5.0 reads them.
    yes((d.len() > 5 && d.starts_with(b"8=FIX")) || d.starts_with(b"8=O\x019="))
}
/// The network magics nDPI 5.0 knows (main, regtest, testnet3, signet,
/// and one more of its list), on the node port.
const BITCOIN_MAGICS: [[u8; 4]; 5] = [
    [0xf9, 0xbe, 0xb4, 0xd9],
    [0xfa, 0xbf, 0xb5, 0xda],
    [0x0b, 0x11, 0x09, 0x07],
    [0x0a, 0x03, 0xcf, 0x40],
    [0xf9, 0xbe, 0xb4, 0xfe],
];
/// Bitcoin's node port: nDPI 5.0 reads the magic there only.
pub(super) const BITCOIN_PORT: u16 = 8333;

pub(super) fn bitcoin(_: &FlowCtx, d: &[u8]) -> Match {
    yes(BITCOIN_MAGICS.iter().any(|m| d.starts_with(m)))
}
pub(super) fn bgp(_: &FlowCtx, d: &[u8]) -> Match {
    // A 16-byte all-ones marker.
    yes(d.len() >= 19 && d[..16].iter().all(|b| *b == 0xff))
}
pub(super) fn mqtt(_: &FlowCtx, d: &[u8]) -> Match {
    // One control packet filling the segment (nDPI's conditions): type
    // 1-14, a remaining length (a varint of up to four bytes) that is the
    // rest, the flags each type must carry, and each type's least size.
    if d.len() < 2 {
        return Match::No;
    }
    let (mut rest, mut used, mut scale, mut ended) = (0usize, 0usize, 1usize, false);
    for &b in d[1..].iter().take(4) {
        used += 1;
        rest += usize::from(b & 0x7f) * scale;
        if b & 0x80 == 0 {
            ended = true;
            break;
        }
        scale *= 128;
    }
    // A length cut short by the segment is no length (four bytes always end it).
    if !(ended || used == 4) || d.len() != 1 + used + rest {
        return Match::No;
    }
    let (kind, flags) = (d[0] >> 4, d[0] & 0x0f);
    let (qos, dup) = ((flags >> 1) & 3, flags >> 3);
    yes(match kind {
        // CONNECT
        1 => flags == 0,
        // PUBLISH: QoS 0-2; QoS 0 without DUP and a topic; else a packet id too.
        3 => {
            qos <= 2
                && if qos == 0 {
                    dup == 0 && d.len() >= 5
                } else {
                    d.len() >= 7
                }
        }
        // CONNACK, PUBACK, PUBREC, PUBCOMP, UNSUBACK: four bytes.
        2 | 4 | 5 | 7 | 11 => flags == 0 && d.len() == 4,
        // PUBREL
        6 => flags == 2 && d.len() == 4,
        // SUBSCRIBE, UNSUBSCRIBE: a topic filter.
        8 => flags == 2 && d.len() >= 8,
        10 => flags == 2 && d.len() >= 7,
        // SUBACK
        9 => flags == 0 && d.len() >= 5,
        // PINGREQ, PINGRESP, DISCONNECT: two bytes.
        12..=14 => flags == 0 && d.len() == 2,
        _ => false,
    })
}
/// The stream namespace declaration nDPI 5.0 wants in an XMPP opening,
/// in either quotes.
const JABBER_STREAMS_NS: [&[u8]; 2] = [
    b"xmlns:stream='http://etherx.jabber.org/streams'",
    b"xmlns:stream=\"http://etherx.jabber.org/streams\"",
];
/// Where nDPI starts looking for it.
const JABBER_NS_FROM: usize = 13;

pub(super) fn xmpp(_: &FlowCtx, d: &[u8]) -> Match {
    // An XML stream opening (not any XML document: SOAP is also "<?xml"),
    // with the streams namespace, as nDPI 5.0 wants it.
    let opens = (d.starts_with(b"<?xml version=") && d.len() > JABBER_NS_FROM)
        || d.starts_with(b"<stream:stream ");
    let rest = d.get(JABBER_NS_FROM..).unwrap_or(&[]);
    if !(opens
        && JABBER_STREAMS_NS
            .iter()
            .any(|ns| rest.windows(ns.len()).any(|w| w == *ns)))
    {
        return Match::No;
    }
    // TruPhone's XMPP service, by the domain its stream is addressed to.
    if TRUPHONE_DOMAINS
        .iter()
        .any(|t| d.windows(t.len()).any(|w| w == *t))
    {
        Match::WithApp(Alt::TruPhone)
    } else {
        Match::Yes
    }
}

/// TruPhone's XMPP domain as a quoted attribute value, as nDPI looks for it.
const TRUPHONE_DOMAINS: [&[u8]; 2] = [b"='im.truphone.com'", b"=\"im.truphone.com\""];
/// The words nDPI 5.0 counts at the start of an IRC payload (in capitals),
/// but USER, PASS and MODE: they are POP3's, FTP's and NNTP's words too,
/// and a flow keeps one protocol's count at a time here (nDPI one per
/// dissector), so IRC's would wipe theirs. A registration still names IRC
/// with them.
const IRC_WORDS: [&[u8]; 7] = [
    b"NICK ",
    b"PONG ",
    b"PING ",
    b"JOIN ",
    b"NOTICE ",
    b"PRIVMSG ",
    b"VERSION ",
];
/// The words a registration's first line may start with.
const IRC_REGISTRATION: [&[u8]; 3] = [b"NICK ", b"USER ", b"PASS "];
/// IRC payloads with its words nDPI wants, and the lines a server's
/// prefixed payloads must add up to, before it names IRC.
const IRC_WORD_PAYLOADS: u8 = 3;
const IRC_PREFIXED_LINES: usize = 7;

/// A payload nDPI reads for IRC: 8 bytes or more, ending a line.
fn irc_payload(d: &[u8]) -> bool {
    d.len() >= 8 && (d.ends_with(b"\n") || d.ends_with(b"\n\0"))
}
/// A payload starting with an IRC word, or a prefixed message or notice.
fn irc_words(d: &[u8]) -> bool {
    let has = |w: &[u8]| d.windows(w.len()).any(|x| x == w);
    IRC_WORDS.iter().any(|w| d.starts_with(w))
        || (d.starts_with(b":") && (has(b"NOTICE") || has(b"PRIVMSG")))
}

pub(super) fn irc_client(_: &FlowCtx, d: &[u8]) -> Match {
    // nDPI 5.0: a registration (NICK or USER after the first line of a
    // payload of IRC words) names the flow at once; otherwise three
    // payloads of words.
    if !irc_payload(d) {
        return Match::No;
    }
    let later = d
        .split(|b| *b == b'\n')
        .skip(1)
        .any(|l| l.starts_with(b"NICK ") || l.starts_with(b"USER "));
    if later && IRC_REGISTRATION.iter().any(|w| d.starts_with(w)) {
        Match::Yes
    } else if irc_words(d) {
        Match::Count(IRC_WORD_PAYLOADS)
    } else {
        Match::No
    }
}
pub(super) fn whois(_: &FlowCtx, d: &[u8]) -> Match {
    // One short printable query line.
    yes(d.len() < 256
        && d.ends_with(b"\r\n")
        && d.iter()
            .all(|b| b.is_ascii_graphic() || matches!(b, b' ' | b'\r' | b'\n')))
}
pub(super) fn tpkt_x224_connect(d: &[u8]) -> bool {
    // TPKT version 3, length, then an X.224 connection request.
    d.len() >= 11 && d[0] == 3 && d[1] == 0 && be16(d, 2) == Some(d.len()) && d[5] == 0xe0
}
pub(super) fn rdp(flow: &FlowCtx, d: &[u8]) -> Match {
    match tpkt_x224_connect(d) {
        // On port 102 the same framing carries S7, S7 Plus and MMS: the
        // first data TPDU tells them apart (ics::iso_on_tcp_data).
        true if either_port(flow, 102) => Match::No,
        true => Match::Yes,
        false => Match::No,
    }
}
pub(super) fn socks(_: &FlowCtx, d: &[u8]) -> Match {
    // nDPI 5.0, any port: a SOCKS 5 greeting offering no authentication
    // (alone, or with GSSAPI), or a SOCKS 4 CONNECT/BIND with its user id;
    // named on the server's yes.
    let v5 = d == b"\x05\x01\x00" || d == b"\x05\x02\x00\x01";
    let v4 = d.len() >= 9 && d[0] == 4 && matches!(d[1], 1 | 2) && d.ends_with(b"\0");
    if v5 || v4 {
        Match::BothWays(2)
    } else {
        Match::No
    }
}
pub(super) fn socks_reply(_: &FlowCtx, d: &[u8]) -> Match {
    // SOCKS 5 "no authentication"; SOCKS 4 granted or refused (0x5a-0x5d).
    let v5 = d == b"\x05\x00";
    let v4 = d.len() == 8 && d[0] == 0 && (0x5a..=0x5d).contains(&d[1]);
    if v5 || v4 {
        Match::BothWays(2)
    } else {
        Match::No
    }
}
/// OpenVPN's hard-reset opcodes: the client's (v1, v2, v3), the server's (v1, v2).
const OPENVPN_CLIENT_RESETS: [u8; 3] = [1, 7, 10];
const OPENVPN_SERVER_RESETS: [u8; 2] = [2, 8];

/// A hard reset of key 0 framed for TCP (its length first), of one of `ops`.
fn openvpn_reset(d: &[u8], ops: &[u8]) -> Match {
    // nDPI 5.0 names OpenVPN on the server's reset that answers the
    // client's (it also matches the session ids, which this does not).
    let ok = d.len() >= 16
        && be16(d, 0).map(|l| l + 2) == Some(d.len())
        && d[2] & 0x07 == 0
        && ops.contains(&(d[2] >> 3));
    if ok { Match::BothWays(2) } else { Match::No }
}
/// OpenVPN's HMAC sizes (none, SHA-1, SHA-256, SHA-512) for `tls-auth`,
/// which puts the HMAC and a replay id (8 bytes) before the acknowledgements.
const OPENVPN_HMAC_SIZES: [usize; 4] = [0, 20, 32, 64];
/// A hard reset over UDP: opcode, session id (8), an acknowledgement
/// array (its length, then 4-byte ids), a packet id (4).
const OPENVPN_UDP_RESET_MIN: usize = 14;
/// Where a reset's acknowledgement array starts, without `tls-auth`.
const OPENVPN_ACK_AT: usize = 9;

/// A hard reset of key 0 over UDP, of one of `ops`. The server's
/// acknowledges the client's reset and names the client's session (nDPI
/// 5.0 also compares that id with the client's).
fn openvpn_udp_reset(d: &[u8], ops: &[u8], answer: bool) -> Match {
    let shape = d.len() >= OPENVPN_UDP_RESET_MIN && d[0] & 0x07 == 0 && ops.contains(&(d[0] >> 3));
    let acks_session = |h: usize| {
        let at = OPENVPN_ACK_AT + h + if h > 0 { 8 } else { 0 };
        d.get(at).is_some_and(|&n| {
            (1..=8).contains(&n) && d.len() >= at + 1 + 4 * usize::from(n) + 8 + 4
        })
    };
    if shape && (!answer || OPENVPN_HMAC_SIZES.iter().any(|&h| acks_session(h))) {
        Match::BothWays(2)
    } else {
        Match::No
    }
}
pub(super) fn openvpn_udp(_: &FlowCtx, d: &[u8]) -> Match {
    openvpn_udp_reset(d, &OPENVPN_CLIENT_RESETS, false)
}
pub(super) fn openvpn_udp_server(_: &FlowCtx, d: &[u8]) -> Match {
    openvpn_udp_reset(d, &OPENVPN_SERVER_RESETS, true)
}
pub(super) fn openvpn_tcp(_: &FlowCtx, d: &[u8]) -> Match {
    openvpn_reset(d, &OPENVPN_CLIENT_RESETS)
}
pub(super) fn openvpn_tcp_server(_: &FlowCtx, d: &[u8]) -> Match {
    openvpn_reset(d, &OPENVPN_SERVER_RESETS)
}
pub(super) fn telnet(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.len() >= 3 && d[0] == TELNET_IAC && matches!(d[1], 0xfb..=0xfe))
}
/// The server's answers (`+OK`, `-ERR`) nDPI 5.0 wants before it names
/// POP3 (a Redis server answers `+OK` too).
const POP3_OKS: u8 = 3;
pub(super) fn pop3_pass(_: &FlowCtx, d: &[u8]) -> Match {
    // The password counts with the answers (nDPI: three answers, or fewer
    // with the client's commands once it sent PASS).
    if starts_ci(d, b"PASS ") && d.ends_with(b"\r\n") {
        Match::Count(POP3_OKS)
    } else {
        Match::No
    }
}
pub(super) fn pop3(_: &FlowCtx, d: &[u8]) -> Match {
    // Either status indicator, in any case, is an answer to nDPI.
    if starts_ci(d, b"+OK") || starts_ci(d, b"-ERR") {
        Match::Count(POP3_OKS)
    } else {
        Match::No
    }
}
/// The length of an RFB protocol version message ("RFB 003.008\n").
const RFB_VERSION_LEN: usize = 12;

pub(super) fn vnc(_: &FlowCtx, d: &[u8]) -> Match {
    // nDPI 5.0: the first two payloads are both version messages of RFB 3
    // or 4 (the server's, then the client's answer; nDPI wants one from
    // each side, which no real server breaks by sending two).
    let version = d.len() == RFB_VERSION_LEN
        && (d.starts_with(b"RFB 003") || d.starts_with(b"RFB 004"))
        && d[RFB_VERSION_LEN - 1] == b'\n';
    if version { Match::Run(2) } else { Match::No }
}
pub(super) fn irc_server(_: &FlowCtx, d: &[u8]) -> Match {
    // A server's prefixed lines: seven in one payload name the flow (nDPI
    // also adds them up over payloads; its notices, messages and PINGs are
    // irc_client's words, from either side).
    if !irc_payload(d) {
        return Match::No;
    }
    let prefixed = d
        .split(|b| *b == b'\n')
        .filter(|l| l.starts_with(b":"))
        .count();
    yes(d.starts_with(b":") && prefixed >= IRC_PREFIXED_LINES)
}

/// SMB1's Negotiate command: a client offering SMB1 and SMB2 dialects
/// sends it, and nDPI 5.0 does not name the session by it.
const SMB1_NEGOTIATE: u8 = 0x72;
/// The shortest SMB message nDPI reads (the session header, then more
/// than SMB's own 32-byte header).
const SMB_MIN: usize = 41;

pub(super) fn netbios_session_smb(_: &FlowCtx, d: &[u8]) -> Match {
    // A NetBIOS session message (type 0, 17-bit length) carrying SMB, on
    // port 445: nDPI names it NetBIOS with the SMB version as the
    // application.
    if d.len() < SMB_MIN
        || d[0] != 0
        || (usize::from(d[1] & 1) << 16 | be16(d, 2).unwrap_or(0)) + 4 < d.len()
    {
        return Match::No;
    }
    match &d[4..8] {
        // The multi-protocol negotiate names nothing (nDPI skips it) but is
        // SMB's own: the rule reads on.
        b"\xffSMB" if d[8] == SMB1_NEGOTIATE => Match::Wait,
        b"\xffSMB" => Match::WithApp(Alt::SmbV1),
        b"\xfeSMB" | b"\xfdSMB" => Match::WithApp(Alt::SmbV23),
        _ => Match::No,
    }
}

/// A NetBIOS session request (RFC 1002: type 0x81, the called and calling
/// names, 68 bytes), which nDPI 5.0 names on port 139.
const NBSS_SESSION_REQUEST: &[u8] = b"\x81\0\0\x44";
const NBSS_SESSION_REQUEST_LEN: usize = 72;

pub(super) fn netbios_session_request(flow: &FlowCtx, d: &[u8]) -> Match {
    yes(flow.dst_port == NBSS_PORT
        && d.len() == NBSS_SESSION_REQUEST_LEN
        && d.starts_with(NBSS_SESSION_REQUEST))
}
/// The NetBIOS session service's port.
pub(super) const NBSS_PORT: u16 = 139;
/// SMB over TCP's port, the only one nDPI 5.0 reads SMB on.
pub(super) const SMB_PORT: u16 = 445;
/// DTLS's content types nDPI 5.0 names a datagram by, its record and
/// handshake headers, and the hellos it reads whole.
const DTLS_HANDSHAKE: u8 = 22;
const DTLS_APPLICATION_DATA: u8 = 23;
const DTLS_RECORD_HEADER: usize = 13;
const DTLS_HANDSHAKE_HEADER: usize = 12;
const DTLS_HELLOS: [u8; 2] = [1, 2];

pub(super) fn dtls(_: &FlowCtx, d: &[u8]) -> Match {
    // A record whose length fits the datagram: application data (met
    // mid-session), or a ClientHello or ServerHello in one fragment. A
    // change of cipher spec, an alert, other handshake messages or a
    // fragment name nothing alone (all measured with nDPI's library).
    let h = DTLS_RECORD_HEADER;
    let Some(rec) = be16(d, 11).filter(|r| *r > 0 && h + r <= d.len()) else {
        return Match::No;
    };
    let hello = || {
        let (Some(len), Some(off), Some(frag)) = (be24(d, h + 1), be24(d, h + 6), be24(d, h + 9))
        else {
            return false;
        };
        DTLS_HELLOS.contains(&d[h])
            && off == 0
            && frag == len
            && DTLS_HANDSHAKE_HEADER + frag <= rec
    };
    yes(stun::is_dtls(d)
        && match d[0] {
            DTLS_APPLICATION_DATA => true,
            DTLS_HANDSHAKE => hello(),
            _ => false,
        })
}
pub(super) fn ssdp(flow: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(b"M-SEARCH ")
        || d.starts_with(b"NOTIFY * HTTP/1.1")
        || (either_port(flow, 1900) && d.starts_with(b"HTTP/1.1 200")))
}
/// DHCP's ports: nDPI 5.0 wants both of a flow's among them.
pub(super) const DHCP_PORTS: [u16; 2] = [67, 68];
/// DHCPv6's client and server ports (IPv6 only).
pub(super) const DHCPV6_PORTS: [u16; 2] = [546, 547];
/// DHCP's message type option and its end option.
const DHCP_MESSAGE_TYPE: u8 = 53;
const DHCP_END: u8 = 255;
/// The BOOTP header and the magic cookie, before the options.
const DHCP_OPTIONS_AT: usize = 240;

/// The options nDPI 5.0 walks (at most this many bytes of them).
const DHCP_OPTIONS_MAX: usize = 308;

/// The DHCP message type (option 53) among a message's options, walked
/// as nDPI 5.0 walks them: every code has a length (0 too), an empty
/// option or the end option stops the walk, and only the first
/// [`DHCP_OPTIONS_MAX`] bytes are read; a type above 8 does not stop it.
fn dhcp_message_type(d: &[u8]) -> Option<u8> {
    let opts = d.get(DHCP_OPTIONS_AT..)?;
    let max = opts.len().min(DHCP_OPTIONS_MAX);
    let mut at = 0;
    while at + 1 < max {
        let code = opts[at];
        if code == DHCP_END {
            return None;
        }
        let len = usize::from(opts[at + 1]).min(max - (at + 2));
        if len == 0 {
            return None;
        }
        if code == DHCP_MESSAGE_TYPE && opts[at + 2] <= 8 {
            return Some(opts[at + 2]);
        }
        at += 2 + len;
    }
    None
}

pub(super) fn dhcp(flow: &FlowCtx, d: &[u8]) -> Match {
    // Between DHCP's ports, the cookie, and a message type (up to 8)
    // among the options, as nDPI 5.0 wants.
    yes(both_ports_in(flow, &DHCP_PORTS)
        && d.len() >= 244
        && d[236..240] == DHCP_COOKIE
        && dhcp_message_type(d).is_some())
}
pub(super) fn dhcpv6(flow: &FlowCtx, d: &[u8]) -> Match {
    // Over IPv6, between its client and server ports: message types 1
    // (SOLICIT) to 13 (RELAY-REPL).
    yes(flow.ip_version == 6
        && both_ports_in(flow, &DHCPV6_PORTS)
        && flow.src_port != flow.dst_port
        && d.first().is_some_and(|t| (1..=13).contains(t)))
}
pub(super) fn ntp(_: &FlowCtx, d: &[u8]) -> Match {
    // nDPI 5.0 (on the row's port 123): a version of 0-4 in the first byte,
    // whatever the length (measured: one byte is enough; version 5-7 is
    // not NTP).
    yes(d.first().is_some_and(|b| (b >> 3) & 7 <= 4))
}
/// The NetBIOS name and datagram services' ports.
const NBNS_PORT: u16 = 137;
const NBDS_PORT: u16 = 138;
/// The shortest name service message nDPI 5.0 reads (a header and a
/// 34-byte encoded name with its type and class).
const NBNS_MIN: usize = 50;

pub(super) fn netbios_ns(flow: &FlowCtx, d: &[u8]) -> Match {
    // To the name service's port, a message whose flags and record counts
    // are one of the forms nDPI 5.0 knows (queries, registrations,
    // releases, answers, and the exact query or answer of one name).
    let (Some(flags), Some(qd), Some(an), Some(ns), Some(ar)) =
        (be16(d, 2), be16(d, 4), be16(d, 6), be16(d, 8), be16(d, 10))
    else {
        return Match::No;
    };
    if flow.dst_port != NBNS_PORT || d.len() < NBNS_MIN {
        return Match::No;
    }
    // The type after the first name (its length byte, the name, its end).
    let name_end = 12 + 1 + usize::from(d[12]);
    let rr_type = be16(d, name_end + 1);
    let counts = (qd, an, ns, ar);
    let one_query = counts == (1, 0, 0, 0);
    yes((flags == 0 && one_query)
        || (flags & 0x8710 == 0x10 && (qd, an, ns) == (1, 0, 0))
        || (flags >> 8 == 0x80 && counts == (1, 0, 0, 1))
        || (flags == 0x4000 && counts == (1, 0, 0, 1))
        || (matches!(flags, 0x8400 | 0x8500) && counts == (0, 1, 0, 0))
        || (matches!(flags, 0x2900 | 0x2910) && counts == (1, 0, 0, 1))
        || (flags == 0xad86 && counts == (0, 1, 0, 0))
        || (flags == 0x0110 && one_query)
        || (flags & 0xf800 == 0
            && one_query
            && d.len() == name_end + 1 + 4
            && d.get(name_end) == Some(&0)
            && rr_type == Some(0x20)
            && be16(d, name_end + 3) == Some(1))
        || (flags & 0xf800 == 0x8000
            && match counts {
                (0, 1, 0, 0) => rr_type == Some(0x20) && be16(d, name_end + 3) == Some(1),
                (0, 0, 0, 0) => rr_type == Some(0x0a),
                (0, 0, 1, 1) => rr_type == Some(0x02),
                _ => false,
            }))
}
pub(super) fn netbios_dgm(flow: &FlowCtx, d: &[u8]) -> Match {
    // To the datagram service's port: datagram types 0x10-0x16, the
    // length of what follows the header, and the source address field the
    // packet's own (nDPI 5.0's checks). One carrying SMB (browser
    // announcements) is SMBv1.
    let from_itself = src_v4(flow).is_some_and(|a| d.get(4..8) == Some(&a[..]));
    if !(flow.dst_port == NBDS_PORT
        && d.len() >= 14
        && (0x10..=0x16).contains(&d[0])
        && be16(d, 10).map(|l| l + 14) == Some(d.len())
        && from_itself)
    {
        return Match::No;
    }
    if d.windows(4).any(|w| w == b"\xffSMB") {
        Match::WithApp(Alt::SmbV1)
    } else {
        Match::Yes
    }
}
pub(super) fn kerberos_udp(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.first().is_some_and(|t| KRB_TAGS.contains(t)))
}
/// BitTorrent's handshake string, which nDPI also looks for inside UDP.
const BITTORRENT_PROTOCOL: &[u8] = b"BitTorrent protocol";
/// UDP ports nDPI's BitTorrent rule leaves to others: Teredo, CAPWAP.
const BITTORRENT_UDP_OTHERS: [u16; 3] = [3544, 5246, 5247];
/// Keys of the DHT's bencoded messages (BEP 5) nDPI looks for, by their
/// first byte (one pass over the payload finds them all).
const BITTORRENT_DHT_COLON_KEYS: [&[u8]; 4] = [
    b":target20:",
    b":find_node1:",
    b":info_hash20:",
    b":filter64",
];
const BITTORRENT_DHT_DICT_KEYS: [&[u8]; 2] = [b"d1:ad2:id20:", b"d1:rd2:id20:"];
/// uTP (BEP 29): header length, version, and the types nDPI reads.
const UTP_HEADER_LEN: usize = 20;
const UTP_VERSION: u8 = 1;
const UTP_ST_DATA: u8 = 0;
const UTP_ST_SYN: u8 = 4;
/// uTP DATA is a weak sign: nDPI names it from the flow's third packet on.
const UTP_DATA_PACKETS: u8 = 3;

/// `d` up to its first zero byte: nDPI's substring search (`ndpi_strnstr`)
/// reads a payload as a C string.
fn c_str(d: &[u8]) -> &[u8] {
    d.iter().position(|b| *b == 0).map_or(d, |n| &d[..n])
}

/// The handshake's protocol string in `d` read as a C string.
fn bittorrent_string(d: &[u8]) -> bool {
    c_str(d)
        .windows(BITTORRENT_PROTOCOL.len())
        .any(|w| w == BITTORRENT_PROTOCOL)
}

/// A DHT key or the handshake's string in `d` read as a C string.
fn bittorrent_dht_key(d: &[u8]) -> bool {
    let s = c_str(d);
    (0..s.len()).any(|i| {
        let rest = &s[i..];
        match s[i] {
            b':' => BITTORRENT_DHT_COLON_KEYS
                .iter()
                .any(|k| rest.starts_with(k)),
            b'd' => BITTORRENT_DHT_DICT_KEYS.iter().any(|k| rest.starts_with(k)),
            b'B' => rest.starts_with(BITTORRENT_PROTOCOL),
            _ => false,
        }
    })
}

/// A uTP version 1 packet as nDPI checks it: `Some(true)` for DATA.
fn utp_v1(d: &[u8]) -> Option<bool> {
    if d.len() < UTP_HEADER_LEN {
        return None;
    }
    let (kind, version, first_ext) = (d[0] >> 4, d[0] & 0x0f, d[1]);
    if version != UTP_VERSION || kind > UTP_ST_SYN || first_ext > 2 {
        return None;
    }
    // Extensions: a type byte (at most 2, at most 4 of them) and a length.
    let (mut at, mut ext, mut count) = (UTP_HEADER_LEN, first_ext, 0);
    while ext != 0 && at + 1 < d.len() {
        ext = d[at];
        count += 1;
        if ext > 2 || count > 4 {
            return None;
        }
        at += 2 + usize::from(d[at + 1]);
    }
    if ext != 0 {
        return None;
    }
    let header_only = d.len() == at;
    let (conn, ts, tdiff, window) = (be16(d, 2)?, be32(d, 4)?, be32(d, 8)?, be32(d, 12)?);
    let bad = (kind == UTP_ST_SYN && (tdiff != 0 || !header_only))
        || (kind == UTP_ST_DATA && header_only)
        || conn == 0
        || ts == 0
        || (window == 0 && !header_only);
    (!bad).then_some(kind == UTP_ST_DATA)
}

pub(super) fn bittorrent_udp(flow: &FlowCtx, d: &[u8]) -> Match {
    // nDPI 5.0: high ports only, not Teredo's or CAPWAP's, not broadcast.
    if flow.src_port < 1024
        || flow.dst_port < 1024
        || BITTORRENT_UDP_OTHERS.contains(&flow.src_port)
        || BITTORRENT_UDP_OTHERS.contains(&flow.dst_port)
        || (flow.ip_version == 4
            && (flow.dst[..4] == [255, 255, 255, 255] || flow.src[..4] == [255, 255, 255, 255]))
    {
        return Match::No;
    }
    if (d.len() > 22 && d.starts_with(b"BT-SEARCH * HTTP/1.1\r\n"))
        || (d.len() > 12 && d.starts_with(b"d1:ad2:id20:"))
    {
        return Match::Yes;
    }
    if d.len() >= UTP_HEADER_LEN {
        match utp_v1(d) {
            Some(false) => return Match::Yes,
            Some(true) if bittorrent_string(&d[UTP_HEADER_LEN..]) => {
                return Match::Yes;
            }
            Some(true) => return Match::Count(UTP_DATA_PACKETS),
            None => {}
        }
        // (DATA as three packets of evidence: nDPI names any DATA packet
        // once the flow has more than two, whatever the earlier ones were.)
        // nDPI's uTP version 0 check compares a timestamp with the
        // packet's time, which rules do not see; version 0 left 2011's
        // clients.
        if d[..5] == [0x60, 0, 0, 0, 0] || bittorrent_string(&d[UTP_HEADER_LEN..]) {
            return Match::Yes;
        }
    }
    yes(d.len() > 19 && bittorrent_dht_key(d))
}
pub(super) fn dropbox(flow: &FlowCtx, d: &[u8]) -> Match {
    // LAN sync, as nDPI checks it: to port 17500; from 17500 too, the
    // discovery broadcast names a host id; from another port, the sync
    // bus's messages name their channel.
    if d.len() <= 10 || flow.dst_port != DROPBOX_LAN_SYNC_PORT {
        return Match::No;
    }
    let needle: &[u8] = if flow.src_port == DROPBOX_LAN_SYNC_PORT {
        b"\"host_int\""
    } else {
        b"Bus17Cmd"
    };
    yes(d.windows(needle.len()).any(|w| w == needle))
}
/// SIP request methods nDPI 5.0 names, each followed by a space and a
/// `sip` URI (`sip:`, `sips:`), letter case aside.
const SIP_METHODS: [&[u8]; 13] = [
    b"INVITE",
    b"REGISTER",
    b"OPTIONS",
    b"BYE",
    b"ACK",
    b"CANCEL",
    b"NOTIFY",
    b"SUBSCRIBE",
    b"PUBLISH",
    b"MESSAGE",
    b"INFO",
    b"REFER",
    b"PRACK",
];
/// The methods nDPI 5.0 also takes with a `tel` URI.
const SIP_TEL_METHODS: [&[u8]; 3] = [b"ACK", b"CANCEL", b"OPTIONS"];
/// The shortest message nDPI 5.0 reads as SIP.
const SIP_MIN_LEN: usize = 30;
/// A keep-alive nDPI 5.0 names SIP on its own.
const SIP_HELLO: &[u8] = b"hello";
/// First letters (upper case) of the methods and of `SIP/2.0`: most
/// payloads are refused on their first byte.
const SIP_INITIALS: &[u8] = b"IROBACNSPM";

pub(super) fn sip(_: &FlowCtx, d: &[u8]) -> Match {
    // nDPI 5.0, over UDP and TCP alike: a status line or a request line of
    // a known method with a sip URI (ACK, CANCEL, OPTIONS also tel), at
    // least 30 bytes, letter case aside; or its five-byte keep-alive.
    if d == SIP_HELLO {
        return Match::Yes;
    }
    if d.len() < SIP_MIN_LEN || !SIP_INITIALS.contains(&d[0].to_ascii_uppercase()) {
        return Match::No;
    }
    let request = |m: &[u8], scheme: &[u8]| {
        d[..m.len()].eq_ignore_ascii_case(m)
            && d[m.len()] == b' '
            && d[m.len() + 1..m.len() + 4].eq_ignore_ascii_case(scheme)
    };
    yes(d[..7].eq_ignore_ascii_case(b"SIP/2.0")
        || SIP_METHODS.iter().any(|m| request(m, b"sip"))
        || SIP_TEL_METHODS.iter().any(|m| request(m, b"tel")))
}
/// Handshake messages nDPI wants (an initiation and its response, or a
/// retried initiation), and transport messages (from both sides).
const WIREGUARD_HANDSHAKES: u8 = 2;
const WIREGUARD_TRANSPORTS: u8 = 4;

pub(super) fn wireguard(_: &FlowCtx, d: &[u8]) -> Match {
    // Message type 1-4, three reserved zero bytes, fixed sizes for 1-3.
    if d.len() < 32 || d[1..4] != [0, 0, 0] {
        return Match::No;
    }
    // nDPI 5.0 also takes TunnelBear's larger initiation (204 bytes) and
    // names its larger response (100) TunnelBear's.
    match (d[0], d.len()) {
        (2, 100) => Match::WithApp(Alt::TunnelBear),
        (1, 148 | 204) | (2, 92) | (3, 64) => Match::Count(WIREGUARD_HANDSHAKES),
        (4, n) if n.is_multiple_of(16) => Match::BothWays(WIREGUARD_TRANSPORTS),
        _ => Match::No,
    }
}
/// Spotify's LAN discovery port, on both sides of its datagrams.
pub(super) const SPOTIFY_PORT: u16 = 57621;

pub(super) fn spotify(flow: &FlowCtx, d: &[u8]) -> Match {
    yes(flow.src_port == SPOTIFY_PORT && flow.dst_port == SPOTIFY_PORT && d.starts_with(b"SpotUdp"))
}
/// EAQ datagrams nDPI 5.0 wants (each 16 bytes) before it names the flow.
const EAQ_DATAGRAMS: u8 = 4;

pub(super) fn eaq(_: &FlowCtx, d: &[u8]) -> Match {
    // (nDPI also wants each sequence number the last one or the next.)
    if d.len() == 16 {
        Match::Run(EAQ_DATAGRAMS)
    } else {
        Match::No
    }
}
pub(super) fn ethereum(_: &FlowCtx, d: &[u8]) -> Match {
    // Node discovery v4: hash, signature, then a packet type 1-6.
    yes(d.len() >= 98 && (1..=6).contains(&d[97]))
}

/// Ethereum's RLPx handshake (devp2p over TCP): an ECIES-encrypted auth
/// message (EIP-8: a 2-byte size, then the ephemeral key's 0x04 marker) of
/// 301 to 599 bytes, sent to an Ethereum port (30300-30305), as nDPI
/// requires: the marker alone is too weak a sign elsewhere.
pub(super) fn ethereum_rlpx(flow: &FlowCtx, d: &[u8]) -> Match {
    yes((301..600).contains(&d.len())
        && d[2] == ECIES_KEY_MARKER
        && (ETHEREUM_TCP_PORTS.0..=ETHEREUM_TCP_PORTS.1).contains(&flow.dst_port))
}
