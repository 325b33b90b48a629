//! The command line: clap definitions only. What a flag means is resolved,
//! with the configuration file and the defaults, in [`crate::settings`].
use std::net::IpAddr;
use std::path::PathBuf;

use std::str::FromStr as _;

use clap::{Args, Parser, Subcommand, ValueEnum};
use exitflow_output::{AddressMode, Profile, ServerNames};

/// Measure what leaves a Tor exit relay — flows, applications, countries —
/// without writing personal data to disk.
#[derive(Parser, Debug)]
#[command(name = "exitflow", version, about)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub cmd: Cmd,
    /// Log level filter (error, warn, info, debug) or a tracing directive.
    #[arg(long, global = true, default_value = "info")]
    pub log: String,
    /// Configuration file (TOML; `exitflow config` prints one with the defaults).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Directory of nDPI's tables (protocols.txt, services.txt,
    /// ip_lists.tsv, certificates.tsv); default: $EXITFLOW_DATA_DIR, `ndpi/` beside the
    /// executable, /usr/share/exitflow/ndpi, or the source tree's.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Meter captures into one flow table per capture (`<capture name>.<ext>`).
    Flows(FlowsArgs),
    /// Meter captures into the node's Parquet dataset.
    Ingest(IngestArgs),
    /// Capture live on an interface into the node's dataset (Linux, root or CAP_NET_RAW).
    #[cfg(target_os = "linux")]
    Capture(Box<CaptureArgs>),
    /// Write a deterministic synthetic exit-relay capture.
    Synth(SynthArgs),
    /// Synthesise a capture, ingest it, print the node totals.
    Demo(DemoArgs),
    /// Measure packets/s of reading, decoding and metering a capture.
    Bench(BenchArgs),
    /// Print the dataset schema as a Markdown table.
    Schema(SchemaArgs),
    /// Print every protocol nDPI 5.0 defines and how exitflow recognises it (Markdown).
    Protocols(ProtocolsArgs),
    /// Print the manual page (roff), as the Debian package installs it.
    #[command(hide = true)]
    Manpage,
    /// Print a configuration file with every default, documented.
    Config,
    /// The study report (HTML, Markdown, JSON) from one or more datasets.
    Report(ReportArgs),
    /// Write a large dataset directly (no packets), for benchmarks.
    GenDataset(GenArgs),
    /// The exit relay itself: `relay init` writes the kit for one node.
    Relay(RelayArgs),
    /// A running capture at a glance, refreshing (from its metrics endpoint).
    Status(StatusArgs),
    /// SQL over a dataset (Apache DataFusion; built with `--features sql`).
    #[cfg(feature = "sql")]
    Query(QueryArgs),
}

/// Options of `protocols`.
#[derive(Args, Debug, Clone, Default)]
pub struct ProtocolsArgs {
    /// Print each detector's sample message instead, one per line (TSV:
    /// protocol, transport, ports, direction, hex), for checking the rules
    /// against nDPI itself (scripts/check_samples.py).
    #[arg(long)]
    pub samples: bool,
}

/// Options of `schema`.
#[derive(Args, Debug, Clone, Default)]
pub struct SchemaArgs {
    /// Print the report JSON's schema instead (JSON Schema, draft 2020-12;
    /// docs/report.schema.json): what `report` writes and `report
    /// --from-json` accepts.
    #[arg(long)]
    pub report: bool,
}

/// Output formats of `flows`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    /// RFC 4180 CSV.
    Csv,
    /// Parquet (zstd, dictionary-encoded strings).
    Parquet,
    /// JSON lines.
    Jsonl,
}

