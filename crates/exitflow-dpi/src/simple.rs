//! Per-packet dispatch: which protocol a flow's first bytes belong to. The
//! stateful protocols (TLS, HTTP, DNS, QUIC) are called here; single-packet
//! detectors are rows of [`crate::detect`], whose module documentation
//! states the dispatch order. Multi-packet protocols keep their state in the
//! flow's `Ext`.
use std::sync::Mutex;

use exitflow_decode::PacketInfo;

use crate::cache::StunCache;

use crate::detect;
use crate::detect::Alt;
use crate::detect::either_port;
use crate::parse::Parse;
use crate::registry::{ProtoId, known};
use crate::tls::parser::{
    HS_CERTIFICATE, HS_CLIENT_HELLO, HS_SERVER_HELLO, certificate_names, client_hello,
    first_handshake, looks_like_record, walk_handshakes,
};
use crate::{FlowCtx, FlowDpi, Need, dns, http, quic, service_of, tls};

/// The master protocol of TLS on a port that wraps another protocol in TLS
/// (nDPI 5 names those flows by the wrapped protocol).
fn tls_master(flow: &FlowCtx) -> ProtoId {
    let k = known();
    for (port, id) in [
        (465, k.smtps),
        (993, k.imaps),
        (995, k.pops),
        (5223, k.apple_push),
    ] {
        if either_port(flow, port) {
            return id;
        }
    }
    k.tls
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
                known().tor
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
                // nDPI's HTTP_Proxy is a request for a proxy (absolute URI or
                // CONNECT), not any request on a proxy port.
                let master = if req.proxy { k.http_proxy } else { k.http };
                let host = req.host.map(http::parser::host_name);
                let mut app = host.map(service_of).unwrap_or(ProtoId::UNKNOWN);
                if app.is_unknown() {
                    app = http_request_app(&req, data);
                }
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
    if let Some(hit) = detect::scan(detect::Transport::Tcp, flow, data, src2dst) {
        st.hit(hit);
        return Need::Nothing;
    }
    st.missed();
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

/// The application a request names by what it asks for rather than by its
/// host: WebSocket upgrades, SOAP and JSON-RPC calls, OCSP, BitTorrent
/// trackers, Gnutella downloads (nDPI's HTTP sub-protocols).
fn http_request_app(req: &http::parser::Request<'_>, data: &[u8]) -> ProtoId {
    let a = if req.websocket {
        Alt::WebSocket
    } else if req.soap_action {
        Alt::Soap
    } else if req
        .content_type
        .is_some_and(|c| c.starts_with("application/ocsp-request"))
    {
        Alt::Ocsp
    } else if req.path.contains("info_hash=")
        && (req.path.starts_with("/announce") || req.path.starts_with("/scrape"))
    {
        Alt::BitTorrent
    } else if req.path.starts_with("/uri-res/")
        || req.path.starts_with("/gnutella/")
        || req
            .user_agent
            .is_some_and(|u| u.contains("gnutella") || u.contains("Gnutella"))
    {
        Alt::Gnutella
    } else if data
        .windows(10)
        .any(|w| w == b"\"jsonrpc\":" || w == b"\"jsonrpc\" ")
    {
        Alt::JsonRpc
    } else {
        return ProtoId::UNKNOWN;
    };
    detect::alt(a)
}

/// The application a response names: OCSP answers and ntopng's pages (nDPI
/// lets these override the host's service).
fn http_response_app(r: &http::parser::Response<'_>) -> Option<Alt> {
    if r.content_type
        .is_some_and(|c| c.starts_with("application/ocsp-response"))
    {
        Some(Alt::Ocsp)
    } else if r.server.is_some_and(|s| s.starts_with("ntopng")) {
        Some(Alt::Ntop)
    } else {
        None
    }
}

fn http_response(st: &mut FlowDpi, data: &[u8]) -> Need {
    match http::parser::response(data) {
        Parse::Done(r) => {
            st.want_http_response = false;
            if let Some(app) = http_response_app(&r) {
                st.app = detect::alt(app);
            }
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
    let is_version = |v: &[u8]| v[0] == b'Q' && v[1..].iter().all(u8::is_ascii_digit);
    // Q043 and older: public flags with the version bit, version after the
    // 8-byte connection id. Q046: the IETF invariant long header, version first.
    let old = d.len() >= 13 && d[0] & 0x81 == 0x01 && d[0] & 0x08 != 0 && is_version(&d[9..13]);
    let q046 = d.len() >= 13 && d[0] & 0xc0 == 0xc0 && is_version(&d[1..5]);
    if !old && !q046 {
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

/// Google's STUN/TURN servers' ports.
const GOOGLE_STUN_PORTS: std::ops::RangeInclusive<u16> = 19302..=19309;
/// Signal's relays: STUN on this port, past the first packets.
const SIGNAL_PORT: u16 = 10000;

/// A STUN flow's first message: STUN, with the application it names (or
/// Google's by port). Inspection goes on: later messages may name the
/// application, and DTLS or RTP on the same flow rename it (nDPI's
/// "DTLS.App", "SRTP.App", "STUN.RTP").
fn stun_found(
    st: &mut FlowDpi,
    flow: &FlowCtx,
    p: &PacketInfo<'_>,
    app: Option<Alt>,
    mapped: bool,
) {
    let k = known();
    let mut id = app.map(detect::alt).unwrap_or(ProtoId::UNKNOWN);
    let google_port = |port: u16| port == 3478 || GOOGLE_STUN_PORTS.contains(&port);
    if id.is_unknown()
        && (google_port(flow.src_port) || google_port(flow.dst_port))
        && (google_relay(&p.src) || google_relay(&p.dst))
    {
        id = k.google_call;
    }
    st.master = k.stun;
    st.app = id;
    stun_settled(st, mapped);
}

/// A STUN flow with an application teaches the cache its endpoints; one
/// without takes the application of an endpoint the cache knows.
fn stun_cache(st: &mut FlowDpi, p: &PacketInfo<'_>, cache: &Mutex<StunCache>) {
    let Ok(mut c) = cache.lock() else {
        return;
    };
    let ends = [(p.src, p.src_port), (p.dst, p.dst_port)];
    if st.app.is_unknown() || st.app == known().rtp {
        if let Some(app) = ends.iter().find_map(|e| c.get(e)) {
            st.app = app;
        }
    } else {
        for e in ends {
            c.put(e, st.app);
        }
    }
}

/// nDPI stops looking at a STUN flow once it has an application and the
/// client's mapped address (WhatsApp's calls go on to find SRTP); Zoom at once.
fn stun_settled(st: &mut FlowDpi, mapped: bool) {
    let k = known();
    if st.app == k.zoom || (mapped && !st.app.is_unknown() && st.app != k.whatsapp_call) {
        st.done = true;
    }
}

/// Google's call relays (nDPI's list): 74.125.250.0/24, 142.250.82.0/24,
/// 2001:4860:4864:5::/64 and 2001:4860:4864:6::/64.
fn google_relay(a: &exitflow_decode::Addr) -> bool {
    let v4 = a[4..].iter().all(|b| *b == 0);
    if v4 {
        return a[..3] == [74, 125, 250] || a[..3] == [142, 250, 82];
    }
    a[..6] == [0x20, 0x01, 0x48, 0x60, 0x48, 0x64] && a[6] == 0 && matches!(a[7], 5 | 6)
}

/// Later datagrams of a STUN flow, told apart by their first byte (RFC 7983).
fn stun_again(st: &mut FlowDpi, flow: &FlowCtx, d: &[u8]) {
    let k = known();
    match d[0] {
        0..=3 => {
            if let Some(s) = detect::stun::parse(d, false) {
                if let Some(app) = s.app {
                    st.app = detect::alt(app);
                }
                stun_settled(st, s.mapped);
            }
        }
        20..=63 if detect::stun::is_dtls(d) => {
            st.set(k.dtls, st.app);
        }
        128..=191 => {
            if let Some(detect::voip::Rtp::Rtp) = detect::voip::rtp_kind(d) {
                if st.app.is_unknown() {
                    st.set(k.stun, k.rtp);
                } else {
                    st.set(k.srtp, st.app);
                }
            }
        }
        _ => {}
    }
    if !st.done
        && st.app.is_unknown()
        && st.packets > 4
        && (flow.src_port == SIGNAL_PORT || flow.dst_port == SIGNAL_PORT)
    {
        st.app = k.signal_voip;
    }
}

/// UDP: one datagram.
pub(crate) fn udp(
    st: &mut FlowDpi,
    flow: &FlowCtx,
    p: &PacketInfo<'_>,
    src2dst: bool,
    cache: &Mutex<StunCache>,
) {
    let d = p.payload;
    let k = known();
    if st.master == k.stun {
        stun_again(st, flow, d);
        stun_cache(st, p, cache);
        return;
    }
    if let Some(s) = detect::stun::parse(d, false) {
        stun_found(st, flow, p, s.app, s.mapped);
        stun_cache(st, p, cache);
        return;
    }
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
    if let Some(hit) = detect::scan(detect::Transport::Udp, flow, d, src2dst) {
        st.hit(hit);
    } else {
        st.missed();
    }
}

/// Queries that name a service by themselves, on any port.
fn special_dns(st: &mut FlowDpi, m: &dns::parser::Message) -> bool {
    let Some(q) = m.qname.as_ref() else {
        return false;
    };
    let n = q.as_str();
    let lower = |s: &str| n.len() >= s.len() && n[n.len() - s.len()..].eq_ignore_ascii_case(s);
    let k = known();
    let id = if n.to_ascii_lowercase().contains("dnscrypt-cert") {
        k.dnscrypt
    } else if lower("securedns.avast.com") {
        k.avast_dns
    } else {
        return false;
    };
    st.set(id, ProtoId::UNKNOWN);
    true
}
