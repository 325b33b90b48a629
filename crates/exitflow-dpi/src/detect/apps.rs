//! Applications, games, peer-to-peer, messaging, cloud and network
//! services, recognised from their message headers.
use super::{Match, be16, be32, either_port, le32, starts_ci, yes};
use crate::FlowCtx;

/// Gnutella 0.6 descriptor header: 16-byte GUID, type, TTL, hops, LE length.
const GNUTELLA_HEADER: usize = 23;
/// Gnutella descriptor types (ping, pong, bye, RUDP, push, vendor, query, query hit).
const GNUTELLA_TYPES: [u8; 10] = [0x00, 0x01, 0x02, 0x31, 0x32, 0x40, 0x41, 0x44, 0x80, 0x81];
/// PPTP's magic cookie.
const PPTP_COOKIE: u32 = 0x1a2b_3c4d;
/// KCP segment header and commands (push, ack, window probe, window tell).
const KCP_HEADER: usize = 24;
const KCP_COMMANDS: std::ops::RangeInclusive<u8> = 81..=84;
/// HTTP/2 connection preface (RFC 9113 §3.4).
const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// MGCP command verbs (RFC 3435).
const MGCP_VERBS: [&[u8]; 9] = [
    b"AUEP ", b"AUCX ", b"CRCX ", b"DLCX ", b"EPCF ", b"MDCX ", b"NTFY ", b"RQNT ", b"RSIP ",
];

pub(super) fn gnutella_tcp(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(b"GNUTELLA CONNECT/") || d.starts_with(b"GNUTELLA/") || d.starts_with(b"GND\x01"))
}

pub(super) fn gnutella_udp(_: &FlowCtx, d: &[u8]) -> Match {
    // Gnutella 2: "GND", flags, sequence, part n of count (1 <= n <= count).
    let g2 = d.len() >= 8 && d.starts_with(b"GND") && d[6] >= 1 && d[6] <= d[7];
    // Gnutella 0.6 over UDP: a descriptor whose length is the rest of the datagram.
    let g1 = d.len() >= GNUTELLA_HEADER
        && GNUTELLA_TYPES.contains(&d[16])
        && u16::from(d[17]) + u16::from(d[18]) <= 16
        && le32(d, 19) == Some((d.len() - GNUTELLA_HEADER) as u32);
    yes(g2 || g1)
}

pub(super) fn alicloud(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.len() >= 8 && d.starts_with(&[0xce, 0xfa, 0xbe, 0xba]))
}

pub(super) fn elasticsearch(_: &FlowCtx, d: &[u8]) -> Match {
    // Transport protocol: "ES", a message length, then request id and status.
    yes(d.len() >= 19 && d.starts_with(b"ES") && be32(d, 2).is_some_and(|l| l + 6 <= d.len() + 65_536 && l >= 13))
}

pub(super) fn gearman(_: &FlowCtx, d: &[u8]) -> Match {
    // Binary packets: "\0REQ"/"\0RES", type 1-42, data length.
    yes(d.len() >= 12
        && (d.starts_with(b"\0REQ") || d.starts_with(b"\0RES"))
        && be32(d, 4).is_some_and(|t| (1..=42).contains(&t))
        && be32(d, 8).is_some_and(|l| l + 12 <= d.len() + 65_536))
}

pub(super) fn kcp(_: &FlowCtx, d: &[u8]) -> Match {
    // One or more segments: conversation, command, fragment, window,
    // timestamp, sequence, unacknowledged, LE data length.
    if d.len() < KCP_HEADER || !KCP_COMMANDS.contains(&d[4]) {
        return Match::No;
    }
    let conv = &d[..4];
    let mut at = 0;
    while at + KCP_HEADER <= d.len() {
        let Some(len) = le32(d, at + 20) else {
            return Match::No;
        };
        if &d[at..at + 4] != conv || !KCP_COMMANDS.contains(&d[at + 4]) {
            return Match::No;
        }
        at += KCP_HEADER + len as usize;
    }
    yes(at == d.len())
}

pub(super) fn mgcp(_: &FlowCtx, d: &[u8]) -> Match {
    let line = d.split(|b| *b == b'\n').next().unwrap_or(d);
    let has_version = line.windows(5).any(|w| w == b"MGCP ");
    yes(MGCP_VERBS.iter().any(|v| d.starts_with(v)) && has_version)
}