/// Options of the metering pipeline shared by several commands.
#[derive(Args, Debug, Clone, Default)]
pub struct MeterArgs {
    /// Named timeouts: `nfstream` (NFStream's defaults) or `study-2021`
    /// (the 2021 study's: active 3600 s); the timeout flags refine it [default: nfstream].
    #[arg(long, value_parser = exitflow_flow::FlowPreset::from_str)]
    pub flow_preset: Option<exitflow_flow::FlowPreset>,
    /// Idle timeout, seconds [default: 120].
    #[arg(long)]
    pub idle_timeout: Option<u64>,
    /// Active timeout, seconds [default: 1800].
    #[arg(long)]
    pub active_timeout: Option<u64>,
    /// Idle timeout of TCP connection attempts without any reply, seconds [default: 70].
    #[arg(long)]
    pub half_open_timeout: Option<u64>,
    /// Most concurrent flows; beyond it the oldest is exported as `evicted` [default: 229376].
    #[arg(long)]
    pub max_flows: Option<usize>,
    /// Do not decapsulate GTP-U, TZSP and CAPWAP tunnels.
    #[arg(long)]
    pub no_tunnels: bool,
    /// Packets of each flow inspected to name its application; 0: no inspection [default: 20].
    #[arg(long)]
    pub dissections: Option<u32>,
    /// Exclude a host or network (ADDR or ADDR/BITS) from measurement; repeatable.
    #[arg(long = "exclude-net")]
    pub exclude_net: Vec<String>,
    /// Exclude a TCP/UDP port (either side) from measurement; repeatable.
    #[arg(long = "exclude-port")]
    pub exclude_port: Vec<u16>,
}

/// Privacy-policy flags, shared by every command that writes flows.
#[derive(Args, Debug, Clone, Default)]
pub struct PolicyArgs {
    /// Anonymisation profile: `default` (hourly rows of the columns the
    /// study's report needs, k-anonymous), `strict` (hourly aggregate tables
    /// only) or `research` (exact values, opt-in); other flags refine it.
    #[arg(long)]
    pub profile: Option<Profile>,
    /// What to do with IP addresses: drop (default), keep or pseudonymize.
    #[arg(long)]
    pub addresses: Option<AddressMode>,
    /// Key for --addresses pseudonymize: 32 raw bytes or 64 hex digits. Keep it
    /// outside the dataset.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// Server names (SNI, HTTP Host, DNS query): drop (default), domain
    /// (registrable domain only) or keep.
    #[arg(long)]
    pub server_names: Option<ServerNames>,
    /// Round timestamps down to this many seconds (research: 0 = exact;
    /// default and strict: whole hours dividing a day, at least 3600).
    #[arg(long)]
    pub time_granularity: Option<u64>,
    /// Every row shares its columns with at least k-1 others of its
    /// node-hour (default 5; default and strict take only more).
    #[arg(long)]
    pub k_anonymity: Option<usize>,
    /// Do not write user-agents.
    #[arg(long)]
    pub no_user_agents: bool,
    /// Write client/server fingerprints (JA4).
    #[arg(long)]
    pub fingerprints: bool,
    /// Write source ports.
    #[arg(long)]
    pub source_ports: bool,
    /// Delete the node's date partitions older than this many days after
    /// writing (off by default).
    #[arg(long)]
    pub retention_days: Option<u32>,
}

/// Enrichment flags, shared by every command that meters packets.
#[derive(Args, Debug, Clone, Default)]
pub struct EnrichArgs {
    /// MaxMind DB file: country (GeoIP2/GeoLite2 or ip-location-db schema),
    /// ASN or anonymous-IP database; repeatable, schema detected.
    #[arg(long = "geoip")]
    pub geoip: Vec<PathBuf>,
    /// The relay's consensus (cached-microdesc-consensus or cached-consensus).
    #[arg(long)]
    pub consensus: Option<PathBuf>,
    /// tor's DataDirectory: the consensus is read from it.
    #[arg(long)]
    pub tor_data_dir: Option<PathBuf>,
    /// The relay's torrc: ORPort, DirPort, own addresses and DataDirectory are read from it.
    #[arg(long)]
    pub torrc: Option<PathBuf>,
    /// The relay's own address; repeatable.
    #[arg(long = "own-address")]
    pub own_address: Vec<IpAddr>,
    /// An address reserved for exit traffic (tor's OutboundBindAddressExit):
    /// only TCP from it is exit; repeatable.
    #[arg(long = "exit-address")]
    pub exit_address: Vec<IpAddr>,
    /// The relay's ORPort.
    #[arg(long)]
    pub or_port: Option<u16>,
    /// The relay's DirPort.
    #[arg(long)]
    pub dir_port: Option<u16>,
    /// An administration host, optionally with a port (HOST or HOST:PORT,
    /// [V6]:PORT); repeatable.
    #[arg(long = "admin", value_parser = crate::values::parse_admin)]
    pub admin: Vec<(IpAddr, Option<u16>)>,
}

