//! HTTP/1.x: Host names the service, User-Agent and Content-Type are kept as
//! metadata (subject to the privacy policy), CONNECT and absolute URIs mark
//! proxy traffic.
pub(crate) mod naming;
pub mod parser;
