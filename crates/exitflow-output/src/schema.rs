//! The flow record's columns: one table drives the CSV header, the JSON keys,
//! the Parquet schema and the documentation (`exitflow schema`).
use exitflow_flow::Flow;

/// Storage type of a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColType {
    /// Unsigned 64-bit integer.
    U64,
    /// Boolean, written `0`/`1` in CSV as NFStream does.
    Bool,
    /// UTF-8 string (dictionary-encoded in Parquet).
    Str,
    /// UTF-8 string that may be absent (null in Parquet and JSON, empty in CSV).
    OptStr,
}

/// How sensitive a column is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrivacyClass {
    /// Says nothing about a person on its own (counters, protocol numbers).
    Public,
    /// Could help re-identify combined with other data (times, ports, labels).
    Quasi,
    /// Identifies a host: written only when the operator asks for it.
    Personal,
    /// Says what someone visited (server names): written only when asked for.
    Sensitive,
}

impl PrivacyClass {
    /// Name used in the schema documentation.
    pub fn as_str(self) -> &'static str {
        match self {
            PrivacyClass::Public => "public",
            PrivacyClass::Quasi => "quasi-identifier",
            PrivacyClass::Personal => "personal",
            PrivacyClass::Sensitive => "sensitive",
        }
    }
}

/// A column of the flow record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Col {
    Id,
    SrcIp,
    SrcPort,
    DstIp,
    DstPort,
    Protocol,
    IpVersion,
    VlanId,
    TunnelId,
    BiFirstSeen,
    BiLastSeen,
    BiDuration,
    BiPackets,
    BiBytes,
    S2dFirstSeen,
    S2dLastSeen,
    S2dDuration,
    S2dPackets,
    S2dBytes,
    D2sFirstSeen,
    D2sLastSeen,
    D2sDuration,
    D2sPackets,
    D2sBytes,
    Syn,
    Cwr,
    Ece,
    Urg,
    Ack,
    Psh,
    Rst,
    Fin,
    AppName,
    AppCategory,
    AppGuessed,
    AppConfidence,
    ServerName,
    ClientFingerprint,
    ServerFingerprint,
    UserAgent,
    ContentType,
    SrcCountry,
    DstCountry,
    SrcIsProxy,
    DstIsProxy,
    SrcAsn,
    DstAsn,
    DstAsOrg,
    TorRole,
    EndReason,
    ConnState,
    Failed,
}

/// One column: name, type, privacy class and meaning.
#[derive(Clone, Copy, Debug)]
pub struct ColumnDef {
    /// Which column.
    pub col: Col,
    /// Name in every output format (NFStream's where the two overlap).
    pub name: &'static str,
    /// Storage type.
    pub ty: ColType,
    /// Privacy class.
    pub privacy: PrivacyClass,
    /// One-line meaning.
    pub doc: &'static str,
}

macro_rules! cols {
    ($( $c:ident $n:literal $t:ident $p:ident $d:literal ;)*) => {
        /// All columns, in output order.
        pub const COLUMNS: &[ColumnDef] = &[
            $( ColumnDef { col: Col::$c, name: $n, ty: ColType::$t, privacy: PrivacyClass::$p, doc: $d }, )*
        ];
    };
}

