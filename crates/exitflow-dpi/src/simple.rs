//! Per-packet detection: which protocol a flow's first bytes belong to.
//! Multi-packet protocols keep their state in the flow's `Ext`.
use exitflow_decode::PacketInfo;

use crate::parse::Parse;
use crate::registry::{ProtoId, known, registry};
use crate::tls::parser::{
    HS_CERTIFICATE, HS_CLIENT_HELLO, HS_SERVER_HELLO, certificate_names, client_hello,
    first_handshake, looks_like_record, walk_handshakes,
};
use crate::{FlowCtx, FlowDpi, Need, dns, http, quic, service_of, tls};

fn id(name: &str) -> ProtoId {
    registry().id(name).unwrap_or(ProtoId::UNKNOWN)
}

fn either_port(flow: &FlowCtx, port: u16) -> bool {
    flow.src_port == port || flow.dst_port == port
}

/// The master protocol of TLS on a port that wraps another protocol in TLS
/// (nDPI 5 names those flows by the wrapped protocol).
fn tls_master(flow: &FlowCtx) -> ProtoId {
    for (port, name) in [
        (465, "SMTPS"),
        (993, "IMAPS"),
        (995, "POPS"),
        (5223, "ApplePush"),
    ] {
        if either_port(flow, port) {
            return id(name);
        }
    }
    known().tls
}

/// The service of a TLS/QUIC server name, with DNS-over-TLS by port.
fn tls_app(flow: &FlowCtx, sni: Option<&str>) -> ProtoId {
    if either_port(flow, 853) {
        return known().doh_dot;
    }
    match sni {
        Some(n) => {
            let s = service_of(n);
            if !s.is_unknown() {
                s
            } else if resolver_name(n) {
                known().doh_dot
            } else if tor_link_name(n) {
                id("Tor")
            } else {
                s
            }
        }
        None => ProtoId::UNKNOWN,
    }
}

/// The server names Tor relays put in their link handshakes: `www.` and a
/// random base32-looking label under `.com` or `.net`.
fn tor_link_name(n: &str) -> bool {
    let Some(rest) = n.strip_prefix("www.") else {
        return false;
    };
    let Some(label) = rest
        .strip_suffix(".com")
        .or_else(|| rest.strip_suffix(".net"))
    else {
        return false;
    };
    let digits = label.bytes().filter(|b| (b'2'..=b'7').contains(b)).count();
    (8..=32).contains(&label.len())
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
        && digits >= 2
}

/// Server names public DNS-over-HTTPS resolvers use: a first label `doh`,
/// `doh-N`, `dns` or `dnsN`.
fn resolver_name(n: &str) -> bool {
    let first = n.split('.').next().unwrap_or("");
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    n.contains('.')
        && (first == "doh"
            || first.strip_prefix("doh-").is_some_and(digits)
            || first.strip_prefix("dns").is_some_and(digits))
}

