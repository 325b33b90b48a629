//! Applications, games, peer-to-peer, messaging, cloud and network
//! services, recognised from their message headers.
use super::{Alt, Match, be16, be32, either_port, first, le16, le32, starts_ci, yes};
use crate::FlowCtx;

/// Gnutella 0.6 descriptor header: 16-byte GUID, type, TTL, hops, LE length.
const GNUTELLA_HEADER: usize = 23;
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

/// Nintendo's PIA datagrams: magic and version 2.
pub(super) const NINTENDO_MAGIC: &[u8] = &[0x32, 0xab, 0x98, 0x64, 0x02];
/// nDPI wants a PIA datagram longer than this.
const NINTENDO_MIN_LEN: usize = 48;

pub(super) fn nintendo(_: &FlowCtx, d: &[u8]) -> Match {
    // nDPI 5.0: the flow's first payload only, either direction, any port.
    first(d.len() > NINTENDO_MIN_LEN && d.starts_with(NINTENDO_MAGIC))
}

/// The handshake a Gnutella servent opens a connection with.
const GNUTELLA_CONNECT: &[u8] = b"GNUTELLA CONNECT/";
/// Gnutella 2 over UDP: "GND" and the flags nDPI 5.0 accepts (deflate).
const GNUTELLA2_UDP: &[u8] = b"GND\x10";
/// gtk-gnutella's vendor code in its DHT messages, and the GGEP query-key
/// ("QK") extension a ping may end with.
const GNUTELLA_GTKG: &[u8] = b"GTKG";
const GNUTELLA_GGEP_QK: &[u8] = &[0x82, 0x51, 0x4b, 0x40];

pub(super) fn gnutella_tcp(_: &FlowCtx, d: &[u8]) -> Match {
    // nDPI 5.0: the client's CONNECT only (an answer alone is not named).
    yes(d.len() > GNUTELLA_CONNECT.len() && d.starts_with(GNUTELLA_CONNECT))
}

pub(super) fn gnutella_udp(_: &FlowCtx, d: &[u8]) -> Match {
    // nDPI 5.0: Gnutella 2's compressed packets; a Gnutella 0.6 descriptor
    // whose length is the rest of the datagram, from gtk-gnutella's DHT or
    // a ping asking for a query key.
    let g1 = d.len() >= GNUTELLA_HEADER
        && le32(d, 19) == Some((d.len() - GNUTELLA_HEADER) as u32)
        && (d.get(24..28) == Some(GNUTELLA_GTKG) || d.ends_with(GNUTELLA_GGEP_QK));
    yes(d.starts_with(GNUTELLA2_UDP) || g1)
}

pub(super) fn alicloud(_: &FlowCtx, d: &[u8]) -> Match {
    // Magic, then the length of what follows (a lone header announces it).
    let Some(len) = be32(d, 4) else {
        return Match::No;
    };
    yes(d.starts_with(&[0xce, 0xfa, 0xbe, 0xba])
        && ((d.len() == 8 && len > 0) || len + 8 == d.len()))
}

pub(super) fn elasticsearch(_: &FlowCtx, d: &[u8]) -> Match {
    // Transport protocol: "ES", then a message length the segment holds
    // (nDPI 5.0 adds the header in 32 bits: the ping's length, all ones,
    // wraps to the header alone).
    let Some(len) = be32(d, 2) else {
        return Match::No;
    };
    yes(d.starts_with(b"ES") && (len as u32).wrapping_add(6) as usize <= d.len())
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
    if d.len() < 12 || d[4] != b' ' || !d[0].is_ascii_uppercase() {
        return Match::No;
    }
    let line = d.split(|b| *b == b'\n').next().unwrap_or(d);
    let has_version = line.windows(5).any(|w| w == b"MGCP ");
    // The message ends with its line (nDPI 5.0 wants the last byte CR or LF).
    let line_end = matches!(d.last(), Some(b'\r' | b'\n'));
    yes(MGCP_VERBS.iter().any(|v| d.starts_with(v)) && has_version && line_end)
}

pub(super) fn mumble_ping(_: &FlowCtx, d: &[u8]) -> Match {
    // Server list ping (any port): 4 zero bytes and an 8-byte ident, named
    // on the 24-byte answer (version, the ident, three counters), as nDPI
    // 5.0 (which also compares the idents).
    if d.len() == 12 && be32(d, 0) == Some(0) {
        Match::BothWays(2)
    } else {
        Match::No
    }
}
pub(super) fn mumble_pong(_: &FlowCtx, d: &[u8]) -> Match {
    if d.len() == 24 {
        Match::BothWays(2)
    } else {
        Match::No
    }
}

pub(super) fn nano(_: &FlowCtx, d: &[u8]) -> Match {
    // "RC" (live network), versions max >= using >= min (18 and later),
    // message type up to 0x0f.
    yes(d.len() > 32
        && d.starts_with(b"RC")
        && d[2] >= d[3]
        && d[3] >= d[4]
        && (18..0x40).contains(&d[4])
        && d[5] <= 0x0f)
}

pub(super) fn oicq(_: &FlowCtx, d: &[u8]) -> Match {
    // QQ's UDP protocol: 0x02, version, command, sequence (nDPI 5.0 does
    // not look for the 0x03 that ends the message).
    yes(d.len() >= 12 && d[0] == 0x02 && be16(d, 3).is_some_and(|c| c > 0 && c < 0x1000))
}

/// The one OpenFlow version byte nDPI 5.0 accepts (measured with its
/// library: 1.0-1.4 are named only by port 6653's guess).
const OPENFLOW_VERSION: u8 = 6;

pub(super) fn openflow(_: &FlowCtx, d: &[u8]) -> Match {
    // Version byte 6, message type below 36, the header's length the segment's.
    yes(d.len() >= 8 && d[0] == OPENFLOW_VERSION && d[1] < 36 && be16(d, 2) == Some(d.len()))
}

pub(super) fn pfcp(_: &FlowCtx, d: &[u8]) -> Match {
    // nDPI 5.0: a session message (its SEID flag set, no other low flag),
    // a type up to 57, the length after 4 bytes (node messages such as
    // heartbeats it does not name).
    yes(d.len() > 12
        && d[0] & 0x0f == 1
        && d[1] <= 57
        && be16(d, 2).map(|l| l + 4) == Some(d.len()))
}

pub(super) fn pptp(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.len() >= 12
        && be16(d, 0) == Some(d.len())
        && be16(d, 2) == Some(1)
        && be32(d, 4) == Some(PPTP_COOKIE as usize))
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
        Match::WithApp(Alt::GtpPrime)
    } else if either_port(flow, 2152) {
        Match::WithApp(Alt::GtpU)
    } else if either_port(flow, 2123) {
        Match::WithApp(Alt::GtpC)
    } else {
        Match::Yes
    }
}

