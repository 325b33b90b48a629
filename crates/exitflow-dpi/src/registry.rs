//! The protocol registry and the service map, built from nDPI's tables
//! ([`crate::data`], read at run time).
use std::collections::HashMap;
use std::sync::OnceLock;

use crate::namemap::NameMap;

/// A protocol or service: an index into the registry. Unknown is 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProtoId(pub u16);

impl ProtoId {
    /// Not classified.
    pub const UNKNOWN: ProtoId = ProtoId(0);

    /// Whether this is Unknown.
    pub fn is_unknown(self) -> bool {
        self.0 == 0
    }

    /// nDPI's name of the protocol.
    pub fn name(self) -> &'static str {
        &registry().entries[usize::from(self.0)].name
    }

    /// nDPI's category of the protocol.
    pub fn category(self) -> &'static str {
        &registry().entries[usize::from(self.0)].category
    }
}

/// One registry entry.
pub struct Entry {
    /// Name as nDPI prints it.
    pub name: String,
    /// Category as nDPI prints it.
    pub category: String,
    /// Default TCP ports as written in `protocols.txt` (`-`: none).
    pub tcp_ports: String,
    /// Default UDP ports, likewise.
    pub udp_ports: String,
    /// Server names map to it (a line of `services.txt`).
    pub has_domains: bool,
    /// Listed in `protocols.txt` (nDPI's table), not only in services.txt.
    pub is_protocol: bool,
    /// The entry this one is a category variant of: a service line whose
    /// category differs from its protocol's (nDPI gives a host match the
    /// category of its own list entry, `Google` as `Advertisement` for
    /// ad servers), named as the protocol but with its own category.
    pub variant_of: Option<ProtoId>,
}

/// All protocols and services, with port and domain lookups.
pub struct Registry {
    entries: Vec<Entry>,
    by_name: HashMap<String, ProtoId>,
    /// Category variants by (protocol, category).
    variants: HashMap<(ProtoId, String), ProtoId>,
    tcp_ports: HashMap<u16, ProtoId>,
    udp_ports: HashMap<u16, ProtoId>,
    /// Server names to services (`services.txt`).
    names: NameMap<ProtoId>,
    /// Server names to categories alone (`services.txt` lines named `-`:
    /// nDPI's host categories, which override any other category).
    name_categories: NameMap<u16>,
    /// The categories `name_categories` points into.
    categories: Vec<String>,
}

fn parse_ports(field: &str, into: &mut HashMap<u16, ProtoId>, id: ProtoId) -> Result<(), String> {
    if field == "-" {
        return Ok(());
    }
    for part in field.split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let port = |x: &str| {
            x.parse::<u16>()
                .map_err(|_| format!("{x:?} is not a port (0-65535) in {field:?}"))
        };
        let (a, b) = (port(a)?, port(b)?);
        if a > b {
            return Err(format!("port range {part:?} runs backwards"));
        }
        for p in a..=b {
            // Of protocols sharing a port, nDPI guesses the one registered
            // last (HTTP_Proxy over HTTP_Connect, SMBv23 over SMBv1).
            into.insert(p, id);
        }
    }
    Ok(())
}

/// The name of `services.txt` lines that give a category alone.
pub const CATEGORY_ONLY: &str = "-";

/// exitflow's own service lines (the project's, not nDPI's), compiled in.
const OWN_SERVICES: &str = include_str!("own_services.txt");
/// How errors in [`OWN_SERVICES`] name it.
const OWN_SERVICES_NAME: &str = "crates/exitflow-dpi/src/own_services.txt (built in)";

/// A malformed line of one of the tables.
fn bad(t: &crate::data::Text, file: &str, line: usize, what: String) -> crate::data::DataError {
    crate::data::DataError::Bad {
        path: t.dir.join(file),
        line,
        what,
    }
}

