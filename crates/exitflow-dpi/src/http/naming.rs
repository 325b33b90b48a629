//! What an HTTP flow is named beyond its host: nDPI's sub-protocols by what
//! a request asks for, and what a response says (OCSP, ntopng); the
//! response's content type.
use crate::detect::{self, Alt};
use crate::http;
use crate::parse::Parse;
use crate::registry::ProtoId;
use crate::{FlowDpi, Need};

/// The application a request names by what it asks for rather than by its
/// host: WebSocket upgrades, JSON-RPC calls, BitTorrent
/// trackers, Gnutella downloads (nDPI's HTTP sub-protocols).
pub(crate) fn http_request_app(req: &http::parser::Request<'_>, data: &[u8]) -> ProtoId {
    let a = if req
        .user_agent
        .is_some_and(|u| u.contains(MS_RPCH_USER_AGENT))
    {
        Alt::MsRpch
    } else if req.method == "POST" && starts_ci(req.path, IPP_PATH) {
        Alt::Ipp
    } else if req.websocket {
        Alt::WebSocket
    } else if req.path.contains("info_hash=")
        && (req.path.starts_with("/announce") || req.path.starts_with("/scrape"))
    {
        Alt::BitTorrent
    } else if req.user_agent.is_some_and(|u| u.contains("gtk-gnutella")) {
        // nDPI 5.0: gtk-gnutella's agent, as written; not a path.
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

/// A user agent naming RPC over HTTP (Outlook Anywhere's).
const MS_RPCH_USER_AGENT: &str = "MSRPC";
/// The path prefix of IPP's printer requests (POST).
const IPP_PATH: &str = "/ipp/";
/// HLS's playlist type. nDPI compares 29 bytes, the length of this one, so
/// its two shorter types (`application/x-mpegURL`) never match in practice.
const HLS_CONTENT_TYPE: &str = "application/vnd.apple.mpegurl";

fn starts_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

fn ends_ci(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len()
        && s.as_bytes()[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

/// MPEG-DASH by its request: an HTTP/1.1 request for an `.mp4` or `.m4s`
/// segment, a `video/mp4` body, or a DASH header.
pub(crate) fn mpeg_dash(req: &http::parser::Request<'_>) -> bool {
    (req.http11 && (ends_ci(req.path, ".mp4") || ends_ci(req.path, ".m4s")))
        || req.content_type.is_some_and(|c| ends_ci(c, "video/mp4"))
        || req.dash_header
}

/// The application a request names before its host, in nDPI's order:
/// RPC over HTTP's and WebDAV's methods, then SOAP, OCSP, MPEG-DASH, an HLS
/// playlist sent; and whether it came from the method (which the answer
/// cannot override).
pub(crate) fn http_method_app(req: &http::parser::Request<'_>) -> (ProtoId, bool) {
    let by_method = match req.method {
        "RPC_CONNECT" | "RPC_IN_DATA" | "RPC_OUT_DATA" => Some(Alt::MsRpch),
        "MKCOL" | "MOVE" | "COPY" | "LOCK" | "UNLOCK" | "PROPFIND" | "PROPPATCH" => {
            Some(Alt::WebDav)
        }
        _ => None,
    };
    if let Some(a) = by_method {
        return (detect::alt(a), true);
    }
    // A SOAPAction header names SOAP as nDPI's line reader meets it, before
    // the host is looked up (measured: HTTP.SOAP whatever the host).
    let a = if req.soap_action {
        Alt::Soap
    } else if req
        .content_type
        .is_some_and(|c| c.starts_with("application/ocsp-request"))
    {
        Alt::Ocsp
    } else if mpeg_dash(req) {
        Alt::MpegDash
    } else if req
        .content_type
        .is_some_and(|c| c.starts_with(HLS_CONTENT_TYPE))
    {
        Alt::Hls
    } else {
        return (ProtoId::UNKNOWN, false);
    };
    (detect::alt(a), false)
}

/// The application a response names: OCSP answers, HLS playlists and
/// ntopng's pages (nDPI lets these override the host's service).
fn http_response_app(r: &http::parser::Response<'_>) -> Option<Alt> {
    if r.content_type
        .is_some_and(|c| c.starts_with("application/ocsp-response"))
    {
        Some(Alt::Ocsp)
    } else if r
        .content_type
        .is_some_and(|c| c.starts_with(HLS_CONTENT_TYPE))
    {
        Some(Alt::Hls)
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
            // A WebDAV or RPC-over-HTTP method outranks what the answer says.
            let by_method = st.ext.as_ref().is_some_and(|e| e.http_app_by_method);
            if let Some(app) = http_response_app(&r).filter(|_| !by_method) {
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

/// The part of a content type nDPI reads as the `application/` subtype: it
/// skips `sizeof("application")` bytes (the word and its terminator) of
/// whatever type was sent.
const APPLICATION_SKIP: usize = "application".len() + 1;

/// Subtypes that make a transfer a download (nDPI's download and
/// executable MIME lists).
const DOWNLOAD_SUBTYPES: &[&str] = &[
    "bz",
    "bz2",
    "octet-stream",
    "x-tar",
    "x-zip",
    "x-bzip",
    "exe",
    "java-vm",
    "vnd.ms-cab-compressed",
    "vnd.microsoft.portable-executable",
    "x-msdownload",
    "x-dosexec",
];

/// The category nDPI's HTTP dissector gives a flow from a content type:
/// `application/mpeg` Streaming, archives and executables Download, audio
/// and video Media. nDPI picks a list by the subtype's first byte as sent
/// (lower case only) and then compares with `strncasecmp` up to the length
/// sent, so a subtype matches when it is a listed one or the first part of
/// one (four bytes at least for the download lists); `audio` and `video`
/// likewise by the type's first byte.
pub fn content_category(content_type: &str) -> Option<&'static str> {
    let b = content_type.as_bytes();
    if let Some(sub) = b.get(APPLICATION_SKIP..).filter(|s| !s.is_empty()) {
        let is = |want: &str| {
            want.len() >= sub.len() && want.as_bytes()[..sub.len()].eq_ignore_ascii_case(sub)
        };
        if is("mpeg") {
            return Some("Streaming");
        }
        if sub.len() > 3
            && DOWNLOAD_SUBTYPES
                .iter()
                .any(|w| w.as_bytes()[0] == sub[0] && is(w))
        {
            return Some("Download");
        }
    }
    let head = &b[..b.len().min(5)];
    let starts = |w: &str| w.as_bytes()[..head.len()].eq_ignore_ascii_case(head);
    match b.first().copied() {
        Some(b'a') if starts("audio") => Some("Media"),
        Some(b'v') if starts("video") => Some("Media"),
        _ => None,
    }
}
