//! Network infrastructure, management, databases and middleware,
//! recognised from their message headers as their specifications define
//! them.
use super::{
    Match, be16, be32, ber_element, dst_multicast, either_port, first, le32, starts_ci, yes,
};
use crate::FlowCtx;

/// IP protocol numbers that name a flow by themselves, as nDPI names them.
pub const IP_PROTOCOLS: [(u8, &str); 13] = [
    (1, "ICMP"),
    (2, "IGMP"),
    (4, "IP_in_IP"),
    (8, "EGP"),
    (47, "GRE"),
    (50, "ESP"),
    (51, "AH"),
    (58, "ICMPV6"),
    (89, "IP_OSPF"),
    (103, "IP_PIM"),
    (112, "VRRP"),
    (113, "PGM"),
    (132, "SCTP"),
];

/// ASN.1 BER SEQUENCE tag.
const BER_SEQUENCE: u8 = 0x30;

pub(super) fn snmp(_: &FlowCtx, d: &[u8]) -> Match {
    // SEQUENCE { INTEGER version (0, 1, 3), ... } covering the datagram.
    let Some((v, len)) = ber_element(d, BER_SEQUENCE).filter(|_| d.len() >= 10) else {
        return Match::No;
    };
    yes(v + len == d.len()
        && d.get(v..v + 3)
            .is_some_and(|x| x[0] == 0x02 && x[1] == 1 && matches!(x[2], 0 | 1 | 3)))
}

pub(super) fn ldap(_: &FlowCtx, d: &[u8]) -> Match {
    // LDAPMessage: SEQUENCE { messageID INTEGER, protocolOp [APPLICATION n] }.
    let Some((id, len)) = ber_element(d, BER_SEQUENCE).filter(|_| d.len() >= 7) else {
        return Match::No;
    };
    if id + len > d.len() || d.get(id) != Some(&0x02) {
        return Match::No;
    }
    let id_len = usize::from(d.get(id + 1).copied().unwrap_or(9));
    if id_len == 0 || id_len > 4 {
        return Match::No;
    }
    let op = d.get(id + 2 + id_len).copied().unwrap_or(0);
    // BindRequest 0x60 .. ExtendedResponse 0x78, plus the primitive UnbindRequest/DelRequest.
    yes(matches!(op, 0x60..=0x79 | 0x42 | 0x4a))
}

pub(super) fn tftp(_: &FlowCtx, d: &[u8]) -> Match {
    // A request or option acknowledgement, from either side, while every
    // payload before was TFTP's (a transfer's are: see `crate::tftp`).
    first(crate::tftp::request(d))
}

pub(super) fn xdmcp(_: &FlowCtx, d: &[u8]) -> Match {
    // Version 1, opcode 1-17, length of the rest.
    yes(d.len() >= 6
        && be16(d, 0) == Some(1)
        && be16(d, 2).is_some_and(|o| (1..=17).contains(&o))
        && be16(d, 4).map(|l| l + 6) == Some(d.len()))
}

pub(super) fn coap(_: &FlowCtx, d: &[u8]) -> Match {
    // Version 1, token length <= 8, a request (0.01-0.04) or response
    // class (2-5), or an empty message (0.00) with no token.
    if d.len() < 4 || d[0] >> 6 != 1 {
        return Match::No;
    }
    let tkl = d[0] & 0x0f;
    let (class, detail) = (d[1] >> 5, d[1] & 0x1f);
    let code_ok = matches!((class, detail), (0, 0..=4) | (2..=5, _));
    yes(tkl <= 8 && code_ok && d.len() >= 4 + usize::from(tkl) && !(d[1] == 0 && tkl != 0))
}

/// The memcached commands and replies nDPI 5.0 counts.
pub(super) const MEMCACHED_WORDS: [&[u8]; 26] = [
    b"get ",
    b"gets ",
    b"gat ",
    b"gats ",
    b"set ",
    b"add ",
    b"replace ",
    b"append ",
    b"prepend ",
    b"cas ",
    b"delete ",
    b"incr ",
    b"decr ",
    b"touch ",
    b"stats",
    b"STAT ",
    b"ERROR\r\n",
    b"END\r\n",
    b"STORED\r\n",
    b"NOT_STORED\r\n",
    b"EXISTS\r\n",
    b"NOT_FOUND\r\n",
    b"DELETED\r\n",
    b"TOUCHED\r\n",
    b"CLIENT_ERROR ",
    b"SERVER_ERROR ",
];
/// Their first bytes, to rule most payloads out at once.
const MEMCACHED_INITIALS: &[u8] = b"gsarpcditSENDTC";