impl Registry {
    fn load(t: &crate::data::Text) -> Result<Registry, crate::data::DataError> {
        use crate::data::{PROTOCOLS_FILE, SERVICES_FILE};
        let mut r = Registry {
            entries: Vec::new(),
            by_name: HashMap::new(),
            variants: HashMap::new(),
            tcp_ports: HashMap::new(),
            udp_ports: HashMap::new(),
            names: NameMap::new(),
            name_categories: NameMap::for_categories(),
            categories: Vec::new(),
        };
        for (n, line) in t.protocols.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() != 4 {
                return Err(bad(
                    t,
                    PROTOCOLS_FILE,
                    n + 1,
                    format!("{line:?}: want 4 fields (name, category, TCP ports, UDP ports)"),
                ));
            }
            let id = r
                .add(f[0], f[1])
                .map_err(|w| bad(t, PROTOCOLS_FILE, n + 1, w))?;
            let e = &mut r.entries[usize::from(id.0)];
            e.is_protocol = true;
            e.tcp_ports = f[2].to_owned();
            e.udp_ports = f[3].to_owned();
            parse_ports(f[2], &mut r.tcp_ports, id)
                .map_err(|w| bad(t, PROTOCOLS_FILE, n + 1, w))?;
            parse_ports(f[3], &mut r.udp_ports, id)
                .map_err(|w| bad(t, PROTOCOLS_FILE, n + 1, w))?;
        }
        // exitflow's own lines first: of two equal domains or patterns the
        // first wins, as nDPI keeps the first of a duplicate in its lists.
        r.add_services(OWN_SERVICES)
            .map_err(|(n, w)| crate::data::DataError::Bad {
                path: std::path::PathBuf::from(OWN_SERVICES_NAME),
                line: n,
                what: w,
            })?;
        r.add_services(&t.services)
            .map_err(|(n, w)| bad(t, SERVICES_FILE, n, w))?;
        Ok(r)
    }

    /// The lines of a service map (`name category domain...`); an error is
    /// the 1-based line and what is wrong.
    fn add_services(&mut self, text: &str) -> Result<(), (usize, String)> {
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut f = line.split_whitespace();
            let (Some(name), Some(cat)) = (f.next(), f.next()) else {
                return Err((
                    n + 1,
                    format!("{line:?}: want a name, a category and domains"),
                ));
            };
            if name == CATEGORY_ONLY {
                let k = match self.categories.iter().position(|c| c == cat) {
                    Some(k) => k,
                    None => {
                        self.categories.push(cat.to_owned());
                        self.categories.len() - 1
                    }
                };
                let k = u16::try_from(k).map_err(|_| (n + 1, "too many categories".to_owned()))?;
                for d in f {
                    self.name_categories.insert(d, k);
                }
                continue;
            }
            let base = match self.by_name.get(name) {
                Some(&id) => id,
                None => self.add(name, cat).map_err(|w| (n + 1, w))?,
            };
            self.entries[usize::from(base.0)].has_domains = true;
            let id = if self.entries[usize::from(base.0)].category == cat {
                base
            } else {
                self.variant(base, cat).map_err(|w| (n + 1, w))?
            };
            for d in f {
                self.names.insert(d, id);
            }
        }
        Ok(())
    }

    /// The entry for `base` under another category, made on first use.
    fn variant(&mut self, base: ProtoId, category: &str) -> Result<ProtoId, String> {
        if let Some(&id) = self.variants.get(&(base, category.to_owned())) {
            return Ok(id);
        }
        let id = ProtoId(
            u16::try_from(self.entries.len())
                .map_err(|_| "more than 65,535 protocols".to_owned())?,
        );
        let b = &self.entries[usize::from(base.0)];
        self.entries.push(Entry {
            name: b.name.clone(),
            category: category.to_owned(),
            tcp_ports: "-".to_owned(),
            udp_ports: "-".to_owned(),
            has_domains: true,
            is_protocol: false,
            variant_of: Some(base),
        });
        self.variants.insert((base, category.to_owned()), id);
        Ok(id)
    }

    fn add(&mut self, name: &str, category: &str) -> Result<ProtoId, String> {
        if let Some(&id) = self.by_name.get(name) {
            return Ok(id);
        }
        let id = ProtoId(
            u16::try_from(self.entries.len())
                .map_err(|_| "more than 65,535 protocols".to_owned())?,
        );
        self.entries.push(Entry {
            name: name.to_owned(),
            category: category.to_owned(),
            tcp_ports: "-".to_owned(),
            udp_ports: "-".to_owned(),
            has_domains: false,
            is_protocol: false,
            variant_of: None,
        });
        self.by_name.insert(name.to_owned(), id);
        Ok(id)
    }

    /// The protocol of a name, if registered.
    pub fn id(&self, name: &str) -> Option<ProtoId> {
        self.by_name.get(name).copied()
    }

    /// The protocol guessed from a port.
    pub fn by_port(&self, tcp: bool, port: u16) -> Option<ProtoId> {
        if tcp {
            self.tcp_ports.get(&port).copied()
        } else {
            self.udp_ports.get(&port).copied()
        }
    }

    /// The service of a server name: the longest registered domain that is
    /// the name itself or one of its parents. Case-insensitive; a trailing
    /// dot is ignored.
    pub fn service(&self, host: &str) -> Option<ProtoId> {
        self.names.get(host)
    }

    /// The category nDPI's host categories give a server name, whatever
    /// its service (they override every other category, as in nDPI).
    pub fn name_category(&self, host: &str) -> Option<&str> {
        self.name_categories
            .get(host)
            .map(|k| self.categories[usize::from(k)].as_str())
    }

    /// The categories nDPI's host-category list gives (lines named `-`),
    /// which no protocol of the registry need have (`AdultContent`).
    pub fn name_categories(&self) -> &[String] {
        &self.categories
    }

    /// Every entry, in registry order (nDPI's id order, then services).
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the registry is empty (never, once loaded).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The registry [`crate::data::load`] built and checked with the tables.
pub fn registry() -> &'static Registry {
    &crate::data::tables().registry
}