pub(super) fn http2(_: &FlowCtx, d: &[u8]) -> Match {
    // nDPI: the whole preface, as the flow's first payload (a server that
    // speaks first, as with h2c, leaves the flow to HTTP's port guess).
    if d.starts_with(HTTP2_PREFACE) {
        Match::First
    } else {
        Match::No
    }
}

/// The shortest NNTP greeting and `AUTHINFO USER` command nDPI 5.0 reads
/// (a greeting with some text; a user name of five characters or more).
const NNTP_GREETING_MIN: usize = 11;
const NNTP_AUTHINFO_MIN: usize = 21;

pub(super) fn nntp_client(_: &FlowCtx, d: &[u8]) -> Match {
    // nDPI 5.0: the client's first command after the greeting, exactly
    // (in capitals); a client that asks for CAPABILITIES first is not named.
    let first = d == b"MODE READER\r\n"
        || d == b"HELP\r\n"
        || (d.starts_with(b"AUTHINFO USER ") && d.len() >= NNTP_AUTHINFO_MIN);
    if first { Match::Continue(2) } else { Match::No }
}

pub(super) fn nntp_server(_: &FlowCtx, d: &[u8]) -> Match {
    // The greeting, 200 (posting allowed) or 201, as the flow's first payload.
    let greeting =
        (d.starts_with(b"200 ") || d.starts_with(b"201 ")) && d.len() >= NNTP_GREETING_MIN;
    if greeting { Match::Open(2) } else { Match::No }
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
    yes(discovery || (d.len() == 8 && d.starts_with(&[0x13, 0x37, 0xca, 0xfe])))
}

pub(super) fn rsh(_: &FlowCtx, d: &[u8]) -> Match {
    // nDPI 5.0, any port: the first payload is the stderr port in ASCII
    // (its last byte, normally NUL, unread), the next the user names and
    // command, each ended by NUL (git's split pkt-line is RSH to it too).
    let port = (2..=6).contains(&d.len()) && d[..d.len() - 1].iter().all(u8::is_ascii_digit);
    if port { Match::Open(2) } else { Match::No }
}
pub(super) fn rsh_users(_: &FlowCtx, d: &[u8]) -> Match {
    // (The whole payload is read only once its end fits.)
    if d.len() < 3 || !d.ends_with(b"\0") {
        return Match::No;
    }
    let fields = d.iter().filter(|b| **b == 0).count();
    let printable = d.iter().all(|b| *b == 0 || (0x20..0x7f).contains(b));
    if fields >= 2 && printable {
        Match::Continue(2)
    } else {
        Match::No
    }
}

pub(super) fn uftp(_: &FlowCtx, d: &[u8]) -> Match {
    // UFTP 4.x or 5.x: a message function under 22, repeated as the body's
    // first byte after the 16-byte header (nDPI 5.0's checks).
    yes(d.len() > 23 && matches!(d[0], 0x40 | 0x50) && d[1] < 22 && d[15] == 0 && d[16] == d[1])
}

/// The length of an Atlas probe's tagged UDP measurement payload.
const RIPE_ATLAS_LEN: usize = 25;

pub(super) fn ripe_atlas(_: &FlowCtx, d: &[u8]) -> Match {
    // Atlas probes' UDP measurements start with this tag (nDPI 5.0 wants
    // exactly 25 bytes).
    yes(d.len() == RIPE_ATLAS_LEN && d.starts_with(b"MGLNDD"))
}

/// ZUG consensus messages' fixed opening, then the byte nDPI requires.
const ZUG_MAGIC: &[u8] = b"\0zUG";
const ZUG_FIFTH: u8 = 0x10;

pub(super) fn zug(_: &FlowCtx, d: &[u8]) -> Match {
    // nDPI's test: the four bytes "\0zUG" (a constant, not a length), then 0x10.
    yes(d.len() > ZUG_MAGIC.len() && d.starts_with(ZUG_MAGIC) && d[4] == ZUG_FIFTH)
}

pub(super) fn xiaomi(_: &FlowCtx, d: &[u8]) -> Match {
    // Xiaomi's push channel: magic 0xc2fe, version, a 32-bit body length.
    yes(d.len() >= 12
        && d.starts_with(&[0xc2, 0xfe])
        && be32(d, 4).map(|l| l + 12) == Some(d.len()))
}

pub(super) fn spotify_tcp(_: &FlowCtx, d: &[u8]) -> Match {
    // Access point handshake: version 3 or 4, a 32-bit length of the message.
    yes(d.len() >= 16 && d[0] == 0 && matches!(d[1], 3 | 4) && be32(d, 2) == Some(d.len()))
}

/// DCE/RPC connectionless (version 4) request/response/ping.
const DCERPC_CL_VERSION: u8 = 4;
/// The connectionless header's size; its fragment length is at 74.
const DCERPC_CL_HEADER: usize = 80;
/// PROFINET IO's object UUIDs (DEA00000-6C97-11D1-...): their first eight
/// bytes, in each integer representation.
const PNIO_OBJECT_LE: [u8; 8] = [0x00, 0x00, 0xa0, 0xde, 0x97, 0x6c, 0xd1, 0x11];
const PNIO_OBJECT_BE: [u8; 8] = [0xde, 0xa0, 0x00, 0x00, 0x6c, 0x97, 0x11, 0xd1];

pub(super) fn dcerpc_udp(_: &FlowCtx, d: &[u8]) -> Match {
    // nDPI 5.0: version 4, a data representation it knows (integers in
    // either order, ASCII or EBCDIC; IEEE to IBM floats), the fragment
    // length (in that order) filling the datagram.
    if !(d.len() >= DCERPC_CL_HEADER
        && d[0] == DCERPC_CL_VERSION
        && d[1] <= 10
        && d[3] <= 3
        && d[4] & 0xee == 0
        && d[5] <= 3)
    {
        return Match::No;
    }
    let little = d[4] & 0x10 != 0;
    let frag = if little { le16(d, 74) } else { be16(d, 74) };
    if frag.map(|f| f + DCERPC_CL_HEADER) != Some(d.len()) {
        return Match::No;
    }
    let object = if little {
        PNIO_OBJECT_LE
    } else {
        PNIO_OBJECT_BE
    };
    if d[8..16] == object {
        Match::WithApp(Alt::ProfinetIo)
    } else {
        Match::Yes
    }
}

pub(super) fn rmcp(_: &FlowCtx, d: &[u8]) -> Match {
    // RMCP: version 6, reserved 0, sequence, class ASF (6), IPMI (7) or OEM (8).
    yes(d.len() >= 4 && d[0] == 0x06 && d[1] == 0 && matches!(d[3] & 0x7f, 6..=8))
}