/// TCP: looks at the first bytes of one direction's stream.
pub(crate) fn tcp(st: &mut FlowDpi, flow: &FlowCtx, data: &[u8], src2dst: bool) -> Need {
    if st.done {
        // Only the HTTP response headers or the TLS certificate are still wanted.
        if st.want_http_response && !src2dst {
            return http_response(st, data);
        }
        if st.want_cert && !src2dst {
            return tls_certificate(st, data);
        }
        return Need::Nothing;
    }
    if looks_like_record(data) || (data.len() < 3 && data.first() == Some(&22)) {
        let mut scratch = std::mem::take(&mut st.ext().scratch);
        let r = match first_handshake(data, &mut scratch) {
            Parse::Done((HS_CLIENT_HELLO, body)) => match client_hello(body) {
                Parse::Done(ch) => {
                    let app = tls_app(flow, ch.sni);
                    st.set(tls_master(flow), app);
                    st.want_cert = app.is_unknown();
                    let fp = tls::ja4(&ch, 't');
                    let m = st.meta();
                    m.server_name = ch.sni.map(str::to_owned);
                    m.client_fingerprint = Some(fp);
                    Need::Nothing
                }
                _ => Need::Nothing,
            },
            Parse::Done((HS_SERVER_HELLO, _)) => {
                // We missed the ClientHello: TLS without a server name; the
                // certificate may still name the service.
                st.set(tls_master(flow), tls_app(flow, None));
                st.want_cert = st.app.is_unknown();
                if let Some(e) = st.ext.as_mut() {
                    e.scratch = std::mem::take(&mut scratch);
                }
                return tls_certificate(st, data);
            }
            Parse::Done(_) => Need::Nothing,
            Parse::Incomplete(_) => Need::More,
            Parse::NotMine | Parse::Error => Need::Nothing,
        };
        if let Some(e) = st.ext.as_mut() {
            e.scratch = scratch;
        }
        return r;
    }
    if src2dst || http::parser::could_be_request(data) {
        match http::parser::request(data) {
            Parse::Done(req) => {
                let k = known();
                let master = if req.proxy || either_port(flow, 8080) || either_port(flow, 3128) {
                    k.http_proxy
                } else {
                    k.http
                };
                let host = req.host.map(http::parser::host_name);
                let app = host.map(service_of).unwrap_or(ProtoId::UNKNOWN);
                st.set(master, app);
                st.want_http_response = true;
                let (h, ua) = (host.map(str::to_owned), req.user_agent.map(str::to_owned));
                let m = st.meta();
                m.server_name = h;
                m.user_agent = ua;
                return Need::Nothing;
            }
            Parse::Incomplete(_) => return Need::More,
            Parse::NotMine | Parse::Error => {}
        }
    }
    if !src2dst && data.starts_with(b"HTTP/1.") {
        st.set(known().http, ProtoId::UNKNOWN);
        st.want_http_response = true;
        return http_response(st, data);
    }
    if let Some(p) = banner(flow, data, src2dst) {
        st.set(p, ProtoId::UNKNOWN);
        return Need::Nothing;
    }
    if either_port(flow, 53) && data.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([data[0], data[1]]));
        match dns::parser::message(&data[2..]) {
            Parse::Done(m) if len >= 12 => {
                dns_label(st, flow, &m);
                return Need::Nothing;
            }
            Parse::Incomplete(_) if len >= 12 => return Need::More,
            _ => {}
        }
    }
    Need::Nothing
}

fn tls_certificate(st: &mut FlowDpi, data: &[u8]) -> Need {
    let mut scratch = std::mem::take(&mut st.ext().scratch);
    let mut found = ProtoId::UNKNOWN;
    let r = walk_handshakes(data, &mut scratch, |t, body| {
        if t != HS_CERTIFICATE {
            return false;
        }
        certificate_names(body, |name| {
            found = service_of(name.trim_start_matches("*."));
            !found.is_unknown()
        });
        true
    });
    st.ext().scratch = scratch;
    match r {
        Parse::Incomplete(_) => Need::More,
        _ => {
            st.want_cert = false;
            if !found.is_unknown() {
                st.app = found;
            }
            Need::Nothing
        }
    }
}

fn http_response(st: &mut FlowDpi, data: &[u8]) -> Need {
    match http::parser::response(data) {
        Parse::Done(r) => {
            st.want_http_response = false;
            if let Some(ct) = r.content_type {
                st.meta().content_type = Some(ct.to_owned());
            }
            Need::Nothing
        }
        Parse::Incomplete(_) => Need::More,
        _ => {
            st.want_http_response = false;
            Need::Nothing
        }
    }
}

