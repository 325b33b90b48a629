//! Per-packet detection: which protocol a flow's first bytes belong to.
//! Multi-packet protocols keep their state in the flow's `Ext`.
use exitflow_decode::PacketInfo;

use crate::parse::Parse;
use crate::registry::{ProtoId, known, registry};
use crate::tls::parser::{
    HS_CLIENT_HELLO, HS_SERVER_HELLO, client_hello, first_handshake, looks_like_record,
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
    sni.map(service_of).unwrap_or(ProtoId::UNKNOWN)
}

/// TCP: looks at the first bytes of one direction's stream.
pub(crate) fn tcp(st: &mut FlowDpi, flow: &FlowCtx, data: &[u8], src2dst: bool) -> Need {
    if st.done {
        // Only the HTTP response headers are still wanted.
        if st.want_http_response && !src2dst {
            return http_response(st, data);
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
                    let fp = tls::ja4(&ch, 't');
                    let m = st.meta();
                    m.server_name = ch.sni.map(str::to_owned);
                    m.client_fingerprint = Some(fp);
                    Need::Nothing
                }
                _ => Need::Nothing,
            },
            Parse::Done((HS_SERVER_HELLO, _)) => {
                // We missed the ClientHello: TLS without a server name.
                st.set(tls_master(flow), tls_app(flow, None));
                Need::Nothing
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
    if src2dst {
        let upper = |p: &[u8]| d.len() >= p.len() && d[..p.len()].eq_ignore_ascii_case(p);
        if upper(b"EHLO ") || upper(b"HELO ") {
            return Some(id("SMTP"));
        }
        if d.starts_with(b"<?xml") || d.starts_with(b"<stream:stream") {
            return Some(id("XMPP"));
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

/// UDP: one datagram.
pub(crate) fn udp(st: &mut FlowDpi, flow: &FlowCtx, p: &PacketInfo<'_>, src2dst: bool) {
    let d = p.payload;
    // QUIC: client Initials carry the ClientHello.
    if d[0] & 0xc0 == 0xc0 && d.len() >= 1200 && src2dst
        || st.ext.as_ref().is_some_and(|e| e.quic.version != 0)
    {
        if src2dst {
            let step = st.ext().quic.client_datagram(d);
            match step {
                quic::Step::ClientHello => {
                    let ext = st.ext.as_mut().expect("created above");
                    let (sni, fp) = match ext.quic.client_hello() {
                        Some(ch) => (ch.sni.map(str::to_owned), Some(tls::ja4(&ch, 'q'))),
                        None => (None, None),
                    };
                    let app = tls_app(flow, sni.as_deref());
                    st.set(known().quic, app);
                    let m = st.meta();
                    m.server_name = sni;
                    m.client_fingerprint = fp;
                    return;
                }
                quic::Step::Quic => {
                    // Known QUIC; wait for the rest of the ClientHello.
                    st.master = known().quic;
                    return;
                }
                quic::Step::NotQuic => {}
            }
        } else if st.master == known().quic {
            return;
        }
    }
    let k = known();
    for port in [53u16, 5353, 5355] {
        if either_port(flow, port) {
            if let Parse::Done(m) = dns::parser::message(d) {
                dns_label(st, flow, &m);
                return;
            }
        }
    }
    let set = |st: &mut FlowDpi, name: &str| st.set(id(name), ProtoId::UNKNOWN);
    // STUN: magic cookie, and a length that matches.
    if d.len() >= 20
        && d[0] & 0xc0 == 0
        && d[4..8] == [0x21, 0x12, 0xa4, 0x42]
        && usize::from(u16::from_be_bytes([d[2], d[3]])) + 20 <= d.len()
    {
        return set(st, "STUN");
    }
    if either_port(flow, 1900)
        && (d.starts_with(b"M-SEARCH ")
            || d.starts_with(b"NOTIFY ")
            || d.starts_with(b"HTTP/1.1 200"))
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
        return set(st, "NetBIOS");
    }
    if d.starts_with(b"d1:")
        && (d.windows(3).any(|w| w == b"1:y") || d.windows(4).any(|w| w == b"1:ad"))
    {
        return set(st, "BitTorrent");
    }
    if either_port(flow, 17500) && d.starts_with(b"{\"host_int\"") {
        return set(st, "Dropbox");
    }
    let _ = k;
}
