//! The configuration file (TOML): everything a relay operator sets, with the
//! documented defaults of `exitflow config`. Command-line flags override it.
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use exitflow_output::{AddressMode, Profile, ServerNames};
use serde::Deserialize;

/// The whole file. Every field is optional: what is absent takes the flag's
/// value, or the built-in default.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[node]`.
    #[serde(default)]
    pub node: NodeSection,
    /// `[paths]`.
    #[serde(default)]
    pub paths: PathsSection,
    /// `[capture]`.
    #[serde(default)]
    pub capture: CaptureSection,
    /// `[flow]`.
    #[serde(default)]
    pub flow: FlowSection,
    /// `[policy]`.
    #[serde(default)]
    pub policy: PolicySection,
    /// `[relay]`.
    #[serde(default)]
    pub relay: RelaySection,
}

/// `[node]`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    /// Node name (the dataset's `node=` partition).
    pub name: Option<String>,
}

/// `[paths]`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PathsSection {
    /// Dataset root.
    pub dataset: Option<PathBuf>,
    /// MaxMind DB files.
    #[serde(default)]
    pub geoip: Vec<PathBuf>,
    /// The relay's consensus file.
    pub consensus: Option<PathBuf>,
    /// The relay's torrc (ports, addresses, exit policy).
    pub torrc: Option<PathBuf>,
    /// tor's `fingerprint` file (default: beside the consensus).
    pub fingerprint: Option<PathBuf>,
    /// tor's own exit policy, from `exitflow relay exit-policy` (default:
    /// beside the consensus).
    pub exit_policy: Option<PathBuf>,
    /// Pseudonymisation key file.
    pub key_file: Option<PathBuf>,
}

/// `[capture]`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CaptureSection {
    /// Interfaces to capture on (live capture; one per process).
    #[serde(default)]
    pub interfaces: Vec<String>,
    /// Worker threads.
    pub workers: Option<usize>,
    /// Seconds within which finished flows reach a completed file.
    pub flush_interval: Option<u64>,
    /// Seconds between status lines.
    pub status_interval: Option<u64>,
    /// Ring size per worker, MiB.
    pub ring_mb: Option<u32>,
    /// Promiscuous mode.
    pub promiscuous: Option<bool>,
    /// Prometheus endpoint address, or "off".
    pub metrics: Option<String>,
    /// Allow a metrics address other than loopback.
    pub metrics_allow_remote: Option<bool>,
    /// Unprivileged user to run as once the sockets are open.
    pub user: Option<String>,
    /// Seconds between checks for changed GeoIP databases and consensus.
    pub reload_interval: Option<u64>,
    /// Most flows held while the dataset cannot be written.
    pub write_buffer: Option<usize>,
    /// tcpdump-style filter (builds with the `libpcap` feature).
    pub filter: Option<String>,
    /// Hosts or networks (ADDR or ADDR/BITS) not measured.
    #[serde(default)]
    pub exclude_nets: Vec<String>,
    /// TCP/UDP ports not measured.
    #[serde(default)]
    pub exclude_ports: Vec<u16>,
}

/// `[flow]`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FlowSection {
    /// Named timeouts (`nfstream`, `study-2021`); the keys below refine it.
    pub preset: Option<String>,
    /// Idle timeout, seconds.
    pub idle_timeout: Option<u64>,
    /// Active timeout, seconds.
    pub active_timeout: Option<u64>,
    /// Half-open timeout, seconds.
    pub half_open_timeout: Option<u64>,
    /// Flow cap.
    pub max_flows: Option<usize>,
    /// Packets inspected per flow.
    pub dissections: Option<u32>,
    /// Decapsulate UDP tunnels.
    pub decode_tunnels: Option<bool>,
}

/// `[policy]`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PolicySection {
    /// `default` or `strict`.
    pub profile: Option<Profile>,
    /// `drop`, `keep` or `pseudonymize`.
    pub addresses: Option<AddressMode>,
    /// `drop`, `domain` or `keep`.
    pub server_names: Option<ServerNames>,
    /// Seconds; 0 = exact.
    pub time_granularity: Option<u64>,
    /// k of the k-anonymity rule.
    pub k_anonymity: Option<usize>,
    /// Write user-agents.
    pub user_agents: Option<bool>,
    /// Write fingerprints.
    pub fingerprints: Option<bool>,
    /// Write source ports.
    pub source_ports: Option<bool>,
    /// Days of partitions kept (older ones are deleted); off when absent.
    pub retention_days: Option<u32>,
}

/// The configuration the Debian package installs; `exitflow status` reads
/// it when no `--config` is given.
pub const SYSTEM_CONFIG: &str = "/etc/exitflow/exitflow.toml";

/// `[relay]`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RelaySection {
    /// The relay's own addresses.
    #[serde(default)]
    pub own_addresses: Vec<IpAddr>,
    /// Addresses reserved for exit traffic (tor's `OutboundBindAddressExit`).
    #[serde(default)]
    pub exit_addresses: Vec<IpAddr>,
    /// ORPort.
    pub or_port: Option<u16>,
    /// DirPort.
    pub dir_port: Option<u16>,
    /// Administration hosts, `HOST` or `HOST:PORT`.
    #[serde(default)]
    pub admin: Vec<String>,
    /// tor's MetricsPort (IP:PORT): `exitflow status` shows its counts.
    pub tor_metrics: Option<String>,
}

impl Config {
    /// Reads a configuration file; errors name the file and the line.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading configuration {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("configuration {}", path.display()))
    }
}