/// Everything that decides what a metered flow becomes: the pipeline,
/// enrichment and the privacy policy (every command that writes flows).
#[derive(Args, Debug, Clone, Default)]
pub struct PipelineArgs {
    /// The privacy policy.
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Enrichment.
    #[command(flatten)]
    pub enrich: EnrichArgs,
    /// The pipeline.
    #[command(flatten)]
    pub meter: MeterArgs,
}

/// Where flows of a node go: the dataset and the node name.
#[derive(Args, Debug, Clone, Default)]
pub struct NodeArgs {
    /// Dataset root directory (or `paths.dataset` in the configuration).
    #[arg(long)]
    pub dataset: Option<PathBuf>,
    /// Node (relay) name, the `node=` partition (or `node.name`).
    #[arg(long)]
    pub node: Option<String>,
}

/// `exitflow flows`.
#[derive(Args, Debug)]
pub struct FlowsArgs {
    /// pcap or pcapng files; `-` reads standard input.
    #[arg(required = true)]
    pub captures: Vec<PathBuf>,
    /// Output directory.
    #[arg(long, short)]
    pub output: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Csv)]
    pub format: FormatArg,
    /// Metering, enrichment and policy.
    #[command(flatten)]
    pub pipeline: PipelineArgs,
}

/// `exitflow ingest`.
#[derive(Args, Debug, Clone)]
pub struct IngestArgs {
    /// pcap or pcapng files; `-` reads standard input.
    #[arg(required = true)]
    pub captures: Vec<PathBuf>,
    /// Dataset and node.
    #[command(flatten)]
    pub node: NodeArgs,
    /// Metering, enrichment and policy.
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// Mark the files as written from synthetic traffic (the demo does):
    /// the report says so on its first line.
    #[arg(long)]
    pub synthetic: bool,
}

/// `exitflow capture`.
#[derive(Args, Debug)]
pub struct CaptureArgs {
    /// Network interface (or the one in `capture.interfaces` in the configuration).
    #[arg(long)]
    pub interface: Option<String>,
    /// Dataset and node.
    #[command(flatten)]
    pub node: NodeArgs,
    /// Worker threads, each with its own ring [default: number of cores].
    #[arg(long)]
    pub workers: Option<usize>,
    /// Seconds within which finished flows reach a completed dataset file [default: 30].
    #[arg(long)]
    pub flush_interval: Option<u64>,
    /// Prometheus endpoint (IP:PORT), or `off` [default: 127.0.0.1:9477].
    #[arg(long)]
    pub metrics: Option<String>,
    /// Allow the metrics endpoint on an address other than loopback (the
    /// numbers describe the relay's traffic second by second).
    #[arg(long)]
    pub metrics_allow_remote: bool,
    /// Run as this user once the sockets are open (or `capture.user`).
    #[arg(long)]
    pub user: Option<String>,
    /// Ring size per worker, MiB [default: 64].
    #[arg(long)]
    pub ring_mb: Option<u32>,
    /// Put the interface in promiscuous mode.
    #[arg(long)]
    pub promiscuous: bool,
    /// A tcpdump-style filter: only matching packets are measured (the
    /// kernel drops the rest). Needs a build with `--features libpcap`.
    #[arg(long)]
    pub filter: Option<String>,
    /// Most flows held in memory while the dataset cannot be written; beyond,
    /// flows are counted as lost [default: 524288].
    #[arg(long)]
    pub write_buffer: Option<usize>,
    /// Seconds between status lines [default: 60].
    #[arg(long)]
    pub status_interval: Option<u64>,
    /// Seconds between checks for changed GeoIP databases and consensus [default: 60].
    #[arg(long)]
    pub reload_interval: Option<u64>,
    /// Stop by itself after this many seconds (tests, benchmarks).
    #[arg(long)]
    pub duration: Option<u64>,
    /// Tests only: shift packet times and the service's clock by this many
    /// ms (a test puts an hour's end seconds ahead instead of waiting).
    #[arg(long, hide = true, allow_hyphen_values = true)]
    pub clock_skew_ms: Option<i64>,
    /// Metering, enrichment and policy.
    #[command(flatten)]
    pub pipeline: PipelineArgs,
}

