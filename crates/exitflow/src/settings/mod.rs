//! One merge of every setting: a flag, else the configuration file, else
//! the documented default. Each function returns the library's typed
//! settings, validated here, with errors naming the flag or key.
use std::path::PathBuf;
use std::str::FromStr as _;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use exitflow_decode::DecodeOptions;
use exitflow_dpi::{DEFAULT_MAX_PACKETS, DpiConfig};
use exitflow_flow::{DEFAULT_MAX_FLOWS, FlowConfig};
use exitflow_output::dataset::valid_node_name;
use exitflow_output::{DatasetConfig, Policy, PolicySettings};
use exitflow_pipeline::{EnrichSettings, Enricher, Exclusions, MeterOptions};

use crate::args::{EnrichArgs, MeterArgs, NodeArgs, PolicyArgs};
use crate::config::Config;

#[cfg(target_os = "linux")]
mod capture;

use crate::values::parse_admin;
#[cfg(target_os = "linux")]
pub use capture::service;

/// A flag, else the file's value, else the default.
pub fn pick<T>(flag: Option<T>, file: Option<T>, default: T) -> T {
    flag.or(file).unwrap_or(default)
}

/// A duration given in seconds as milliseconds, refusing overflow.
fn secs_to_ms(key: &str, flag: Option<u64>, file: Option<u64>, default_ms: u64) -> Result<u64> {
    match flag.or(file) {
        None => Ok(default_ms),
        Some(s) => s
            .checked_mul(1000)
            .with_context(|| format!("{key}: {s} seconds is out of range")),
    }
}

/// A period of at least one second.
pub fn period(
    key: &str,
    flag: Option<u64>,
    file: Option<u64>,
    default: Duration,
) -> Result<Duration> {
    match flag.or(file) {
        None => Ok(default),
        Some(0) => bail!("{key}: must be at least 1 second"),
        Some(s) => Ok(Duration::from_secs(s)),
    }
}

/// The pipeline: timeouts, flow cap, decoding, inspection, exclusions.
pub fn meter(a: &MeterArgs, cfg: &Config) -> Result<MeterOptions> {
    let f = &cfg.flow;
    let max_flows = pick(a.max_flows, f.max_flows, DEFAULT_MAX_FLOWS);
    if max_flows == 0 {
        bail!("max_flows: must be at least 1");
    }
    let mut nets = cfg.capture.exclude_nets.clone();
    nets.extend(a.exclude_net.iter().cloned());
    let mut ports = cfg.capture.exclude_ports.clone();
    ports.extend(&a.exclude_port);
    let file_preset = f
        .preset
        .as_deref()
        .map(exitflow_flow::FlowPreset::from_str)
        .transpose()
        .map_err(|e| anyhow::anyhow!("flow.preset: {e}"))?;
    let preset = a.flow_preset.or(file_preset).unwrap_or_default().config();
    Ok(MeterOptions {
        flow: FlowConfig {
            idle_timeout_ms: secs_to_ms(
                "idle_timeout",
                a.idle_timeout,
                f.idle_timeout,
                preset.idle_timeout_ms,
            )?,
            active_timeout_ms: secs_to_ms(
                "active_timeout",
                a.active_timeout,
                f.active_timeout,
                preset.active_timeout_ms,
            )?,
            half_open_timeout_ms: secs_to_ms(
                "half_open_timeout",
                a.half_open_timeout,
                f.half_open_timeout,
                preset.half_open_timeout_ms,
            )?,
            max_flows,
        },
        decode: DecodeOptions {
            decode_tunnels: !a.no_tunnels
                && f.decode_tunnels
                    .unwrap_or(exitflow_decode::DEFAULT_DECODE_TUNNELS),
        },
        dpi: DpiConfig {
            max_packets: pick(a.dissections, f.dissections, DEFAULT_MAX_PACKETS),
            ..DpiConfig::default()
        },
        exclusions: Exclusions::new(&nets, &ports)?,
    })
}

