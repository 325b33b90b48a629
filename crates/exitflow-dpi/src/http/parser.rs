//! Stateless HTTP/1.x parsing over `&[u8]` (httparse underneath, with a fixed
//! header array: no allocation).
use crate::parse::Parse;

/// Headers looked at per message.
pub const MAX_HEADERS: usize = 64;

/// The request methods nDPI 5.0's HTTP dissector knows (WebDAV's and
/// RPC over HTTP's among them); others are not HTTP to it.
const METHODS: &[&[u8]] = &[
    b"GET ",
    b"POST ",
    b"OPTIONS ",
    b"HEAD ",
    b"PUT ",
    b"PATCH ",
    b"DELETE ",
    b"CONNECT ",
    b"PROPFIND ",
    b"PROPPATCH ",
    b"MKCOL ",
    b"MOVE ",
    b"COPY ",
    b"LOCK ",
    b"UNLOCK ",
    b"REPORT ",
    b"RPC_CONNECT ",
    b"RPC_IN_DATA ",
    b"RPC_OUT_DATA ",
];

/// The fields of a request exitflow uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request<'a> {
    /// Method token.
    pub method: &'a str,
    /// Host header (or the authority of an absolute URI / CONNECT target).
    pub host: Option<&'a str>,
    /// User-Agent header.
    pub user_agent: Option<&'a str>,
    /// Whether the request is for a proxy (CONNECT or absolute URI).
    pub proxy: bool,
    /// Request target.
    pub path: &'a str,
    /// Content-Type header.
    pub content_type: Option<&'a str>,
    /// An `Upgrade: websocket` header.
    pub websocket: bool,
    /// A SOAPAction header.
    pub soap_action: bool,
    /// HTTP/1.1 (not 1.0).
    pub http11: bool,
    /// A header whose name begins with `DASH` (MPEG-DASH's).
    pub dash_header: bool,
}

/// The fields of a response exitflow uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response<'a> {
    /// Status code.
    pub status: u16,
    /// Content-Type header.
    pub content_type: Option<&'a str>,
    /// Server header.
    pub server: Option<&'a str>,
}

/// Whether `b` could be the start of an HTTP request (a known method, or a
/// prefix of one).
pub fn could_be_request(b: &[u8]) -> bool {
    METHODS.iter().any(|m| {
        let n = b.len().min(m.len());
        b[..n] == m[..n]
    })
}

/// Whether `b` opens with a known method, its space and at least one byte
/// more: what nDPI 5.0 wants in a flow's first payload to call it HTTP (a
/// shorter first segment leaves the flow to other protocols).
pub fn method_and_more(b: &[u8]) -> bool {
    METHODS
        .iter()
        .any(|m| b.len() > m.len() && b.starts_with(m))
}

/// Whether the request line ends with RTSP's version: RTSP's methods
/// include HTTP's OPTIONS and GET, and nDPI names those RTSP.
pub fn rtsp_request_line(b: &[u8]) -> bool {
    let line = b.split(|c| *c == b'\n').next().unwrap_or(b);
    line.strip_suffix(b"\r")
        .unwrap_or(line)
        .ends_with(b" RTSP/1.0")
}

