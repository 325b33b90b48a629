//! The anonymisation policy: what of a flow reaches disk, decided in one
//! place and applied to every record before it is written.
use std::path::PathBuf;
use std::str::FromStr;

use crate::OutputError;
use crate::privacy::{AddressPolicy, CryptoPan};
use crate::row::{Cell, Layout, Row};
use crate::schema::{COLUMNS, Col, Record, Selection, Value};

/// One hour: the time granularity of the default and strict profiles.
pub const DEFAULT_TIME_GRANULARITY_MS: u64 = 3_600_000;
/// The strict profile's time granularity.
pub const STRICT_TIME_GRANULARITY_MS: u64 = DEFAULT_TIME_GRANULARITY_MS;

/// Named settings. A profile can be refined only towards less: a flag or
/// key that would make it write more is an error naming it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Explicit opt-in, for research under an ethics review: exact times,
    /// counts and durations, flow ids, user-agents and content types as
    /// sent, source countries; addresses, server names, fingerprints and
    /// source ports on request. Marked in every file and warned about.
    Research,
    /// Nothing finer than an hour; durations, packet and byte counts as
    /// power-of-two buckets; no flow ids; user-agents as family and major
    /// version, content types without parameters; source country and ASN
    /// only where the source is a relay or the relay itself.
    Default,
    /// No per-flow rows: hourly aggregate tables only, cells of fewer
    /// than k flows folded into `Other`; no user-agents.
    Strict,
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "research" => Ok(Profile::Research),
            "default" => Ok(Profile::Default),
            "strict" => Ok(Profile::Strict),
            _ => Err(format!("{s:?}: expected default, strict or research")),
        }
    }
}

impl Profile {
    /// The profile's name, as written in files and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Research => "research",
            Profile::Default => "default",
            Profile::Strict => "strict",
        }
    }
}

/// What happens to addresses, before any key is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AddressMode {
    /// Not written.
    Drop,
    /// Written as captured.
    Keep,
    /// Keyed prefix-preserving pseudonyms (needs a key file).
    Pseudonymize,
}

impl FromStr for AddressMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "drop" => Ok(AddressMode::Drop),
            "keep" => Ok(AddressMode::Keep),
            "pseudonymize" => Ok(AddressMode::Pseudonymize),
            _ => Err(format!("{s:?}: expected drop, keep or pseudonymize")),
        }
    }
}

/// What happens to server names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerNames {
    /// Not written.
    Drop,
    /// Reduced to the registrable domain (eTLD+1, public suffix list).
    Domain,
    /// Written as seen.
    Keep,
}

impl FromStr for ServerNames {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "drop" => Ok(ServerNames::Drop),
            "domain" => Ok(ServerNames::Domain),
            "keep" => Ok(ServerNames::Keep),
            _ => Err(format!("{s:?}: expected drop, domain or keep")),
        }
    }
}

impl ServerNames {
    /// The setting's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerNames::Drop => "drop",
            ServerNames::Domain => "domain",
            ServerNames::Keep => "keep",
        }
    }
}

/// The source country written where a policy withholds it.
pub const WITHHELD: &str = "withheld";
/// The source country of a flow the relay itself began (its source is one
/// of the relay's own addresses): the relay's country says nothing about
/// who sent traffic to it, so Figure 5.11's countries leave these out.
pub const SELF_SOURCE: &str = "self";

/// Every row of a node-hour shares its stored columns with at least this
/// many rows (itself included) under the default profile; strict cells of
/// fewer flows fold into `Other`. Settable upwards only.
pub const DEFAULT_K_ANONYMITY: usize = 5;

/// The columns the default profile writes: what the study's tables, the
/// report and its abuse section read, and nothing else (docs/privacy.md
/// gives the reason for each). One time per flow: the hour it began.
pub const DEFAULT_COLUMNS: [Col; 16] = [
    Col::DstPort,
    Col::BiFirstSeen,
    Col::BiDuration,
    Col::BiPackets,
    Col::BiBytes,
    Col::AppName,
    Col::AppCategory,
    Col::AppGuessed,
    Col::UserAgent,
    Col::ContentType,
    Col::SrcCountry,
    Col::DstCountry,
    Col::SrcIsProxy,
    Col::DstIsProxy,
    Col::TorRole,
    Col::Failed,
];