pub(super) fn mumble_ping(flow: &FlowCtx, d: &[u8]) -> Match {
    // Server list ping: 4 zero bytes and an 8-byte ident; the answer is the
    // version (1.x.y), the ident and three counters.
    let ping = d.len() == 12 && be32(d, 0) == Some(0);
    let pong = d.len() == 24 && d[0] == 0 && d[1] == 1;
    yes((ping || pong) && either_port(flow, 64738))
}

pub(super) fn nano(_: &FlowCtx, d: &[u8]) -> Match {
    // "R" + network letter, max/using/min versions, message type 2-0x15.
    yes(d.len() >= 8
        && d[0] == b'R'
        && matches!(d[1], b'A' | b'B' | b'C' | b'X')
        && d[2] >= d[3]
        && d[3] >= d[4]
        && d[2] < 0x40
        && (2..=0x15).contains(&d[5]))
}

pub(super) fn oicq(_: &FlowCtx, d: &[u8]) -> Match {
    // QQ's UDP protocol: 0x02, version, command, sequence, ..., 0x03.
    yes(d.len() >= 12
        && d[0] == 0x02
        && d[d.len() - 1] == 0x03
        && be16(d, 3).is_some_and(|c| c > 0 && c < 0x1000))
}

pub(super) fn openflow(_: &FlowCtx, d: &[u8]) -> Match {
    // Version 1.0-1.5 (1-6), message type < 36, length of the message.
    yes(d.len() >= 8 && (1..=6).contains(&d[0]) && d[1] < 36 && be16(d, 2).is_some_and(|l| l >= 8 && l <= d.len()))
}

pub(super) fn pfcp(_: &FlowCtx, d: &[u8]) -> Match {
    // Version 1, message type (node 1-15, session 50-57), length after 4 bytes.
    yes(d.len() >= 8
        && d[0] >> 5 == 1
        && matches!(d[1], 1..=15 | 50..=57)
        && be16(d, 2).map(|l| l + 4) == Some(d.len()))
}

pub(super) fn pptp(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.len() >= 12 && be16(d, 0) == Some(d.len()) && be16(d, 2) == Some(1) && be32(d, 4) == Some(PPTP_COOKIE as usize))
}

pub(super) fn gtp(flow: &FlowCtx, d: &[u8]) -> Match {
    // GTPv1/v2 header: version, protocol-type bit, message type, length of
    // what follows the mandatory header (8 bytes in v1, 4 in v2). GTP'
    // (charging, port 3386) has protocol type 0 and a 6-byte header.
    if d.len() < 8 {
        return Match::No;
    }
    let version = d[0] >> 5;
    let pt = d[0] & 0x10 != 0;
    let len = be16(d, 2).unwrap_or(0);
    let ok = match (version, pt) {
        (1, true) => len + 8 == d.len(),
        (2, _) => len + 4 == d.len(),
        (0..=2, false) if either_port(flow, 3386) => len + 6 == d.len() || len + 20 == d.len(),
        _ => false,
    };
    if !ok {
        return Match::No;
    }
    if !pt && version < 2 {
        Match::WithApp("GTP_PRIME")
    } else if either_port(flow, 2152) {
        Match::WithApp("GTP_U")
    } else if either_port(flow, 2123) {
        Match::WithApp("GTP_C")
    } else {
        Match::Yes
    }
}

pub(super) fn http2(_: &FlowCtx, d: &[u8]) -> Match {
    let n = d.len().min(HTTP2_PREFACE.len());
    yes(n >= 16 && d[..n] == HTTP2_PREFACE[..n])
}

pub(super) fn nntp_client(_: &FlowCtx, d: &[u8]) -> Match {
    yes(starts_ci(d, b"MODE READER") || starts_ci(d, b"AUTHINFO USER") || starts_ci(d, b"ARTICLE <"))
}

pub(super) fn nntp_server(flow: &FlowCtx, d: &[u8]) -> Match {
    // Greeting 200 (posting allowed) or 201, naming NNTP or news, or on the NNTP ports.
    if !(d.starts_with(b"200 ") || d.starts_with(b"201 ")) {
        return Match::No;
    }
    let text = &d[..d.len().min(200)];
    let has = |w: &[u8]| text.windows(w.len()).any(|x| x.eq_ignore_ascii_case(w));
    yes(has(b"NNTP") || has(b"news") || either_port(flow, 119) || either_port(flow, 563))
}

pub(super) fn steam(_: &FlowCtx, d: &[u8]) -> Match {
    // Steam's UDP connection protocol ("VS01") and its in-home streaming discovery.
    yes(d.len() >= 8 && (d.starts_with(b"VS01") || d.starts_with(&[0xff, 0xff, 0xff, 0xff, 0x21, 0x4c, 0x5f, 0xa0])))
}