/// Parses a request head.
pub fn request(b: &[u8]) -> Parse<Request<'_>> {
    if b.is_empty() {
        return Parse::Incomplete(1);
    }
    if !could_be_request(b) {
        return Parse::NotMine;
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    // A line that is no header (a folded continuation, say) is skipped, as
    // nDPI's line reader skips it, rather than failing the request.
    let mut config = httparse::ParserConfig::default();
    config.ignore_invalid_headers_in_requests(true);
    match config.parse_request(&mut req, b) {
        Ok(httparse::Status::Complete(_)) | Err(httparse::Error::TooManyHeaders) => {}
        Ok(httparse::Status::Partial) => return Parse::Incomplete(b.len() + 1),
        Err(_) => return Parse::Error,
    }
    let method = req.method.unwrap_or("");
    let path = req.path.unwrap_or("");
    let mut r = Request {
        method,
        path,
        http11: req.version == Some(1),
        ..Default::default()
    };
    for h in req.headers.iter() {
        if h.name.len() >= 4 && h.name[..4].eq_ignore_ascii_case("dash") {
            r.dash_header = true;
        }
        if h.name.eq_ignore_ascii_case("content-type") {
            r.content_type = std::str::from_utf8(h.value).ok().map(str::trim);
        } else if h.name.eq_ignore_ascii_case("upgrade") {
            r.websocket = h.value.eq_ignore_ascii_case(b"websocket");
        } else if h.name.eq_ignore_ascii_case("soapaction") {
            r.soap_action = true;
        } else if h.name.eq_ignore_ascii_case("host") {
            r.host = std::str::from_utf8(h.value).ok().map(str::trim);
        } else if h.name.eq_ignore_ascii_case("user-agent") {
            r.user_agent = std::str::from_utf8(h.value).ok().map(str::trim);
        }
    }
    if method.eq_ignore_ascii_case("CONNECT") {
        r.proxy = true;
        if r.host.is_none() {
            r.host = Some(path);
        }
    } else if let Some(rest) = path.strip_prefix("http://") {
        r.proxy = true;
        if r.host.is_none() {
            r.host = rest.split('/').next();
        }
    }
    Parse::Done(r)
}

/// Parses a response head.
pub fn response(b: &[u8]) -> Parse<Response<'_>> {
    let prefix = b"HTTP/1.";
    let n = b.len().min(prefix.len());
    if b[..n] != prefix[..n] {
        return Parse::NotMine;
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(b) {
        Ok(httparse::Status::Complete(_)) | Err(httparse::Error::TooManyHeaders) => {}
        Ok(httparse::Status::Partial) => return Parse::Incomplete(b.len() + 1),
        Err(_) => return Parse::Error,
    }
    let mut r = Response {
        status: resp.code.unwrap_or(0),
        ..Default::default()
    };
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-type") {
            r.content_type = std::str::from_utf8(h.value).ok().map(str::trim);
        } else if h.name.eq_ignore_ascii_case("server") {
            r.server = std::str::from_utf8(h.value).ok().map(str::trim);
        }
    }
    Parse::Done(r)
}

/// Host without port, for the service lookup.
pub fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host;
    }
    host.rsplit_once(':').map_or(host, |(h, p)| {
        if p.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::check_every_prefix;

    const REQ: &[u8] = b"GET /index.html?q=secret HTTP/1.1\r\nHost: www.example.org:8080\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64), like Gecko\r\nCookie: id=42\r\n\r\n";
    const RESP: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 3\r\n\r\n";

    #[test]
    fn request_fields() {
        let Parse::Done(r) = request(REQ) else {
            panic!()
        };
        assert_eq!(r.method, "GET");
        assert_eq!(r.host, Some("www.example.org:8080"));
        assert_eq!(host_name(r.host.unwrap()), "www.example.org");
        assert_eq!(
            r.user_agent,
            Some("Mozilla/5.0 (X11; Linux x86_64), like Gecko")
        );
        assert!(!r.proxy);
        let Parse::Done(c) = request(b"CONNECT example.org:443 HTTP/1.1\r\n\r\n") else {
            panic!()
        };
        assert!(c.proxy);
        assert_eq!(c.host, Some("example.org:443"));
    }

    #[test]
    fn response_fields() {
        let Parse::Done(r) = response(RESP) else {
            panic!()
        };
        assert_eq!(
            (r.status, r.content_type),
            (200, Some("text/html; charset=utf-8"))
        );
    }

    #[test]
    fn every_prefix_is_incomplete() {
        check_every_prefix(REQ, |b| request(b).map(|_| ()));
        check_every_prefix(RESP, |b| response(b).map(|_| ()));
    }

    #[test]
    fn not_http() {
        assert_eq!(request(b"\x16\x03\x01\x00"), Parse::NotMine);
        assert_eq!(response(b"SSH-2.0-OpenSSH"), Parse::NotMine);
        assert_eq!(request(b"GET /\x00 HTTP/1.1\r\n\r\n"), Parse::Error);
    }
}