pub(super) fn avast(_: &FlowCtx, d: &[u8]) -> Match {
    // Avast's own TCP protocol: "NOSA" and the length of the message.
    yes(d.len() >= 6 && d.starts_with(b"NOSA") && be16(d, 4) == Some(d.len()))
}

pub(super) fn ultrasurf(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(&[0xcc, 0x1c, 0x30, 0x41, 0x5b, 0xa4, 0x38, 0x66]))
}

pub(super) fn tencent_games(_: &FlowCtx, d: &[u8]) -> Match {
    // The handshakes of Tencent's game clients (several titles).
    if d.len() <= 50 {
        return Match::No;
    }
    let w = |at| be32(d, at);
    let zlib =
        be16(d, 0) == Some(0) && be16(d, 2) == Some(d.len() - 4) && be16(d, 4) == Some(0x7801);
    yes((w(0) == Some(0x3366_000b) && be16(d, 4) == Some(0x000b))
        || (w(0) == Some(0x4366_aa00) && w(12) == Some(0x10e6_8601))
        || (w(0) == Some(0xaa00_0000) && w(10) == Some(0x10e6_8601))
        || (w(0) == Some(0x4215_f787) && be16(d, 6) == Some(0))
        || zlib)
}

pub(super) fn threema(_: &FlowCtx, d: &[u8]) -> Match {
    // The client's 48-byte hello (a cookie and an ephemeral key), then the
    // server's 80-byte answer: sizes, as the payloads are all ciphertext.
    yes(matches!(d.len(), 48 | 80) && !d.is_ascii())
}

pub(super) fn epic_games(flow: &FlowCtx, d: &[u8]) -> Match {
    // nDPI 5.0: the flow's first datagram, a 32-bit word with bit 3 clear
    // then 24 zero bytes from offset 10, names EpicGames with the server's
    // answer (epic_games_answer). One side's datagrams alone name nothing,
    // nor a pair whose client port is the lower (measured: 2000 -> 1000 is
    // EpicGames, 1000 -> 2000 nothing; nDPI orders a flow's directions by
    // port).
    let request = d.len() >= 34
        && d[3] & 0x08 == 0
        && d[10..34].iter().all(|b| *b == 0)
        && d[1..4] != [0, 0, 0];
    let discord = d.len() == 74 && be16(d, 2) == Some(70);
    if request && !discord && flow.src_port >= flow.dst_port {
        Match::BothWays(2)
    } else {
        Match::No
    }
}

pub(super) fn epic_games_answer(_: &FlowCtx, d: &[u8]) -> Match {
    // The answer's word is the request's with bit 3 set (nDPI compares the
    // two; here any datagram longer than four bytes with that bit, after a
    // request).
    if d.len() > 4 && d[3] & 0x08 != 0 {
        Match::Answer(2)
    } else {
        Match::No
    }
}

pub(super) fn gaijin(_: &FlowCtx, d: &[u8]) -> Match {
    let hello =
        d.len() == 52 && be16(d, 0) == Some(0x8fff) && d[2] == 0 && be32(d, 4) == Some(0x82ff_0001);
    let text = d.len() > 100
        && (d.starts_with(b"embeddedupdater.")
            || d.starts_with(b"app.start")
            || d.starts_with(b"app.stage"));
    yes(hello || text)
}

pub(super) fn hots(_: &FlowCtx, d: &[u8]) -> Match {
    // Heroes of the Storm (Blizzard's ports): bytes 14-15 = 0x40 0x00.
    yes((20..=122).contains(&d.len())
        && d[14] == 0x40
        && d[15] == 0
        && (d[2..4] == [0x03, 0] || d[2..4] == [0x34, 0] || d[..14].iter().all(|b| *b == 0)))
}

pub(super) fn imo(_: &FlowCtx, d: &[u8]) -> Match {
    yes((d.len() == 10 && d.starts_with(&[0x09, 0x02]))
        || (d.len() == 11 && d.starts_with(&[0x00, 0x09, 0x03]))
        || (d.len() == 1099 && d.starts_with(&[0x88, 0x49, 0x1a, 0x00])))
}

pub(super) fn lol_wild_rift(_: &FlowCtx, d: &[u8]) -> Match {
    let ping = d.len() == 22 && be32(d, 0) == Some(0x0102_c841) && be32(d, 18) == Some(0x4130_4231);
    let hello = d.len() == 69 && be32(d, 0) == Some(0x0400_0000);
    let answer = d.len() == 359 && be32(d, 0) == Some(0x1000_0000);
    yes(ping || hello || answer)
}

pub(super) fn netease_games(_: &FlowCtx, d: &[u8]) -> Match {
    let a = d.len() == 12
        && d[0] == 0x01
        && d[2..4] == [0xd0, 0x01]
        && d[8..12] == [0x00, 0x01, 0x01, 0x01];
    let b = d.len() >= 30 && be32(d, 0) == Some(0xb3af_8de8);
    let c = d.len() > 30 && d.starts_with(&[0x07, 0x08, 0x08, 0x0c]);
    yes(a || b || c)
}

pub(super) fn path_of_exile(_: &FlowCtx, d: &[u8]) -> Match {
    // Login: 0x00, 0x0300, ..., 0x0200, and a fixed trailer.
    let head = d.len() > 9 && d[0] == 0 && be16(d, 1) == Some(0x0300) && be16(d, 7) == Some(0x0200);
    let poe2 = d.len() == 19 && be32(d, 14) == Some(0x40);
    let poe1 = d.len() > 25
        && d.len() < 50
        && d[6] == 0
        && be32(d, d.len() - 8) == Some(0)
        && be32(d, d.len() - 4) == Some(0x4000_0001);
    yes(head && (poe1 || poe2))
}

pub(super) fn softether_udp(_: &FlowCtx, d: &[u8]) -> Match {
    // The one-byte "A" a client sends first is read past; then NAT
    // traversal's "IP=a.b.c.d,PORT=n", or a PACK message (as nDPI 5.0).
    if d == b"A" {
        return Match::Wait;
    }
    yes((d.len() > 9
        && d.len() < 30
        && d.starts_with(b"IP=")
        && d.windows(6).any(|w| w == b",PORT="))
        || softether_pack(d))
}

/// The shortest PACK message nDPI 5.0 reads.
const SOFTETHER_PACK_MIN: usize = 99;
/// PACK's value types: int, data, string, Unicode string, int64.
const PACK_INT: usize = 0;
const PACK_DATA: usize = 1;
const PACK_UNISTR: usize = 3;
const PACK_INT64: usize = 4;