/// The layout of a list of columns, in the schema's order.
fn layout_of(cols: &[Col]) -> Layout {
    Layout::new(COLUMNS.iter().filter(|c| cols.contains(&c.col)).collect())
}

/// A profile and its refinements, merged from flags and the configuration
/// file; [`Policy::from_settings`] validates them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicySettings {
    /// The profile (default: [`Profile::Default`]).
    pub profile: Option<Profile>,
    /// Addresses (default: dropped).
    pub addresses: Option<AddressMode>,
    /// Key for pseudonyms.
    pub key_file: Option<PathBuf>,
    /// Server names (default: dropped).
    pub server_names: Option<ServerNames>,
    /// Time granularity, seconds (0: exact).
    pub time_granularity_s: Option<u64>,
    /// Whether user-agents are written.
    pub user_agents: Option<bool>,
    /// Whether fingerprints are written.
    pub fingerprints: Option<bool>,
    /// Whether source ports are written.
    pub source_ports: Option<bool>,
    /// k of the k-anonymity rule (default [`DEFAULT_K_ANONYMITY`]; only
    /// larger under default and strict).
    pub k_anonymity: Option<usize>,
}

/// The whole policy.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Profile the settings came from.
    pub profile: Profile,
    /// Addresses.
    pub addresses: AddressPolicy,
    /// Server names.
    pub server_names: ServerNames,
    /// User-agents written.
    pub user_agents: bool,
    /// Fingerprints written.
    pub fingerprints: bool,
    /// Source ports written.
    pub source_ports: bool,
    /// Timestamps rounded down to this many ms (1 = exact).
    pub time_granularity_ms: u64,
    /// Flow ids written.
    pub ids: bool,
    /// Durations, packet, byte and flag counts as power-of-two buckets.
    pub coarse: bool,
    /// User-agents reduced to family and major version.
    pub ua_families: bool,
    /// Content types without parameters.
    pub content_type_base: bool,
    /// Source country and ASN only where the source is a relay or the relay.
    pub src_geo_relays_only: bool,
    /// No per-flow rows: hourly aggregate tables only (the strict profile).
    pub aggregates_only: bool,
    /// Rows (default) and cells (strict) of fewer flows than this within a
    /// node-hour are generalised (1: off, research).
    pub k_anonymity: usize,
    /// The columns written, in order.
    layout: std::sync::Arc<Layout>,
    /// User-agent families already computed (capped at [`UA_CACHE_CAP`]).
    ua_cache: std::collections::HashMap<String, String>,
    /// Label strings already stored (capped at [`UA_CACHE_CAP`]): a row
    /// shares them instead of copying each.
    names: std::collections::HashMap<String, std::sync::Arc<str>, ahash::RandomState>,
}

/// Most user-agents whose family a policy remembers; the cache is cleared
/// when full.
pub const UA_CACHE_CAP: usize = 4096;

impl Default for Policy {
    /// The default profile.
    fn default() -> Self {
        Policy {
            profile: Profile::Default,
            addresses: AddressPolicy::Drop,
            server_names: ServerNames::Drop,
            user_agents: true,
            fingerprints: false,
            source_ports: false,
            time_granularity_ms: DEFAULT_TIME_GRANULARITY_MS,
            ids: false,
            coarse: true,
            ua_families: true,
            content_type_base: true,
            src_geo_relays_only: true,
            aggregates_only: false,
            k_anonymity: DEFAULT_K_ANONYMITY,
            layout: std::sync::Arc::new(layout_of(&DEFAULT_COLUMNS)),
            ua_cache: Default::default(),
            names: Default::default(),
        }
    }
}

impl Policy {
    /// The strict profile.
    pub fn strict() -> Policy {
        let cols: Vec<Col> = DEFAULT_COLUMNS
            .into_iter()
            .filter(|c| *c != Col::UserAgent)
            .collect();
        Policy {
            profile: Profile::Strict,
            user_agents: false,
            aggregates_only: true,
            time_granularity_ms: STRICT_TIME_GRANULARITY_MS,
            layout: std::sync::Arc::new(layout_of(&cols)),
            ..Policy::default()
        }
    }

    /// The research profile (the field set of the 2021 study and more).
    pub fn research() -> Policy {
        Policy {
            profile: Profile::Research,
            time_granularity_ms: 1,
            ids: true,
            coarse: false,
            ua_families: false,
            content_type_base: false,
            src_geo_relays_only: false,
            k_anonymity: 1,
            layout: std::sync::Arc::new(Layout::new(crate::schema::columns_for(Selection {
                user_agents: true,
                ids: true,
                ..Selection::default()
            }))),
            ..Policy::default()
        }
    }