cols! {
    Id "id" U64 Quasi "flow number within one capture or capture session, in creation order; research profile only";
    SrcIp "src_ip" Str Personal "source address (first packet's sender); only with --addresses keep or pseudonymize";
    SrcPort "src_port" U64 Quasi "source port (0 for protocols without ports); only with --source-ports";
    DstIp "dst_ip" Str Personal "destination address; only with --addresses keep or pseudonymize";
    DstPort "dst_port" U64 Quasi "destination port (0 for protocols without ports)";
    Protocol "protocol" U64 Public "IP protocol number (6 TCP, 17 UDP, 1 ICMP, ...)";
    IpVersion "ip_version" U64 Public "4 or 6";
    VlanId "vlan_id" U64 Public "innermost 802.1Q VLAN id, 0 when untagged";
    TunnelId "tunnel_id" U64 Public "0 none, 1 GTP-U, 2 CAPWAP, 3 TZSP (NFStream's numbering)";
    BiFirstSeen "bidirectional_first_seen_ms" U64 Quasi "first packet, ms since the Unix epoch (UTC), rounded down to the profile's granularity (an hour; exact under research)";
    BiLastSeen "bidirectional_last_seen_ms" U64 Quasi "last packet, ms since the Unix epoch (UTC)";
    BiDuration "bidirectional_duration_ms" U64 Quasi "last minus first, ms (power-of-two bucket outside the research profile, as every count and duration)";
    BiPackets "bidirectional_packets" U64 Public "packets, both directions";
    BiBytes "bidirectional_bytes" U64 Public "bytes, both directions: original frame length of each packet";
    S2dFirstSeen "src2dst_first_seen_ms" U64 Quasi "first source-to-destination packet, ms (0 if none)";
    S2dLastSeen "src2dst_last_seen_ms" U64 Quasi "last source-to-destination packet, ms";
    S2dDuration "src2dst_duration_ms" U64 Public "source-to-destination duration, ms";
    S2dPackets "src2dst_packets" U64 Public "packets source to destination";
    S2dBytes "src2dst_bytes" U64 Public "bytes source to destination";
    D2sFirstSeen "dst2src_first_seen_ms" U64 Quasi "first destination-to-source packet, ms (0 if none)";
    D2sLastSeen "dst2src_last_seen_ms" U64 Quasi "last destination-to-source packet, ms";
    D2sDuration "dst2src_duration_ms" U64 Public "destination-to-source duration, ms";
    D2sPackets "dst2src_packets" U64 Public "packets destination to source";
    D2sBytes "dst2src_bytes" U64 Public "bytes destination to source";
    Syn "bidirectional_syn_packets" U64 Public "TCP packets with SYN";
    Cwr "bidirectional_cwr_packets" U64 Public "TCP packets with CWR";
    Ece "bidirectional_ece_packets" U64 Public "TCP packets with ECE";
    Urg "bidirectional_urg_packets" U64 Public "TCP packets with URG";
    Ack "bidirectional_ack_packets" U64 Public "TCP packets with ACK";
    Psh "bidirectional_psh_packets" U64 Public "TCP packets with PSH";
    Rst "bidirectional_rst_packets" U64 Public "TCP packets with RST";
    Fin "bidirectional_fin_packets" U64 Public "TCP packets with FIN";
    AppName "application_name" Str Quasi "nDPI-style label, Master.App (Unknown until classified)";
    AppCategory "application_category_name" Str Public "nDPI category: of the HTTP content type, the server name (nDPI's host categories) or the label, as nDPI fills it";
    AppGuessed "application_is_guessed" Bool Public "1 when the label was guessed from ports/addresses";
    AppConfidence "application_confidence" U64 Public "nDPI confidence (0 unknown, 1 port, 6 DPI, ...)";
    ServerName "requested_server_name" OptStr Sensitive "TLS/QUIC SNI, HTTP Host or DNS query name; only with --server-names domain (registrable domain) or keep";
    ClientFingerprint "client_fingerprint" OptStr Quasi "JA4 of the TLS/QUIC ClientHello; only with --fingerprints";
    ServerFingerprint "server_fingerprint" OptStr Quasi "server fingerprint (none yet); only with --fingerprints";
    UserAgent "user_agent" OptStr Quasi "HTTP User-Agent: family and major version (uap-core data) by default, as sent under research, none under strict";
    ContentType "content_type" OptStr Public "HTTP response Content-Type, without parameters outside the research profile";
    SrcCountry "src_country" Str Quasi "ISO country of the source (or private, loopback, link-local, multicast, unspecified, unknown; `self` when the source is one of the relay's own addresses: a flow the relay began); withheld unless the source is a relay or the relay itself (research: always)";
    DstCountry "dst_country" Str Quasi "ISO country of the destination (same special values)";
    SrcIsProxy "src_is_proxy" Bool Public "1 when a database flags the source as an anonymous proxy";
    DstIsProxy "dst_is_proxy" Bool Public "1 when a database flags the destination as an anonymous proxy";
    SrcAsn "src_asn" U64 Quasi "autonomous system of the source (0 unknown; needs an ASN database)";
    DstAsn "dst_asn" U64 Quasi "autonomous system of the destination";
    DstAsOrg "dst_as_org" OptStr Quasi "organisation of the destination's autonomous system";
    TorRole "tor_role" Str Public "exit, relay, dirport, management, resolver, relay-host or other";
    EndReason "end_reason" Str Public "idle, active, end_of_input or evicted";
    ConnState "conn_state" Str Public "Zeek-style state: S0, SF, REJ, RSTO, OTH, ... (UDP: S0 one-way, SF answered)";
    Failed "failed_flow" Bool Public "1 when the flow has at most 4 packets (the study's failed flow)";
}