pub(super) fn source_engine(_: &FlowCtx, d: &[u8]) -> Match {
    // Source engine server queries: four 0xff, then the query type.
    yes(d.len() >= 5
        && d.starts_with(&[0xff; 4])
        && matches!(
            d[4],
            b'T' | b'U' | b'V' | b'W' | b'i' | b'I' | b'A' | b'D' | b'E' | b'q' | b'j'
        ))
}

pub(super) fn discord_udp(_: &FlowCtx, d: &[u8]) -> Match {
    // Voice: the 74-byte IP discovery (type 1 request / 2 response, length 70),
    // and the keep-alive magic of its media relays.
    let discovery = d.len() == 74 && matches!(be16(d, 0), Some(1 | 2)) && be16(d, 2) == Some(70);
    yes(discovery || (d.len() >= 8 && d.starts_with(&[0x13, 0x37, 0xca, 0xfe])))
}

pub(super) fn rsh(_: &FlowCtx, d: &[u8]) -> Match {
    // rsh/rexec: the client's first bytes are an ASCII port number for
    // stderr (or nothing) ended by NUL.
    let Some(nul) = d.iter().position(|b| *b == 0) else {
        return Match::No;
    };
    yes(nul <= 5 && d[..nul].iter().all(u8::is_ascii_digit))
}

pub(super) fn uftp(_: &FlowCtx, d: &[u8]) -> Match {
    // UFTP: version 0x40 or 0x50 (4.x, 5.x), a message function 1-17, then a
    // header length in 32-bit words.
    yes(d.len() >= 16 && matches!(d[0], 0x30 | 0x40 | 0x50) && (1..=17).contains(&d[1]))
}

pub(super) fn flute(_: &FlowCtx, d: &[u8]) -> Match {
    // ALC/LCT (RFC 5651): version 1, congestion-control flag field, header
    // length in 32-bit words that fits, codepoint.
    yes(d.len() >= 16 && d[0] >> 4 == 1 && usize::from(d[2]) * 4 <= d.len() && d[2] >= 4)
}

pub(super) fn ripe_atlas(_: &FlowCtx, d: &[u8]) -> Match {
    // Atlas probes' UDP measurements start with this tag.
    yes(d.starts_with(b"MGLNDD_"))
}

pub(super) fn zug(_: &FlowCtx, d: &[u8]) -> Match {
    // ZUG consensus messages: length of the datagram, then "UG".
    yes(d.len() >= 8 && be16(d, 0) == Some(d.len()) && &d[2..4] == b"UG")
}

pub(super) fn xiaomi(_: &FlowCtx, d: &[u8]) -> Match {
    // Xiaomi's push channel: magic 0xc2fe, version, a 32-bit body length.
    yes(d.len() >= 12 && d.starts_with(&[0xc2, 0xfe]) && be32(d, 4).map(|l| l + 12) == Some(d.len()))
}

pub(super) fn spotify_tcp(_: &FlowCtx, d: &[u8]) -> Match {
    // Access point handshake: version 3 or 4, a 32-bit length of the message.
    yes(d.len() >= 16 && d[0] == 0 && matches!(d[1], 3 | 4) && be32(d, 2) == Some(d.len()))
}

/// DCE/RPC connectionless (version 4) request/response/ping.
const DCERPC_CL_VERSION: u8 = 4;
/// PROFINET IO's object/interface UUIDs (DEA0xxxx-6C97-11D1-8271-...) in
/// little-endian order, after their first two bytes.
const PNIO_UUID_TAIL: [u8; 8] = [0xa0, 0xde, 0x97, 0x6c, 0xd1, 0x11, 0x82, 0x71];

pub(super) fn dcerpc_udp(_: &FlowCtx, d: &[u8]) -> Match {
    if !(d.len() >= 80 && d[0] == DCERPC_CL_VERSION && d[1] <= 10 && d[3] == 0) {
        return Match::No;
    }
    let pnio = [10usize, 26].iter().any(|&at| d[at..at + 8] == PNIO_UUID_TAIL);
    if pnio { Match::WithApp("PROFINET_IO") } else { Match::Yes }
}

pub(super) fn rmcp(_: &FlowCtx, d: &[u8]) -> Match {
    // RMCP: version 6, reserved 0, sequence, class ASF (6), IPMI (7) or OEM (8).
    yes(d.len() >= 4 && d[0] == 0x06 && d[1] == 0 && matches!(d[3] & 0x7f, 6..=8))
}