/// The bytes of one PACK value of type `t` at the start of `d`; 0 when it
/// does not fit. A data value's length counts one byte more than it holds,
/// as nDPI reads it.
fn pack_value(t: usize, d: &[u8]) -> usize {
    let n = match t {
        PACK_INT => 4,
        PACK_INT64 => 8,
        PACK_DATA..=PACK_UNISTR => match be32(d, 0) {
            Some(siz) if siz != 0 && d.len() >= siz.saturating_add(3) => {
                siz - usize::from(t == PACK_DATA) + 4
            }
            _ => return 0,
        },
        _ => return 0,
    };
    if n > d.len() { 0 } else { n }
}

/// SoftEther's PACK serialisation as nDPI 5.0 takes it: an element count,
/// the first element's name, then that many pairs of value types and
/// values that end exactly with the datagram.
fn softether_pack(d: &[u8]) -> bool {
    if d.len() < SOFTETHER_PACK_MIN {
        return false;
    }
    let Some(mut left) = be32(d, 0).filter(|&n| n != 0 && n.saturating_mul(8) <= d.len()) else {
        return false;
    };
    let name = pack_value(PACK_DATA, &d[4..]);
    if name == 0 {
        return false;
    }
    let mut rest = &d[4 + name..];
    while left > 0 {
        let (Some(t1), Some(t2)) = (be32(rest, 0), be32(rest, 4)) else {
            break;
        };
        if t1 > PACK_INT64 || t2 > PACK_INT64 {
            break;
        }
        let a = pack_value(t1, &rest[8..]);
        let b = pack_value(t2, &rest[8 + a..]);
        rest = &rest[8 + a + b..];
        left -= 1;
    }
    rest.is_empty() && left == 0
}

pub(super) fn mining(_: &FlowCtx, d: &[u8]) -> Match {
    // Stratum (JSON-RPC over TCP) login and subscription methods.
    const NEEDLES: [&[u8]; 4] = [
        b"\"mining.subscribe\"",
        b"\"mining.configure\"",
        b"\"agent\":\"xmr-stak",
        b"\"method\": \"eth_submitLogin",
    ];
    yes(d.first() == Some(&b'{') && NEEDLES.iter().any(|n| d.windows(n.len()).any(|w| w == *n)))
}

pub(super) fn mysql_greeting(_: &FlowCtx, d: &[u8]) -> Match {
    // Handshake v10: 24-bit LE length, sequence 0, version 10, a server version
    // ("5.5.5-" MariaDB or 4-9), an auth plugin name at the end.
    if !(d.len() > 38 && d.len() < 200) {
        return Match::No;
    }
    let len = usize::from(d[0]) | usize::from(d[1]) << 8 | usize::from(d[2]) << 16;
    if !(len + 4 == d.len() && d[3] == 0 && d[4] == 0x0a && (b'4'..=b'9').contains(&d[5])) {
        return Match::No;
    }
    let tail = &d[d.len().saturating_sub(32)..];
    const PLUGINS: [&[u8]; 7] = [
        b"_password\0",
        b"_kerberos\0",
        b"_windows\0",
        b"_simple\0",
        b"_gssapi\0",
        b"_pam\0",
        b"_client\0",
    ];
    yes(PLUGINS
        .iter()
        .any(|p| tail.windows(p.len()).any(|w| w == *p)))
}

/// PostgreSQL's SSLRequest code (1234 5679).
const PG_SSL_REQUEST: u32 = 80_877_103;

pub(super) fn postgres_client(_: &FlowCtx, d: &[u8]) -> Match {
    // SSLRequest, or a StartupMessage (protocol 3.0) with "user". The
    // request names the flow with the server's answer, next (two requests
    // name nothing, measured).
    let len_ok = d.len() > 7 && be32(d, 0) == Some(d.len());
    let ssl = len_ok && be32(d, 4) == Some(PG_SSL_REQUEST as usize);
    let startup = len_ok && be32(d, 4) == Some(0x0003_0000) && d.windows(5).any(|w| w == b"user\0");
    match (len_ok, ssl, startup) {
        (true, true, _) => Match::BothWays(2),
        (true, _, true) => Match::Yes,
        _ => Match::No,
    }
}

pub(super) fn postgres_ssl_answer(_: &FlowCtx, d: &[u8]) -> Match {
    // The server's one-byte answer to an SSLRequest ('S' accepted, 'N' not).
    if d.len() == 1 && matches!(d[0], b'S' | b'N') {
        Match::BothWays(2)
    } else {
        Match::No
    }
}

pub(super) fn nomachine(_: &FlowCtx, d: &[u8]) -> Match {
    yes((11..=14).contains(&d.len()) && (d.starts_with(b"NXSH-") || d.starts_with(b"NXD-")))
}

pub(super) fn syslog(_: &FlowCtx, d: &[u8]) -> Match {
    // "<PRI>" (1-3 digits), an optional space, then a host name or tag made
    // of letters and digits up to a delimiter.
    if d.len() <= 20 || d[0] != b'<' {
        return Match::No;
    }
    let digits = d[1..]
        .iter()
        .take(3)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 || d.get(1 + digits) != Some(&b'>') {
        return Match::No;
    }
    let mut i = 2 + digits;
    if d.get(i) == Some(&b' ') {
        i += 1;
    }
    while i < d.len() - 1 {
        match d[i] {
            c if c.is_ascii_alphanumeric() => i += 1,
            b':' => return yes(d[i + 1] == b' '),
            b' ' | b'=' | b'[' | b'-' => return Match::Yes,
            _ => return Match::No,
        }
    }
    Match::Yes
}

/// ONC RPC program numbers NFS flows carry (portmapper, NFS, mountd).
const RPC_NFS_PROGRAMS: [usize; 3] = [100_000, 100_003, 100_005];

fn rpc_nfs_call(d: &[u8]) -> bool {
    d.len() >= 40
        && be32(d, 4) == Some(0)
        && be32(d, 8) == Some(2)
        && be32(d, 12).is_some_and(|p| RPC_NFS_PROGRAMS.contains(&p))
        && be32(d, 16).is_some_and(|v| v <= 4)
}

pub(super) fn nfs_tcp(_: &FlowCtx, d: &[u8]) -> Match {
    // A record mark (last fragment + length), then an RPC call.
    yes(d.len() >= 44 && be32(d, 0) == Some(0x8000_0000 + d.len() - 4) && rpc_nfs_call(&d[4..]))
}

pub(super) fn nfs_udp(_: &FlowCtx, d: &[u8]) -> Match {
    yes(rpc_nfs_call(d))
}

pub(super) fn soap(_: &FlowCtx, d: &[u8]) -> Match {
    // An XML document opening a non-HTTP exchange (nDPI calls it SOAP).
    yes(d.starts_with(b"<?xml version=\"1.0\""))
}

