//! Per-packet dispatch: which protocol a flow's first bytes belong to. The
//! stateful protocols (TLS, HTTP, DNS, QUIC) are called here; single-packet
//! detectors are rows of [`crate::detect`], whose module documentation
//! states the dispatch order. Multi-packet protocols keep their state in the
//! flow's `Ext`.
use std::sync::Mutex;

use exitflow_decode::PacketInfo;

use crate::cache::StunCache;

use crate::Seen;
use crate::detect;
use crate::detect::either_port;
use crate::dns::naming::{dns_label, special_dns};
use crate::http::naming::{http_method_app, http_request_app, http_response};
use crate::parse::Parse;
use crate::quic::gquic::gquic;
use crate::registry::{ProtoId, known};
use crate::stun_flow::{stun_again, stun_cache, stun_found};
use crate::tls::naming::{tls_app, tls_certificate, tls_master, tls_master_mid_stream};
use crate::tls::parser::{
    HS_CLIENT_HELLO, HS_SERVER_HELLO, RECORD_HANDSHAKE, client_hello, first_handshake,
    looks_like_record,
};
use crate::{
    FlowCtx, FlowDpi, Need, dns, ftp, http, imap, quic, service_of, smtp, starttls, tftp, tls,
    z3950,
};

/// TCP: looks at the first bytes of one direction's stream.
pub(crate) fn tcp(st: &mut FlowDpi, flow: &FlowCtx, data: &[u8], src2dst: bool) -> Need {
    if st.done {
        // Only the HTTP response headers or the TLS certificate are still wanted.
        if st.want_http_response && !src2dst {
            return http_response(st, data);
        }
        // The server's certificate; or one in the flow's first direction
        // when that is a handshake (a capture of the server's side only,
        // a client's certificate), as nDPI reads certificates either way.
        if st.want_cert && (!src2dst || data.first() == Some(&RECORD_HANDSHAKE)) {
            if !src2dst {
                st.ext().tls_server_spoke = true;
            }
            return tls_certificate(st, data, !src2dst);
        }
        if st.want_starttls {
            return if src2dst {
                starttls::client_packet(st, flow, data)
            } else {
                starttls::server_packet(st, data)
            };
        }
        return Need::Nothing;
    }
    // The flow's first payload decides whether it can be HTTP.
    let first = !st.seen.has(Seen::PAYLOAD);
    st.seen.add(Seen::PAYLOAD);
    if first && !tls::parser::first_payload_allows_tls(data) {
        st.seen.add(Seen::TLS_EXCLUDED);
    }
    let tls_excluded = st.seen.has(Seen::TLS_EXCLUDED);
    if !tls_excluded && (looks_like_record(data) || (data.len() < 3 && data.first() == Some(&22))) {
        if first {
            st.seen.add(Seen::NOT_HTTP);
        }
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
                // A ServerHello is the server's, whichever way the capture saw it.
                st.ext().tls_server_spoke = true;
                if let Some(e) = st.ext.as_mut() {
                    e.scratch = std::mem::take(&mut scratch);
                }
                return tls_certificate(st, data, !src2dst);
            }
            Parse::Done(_) => Need::Nothing,
            Parse::Incomplete(_) => Need::More,
            Parse::NotMine | Parse::Error => {
                st.seen.add(Seen::NOT_TLS);
                Need::Nothing
            }
        };
        if let Some(e) = st.ext.as_mut() {
            e.scratch = scratch;
        }
        return r;
    }
    // A TLS stream met after its handshake (the capture began mid-flow):
    // a record that follows a handshake (application data, an alert, a
    // change of cipher spec) names it TLS by content, as nDPI does,
    // its master by port (IMAPS on 993...), unless a record before it did
    // not parse (Skype's look-alike records).
    if !tls_excluded && !st.seen.has(Seen::NOT_TLS) && tls::parser::after_handshake_record(data) {
        st.set(tls_master_mid_stream(flow), tls_app(flow, None));
        return Need::Nothing;
    }
    // A server's bytes that could begin a request wait for more only if no
    // detector row knows them (PostgreSQL's one-byte `S`, say).
    let mut request_pending = false;
    if !st.seen.has(Seen::NOT_HTTP) && (src2dst || http::parser::could_be_request(data)) {
        match http::parser::request(data) {
            Parse::Done(req) => {
                let k = known();
                // nDPI's HTTP_Connect is a CONNECT and its
                // HTTP_Proxy a request with an absolute URI, not any request
                // on a proxy port.
                let master = if req.method.eq_ignore_ascii_case("CONNECT") {
                    k.http_connect
                } else if req.proxy {
                    k.http_proxy
                } else {
                    k.http
                };
                let host = req.host.map(http::parser::host_name);
                let (mut app, by_method) = http_method_app(&req);
                if by_method {
                    st.ext().http_app_by_method = true;
                }
                if app.is_unknown() {
                    app = host.map(service_of).unwrap_or(ProtoId::UNKNOWN);
                }
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
            Parse::Incomplete(_) if src2dst && http::parser::method_and_more(data) => {
                return Need::More;
            }
            Parse::Incomplete(_) if src2dst => {}
            Parse::Incomplete(_) => request_pending = true,
            // A request line of no HTTP version (HTTP/0.9, SIP's OPTIONS)
            // is still HTTP to nDPI, which reads the method and what
            // follows; RTSP's version makes it RTSP's.
            Parse::Error
                if src2dst
                    && http::parser::method_and_more(data)
                    && !http::parser::rtsp_request_line(data) =>
            {
                let k = known();
                let master = if data.starts_with(b"CONNECT ") {
                    k.http_connect
                } else {
                    k.http
                };
                st.set(master, ProtoId::UNKNOWN);
                st.want_http_response = true;
                return Need::Nothing;
            }
            Parse::NotMine | Parse::Error => {}
        }
    }
    if !st.seen.has(Seen::NOT_HTTP) && !src2dst && data.starts_with(b"HTTP/1.") {
        st.set(known().http, ProtoId::UNKNOWN);
        st.want_http_response = true;
        return http_response(st, data);
    }
    // Neither a request nor a response opened the flow: it is not HTTP (a
    // server's bytes that could begin a request are no request of a client).
    if first {
        st.seen.add(Seen::NOT_HTTP);
    }
    if starttls::candidate_packet(st, data, src2dst) {
        return Need::Nothing;
    }
    // Z39.50's APDUs: evidence, or not yet a miss, until the fourth full one.
    let session = z3950::session(st, data, src2dst);
    if session == z3950::Step::Named {
        st.set(known().z3950, ProtoId::UNKNOWN);
        return Need::Nothing;
    }
    // SMTP's words and FTP's commands with their replies: evidence kept
    // beside the rows' (a reply code can be both).
    let mail = smtp::session(st, data);
    if let smtp::Step::Named(app) = mail {
        st.set(known().smtp, app);
        st.want_starttls = true;
        return Need::Nothing;
    }
    let post = imap::session(st, data);
    if let imap::Step::Named { secure } = post {
        let k = known();
        st.set(if secure { k.imaps } else { k.imap }, ProtoId::UNKNOWN);
        // After a STARTTLS the ClientHello names the service; a session
        // named in the clear is not read further (nDPI's either).
        st.want_starttls = secure;
        return Need::Nothing;
    }
    let file = ftp::session(st, flow, data, src2dst);
    if let ftp::Step::Named { secure } = file {
        let k = known();
        st.set(
            if secure { k.ftps } else { k.ftp_control },
            ProtoId::UNKNOWN,
        );
        // FTPS: the ClientHello that follows names the service (FTPS.Huawei).
        st.want_starttls = true;
        return Need::Nothing;
    }
    if let Some(hit) = detect::scan(detect::Transport::Tcp, flow, data, src2dst, st.before()) {
        st.hit(hit, src2dst);
        st.want_starttls = st.done
            && (starttls::secure_form(st.master).is_some()
                || starttls::rdp_then_tls(st.master, flow, data));
        return Need::Nothing;
    }
    if session == z3950::Step::Alive
        || mail == smtp::Step::Alive
        || post == imap::Step::Alive
        || file == ftp::Step::Alive
    {
        st.held();
        return Need::Nothing;
    }
    if request_pending
        || (src2dst && !either_port(flow, 53) && detect::rtmp_handshake_pending(st.misses, data))
    {
        return Need::More;
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

/// The DNS header's query/response bit.
const DNS_QR: u16 = 0x8000;

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
            // nDPI 5.0: an mDNS or LLMNR query has no flag set, and an
            // LLMNR flow does not open with a response; otherwise (m)DNS
            // is ruled out for the flow, the port's guess left.
            if port != 53 && d.len() >= 4 {
                let flags = u16::from_be_bytes([d[2], d[3]]);
                let response = flags & DNS_QR != 0;
                if (!response && flags != 0) || (response && port == 5355 && st.untouched()) {
                    st.held(); // a payload nothing recognised, as counted for every flow
                    st.done = true;
                    return;
                }
            }
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
    // A TFTP transfer's packets are no row's, but do not give the flow up
    // until one is not TFTP's; the fourth in sequence names it.
    let transfer = tftp::transfer(st, d);
    if transfer == tftp::Step::Named {
        st.set(k.tftp, ProtoId::UNKNOWN);
        return;
    }
    if let Some(hit) = detect::scan(detect::Transport::Udp, flow, d, src2dst, st.before()) {
        st.hit(hit, src2dst);
        return;
    }
    // QUIC met after its handshake: short headers to the server's port.
    // (A flow's state is made only for a datagram the rule could read;
    // one it cannot ends the rule, a flag.)
    if p.dst_port == quic::SHORT_HEADER_PORT && !st.seen.has(Seen::QUIC_SHORT_GONE) {
        let alive = st.ext.as_ref().is_some_and(|e| e.quic.short.alive());
        let step = if alive || quic::short_header_shaped(d) {
            st.ext().quic.short.to_server(d)
        } else {
            quic::ShortHeader::Gone
        };
        match step {
            quic::ShortHeader::Named => {
                st.set(k.quic, ProtoId::UNKNOWN);
                return;
            }
            quic::ShortHeader::Alive => {
                st.held();
                return;
            }
            quic::ShortHeader::Gone => st.seen.add(Seen::QUIC_SHORT_GONE),
        }
    }
    if transfer == tftp::Step::Alive {
        st.held();
    } else {
        st.missed();
    }
}
