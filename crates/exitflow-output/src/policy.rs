//! The anonymisation policy: what of a flow reaches disk, decided in one
//! place and applied to every record before it is written.
use crate::privacy::AddressPolicy;
use crate::schema::{Record, Selection};

/// One hour, the strict profile's time granularity.
pub const STRICT_TIME_GRANULARITY_MS: u64 = 3_600_000;

/// Named settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// The study's field set plus counters and the Tor role.
    Default,
    /// No user-agents, server names, fingerprints, addresses or source ports;
    /// times rounded to the hour.
    Strict,
}

/// What happens to server names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerNames {
    /// Not written.
    Drop,
    /// Reduced to the registrable domain (eTLD+1, public suffix list).
    Domain,
    /// Written as seen.
    Keep,
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
            match self.profile {
                Profile::Default => "default",
                Profile::Strict => "strict",
            },
            self.addresses.name(),
            match self.server_names {
                ServerNames::Drop => "drop",
                ServerNames::Domain => "domain",
                ServerNames::Keep => "keep",
            },
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