pub(super) fn memcached(_: &FlowCtx, d: &[u8]) -> Match {
    // The commands and replies of the text protocol nDPI 5.0 counts (not
    // VALUE, not VERSION, not the binary protocol), at the start of a
    // payload of five bytes or more.
    // nDPI 5.0: two messages of the flow (a Redis `get` alone is not one).
    // The first byte rules most payloads out before the words are compared.
    let initial = d.first().is_some_and(|b| MEMCACHED_INITIALS.contains(b));
    if d.len() >= MEMCACHED_MIN && initial && MEMCACHED_WORDS.iter().any(|t| d.starts_with(t)) {
        Match::Count(MEMCACHED_MESSAGES)
    } else {
        Match::No
    }
}

/// Memcached messages nDPI wants before it names the flow.
const MEMCACHED_MESSAGES: u8 = 2;
/// The shortest payload nDPI reads as a memcached message.
const MEMCACHED_MIN: usize = 5;
/// Memcached's UDP frame header: request id, sequence, datagram count, reserved.
const MEMCACHED_UDP_HEADER: usize = 8;

pub(super) fn memcached_udp(flow: &FlowCtx, d: &[u8]) -> Match {
    // The frame header (a datagram count, reserved zero) before a message.
    if d.len() <= MEMCACHED_UDP_HEADER || be16(d, 4) == Some(0) || be16(d, 6) != Some(0) {
        return Match::No;
    }
    memcached(flow, &d[MEMCACHED_UDP_HEADER..])
}

pub(super) fn vxlan(_: &FlowCtx, d: &[u8]) -> Match {
    // Flags with the I bit, reserved zeros, a VNI, an inner Ethernet frame.
    yes(d.len() >= 8 + 14 && d[0] & 0x08 != 0 && d[1..4] == [0, 0, 0] && d[7] == 0)
}

pub(super) fn radius(_: &FlowCtx, d: &[u8]) -> Match {
    // Code 1-5 or 11-13 (access/accounting/challenge), 16-byte authenticator, length.
    yes(d.len() >= 20 && matches!(d[0], 1..=5 | 11..=13 | 40..=45) && be16(d, 2) == Some(d.len()))
}

pub(super) fn rsync(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(b"@RSYNCD:"))
}

pub(super) fn resp(_: &FlowCtx, d: &[u8]) -> Match {
    // RESP arrays of bulk strings ("*2\r\n$3\r\nGET\r\n") and simple replies.
    let array = d.len() >= 8
        && d[0] == b'*'
        && d[1].is_ascii_digit()
        && d.windows(3).take(8).any(|w| w == b"\r\n$");
    let reply = d.starts_with(b"+OK\r\n") && d.len() == 5
        || d.starts_with(b"-ERR ")
        || d.starts_with(b"+PONG\r\n");
    yes(array || reply)
}

/// Where nDPI 5.0 looks for a CQL STARTUP's version key (its value, seven
/// characters long, ends the message), and the internode magic.
const CQL_VERSION_FROM_END: usize = 20;
const CASSANDRA_INTERNODE_MAGIC: &[u8] = b"\xca\x55\x2d\xfa";
const CASSANDRA_INTERNODE_LEN: usize = 19;

pub(super) fn cassandra(_: &FlowCtx, d: &[u8]) -> Match {
    // A CQL STARTUP whose map ends with CQL_VERSION, or a node's 19-byte
    // greeting to another (nDPI 5.0's only two forms).
    let startup = d.len() > 60 && d[d.len() - CQL_VERSION_FROM_END..].starts_with(b"CQL_VERSION");
    let internode = d.len() == CASSANDRA_INTERNODE_LEN && d.starts_with(CASSANDRA_INTERNODE_MAGIC);
    yes(startup || internode)
}

pub(super) fn kafka(_: &FlowCtx, d: &[u8]) -> Match {
    // Request: size, API key 0-74, version 0-17, correlation id, client id string.
    let (Some(size), Some(key), Some(ver)) = (be32(d, 0), be16(d, 4), be16(d, 6)) else {
        return Match::No;
    };
    let client = be16(d, 12);
    yes(size + 4 == d.len()
        && key <= 74
        && ver <= 17
        && client.is_some_and(|c| c + 14 <= d.len() || c == 0xffff))
}

/// FastCGI's PARAMS record type.
const FCGI_PARAMS: u8 = 4;
/// FastCGI records nDPI 5.0 wants, each a whole payload, unless one is a
/// PARAMS record with content.
const FCGI_RECORDS: u8 = 3;

pub(super) fn fastcgi(_: &FlowCtx, d: &[u8]) -> Match {
    // Each payload exactly one record: version 1, type 1-11, the header's
    // content length and padding the rest.
    let Some(clen) = be16(d, 4) else {
        return Match::No;
    };
    let record = d.len() >= 8
        && d[0] == 1
        && (1..=11).contains(&d[1])
        && 8 + clen + usize::from(d[6]) == d.len();
    match (record, d[1]) {
        (true, FCGI_PARAMS) if clen > 0 => Match::Yes,
        (true, _) => Match::Run(FCGI_RECORDS),
        _ => Match::No,
    }
}