/// `exitflow synth`.
#[derive(Args, Debug)]
pub struct SynthArgs {
    /// Output capture file (`-` for standard output).
    #[arg(long, short)]
    pub output: PathBuf,
    /// Ordinary flows.
    #[arg(long, default_value_t = exitflow_synth::DEFAULT_FLOWS)]
    pub flows: u64,
    /// SYNs of a flood, each from its own source.
    #[arg(long, default_value_t = 0)]
    pub syn_flood: u64,
    /// Seed; the same seed gives the same capture.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Seconds over which flows start.
    #[arg(long, default_value_t = exitflow_synth::DEFAULT_SPAN_S)]
    pub span: u64,
}

/// `exitflow demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Working directory for the sample capture and the dataset.
    #[arg(long, default_value = "demo-out")]
    pub dir: PathBuf,
    /// Enrichment.
    #[command(flatten)]
    pub enrich: EnrichArgs,
    /// Flows in the sample.
    #[arg(long, default_value_t = 20_000)]
    pub flows: u64,
    /// Privacy profile of the demo's dataset (`strict` is the one
    /// `report --publish` can release with differential privacy).
    #[arg(long)]
    pub profile: Option<Profile>,
}

/// `exitflow bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Capture to measure (put it on /dev/shm so the disk does not dominate).
    pub capture: PathBuf,
    /// Runs of each stage; the best is reported.
    #[arg(long, default_value_t = 3)]
    pub repeat: u32,
    /// Print the result as JSON too.
    #[arg(long)]
    pub json: bool,
    /// The pipeline.
    #[command(flatten)]
    pub meter: MeterArgs,
    /// Enrichment for the last stage (give --geoip to measure lookups).
    #[command(flatten)]
    pub enrich: EnrichArgs,
}

/// `exitflow report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Dataset roots (the directories holding node=NAME/...).
    #[arg(required_unless_present = "from_json")]
    pub datasets: Vec<PathBuf>,
    /// Render report.html and report.md from a report JSON computed
    /// elsewhere (by `spark/report.py` over a fleet's data, say) instead of
    /// scanning datasets.
    #[arg(long, conflicts_with_all = ["datasets", "publish", "node", "from", "to", "tz"])]
    pub from_json: Option<PathBuf>,
    /// Output directory (report.html, report.md, report.json).
    #[arg(long, default_value = "report")]
    pub out: PathBuf,
    /// Formats to write, comma-separated: html, md, json.
    #[arg(
        long,
        value_enum,
        default_value = "html,md,json",
        value_delimiter = ','
    )]
    pub format: Vec<ReportFormat>,
    /// Only these nodes (repeatable).
    #[arg(long)]
    pub node: Vec<String>,
    /// Only flows starting on or after this UTC date (YYYY-MM-DD).
    #[arg(long)]
    pub from: Option<String>,
    /// Only flows starting before this UTC date (YYYY-MM-DD).
    #[arg(long)]
    pub to: Option<String>,
    /// A node's time zone for its local-time hours (repeatable):
    /// NODE=Area/City (IANA, daylight saving followed) or NODE=+HH:MM.
    #[arg(long = "tz", value_parser = crate::values::parse_tz)]
    pub tz: Vec<(String, exitflow_analyze::Zone)>,
    /// Publish with differential privacy: release each complete unit
    /// (one node × --unit-days UTC days) of the window once, with fresh
    /// noise, into the node's `_releases/`, and assemble the report from
    /// stored releases only (docs/privacy.md).
    #[arg(long)]
    pub publish: bool,
    /// With --publish: ε each new unit spends (in (0, 10]).
    #[arg(long, default_value_t = exitflow_analyze::publish::DEFAULT_EPSILON, requires = "publish")]
    pub epsilon: f64,
    /// With --publish: ε any day of a node may spend over all releases (in
    /// (0, 10]; recorded in the ledger, which it may lower, never raise).
    #[arg(long, default_value_t = exitflow_analyze::publish::DEFAULT_BUDGET, requires = "publish")]
    pub budget: f64,
    /// With --publish: UTC days per new unit (aligned to 1970-01-01).
    #[arg(long, default_value_t = exitflow_analyze::publish::DEFAULT_UNIT_DAYS, requires = "publish")]
    pub unit_days: u32,
    /// With --publish: flows of one client each new unit protects (the
    /// sensitivity of its counts).
    #[arg(long, default_value_t = exitflow_analyze::publish::DEFAULT_ACTION_BOUND, requires = "publish")]
    pub action_bound: u32,
    /// Read every flow row, even where a part has its hourly tables beside
    /// it (`_agg-*.parquet`, written at ingest); for benchmarks and checks.
    #[arg(long, conflicts_with = "publish")]
    pub rows: bool,
}