/// A header line (at the payload's start or after a CRLF) that begins with
/// `SOAPAction`, in any case: nDPI's line reader names SOAP on it in a TCP
/// flow's first four payloads, HTTP or not (measured with nDPI 5.0: no
/// colon needed, a last line without its CRLF counts, a bare LF ends no
/// line).
pub(super) fn soap_action(_: &FlowCtx, d: &[u8]) -> Match {
    const NAME: &[u8] = b"soapaction";
    let starts =
        |i: usize| d.len() >= i + NAME.len() && d[i..i + NAME.len()].eq_ignore_ascii_case(NAME);
    yes(starts(0)
        || d.windows(2)
            .enumerate()
            .any(|(i, w)| w == b"\r\n" && starts(i + 2)))
}

pub(super) fn json_rpc(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(b"{\"jsonrpc\"") || d.starts_with(b"{ \"jsonrpc\""))
}

/// The largest AMQP frame size nDPI 5.0 accepts.
const AMQP_MAX_FRAME: usize = 32_768;

pub(super) fn amqp(_: &FlowCtx, d: &[u8]) -> Match {
    // nDPI 5.0: one frame (method, header or body; a frame may be cut by
    // the segment, two frames may not share it) with a class of 10-110
    // and a method up to 120. The protocol header names nothing.
    let (Some(size), Some(class), Some(method)) = (be32(d, 3), be16(d, 7), be16(d, 9)) else {
        return Match::No;
    };
    yes(d.len() > 11
        && d[0] <= 3
        && size < AMQP_MAX_FRAME
        && size + 8 >= d.len()
        && (10..=110).contains(&class)
        && method <= 120)
}

pub(super) fn drda(_: &FlowCtx, d: &[u8]) -> Match {
    // DDM: a length, the 0xd0 magic, a format byte, a correlator, then the
    // first object's length (6 bytes shorter than the DSS).
    let (Some(dss), Some(obj)) = (be16(d, 0), be16(d, 6)) else {
        return Match::No;
    };
    yes(d.len() >= 10
        && d[2] == 0xd0
        && (d[3] & 0x0f) <= 5
        && dss >= 10
        && dss <= d.len()
        && obj + 6 == dss)
}

/// The connect message's words nDPI 5.0 checks (KCP's connect with
/// Genshin's own constant in its fourth word).
const GENSHIN_CONNECT: u32 = 0xff;
const GENSHIN_MAGIC: u32 = 0x4996_02d2;

pub(super) fn genshin(_: &FlowCtx, d: &[u8]) -> Match {
    // The connect, as the flow's first payload.
    let connect = d.len() >= 20
        && be32(d, 0) == Some(GENSHIN_CONNECT as usize)
        && be32(d, 4) == Some(0)
        && be32(d, 12) == Some(GENSHIN_MAGIC as usize)
        && be32(d, 16) == Some(0xffff_ffff);
    if connect { Match::First } else { Match::No }
}

pub(super) fn nats(_: &FlowCtx, d: &[u8]) -> Match {
    // A whole line (nDPI 5.0 looks for its CRLF).
    yes((d.starts_with(b"INFO {") || d.starts_with(b"CONNECT {"))
        && d.windows(2).any(|w| w == b"\r\n"))
}

pub(super) fn teamspeak(_: &FlowCtx, d: &[u8]) -> Match {
    // The client's init packet, 20 bytes or more.
    yes(d.len() >= 20 && d.starts_with(b"TS3INIT1"))
}

/// An IPv6 header's length.
const IPV6_HEADER: usize = 40;

pub(super) fn teredo(_: &FlowCtx, d: &[u8]) -> Match {
    // RFC 4380: optional authentication (type 1) and origin (type 0)
    // indications, then an IPv6 packet whose length fits the datagram.
    let mut at = 0;
    if be16(d, 0) == Some(1) && d.len() > 4 {
        at = 4 + usize::from(d[2]) + usize::from(d[3]) + 9;
    }
    if be16(d, at) == Some(0) && d.len() > at + 8 {
        at += 8;
    }
    // (nDPI 5.0 does not compare the IPv6 length with the datagram's.)
    yes(d.get(at).is_some_and(|b| b >> 4 == 6) && d.len() >= IPV6_HEADER)
}

pub(super) fn flute_fdt(_: &FlowCtx, d: &[u8]) -> Match {
    // ALC/LCT version 1 whose payload is an FDT instance (XML).
    if d.len() <= 250 || d[0] != 0x10 {
        return Match::No;
    }
    let h = usize::from(d[2]) * 4;
    yes(d.get(h + 4..h + 9) == Some(b"<?xml") && d.get(h + 43..h + 47) == Some(b"<FDT"))
}

pub(super) fn vmware(flow: &FlowCtx, d: &[u8]) -> Match {
    // Remote console keep-alives to port 902.
    yes(flow.dst_port == 902 && d.len() == 66 && d[0] == 0xa4)
}

pub(super) fn edonkey(_: &FlowCtx, d: &[u8]) -> Match {
    // Protocol marker (eDonkey, eMule extensions, compressed), LE length of the rest.
    yes(d.len() > 5
        && matches!(d[0], 0xe3 | 0xc5 | 0xd4)
        && le32(d, 1) == Some((d.len() - 5) as u32))
}

pub(super) fn icecast_source(_: &FlowCtx, d: &[u8]) -> Match {
    // A source client: "SOURCE /mount ..." with ice- headers.
    yes(d.starts_with(b"SOURCE ") && d.windows(5).any(|w| w.eq_ignore_ascii_case(b"\nice-")))
}

pub(super) fn meraki(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.len() > 4 && be32(d, 0) == Some(0xfef7_2891))
}

pub(super) fn among_us(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.len() > 9 && be32(d, 0) == Some(0x0800_0100) && be32(d, 4) == Some(0x80d9_0203))
}

pub(super) fn crossfire(_: &FlowCtx, d: &[u8]) -> Match {
    // The magic and 0x0200, from eight bytes (as nDPI 5.0 reads it).
    yes(d.len() >= 8 && be32(d, 0) == Some(0xc7d9_1999) && be16(d, 4) == Some(0x0200))
}

pub(super) fn guildwars2(_: &FlowCtx, d: &[u8]) -> Match {
    // The STS preamble before TLS.
    yes(d.len() > 50
        && (d.starts_with(b"P /Sts/Connect STS/1.0")
            || d.starts_with(b"P /Auth/StartTls STS/1.0")
            || d.starts_with(b"STS/1.0 400 Success")))
}

pub(super) fn afp(_: &FlowCtx, d: &[u8]) -> Match {
    // DSI header: flags 0/1, command 1-8, reserved zero, data length that fits.
    yes((16..=128).contains(&d.len())
        && d[0] <= 1
        && (1..=8).contains(&d[1])
        && be32(d, 12) == Some(0)
        && be32(d, 8).is_some_and(|l| 16 + l <= d.len()))
}

