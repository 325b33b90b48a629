//! How exitflow recognises each protocol nDPI defines: by content (a
//! detector reads the payload), by server name (a TLS/QUIC/HTTP/DNS name in
//! `services.txt`), by port only (nDPI's default ports, at give-up),
//! or not at all. `exitflow protocols` prints it; `docs/protocols.md` is
//! its output.
use crate::detect::{self, TCP, UDP};
use crate::registry::registry;

/// Protocols named by code outside the detector tables: the stateful
/// parsers (TLS, HTTP, DNS, QUIC, STUN), their variants and the
/// applications they name from a message, and the IP protocols.
pub const CONTENT_OUTSIDE_TABLES: &[&str] = &[
    "HTTP",
    "HTTP_Proxy",
    "TLS",
    "QUIC",
    "DTLS",
    "DNS",
    "MDNS",
    "LLMNR",
    "DoH_DoT",
    "DNScrypt",
    "AVASTSecureDNS",
    "SMTPS",
    "IMAPS",
    "POPS",
    "FTPS",
    "HTTP_Connect",
    "ApplePush",
    "Tor",
    "STUN",
    "SRTP",
    "Zoom",
    "TeamsCall",
    "GoogleCall",
    "SignalVoip",
    "FacebookVoip",
    "TelegramVoip",
    "ViberVoip",
    "WhatsAppCall",
    "SMBv1",
    "SMTP",
    "S7CommPlus",
    "ISO9506-1-MMS",
    "GTP_PRIME",
    "GTP_U",
    "GTP_C",
    "PROFINET_IO",
    "UMAS",
    "OCSP",
    "WebSocket",
    "ntop",
];

/// How a protocol is recognised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    /// A detector reads its payload.
    Content,
    /// Its server names (services.txt).
    Name,
    /// Its servers' addresses (nDPI's IP lists), when nothing else names the flow.
    Address,
    /// Only its default ports, when inspection finds nothing.
    Port,
    /// Not recognised.
    Missing,
}

impl How {
    /// The word used in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            How::Content => "content",
            How::Name => "server name",
            How::Address => "address",
            How::Port => "port only",
            How::Missing => "missing",
        }
    }
}

/// One protocol of the registry and how it is recognised.
#[derive(Clone, Debug)]
pub struct Coverage {
    /// nDPI's name.
    pub name: &'static str,
    /// nDPI's category.
    pub category: &'static str,
    /// Default TCP ports (`-`: none).
    pub tcp_ports: &'static str,
    /// Default UDP ports.
    pub udp_ports: &'static str,
    /// How exitflow recognises it.
    pub how: How,
}

/// Every protocol of `protocols.txt` (nDPI 5.0's list), in order.
pub fn coverage() -> Vec<Coverage> {
    let r = registry();
    let by_content = |name: &str| {
        TCP.iter().chain(UDP.iter()).any(|d| d.name == name)
            || CONTENT_OUTSIDE_TABLES.contains(&name)
            || detect::infra::IP_PROTOCOLS.iter().any(|(_, n)| *n == name)
    };
    r.entries()
        .iter()
        .skip(1) // Unknown
        .filter(|e| e.is_protocol)
        .map(|e| Coverage {
            name: &e.name,
            category: &e.category,
            tcp_ports: &e.tcp_ports,
            udp_ports: &e.udp_ports,
            how: if by_content(&e.name) {
                How::Content
            } else if e.has_domains {
                How::Name
            } else if r.id(&e.name).is_some_and(crate::iplist::has) {
                How::Address
            } else if e.tcp_ports != "-" || e.udp_ports != "-" {
                How::Port
            } else {
                How::Missing
            },
        })
        .collect()
}

/// The table as Markdown, with a summary line.
pub fn markdown() -> String {
    let rows = coverage();
    let count = |h: How| rows.iter().filter(|c| c.how == h).count();
    let mut out = String::new();
    out.push_str(&format!(
        "{} protocols nDPI 5.0 defines: {} recognised by content, {} by server name, {} by server address, {} by port only, {} missing.\n\n",
        rows.len(),
        count(How::Content),
        count(How::Name),
        count(How::Address),
        count(How::Port),
        count(How::Missing)
    ));
    out.push_str(
        "| Protocol | Category | TCP ports | UDP ports | Recognised by |\n|---|---|---|---|---|\n",
    );
    for c in &rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            c.name,
            c.category,
            c.tcp_ports,
            c.udp_ports,
            c.how.as_str()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_outside_the_tables_are_registered_and_the_table_covers_the_list() {
        for n in CONTENT_OUTSIDE_TABLES {
            detect::id(n);
        }
        let rows = coverage();
        assert!(rows.len() > 400, "{}", rows.len());
        let find = |n: &str| rows.iter().find(|c| c.name == n).map(|c| c.how);
        assert_eq!(find("TLS"), Some(How::Content));
        assert_eq!(find("Gnutella"), Some(How::Content));
        assert_eq!(find("ICMP"), Some(How::Content));
        assert!(markdown().lines().count() > rows.len());
    }
}