    /// The policy `s` describes: the profile's values, refined. Refinements
    /// the strict profile forbids are errors naming the setting, and so is
    /// a granularity whose milliseconds overflow.
    pub fn from_settings(s: &PolicySettings) -> Result<Policy, OutputError> {
        let profile = s.profile.unwrap_or(Profile::Default);
        let mut p = match profile {
            Profile::Research => Policy::research(),
            Profile::Default => Policy::default(),
            Profile::Strict => Policy::strict(),
        };
        let floor = p.time_granularity_ms;
        p.addresses = match (s.addresses.unwrap_or(AddressMode::Drop), &s.key_file) {
            (AddressMode::Drop, _) => AddressPolicy::Drop,
            (AddressMode::Keep, _) => AddressPolicy::Keep,
            (AddressMode::Pseudonymize, Some(k)) => {
                AddressPolicy::Pseudonymize(Box::new(CryptoPan::from_key_file(k)?))
            }
            (AddressMode::Pseudonymize, None) => {
                return Err(OutputError::Policy(
                    "addresses = pseudonymize needs a key file (--key-file)".into(),
                ));
            }
        };
        if let Some(n) = s.server_names {
            p.server_names = n;
        }
        if let Some(g) = s.time_granularity_s {
            p.time_granularity_ms = g.checked_mul(1000).ok_or_else(|| {
                OutputError::Policy(format!("time granularity {g} s is out of range"))
            })?;
            p.time_granularity_ms = p.time_granularity_ms.max(1);
        }
        p.user_agents = s.user_agents.unwrap_or(p.user_agents);
        p.fingerprints = s.fingerprints.unwrap_or(p.fingerprints);
        p.source_ports = s.source_ports.unwrap_or(p.source_ports);
        let k_floor = p.k_anonymity;
        if let Some(k) = s.k_anonymity {
            p.k_anonymity = k.max(1);
        }
        if profile == Profile::Research {
            p.layout = std::sync::Arc::new(Layout::new(crate::schema::columns_for(p.selection())));
            return Ok(p);
        }
        let name = profile.as_str();
        if p.time_granularity_ms < floor {
            return Err(OutputError::Policy(format!(
                "the {name} profile keeps times to the hour: a time granularity of {} s would be finer (only --profile research may)",
                p.time_granularity_ms / 1000
            )));
        }
        // Whole hours that tile a day: a date partition then always holds
        // whole buckets, and a bucket's start says nothing finer.
        const DAY_MS: u64 = 86_400_000;
        if !p
            .time_granularity_ms
            .is_multiple_of(DEFAULT_TIME_GRANULARITY_MS)
            || !DAY_MS.is_multiple_of(p.time_granularity_ms)
        {
            return Err(OutputError::Policy(format!(
                "the {name} profile takes a time granularity of whole hours that divide a day (3600, 7200, 10800, 14400, 21600, 28800, 43200 or 86400 s), not {} s",
                p.time_granularity_ms / 1000
            )));
        }
        if p.k_anonymity < k_floor {
            return Err(OutputError::Policy(format!(
                "the {name} profile keeps no row or cell of fewer than {k_floor} flows: k = {} would be weaker (only --profile research may)",
                p.k_anonymity
            )));
        }
        let weaker = [
            (p.addresses.writes_addresses(), "addresses"),
            (p.server_names != ServerNames::Drop, "server names"),
            (p.fingerprints, "fingerprints"),
            (p.source_ports, "source ports"),
            (profile == Profile::Strict && p.user_agents, "user-agents"),
        ];
        if let Some((_, what)) = weaker.iter().find(|(w, _)| *w) {
            return Err(OutputError::Policy(format!(
                "the {name} profile writes no {what} ({what} asked for; only --profile research may)"
            )));
        }
        Ok(p)
    }