pub(super) fn hcl_notes(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.len() > 16 && d[6..14] == [0x00, 0x00, 0x02, 0x00, 0x00, 0x40, 0x02, 0x0f])
}

pub(super) fn tocaboca(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.len() >= 13 && d[..8].iter().all(|b| *b == 0x7d))
}

pub(super) fn sd_rtn(_: &FlowCtx, d: &[u8]) -> Match {
    // Agora: a 0x21 marker, then "\x04SNI" and a host name of the given length.
    yes(d.len() >= 20
        && d[6] == 0x21
        && be32(d, 12) == Some(0x0453_4e49)
        && d[18] == 0
        && be16(d, 16).is_some_and(|l| l + 19 <= d.len()))
}

pub(super) fn steam_datagram_relay(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.len() >= 100 && &d[2..8] == b"sdping")
}

pub(super) fn i3d(_: &FlowCtx, d: &[u8]) -> Match {
    let a = d.len() >= 74
        && matches!(be32(d, 0), Some(0x0001_0046 | 0x0002_0046))
        && be32(d, 4) == Some(0x0003_cfa8);
    let b = d.len() >= 74
        && matches!(be16(d, 0), Some(0x9078 | 0x9067))
        && be32(d, 8) == Some(0x0003_cfa9)
        && be32(d, 12) == Some(0xbede_0003);
    yes(a || b)
}

pub(super) fn tivoconnect(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.len() >= 12 && starts_ci(d, b"tivoconnect="))
}

/// The one CryEngine message length nDPI 5.0 names (its first byte plus 10).
const CRYNET_LEN: usize = 70;

pub(super) fn crynet(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.len() == CRYNET_LEN
        && usize::from(d[0]) + 10 == d.len()
        && d[16] == 1
        && d[20] == 7
        && be16(d, 24) == Some(0x0307))
}

pub(super) fn hp_virtgrp(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.len() >= 4 && d[0] == 0x16 && be16(d, 1) == Some(d.len()) && d[3] == 0)
}

pub(super) fn nest_log_sink(_: &FlowCtx, d: &[u8]) -> Match {
    if d.len() >= 8 && d[1] <= 2 && matches!(d[2], 0x00 | 0x10) && d[3] == 0x13 {
        Match::Count(3)
    } else {
        Match::No
    }
}

pub(super) fn someip(flow: &FlowCtx, d: &[u8]) -> Match {
    // Header: message id, length (of the rest after 8 bytes), request id,
    // protocol version 1, interface version, message type, return code.
    if d.len() < 16 || be32(d, 4).map(|l| l + 8) != Some(d.len()) || d[12] != 1 || d[15] >= 0x40 {
        return Match::No;
    }
    if !matches!(
        d[14],
        0x00 | 0x01 | 0x02 | 0x40 | 0x41 | 0x42 | 0x80 | 0x81 | 0xc0 | 0xc1
    ) {
        return Match::No;
    }
    let magic = matches!(be32(d, 0), Some(0xffff_0000 | 0xffff_8000));
    if magic {
        return yes(d.len() == 16 && be32(d, 8) == Some(0xdead_beef));
    }
    yes([30490, 30491, 30501].contains(&flow.dst_port))
}

pub(super) fn thrift(flow: &FlowCtx, d: &[u8]) -> Match {
    // Binary protocol (strict, TCP) or compact protocol (UDP): version <= 1,
    // message type 1-4, a method name length that fits.
    if d.len() < 8 {
        return Match::No;
    }
    if flow.protocol == 6 && d[0] == 0x80 {
        return yes(d[1] <= 1
            && (1..5).contains(&d[3])
            && be32(d, 4).is_some_and(|l| l > 0 && 8 + l <= d.len()));
    }
    if flow.protocol == 17 && d[0] == 0x82 {
        return yes(d[1] & 0x1f <= 1
            && (1..5).contains(&(d[1] >> 5))
            && usize::from(d[5]) > 0
            && 6 + usize::from(d[5]) <= d.len());
    }
    Match::No
}

/// DNSCrypt's resolver magic, at the start of every encrypted answer.
const DNSCRYPT_RESOLVER_MAGIC: &[u8] = b"r6fnvWj8";
/// nDPI's floor for an encrypted DNSCrypt answer.
const DNSCRYPT_MIN_ANSWER: usize = 64;
/// Where a DNS query's first label starts (12-byte header, length byte).
const DNS_FIRST_LABEL_AT: usize = 13;
/// A DNSCrypt certificate query's first labels (`2.dnscrypt-cert.…`), as
/// sent: `2`, then the next label's length (13) and its first letters.
const DNSCRYPT_CERT_LABELS: &[u8] = b"2\rdnscrypt";

/// DNSCrypt, as nDPI knows it on any port: an answer that starts with the
/// resolver magic, or the plain DNS query for the resolver's certificate
/// (a "resolver ping"), which both protocol versions send.
pub(crate) fn dnscrypt(_: &FlowCtx, d: &[u8]) -> Match {
    yes(
        (d.len() >= DNSCRYPT_MIN_ANSWER && d.starts_with(DNSCRYPT_RESOLVER_MAGIC))
            || (d.len() > DNS_FIRST_LABEL_AT + DNSCRYPT_CERT_LABELS.len()
                && starts_ci(&d[DNS_FIRST_LABEL_AT..], DNSCRYPT_CERT_LABELS)),
    )
}

/// The client name iQIYI's (PPS) UDP messages carry.
const IQIYI_MARK: &[u8] = b"PPStream";
/// The sizes of those messages nDPI looks in (exclusive bounds).
const IQIYI_SIZES: (usize, usize) = (120, 300);

/// iQIYI over UDP, as nDPI knows it: a datagram of 121 to 299 bytes that
/// names "PPStream".
pub(super) fn iqiyi_udp(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.len() > IQIYI_SIZES.0
        && d.len() < IQIYI_SIZES.1
        && d.windows(IQIYI_MARK.len()).any(|w| w == IQIYI_MARK))
}

/// netcode.io's connection-request prefix (Yojimbo): a zero byte and the
/// protocol's name with its trailing space.
const NETCODE_REQUEST: &[u8] = b"\0NETCODE ";

pub(super) fn yojimbo(_: &FlowCtx, d: &[u8]) -> Match {
    first(d.starts_with(NETCODE_REQUEST))
}

/// Armagetron's message descriptors nDPI accepts (login, big_server,
/// big_request), each with message id 0.
const ARMAGETRON_OPENINGS: [[u8; 4]; 3] = [[0, 0x0b, 0, 0], [0, 0x33, 0, 0], [0, 0x35, 0, 0]];