/// Builds the registry from the tables' text, checked before it is used:
/// every line parses, and every protocol the code names is in the protocol
/// table.
pub(crate) fn build(t: &crate::data::Text) -> Result<Registry, crate::data::DataError> {
    let r = Registry::load(t)?;
    // Id 0 is Unknown everywhere (`ProtoId::UNKNOWN`): another first row
    // would label every unknown flow with that protocol's category.
    if r.entries.first().map(|e| e.name.as_str()) != Some("Unknown") {
        return Err(bad(
            t,
            crate::data::PROTOCOLS_FILE,
            0,
            "its first protocol must be Unknown (id 0)".into(),
        ));
    }
    let missing: Vec<&str> = KNOWN_NAMES
        .iter()
        .copied()
        .chain(crate::detect::TCP.iter().map(|d| d.name))
        .chain(crate::detect::UDP.iter().map(|d| d.name))
        .chain(crate::detect::ALT_NAMES.iter().copied())
        .chain(crate::detect::infra::IP_PROTOCOLS.iter().map(|(_, n)| *n))
        .filter(|n| r.id(n).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(bad(
            t,
            crate::data::PROTOCOLS_FILE,
            0,
            format!(
                "protocols the inspection names are missing: {}",
                missing.join(", ")
            ),
        ));
    }
    Ok(r)
}

