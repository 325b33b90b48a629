//! Network infrastructure, management, databases and middleware,
//! recognised from their message headers as their specifications define
//! them.
use super::{Match, be16, be32, ber_element, either_port, first, le32, starts_ci, yes};
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

pub(super) fn memcached(_: &FlowCtx, d: &[u8]) -> Match {
    // Binary (magic 0x80 request / 0x81 response, 24-byte header) or text commands.
    // Commands and replies of the text protocol (memcached's protocol.txt).
    const TEXT: [&[u8]; 26] = [
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
        b"VALUE ",
        b"STAT ",
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
    let binary =
        d.len() >= 24 && matches!(d[0], 0x80 | 0x81) && be32(d, 8).map(|l| l + 24) == Some(d.len());
    let text = d.ends_with(b"\r\n") && TEXT.iter().any(|t| d.starts_with(t));
    // nDPI 5.0: two messages of the flow (a Redis `get` alone is not one).
    if binary || text {
        Match::Count(MEMCACHED_MESSAGES)
    } else {
        Match::No
    }
}

/// Memcached messages nDPI wants before it names the flow.
const MEMCACHED_MESSAGES: u8 = 2;
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

pub(super) fn cassandra(_: &FlowCtx, d: &[u8]) -> Match {
    // CQL binary protocol v3-v5: version (0x8x for responses), flags,
    // stream, opcode 0-0x10, body length.
    if d.len() < 9 {
        return Match::No;
    }
    let v = d[0] & 0x7f;
    yes((3..=5).contains(&v)
        && d[1] <= 0x1f
        && d[4] <= 0x10
        && be32(d, 5).map(|l| l + 9) == Some(d.len()))
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

pub(super) fn fastcgi(_: &FlowCtx, d: &[u8]) -> Match {
    // Version 1, record type 1-11, content length + padding within the segment.
    let Some(clen) = be16(d, 4) else {
        return Match::No;
    };
    yes(d.len() >= 8
        && d[0] == 1
        && (1..=11).contains(&d[1])
        && d[7] == 0
        && 8 + clen + usize::from(d[6]) <= d.len())
}

pub(super) fn ajp(_: &FlowCtx, d: &[u8]) -> Match {
    // Server to container: 0x1234, length, a prefix code (forward request 2, ...);
    // container to server: "AB", length, a prefix code 3-6.
    let to_container = d.len() >= 5
        && d[0] == 0x12
        && d[1] == 0x34
        && be16(d, 2).map(|l| l + 4) == Some(d.len())
        && matches!(d[4], 2 | 7 | 8 | 10);
    let to_server = d.len() >= 5
        && d.starts_with(b"AB")
        && be16(d, 2).map(|l| l + 4) == Some(d.len())
        && (3..=6).contains(&d[4]);
    yes(to_container || to_server)
}

/// PROXY protocol version 2 signature.
const PROXY_V2: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

pub(super) fn haproxy(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(b"PROXY TCP4 ")
        || d.starts_with(b"PROXY TCP6 ")
        || d.starts_with(b"PROXY UNKNOWN")
        || d.starts_with(PROXY_V2))
}

pub(super) fn stomp(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(b"CONNECT\n")
        || d.starts_with(b"STOMP\n")
        || d.starts_with(b"CONNECTED\n")
        || d.starts_with(b"CONNECT\r\n")
        || d.starts_with(b"STOMP\r\n"))
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
    let len = usize::from(d[1]) << 16 | be16(d, 2).unwrap_or(0);
    let cmd = usize::from(d[5]) << 16 | be16(d, 6).unwrap_or(0);
    yes(len == d.len() && d[4] & 0x0f == 0 && (257..=8_388_607).contains(&cmd) && cmd < 0x0100_0000)
}

pub(super) fn smpp(_: &FlowCtx, d: &[u8]) -> Match {
    // Command length, a known command id (bind, submit, deliver, ... and their responses).
    let (Some(len), Some(id)) = (be32(d, 0), be32(d, 4)) else {
        return Match::No;
    };
    let base = id & 0x7fff_ffff;
    yes(len == d.len()
        && d.len() >= 16
        && matches!(base, 0x01..=0x09 | 0x0b | 0x15 | 0x21 | 0x102 | 0x103)
        && be32(d, 8).is_some_and(|s| s < 0x500))
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
    // Version 5, agent address type 1 (IPv4) or 2 (IPv6).
    yes(d.len() >= 28 && be32(d, 0) == Some(5) && matches!(be32(d, 4), Some(1 | 2)))
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
    yes(d.len() >= 16
        && (d.starts_with(b"BJNP")
            || d.starts_with(b"BNJB")
            || d.starts_with(b"BJNB")
            || d.starts_with(b"MFNP")))
}

pub(super) fn knxnet_ip(_: &FlowCtx, d: &[u8]) -> Match {
    // Header length 6, version 1.0, service type, total length.
    yes(d.len() >= 6 && d[0] == 0x06 && d[1] == 0x10 && be16(d, 4) == Some(d.len()))
}

