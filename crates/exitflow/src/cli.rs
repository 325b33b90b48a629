//! Command-line interface.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use exitflow_decode::DecodeOptions;
use exitflow_dpi::{DEFAULT_MAX_PACKETS, DpiConfig};
use exitflow_flow::{
    DEFAULT_ACTIVE_TIMEOUT_MS, DEFAULT_HALF_OPEN_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS,
    DEFAULT_MAX_FLOWS, FlowConfig,
};
use exitflow_output::dataset::{DatasetConfig, DatasetWriter, SCHEMA_VERSION};
use exitflow_output::{
    AddressPolicy, CryptoPan, FlowWriter, Format, NodeTotals, Policy, ServerNames,
};
use exitflow_synth::SynthConfig;

use crate::config::Config;
use crate::pipeline::{
    Enricher, MeterError, MeterOptions, meter_capture, peak_rss_bytes, to_record,
};

/// Measure what leaves a Tor exit relay — flows, applications, countries —
/// without writing personal data to disk.
#[derive(Parser, Debug)]
#[command(name = "exitflow", version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    /// Log level filter (error, warn, info, debug) or a tracing directive.
    #[arg(long, global = true, default_value = "info")]
    log: String,
    /// Configuration file (TOML; `exitflow config` prints one with the defaults).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Meter captures into one flow table per capture (`<capture name>.<ext>`).
    Flows(FlowsArgs),
    /// Meter captures into the node's Parquet dataset.
    Ingest(IngestArgs),
    /// Capture live on an interface into the node's dataset (Linux, root or CAP_NET_RAW).
    #[cfg(target_os = "linux")]
    Capture(Box<crate::capture::CaptureArgs>),
    /// Write a deterministic synthetic exit-relay capture.
    Synth(SynthArgs),
    /// Synthesise a capture, ingest it, print the node totals.
    Demo(DemoArgs),
    /// Measure packets/s of reading, decoding and metering a capture.
    Bench(crate::bench::BenchArgs),
    /// Print the dataset schema as a Markdown table.
    Schema,
    /// Print a configuration file with every default, documented.
    Config,
    /// The study report (HTML, Markdown, JSON) from one or more datasets.
    Report(ReportArgs),
    /// Write a large dataset directly (no packets), for benchmarks.
    GenDataset(crate::datagen::GenArgs),
    /// SQL over a dataset (Apache DataFusion; built with `--features sql`).
    #[cfg(feature = "sql")]
    Query(crate::query::QueryArgs),
}