pub(super) fn ajp(_: &FlowCtx, d: &[u8]) -> Match {
    // Server to container: 0x1234, length, a prefix code (forward request 2, ...);
    // container to server: "AB", length, a prefix code 3-6.
    // (nDPI 5.0 does not compare the length with the segment's.)
    let to_container =
        d.len() >= 5 && d[0] == 0x12 && d[1] == 0x34 && matches!(d[4], 2 | 7 | 8 | 10);
    let to_server = d.len() >= 5 && d.starts_with(b"AB") && (3..=6).contains(&d[4]);
    yes(to_container || to_server)
}

pub(super) fn haproxy(_: &FlowCtx, d: &[u8]) -> Match {
    // nDPI 5.0 knows version 1's TCP lines only, followed in the same
    // segment by the proxied bytes (version 2's binary header it does not).
    yes(d.starts_with(b"PROXY TCP")
        && d.windows(2)
            .position(|w| w == b"\r\n")
            .is_some_and(|i| i + 2 < d.len()))
}

/// The shortest STOMP frame and CONNECTED answer nDPI 5.0 reads.
const STOMP_FRAME_MIN: usize = 27;
const STOMP_CONNECTED_MIN: usize = 101;

pub(super) fn stomp(_: &FlowCtx, d: &[u8]) -> Match {
    // nDPI 5.0: the client's STOMP frame (not CONNECT) as the flow's first
    // payload.
    if d.len() >= STOMP_FRAME_MIN && d.starts_with(b"STOMP") {
        Match::First
    } else {
        Match::No
    }
}
pub(super) fn stomp_connected(_: &FlowCtx, d: &[u8]) -> Match {
    // The broker's CONNECTED answer, when it is the first payload seen.
    if d.len() >= STOMP_CONNECTED_MIN && d.starts_with(b"CONNECTED") {
        Match::First
    } else {
        Match::No
    }
}

/// MPEG transport stream packet size and sync byte.
const TS_PACKET: usize = 188;
const TS_SYNC: u8 = 0x47;

pub(super) fn mpeg_ts(_: &FlowCtx, d: &[u8]) -> Match {
    // Whole 188-byte packets, each starting with the sync byte.
    yes(!d.is_empty()
        && d.len().is_multiple_of(TS_PACKET)
        && d.chunks(TS_PACKET).all(|p| p[0] == TS_SYNC))
}

pub(super) fn diameter(_: &FlowCtx, d: &[u8]) -> Match {
    // Version 1, 24-bit length, flags (R/P/E/T, reserved zero), command code.
    if d.len() < 20 || d[0] != 1 {
        return Match::No;
    }
    // A length within the segment (nDPI 5.0 takes more bytes after it).
    let len = usize::from(d[1]) << 16 | be16(d, 2).unwrap_or(0);
    let cmd = usize::from(d[5]) << 16 | be16(d, 6).unwrap_or(0);
    yes((20..=d.len()).contains(&len) && d[4] & 0x0f == 0 && (257..=8_388_607).contains(&cmd))
}

/// SMPP's header length, and the response bit of a command id.
const SMPP_HEADER: usize = 16;
const SMPP_RESPONSE: usize = 0x8000_0000;

/// Each SMPP command nDPI 5.0 knows: its id, the least length of its
/// request and of its response (`SMPP_HEADER` alone: exactly that).
const SMPP_COMMANDS: [(usize, usize, usize); 15] = [
    (0x01, 26, 18),  // bind_receiver
    (0x02, 26, 18),  // bind_transmitter
    (0x03, 20, 21),  // query_sm
    (0x04, 33, 17),  // submit_sm
    (0x05, 33, 17),  // deliver_sm
    (0x06, 16, 16),  // unbind
    (0x07, 25, 16),  // replace_sm
    (0x08, 24, 16),  // cancel_sm
    (0x09, 26, 18),  // bind_transceiver
    (0x0b, 20, 20),  // outbind
    (0x15, 16, 16),  // enquire_link
    (0x21, 33, 26),  // submit_multi
    (0x102, 22, 22), // alert_notification
    (0x103, 26, 17), // data_sm
    (0x00, 16, 16),  // generic_nack (a response only)
];

pub(super) fn smpp(_: &FlowCtx, d: &[u8]) -> Match {
    // One PDU filling the segment: its length, a known command, the least
    // length of that command (exactly the header for the bare ones), and
    // no error status in a request.
    let (Some(len), Some(id), Some(status)) = (be32(d, 0), be32(d, 4), be32(d, 8)) else {
        return Match::No;
    };
    if len != d.len() {
        return Match::No;
    }
    let response = id & SMPP_RESPONSE != 0;
    let Some(&(_, req_min, resp_min)) = SMPP_COMMANDS
        .iter()
        .find(|c| c.0 == id & !SMPP_RESPONSE && (response || c.0 != 0))
    else {
        return Match::No;
    };
    let min = if response { resp_min } else { req_min };
    let size_ok = if min == SMPP_HEADER {
        len == SMPP_HEADER
    } else {
        len >= min
    };
    yes(size_ok && (response || status == 0))
}