pub(super) fn armagetron(_: &FlowCtx, d: &[u8]) -> Match {
    // One message: descriptor, id, data length in 16-bit words, data, and a
    // sender id of 0 at the end.
    first(
        d.len() >= 8
            && ARMAGETRON_OPENINGS.iter().any(|o| d.starts_with(o))
            && be16(d, 4).map(|w| w * 2 + 8) == Some(d.len())
            && d.ends_with(&[0, 0]),
    )
}

/// Mudfish's ping: one byte, 'P', answered or repeated.
const MUDFISH_PING: u8 = b'P';
/// Mudfish's TCP discovery request.
const MUDFISH_DISCOVERY: &[u8] = b"UN v2\r\n";

/// Mudfish's ping ports (either side); the row holds them.
pub(super) const MUDFISH_PORTS: (u16, u16) = (10000, 10010);

pub(super) fn mudfish_udp(_: &FlowCtx, d: &[u8]) -> Match {
    // Two pings, either direction, before it is Mudfish.
    if d == [MUDFISH_PING] {
        Match::Run(2)
    } else {
        Match::No
    }
}

pub(super) fn mudfish_tcp(_: &FlowCtx, d: &[u8]) -> Match {
    first(d == MUDFISH_DISCOVERY)
}

/// Cisco VPN client's UDP encapsulation magic.
const CISCOVPN_MAGIC: &[u8] = &[0xfe, 0x57, 0x7e, 0x2b];
/// Cisco VPN client's UDP port, required on both sides.
pub(super) const CISCOVPN_PORT: u16 = 10000;

pub(super) fn ciscovpn(flow: &FlowCtx, d: &[u8]) -> Match {
    yes(flow.src_port == CISCOVPN_PORT
        && flow.dst_port == CISCOVPN_PORT
        && d.starts_with(CISCOVPN_MAGIC))
}

/// MSDO's (Windows Delivery Optimization) peer handshake: the length of
/// the protocol's name, then the name.
const MSDO_HANDSHAKE: &[u8] = b"\x0eSwarm protocol";

pub(super) fn msdo(_: &FlowCtx, d: &[u8]) -> Match {
    first(d.len() > 16 && d.starts_with(MSDO_HANDSHAKE))
}

/// Raft's message types (canonical/raft framing): AppendEntries ..
/// TimeoutNow.
const RAFT_TYPES: std::ops::RangeInclusive<u64> = 1..=6;

pub(super) fn raft(_: &FlowCtx, d: &[u8]) -> Match {
    // A little-endian 64-bit type and body length; the body is the rest of
    // the segment. (nDPI also names three packets of valid types without the
    // length; one exact message is the form kept here.)
    let le64 = |at: usize| {
        d.get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
    };
    yes(d.len() >= 16
        && le64(0).is_some_and(|t| RAFT_TYPES.contains(&t))
        && le64(8) == Some(d.len() as u64 - 16))
}

/// ISAKMP's fixed header length.
const ISAKMP_HEADER: usize = 28;
/// NAT-T's non-ESP marker in front of IKE on port 4500.
const NAT_T_MARKER: &[u8] = &[0, 0, 0, 0];
/// IKE's ports: a header that fails the sanity checks still counts there.
const IKE_PORTS: [u16; 2] = [500, 4500];

pub(super) fn ipsec(flow: &FlowCtx, d: &[u8]) -> Match {
    // ISAKMP (IKEv1 or v2), maybe behind the NAT-T marker: version 0x10 or
    // 0x20 and the length the datagram's; then the next-payload, exchange
    // and flag fields each version allows.
    let o = if d.starts_with(NAT_T_MARKER) { 4 } else { 0 };
    if d.len() < ISAKMP_HEADER + o {
        return Match::No;
    }
    let h = &d[o..];
    if !matches!(h[17], 0x10 | 0x20) || be32(h, 24) != Some(h.len()) {
        return Match::No;
    }
    let (next, exchange, flags) = (h[16], h[18], h[19]);
    let sane = if h[17] == 0x20 {
        matches!(next, 0 | 33..=48 | 128..)
            && matches!(exchange, 34..=37 | 240..)
            && flags & 0xc7 == 0
    } else {
        matches!(next, 0..=13 | 128..) && matches!(exchange, 0..=5 | 31..) && flags <= 7
    };
    first(sane || IKE_PORTS.iter().any(|p| either_port(flow, *p)))
}

/// Radmin's message opening.
const RADMIN_OPENING: &[u8] = &[1, 0, 0, 0];

/// Radmin's 14-byte message, from either side: two name the flow.
fn radmin_message(d: &[u8]) -> bool {
    d.len() == 14 && d.starts_with(RADMIN_OPENING) && d[4] == 0x05 && d[8..10] == [0x27, 0x27]
}

pub(super) fn radmin_client(_: &FlowCtx, d: &[u8]) -> Match {
    // nDPI 5.0: the client's 10-byte hello opens, the server's answer
    // (radmin_server) names; or two messages.
    if d.len() == 10 && d.starts_with(RADMIN_OPENING) && d[4] == 0x01 && d[8..10] == [8, 8] {
        Match::Open(2)
    } else if radmin_message(d) {
        Match::Run(2)
    } else {
        Match::No
    }
}

pub(super) fn radmin_server(_: &FlowCtx, d: &[u8]) -> Match {
    // The server's 46-byte answer to the hello (only after it), or a message.
    let answer = d.len() == 46
        && d.starts_with(RADMIN_OPENING)
        && d[4] == 0x25
        && d[7..11] == [2, 0x12, 8, 2]
        && d[13] == 0x0a;
    if answer {
        Match::Continue(2)
    } else if radmin_message(d) {
        Match::Run(2)
    } else {
        Match::No
    }
}

/// The Rx (AFS) header length.
const RX_HEADER: usize = 28;
/// Rx flag combinations nDPI accepts.
const RX_FLAGS: [u8; 10] = [0, 1, 2, 3, 4, 5, 6, 9, 33, 34];

pub(super) fn rx(_: &FlowCtx, d: &[u8]) -> Match {
    // Type 1-13 but 12, known flags, security index 0-3; nDPI names it once
    // both directions sent one (of the same connection).
    if d.len() >= RX_HEADER
        && matches!(d[20], 1..=11 | 13)
        && RX_FLAGS.contains(&d[21])
        && d[23] <= 3
    {
        Match::BothWays(2)
    } else {
        Match::No
    }
}

