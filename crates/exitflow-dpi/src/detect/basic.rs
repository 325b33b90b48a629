//! Detectors of protocols recognised by one short test, used by the
//! tables ([`super::TCP`], [`super::UDP`]).
use super::*;
use crate::FlowCtx;

pub(super) fn ssh(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(b"SSH-"))
}
pub(super) fn bittorrent_tcp(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.len() >= 20 && d[0] == 19 && &d[1..20] == b"BitTorrent protocol")
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
    // "WA" and a version, or "ED" (the Noise handshake).
    yes(d.len() >= 4 && (d.starts_with(b"WA") && d[2] <= 9 || d.starts_with(b"ED\x00\x01")))
}
pub(super) fn fix(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(b"8=FIX"))
}
pub(super) fn bitcoin(_: &FlowCtx, d: &[u8]) -> Match {
    // Main and test network magics.
    yes(d.starts_with(&[0xf9, 0xbe, 0xb4, 0xd9]) || d.starts_with(&[0x0b, 0x11, 0x09, 0x07]))
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
pub(super) fn smtp_client(_: &FlowCtx, d: &[u8]) -> Match {
    yes(starts_ci(d, b"EHLO ") || starts_ci(d, b"HELO "))
}
pub(super) fn xmpp(_: &FlowCtx, d: &[u8]) -> Match {
    // An XML stream opening (not any XML document: SOAP is also "<?xml").
    if d.first() != Some(&b'<') {
        return Match::No;
    }
    let head = &d[..d.len().min(200)];
    if !(head.windows(14).any(|w| w == b"<stream:stream")
        || (d.starts_with(b"<?xml") && head.windows(6).any(|w| w == b"jabber")))
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
pub(super) fn irc_client(_: &FlowCtx, d: &[u8]) -> Match {
    // nDPI 5.0: a registration (NICK and USER, a PASS before them) in one
    // packet of whole lines; a lone USER is POP3's or FTP's word too.
    let line = |w: &[u8]| d.split(|b| *b == b'\n').any(|l| l.starts_with(w));
    yes(d.ends_with(b"\r\n")
        && [&b"NICK "[..], b"USER ", b"PASS "]
            .iter()
            .any(|w| d.starts_with(w))
        && line(b"NICK ")
        && line(b"USER "))
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
    // SOCKS 5 greeting (methods count) or SOCKS 4 CONNECT/BIND.
    yes(d.len() >= 3
        && ((d[0] == 5 && usize::from(d[1]) + 2 == d.len())
            || (d[0] == 4 && matches!(d[1], 1 | 2))))
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
pub(super) fn openvpn_tcp(_: &FlowCtx, d: &[u8]) -> Match {
    openvpn_reset(d, &OPENVPN_CLIENT_RESETS)
}
pub(super) fn openvpn_tcp_server(_: &FlowCtx, d: &[u8]) -> Match {
    openvpn_reset(d, &OPENVPN_SERVER_RESETS)
}
pub(super) fn telnet(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.len() >= 3 && d[0] == TELNET_IAC && matches!(d[1], 0xfb..=0xfe))
}
pub(super) fn banner_220(flow: &FlowCtx, d: &[u8]) -> Match {
    // "220 " greets both FTP and SMTP clients: the text or the port tells.
    if !(d.starts_with(b"220") && d.get(3).is_some_and(|c| *c == b' ' || *c == b'-')) {
        return Match::No;
    }
    let text = &d[..d.len().min(200)];
    let has = |w: &[u8]| text.windows(w.len()).any(|x| x.eq_ignore_ascii_case(w));
    if either_port(flow, 21) || has(b"FTP") {
        Match::Yes
    } else if has(b"SMTP") || has(b"mail") || either_port(flow, 25) || either_port(flow, 587) {
        Match::As(Alt::Smtp)
    } else {
        Match::No
    }
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
pub(super) fn vnc(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(b"RFB 00"))
}
pub(super) fn irc_server(_: &FlowCtx, d: &[u8]) -> Match {
    // A prefixed server line: the welcome (001) or a notice.
    yes(d.starts_with(b":")
        && d.windows(5)
            .take(80)
            .any(|w| w == b" 001 " || w == b"NOTIC"))
}
pub(super) fn imap(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(b"* OK"))
}

pub(super) fn netbios_session_smb(_: &FlowCtx, d: &[u8]) -> Match {
    // A NetBIOS session message (type 0, 17-bit length) carrying SMB: nDPI
    // names it NetBIOS with the SMB version as the application.
    if d.len() < 8
        || d[0] != 0
        || (usize::from(d[1] & 1) << 16 | be16(d, 2).unwrap_or(0)) + 4 < d.len()
    {
        return Match::No;
    }
    match &d[4..8] {
        b"\xffSMB" => Match::WithApp(Alt::SmbV1),
        b"\xfeSMB" | b"\xfdSMB" => Match::WithApp(Alt::SmbV23),
        _ => Match::No,
    }
}
pub(super) fn dtls(_: &FlowCtx, d: &[u8]) -> Match {
    // A DTLS record, not empty, whose length fits the datagram.
    yes(stun::is_dtls(d) && be16(d, 11).is_some_and(|l| l > 0 && l + 13 <= d.len()))
}
pub(super) fn ssdp(flow: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(b"M-SEARCH ")
        || d.starts_with(b"NOTIFY * HTTP/1.1")
        || (either_port(flow, 1900) && d.starts_with(b"HTTP/1.1 200")))
}
pub(super) fn dhcp(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.len() >= 240 && d[236..240] == DHCP_COOKIE)
}
pub(super) fn dhcpv6(_: &FlowCtx, d: &[u8]) -> Match {
    // Message types 1 (SOLICIT) to 13 (RELAY-REPL).
    yes(d.first().is_some_and(|t| (1..=13).contains(t)))
}
pub(super) fn ntp(_: &FlowCtx, d: &[u8]) -> Match {
    // Version 1-4 in the first byte.
    yes(d.len() >= 48 && (1..=4).contains(&((d[0] >> 3) & 7)))
}
pub(super) fn netbios_ns(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.len() >= 12)
}
pub(super) fn netbios_dgm(_: &FlowCtx, d: &[u8]) -> Match {
    // Datagram types 0x10-0x16; one carrying SMB (browser announcements) is SMBv1.
    if !(d.len() >= 14 && (0x10..=0x16).contains(&d[0])) {
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
pub(super) fn bittorrent_dht(_: &FlowCtx, d: &[u8]) -> Match {
    // A bencoded dictionary with a message type or an announce.
    yes(d.starts_with(b"d1:")
        && (d.windows(3).any(|w| w == b"1:y") || d.windows(4).any(|w| w == b"1:ad")))
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
pub(super) fn sip(_: &FlowCtx, d: &[u8]) -> Match {
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
pub(super) fn spotify(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(b"SpotUdp"))
}
pub(super) fn eaq(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.len() == 16)
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