/// The shortest export packet nDPI takes, and the most records (v5, v9).
const NETFLOW_MIN_LEN: usize = 24;
const NETFLOW_MAX_RECORDS: usize = 30;
/// The earliest export time nDPI accepts in a NetFlow header (2000-01-01).
const NETFLOW_EPOCH: usize = 946_684_800;

/// An export time between 2000 and now, as nDPI checks it.
fn netflow_time(t: Option<usize>) -> bool {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(u64::MAX, |d| d.as_secs());
    t.is_some_and(|t| t >= NETFLOW_EPOCH && t as u64 <= now)
}

pub(super) fn netflow(_: &FlowCtx, d: &[u8]) -> Match {
    // Export packets: v5 (24-byte header + 48-byte records), v9 and IPFIX
    // (10), with an export time nDPI believes (the header's seconds).
    match be16(d, 0) {
        Some(5) => yes(be16(d, 2)
            .is_some_and(|n| (1..=NETFLOW_MAX_RECORDS).contains(&n) && 24 + 48 * n == d.len())
            && netflow_time(be32(d, 8))),
        Some(9) => yes(d.len() >= NETFLOW_MIN_LEN
            && be16(d, 2).is_some_and(|n| (1..=NETFLOW_MAX_RECORDS).contains(&n))
            && netflow_time(be32(d, 8))),
        Some(10) => yes(d.len() >= NETFLOW_MIN_LEN
            && be16(d, 2) == Some(d.len())
            && netflow_time(be32(d, 4))),
        _ => Match::No,
    }
}

pub(super) fn sflow(_: &FlowCtx, d: &[u8]) -> Match {
    // Version 5, agent address type 1 (IPv4) or 2 (IPv6), on any port:
    // nDPI 5.0 names the flow's second such datagram.
    let v5 = d.len() >= 24 && be32(d, 0) == Some(5) && matches!(be32(d, 4), Some(1 | 2));
    if v5 { Match::Run(2) } else { Match::No }
}

pub(super) fn nat_pmp(_: &FlowCtx, d: &[u8]) -> Match {
    // Version 0; opcodes 0-2 requests, 128-130 answers, with their sizes.
    yes(d.len() >= 2
        && d[0] == 0
        && matches!(
            (d[1], d.len()),
            (0, 2) | (1 | 2, 12) | (128, 12) | (129 | 130, 16)
        ))
}

pub(super) fn bjnp(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.len() > 4
        && (d.starts_with(b"BJNP")
            || d.starts_with(b"BNJB")
            || d.starts_with(b"BJNB")
            || d.starts_with(b"MFNP")))
}

pub(super) fn knxnet_ip(_: &FlowCtx, d: &[u8]) -> Match {
    // Header length 6, version 1.0, service type, total length.
    yes(d.len() >= 6 && d[0] == 0x06 && d[1] == 0x10 && be16(d, 4) == Some(d.len()))
}

/// PTP's event and general ports: nDPI 5.0 wants the same one on both sides.
pub(super) const PTP_PORTS: [u16; 2] = [319, 320];

pub(super) fn ptp(flow: &FlowCtx, d: &[u8]) -> Match {
    // PTPv2 between two clocks on the same port: a message type, version 2.
    yes(flow.src_port == flow.dst_port && d.len() > 34 && d[0] & 0x0f < 0x0f && d[1] == 0x02)
}

pub(super) fn bfd(_: &FlowCtx, d: &[u8]) -> Match {
    // Version 1, detect multiplier, length 24 (or more with authentication).
    yes(d.len() >= 24 && d[0] >> 5 == 1 && d[2] > 0 && usize::from(d[3]) == d.len())
}

/// LDP's Hello message (the one nDPI 5.0 names over UDP).
const LDP_HELLO: usize = 0x0100;

pub(super) fn ldp(flow: &FlowCtx, d: &[u8]) -> Match {
    // Version 1, PDU length (the rest), LSR id and label space, then a
    // message: a Hello over UDP; over TCP a session message (initialization,
    // keepalive, notification, address, label mapping...) or a vendor's.
    if d.len() < 20 || be16(d, 0) != Some(1) || be16(d, 2).map(|l| l + 4) != Some(d.len()) {
        return Match::No;
    }
    let Some(t) = be16(d, 10) else {
        return Match::No;
    };
    yes(if flow.protocol == 17 {
        t == LDP_HELLO
    } else {
        matches!(
            t,
            0x0200..=0x0202 | 0x0300 | 0x0301 | 0x0400..=0x0404 | 0x0500 | 0x0501 | 0x0700..=0x0703
                | 0x3e00..=0x3eff
        )
    })
}