/// Report formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// report.html: self-contained page with inline SVG charts.
    Html,
    /// report.md.
    Md,
    /// report.json.
    Json,
}

/// `exitflow gen-dataset`.
#[derive(Args, Debug)]
pub struct GenArgs {
    /// Dataset root to write.
    #[arg(long)]
    pub dataset: PathBuf,
    /// Flows in all.
    #[arg(long, default_value_t = 1_000_000)]
    pub flows: u64,
    /// Nodes the flows are spread over.
    #[arg(long, default_value_t = 3)]
    pub nodes: u32,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Privacy profile the rows are written under (default: `default`).
    #[arg(long)]
    pub profile: Option<Profile>,
}

/// `exitflow query`.
#[cfg(feature = "sql")]
#[derive(Args, Debug)]
pub struct QueryArgs {
    /// Dataset root (the directory holding node=NAME/...).
    pub dataset: PathBuf,
    /// The query; the dataset is the table `flows`, e.g.
    /// "SELECT dst_country, count(*) FROM flows WHERE dst_port = 5222 GROUP BY 1 ORDER BY 2 DESC".
    pub sql: String,
}

/// `exitflow relay`.
#[derive(Args, Debug)]
pub struct RelayArgs {
    /// What to do.
    #[command(subcommand)]
    pub cmd: RelayCmd,
}

/// `exitflow relay` commands.
#[derive(Subcommand, Debug)]
pub enum RelayCmd {
    /// Write a complete, commented setup for one exit relay: torrc, exit
    /// notice, unbound, exitflow's configuration, an install script and the
    /// operator's checklist.
    Init(Box<RelayInitArgs>),
    /// Ask the running tor for its exit policy as it expands it (GETINFO
    /// exit-policy/full) and write it where exitflow reads it
    /// (exitflow-consensus.service runs this as tor's user).
    ExitPolicy(ExitPolicyArgs),
}

/// `exitflow relay exit-policy`.
#[derive(Args, Debug)]
pub struct ExitPolicyArgs {
    /// tor's control port: IP:PORT, or the path of its control socket.
    #[arg(long, default_value = "/run/tor/control")]
    pub control: String,
    /// Where to write the policy (replaced in one rename).
    #[arg(long, default_value = "/var/lib/exitflow-consensus/exit-policy")]
    pub out: PathBuf,
}

/// Exit policies of the kit.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ExitPolicyArg {
    /// Every port, as the 2021 study.
    Study,
    /// Tor's reduced exit policy.
    Reduced,
    /// Ports 80 and 443 only.
    Web,
}

