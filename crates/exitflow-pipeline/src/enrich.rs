//! [`Enricher`]: GeoIP and the Tor role of each finished flow, from the
//! flow's raw addresses (which never reach the record themselves).
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::SystemTime;

use exitflow_enrich::role::End;
use exitflow_enrich::{Consensus, EnrichError, GeoSet, RoleConfig};
use exitflow_output::privacy::to_ip;
use exitflow_output::{ExitPolicyNote, Record};

use crate::PipelineError;

/// Where enrichment comes from, resolved from flags and the configuration
/// file. What is not given here is taken from the torrc, when one is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnrichSettings {
    /// MaxMind DB files (country, ASN, anonymous IP).
    pub geoip: Vec<PathBuf>,
    /// The relay's consensus file.
    pub consensus: Option<PathBuf>,
    /// tor's data directory (the consensus is looked for there).
    pub tor_data_dir: Option<PathBuf>,
    /// The relay's torrc.
    pub torrc: Option<PathBuf>,
    /// The relay's own addresses.
    pub own_addresses: Vec<IpAddr>,
    /// Addresses reserved for exit traffic (tor's `OutboundBindAddressExit`).
    pub exit_addresses: Vec<IpAddr>,
    /// tor's `fingerprint` file: the relay's own consensus entry gives its
    /// addresses. Looked for beside the consensus when not given.
    pub fingerprint: Option<PathBuf>,
    /// tor's own exit policy (`exitflow relay exit-policy`): preferred to
    /// the torrc's. Looked for beside the consensus when not given.
    pub exit_policy_file: Option<PathBuf>,
    /// ORPort.
    pub or_port: Option<u16>,
    /// DirPort.
    pub dir_port: Option<u16>,
    /// Administration hosts, with an optional port.
    pub admin: Vec<(IpAddr, Option<u16>)>,
    /// A consensus file that does not exist yet is waited for (loaded when
    /// it appears) instead of an error: a live capture may start before tor
    /// has written its first consensus.
    pub wait_for_consensus: bool,
}

/// Per-flow enrichment: GeoIP and the Tor role. Clone it per worker thread:
/// the databases are shared, the caches are not.
#[derive(Clone)]
pub struct Enricher {
    /// Country/ASN/proxy databases (may be empty).
    pub geo: GeoSet,
    /// The relay's consensus, if given.
    pub consensus: Option<Consensus>,
    /// The relay's own configuration.
    pub roles: RoleConfig,
    /// Where the consensus came from and when it was written, for reloads.
    pub consensus_source: Option<(PathBuf, Option<SystemTime>)>,
    /// Consensus reloads done.
    pub consensus_reloads: u64,
    /// The relay's exit policy: from the torrc, or from its own entry in a
    /// full-flavour consensus.
    pub exit_policy: Option<ExitPolicyNote>,
    /// Own addresses from the settings and the torrc (the consensus entry's
    /// are added to them at each load).
    configured_own: Vec<IpAddr>,
    /// The relay's fingerprint, from tor's `fingerprint` file.
    fingerprint: Option<String>,
    /// Where that file is (or will be: tor writes it once it is a relay).
    fingerprint_path: Option<PathBuf>,
    /// [`exitflow_output::SELF_SOURCE`], shared by every flow from the relay.
    self_source: std::sync::Arc<str>,
}

/// `a` and `b`, sorted, without repeats.
fn union(a: &[IpAddr], b: &[IpAddr]) -> Vec<IpAddr> {
    let mut v: Vec<IpAddr> = a.iter().chain(b).copied().collect();
    v.sort();
    v.dedup();
    v
}

impl Default for Enricher {
    fn default() -> Enricher {
        Enricher {
            geo: GeoSet::default(),
            consensus: None,
            roles: RoleConfig::default(),
            consensus_source: None,
            consensus_reloads: 0,
            exit_policy: None,
            configured_own: Vec::new(),
            fingerprint: None,
            fingerprint_path: None,
            self_source: exitflow_output::SELF_SOURCE.into(),
        }
    }
}