impl Col {
    /// The column's definition ([`COLUMNS`] lists them in the enum's order).
    pub fn def(self) -> &'static ColumnDef {
        &COLUMNS[self as usize]
    }

    /// The column's name in every output format.
    pub fn name(self) -> &'static str {
        self.def().name
    }
}

/// A value of one cell.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    /// Unsigned integer.
    U(u64),
    /// Boolean.
    B(bool),
    /// String.
    S(&'a str),
    /// Absent.
    Null,
}

/// A finished flow with its labels and enrichment, before the policy: it
/// still holds the raw flow (addresses included). It lives only inside the
/// pipeline's `to_record`, which hands it to [`crate::Policy::store`]; no
/// writer takes it, and its debug print shows no address or server name.
#[derive(Clone)]
pub struct Record {
    /// The metered flow. Its raw addresses are never written directly.
    pub flow: Flow,
    /// Source address as the policy allows it to be written.
    pub src_ip: Option<String>,
    /// Destination address as the policy allows it to be written.
    pub dst_ip: Option<String>,
    /// Application label.
    pub application_name: String,
    /// Category label.
    pub application_category_name: String,
    /// Guessed label.
    pub application_is_guessed: bool,
    /// Confidence.
    pub application_confidence: u8,
    /// Server name (SNI, Host, DNS query).
    pub requested_server_name: Option<String>,
    /// Client fingerprint.
    pub client_fingerprint: Option<String>,
    /// Server fingerprint.
    pub server_fingerprint: Option<String>,
    /// HTTP User-Agent.
    pub user_agent: Option<String>,
    /// HTTP Content-Type.
    pub content_type: Option<String>,
    /// Source country.
    pub src_country: std::sync::Arc<str>,
    /// Destination country.
    pub dst_country: std::sync::Arc<str>,
    /// Source flagged as anonymous proxy.
    pub src_is_proxy: bool,
    /// Destination flagged as anonymous proxy.
    pub dst_is_proxy: bool,
    /// Source ASN.
    pub src_asn: u32,
    /// Destination ASN.
    pub dst_asn: u32,
    /// Destination AS organisation.
    pub dst_as_org: Option<std::sync::Arc<str>>,
    /// Tor role of the flow.
    pub tor_role: &'static str,
    /// Timestamps are written rounded down to a multiple of this (ms; 1 = exact).
    pub time_granularity_ms: u64,
    /// Durations, packet, byte and flag counts are written as their
    /// power-of-two bucket ([`bucket`]).
    pub coarse: bool,
    /// The source is a relay of the consensus or the relay itself (set by
    /// enrichment): only then may a policy keep its country and ASN.
    pub src_public: bool,
}

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Record")
            .field("flow", &self.flow)
            .field("application_name", &self.application_name)
            .field("tor_role", &self.tor_role)
            .field("dst_country", &self.dst_country)
            .finish_non_exhaustive()
    }
}

/// The power-of-two bucket of a count or duration: its largest power of two
/// not above it (0 stays 0): 1, 2, 4, 8, … Lower bound of a factor-2 range.
pub fn bucket(v: u64) -> u64 {
    if v == 0 {
        0
    } else {
        1 << (63 - v.leading_zeros())
    }
}