/// `exitflow relay init`.
#[derive(Args, Debug)]
pub struct RelayInitArgs {
    /// Directory to write the kit into (must not hold any of its files).
    #[arg(long)]
    pub out: PathBuf,
    /// The relay's nickname (also exitflow's node name).
    #[arg(long)]
    pub nickname: String,
    /// How to reach the operator (tor's ContactInfo and the exit notice).
    #[arg(long)]
    pub contact: String,
    /// Which ports the exit lets out.
    #[arg(long, value_enum, default_value = "reduced")]
    pub exit_policy: ExitPolicyArg,
    /// ORPort.
    #[arg(long, default_value_t = exitflow_relay::DEFAULT_OR_PORT)]
    pub or_port: u16,
    /// DirPort (serves the exit notice).
    #[arg(long, default_value_t = exitflow_relay::DEFAULT_DIR_PORT)]
    pub dir_port: u16,
    /// Relayed bandwidth, as tor writes it ("10 MBytes"); unlimited if absent.
    #[arg(long)]
    pub bandwidth: Option<String>,
    /// Burst bandwidth [default: the rate].
    #[arg(long)]
    pub burst: Option<String>,
    /// Exit to IPv6 destinations too.
    #[arg(long)]
    pub ipv6_exit: bool,
    /// The relay's public address (tor's Address): one IPv4 and/or one IPv6.
    #[arg(long = "address", required = true)]
    pub address: Vec<IpAddr>,
    /// An address reserved for exit traffic (tor's OutboundBindAddressExit):
    /// one IPv4 and/or one IPv6, other than --address. With it, exit traffic
    /// is told from the machine's own by construction (docs/exit-relay.md).
    #[arg(long = "exit-address")]
    pub exit_address: Vec<IpAddr>,
    /// Days the dataset's date partitions are kept on the relay.
    #[arg(long, default_value_t = exitflow_relay::DEFAULT_RETENTION_DAYS)]
    pub retention_days: u32,
    /// Let port 25 (SMTP) out; without it the kit's policy rejects it (spam
    /// brings most of an exit's abuse complaints).
    #[arg(long)]
    pub allow_smtp: bool,
    /// A fingerprint of another relay of the study (MyFamily); repeatable.
    #[arg(long = "family")]
    pub family: Vec<String>,
    /// A private Tor test network (TestingTorNetwork): private addresses
    /// are allowed.
    #[arg(long, hide = true)]
    pub test_network: bool,
    /// The interface exitflow captures on.
    #[arg(long, default_value = exitflow_relay::DEFAULT_INTERFACE)]
    pub interface: String,
    /// A host the relay is administered from; repeatable.
    #[arg(long = "admin")]
    pub admin: Vec<IpAddr>,
    /// exitflow's privacy profile: default or strict.
    #[arg(long, default_value = "default")]
    pub profile: String,
    /// Flow timeouts written to exitflow.toml: `nfstream` or `study-2021`
    /// (the 2021 study's active timeout, 3600 s) [default: nfstream].
    #[arg(long, value_parser = exitflow_flow::FlowPreset::from_str)]
    pub flow_preset: Option<exitflow_flow::FlowPreset>,
    /// Where the study's privacy policy is published (linked from the notice).
    #[arg(long)]
    pub privacy_url: Option<String>,
    /// Who runs the study, named on the exit notice.
    #[arg(long)]
    pub institution: Option<String>,
    /// The study's ethics approval (board and reference), named on the exit notice.
    #[arg(long)]
    pub ethics_approval: Option<String>,
    /// Install root written into the files' paths (`/` on the relay).
    #[arg(long, default_value = "/")]
    pub prefix: PathBuf,
}

/// `exitflow status`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The capture's metrics endpoint (IP:PORT) [default: capture.metrics, or 127.0.0.1:9477].
    #[arg(long)]
    pub metrics: Option<String>,
    /// tor's MetricsPort (IP:PORT), whose stream counts are shown beside
    /// exitflow's [default: relay.tor_metrics; none].
    #[arg(long)]
    pub tor_metrics: Option<String>,
    /// Print one screen and exit.
    #[arg(long)]
    pub once: bool,
    /// Seconds between refreshes.
    #[arg(long, default_value_t = 2)]
    pub interval: u64,
}