/// CAPWAP's control and data ports.
pub(super) const CAPWAP_CONTROL_PORT: u16 = 5246;
pub(super) const CAPWAP_DATA_PORT: u16 = 5247;

pub(super) fn capwap(flow: &FlowCtx, d: &[u8]) -> Match {
    // nDPI 5.0: on the control port, a message whose element length fits
    // the datagram (plain, or after a DTLS preamble); a discovery request
    // broadcast or sent to CAPWAP's group; on the data port, a frame of a
    // known wireless binding.
    let (Some(plain), Some(dtls)) = (be16(d, 13), be16(d, 15)) else {
        return Match::No;
    };
    let control = either_port(flow, CAPWAP_CONTROL_PORT)
        && ((d[0] == 0 && plain + 13 == d.len()) || (d[0] == 1 && dtls + 17 == d.len()));
    let group = flow.ip_version == 4
        && (flow.dst[..4] == [255, 255, 255, 255] || flow.dst[..4] == [224, 0, 1, 140]);
    let discovery = flow.dst_port == CAPWAP_CONTROL_PORT && group && d[0] == 0 && d[8] == 6;
    let data = d[0] == 0
        && ((flow.src_port == CAPWAP_DATA_PORT && (d[9] & 0x0c) >> 2 == 2)
            || (flow.dst_port == CAPWAP_DATA_PORT
                && (matches!(d[8], 1 | 4 | 6) || plain + 15 == d.len())));
    yes(d.len() >= 16 && (discovery || data) || control)
}

pub(super) fn dicom(_: &FlowCtx, d: &[u8]) -> Match {
    // A-ASSOCIATE-RQ/AC: PDU type 1/2, length, protocol version 1.
    yes(d.len() >= 10
        && matches!(d[0], 1 | 2)
        && d[1] == 0
        && be32(d, 2).map(|l| l + 6) == Some(d.len())
        && be16(d, 6) == Some(1))
}

pub(super) fn zeromq(_: &FlowCtx, d: &[u8]) -> Match {
    // ZMTP 3 greeting: 0xff, padding, 0x7f, version 3. Its first ten bytes
    // alone (each peer sends them before the rest): two name the flow, as
    // in nDPI, or one before a whole greeting.
    if d.len() == 10 && d[0] == 0xff && d[9] == 0x7f {
        return Match::Count(2);
    }
    yes(d.len() >= 11 && d[0] == 0xff && d[9] == 0x7f && (d.len() < 11 || d[10] == 3 || d[10] == 1))
}

pub(super) fn monero(_: &FlowCtx, d: &[u8]) -> Match {
    // Levin protocol signature.
    yes(d.starts_with(&[0x01, 0x21, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01]))
}

/// The tags nDPI 5.0 knows in a Roughtime message (little endian).
const ROUGHTIME_TAGS: [&[u8; 4]; 22] = [
    b"PAD\0", b"SIG\0", b"VER\0", b"DUT1", b"NONC", b"DELE", b"PATH", b"DTAI", b"RADI", b"PUBK",
    b"LEAP", b"MIDP", b"SREP", b"MINT", b"ROOT", b"CERT", b"MAXT", b"INDX", b"PAD\xff", b"SIG\xff",
    b"VER\xff", b"ZZZZ",
];

pub(super) fn roughtime(_: &FlowCtx, d: &[u8]) -> Match {
    // A bare tagged message (nDPI 5.0 does not know the IETF framing): a
    // tag count, its offsets and tags, every tag a known one.
    let Some(n) = le32(d, 0)
        .map(|n| n as usize)
        .filter(|n| (1..=22).contains(n))
    else {
        return Match::No;
    };
    let tags_at = 4 + (n - 1) * 4;
    if d.len() < tags_at + n * 4 {
        return Match::No;
    }
    let last_fits =
        n == 1 || le32(d, 4 + (n - 2) * 4).is_some_and(|o| d.len() >= tags_at + o as usize);
    let known = (0..n).all(|i| {
        ROUGHTIME_TAGS
            .iter()
            .any(|t| d[tags_at + i * 4..][..4] == t[..])
    });
    yes(last_fits && known)
}

pub(super) fn jrmi(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(b"JRMI\0"))
}

pub(super) fn corba(flow: &FlowCtx, d: &[u8]) -> Match {
    // GIOP/ZIOP on TCP, MIOP (multicast) on UDP.
    if flow.protocol == 17 {
        return yes(d.len() > 32 && d.starts_with(b"MIOP"));
    }
    yes(d.len() >= 24 && (d.starts_with(b"GIOP") || d.starts_with(b"ZIOP")))
}