/// Line-based protocols recognised by their first bytes.
fn banner(flow: &FlowCtx, d: &[u8], src2dst: bool) -> Option<ProtoId> {
    if d.starts_with(b"SSH-") {
        return Some(id("SSH"));
    }
    if d.len() >= 20 && d[0] == 19 && &d[1..20] == b"BitTorrent protocol" {
        return Some(id("BitTorrent"));
    }
    // Binary protocols recognised by their framing on their ports.
    let len32 = |b: &[u8]| {
        b.get(..4)
            .map(|x| u32::from_be_bytes([x[0], x[1], x[2], x[3]]) as usize)
    };
    if either_port(flow, 88)
        && d.len() > 4
        && matches!(d[4], 0x6a | 0x6b | 0x6c | 0x6d | 0x7e)
        && len32(d) == Some(d.len() - 4)
    {
        return Some(id("Kerberos"));
    }
    if either_port(flow, 1433)
        && d.len() >= 8
        && matches!(d[0], 0x01..=0x12)
        && d[1] <= 1
        && usize::from(u16::from_be_bytes([d[2], d[3]])) == d.len()
    {
        return Some(id("MsSQL-TDS"));
    }
    if either_port(flow, 27017) && d.len() >= 16 {
        let len = u32::from_le_bytes([d[0], d[1], d[2], d[3]]) as usize;
        let op = u32::from_le_bytes([d[12], d[13], d[14], d[15]]);
        if len == d.len() && matches!(op, 1 | 2001..=2013) {
            return Some(id("MongoDB"));
        }
    }
    if d.len() >= 10 && d[0] == 0x05 && d[1] == 0x64 && either_port(flow, 20000) {
        return Some(id("DNP3"));
    }
    if d.len() >= 6 && d[0] == 0x68 && usize::from(d[1]) + 2 <= d.len() && either_port(flow, 2404) {
        return Some(id("IEC60870"));
    }
    // WhatsApp's chat protocol opens with "WA" and a version, or "ED" (Noise).
    if d.len() >= 4 && (d.starts_with(b"WA") && d[2] <= 9 || d.starts_with(b"ED\x00\x01")) {
        return Some(id("WhatsApp"));
    }
    if d.starts_with(b"8=FIX") {
        return Some(id("FIX"));
    }
    if d.starts_with(&[0xf9, 0xbe, 0xb4, 0xd9]) || d.starts_with(&[0x0b, 0x11, 0x09, 0x07]) {
        return Some(id("BITCOIN"));
    }
    if d.len() >= 19 && d[..16].iter().all(|b| *b == 0xff) && either_port(flow, 179) {
        return Some(id("BGP"));
    }
    if d.len() >= 10 && d[0] == 0x10 && d.windows(4).take(12).any(|w| w == b"MQTT" || w == b"MQIs")
    {
        return Some(id("MQTT"));
    }
    if src2dst {
        let upper = |p: &[u8]| d.len() >= p.len() && d[..p.len()].eq_ignore_ascii_case(p);
        if upper(b"EHLO ") || upper(b"HELO ") {
            return Some(id("SMTP"));
        }
        if d.starts_with(b"<?xml") || d.starts_with(b"<stream:stream") {
            return Some(id("XMPP"));
        }
        if d.starts_with(b"NICK ") || d.starts_with(b"USER ") || d.starts_with(b"CAP LS") {
            return Some(id("IRC"));
        }
        if either_port(flow, 43)
            && d.len() < 256
            && d.ends_with(b"\r\n")
            && d.iter()
                .all(|b| b.is_ascii_graphic() || *b == b' ' || *b == b'\r' || *b == b'\n')
        {
            return Some(id("Whois-DAS"));
        }
        // RDP: TPKT, then an X.224 connection request.
        if d.len() >= 11
            && d[0] == 3
            && d[1] == 0
            && usize::from(u16::from_be_bytes([d[2], d[3]])) == d.len()
            && d[5] == 0xe0
        {
            // On port 102 the same framing carries Siemens S7.
            return Some(id(if either_port(flow, 102) {
                "S7Comm"
            } else {
                "RDP"
            }));
        }
        // SOCKS 4/5 greetings.
        if either_port(flow, 1080)
            && d.len() >= 3
            && ((d[0] == 5 && usize::from(d[1]) + 2 == d.len())
                || (d[0] == 4 && matches!(d[1], 1 | 2)))
        {
            return Some(id("SOCKS"));
        }
        // Minecraft: a handshake packet (length, id 0, version, host, port, state).
        if either_port(flow, 25565) && d.len() >= 6 && usize::from(d[0]) < d.len() && d[1] == 0 {
            return Some(id("Minecraft"));
        }
        // OpenVPN over TCP: length, then a hard-reset opcode.
        if d.len() >= 16
            && usize::from(u16::from_be_bytes([d[0], d[1]])) + 2 == d.len()
            && matches!(d[2] >> 3, 1 | 7 | 10)
        {
            return Some(id("OpenVPN"));
        }
        if d.len() >= 3 && d[0] == 0xff && matches!(d[1], 0xfb..=0xfe) {
            return Some(id("Telnet"));
        }
        return None;
    }
    if d.starts_with(b"220") && d.get(3).is_some_and(|c| *c == b' ' || *c == b'-') {
        let text = &d[..d.len().min(200)];
        let has = |w: &[u8]| text.windows(w.len()).any(|x| x.eq_ignore_ascii_case(w));
        if either_port(flow, 21) || has(b"FTP") {
            return Some(id("FTP_CONTROL"));
        }
        if has(b"SMTP") || has(b"mail") || either_port(flow, 25) || either_port(flow, 587) {
            return Some(id("SMTP"));
        }
        return None;
    }
    if d.starts_with(b"+OK") {
        return Some(id("POP3"));
    }
    if d.starts_with(b"RFB 00") {
        return Some(id("VNC"));
    }
    if d.len() >= 3 && d[0] == 0xff && matches!(d[1], 0xfb..=0xfe) {
        return Some(id("Telnet"));
    }
    if d.starts_with(b":")
        && d.windows(5)
            .take(80)
            .any(|w| w == b" 001 " || w == b"NOTIC")
    {
        return Some(id("IRC"));
    }
    if d.starts_with(b"* OK") {
        return Some(id("IMAP"));
    }
    None
}