/// The documented default configuration, printed by `exitflow config`.
pub fn default_text() -> String {
    use exitflow_dpi::DEFAULT_MAX_PACKETS;
    use exitflow_flow::{
        DEFAULT_ACTIVE_TIMEOUT_MS, DEFAULT_HALF_OPEN_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS,
        DEFAULT_MAX_FLOWS,
    };
    format!(
        r#"# exitflow configuration. Every setting is optional; flags override it.

[node]
# name = "relay-1"            # the dataset's node= partition (ingest, capture)

[paths]
# dataset = "/var/lib/exitflow/dataset"
# geoip = ["/var/lib/GeoIP/GeoLite2-Country.mmdb", "/var/lib/GeoIP/GeoLite2-ASN.mmdb"]
# consensus = "/var/lib/tor/cached-microdesc-consensus"
# torrc = "/etc/tor/torrc"      # ports, addresses and the exit policy are read from it
# fingerprint = "/var/lib/exitflow-consensus/fingerprint"   # tor's; default: beside the consensus
# exit_policy = "/var/lib/exitflow-consensus/exit-policy"   # tor's own (relay exit-policy); default: beside the consensus
# key_file = "/etc/exitflow/pseudonym.key"   # only for addresses = "pseudonymize"

[capture]
# interfaces = ["eth0"]         # one interface per process
# workers = 2                   # default: the number of cores
flush_interval = {flush}           # seconds between writes (research); default and strict write each hour once it is over
# status_interval = 3600        # seconds between status lines in the log; default and strict: the
                                # time granularity (an hour) or more, research: {status} by default
ring_mb = {ring}                   # receive ring per worker, MiB
promiscuous = false
metrics = "{metrics}"    # Prometheus text endpoint, or "off"
# metrics_allow_remote = false  # a non-loopback metrics address is refused unless true
reload_interval = {reload}        # seconds between checks for changed GeoIP databases and consensus
write_buffer = {wbuf}          # flows held while the dataset cannot be written (full disk); beyond, counted as lost
# user = "exitflow"             # run as this user once the sockets are open
# filter = "not port 22"        # tcpdump syntax; needs a build with --features libpcap
# exclude_nets = ["192.0.2.10", "198.51.100.0/24"]   # not measured (management, monitoring)
# exclude_ports = [22]

[flow]
# preset = "nfstream"           # or "study-2021": the 2021 study's timeouts (active 3600 s);
                                # the timeouts below refine it
idle_timeout = {idle}          # seconds without a packet before a flow ends
active_timeout = {active}        # seconds after which a long flow is cut
half_open_timeout = {half}       # seconds for a connection attempt without an answer
max_flows = {max}           # concurrent flows; beyond, the oldest is exported as evicted
dissections = {dis}            # packets of each flow inspected to name its application
decode_tunnels = true         # GTP-U, TZSP, CAPWAP

[policy]
profile = "default"           # nothing finer than an hour, counts as buckets, user-agent families;
                              # "strict": also no user-agents; "research": exact values (opt-in,
                              # under an ethics review; see docs/privacy.md)
# The settings below refine a profile; default and strict only accept less,
# research also more (shown with the default profile's values).
# addresses = "drop"            # or "keep", "pseudonymize" (needs paths.key_file)
# server_names = "drop"         # or "domain" (registrable domain), "keep"
# time_granularity = 3600       # seconds: whole hours dividing a day; research only: 0 = exact
# k_anonymity = 5               # rows shared by at least k in their node-hour (only more)
# user_agents = true
# fingerprints = false
# source_ports = false
# retention_days = 30          # delete date partitions older than this (off by default)

[relay]
# own_addresses = ["192.0.2.1", "2001:db8::1"]   # also read from the torrc and the relay's consensus entry
# exit_addresses = ["192.0.2.2", "2001:db8::2"]  # tor's OutboundBindAddressExit: only their TCP is exit
# or_port = 443
# dir_port = 80
# admin = ["198.51.100.7", "203.0.113.9:22"]
# tor_metrics = "127.0.0.1:9035"  # tor's MetricsPort: `exitflow status` shows its stream counts
"#,
        idle = DEFAULT_IDLE_TIMEOUT_MS / 1000,
        active = DEFAULT_ACTIVE_TIMEOUT_MS / 1000,
        half = DEFAULT_HALF_OPEN_TIMEOUT_MS / 1000,
        max = DEFAULT_MAX_FLOWS,
        dis = DEFAULT_MAX_PACKETS,
        flush = exitflow_service::DEFAULT_FLUSH_INTERVAL.as_secs(),
        status = exitflow_service::DEFAULT_STATUS_INTERVAL.as_secs(),
        ring = (exitflow_capture::live::DEFAULT_RING_BLOCKS
            * exitflow_capture::live::DEFAULT_RING_BLOCK_SIZE)
            >> 20,
        metrics = exitflow_service::metrics::DEFAULT_METRICS_ADDR,
        wbuf = exitflow_service::DEFAULT_MAX_PENDING_FLOWS,
        reload = exitflow_service::DEFAULT_RELOAD_INTERVAL.as_secs(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_text_parses_to_the_defaults() {
        let c: Config = toml::from_str(&default_text()).unwrap();
        assert_eq!(
            c.flow.idle_timeout,
            Some(exitflow_flow::DEFAULT_IDLE_TIMEOUT_MS / 1000)
        );
        assert_eq!(c.policy.profile, Some(Profile::Default));
        assert!(c.relay.own_addresses.is_empty());
    }

    #[test]
    fn a_misspelt_value_is_an_error_naming_the_line_and_the_key() {
        let e = toml::from_str::<Config>("[node]\n\n[policy]\nprofile = \"strikt\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 4") && e.contains("profile") && e.contains("strikt"),
            "{e}"
        );
    }

    #[test]
    fn unknown_keys_are_errors() {
        let e = toml::from_str::<Config>("[flow]\nidle_timeut = 3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("idle_timeut"), "{e}");
    }
}
