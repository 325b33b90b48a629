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
    "Z3950",
    // Their sessions (smtp.rs, ftp.rs, imap.rs).
    "SMTP",
    "FTP_CONTROL",
    "IMAP",
];

/// Protocols nDPI 5.0 defines but has no dissector, host-name or address
/// list for (its library has no `init_*_dissector` for them and its sources
/// set them nowhere but in the defaults table): nDPI names them by default
/// port at give-up, or never. Not gaps here, and so not counted missing.
pub const NDPI_HAS_NO_RULE: &[&str] = &["OSPF", "SAP", "TargusDataspeed"];

/// How a protocol is recognised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    /// A detector reads its payload.
    Content,
    /// Its server names (services.txt).
    Name,
    /// Its servers' addresses (nDPI's IP lists), when nothing else names the flow.
    Address,
    /// Its servers' certificate subjects (certificates.tsv).
    Certificate,
    /// Only its default ports, when inspection finds nothing.
    Port,
    /// Only its default ports, as in nDPI: nDPI 5.0 has no content rule,
    /// name or address list for it either ([`NDPI_HAS_NO_RULE`]).
    NdpiPort,
    /// Not recognised, as in nDPI: nDPI 5.0 defines it without any rule,
    /// name, address or port ([`NDPI_HAS_NO_RULE`]).
    NdpiNone,
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
            How::Certificate => "certificate subject",
            How::Port => "port only",
            How::NdpiPort => "port only, as nDPI",
            How::NdpiNone => "nothing, as nDPI",
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
            || detect::ALT_NAMES.contains(&name)
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
            } else if r.id(&e.name).is_some_and(crate::tls::subjects::has) {
                How::Certificate
            } else {
                let ports = e.tcp_ports != "-" || e.udp_ports != "-";
                match (NDPI_HAS_NO_RULE.contains(&e.name.as_str()), ports) {
                    (true, true) => How::NdpiPort,
                    (true, false) => How::NdpiNone,
                    (false, true) => How::Port,
                    (false, false) => How::Missing,
                }
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
        "{} protocols nDPI 5.0 defines: {} recognised by content, {} by server name, {} by server address, {} by certificate subject, {} by port only, {} missing; {} by port only and {} not at all because nDPI 5.0 has no rule for them either.\n\n",
        rows.len(),
        count(How::Content),
        count(How::Name),
        count(How::Address),
        count(How::Certificate),
        count(How::Port),
        count(How::Missing),
        count(How::NdpiPort),
        count(How::NdpiNone)
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

/// Every detector row's sample as a line of tab-separated fields: protocol,
/// transport (`tcp`/`udp`), ports (`-`: any; `a-b`: a range; else a comma
/// list), direction read (`client`, `server`, `either`) and the sample in
/// hex. `scripts/check_samples.py` replays each through nDPI and exitflow.
pub fn samples_tsv() -> String {
    let mut out = String::from("# protocol\ttransport\tports\tdirection\tsample\n");
    for d in TCP.iter().chain(UDP.iter()) {
        let ports = match (d.range, d.ports) {
            (Some((a, b)), _) => format!("{a}-{b}"),
            (None, []) => "-".into(),
            (None, p) => p.iter().map(u16::to_string).collect::<Vec<_>>().join(","),
        };
        let hex: String = d.sample.iter().map(|b| format!("{b:02x}")).collect();
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\n",
            d.name,
            match d.transport {
                detect::Transport::Tcp => "tcp",
                detect::Transport::Udp => "udp",
            },
            ports,
            match d.dir {
                detect::Dir::Client => "client",
                detect::Dir::Server => "server",
                detect::Dir::Either => "either",
            },
            hex
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
        // A detector's other names (SMBv23 from the SMB row) are content.
        assert_eq!(find("SMBv23"), Some(How::Content));
    }

    #[test]
    fn protocols_ndpi_has_no_rule_for_are_defined_and_not_recognised_here_by_content() {
        let rows = coverage();
        for n in NDPI_HAS_NO_RULE {
            let c = rows.iter().find(|c| c.name == *n).expect(n);
            assert!(
                matches!(c.how, How::NdpiPort | How::NdpiNone),
                "{n}: {:?}",
                c.how
            );
        }
    }
}