pub(super) fn megaco(_: &FlowCtx, d: &[u8]) -> Match {
    yes(starts_ci(d, b"MEGACO/1") || starts_ci(d, b"!/1 "))
}

pub(super) fn iax(flow: &FlowCtx, d: &[u8]) -> Match {
    // IAX2 full control frame (type 6) opening a call: sequences 0/0-1,
    // then information elements ending at the datagram's end.
    if !(either_port(flow, 4569)
        && d.len() >= 12
        && d[0] & 0x80 != 0
        && d[8] == 0
        && d[9] <= 1
        && d[10] == 6
        && d[11] <= 15)
    {
        return Match::No;
    }
    let mut at = 12;
    for _ in 0..15 {
        if at == d.len() {
            return Match::Yes;
        }
        at += 2 + usize::from(*d.get(at + 1).unwrap_or(&255));
        if at > d.len() {
            break;
        }
    }
    yes(at == d.len())
}

pub(super) fn tuya(_: &FlowCtx, d: &[u8]) -> Match {
    // Tuya LAN protocol: prefix 0x000055aa, suffix 0x0000aa55.
    yes(d.len() >= 24
        && be32(d, 0) == Some(0x0000_55aa)
        && be32(d, d.len() - 4) == Some(0x0000_aa55))
}

pub(super) fn raknet(_: &FlowCtx, d: &[u8]) -> Match {
    // The "offline message" magic, where each offline message puts it:
    // after the id (connection requests and replies), after id and version
    // (incompatible version), after id and time (ping), after id, time and
    // server id (pong).
    const MAGIC: [u8; 16] = [
        0x00, 0xff, 0xff, 0x00, 0xfe, 0xfe, 0xfe, 0xfe, 0xfd, 0xfd, 0xfd, 0xfd, 0x12, 0x34, 0x56,
        0x78,
    ];
    yes([1usize, 2, 9, 17]
        .iter()
        .any(|&at| d.get(at..at + 16) == Some(&MAGIC[..])))
}

pub(super) fn ceph(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(b"ceph v027") || d.starts_with(b"ceph v2\n"))
}

pub(super) fn git(_: &FlowCtx, d: &[u8]) -> Match {
    // pkt-line: four hex digits of length, then a service request.
    let hex = d.len() >= 8 && d[..4].iter().all(u8::is_ascii_hexdigit);
    yes(hex
        && (d[4..].starts_with(b"git-upload-pack ")
            || d[4..].starts_with(b"git-receive-pack ")
            || d[4..].starts_with(b"git-upload-archive ")))
}

pub(super) fn zabbix(_: &FlowCtx, d: &[u8]) -> Match {
    // The header's magic and a flags byte (any, as nDPI 5.0 reads it).
    yes(d.len() >= 5 && d.starts_with(b"ZBXD"))
}

pub(super) fn checkmk(_: &FlowCtx, d: &[u8]) -> Match {
    // The banner and at least its newline.
    yes(d.len() > 14 && d.starts_with(b"<<<check_mk>>>"))
}

/// The Oracle listener's port (nDPI 5.0 reads TNS there only).
pub(super) const ORACLE_PORT: u16 = 1521;

pub(super) fn oracle_tns(_: &FlowCtx, d: &[u8]) -> Match {
    // TNS: packet length, checksum 0, CONNECT (1).
    yes(d.len() >= 8 && be16(d, 0) == Some(d.len()) && be16(d, 2) == Some(0) && d[4] == 1)
}

/// WS-Discovery's port, and the shortest message nDPI 5.0 reads.
pub(super) const WSD_PORT: u16 = 3702;
const WSD_MIN: usize = 40;

pub(super) fn wsd(flow: &FlowCtx, d: &[u8]) -> Match {
    // WS-Discovery: an XML message to its port on a multicast group.
    yes(flow.dst_port == WSD_PORT
        && dst_multicast(flow)
        && d.len() >= WSD_MIN
        && d.starts_with(b"<?xml"))
}

pub(super) fn slp(_: &FlowCtx, d: &[u8]) -> Match {
    // SLPv2: version 2, function 1-11, 24-bit length; SLPv1: version 1.
    let v2 = d.len() >= 16
        && d[0] == 2
        && (1..=11).contains(&d[1])
        && (usize::from(d[2]) << 16 | be16(d, 3).unwrap_or(0)) == d.len();
    let v1 = d.len() >= 12 && d[0] == 1 && (1..=10).contains(&d[1]) && be16(d, 2) == Some(d.len());
    yes(v1 || v2)
}

/// MNDP's port.
pub(super) const MNDP_PORT: u16 = 5678;

pub(super) fn mikrotik(flow: &FlowCtx, d: &[u8]) -> Match {
    // MNDP announcements, to MNDP's port on the broadcast address (IPv6:
    // a link-local group), as nDPI 5.0 wants them.
    let broadcast = match flow.ip_version {
        4 => flow.dst[..4] == [255, 255, 255, 255],
        _ => flow.dst[..2] == [0xff, 0x02],
    };
    yes(d.len() >= 8 && flow.dst_port == MNDP_PORT && broadcast)
}