/// Well-known protocol ids, looked up once.
pub struct Known {
    #[allow(missing_docs)]
    pub http: ProtoId,
    #[allow(missing_docs)]
    pub http_proxy: ProtoId,
    #[allow(missing_docs)]
    pub http_connect: ProtoId,
    #[allow(missing_docs)]
    pub tls: ProtoId,
    #[allow(missing_docs)]
    pub quic: ProtoId,
    #[allow(missing_docs)]
    pub dns: ProtoId,
    #[allow(missing_docs)]
    pub mdns: ProtoId,
    #[allow(missing_docs)]
    pub llmnr: ProtoId,
    #[allow(missing_docs)]
    pub doh_dot: ProtoId,
    #[allow(missing_docs)]
    pub icmp: ProtoId,
    #[allow(missing_docs)]
    pub icmpv6: ProtoId,
    #[allow(missing_docs)]
    pub igmp: ProtoId,
    #[allow(missing_docs)]
    pub esp: ProtoId,
    #[allow(missing_docs)]
    pub gre: ProtoId,
    #[allow(missing_docs)]
    pub ospf: ProtoId,
    #[allow(missing_docs)]
    pub smtps: ProtoId,
    #[allow(missing_docs)]
    pub smtp: ProtoId,
    #[allow(missing_docs)]
    pub imap: ProtoId,
    #[allow(missing_docs)]
    pub pop3: ProtoId,
    #[allow(missing_docs)]
    pub ftp_control: ProtoId,
    #[allow(missing_docs)]
    pub ftps: ProtoId,
    #[allow(missing_docs)]
    pub imaps: ProtoId,
    #[allow(missing_docs)]
    pub pops: ProtoId,
    #[allow(missing_docs)]
    pub apple_push: ProtoId,
    #[allow(missing_docs)]
    pub tor: ProtoId,
    #[allow(missing_docs)]
    pub dnscrypt: ProtoId,
    #[allow(missing_docs)]
    pub avast_dns: ProtoId,
    #[allow(missing_docs)]
    pub stun: ProtoId,
    #[allow(missing_docs)]
    pub dtls: ProtoId,
    #[allow(missing_docs)]
    pub srtp: ProtoId,
    #[allow(missing_docs)]
    pub rtp: ProtoId,
    #[allow(missing_docs)]
    pub google_call: ProtoId,
    #[allow(missing_docs)]
    pub signal_voip: ProtoId,
    #[allow(missing_docs)]
    pub zoom: ProtoId,
    #[allow(missing_docs)]
    pub whatsapp_call: ProtoId,
    #[allow(missing_docs)]
    pub telegram: ProtoId,
    #[allow(missing_docs)]
    pub line: ProtoId,
    #[allow(missing_docs)]
    pub tftp: ProtoId,
    #[allow(missing_docs)]
    pub z3950: ProtoId,
    #[allow(missing_docs)]
    pub tinc: ProtoId,
    #[allow(missing_docs)]
    pub rdp: ProtoId,
    #[allow(missing_docs)]
    pub bittorrent: ProtoId,
    #[allow(missing_docs)]
    pub ssh: ProtoId,
}

/// The names [`known`] resolves.
const KNOWN_NAMES: &[&str] = &[
    "HTTP",
    "HTTP_Proxy",
    "HTTP_Connect",
    "TLS",
    "QUIC",
    "DNS",
    "MDNS",
    "LLMNR",
    "DoH_DoT",
    "ICMP",
    "ICMPV6",
    "IGMP",
    "ESP",
    "GRE",
    "IP_OSPF",
    "SMTPS",
    "IMAPS",
    "POPS",
    "SMTP",
    "IMAP",
    "POP3",
    "FTP_CONTROL",
    "FTPS",
    "ApplePush",
    "Tor",
    "DNScrypt",
    "AVASTSecureDNS",
    "STUN",
    "DTLS",
    "SRTP",
    "RTP",
    "GoogleCall",
    "SignalVoip",
    "Zoom",
    "WhatsAppCall",
    "Telegram",
    "Line",
    "TFTP",
    "Z3950",
    "TINC",
    "RDP",
    "BitTorrent",
    "SSH",
];