    /// Key/value metadata stored in every file written under this policy.
    pub fn file_metadata(&self, node: Option<&str>) -> Vec<(String, String)> {
        let mut m = vec![
            (
                "exitflow.version".into(),
                env!("CARGO_PKG_VERSION").to_owned(),
            ),
            (
                "exitflow.schema_version".into(),
                crate::dataset::SCHEMA_VERSION.to_owned(),
            ),
            (
                "exitflow.address_policy".into(),
                self.addresses.name().to_owned(),
            ),
            ("exitflow.policy".into(), self.describe()),
        ];
        if let AddressPolicy::Pseudonymize(c) = &self.addresses {
            m.push(("exitflow.key_id".into(), c.key_id.clone()));
        }
        if let Some(n) = node {
            m.push(("exitflow.node".into(), n.to_owned()));
        }
        m
    }

    /// The columns this policy writes, in order.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Whether rows are held and written by whole time buckets (every
    /// profile but research).
    pub fn holds_hours(&self) -> bool {
        self.time_granularity_ms > 1
    }

    /// How the node's totals are written: exact under research; under an
    /// hourly profile each write's increments noised and rounded
    /// ([`crate::totals`]), the file's time no finer than the profile's.
    pub fn totals_rule(&self) -> crate::TotalsRule {
        crate::TotalsRule {
            granularity_ms: self.time_granularity_ms,
            noisy: self.holds_hours(),
        }
    }

    /// A record as the row this policy stores: the policy applied, then
    /// only the layout's columns kept. The one way from a flow to a file.
    pub fn store(&mut self, mut r: Record) -> Row {
        // The exact duration, before the bucket replaces it: summed per
        // hour and slice by the dataset writer, never stored per flow.
        let exact = self.coarse.then(|| crate::row::ExactSums {
            flows: 1,
            duration_ms: r.flow.duration_ms(),
        });
        self.apply(&mut r);
        let layout = self.layout.clone();
        let cells = layout
            .cols()
            .iter()
            .map(|c| match c.col {
                Col::AppName => Cell::S(self.name(&r.application_name)),
                Col::AppCategory => Cell::S(self.name(&r.application_category_name)),
                Col::UserAgent | Col::ContentType => match r.value(c.col) {
                    Value::S(s) if self.profile != Profile::Research => Cell::S(self.name(s)),
                    _ => cell_of(&r, c.col),
                },
                _ => cell_of(&r, c.col),
            })
            .collect();
        let row = Row::new(cells);
        match exact {
            Some(e) => row.with_exact(e),
            None => row,
        }
    }

    /// A shared copy of a label (labels repeat from flow to flow).
    fn name(&mut self, s: &str) -> std::sync::Arc<str> {
        if let Some(a) = self.names.get(s) {
            return a.clone();
        }
        if self.names.len() >= UA_CACHE_CAP {
            self.names.clear();
        }
        let a: std::sync::Arc<str> = s.into();
        self.names.insert(s.to_owned(), a.clone());
        a
    }

    /// The optional column groups this policy writes (research's
    /// refinements).
    pub fn selection(&self) -> Selection {
        Selection {
            addresses: self.addresses.writes_addresses(),
            server_names: self.server_names != ServerNames::Drop,
            fingerprints: self.fingerprints,
            source_ports: self.source_ports,
            user_agents: self.user_agents,
            ids: self.ids,
        }
    }

    /// Applies the policy to a record: fields it does not keep are cleared
    /// (not only left out of the columns), names reduced, times rounded.
    fn apply(&mut self, r: &mut Record) {
        r.src_ip = self.addresses.apply(&r.flow.src, r.flow.ip_version);
        r.dst_ip = self.addresses.apply(&r.flow.dst, r.flow.ip_version);
        r.requested_server_name = match self.server_names {
            ServerNames::Drop => None,
            ServerNames::Keep => r.requested_server_name.take(),
            ServerNames::Domain => r
                .requested_server_name
                .take()
                .and_then(|n| registrable_domain(&n)),
        };
        if !self.user_agents {
            r.user_agent = None;
        } else if self.ua_families
            && let Some(u) = r.user_agent.take()
        {
            let f = match self.ua_cache.get(&u) {
                Some(f) => f.clone(),
                None => {
                    if self.ua_cache.len() >= UA_CACHE_CAP {
                        self.ua_cache.clear();
                    }
                    let f = crate::useragent::family(&u);
                    self.ua_cache.insert(u, f.clone());
                    f
                }
            };
            r.user_agent = Some(f);
        }
        if self.content_type_base {
            r.content_type = r
                .content_type
                .take()
                .map(|c| crate::useragent::content_type(&c));
        }
        if self.src_geo_relays_only && !r.src_public {
            r.src_country = WITHHELD.into();
            r.src_asn = 0;
            r.src_is_proxy = false;
        }
        r.coarse = self.coarse;
        if !self.fingerprints {
            r.client_fingerprint = None;
            r.server_fingerprint = None;
        }
        r.time_granularity_ms = self.time_granularity_ms.max(1);
    }

