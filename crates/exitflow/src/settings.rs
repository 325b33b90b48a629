//! One merge of every setting: a flag, else the configuration file, else
//! the documented default. Each function returns the library's typed
//! settings, validated here, with errors naming the flag or key.
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use exitflow_decode::DecodeOptions;
use exitflow_dpi::{DEFAULT_MAX_PACKETS, DpiConfig};
use exitflow_flow::{
    DEFAULT_ACTIVE_TIMEOUT_MS, DEFAULT_HALF_OPEN_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS,
    DEFAULT_MAX_FLOWS, FlowConfig,
};
use exitflow_output::dataset::valid_node_name;
use exitflow_output::{DatasetConfig, Policy, PolicySettings};
use exitflow_pipeline::{EnrichSettings, Enricher, Exclusions, MeterOptions};

use crate::args::{EnrichArgs, MeterArgs, NodeArgs, PolicyArgs};
use crate::config::Config;

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
    Ok(MeterOptions {
        flow: FlowConfig {
            idle_timeout_ms: secs_to_ms(
                "idle_timeout",
                a.idle_timeout,
                f.idle_timeout,
                DEFAULT_IDLE_TIMEOUT_MS,
            )?,
            active_timeout_ms: secs_to_ms(
                "active_timeout",
                a.active_timeout,
                f.active_timeout,
                DEFAULT_ACTIVE_TIMEOUT_MS,
            )?,
            half_open_timeout_ms: secs_to_ms(
                "half_open_timeout",
                a.half_open_timeout,
                f.half_open_timeout,
                DEFAULT_HALF_OPEN_TIMEOUT_MS,
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
    Ok(Policy::from_settings(&s)?)
}

/// `HOST` or `HOST:PORT` (`[V6]:PORT`) of an administration host.
pub fn parse_admin(s: &str) -> Result<(IpAddr, Option<u16>), String> {
    if let Ok(ip) = s.parse() {
        return Ok((ip, None));
    }
    let sa: SocketAddr = s
        .parse()
        .map_err(|_| format!("{s:?}: expected HOST or HOST:PORT with an IP address"))?;
    Ok((sa.ip(), Some(sa.port())))
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
        torrc: a.torrc.clone(),
        own_addresses: if a.own_address.is_empty() {
            r.own_addresses.clone()
        } else {
            a.own_address.clone()
        },
        or_port: a.or_port.or(r.or_port),
        dir_port: a.dir_port.or(r.dir_port),
        admin,
    })
}

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

impl NodeTarget {
    /// The dataset configuration for files written under `policy`.
    pub fn dataset(&self, policy: &Policy) -> DatasetConfig {
        let mut d = DatasetConfig::new(&self.root, &self.node);
        d.selection = policy.selection();
        d.metadata = policy.file_metadata(Some(&self.node));
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

/// Milliseconds since the epoch of a UTC date `YYYY-MM-DD`.
pub fn date_ms(s: &str) -> Result<u64> {
    let bad = || anyhow::anyhow!("{s:?}: expected a date YYYY-MM-DD");
    let mut it = s.split('-');
    let (y, m, d): (i64, i64, i64) = (
        it.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?,
        it.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?,
        it.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?,
    );
    if it.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) || y < 1970 {
        return Err(bad());
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Ok(((era * 146_097 + doe - 719_468) as u64) * 86_400_000)
}

/// `NODE=+HH:MM`: a node's UTC offset in minutes.
pub fn parse_tz(s: &str) -> Result<(String, i32), String> {
    let bad = || format!("{s:?}: expected NODE=+HH:MM or NODE=-HH:MM");
    let (node, off) = s.split_once('=').ok_or_else(bad)?;
    let (sign, rest) = match off.as_bytes().first() {
        Some(b'+') => (1, &off[1..]),
        Some(b'-') => (-1, &off[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 14 || m > 59 {
        return Err(bad());
    }
    Ok((node.to_owned(), sign * (h * 60 + m)))
}

#[cfg(target_os = "linux")]
pub use capture::service;

#[cfg(target_os = "linux")]
mod capture {
    use super::*;
    use crate::args::CaptureArgs;
    use exitflow_capture::live::{DEFAULT_RING_BLOCK_SIZE, DEFAULT_RING_BLOCKS, RingConfig};
    use exitflow_service::{MAX_WORKERS, ServiceConfig, WriterConfig};

    /// The live service's settings.
    pub fn service(a: &CaptureArgs, cfg: &Config) -> Result<ServiceConfig> {
        let c = &cfg.capture;
        let interface = match (&a.interface, c.interfaces.as_slice()) {
            (Some(i), _) => i.clone(),
            (None, [one]) => one.clone(),
            (None, []) => bail!("no interface: give --interface or capture.interfaces"),
            (None, _) => bail!(
                "capture.interfaces lists several interfaces; one process captures one (run one per interface)"
            ),
        };
        let target = node(&a.node, cfg)?;
        let workers = match a.workers.or(c.workers) {
            Some(n) if (1..=MAX_WORKERS).contains(&n) => n,
            Some(n) => bail!("workers: {n}: expected 1 to {MAX_WORKERS}"),
            None => std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(MAX_WORKERS),
        };
        let ring_mb = pick(
            a.ring_mb,
            c.ring_mb,
            (DEFAULT_RING_BLOCKS * DEFAULT_RING_BLOCK_SIZE) >> 20,
        );
        let ring = RingConfig {
            blocks: ((u64::from(ring_mb) << 20) / u64::from(DEFAULT_RING_BLOCK_SIZE))
                .clamp(2, u64::from(u32::MAX)) as u32,
            promiscuous: a.promiscuous || c.promiscuous.unwrap_or(false),
            ..RingConfig::default()
        };
        let metrics = pick(
            a.metrics.clone(),
            c.metrics.clone(),
            exitflow_service::metrics::DEFAULT_METRICS_ADDR.to_owned(),
        );
        let metrics_addr = match metrics.as_str() {
            "off" => None,
            m => Some(
                m.parse::<SocketAddr>()
                    .map_err(|_| anyhow::anyhow!("metrics: {m:?}: expected IP:PORT or off"))?,
            ),
        };
        let filter = match a.filter.as_deref().or(c.filter.as_deref()) {
            Some(e) => Some(exitflow_service::supervisor::compile_filter(e, &interface)?),
            None => None,
        };
        let policy = policy(&a.pipeline.policy, cfg)?;
        let write_buffer = pick(
            a.write_buffer,
            c.write_buffer,
            exitflow_service::DEFAULT_MAX_PENDING_FLOWS,
        );
        if write_buffer == 0 {
            bail!("write_buffer: must be at least 1");
        }
        Ok(ServiceConfig {
            interface,
            dataset: target.dataset(&policy),
            workers,
            ring,
            filter,
            metrics_addr,
            user: a.user.clone().or_else(|| c.user.clone()),
            writer: WriterConfig {
                flush_interval: period(
                    "flush_interval",
                    a.flush_interval,
                    c.flush_interval,
                    exitflow_service::DEFAULT_FLUSH_INTERVAL,
                )?,
                max_pending: write_buffer,
                ..WriterConfig::default()
            },
            status_interval: period(
                "status_interval",
                a.status_interval,
                c.status_interval,
                exitflow_service::DEFAULT_STATUS_INTERVAL,
            )?,
            reload_interval: period(
                "reload_interval",
                a.reload_interval,
                c.reload_interval,
                exitflow_service::DEFAULT_RELOAD_INTERVAL,
            )?,
            duration: a.duration.map(Duration::from_secs),
            meter: meter(&a.pipeline.meter, cfg)?,
            policy,
            enricher: enricher(&a.pipeline.enrich, cfg)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(parse_tz("a=+05:30").unwrap(), ("a".into(), 330));
        assert_eq!(parse_tz("b=-8").unwrap(), ("b".into(), -480));
        assert!(parse_tz("c=5").is_err());
        assert_eq!(parse_admin("[2001:db8::1]:22").unwrap().1, Some(22));
    }
}