impl Enricher {
    /// Opens the databases and the consensus `s` names. Settings absent
    /// from `s` come from the torrc: own addresses, ports, and the
    /// consensus in its `DataDirectory`.
    pub fn open(s: &EnrichSettings) -> Result<Enricher, PipelineError> {
        let geo = GeoSet::open(&s.geoip)?;
        let torrc = match &s.torrc {
            Some(p) => exitflow_enrich::torrc::load(p)?,
            None => Default::default(),
        };
        let exit = union(&s.exit_addresses, &torrc.exit_addresses);
        let configured_own = union(&union(&s.own_addresses, &torrc.addresses), &exit);
        let data_dir = s.tor_data_dir.clone().or(torrc.data_directory.clone());
        let found = data_dir
            .as_deref()
            .and_then(exitflow_enrich::torrc::find_consensus);
        let path = s.consensus.clone().or(found);
        let consensus = match &path {
            Some(p) if s.wait_for_consensus && !p.exists() => {
                tracing::warn!(
                    consensus = %p.display(),
                    "no consensus yet: relays are recognised once it appears"
                );
                None
            }
            Some(p) => {
                let c = Consensus::load(p)?;
                tracing::info!(relays = c.relays, valid_after = %c.valid_after, "consensus loaded");
                Some(c)
            }
            None => None,
        };
        // The file's time when loaded (none yet: any file that appears is new).
        let consensus_source = path.map(|p| {
            let t = consensus
                .as_ref()
                .and_then(|_| std::fs::metadata(&p).and_then(|m| m.modified()).ok());
            (p, t)
        });
        // The relay's own entry in the consensus: tor's fingerprint file,
        // given or beside the consensus (exitflow-consensus.service copies
        // both).
        // tor's files the consensus unit copies beside the consensus.
        let beside = |name: &str| Some(consensus_source.as_ref()?.0.parent()?.join(name));
        let fingerprint_path = s.fingerprint.clone().or_else(|| beside("fingerprint"));
        let fingerprint = match &fingerprint_path {
            Some(p) if p.is_file() || s.fingerprint.is_some() => {
                Some(exitflow_enrich::tor::read_fingerprint_file(p)?)
            }
            _ => None,
        };
        let own = Self::own_from(&configured_own, fingerprint.as_deref(), consensus.as_ref());
        let or_port = s.or_port.or(torrc.or_port);
        let policy_path = s
            .exit_policy_file
            .clone()
            .or_else(|| beside("exit-policy").filter(|p| p.is_file()));
        let exit_policy = if let Some(p) = policy_path {
            let (policy, version) = exitflow_enrich::torcontrol::load_policy_file(&p)?;
            Some(ExitPolicyNote {
                summary: policy.to_string(),
                source: format!("tor {version}"),
            })
        } else if s.torrc.is_some() {
            Some(ExitPolicyNote {
                summary: torrc.exit_policy().to_string(),
                source: "torrc".into(),
            })
        } else {
            consensus.as_ref().zip(or_port).and_then(|(c, port)| {
                own.iter().find_map(|ip| {
                    c.exit_policy(*ip, port).map(|p| ExitPolicyNote {
                        summary: p.to_string(),
                        source: "consensus".into(),
                    })
                })
            })
        };
        Ok(Enricher {
            self_source: exitflow_output::SELF_SOURCE.into(),
            exit_policy,
            geo,
            consensus,
            consensus_source,
            consensus_reloads: 0,
            configured_own,
            fingerprint,
            fingerprint_path,
            roles: RoleConfig {
                own,
                exit,
                or_port,
                dir_port: s.dir_port.or(torrc.dir_port),
                admin: s.admin.clone(),
            },
        })
    }

    /// The configured own addresses and those of the relay's own entry in
    /// `consensus`.
    fn own_from(
        configured: &[IpAddr],
        fingerprint: Option<&str>,
        consensus: Option<&Consensus>,
    ) -> Vec<IpAddr> {
        match (fingerprint, consensus) {
            (Some(fp), Some(c)) => union(configured, c.addresses_of(fp)),
            _ => configured.to_vec(),
        }
    }

    /// Reloads GeoIP databases and the consensus whose files changed (tor
    /// writes a new consensus every hour; GeoIP updates come weekly). A file
    /// that fails to load keeps the previous copy in use; the errors are
    /// returned for the log.
    pub fn reload_changed(&mut self) -> Vec<EnrichError> {
        let mut errors = self.geo.reload_changed();
        if let Some((path, seen)) = &mut self.consensus_source {
            let now = std::fs::metadata(&*path).and_then(|m| m.modified()).ok();
            if now.is_some() && now != *seen {
                *seen = now;
                match Consensus::load(path) {
                    Ok(c) => {
                        // tor writes its fingerprint once it is a relay.
                        if self.fingerprint.is_none()
                            && let Some(p) = self.fingerprint_path.as_ref().filter(|p| p.is_file())
                        {
                            match exitflow_enrich::tor::read_fingerprint_file(p) {
                                Ok(fp) => self.fingerprint = Some(fp),
                                Err(e) => errors.push(e),
                            }
                        }
                        // The relay's address may have changed; a consensus
                        // without the relay (a lost flag, a late vote) keeps
                        // the addresses last known.
                        match self.fingerprint.as_deref() {
                            Some(fp) if c.addresses_of(fp).is_empty() => tracing::warn!(
                                "the relay is not in the new consensus: its addresses stay as last known"
                            ),
                            fp => {
                                self.roles.own = Self::own_from(&self.configured_own, fp, Some(&c));
                            }
                        }
                        self.consensus = Some(c);
                        self.consensus_reloads += 1;
                    }
                    Err(e) => errors.push(e),
                }
            }
        }
        errors
    }

    /// Fills the enrichment columns of `r` from the flow's raw addresses.
    pub fn enrich(&mut self, r: &mut Record) {
        let f = &r.flow;
        let (src, dst) = (to_ip(&f.src, f.ip_version), to_ip(&f.dst, f.ip_version));
        let (sp, dp) = (f.src_port, f.dst_port);
        let s = self.geo.lookup(src);
        let own_source = self.roles.own.contains(&src);
        r.src_country = if own_source {
            self.self_source.clone()
        } else {
            s.country.clone()
        };
        r.src_is_proxy = s.is_proxy;
        r.src_asn = s.asn;
        let d = self.geo.lookup(dst);
        r.dst_country = d.country.clone();
        r.dst_is_proxy = d.is_proxy;
        r.dst_asn = d.asn;
        r.dst_as_org = d.as_org.clone();
        // The source's country may stay only where the source is public:
        // a relay of the consensus, or the relay itself.
        r.src_public = own_source || self.consensus.as_ref().is_some_and(|c| c.is_relay(src));
        r.tor_role = self
            .roles
            .classify(
                f.protocol,
                End { ip: src, port: sp },
                End { ip: dst, port: dp },
                self.consensus.as_ref(),
            )
            .as_str();
    }
}