/// The privacy policy: the profile, refined; the output library refuses
/// refinements the profile forbids.
pub fn policy(a: &PolicyArgs, cfg: &Config) -> Result<Policy> {
    let c = &cfg.policy;
    let s = PolicySettings {
        profile: a.profile.or(c.profile),
        addresses: a.addresses.or(c.addresses),
        key_file: a.key_file.clone().or_else(|| cfg.paths.key_file.clone()),
        server_names: a.server_names.or(c.server_names),
        time_granularity_s: a.time_granularity.or(c.time_granularity),
        k_anonymity: a.k_anonymity.or(c.k_anonymity),
        user_agents: if a.no_user_agents {
            Some(false)
        } else {
            c.user_agents
        },
        fingerprints: if a.fingerprints {
            Some(true)
        } else {
            c.fingerprints
        },
        source_ports: if a.source_ports {
            Some(true)
        } else {
            c.source_ports
        },
    };
    let p = Policy::from_settings(&s)?;
    if p.profile == exitflow_output::Profile::Research {
        tracing::warn!(
            "RESEARCH PROFILE: exact times, counts, flow ids and verbatim user-agents are written \
             (and addresses, server names, fingerprints or source ports if asked for). Use it only \
             under an ethics review, keep the dataset private, and never publish it; every file \
             records profile=research"
        );
    }
    Ok(p)
}

/// Where enrichment comes from. Administration hosts add up (flags and file).
pub fn enrich(a: &EnrichArgs, cfg: &Config) -> Result<EnrichSettings> {
    let r = &cfg.relay;
    let mut admin = a.admin.clone();
    for h in &r.admin {
        admin.push(parse_admin(h).map_err(|e| anyhow::anyhow!("relay.admin: {e}"))?);
    }
    Ok(EnrichSettings {
        geoip: if a.geoip.is_empty() {
            cfg.paths.geoip.clone()
        } else {
            a.geoip.clone()
        },
        consensus: a.consensus.clone().or_else(|| cfg.paths.consensus.clone()),
        tor_data_dir: a.tor_data_dir.clone(),
        torrc: a.torrc.clone().or_else(|| cfg.paths.torrc.clone()),
        own_addresses: if a.own_address.is_empty() {
            r.own_addresses.clone()
        } else {
            a.own_address.clone()
        },
        exit_addresses: if a.exit_address.is_empty() {
            r.exit_addresses.clone()
        } else {
            a.exit_address.clone()
        },
        fingerprint: cfg.paths.fingerprint.clone(),
        exit_policy_file: cfg.paths.exit_policy.clone(),
        or_port: a.or_port.or(r.or_port),
        dir_port: a.dir_port.or(r.dir_port),
        admin,
        wait_for_consensus: false,
    })
}

/// Why no flow can be `exit` when the relay's own addresses are unknown
/// (issue 20, finding 2: every exit flow silently became `other`).
pub const NO_OWN_ADDRESS: &str = "no address of the relay is known, so no flow can be told to be exit traffic: \
     set relay.own_addresses or --own-address (relay.exit_addresses for tor's OutboundBindAddressExit), \
     paths.torrc with Address or OutboundBindAddressExit lines, \
     or paths.consensus with tor's fingerprint file beside it (the relay's own consensus entry)";

/// The enricher the flags and file describe, opened.
pub fn enricher(a: &EnrichArgs, cfg: &Config) -> Result<Enricher> {
    Ok(Enricher::open(&enrich(a, cfg)?)?)
}

/// A node's dataset: the root and the node name, validated.
#[derive(Clone, Debug)]
pub struct NodeTarget {
    /// Dataset root.
    pub root: PathBuf,
    /// Node name.
    pub node: String,
}

/// Days of partitions kept, if a retention is set.
pub fn retention(a: &PolicyArgs, cfg: &Config) -> Result<Option<u32>> {
    match a.retention_days.or(cfg.policy.retention_days) {
        Some(0) => bail!("retention_days: must be at least 1 (absent: keep everything)"),
        r => Ok(r),
    }
}

