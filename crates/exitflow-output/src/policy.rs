//! The anonymisation policy: what of a flow reaches disk, decided in one
//! place and applied to every record before it is written.
use std::path::PathBuf;
use std::str::FromStr;

use crate::OutputError;
use crate::privacy::{AddressPolicy, CryptoPan};
use crate::schema::{Record, Selection};

/// One hour, the strict profile's time granularity.
pub const STRICT_TIME_GRANULARITY_MS: u64 = 3_600_000;

/// Named settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// The study's field set plus counters and the Tor role.
    Default,
    /// No user-agents, server names, fingerprints, addresses or source ports;
    /// times rounded to the hour.
    Strict,
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "default" => Ok(Profile::Default),
            "strict" => Ok(Profile::Strict),
            _ => Err(format!("{s:?}: expected default or strict")),
        }
    }
}

impl Profile {
    /// The profile's name, as written in files and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
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
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            profile: Profile::Default,
            addresses: AddressPolicy::Drop,
            server_names: ServerNames::Drop,
            user_agents: true,
            fingerprints: false,
            source_ports: false,
            time_granularity_ms: 1,
        }
    }
}

impl Policy {
    /// The strict profile.
    pub fn strict() -> Policy {
        Policy {
            profile: Profile::Strict,
            user_agents: false,
            time_granularity_ms: STRICT_TIME_GRANULARITY_MS,
            ..Policy::default()
        }
    }

    /// The policy `s` describes: the profile's values, refined. Refinements
    /// the strict profile forbids are errors naming the setting, and so is
    /// a granularity whose milliseconds overflow.
    pub fn from_settings(s: &PolicySettings) -> Result<Policy, OutputError> {
        let profile = s.profile.unwrap_or(Profile::Default);
        let mut p = match profile {
            Profile::Default => Policy::default(),
            Profile::Strict => Policy::strict(),
        };
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
        if profile == Profile::Strict {
            let weaker = [
                (p.addresses.writes_addresses(), "addresses"),
                (p.server_names != ServerNames::Drop, "server names"),
                (p.fingerprints, "fingerprints"),
                (p.user_agents, "user-agents"),
            ];
            if let Some((_, what)) = weaker.iter().find(|(w, _)| *w) {
                return Err(OutputError::Policy(format!(
                    "the strict profile writes no addresses, server names, fingerprints or user-agents ({what} asked for)"
                )));
            }
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
        if let Some(n) = node {
            m.push(("exitflow.node".into(), n.to_owned()));
        }
        m
    }

    /// The columns this policy writes.
    pub fn selection(&self) -> Selection {
        Selection {
            addresses: self.addresses.writes_addresses(),
            server_names: self.server_names != ServerNames::Drop,
            fingerprints: self.fingerprints,
            source_ports: self.source_ports,
            user_agents: self.user_agents,
        }
    }

    /// Applies the policy to a record: fields it does not keep are cleared
    /// (not only left out of the columns), names reduced, times rounded.
    pub fn apply(&mut self, r: &mut Record) {
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
        }
        if !self.fingerprints {
            r.client_fingerprint = None;
            r.server_fingerprint = None;
        }
        r.time_granularity_ms = self.time_granularity_ms.max(1);
    }

    /// A one-line description stored in every file's metadata.
    pub fn describe(&self) -> String {
        format!(
            "profile={} addresses={} server_names={} user_agents={} fingerprints={} source_ports={} time_granularity_ms={}",
            self.profile.as_str(),
            self.addresses.name(),
            self.server_names.as_str(),
            self.user_agents,
            self.fingerprints,
            self.source_ports,
            self.time_granularity_ms
        )
    }
}

/// The registrable domain (eTLD+1) of a name, by the public suffix list.
pub fn registrable_domain(name: &str) -> Option<String> {
    let lower = name.trim_end_matches('.').to_ascii_lowercase();
    psl::domain_str(&lower).map(str::to_owned)
}

#[cfg(test)]
mod tests {

    #[test]
    fn strict_refuses_every_personal_field_and_names_it() {
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
                    user_agents: Some(true),
                    ..Default::default()
                },
                "user-agents",
            ),
        ] {
            assert!(Policy::from_settings(&s).is_ok(), "default allows {what}");
            let strict = PolicySettings {
                profile: Some(Profile::Strict),
                ..s
            };
            let e = Policy::from_settings(&strict).unwrap_err().to_string();
            assert!(e.contains(&format!("({what} asked for)")), "{e}");
        }
    }

    #[test]
    fn a_granularity_that_overflows_is_an_error_not_a_wrap() {
        let s = PolicySettings {
            time_granularity_s: Some(2_305_843_009_213_693_952),
            ..Default::default()
        };
        assert!(Policy::from_settings(&s).is_err());
        let s = PolicySettings {
            time_granularity_s: Some(60),
            ..Default::default()
        };
        assert_eq!(
            Policy::from_settings(&s).unwrap().time_granularity_ms,
            60_000
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