pub(super) fn opc_ua(_: &FlowCtx, d: &[u8]) -> Match {
    // OPC UA binary, as nDPI 5.0 reads it: a final chunk of a known
    // message type, 16 bytes or more.
    const TYPES: [&[u8; 4]; 7] = [
        b"HELF", b"ACKF", b"RHEF", b"OPNF", b"MSGF", b"ERRF", b"CLOF",
    ];
    yes(d.len() >= 16 && TYPES.iter().any(|t| &d[..4] == *t))
}

pub(super) fn ethernet_ip(_: &FlowCtx, d: &[u8]) -> Match {
    // Encapsulation header: known command, LE length of the data.
    const COMMANDS: [u16; 8] = [
        0x0004, 0x0063, 0x0064, 0x0065, 0x0066, 0x006f, 0x0070, 0x0001,
    ];
    if d.len() < 24 {
        return Match::No;
    }
    let cmd = u16::from_le_bytes([d[0], d[1]]);
    let len = usize::from(u16::from_le_bytes([d[2], d[3]]));
    yes(COMMANDS.contains(&cmd) && len + 24 == d.len())
}

/// The shortest HL7 message nDPI 5.0 reads.
const HL7_MIN: usize = 101;

pub(super) fn hl7(_: &FlowCtx, d: &[u8]) -> Match {
    // MLLP's start byte, then the message header segment with its
    // delimiters (nDPI 5.0 reads it at offset 1 only).
    yes(d.len() >= HL7_MIN && d[1..].starts_with(b"MSH|^~\\&|"))
}

pub(super) fn kismet(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(b"*KISMET: ") || d.starts_with(b"!1 ENABLE "))
}

pub(super) fn munin(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(b"# munin node at "))
}

pub(super) fn openwire(_: &FlowCtx, d: &[u8]) -> Match {
    // ActiveMQ: the command's size (the rest of the segment),
    // WireFormatInfo (1), the "ActiveMQ" magic.
    yes(d.len() > 22
        && be32(d, 0).map(|l| l + 4) == Some(d.len())
        && d[4] == 1
        && &d[5..13] == b"ActiveMQ")
}

/// The tinc protocol version nDPI 5.0 accepts in an ID message.
const TINC_VERSION: &[u8] = b"17\n";

/// tinc's ID request: `0 <name> 17\n`.
fn tinc_id(d: &[u8]) -> bool {
    d.len() > 6
        && d.starts_with(b"0 ")
        && d[2] != b' '
        && d[3..]
            .iter()
            .position(|b| *b == b' ')
            .is_some_and(|at| &d[3 + at + 1..] == TINC_VERSION)
}

/// tinc's METAKEY request: `1 <cipher> <digest> <maclength> <compression>
/// <KEY in upper-case hex>\n`.
fn tinc_metakey(d: &[u8]) -> bool {
    if d.len() <= 11 || !d.starts_with(b"1 ") || d[2] == b' ' {
        return false;
    }
    let mut at = 3;
    for _ in 0..4 {
        while d.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        if d.get(at) != Some(&b' ') {
            return false;
        }
        at += 1;
    }
    // The key runs to the line's end; another message may follow it.
    d[at..]
        .iter()
        .find(|b| !(b.is_ascii_digit() || b.is_ascii_uppercase()))
        == Some(&b'\n')
}

pub(super) fn tinc(_: &FlowCtx, d: &[u8]) -> Match {
    // nDPI: both ID requests and both METAKEYs, the flow's first four
    // payloads; the engine then awaits the UDP flow between the two hosts.
    if tinc_id(d) || tinc_metakey(d) {
        Match::Run(4)
    } else {
        Match::No
    }
}

/// Ecowitt/Fine Offset gateway API: header 0xffff, CMD_BROADCAST (0x12),
/// the size's high byte 0.
const EASYWEATHER_BROADCAST: &[u8] = &[0xff, 0xff, 0x12, 0x00];

pub(super) fn easyweather(_: &FlowCtx, d: &[u8]) -> Match {
    first(d.len() >= 5 && d.starts_with(EASYWEATHER_BROADCAST))
}

/// CAN frames over IP (CAN-ETH): the header's ASCII magic.
const CAN_ETH_MAGIC: &[u8] = b"ISO11898";

pub(super) fn can(_: &FlowCtx, d: &[u8]) -> Match {
    // Magic, version and frame count (the version is not required to be 1).
    first(d.len() >= 10 && d.starts_with(CAN_ETH_MAGIC))
}

