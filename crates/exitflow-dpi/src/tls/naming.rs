//! What a TLS flow is named: the master by port (TLS that wraps SMTP,
//! IMAP, POP3, Apple push), the service by server name (SNI, else the
//! certificate's names), DNS over TLS, public DoH resolvers, Tor's links.
use crate::detect::either_port;
use crate::parse::Parse;
use crate::registry::{ProtoId, known};
use crate::tls::parser::{HS_CERTIFICATE, certificate_names, certificate_subject, walk_handshakes};
use crate::{FlowCtx, FlowDpi, Need, service_of};

/// The master protocol of TLS on a port that wraps another protocol in TLS
/// (nDPI 5 names those flows by the wrapped protocol).
pub(crate) fn tls_master(flow: &FlowCtx) -> ProtoId {
    master_by_port(flow, true)
}

/// [`tls_master`] for a stream met after its handshake: nDPI names it by
/// the mail ports, not Apple's push port (measured on NFStream's corpus).
pub(crate) fn tls_master_mid_stream(flow: &FlowCtx) -> ProtoId {
    master_by_port(flow, false)
}

fn master_by_port(flow: &FlowCtx, apple_push: bool) -> ProtoId {
    let k = known();
    for (port, id) in [(465, k.smtps), (993, k.imaps), (995, k.pops)] {
        if either_port(flow, port) {
            return id;
        }
    }
    if apple_push && either_port(flow, 5223) {
        return k.apple_push;
    }
    k.tls
}

/// The service of a TLS/QUIC server name; DNS over QUIC by its port (DNS
/// over TLS is named by the resolver's name or certificate, as nDPI 5.0
/// does: a ClientHello to port 853 alone is TLS).
pub(crate) fn tls_app(flow: &FlowCtx, sni: Option<&str>) -> ProtoId {
    if flow.protocol == 17 && either_port(flow, 853) {
        return known().doh_dot;
    }
    match sni {
        Some(n) => {
            let s = service_of(n);
            if !s.is_unknown() {
                s
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

/// Names the service from a certificate's names, once the handshake that
/// holds it is whole. `from_server`: the server's stream settles the
/// question either way; the other direction's only when it holds a
/// certificate that names a service.
pub(crate) fn tls_certificate(st: &mut FlowDpi, data: &[u8], from_server: bool) -> Need {
    let mut scratch = std::mem::take(&mut st.ext().scratch);
    // A client's certificate subject counts once the server has spoken (a
    // client certificate alone names nothing in nDPI).
    let subject_counts = from_server || st.ext().tls_server_spoke;
    let mut found = ProtoId::UNKNOWN;
    let r = walk_handshakes(data, &mut scratch, |t, body| {
        if t != HS_CERTIFICATE {
            return false;
        }
        // nDPI matches the subject's text first; a match skips the names.
        if let Some(id) = certificate_subject(body)
            .filter(|_| subject_counts)
            .as_deref()
            .and_then(super::subjects::service)
        {
            found = id;
            return true;
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
            if !found.is_unknown() {
                st.app = found;
                st.want_cert = false;
            } else if from_server {
                st.want_cert = false;
            }
            Need::Nothing
        }
    }
}