impl Record {
    /// A record with no application labels yet.
    pub fn unlabelled(flow: Flow) -> Record {
        Record {
            flow,
            src_ip: None,
            dst_ip: None,
            application_name: "Unknown".into(),
            application_category_name: "Unspecified".into(),
            application_is_guessed: false,
            application_confidence: 0,
            requested_server_name: None,
            client_fingerprint: None,
            server_fingerprint: None,
            user_agent: None,
            content_type: None,
            src_country: "unknown".into(),
            dst_country: "unknown".into(),
            src_is_proxy: false,
            dst_is_proxy: false,
            src_asn: 0,
            dst_asn: 0,
            dst_as_org: None,
            tor_role: "other",
            time_granularity_ms: 1,
            coarse: false,
            src_public: false,
        }
    }

    /// The value of one column.
    pub fn value(&self, c: Col) -> Value<'_> {
        let f = &self.flow;
        let n = |v: u64| Value::U(if self.coarse { bucket(v) } else { v });
        let d = |a: u64, b: u64| n(b.saturating_sub(a));
        let g = self.time_granularity_ms.max(1);
        let t = |ms: u64| Value::U(ms - ms % g);
        match c {
            Col::Id => Value::U(f.id),
            Col::SrcIp => Value::S(self.src_ip.as_deref().unwrap_or("")),
            Col::SrcPort => Value::U(f.src_port.into()),
            Col::DstIp => Value::S(self.dst_ip.as_deref().unwrap_or("")),
            Col::DstPort => Value::U(f.dst_port.into()),
            Col::Protocol => Value::U(f.protocol.into()),
            Col::IpVersion => Value::U(f.ip_version.into()),
            Col::VlanId => Value::U(f.vlan_id.into()),
            Col::TunnelId => Value::U(f.tunnel_id.into()),
            Col::BiFirstSeen => t(f.first_seen_ms),
            Col::BiLastSeen => t(f.last_seen_ms),
            Col::BiDuration => n(f.duration_ms()),
            Col::BiPackets => n(f.packets()),
            Col::BiBytes => n(f.bytes()),
            Col::S2dFirstSeen => t(f.src2dst.first_seen_ms),
            Col::S2dLastSeen => t(f.src2dst.last_seen_ms),
            Col::S2dDuration => d(f.src2dst.first_seen_ms, f.src2dst.last_seen_ms),
            Col::S2dPackets => n(f.src2dst.packets),
            Col::S2dBytes => n(f.src2dst.bytes),
            Col::D2sFirstSeen => t(f.dst2src.first_seen_ms),
            Col::D2sLastSeen => t(f.dst2src.last_seen_ms),
            Col::D2sDuration => d(f.dst2src.first_seen_ms, f.dst2src.last_seen_ms),
            Col::D2sPackets => n(f.dst2src.packets),
            Col::D2sBytes => n(f.dst2src.bytes),
            Col::Syn => n(f.flags.syn.into()),
            Col::Cwr => n(f.flags.cwr.into()),
            Col::Ece => n(f.flags.ece.into()),
            Col::Urg => n(f.flags.urg.into()),
            Col::Ack => n(f.flags.ack.into()),
            Col::Psh => n(f.flags.psh.into()),
            Col::Rst => n(f.flags.rst.into()),
            Col::Fin => n(f.flags.fin.into()),
            Col::AppName => Value::S(&self.application_name),
            Col::AppCategory => Value::S(&self.application_category_name),
            Col::AppGuessed => Value::B(self.application_is_guessed),
            Col::AppConfidence => Value::U(self.application_confidence.into()),
            Col::ServerName => opt(&self.requested_server_name),
            Col::ClientFingerprint => opt(&self.client_fingerprint),
            Col::ServerFingerprint => opt(&self.server_fingerprint),
            Col::UserAgent => opt(&self.user_agent),
            Col::ContentType => opt(&self.content_type),
            Col::SrcCountry => Value::S(&self.src_country),
            Col::DstCountry => Value::S(&self.dst_country),
            Col::SrcIsProxy => Value::B(self.src_is_proxy),
            Col::DstIsProxy => Value::B(self.dst_is_proxy),
            Col::SrcAsn => Value::U(self.src_asn.into()),
            Col::DstAsn => Value::U(self.dst_asn.into()),
            Col::DstAsOrg => self.dst_as_org.as_deref().map_or(Value::Null, Value::S),
            Col::TorRole => Value::S(self.tor_role),
            Col::EndReason => Value::S(f.end_reason.as_str()),
            Col::ConnState => Value::S(f.conn_state().as_str()),
            Col::Failed => Value::B(f.is_failed()),
        }
    }
}