fn dns_label(st: &mut FlowDpi, flow: &FlowCtx, m: &dns::parser::Message) {
    let k = known();
    let master = if either_port(flow, 5353) {
        k.mdns
    } else if either_port(flow, 5355) {
        k.llmnr
    } else {
        k.dns
    };
    let name = m.qname.as_ref().map(|n| n.as_str().to_owned());
    let app = if master == k.dns {
        name.as_deref().map(service_of).unwrap_or(ProtoId::UNKNOWN)
    } else {
        ProtoId::UNKNOWN
    };
    st.set(master, app);
    if name.as_deref().is_some_and(|n| !n.is_empty()) {
        st.meta().server_name = name;
    }
}

/// Google QUIC (Q0xx versions): public header with the version, and the
/// server name from the CHLO's SNI tag when present.
fn gquic(d: &[u8]) -> Option<Option<&str>> {
    if d.len() < 13 || d[0] & 0x81 != 0x01 || d[0] & 0x08 == 0 {
        return None;
    }
    let v = &d[9..13];
    if v[0] != b'Q' || !v[1..].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let at = d.windows(4).take(64).position(|w| w == b"CHLO")?;
    let n = usize::from(u16::from_le_bytes([*d.get(at + 4)?, *d.get(at + 5)?]));
    let tags = at + 8;
    let values = tags + n * 8;
    let mut prev_end = 0usize;
    for i in 0..n.min(64) {
        let e = tags + i * 8;
        let tag = d.get(e..e + 4)?;
        let end = u32::from_le_bytes(d.get(e + 4..e + 8)?.try_into().ok()?) as usize;
        if tag == b"SNI\0" {
            let v = d.get(values + prev_end..values + end)?;
            return Some(std::str::from_utf8(v).ok());
        }
        prev_end = end;
    }
    Some(None)
}