impl NodeTarget {
    /// Where the dataset is; what and when it is written comes from the
    /// policy the writer is opened with.
    pub fn dataset(&self) -> DatasetConfig {
        DatasetConfig::new(&self.root, &self.node)
    }

    /// As [`NodeTarget::dataset`], with how the files were made in their
    /// metadata: the relay's exit policy (public: it is in the consensus),
    /// the GeoIP databases and the flow timeouts (the report states them).
    pub fn dataset_for(&self, enricher: &Enricher, meter: &MeterOptions) -> DatasetConfig {
        let mut d = self.dataset();
        if let Some(p) = &enricher.exit_policy {
            d.metadata
                .push(("exitflow.exit_policy".into(), p.summary.clone()));
        }
        let geo: Vec<String> = enricher
            .geo
            .describe()
            .into_iter()
            .map(|(kind, built)| {
                let date = exitflow_output::dataset::utc_date(built.saturating_mul(1000));
                format!("{kind} built {date}")
            })
            .collect();
        if !geo.is_empty() {
            d.metadata.push(("exitflow.geoip".into(), geo.join("; ")));
        }
        let f = &meter.flow;
        // A flow is exported when it ends: up to the active timeout, then
        // the idle timeout, after it began.
        d.hold_ms = f.active_timeout_ms.saturating_add(f.idle_timeout_ms);
        d.metadata.push((
            "exitflow.timeouts".into(),
            format!(
                "idle {} s, active {} s, unanswered attempts {} s",
                f.idle_timeout_ms / 1000,
                f.active_timeout_ms / 1000,
                f.half_open_timeout_ms / 1000
            ),
        ));
        d
    }
}