    /// A one-line description stored in every file's metadata.
    pub fn describe(&self) -> String {
        format!(
            "profile={} addresses={} server_names={} user_agents={} fingerprints={} source_ports={} time_granularity_ms={} ids={} coarse_counts={} ua_families={} content_type_base={} src_geo_relays_only={} aggregates_only={} k_anonymity={}",
            self.profile.as_str(),
            self.addresses.name(),
            self.server_names.as_str(),
            self.user_agents,
            self.fingerprints,
            self.source_ports,
            self.time_granularity_ms,
            self.ids,
            self.coarse,
            self.ua_families,
            self.content_type_base,
            self.src_geo_relays_only,
            self.aggregates_only,
            self.k_anonymity,
        )
    }
}

/// The stored cell of column `c` of a record the policy was applied to.
fn cell_of(r: &Record, c: Col) -> Cell {
    match c {
        Col::TorRole => Cell::Static(r.tor_role),
        Col::EndReason => Cell::Static(r.flow.end_reason.as_str()),
        Col::ConnState => Cell::Static(r.flow.conn_state().as_str()),
        Col::SrcCountry => Cell::S(r.src_country.clone()),
        Col::DstCountry => Cell::S(r.dst_country.clone()),
        Col::DstAsOrg => r.dst_as_org.clone().map_or(Cell::Null, Cell::S),
        _ => match r.value(c) {
            Value::U(v) => Cell::U(v),
            Value::B(b) => Cell::B(b),
            Value::S(s) => Cell::S(s.into()),
            Value::Null => Cell::Null,
        },
    }
}