/// UDP: one datagram.
pub(crate) fn udp(st: &mut FlowDpi, flow: &FlowCtx, p: &PacketInfo<'_>, src2dst: bool) {
    let d = p.payload;
    let k = known();
    // QUIC (IETF): long headers of a known version, either direction; the
    // client's Initials carry the ClientHello.
    if d[0] & 0x80 != 0 && matches!(quic::parser::long_header(d), Parse::Done(_)) {
        if src2dst && let quic::Step::ClientHello = st.ext().quic.client_datagram(d) {
            let ext = st.ext.as_mut().expect("created above");
            let (sni, fp) = match ext.quic.client_hello() {
                Some(ch) => (ch.sni.map(str::to_owned), Some(tls::ja4(&ch, 'q'))),
                None => (None, None),
            };
            let app = tls_app(flow, sni.as_deref());
            st.set(k.quic, app);
            let m = st.meta();
            m.server_name = sni;
            m.client_fingerprint = fp;
            return;
        }
        // Known QUIC; the ClientHello may still come (until the packet limit).
        st.master = k.quic;
        return;
    }
    if st.master == k.quic {
        return;
    }
    // Version negotiation, and the reserved versions clients send to force it
    // (RFC 9000 §15): QUIC without keys to read.
    if d[0] & 0xc0 == 0xc0 && d.len() >= 7 {
        let v = u32::from_be_bytes([d[1], d[2], d[3], d[4]]);
        if (v == 0 && !src2dst) || v & 0x0f0f_0f0f == 0x0a0a_0a0a {
            st.master = k.quic;
            return;
        }
    }
    if let Some(sni) = gquic(d) {
        let app = tls_app(flow, sni);
        st.set(k.quic, app);
        if let Some(n) = sni {
            st.meta().server_name = Some(n.to_owned());
        }
        return;
    }
    for port in [53u16, 5353, 5355] {
        if either_port(flow, port) {
            match dns::parser::message(d) {
                Parse::Done(m) => {
                    if !special_dns(st, &m) {
                        dns_label(st, flow, &m);
                    }
                }
                _ => {
                    st.excluded = true;
                    st.done = true;
                }
            }
            return;
        }
    }
    // DNS-shaped queries on other ports: DNSCrypt certificates and Avast's resolver.
    if d.len() >= 17
        && let Parse::Done(m) = dns::parser::message(d)
        && special_dns(st, &m)
    {
        return;
    }
    let set = |st: &mut FlowDpi, name: &str| st.set(id(name), ProtoId::UNKNOWN);
    // STUN: magic cookie, and a length that matches.
    if d.len() >= 20
        && d[0] & 0xc0 == 0
        && d[4..8] == [0x21, 0x12, 0xa4, 0x42]
        && usize::from(u16::from_be_bytes([d[2], d[3]])) + 20 <= d.len()
    {
        // WhatsApp calls carry attributes from the vendor range 0x4000.
        let app = if stun_has_attr(d, 0x4000..=0x4007) {
            id("WhatsAppCall")
        } else {
            ProtoId::UNKNOWN
        };
        st.set(id("STUN"), app);
        return;
    }
    if (d.starts_with(b"M-SEARCH ") || d.starts_with(b"NOTIFY * HTTP/1.1"))
        || (either_port(flow, 1900) && d.starts_with(b"HTTP/1.1 200"))
    {
        return set(st, "SSDP");
    }
    if (either_port(flow, 67) || either_port(flow, 68))
        && d.len() >= 240
        && d[236..240] == [0x63, 0x82, 0x53, 0x63]
    {
        return set(st, "DHCP");
    }
    if (either_port(flow, 546) || either_port(flow, 547)) && (1..=13).contains(&d[0]) {
        return set(st, "DHCPV6");
    }
    if either_port(flow, 123) && d.len() >= 48 && (1..=4).contains(&((d[0] >> 3) & 7)) {
        return set(st, "NTP");
    }
    if either_port(flow, 137) && d.len() >= 12 {
        return set(st, "NetBIOS");
    }
    if either_port(flow, 138) && d.len() >= 14 && (0x10..=0x16).contains(&d[0]) {
        // A datagram carrying SMB (mailslot browser announcements) is SMBv1.
        let smb = d.windows(4).any(|w| w == b"\xffSMB");
        st.set(
            id("NetBIOS"),
            if smb { id("SMBv1") } else { ProtoId::UNKNOWN },
        );
        return;
    }
    if either_port(flow, 88) && matches!(d[0], 0x6a | 0x6b | 0x6c | 0x6d | 0x7e) {
        return set(st, "Kerberos");
    }
    if d.starts_with(b"d1:")
        && (d.windows(3).any(|w| w == b"1:y") || d.windows(4).any(|w| w == b"1:ad"))
    {
        return set(st, "BitTorrent");
    }
    if either_port(flow, 17500)
        && d.starts_with(b"{")
        && d.windows(10).any(|w| w == b"\"host_int\"")
    {
        return set(st, "Dropbox");
    }
    if d.starts_with(b"SIP/2.0 ")
        || [
            &b"INVITE sip:"[..],
            b"REGISTER sip:",
            b"OPTIONS sip:",
            b"BYE sip:",
            b"ACK sip:",
            b"NOTIFY sip:",
            b"SUBSCRIBE sip:",
        ]
        .iter()
        .any(|m| d.starts_with(m))
    {
        return set(st, "SIP");
    }
    // WireGuard: message type 1-4 then three reserved zero bytes, fixed sizes.
    if d.len() >= 32
        && d[1..4] == [0, 0, 0]
        && matches!((d[0], d.len()), (1, 148) | (2, 92) | (3, 64) | (4, _))
    {
        return set(st, "WireGuard");
    }
    // Steam / Source engine queries.
    if d.starts_with(&[0xff, 0xff, 0xff, 0xff])
        && d.len() >= 5
        && matches!(
            d[4],
            b'T' | b'U' | b'V' | b'W' | b'i' | b'I' | b'A' | b'D' | b'E'
        )
    {
        return set(st, "Steam");
    }
    if either_port(flow, 57621) && d.starts_with(b"SpotUdp") {
        return set(st, "Spotify");
    }
    if either_port(flow, 6000) && d.len() == 16 {
        return set(st, "EAQ");
    }
    // Ethereum node discovery (discv4): hash, signature, then a packet type 1-6.
    if either_port(flow, 30303) && d.len() >= 98 && (1..=6).contains(&d[97]) {
        set(st, "ETHEREUM");
    }
}