#[derive(Args, Debug)]
struct ReportArgs {
    /// Dataset roots (the directories holding node=NAME/...).
    #[arg(required = true)]
    datasets: Vec<PathBuf>,
    /// Output directory (report.html, report.md, report.json).
    #[arg(long, default_value = "report")]
    out: PathBuf,
    /// Formats to write, comma-separated: html, md, json.
    #[arg(long, default_value = "html,md,json", value_delimiter = ',')]
    format: Vec<String>,
    /// Only these nodes (repeatable).
    #[arg(long)]
    node: Vec<String>,
    /// Only flows starting on or after this UTC date (YYYY-MM-DD).
    #[arg(long)]
    from: Option<String>,
    /// Only flows starting before this UTC date (YYYY-MM-DD).
    #[arg(long)]
    to: Option<String>,
    /// A node's UTC offset for its local-time hours, NODE=+HH:MM (repeatable).
    #[arg(long = "tz", value_parser = parse_tz)]
    tz: Vec<(String, i32)>,
    /// Make the numbers safe to publish: round counts up, fold values under
    /// k flows into Other, add Laplace noise.
    #[arg(long)]
    publish: bool,
    /// ε per statistic for --publish.
    #[arg(long, default_value_t = exitflow_analyze::publish::DEFAULT_EPSILON)]
    epsilon: f64,
    /// With --publish: rounding and threshold only, no noise.
    #[arg(long)]
    no_noise: bool,
    /// With --publish: values under this many flows are folded into Other.
    #[arg(long, default_value_t = exitflow_analyze::publish::DEFAULT_K)]
    k: u64,
    /// With --publish: counts are rounded up to a multiple of this.
    #[arg(long, default_value_t = exitflow_analyze::publish::DEFAULT_ROUND)]
    round: u64,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FormatArg {
    Csv,
    Parquet,
    Jsonl,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum AddressesArg {
    /// Addresses are not written (default).
    Drop,
    /// Addresses are written as captured.
    Keep,
    /// Addresses are replaced by keyed prefix-preserving pseudonyms (needs --key-file).
    Pseudonymize,
}

/// Options of the metering pipeline shared by several commands.
#[derive(Args, Debug, Clone, Default)]
pub struct MeterArgs {
    /// Idle timeout, seconds [default: 120].
    #[arg(long)]
    idle_timeout: Option<u64>,
    /// Active timeout, seconds [default: 1800].
    #[arg(long)]
    active_timeout: Option<u64>,
    /// Idle timeout of TCP connection attempts without any reply, seconds [default: 70].
    #[arg(long)]
    half_open_timeout: Option<u64>,
    /// Most concurrent flows; beyond it the oldest is exported as `evicted` [default: 229376].
    #[arg(long)]
    max_flows: Option<usize>,
    /// Do not decapsulate GTP-U, TZSP and CAPWAP tunnels.
    #[arg(long)]
    no_tunnels: bool,
    /// Packets of each flow inspected to name its application; 0: no inspection [default: 20].
    #[arg(long)]
    dissections: Option<u32>,
}

impl MeterArgs {
    /// The pipeline options: flags, else the configuration file, else defaults.
    pub fn options(&self, cfg: &Config) -> MeterOptions {
        let f = &cfg.flow;
        let secs = |flag: Option<u64>, file: Option<u64>, default_ms: u64| {
            flag.or(file).map_or(default_ms, |s| s * 1000)
        };
        MeterOptions {
            flow: FlowConfig {
                idle_timeout_ms: secs(self.idle_timeout, f.idle_timeout, DEFAULT_IDLE_TIMEOUT_MS),
                active_timeout_ms: secs(
                    self.active_timeout,
                    f.active_timeout,
                    DEFAULT_ACTIVE_TIMEOUT_MS,
                ),
                half_open_timeout_ms: secs(
                    self.half_open_timeout,
                    f.half_open_timeout,
                    DEFAULT_HALF_OPEN_TIMEOUT_MS,
                ),
                max_flows: self.max_flows.or(f.max_flows).unwrap_or(DEFAULT_MAX_FLOWS),
            },
            decode: DecodeOptions {
                decode_tunnels: !self.no_tunnels && f.decode_tunnels.unwrap_or(true),
            },
            dpi: DpiConfig {
                max_packets: self
                    .dissections
                    .or(f.dissections)
                    .unwrap_or(DEFAULT_MAX_PACKETS),
                ..DpiConfig::default()
            },
        }
    }
}

/// Privacy-policy flags, shared by every command that writes flows.
#[derive(Args, Debug, Clone, Default)]
pub struct PolicyArgs {
    /// Anonymisation profile: `default` (the study's field set) or `strict`
    /// (no user-agents, times rounded to the hour); other flags refine it.
    #[arg(long, value_enum)]
    profile: Option<ProfileArg>,
    /// What to do with IP addresses (default: drop).
    #[arg(long, value_enum)]
    addresses: Option<AddressesArg>,
    /// Key for --addresses pseudonymize: 32 raw bytes or 64 hex digits. Keep it
    /// outside the dataset.
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// Server names (SNI, HTTP Host, DNS query): drop (default), domain
    /// (registrable domain only) or keep.
    #[arg(long, value_enum)]
    server_names: Option<ServerNamesArg>,
    /// Round timestamps down to this many seconds (0: exact).
    #[arg(long)]
    time_granularity: Option<u64>,
    /// Do not write user-agents.
    #[arg(long)]
    no_user_agents: bool,
    /// Write client/server fingerprints (JA4).
    #[arg(long)]
    fingerprints: bool,
    /// Write source ports.
    #[arg(long)]
    source_ports: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum ProfileArg {
    /// The study's field set plus counters and the Tor role.
    Default,
    /// Strict: no user-agents, server names, fingerprints or addresses; hourly times.
    Strict,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum ServerNamesArg {
    /// Not written (default).
    Drop,
    /// The registrable domain (eTLD+1) only.
    Domain,
    /// Written as seen.
    Keep,
}

fn parse_enum<T: ValueEnum>(what: &str, v: &Option<String>) -> Result<Option<T>> {
    v.as_deref()
        .map(|s| {
            T::from_str(s, false).map_err(|e| anyhow::anyhow!("configuration: policy.{what}: {e}"))
        })
        .transpose()
}

impl PolicyArgs {
    /// The policy these flags (and the configuration) describe.
    pub fn policy(&self, cfg: &Config) -> Result<Policy> {
        let c = &cfg.policy;
        let profile = self.profile.or(parse_enum("profile", &c.profile)?);
        let strict = profile == Some(ProfileArg::Strict);
        let mut p = if strict {
            Policy::strict()
        } else {
            Policy::default()
        };
        let addresses = self.addresses.or(parse_enum("addresses", &c.addresses)?);
        let key_file = self.key_file.clone().or_else(|| cfg.paths.key_file.clone());
        p.addresses = match (addresses.unwrap_or(AddressesArg::Drop), &key_file) {
            (AddressesArg::Drop, _) => AddressPolicy::Drop,
            (AddressesArg::Keep, _) => AddressPolicy::Keep,
            (AddressesArg::Pseudonymize, Some(k)) => {
                AddressPolicy::Pseudonymize(Box::new(CryptoPan::from_key_file(k)?))
            }
            (AddressesArg::Pseudonymize, None) => {
                bail!("--addresses pseudonymize needs --key-file")
            }
        };
        if let Some(u) = c.user_agents {
            p.user_agents = u;
        }
        p.fingerprints = c.fingerprints.unwrap_or(p.fingerprints);
        p.source_ports = c.source_ports.unwrap_or(p.source_ports);
        if let Some(g) = c.time_granularity {
            p.time_granularity_ms = (g * 1000).max(1);
        }
        if let Some(n) = self
            .server_names
            .or(parse_enum("server_names", &c.server_names)?)
        {
            p.server_names = match n {
                ServerNamesArg::Drop => ServerNames::Drop,
                ServerNamesArg::Domain => ServerNames::Domain,
                ServerNamesArg::Keep => ServerNames::Keep,
            };
        }
        if let Some(g) = self.time_granularity {
            p.time_granularity_ms = (g * 1000).max(1);
        }
        if self.no_user_agents {
            p.user_agents = false;
        }
        p.fingerprints |= self.fingerprints;
        p.source_ports |= self.source_ports;
        if strict
            && (p.addresses.writes_addresses()
                || p.server_names != ServerNames::Drop
                || p.fingerprints
                || p.user_agents)
        {
            bail!(
                "the strict profile writes no addresses, server names, fingerprints or user-agents"
            );
        }
        Ok(p)
    }
}

/// Enrichment flags, shared by `flows` and `ingest`.
#[derive(Args, Debug, Clone, Default)]
pub struct EnrichArgs {
    /// MaxMind DB file: country (GeoIP2/GeoLite2 or ip-location-db schema),
    /// ASN or anonymous-IP database; repeatable, schema detected.
    #[arg(long = "geoip")]
    geoip: Vec<PathBuf>,
    /// The relay's consensus (cached-microdesc-consensus or cached-consensus).
    #[arg(long)]
    consensus: Option<PathBuf>,
    /// tor's DataDirectory: the consensus is read from it.
    #[arg(long)]
    tor_data_dir: Option<PathBuf>,
    /// The relay's torrc: ORPort, DirPort, own addresses and DataDirectory are read from it.
    #[arg(long)]
    torrc: Option<PathBuf>,
    /// The relay's own address; repeatable.
    #[arg(long = "own-address")]
    own_address: Vec<std::net::IpAddr>,
    /// The relay's ORPort.
    #[arg(long)]
    or_port: Option<u16>,
    /// The relay's DirPort.
    #[arg(long)]
    dir_port: Option<u16>,
    /// An administration host, optionally with a port (HOST or HOST:PORT,
    /// [V6]:PORT); repeatable.
    #[arg(long = "admin", value_parser = parse_admin)]
    admin: Vec<(std::net::IpAddr, Option<u16>)>,
}

fn parse_admin(s: &str) -> Result<(std::net::IpAddr, Option<u16>), String> {
    if let Ok(ip) = s.parse() {
        return Ok((ip, None));
    }
    let sa: std::net::SocketAddr = s
        .parse()
        .map_err(|_| format!("{s:?}: expected HOST or HOST:PORT with an IP address"))?;
    Ok((sa.ip(), Some(sa.port())))
}

impl EnrichArgs {
    /// The enricher these flags (and the configuration) describe.
    pub fn enricher(&self, cfg: &Config) -> Result<Enricher> {
        let r = &cfg.relay;
        let geoip = if self.geoip.is_empty() {
            &cfg.paths.geoip
        } else {
            &self.geoip
        };
        let geo = exitflow_enrich::GeoSet::open(geoip)?;
        let mut admin = self.admin.clone();
        for a in &r.admin {
            admin.push(
                parse_admin(a).map_err(|e| anyhow::anyhow!("configuration: relay.admin: {e}"))?,
            );
        }
        let torrc = match &self.torrc {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                exitflow_enrich::torrc::parse(&text)
                    .map_err(|(line, why)| anyhow::anyhow!("{}: line {line}: {why}", p.display()))?
            }
            None => Default::default(),
        };
        let mut own = if self.own_address.is_empty() {
            r.own_addresses.clone()
        } else {
            self.own_address.clone()
        };
        if own.is_empty() {
            own = torrc.addresses.clone();
        }
        let data_dir = self.tor_data_dir.clone().or(torrc.data_directory.clone());
        let found = data_dir
            .as_deref()
            .and_then(exitflow_enrich::torrc::find_consensus);
        let path = self
            .consensus
            .as_ref()
            .or(cfg.paths.consensus.as_ref())
            .or(found.as_ref());
        let consensus = match path {
            Some(p) => {
                let c = exitflow_enrich::Consensus::load(p)?;
                tracing::info!(relays = c.relays, valid_after = %c.valid_after, "consensus loaded");
                Some(c)
            }
            None => None,
        };
        let consensus_source = path.map(|p| {
            let t = std::fs::metadata(p).and_then(|m| m.modified()).ok();
            (p.clone(), t)
        });
        Ok(Enricher {
            geo,
            consensus,
            consensus_source,
            consensus_reloads: 0,
            roles: exitflow_enrich::RoleConfig {
                own,
                or_port: self.or_port.or(r.or_port).or(torrc.or_port),
                dir_port: self.dir_port.or(r.dir_port).or(torrc.dir_port),
                admin,
            },
        })
    }
}

#[derive(Args, Debug)]
struct FlowsArgs {
    /// pcap or pcapng files; `-` reads standard input.
    #[arg(required = true)]
    captures: Vec<PathBuf>,
    /// Output directory.
    #[arg(long, short)]
    output: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Csv)]
    format: FormatArg,
    #[command(flatten)]
    policy: PolicyArgs,
    #[command(flatten)]
    enrich: EnrichArgs,
    #[command(flatten)]
    meter: MeterArgs,
}

#[derive(Args, Debug)]
struct IngestArgs {
    /// pcap or pcapng files; `-` reads standard input.
    #[arg(required = true)]
    captures: Vec<PathBuf>,
    /// Dataset root directory (or `paths.dataset` in the configuration).
    #[arg(long)]
    dataset: Option<PathBuf>,
    /// Node (relay) name, the `node=` partition (or `node.name`).
    #[arg(long)]
    node: Option<String>,
    #[command(flatten)]
    policy: PolicyArgs,
    #[command(flatten)]
    enrich: EnrichArgs,
    #[command(flatten)]
    meter: MeterArgs,
}

#[derive(Args, Debug)]
struct SynthArgs {
    /// Output capture file (`-` for standard output).
    #[arg(long, short)]
    output: PathBuf,
    /// Ordinary flows.
    #[arg(long, default_value_t = exitflow_synth::DEFAULT_FLOWS)]
    flows: u64,
    /// SYNs of a flood, each from its own source.
    #[arg(long, default_value_t = 0)]
    syn_flood: u64,
    /// Seed; the same seed gives the same capture.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Seconds over which flows start.
    #[arg(long, default_value_t = exitflow_synth::DEFAULT_SPAN_S)]
    span: u64,
}

#[derive(Args, Debug)]
struct DemoArgs {
    /// Working directory for the sample capture and the dataset.
    #[arg(long, default_value = "demo-out")]
    dir: PathBuf,
    #[command(flatten)]
    enrich: EnrichArgs,
    /// Flows in the sample.
    #[arg(long, default_value_t = 20_000)]
    flows: u64,
}

/// Entry point: runs the command and prints any error with its chain.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
    match run(cli.cmd, cli.config.as_deref()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cmd: Cmd, config: Option<&Path>) -> Result<ExitCode> {
    let conf = match config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    match cmd {
        Cmd::Flows(a) => flows(a, &conf),
        Cmd::Ingest(a) => ingest(a, &conf).map(|(code, _)| code),
        #[cfg(target_os = "linux")]
        Cmd::Capture(a) => crate::capture::run(*a, &conf),
        Cmd::Synth(a) => synth(a),
        Cmd::Demo(a) => demo(a, &conf),
        Cmd::Bench(a) => crate::bench::run(a, &conf),
        Cmd::Report(a) => report(a),
        Cmd::GenDataset(a) => crate::datagen::run(a),
        #[cfg(feature = "sql")]
        Cmd::Query(a) => crate::query::run(a),
        Cmd::Config => {
            print!("{}", crate::config::default_text());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Schema => {
            print!("{}", exitflow_output::schema::markdown_table());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn capture_name(p: &Path) -> String {
    if p.as_os_str() == "-" {
        return "stdin".into();
    }
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "capture".into())
}

/// Key/value metadata stored in every file written.
pub fn metadata(policy: &Policy, node: Option<&str>) -> Vec<(String, String)> {
    let mut m = vec![
        ("exitflow.version".into(), env!("CARGO_PKG_VERSION").into()),
        ("exitflow.schema_version".into(), SCHEMA_VERSION.into()),
        (
            "exitflow.address_policy".into(),
            policy.addresses.name().into(),
        ),
        ("exitflow.policy".into(), policy.describe()),
    ];
    if let Some(n) = node {
        m.push(("exitflow.node".into(), n.into()));
    }
    m
}

fn report_error(path: &Path, e: &MeterError) {
    match e {
        MeterError::Capture(e) => eprintln!("error: {e}"),
        MeterError::Sink(e) => eprintln!("error: {}: writing flows: {e:#}", path.display()),
    }
}

fn flows(a: FlowsArgs, conf: &Config) -> Result<ExitCode> {
    let mut policy = a.policy.policy(conf)?;
    let mut enricher = a.enrich.enricher(conf)?;
    std::fs::create_dir_all(&a.output)
        .with_context(|| format!("creating {}", a.output.display()))?;
    let format = match a.format {
        FormatArg::Csv => Format::Csv,
        FormatArg::Parquet => Format::Parquet,
        FormatArg::Jsonl => Format::Jsonl,
    };
    let opts = a.meter.options(conf);
    let meta = metadata(&policy, None);
    let mut failed = 0usize;
    for cap in &a.captures {
        let out = a
            .output
            .join(format!("{}.{}", capture_name(cap), format.ext()));
        let mut writer = FlowWriter::create(&out, format, policy.selection(), &meta)?;
        let (s, err) = meter_capture(cap, &opts, &mut |f, c| {
            writer.write(&to_record(f, c, &mut policy, Some(&mut enricher)))?;
            Ok(())
        });
        tracing::debug!(
            capture = %capture_name(cap),
            packets = s.flows.packets,
            flows = s.flows.flows_exported,
            ignored = ?s.ignored.iter().filter(|(_, n)| *n > 0).collect::<Vec<_>>(),
            "metered"
        );
        match err {
            None => {
                writer.finish()?;
            }
            Some(e) => {
                failed += 1;
                report_error(cap, &e);
                if s.flows.flows_exported > 0 {
                    // Keep what was metered before the problem.
                    writer.finish()?;
                } else {
                    writer.abort();
                }
            }
        }
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn ingest(a: IngestArgs, conf: &Config) -> Result<(ExitCode, NodeTotals)> {
    let mut policy = a.policy.policy(conf)?;
    let mut enricher = a.enrich.enricher(conf)?;
    let node = a
        .node
        .clone()
        .or_else(|| conf.node.name.clone())
        .context("no node name: give --node or node.name in the configuration")?;
    let dataset = a
        .dataset
        .clone()
        .or_else(|| conf.paths.dataset.clone())
        .context("no dataset: give --dataset or paths.dataset in the configuration")?;
    let mut cfg = DatasetConfig::new(&dataset, &node);
    cfg.selection = policy.selection();
    cfg.metadata = metadata(&policy, Some(&node));
    let mut ds = DatasetWriter::open(cfg)?;
    let opts = a.meter.options(conf);
    let mut run = NodeTotals {
        node: node.clone(),
        ..Default::default()
    };
    let mut failed = 0usize;
    for cap in &a.captures {
        let (s, err) = meter_capture(cap, &opts, &mut |f, c| {
            ds.write(&to_record(f, c, &mut policy, Some(&mut enricher)))?;
            Ok(())
        });
        if let Some(e) = err {
            failed += 1;
            report_error(cap, &e);
        }
        if s.read.packets > 0 {
            run.merge(&s.totals(&node));
        }
    }
    let node_dir = ds.node_dir().to_owned();
    let (files, bytes) = ds.close()?;
    run.files = files;
    run.dataset_bytes = bytes;
    let all = DatasetWriter::add_totals(&node_dir, &run)?;
    tracing::info!(
        node = %node,
        flows = run.flows,
        failed_flows = run.failed_flows,
        packets = run.packets,
        evicted = run.evicted_flows,
        files,
        peak_rss_mib = peak_rss_bytes() >> 20,
        "ingested"
    );
    let code = if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    Ok((code, all))
}

/// Days since 1970-01-01 of a YYYY-MM-DD date, as ms.
fn date_ms(s: &str) -> Result<u64> {
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

fn parse_tz(s: &str) -> Result<(String, i32), String> {
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

fn report(a: ReportArgs) -> Result<ExitCode> {
    let filter = exitflow_analyze::Filter {
        tz_minutes: a.tz.iter().cloned().collect(),
        nodes: a.node.clone(),
        from_ms: a.from.as_deref().map(date_ms).transpose()?,
        to_ms: a.to.as_deref().map(date_ms).transpose()?,
    };
    let t = std::time::Instant::now();
    let mut r = exitflow_analyze::scan(&a.datasets, &filter)?;
    if a.publish {
        if !(a.epsilon > 0.0 && a.epsilon.is_finite()) {
            bail!("--epsilon must be a positive number");
        }
        exitflow_analyze::publish::protect_report(
            &mut r,
            &exitflow_analyze::publish::PublishConfig {
                epsilon: (!a.no_noise).then_some(a.epsilon),
                k: a.k.max(1),
                round: a.round.max(1),
            },
        );
    }
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    for f in &a.format {
        let (name, text) = match f.as_str() {
            "html" => ("report.html", exitflow_analyze::render::html(&r)),
            "md" => ("report.md", exitflow_analyze::render::markdown(&r)),
            "json" => (
                "report.json",
                serde_json::to_string_pretty(&exitflow_analyze::render::json(&r))?,
            ),
            other => bail!("unknown report format {other:?} (html, md, json)"),
        };
        let path = a.out.join(name);
        let tmp = a.out.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
        println!("{}", path.display());
    }
    tracing::info!(
        files = r.files,
        flows = r.all.flows,
        seconds = t.elapsed().as_secs_f64(),
        peak_rss_mib = peak_rss_bytes() >> 20,
        "report"
    );
    Ok(ExitCode::SUCCESS)
}

fn synth(a: SynthArgs) -> Result<ExitCode> {
    let cfg = SynthConfig {
        seed: a.seed,
        flows: a.flows,
        syn_flood: a.syn_flood,
        span_s: a.span,
        ..Default::default()
    };
    let sum = if a.output.as_os_str() == "-" {
        exitflow_synth::write_capture(&cfg, std::io::stdout().lock())?
    } else {
        let f = std::fs::File::create(&a.output)
            .with_context(|| format!("creating {}", a.output.display()))?;
        exitflow_synth::write_capture(&cfg, f)
            .with_context(|| format!("writing {}", a.output.display()))?
    };
    tracing::info!(
        packets = sum.packets,
        flows = sum.flows,
        failed_flows = sum.failed_flows,
        "synthesised"
    );
    Ok(ExitCode::SUCCESS)
}

/// The demo's enrichment: the synthetic relay's own address, and the shared
/// country database when it sits beside the repository (no network needed).
fn demo_enrich(given: &EnrichArgs) -> EnrichArgs {
    let mut e = given.clone();
    if e.own_address.is_empty() {
        e.own_address
            .push(std::net::IpAddr::from(exitflow_synth::RELAY));
    }
    if e.geoip.is_empty() {
        let shared = Path::new("../shared/geoip/geo-whois-asn-country.mmdb");
        if shared.is_file() {
            e.geoip.push(shared.to_owned());
        }
    }
    e
}

fn demo(a: DemoArgs, conf: &Config) -> Result<ExitCode> {
    std::fs::create_dir_all(&a.dir).with_context(|| format!("creating {}", a.dir.display()))?;
    let dataset = a.dir.join("dataset");
    // A fresh dataset each run, so the totals describe this sample alone.
    if dataset.exists() {
        std::fs::remove_dir_all(&dataset)
            .with_context(|| format!("removing {}", dataset.display()))?;
    }
    // Three relays, a day of traffic each.
    let mut code = ExitCode::SUCCESS;
    let mut lines = Vec::new();
    for (seed, node) in [(1u64, "demo-de"), (2, "demo-us"), (3, "demo-jp")] {
        let cap = a.dir.join(format!("sample-{node}.pcap"));
        synth(SynthArgs {
            output: cap.clone(),
            flows: a.flows,
            syn_flood: 0,
            seed,
            span: 86_400,
        })?;
        let (c, t) = ingest(
            IngestArgs {
                captures: vec![cap.clone()],
                dataset: Some(dataset.clone()),
                node: Some(node.into()),
                policy: PolicyArgs::default(),
                enrich: demo_enrich(&a.enrich),
                meter: MeterArgs::default(),
            },
            conf,
        )?;
        if c != ExitCode::SUCCESS {
            code = c;
        }
        lines.push(format!(
            "{node}: {} flows, {} failed ({:.1} %), {} packets, {:.1} MB, {} Parquet file(s), {} bytes on disk; capture {}",
            t.flows,
            t.failed_flows,
            if t.flows > 0 { 100.0 * t.failed_flows as f64 / t.flows as f64 } else { 0.0 },
            t.packets,
            t.bytes as f64 / 1e6,
            t.files,
            t.dataset_bytes,
            cap.display()
        ));
    }
    let report_dir = a.dir.join("report");
    report(ReportArgs {
        datasets: vec![dataset.clone()],
        out: report_dir.clone(),
        format: vec!["html".into(), "md".into(), "json".into()],
        node: Vec::new(),
        from: None,
        to: None,
        tz: vec![
            ("demo-de".into(), 60),
            ("demo-us".into(), -300),
            ("demo-jp".into(), 540),
        ],
        publish: false,
        epsilon: exitflow_analyze::publish::DEFAULT_EPSILON,
        no_noise: false,
        k: exitflow_analyze::publish::DEFAULT_K,
        round: exitflow_analyze::publish::DEFAULT_ROUND,
    })?;
    for l in &lines {
        println!("{l}");
    }
    println!("dataset: {}", dataset.display());
    println!("report:  {}", report_dir.join("report.html").display());
    Ok(code)
}