fn opt(v: &Option<String>) -> Value<'_> {
    v.as_deref().map_or(Value::Null, Value::S)
}

/// Which optional column groups are written. The default is the default
/// policy's: user-agents, and nothing personal or sensitive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Selection {
    /// Address columns (policy keep or pseudonymize).
    pub addresses: bool,
    /// Server names.
    pub server_names: bool,
    /// Client and server fingerprints.
    pub fingerprints: bool,
    /// Source ports.
    pub source_ports: bool,
    /// User-agents.
    pub user_agents: bool,
    /// Flow ids (creation order).
    pub ids: bool,
}

impl Default for Selection {
    fn default() -> Self {
        Selection {
            addresses: false,
            server_names: false,
            fingerprints: false,
            source_ports: false,
            user_agents: true,
            ids: false,
        }
    }
}

impl Selection {
    /// Whether a column is written.
    pub fn wants(&self, c: &ColumnDef) -> bool {
        match c.col {
            Col::Id => self.ids,
            Col::SrcPort => self.source_ports,
            Col::ClientFingerprint | Col::ServerFingerprint => self.fingerprints,
            Col::UserAgent => self.user_agents,
            _ => match c.privacy {
                PrivacyClass::Personal => self.addresses,
                PrivacyClass::Sensitive => self.server_names,
                _ => true,
            },
        }
    }
}

/// The columns written under a selection.
pub fn columns_for(sel: Selection) -> Vec<&'static ColumnDef> {
    COLUMNS.iter().filter(|c| sel.wants(c)).collect()
}

/// The schema as a Markdown table (for `exitflow schema` and the docs).
pub fn markdown_table() -> String {
    let mut s =
        String::from("| column | type | privacy | by default | meaning |\n|---|---|---|---|---|\n");
    for c in COLUMNS {
        let ty = match c.ty {
            ColType::U64 => "uint64",
            ColType::Bool => "bool",
            ColType::Str => "string",
            ColType::OptStr => "string (nullable)",
        };
        s.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            c.name,
            ty,
            c.privacy.as_str(),
            if crate::policy::DEFAULT_COLUMNS.contains(&c.col) {
                "written"
            } else {
                "not written"
            },
            c.doc
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A debug print of any record type (flow key, flow, record, stored
    /// row) shows no address, server name or user-agent, whatever it holds.
    #[test]
    fn a_debug_print_of_a_record_shows_no_address() {
        let f = Flow::from_totals(
            1,
            6,
            (
                [203, 0, 113, 57, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                40_000,
            ),
            ([198, 51, 100, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 443),
            (1_000, 2_000),
            (3, 300),
            (3, 300),
            exitflow_flow::EndReason::Idle,
        );
        let mut r = Record::unlabelled(f.clone());
        r.src_ip = Some("203.0.113.57".into());
        r.dst_ip = Some("198.51.100.7".into());
        r.requested_server_name = Some("secret.example".into());
        r.user_agent = Some("ZqxMarker/1".into());
        let row = crate::Policy::research().store(r.clone());
        for text in [
            format!("{f:?}"),
            format!("{r:?}"),
            format!("{row:?}"),
            format!("{r:#?}"),
        ] {
            for bad in [
                "203, 0",
                "198, 51",
                "203.0.113",
                "198.51.100",
                "secret",
                "Zqx",
            ] {
                assert!(!text.contains(bad), "{bad} in {text}");
            }
        }
    }

    #[test]
    fn columns_are_listed_in_the_enums_order() {
        for (i, c) in COLUMNS.iter().enumerate() {
            assert_eq!(c.col as usize, i, "{}", c.name);
            assert_eq!(c.col.name(), c.name);
        }
    }
}