/// The well-known ids.
pub fn known() -> &'static Known {
    static K: OnceLock<Known> = OnceLock::new();
    K.get_or_init(|| {
        let r = registry();
        let g = |n: &str| {
            r.id(n)
                .expect("checked when the tables were loaded (KNOWN_NAMES)")
        };
        Known {
            http: g("HTTP"),
            http_proxy: g("HTTP_Proxy"),
            http_connect: g("HTTP_Connect"),
            tls: g("TLS"),
            quic: g("QUIC"),
            dns: g("DNS"),
            mdns: g("MDNS"),
            llmnr: g("LLMNR"),
            doh_dot: g("DoH_DoT"),
            icmp: g("ICMP"),
            icmpv6: g("ICMPV6"),
            igmp: g("IGMP"),
            esp: g("ESP"),
            gre: g("GRE"),
            ospf: g("IP_OSPF"),
            smtps: g("SMTPS"),
            smtp: g("SMTP"),
            imap: g("IMAP"),
            pop3: g("POP3"),
            ftp_control: g("FTP_CONTROL"),
            ftps: g("FTPS"),
            imaps: g("IMAPS"),
            pops: g("POPS"),
            apple_push: g("ApplePush"),
            tor: g("Tor"),
            dnscrypt: g("DNScrypt"),
            avast_dns: g("AVASTSecureDNS"),
            stun: g("STUN"),
            dtls: g("DTLS"),
            srtp: g("SRTP"),
            rtp: g("RTP"),
            google_call: g("GoogleCall"),
            signal_voip: g("SignalVoip"),
            zoom: g("Zoom"),
            whatsapp_call: g("WhatsAppCall"),
            telegram: g("Telegram"),
            line: g("Line"),
            tftp: g("TFTP"),
            z3950: g("Z3950"),
            tinc: g("TINC"),
            rdp: g("RDP"),
            bittorrent: g("BitTorrent"),
            ssh: g("SSH"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_files_load_and_lookups_work() {
        let r = registry();
        assert!(r.len() > 100);
        assert_eq!(ProtoId::UNKNOWN.name(), "Unknown");
        assert_eq!(r.by_port(true, 443).unwrap().name(), "TLS");
        assert_eq!(r.by_port(false, 53).unwrap().name(), "DNS");
        assert_eq!(r.by_port(true, 6885).unwrap().name(), "BitTorrent");
        assert_eq!(r.service("www.google.com").unwrap().name(), "Google");
        assert_eq!(
            r.service("R4---SN-4G5E6NZ7.googlevideo.com.")
                .unwrap()
                .name(),
            "YouTube"
        );
        assert_eq!(
            r.service("upload.youtube.com").unwrap().name(),
            "YouTubeUpload"
        );
        assert_eq!(r.service("example.org"), None);
        assert_eq!(
            r.service("igcdn-photos-a-a.akamaihd.net").unwrap().name(),
            "Instagram"
        );
        assert_eq!(r.service(""), None);
        known();
    }

    /// exitflow's own lines come before nDPI's, and of two equal domains or
    /// patterns the first wins (nDPI keeps the first of a duplicate): an
    /// own line overrides nDPI's, and nDPI's own duplicates keep their first.
    #[test]
    fn own_lines_come_first_the_first_of_a_duplicate_wins_and_a_line_keeps_its_category() {
        let own_google = OWN_SERVICES
            .lines()
            .find(|l| l.starts_with("Google "))
            .and_then(|l| l.split_whitespace().nth(2))
            .expect("an own Google line with a domain");
        let t = crate::data::Text {
            dir: std::path::PathBuf::from("fixture"),
            protocols: "Unknown Unspecified - -\nA Web - -\nB Web - -\n".to_owned(),
            services: format!(
                "A Web {own_google} dup.example ~pat-\nB Web dup.example ~pat- b.example\n"
            ),
            ip_lists: String::new(),
            certificates: String::new(),
        };
        let r = Registry::load(&t).unwrap();
        let name = |h: &str| {
            r.service(h)
                .map(|id| r.entries[usize::from(id.0)].name.clone())
        };
        assert_eq!(name(own_google).as_deref(), Some("Google"));
        assert_eq!(name("www.dup.example").as_deref(), Some("A"));
        assert_eq!(name("x.pat-y.net").as_deref(), Some("A"));
        assert_eq!(name("b.example").as_deref(), Some("B"));
        // A line whose category is not its protocol's names the protocol
        // with the line's category (nDPI gives a host match its list
        // entry's category); the protocol itself keeps its own.
        let t = crate::data::Text {
            services: "A Advertisement ads.example\n".to_owned(),
            ..t
        };
        let r = Registry::load(&t).unwrap();
        let ad = r.service("x.ads.example").unwrap();
        let e = &r.entries[usize::from(ad.0)];
        let a = r.id("A").unwrap();
        assert_eq!(
            (e.name.as_str(), e.category.as_str()),
            ("A", "Advertisement")
        );
        assert_eq!(e.variant_of, Some(a));
        assert_eq!(r.entries[usize::from(a.0)].category, "Web");
        assert!(r.entries[usize::from(a.0)].has_domains);
        // No own line names a domain or a pattern twice (a second would be
        // dead, and reading the file would not tell which one acts).
        let mut seen = std::collections::HashSet::new();
        for l in OWN_SERVICES.lines().filter(|l| !l.starts_with('#')) {
            for d in l.split_whitespace().skip(2) {
                assert!(
                    seen.insert(d.to_ascii_lowercase()),
                    "{d} twice in own_services.txt"
                );
            }
        }
    }
}