/// File openings nDPI 5.0 takes for an FTP data connection's first bytes
/// (a payload of 256 bytes at least): media, archives, documents, images,
/// markup. (`<?xm` only without "jabber" in the payload.)
const FTP_DATA_MAGICS: &[&[u8]] = &[
    b"RIFF",
    b"OggS",
    b"PK\x03\x04",
    b"\0\0\x01\xba",
    b"Rar!",
    b"\x1a\x45\xdf\xa3",
    b"\xff\xd8",
    b"GIF8",
    b"<?ph",
    b"%PDF",
    b"\x89PNG",
    b"<htm",
    b"\n<!D",
    b"\x37\x7a\xbc\xaf",
    b"\x1f\x8b\x08",
    b"<!DO",
    b"fLaC",
    b"ID3\x03",
    b"\xff\xfb\x90\xc0",
    b"\xed\xab\xee\xdb",
    b"WzPa",
    b"FLV\x01",
    b"TAPE",
    b"\xd0\xcf\x11\xe0",
    b"<%@ ",
    b"<!--",
    b"!<ar",
    b"<?xm",
    b"<iq ",
    b"SPFI",
    b"ABIF",
    b"BZh9",
    b"<cf",
    b"<CF",
    b".tem",
    b".ite",
    b".lef",
];
/// The shortest payload nDPI looks for a file opening in.
const FTP_DATA_MIN_FILE: usize = 256;
/// FTP's active-mode data port.
pub(super) const FTP_DATA_PORT: u16 = 20;

pub(super) fn ftp_data(_: &FlowCtx, d: &[u8]) -> Match {
    // A file's opening, or a Unix directory listing line (type, then three
    // rwx triplets), as a connection's first bytes.
    let file = d.len() >= FTP_DATA_MIN_FILE
        && FTP_DATA_MAGICS.iter().any(|m| d.starts_with(m))
        && !(d.starts_with(b"<?xm") && d.windows(6).any(|w| w == b"jabber"));
    let listing = d.len() > 10
        && matches!(d[0], b'-' | b'd')
        && d[1..10].chunks(3).all(|t| {
            matches!(t[0], b'r' | b'-')
                && matches!(t[1], b'w' | b'-')
                && matches!(t[2], b'x' | b'-')
        });
    first(file || listing)
}

pub(super) fn ftp_data_port(_: &FlowCtx, _: &[u8]) -> Match {
    // nDPI names any first payload on port 20 FTP_DATA.
    Match::First
}

/// RTMP's handshake: the version byte (C0/S0) and the 1536-byte C1.
const RTMP_VERSION: u8 = 3;
/// C0 and C1 together, which the first speaker sends before any answer.
pub(crate) const RTMP_C0_C1: usize = 1 + 1536;

pub(super) fn rtmp_c0_c1(_: &FlowCtx, d: &[u8]) -> Match {
    // The opening speaker's C0+C1, whole (reassembled: [`rtmp_handshake_pending`]);
    // the flow is RTMP once the other side answers with its own version byte.
    if d.len() == RTMP_C0_C1 && d[0] == RTMP_VERSION {
        Match::BothWays(2)
    } else {
        Match::No
    }
}

pub(super) fn rtmp_s0(_: &FlowCtx, d: &[u8]) -> Match {
    if d.first() == Some(&RTMP_VERSION) {
        Match::BothWays(2)
    } else {
        Match::No
    }
}

/// Whether a client's opening that nothing recognised may be RTMP's C0+C1
/// still arriving: its version byte, at least [`RTMP_MIN_SEGMENT`] but
/// fewer bytes than C0+C1, and nothing inspected before. The stream is then
/// held until C0+C1 is whole.
pub(crate) fn rtmp_handshake_pending(misses: u8, d: &[u8]) -> bool {
    misses == 0
        && d.first() == Some(&RTMP_VERSION)
        && (RTMP_MIN_SEGMENT..RTMP_C0_C1).contains(&d.len())
}

/// The least of C0+C1 its first segment carries (a TCP segment of any
/// usual size holds this much): shorter openings from version byte 3 are
/// other protocols' (a TPKT connection request), not held.
const RTMP_MIN_SEGMENT: usize = 512;

/// Protobuf fields read per packet, at most.
const PROTOBUF_MAX_FIELDS: usize = 32;
/// Fields (one of them length-delimited) that make one packet Protobuf.
const PROTOBUF_FIELDS_AT_ONCE: usize = 8;
/// The largest field number.
const PROTOBUF_MAX_FIELD: u64 = 0x1fff_ffff;

/// A base-128 varint of at most nine bytes at `at`: value and end.
fn varint(d: &[u8], at: usize) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for i in 0..9 {
        let b = *d.get(at + i)?;
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, at + i + 1));
        }
    }
    None
}

/// Walks a packet as Protobuf fields: (fields, length-delimited fields,
/// where the walk ended), or None when a field is malformed or not even one
/// tag could be read.
fn protobuf_fields(d: &[u8]) -> Option<(usize, usize, usize)> {
    let (mut at, mut fields, mut lens) = (0, 0, 0);
    while fields < PROTOBUF_MAX_FIELDS {
        let Some((tag, next)) = varint(d, at) else {
            break; // the packet ends: the walk stops
        };
        let (kind, number) = (tag & 7, tag >> 3);
        if number == 0 || number > PROTOBUF_MAX_FIELD {
            return None;
        }
        at = match kind {
            0 => varint(d, next)?.1,
            1 => Some(next + 8).filter(|e| *e <= d.len())?,
            5 => Some(next + 4).filter(|e| *e <= d.len())?,
            2 => match varint(d, next) {
                // A length cut short: counted; the next tag ends the walk.
                None => d.len(),
                Some((0, _)) => return None,
                Some((l, _)) if l > i32::MAX as u64 => return None,
                Some((l, e)) => {
                    lens += 1;
                    e.saturating_add(l as usize)
                }
            },
            _ => return None,
        };
        fields += 1;
    }
    (at > 0).then_some((fields, lens, at))
}

pub(super) fn protobuf(_: &FlowCtx, d: &[u8]) -> Match {
    // Eight fields, one length-delimited, in one packet; or two fields in
    // each of four packets.
    // A field running past the packet only counts in the first form.
    match protobuf_fields(d) {
        Some((f, l, _)) if f >= PROTOBUF_FIELDS_AT_ONCE && l >= 1 => Match::Yes,
        Some((f, _, end)) if f >= 2 && end <= d.len() => Match::Run(4),
        _ => Match::No,
    }
}

/// WebSocket frame opcodes nDPI takes, with and without FIN: continuation is
/// not among them; text, binary, close, ping, pong are.
const WEBSOCKET_OPCODES: [u8; 10] = [0x01, 0x02, 0x08, 0x09, 0x0a, 0x81, 0x82, 0x88, 0x89, 0x8a];

pub(super) fn websocket(_: &FlowCtx, d: &[u8]) -> Match {
    // nDPI 5.0: the flow's first payload (a capture begun after the HTTP
    // upgrade) is one frame whose 7-bit length fills the segment; it does
    // not add a mask's four bytes, so a masked client frame is not one.
    first(
        d.len() >= 2
            && WEBSOCKET_OPCODES.contains(&d[0])
            && d.len() == 2 + usize::from(d[1] & 0x7f),
    )
}