/// LISP's data-plane and control-plane UDP ports.
pub(super) const LISP_DATA_PORT: u16 = 4341;
/// LISP's control-plane port (UDP, and TCP for reliable transport).
pub(super) const LISP_CONTROL_PORT: u16 = 4342;
/// The end marker of a LISP reliable-transport message.
const LISP_END_MARKER: &[u8] = &[0x9f, 0xac, 0xad, 0xe9];

pub(super) fn lisp_udp(flow: &FlowCtx, _: &[u8]) -> Match {
    // nDPI decides by the port pair alone: both sides 4341, or both 4342.
    yes(flow.src_port == flow.dst_port
        && matches!(flow.src_port, LISP_DATA_PORT | LISP_CONTROL_PORT))
}

pub(super) fn lisp_tcp(_: &FlowCtx, d: &[u8]) -> Match {
    // Reliable transport: a message length covering the segment, the end marker last.
    first(d.len() >= 8 && be16(d, 2).is_some_and(|l| l >= d.len()) && d.ends_with(LISP_END_MARKER))
}

/// collectd's part types (host .. interval-hr, message, severity,
/// signature, encryption).
const COLLECTD_PARTS: &[usize] = &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x100, 0x101, 0x200, 0x210];
/// collectd's encrypted part (AES-256), which must cover the datagram.
const COLLECTD_ENCRYPTED: usize = 0x210;

pub(super) fn collectd(_: &FlowCtx, d: &[u8]) -> Match {
    // Up to five type-length parts from the start; three valid ones, or one
    // encrypted part that is the whole datagram.
    let (mut at, mut valid) = (0, 0);
    for _ in 0..5 {
        let (Some(t), Some(len)) = (be16(d, at), be16(d, at + 2)) else {
            break;
        };
        if len == 0 || at + len > d.len() || !COLLECTD_PARTS.contains(&t) {
            break;
        }
        if t == COLLECTD_ENCRYPTED {
            let user = be16(d, 4).unwrap_or(usize::MAX);
            return first(len == d.len() && len >= 6 && d.len() >= 22 && user <= d.len() - 22);
        }
        valid += 1;
        at += len;
    }
    first(valid >= 3)
}

/// Samsung's service discovery request (BSDP).
const SAMSUNG_SDP_SEARCH: &[u8] = b"SEARCH BSDP/";

pub(super) fn samsung_sdp(_: &FlowCtx, d: &[u8]) -> Match {
    first(d.starts_with(SAMSUNG_SDP_SEARCH))
}

/// DLEP's (RFC 8175) session port, required on TCP.
pub(super) const DLEP_PORT: u16 = 854;

pub(super) fn dlep_udp(_: &FlowCtx, d: &[u8]) -> Match {
    // A discovery signal: "DLEP", then a signal header and data items.
    first(d.len() > 27 && d.starts_with(b"DLEP"))
}

pub(super) fn dlep_tcp(_: &FlowCtx, d: &[u8]) -> Match {
    // One session message: type below 17, length the rest of the segment.
    first(d.len() > 8 && be16(d, 0).is_some_and(|t| t < 0x11) && be16(d, 2) == Some(d.len() - 4))
}

/// GLBP's port, on both sides.
pub(super) const GLBP_PORT: u16 = 3222;

pub(super) fn glbp(flow: &FlowCtx, d: &[u8]) -> Match {
    // Version 0-1 and a group number below 1024.
    first(
        flow.src_port == GLBP_PORT
            && flow.dst_port == GLBP_PORT
            && d.len() >= 12
            && d[0] <= 1
            && be16(d, 2).is_some_and(|g| g <= 1023),
    )
}

/// LNet's acceptor magic and its protocol magic ("Eric"), little-endian.
const LNET_MAGICS: [u32; 2] = [0xacce_7100, 0x4572_6963];
/// A socklnd LNet message's opening word (little-endian).
const LNET_MESSAGE: u32 = 0xc1;

pub(super) fn lustre(flow: &FlowCtx, d: &[u8]) -> Match {
    // IPv4: an LNet hello whose NID (little-endian at 8) is the address the
    // packet is sent to, or a mid-stream message whose NID (at 24) is and
    // whose length (at 52) is the rest after 96 bytes. The packet's
    // destination is the flow's server or, for an answer, its client.
    if flow.ip_version != 4 {
        return Match::No;
    }
    let addr = |a: &exitflow_decode::Addr| u32::from_be_bytes([a[0], a[1], a[2], a[3]]);
    let to = |at: usize| le32(d, at).is_some_and(|v| v == addr(&flow.dst) || v == addr(&flow.src));
    let hello = d.len() >= 16 && le32(d, 0).is_some_and(|m| LNET_MAGICS.contains(&m)) && to(8);
    let message = d.len() >= 96
        && le32(d, 0) == Some(LNET_MESSAGE)
        && to(24)
        && le32(d, 52).is_some_and(|l| l as usize == d.len() - 96);
    first(hello || message)
}