/// The dataset and node the flags and file name.
pub fn node(a: &NodeArgs, cfg: &Config) -> Result<NodeTarget> {
    let node = a
        .node
        .clone()
        .or_else(|| cfg.node.name.clone())
        .context("no node name: give --node or node.name in the configuration")?;
    if !valid_node_name(&node) {
        bail!("node name {node:?}: use letters, digits, '-', '_' and '.'");
    }
    let root = a
        .dataset
        .clone()
        .or_else(|| cfg.paths.dataset.clone())
        .context("no dataset: give --dataset or paths.dataset in the configuration")?;
    Ok(NodeTarget { root, node })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::{date_ms, parse_tz};
    use exitflow_flow::DEFAULT_IDLE_TIMEOUT_MS;

    #[test]
    fn a_flag_beats_the_file_which_beats_the_default() {
        let mut cfg = Config::default();
        let mut a = MeterArgs::default();
        assert_eq!(
            meter(&a, &cfg).unwrap().flow.idle_timeout_ms,
            DEFAULT_IDLE_TIMEOUT_MS
        );
        cfg.flow.idle_timeout = Some(30);
        assert_eq!(meter(&a, &cfg).unwrap().flow.idle_timeout_ms, 30_000);
        a.idle_timeout = Some(5);
        assert_eq!(meter(&a, &cfg).unwrap().flow.idle_timeout_ms, 5_000);
    }

    #[test]
    fn timeouts_that_overflow_are_errors_naming_the_key() {
        let a = MeterArgs {
            active_timeout: Some(u64::MAX / 10),
            ..Default::default()
        };
        let e = meter(&a, &Config::default()).unwrap_err().to_string();
        assert!(e.contains("active_timeout"), "{e}");
    }

    #[test]
    fn the_study_2021_preset_sets_its_active_timeout_and_a_timeout_refines_it() {
        use exitflow_flow::{DEFAULT_ACTIVE_TIMEOUT_MS, FlowPreset, STUDY_2021_ACTIVE_TIMEOUT_MS};
        let mut cfg = Config::default();
        let mut a = MeterArgs::default();
        assert_eq!(
            meter(&a, &cfg).unwrap().flow.active_timeout_ms,
            DEFAULT_ACTIVE_TIMEOUT_MS
        );
        // The relay kit's exitflow.toml names the preset; it loads.
        let kit = exitflow_relay::KitSettings {
            flow_preset: Some(FlowPreset::Study2021.as_str().into()),
            addresses: vec!["192.0.2.7".parse().unwrap()],
            ..exitflow_relay::KitSettings::new("r1", "ops@example.org")
        };
        let files = exitflow_relay::render(&kit).unwrap();
        let toml_text = &files
            .iter()
            .find(|f| f.name == "exitflow.toml")
            .unwrap()
            .contents;
        cfg = toml::from_str(toml_text).unwrap();
        let m = meter(&a, &cfg).unwrap();
        assert_eq!(m.flow.active_timeout_ms, STUDY_2021_ACTIVE_TIMEOUT_MS);
        assert_eq!(m.flow.idle_timeout_ms, DEFAULT_IDLE_TIMEOUT_MS);
        // A timeout (file or flag) refines the preset; the flag's preset
        // beats the file's.
        cfg.flow.active_timeout = Some(900);
        assert_eq!(meter(&a, &cfg).unwrap().flow.active_timeout_ms, 900_000);
        cfg.flow.active_timeout = None;
        a.flow_preset = Some(FlowPreset::Nfstream);
        assert_eq!(
            meter(&a, &cfg).unwrap().flow.active_timeout_ms,
            DEFAULT_ACTIVE_TIMEOUT_MS
        );
        // A preset the file misspells is an error naming the key.
        a.flow_preset = None;
        cfg.flow.preset = Some("study2021".into());
        let e = meter(&a, &cfg).unwrap_err().to_string();
        assert!(e.contains("flow.preset") && e.contains("study-2021"), "{e}");
    }

    #[test]
    fn the_file_cannot_make_a_flag_asked_strict_profile_weaker() {
        let mut cfg = Config::default();
        cfg.policy.user_agents = Some(true);
        let a = PolicyArgs {
            profile: Some(exitflow_output::Profile::Strict),
            ..Default::default()
        };
        assert!(policy(&a, &cfg).is_err());
        cfg.policy.user_agents = None;
        assert!(!policy(&a, &cfg).unwrap().user_agents);
    }

    #[test]
    fn exclusions_from_the_file_and_flags_add_up() {
        let mut cfg = Config::default();
        cfg.capture.exclude_ports = vec![22];
        let a = MeterArgs {
            exclude_net: vec!["192.0.2.0/24".into()],
            ..Default::default()
        };
        assert!(!meter(&a, &cfg).unwrap().exclusions.is_empty());
        let bad = MeterArgs {
            exclude_net: vec!["192.0.2.0/99".into()],
            ..Default::default()
        };
        let e = meter(&bad, &cfg).unwrap_err().to_string();
        assert!(e.contains("192.0.2.0/99"), "{e}");
    }

    #[test]
    fn dates_and_time_zones_parse() {
        assert_eq!(date_ms("1970-01-02").unwrap(), 86_400_000);
        assert!(date_ms("2026-13-01").is_err());
        use exitflow_analyze::Zone;
        assert_eq!(
            parse_tz("a=+05:30").unwrap(),
            ("a".into(), Zone::Fixed(330))
        );
        assert_eq!(parse_tz("b=-8").unwrap(), ("b".into(), Zone::Fixed(-480)));
        assert!(parse_tz("c=5").is_err());
        let (n, z) = parse_tz("d=Europe/Berlin").unwrap();
        assert_eq!(n, "d");
        assert!(matches!(z, Zone::Named { .. }));
        assert!(parse_tz("e=Europe/Nowhere").unwrap_err().contains("IANA"));
        assert_eq!(parse_admin("[2001:db8::1]:22").unwrap().1, Some(22));
    }
}
