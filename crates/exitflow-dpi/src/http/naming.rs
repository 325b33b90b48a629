//! What an HTTP flow is named beyond its host: nDPI's sub-protocols by what
//! a request asks for, and what a response says (OCSP, ntopng); the
//! response's content type.
use crate::detect::{self, Alt};
use crate::http;
use crate::parse::Parse;
use crate::registry::ProtoId;
use crate::{FlowDpi, Need};

/// The application a request names by what it asks for rather than by its
/// host: WebSocket upgrades, SOAP and JSON-RPC calls, OCSP, BitTorrent
/// trackers, Gnutella downloads (nDPI's HTTP sub-protocols).
pub(crate) fn http_request_app(req: &http::parser::Request<'_>, data: &[u8]) -> ProtoId {
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

pub(crate) fn http_response(st: &mut FlowDpi, data: &[u8]) -> Need {
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