pub(super) fn ptp(_: &FlowCtx, d: &[u8]) -> Match {
    // PTPv2: message type 0-3 or 8-13, version 2, length of the message.
    yes(d.len() >= 34
        && matches!(d[0] & 0x0f, 0..=3 | 8..=13)
        && d[1] & 0x0f == 2
        && be16(d, 2) == Some(d.len()))
}

pub(super) fn bfd(_: &FlowCtx, d: &[u8]) -> Match {
    // Version 1, detect multiplier, length 24 (or more with authentication).
    yes(d.len() >= 24 && d[0] >> 5 == 1 && d[2] > 0 && usize::from(d[3]) == d.len())
}

pub(super) fn ldp(_: &FlowCtx, d: &[u8]) -> Match {
    // Version 1, PDU length (the rest), LSR id and label space.
    yes(d.len() >= 10 && be16(d, 0) == Some(1) && be16(d, 2).map(|l| l + 4) == Some(d.len()))
}

pub(super) fn capwap(_: &FlowCtx, d: &[u8]) -> Match {
    // Preamble version 0, type 0 (1 = DTLS), header length in words.
    yes(d.len() >= 8
        && (d[0] == 0 || d[0] == 1)
        && ((d[1] >> 3) as usize) * 4 <= d.len()
        && (d[1] >> 3) >= 2)
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
    // ZMTP 3 greeting: 0xff, padding, 0x7f, version 3.
    yes(d.len() >= 11 && d[0] == 0xff && d[9] == 0x7f && (d.len() < 11 || d[10] == 3 || d[10] == 1))
}

pub(super) fn monero(_: &FlowCtx, d: &[u8]) -> Match {
    // Levin protocol signature.
    yes(d.starts_with(&[0x01, 0x21, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01]))
}

pub(super) fn roughtime(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(b"ROUGHTIM"))
}

pub(super) fn jrmi(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(b"JRMI\0"))
}

pub(super) fn corba(flow: &FlowCtx, d: &[u8]) -> Match {
    // GIOP/ZIOP on TCP, MIOP (multicast) on UDP.
    if flow.protocol == 17 {
        return yes(d.len() > 32 && d.starts_with(b"MIOP"));
    }
    yes(d.len() >= 12 && (d.starts_with(b"GIOP") || d.starts_with(b"ZIOP")))
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
    yes(d.len() >= 13 && d.starts_with(b"ZBXD") && matches!(d[4], 1 | 3 | 5))
}

pub(super) fn checkmk(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(b"<<<check_mk>>>"))
}

pub(super) fn oracle_tns(_: &FlowCtx, d: &[u8]) -> Match {
    // TNS: packet length, checksum 0, CONNECT (1) with version 300-320.
    yes(d.len() >= 34
        && be16(d, 0) == Some(d.len())
        && be16(d, 2) == Some(0)
        && d[4] == 1
        && be16(d, 8).is_some_and(|v| (300..=320).contains(&v)))
}

pub(super) fn wsd(_: &FlowCtx, d: &[u8]) -> Match {
    // WS-Discovery over UDP: SOAP naming the discovery namespace.
    yes(d.starts_with(b"<?xml")
        && d.windows(13)
            .any(|w| w == b"ws/2005/04/di" || w == b"ws-dd/ns/disc"))
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

pub(super) fn mikrotik(_: &FlowCtx, d: &[u8]) -> Match {
    // MNDP: 4-byte header, then TLVs (type, length) starting with MAC (1) or identity.
    yes(d.len() >= 8
        && be16(d, 4).is_some_and(|t| matches!(t, 1 | 5 | 7 | 8 | 10 | 11 | 12 | 14 | 15 | 16))
        && be16(d, 6).is_some_and(|l| l + 8 <= d.len()))
}

pub(super) fn opc_ua(_: &FlowCtx, d: &[u8]) -> Match {
    // OPC UA binary: message type, chunk type F/C/A, LE size.
    const TYPES: [&[u8; 3]; 6] = [b"HEL", b"ACK", b"OPN", b"MSG", b"CLO", b"ERR"];
    yes(d.len() >= 8
        && TYPES.iter().any(|t| &d[..3] == *t)
        && matches!(d[3], b'F' | b'C' | b'A')
        && le32(d, 4) == Some(d.len() as u32))
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

pub(super) fn hl7(_: &FlowCtx, d: &[u8]) -> Match {
    // MLLP framing (0x0b) around a message starting with its header segment.
    let m = d.strip_prefix(b"\x0b").unwrap_or(d);
    yes(m.starts_with(b"MSH|^~\\&"))
}

pub(super) fn kismet(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(b"*KISMET: ") || d.starts_with(b"!1 ENABLE "))
}

pub(super) fn munin(_: &FlowCtx, d: &[u8]) -> Match {
    yes(d.starts_with(b"# munin node at "))
}

pub(super) fn openwire(_: &FlowCtx, d: &[u8]) -> Match {
    // ActiveMQ: size, WireFormatInfo (1), "ActiveMQ" magic.
    yes(d.len() >= 14 && d[4] == 1 && &d[5..13] == b"ActiveMQ")
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