/// The registrable domain (eTLD+1) of a name, by the public suffix list.
///
/// Only DNS names qualify: IP literals (`203.0.113.57`, `[2001:db8::1]`),
/// empty labels (`a..b`), characters outside letters, digits, `-` and `_`,
/// and numeric top-level labels give `None`, so that no address or part of
/// one is ever written as a "domain". A trailing `:port` is ignored.
pub fn registrable_domain(name: &str) -> Option<String> {
    /// Longest DNS name and label (RFC 1035).
    const MAX_NAME: usize = 253;
    const MAX_LABEL: usize = 63;
    let lower = name.trim_end_matches('.').to_ascii_lowercase();
    if lower.starts_with('[') || lower.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    let host = match lower.rsplit_once(':') {
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
        Some(_) => return None,
        None => &lower,
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= MAX_LABEL
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let numeric_tld = host
        .rsplit('.')
        .next()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    if host.len() > MAX_NAME || !host.split('.').all(label_ok) || numeric_tld {
        return None;
    }
    psl::domain_str(host).map(str::to_owned)
}

#[cfg(test)]
mod tests {

    /// A profile is never weakened by a setting: default and strict refuse
    /// every personal field and name it; research takes them.
    #[test]
    fn profiles_refuse_every_personal_field_and_name_it() {
        for (s, what) in [
            (
                PolicySettings {
                    addresses: Some(AddressMode::Keep),
                    ..Default::default()
                },
                "addresses",
            ),
            (
                PolicySettings {
                    server_names: Some(ServerNames::Domain),
                    ..Default::default()
                },
                "server names",
            ),
            (
                PolicySettings {
                    fingerprints: Some(true),
                    ..Default::default()
                },
                "fingerprints",
            ),
            (
                PolicySettings {
                    source_ports: Some(true),
                    ..Default::default()
                },
                "source ports",
            ),
        ] {
            for profile in [None, Some(Profile::Default), Some(Profile::Strict)] {
                let e = Policy::from_settings(&PolicySettings {
                    profile,
                    ..s.clone()
                })
                .unwrap_err()
                .to_string();
                assert!(e.contains(&format!("({what} asked for")), "{e}");
            }
            let research = PolicySettings {
                profile: Some(Profile::Research),
                ..s
            };
            assert!(
                Policy::from_settings(&research).is_ok(),
                "research takes {what}"
            );
        }
        let ua = PolicySettings {
            profile: Some(Profile::Strict),
            user_agents: Some(true),
            ..Default::default()
        };
        assert!(
            Policy::from_settings(&ua)
                .unwrap_err()
                .to_string()
                .contains("user-agents")
        );
    }

    #[test]
    fn a_granularity_that_overflows_is_an_error_not_a_wrap() {
        let s = PolicySettings {
            time_granularity_s: Some(2_305_843_009_213_693_952),
            ..Default::default()
        };
        assert!(Policy::from_settings(&s).is_err());
        let s = PolicySettings {
            profile: Some(Profile::Research),
            time_granularity_s: Some(60),
            ..Default::default()
        };
        assert_eq!(
            Policy::from_settings(&s).unwrap().time_granularity_ms,
            60_000
        );
    }

    #[test]
    fn files_written_with_pseudonyms_record_the_key_id() {
        let p = Policy {
            addresses: AddressPolicy::Pseudonymize(Box::new(CryptoPan::new(
                &[7; 16].repeat(2).try_into().unwrap(),
            ))),
            ..Policy::default()
        };
        let m = p.file_metadata(Some("n"));
        let id = m.iter().find(|(k, _)| k == "exitflow.key_id").unwrap();
        assert_eq!(id.1.len(), 2 * crate::privacy::KEY_ID_BYTES);
        assert!(
            !Policy::default()
                .file_metadata(None)
                .iter()
                .any(|(k, _)| k == "exitflow.key_id")
        );
    }

    /// Review finding 1: `--profile strict --time-granularity 0` was
    /// accepted and wrote exact times under a strict label.
    #[test]
    fn strict_refuses_a_finer_time_granularity() {
        for g in [0, 1, 60, 3599] {
            let s = PolicySettings {
                profile: Some(Profile::Strict),
                time_granularity_s: Some(g),
                ..Default::default()
            };
            let e = Policy::from_settings(&s).unwrap_err().to_string();
            assert!(e.contains("finer"), "{g}: {e}");
        }
        let coarser = PolicySettings {
            profile: Some(Profile::Strict),
            time_granularity_s: Some(86_400),
            ..Default::default()
        };
        assert_eq!(
            Policy::from_settings(&coarser).unwrap().time_granularity_ms,
            86_400_000
        );
    }

    #[test]
    fn names_parse_and_print_back() {
        for n in ["default", "strict"] {
            assert_eq!(n.parse::<Profile>().unwrap().as_str(), n);
        }
        for n in ["drop", "domain", "keep"] {
            assert_eq!(n.parse::<ServerNames>().unwrap().as_str(), n);
        }
        assert!("Strict".parse::<Profile>().is_err());
        assert!("pseudonymise".parse::<AddressMode>().is_err());
    }

    use super::*;

    #[test]
    fn registrable_domains() {
        assert_eq!(
            registrable_domain("www.bbc.co.uk").as_deref(),
            Some("bbc.co.uk")
        );
        assert_eq!(
            registrable_domain("R4---sn-x.GoogleVideo.com.").as_deref(),
            Some("googlevideo.com")
        );
        assert_eq!(
            registrable_domain("a.b.example.github.io").as_deref(),
            Some("example.github.io")
        );
        assert_eq!(registrable_domain("co.uk"), None);
        assert_eq!(
            registrable_domain("www.example.com:8443").as_deref(),
            Some("example.com")
        );
    }

    /// Review finding 4: `--server-names domain` turned the Host
    /// `203.0.113.57` into `113.57` and `a..b` into `.b`.
    #[test]
    fn ip_literals_and_malformed_names_are_never_reduced_to_a_domain() {
        for bad in [
            "203.0.113.57",
            "203.0.113.57:80",
            "2001:db8::1",
            "[2001:db8::1]",
            "[2001:db8::1]:443",
            "::ffff:203.0.113.57",
            "a..b",
            ".b",
            "",
            "1.2.3.4.5",
            "exa mple.com",
            "example.com:",
            "ex<ample.com",
        ] {
            assert_eq!(registrable_domain(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn strict_clears_what_it_does_not_keep() {
        let mut p = Policy::strict();
        let sel = p.selection();
        assert!(!sel.user_agents && !sel.server_names && !sel.addresses && !sel.fingerprints);
        assert_eq!(p.time_granularity_ms, STRICT_TIME_GRANULARITY_MS);
        assert!(p.describe().starts_with("profile=strict addresses=drop"));
        let _ = &mut p;
    }
}