/// Whether a STUN message has an attribute whose type is in `types`.
fn stun_has_attr(d: &[u8], types: std::ops::RangeInclusive<u16>) -> bool {
    let end = (20 + usize::from(u16::from_be_bytes([d[2], d[3]]))).min(d.len());
    let mut pos = 20;
    while pos + 4 <= end {
        let t = u16::from_be_bytes([d[pos], d[pos + 1]]);
        let l = usize::from(u16::from_be_bytes([d[pos + 2], d[pos + 3]]));
        if types.contains(&t) {
            return true;
        }
        pos += 4 + l.div_ceil(4) * 4;
    }
    false
}

/// Queries that name a service by themselves, on any port.
fn special_dns(st: &mut FlowDpi, m: &dns::parser::Message) -> bool {
    let Some(q) = m.qname.as_ref() else {
        return false;
    };
    let n = q.as_str();
    let lower = |s: &str| n.len() >= s.len() && n[n.len() - s.len()..].eq_ignore_ascii_case(s);
    let name = if n.to_ascii_lowercase().contains("dnscrypt-cert") {
        "DNScrypt"
    } else if lower("securedns.avast.com") {
        "AVASTSecureDNS"
    } else {
        return false;
    };
    st.set(id(name), ProtoId::UNKNOWN);
    true
}
