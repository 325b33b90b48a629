//! The study report: aggregates over exitflow datasets from any number of
//! relays, computed by streaming the Parquet files batch by batch and reading
//! only the columns needed, so memory does not grow with the dataset.
#![forbid(unsafe_code)]
#![recursion_limit = "256"]

pub mod contract;
pub mod publish;
pub mod render;
pub mod zone;

pub use zone::Zone;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use arrow_array::{Array, RecordBatch};
use exitflow_output::aggregate::cols as agg_cols;
use exitflow_output::{Col, layout};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Serialize;

/// Rows per batch while scanning.
pub const DEFAULT_BATCH_ROWS: usize = 16 * 1024;
/// Rows in the "top" tables.
pub const TOP_ROWS: usize = 40;

/// Errors while reading a dataset.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A Parquet file is unreadable.
    #[error("{path}: parquet")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What the reader said.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// A batch of a Parquet file is unreadable.
    #[error("{path}: arrow")]
    Arrow {
        /// The file.
        path: PathBuf,
        /// What the reader said.
        #[source]
        source: arrow_schema::ArrowError,
    },
    /// Nothing to report on.
    #[error("no dataset files found under {0}")]
    Empty(String),
    /// A node's totals file is unreadable.
    #[error("node totals")]
    Totals(#[source] exitflow_output::OutputError),
    /// A node's releases and ledger do not add up (`publish::store`).
    #[error("{path}: {reason}")]
    Ledger {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// A release would spend more ε on a day than the budget allows.
    #[error(
        "node {node}, day {day}: releasing ε = {asked} would exceed the budget of ε = {budget} per node-day ({spent} already spent)"
    )]
    Budget {
        /// The node.
        node: String,
        /// The day (`YYYY-MM-DD`).
        day: String,
        /// ε already spent on the day.
        spent: f64,
        /// ε the release asked for.
        asked: f64,
        /// The budget.
        budget: f64,
    },
    /// A dataset's files could not be checked.
    #[error("dataset")]
    Dataset(#[source] exitflow_output::OutputError),
    /// Publication settings that would not give the guarantee.
    #[error("{0}")]
    Settings(String),
}

impl AnalyzeError {
    /// Nothing under these roots.
    pub fn empty(roots: &[PathBuf]) -> AnalyzeError {
        AnalyzeError::Empty(
            roots
                .iter()
                .map(|r| r.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        )
    }
}

/// Which flows to count.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only these nodes (all when empty).
    pub nodes: Vec<String>,
    /// First packet at or after this time (ms since the epoch).
    pub from_ms: Option<u64>,
    /// First packet before this time.
    pub to_ms: Option<u64>,
    /// Each node's time zone, for its local-time hours (UTC when absent).
    pub zones: BTreeMap<String, Zone>,
    /// Read every flow row even where a part has its hourly tables beside it.
    pub rows: bool,
    /// Only day directories in `[from, to)` (ms of UTC midnights), a cheap
    /// first cut before the row times are read.
    pub days: Option<(u64, u64)>,
}

/// A counter keyed by strings.
pub type Counts = HashMap<String, u64, ahash::RandomState>;
/// A map on the scan's hot path: a fast hasher, randomly keyed (the keys
/// come from traffic).
pub type FastMap<K, V> = HashMap<K, V, ahash::RandomState>;

/// Aggregates of one node (or of all).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Agg {
    /// Flows.
    pub flows: u64,
    /// Flows with at most 4 packets.
    pub failed_flows: u64,
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
    /// Sum of flow durations, ms.
    pub duration_ms: u64,
    /// Flows whose duration in the sum above is a power-of-two bucket
    /// (which reads low): rows written under default, and hourly tables of
    /// a slice without exact durations (fewer than
    /// `aggregate::EXACT_DURATION_MIN_FLOWS` flows in a write, or older
    /// files). The others are exact: research rows, or a slice-hour's
    /// exact mean times its rows' flows. Packets and bytes per slice stay
    /// buckets (node totals are exact).
    pub bucketed_flows: u64,
    /// Parquet bytes read.
    pub dataset_bytes: u64,
    /// Packets and bytes are the node totals' exact sums, not the rows'.
    pub exact_volume: bool,
    /// Sum of per-flow packets clipped at [`publish::PACKETS_CLIP`].
    pub packets_clipped: u64,
    /// Sum of per-flow bytes clipped at [`publish::BYTES_CLIP`].
    pub bytes_clipped: u64,
    /// Sum of per-flow durations clipped at [`publish::DURATION_CLIP_MS`].
    pub duration_clipped_ms: u64,
    /// Flows per application label.
    pub applications: Counts,
    /// Flows per category.
    pub categories: Counts,
    /// Flows per destination country.
    pub dst_countries: Counts,
    /// Flows per source country.
    pub src_countries: Counts,
    /// Flows per destination port.
    pub dst_ports: FastMap<u64, u64>,
    /// HTTP flows per user-agent.
    pub user_agents: Counts,
    /// HTTP flows per content type (as written).
    pub content_types: Counts,
    /// HTTP flows (master HTTP or HTTP_Proxy).
    pub http_flows: u64,
    /// Flows per hour of the day, UTC.
    pub hours_utc: [u64; 24],
    /// Flows per hour of the day in the node's local time (`Filter::zones`).
    pub hours_local: [u64; 24],
    /// Flows whose source is flagged as a proxy.
    pub src_proxy: u64,
    /// Flows whose destination is flagged as a proxy.
    pub dst_proxy: u64,
    /// Flows per Tor role.
    pub roles: Counts,
    /// Flows whose label was guessed from the port.
    pub guessed: u64,
    /// Flows per destination country, for the ports of [`PORT_COUNTRY_PORTS`].
    pub port_countries: FastMap<u64, Counts>,
    /// Flows and failed flows per hour of the measurement (hour start, ms).
    pub timeline: FastMap<u64, [u64; 2]>,
    /// Flows per hour of the measurement and destination port.
    pub hour_ports: FastMap<(u64, u64), u64>,
    /// Flows per hour of the measurement (hour start, ms), counted from
    /// every row or hourly total (ports folded under the strict profile
    /// are in it too).
    pub hour_flows: FastMap<u64, u64>,
}

/// Ports whose flows are also counted by destination country (the study's
/// XMPP question: port 5222 went to NL, UK and CH).
pub const PORT_COUNTRY_PORTS: &[u64] = &[5222];

/// The slices of a node's flows, disjoint: exit flows of more than 4
/// packets (the study's denominator), failed exit flows, and the same for
/// every other role (`exitflow_output::aggregate::SCOPES`).
pub const EXIT: usize = 0;
/// Failed exit flows.
pub const EXIT_FAILED: usize = 1;
/// Flows of other roles, more than 4 packets.
pub const OTHER: usize = 2;
/// Failed flows of other roles.
pub const OTHER_FAILED: usize = 3;

/// One node's (or all nodes') aggregates, by slice.
#[derive(Clone, Debug, Default, Serialize)]
pub struct NodeAgg {
    /// Indexed by [`EXIT`], [`EXIT_FAILED`], [`OTHER`], [`OTHER_FAILED`].
    pub slices: [Agg; 4],
}

impl NodeAgg {
    /// Adds another node's slices.
    pub fn merge(&mut self, o: &NodeAgg) {
        for (a, b) in self.slices.iter_mut().zip(&o.slices) {
            a.merge(b);
        }
    }

    /// The merge of the slices named.
    pub fn sum_of(&self, which: &[usize]) -> Agg {
        let mut a = Agg::default();
        for &i in which {
            a.merge(&self.slices[i]);
        }
        a
    }

    /// Derives each slice's flows per port and per hour from its flows per
    /// (hour, port), the one count the scan keeps per row.
    pub fn finish(&mut self) {
        for (i, s) in self.slices.iter_mut().enumerate() {
            let failed = i == EXIT_FAILED || i == OTHER_FAILED;
            s.dst_ports.clear();
            s.timeline.clear();
            for (&(h, p), &n) in &s.hour_ports {
                *s.dst_ports.entry(p).or_default() += n;
                let e = s.timeline.entry(h).or_default();
                e[0] += n;
                if failed {
                    e[1] += n;
                }
            }
        }
    }

    /// Every flow on the interface.
    pub fn all(&self) -> Agg {
        self.sum_of(&[EXIT, EXIT_FAILED, OTHER, OTHER_FAILED])
    }

    /// Exit flows, failed or not.
    pub fn exit(&self) -> Agg {
        self.sum_of(&[EXIT, EXIT_FAILED])
    }

    /// Whether any flow has the exit role (the relay's addresses were known).
    pub fn has_exit_flows(&self) -> bool {
        self.slices[EXIT].flows + self.slices[EXIT_FAILED].flows > 0
    }

    /// The study's denominator: exit flows of more than 4 packets; when no
    /// flow has the exit role (relay addresses unknown), every flow of more
    /// than 4 packets.
    pub fn study(&self) -> Agg {
        if self.has_exit_flows() {
            self.slices[EXIT].clone()
        } else {
            self.sum_of(&[EXIT, OTHER])
        }
    }
}

impl Agg {
    fn merge(&mut self, o: &Agg) {
        self.flows += o.flows;
        self.failed_flows += o.failed_flows;
        self.packets += o.packets;
        self.bytes += o.bytes;
        self.duration_ms += o.duration_ms;
        self.bucketed_flows += o.bucketed_flows;
        self.dataset_bytes += o.dataset_bytes;
        self.exact_volume |= o.exact_volume;
        self.guessed += o.guessed;
        for (p, c) in &o.port_countries {
            let mine = self.port_countries.entry(*p).or_default();
            for (k, v) in c {
                *mine.entry(k.clone()).or_default() += v;
            }
        }
        for (h, [f, x]) in &o.timeline {
            let e = self.timeline.entry(*h).or_default();
            e[0] += f;
            e[1] += x;
        }
        for (k, v) in &o.hour_ports {
            *self.hour_ports.entry(*k).or_default() += v;
        }
        for (k, v) in &o.hour_flows {
            *self.hour_flows.entry(*k).or_default() += v;
        }
        self.packets_clipped += o.packets_clipped;
        self.bytes_clipped += o.bytes_clipped;
        self.duration_clipped_ms += o.duration_clipped_ms;
        self.http_flows += o.http_flows;
        self.src_proxy += o.src_proxy;
        self.dst_proxy += o.dst_proxy;
        for (a, b) in self.hours_utc.iter_mut().zip(o.hours_utc) {
            *a += b;
        }
        for (a, b) in self.hours_local.iter_mut().zip(o.hours_local) {
            *a += b;
        }
        for (k, v) in &o.dst_ports {
            *self.dst_ports.entry(*k).or_default() += v;
        }
        for (mine, theirs) in [
            (&mut self.applications, &o.applications),
            (&mut self.categories, &o.categories),
            (&mut self.dst_countries, &o.dst_countries),
            (&mut self.src_countries, &o.src_countries),
            (&mut self.user_agents, &o.user_agents),
            (&mut self.content_types, &o.content_types),
            (&mut self.roles, &o.roles),
        ] {
            for (k, v) in theirs {
                *mine.entry(k.clone()).or_default() += v;
            }
        }
    }

    /// Share of flows (percent) whose label's master protocol is `master`.
    pub fn master_share(&self, master: &str) -> f64 {
        let n: u64 = self
            .applications
            .iter()
            .filter(|(k, _)| k.split('.').next() == Some(master))
            .map(|(_, v)| v)
            .sum();
        pct(n, self.flows)
    }
}

/// Percent, 0 when the whole is 0.
pub fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// The largest entries of a counter, ties broken by name.
pub fn top(c: &Counts, n: usize) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = c.iter().map(|(k, v)| (k.clone(), *v)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

/// Everything the report shows.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// Per node.
    pub nodes: BTreeMap<String, NodeAgg>,
    /// All nodes together.
    pub all: NodeAgg,
    /// What the files say about how they were made (metadata values seen).
    pub how: HowMade,
    /// Parquet files read.
    pub files: u64,
    /// How the numbers were protected for publication, if they were.
    pub publication: Option<serde_json::Value>,
    /// Each node's time zone used for local hours (`Filter::zones`).
    #[serde(skip)]
    pub zones: BTreeMap<String, Zone>,
    /// Each node's exact packets and bytes (interface-wide), from its
    /// totals file, when no time filter applies.
    pub volumes: BTreeMap<String, (u64, u64)>,
    /// Each node's exit policy as recorded in its totals (public data).
    pub exit_policies: BTreeMap<String, exitflow_output::ExitPolicyNote>,
    /// Each node's k-anonymity counts from its totals: flows taken, flows
    /// generalised, flows withheld (suppressed), strict flows folded.
    pub anonymity: BTreeMap<String, [u64; 4]>,
}

/// How the dataset was made, from its files' metadata: every distinct
/// value of each key.
#[derive(Clone, Debug, Default, Serialize)]
pub struct HowMade {
    /// exitflow versions.
    pub versions: std::collections::BTreeSet<String>,
    /// Privacy policies.
    pub policies: std::collections::BTreeSet<String>,
    /// GeoIP databases and their build dates.
    pub geoip: std::collections::BTreeSet<String>,
    /// Flow timeouts.
    pub timeouts: std::collections::BTreeSet<String>,
    /// Some file was written from synthetic traffic (`exitflow demo`).
    pub synthetic: bool,
    /// Some file does not say which privacy policy wrote it.
    pub unlabelled: bool,
}

impl HowMade {
    fn merge(&mut self, o: HowMade) {
        self.versions.extend(o.versions);
        self.policies.extend(o.policies);
        self.geoip.extend(o.geoip);
        self.timeouts.extend(o.timeouts);
        self.synthetic |= o.synthetic;
        self.unlabelled |= o.unlabelled;
    }
}

/// File metadata keys read into [`HowMade`].
pub mod meta_keys {
    /// exitflow's version.
    pub const VERSION: &str = "exitflow.version";
    /// The privacy policy.
    pub const POLICY: &str = "exitflow.policy";
    /// GeoIP databases.
    pub const GEOIP: &str = "exitflow.geoip";
    /// Flow timeouts.
    pub const TIMEOUTS: &str = "exitflow.timeouts";
    /// `true` in files written from synthetic traffic.
    pub const SYNTHETIC: &str = "exitflow.synthetic";
}

fn bump(c: &mut Counts, k: &str) {
    if let Some(v) = c.get_mut(k) {
        *v += 1;
    } else {
        c.insert(k.to_owned(), 1);
    }
}

/// The dataset files under the given roots: `(node, path)`.
pub fn dataset_files(
    roots: &[PathBuf],
    filter: &Filter,
) -> Result<Vec<(String, PathBuf)>, AnalyzeError> {
    let mut out = Vec::new();
    let io = |p: &Path| {
        let p = p.to_owned();
        move |source| AnalyzeError::Io { path: p, source }
    };
    for root in roots {
        for node_dir in std::fs::read_dir(root).map_err(io(root))? {
            let node_dir = node_dir.map_err(io(root))?.path();
            let name = node_dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let Some(node) = layout::node_of(name) else {
                continue;
            };
            if !filter.nodes.is_empty() && !filter.nodes.iter().any(|n| n == node) {
                continue;
            }
            for date_dir in std::fs::read_dir(&node_dir).map_err(io(&node_dir))? {
                let date_dir = date_dir.map_err(io(&node_dir))?.path();
                if !date_dir.is_dir() {
                    continue;
                }
                if let Some((lo, hi)) = filter.days {
                    let day = date_dir
                        .file_name()
                        .and_then(|n| n.to_str())
                        .and_then(|n| n.strip_prefix(layout::DATE_PREFIX))
                        .and_then(exitflow_output::dataset::parse_utc_date);
                    if day.is_none_or(|d| d < lo || d >= hi) {
                        continue;
                    }
                }
                for f in std::fs::read_dir(&date_dir).map_err(io(&date_dir))? {
                    let f = f.map_err(io(&date_dir))?.path();
                    let fname = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    if layout::is_data_file(fname) {
                        out.push((node.to_owned(), f));
                    }
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The columns the report reads (and no others).
const COLUMNS: &[Col] = &[
    Col::AppName,
    Col::AppCategory,
    Col::BiPackets,
    Col::BiBytes,
    Col::BiFirstSeen,
    Col::BiDuration,
    Col::DstPort,
    Col::Failed,
    Col::DstCountry,
    Col::SrcCountry,
    Col::SrcIsProxy,
    Col::DstIsProxy,
    Col::UserAgent,
    Col::ContentType,
    Col::TorRole,
    Col::AppGuessed,
];

/// Reads every file once, only the needed columns, batch by batch.
pub fn scan(roots: &[PathBuf], filter: &Filter) -> Result<Report, AnalyzeError> {
    scan_with_progress(roots, filter, &|_, _| {})
}

/// [`scan`], telling `progress` the files done and the files in all after each file.
pub fn scan_with_progress(
    roots: &[PathBuf],
    filter: &Filter,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Report, AnalyzeError> {
    let files = dataset_files(roots, filter)?;
    if files.is_empty() {
        return Err(AnalyzeError::empty(roots));
    }
    // Files are shared out to one thread per core through an atomic index
    // (they differ in size); each thread keeps its own aggregates, merged
    // at the end: sums, so the result does not depend on the order.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len())
        .max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::atomic::AtomicUsize::new(0);
    type Scanned = (BTreeMap<String, NodeAgg>, HowMade);
    // Sidecars count whole hours: usable unless asked for rows, or a time
    // filter cuts an hour.
    let whole_hour = |t: Option<u64>| t.is_none_or(|t| t % 3_600_000 == 0);
    let use_sidecars = !filter.rows && whole_hour(filter.from_ms) && whole_hour(filter.to_ms);
    let results: Vec<Result<Scanned, AnalyzeError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut nodes: BTreeMap<String, NodeAgg> = BTreeMap::new();
                    let mut how = HowMade::default();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((node, path)) = files.get(i) else {
                            return Ok((nodes, how));
                        };
                        let agg = nodes.entry(node.clone()).or_default();
                        let tz = filter.zones.get(node).cloned().unwrap_or_default();
                        // A part's sidecar holds the same flows as hourly
                        // tables: far fewer rows to read.
                        let side = layout::sidecar_of(path);
                        let read = if use_sidecars && side.is_file() {
                            side.as_path()
                        } else {
                            path.as_path()
                        };
                        if let Err(e) = scan_file(read, path, filter, &tz, agg, &mut how) {
                            // Let the other threads stop early too.
                            next.store(usize::MAX / 2, std::sync::atomic::Ordering::Relaxed);
                            return Err(e);
                        }
                        let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                        progress(d, files.len());
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a report thread panicked"))
            .collect()
    });
    let mut report = Report {
        zones: filter.zones.clone(),
        files: files.len() as u64,
        ..Report::default()
    };
    for r in results {
        let (nodes, how) = r?;
        for (node, agg) in nodes {
            report.nodes.entry(node).or_default().merge(&agg);
        }
        report.how.merge(how);
    }
    for n in report.nodes.values_mut() {
        n.finish();
    }
    if filter.from_ms.is_none() && filter.to_ms.is_none() {
        exact_totals(roots, &mut report)?;
    }
    exit_policies(roots, &mut report)?;
    for a in report.nodes.values() {
        report.all.merge(a);
    }
    Ok(report)
}

/// Packets and bytes from each node's totals (`_totals.json`), which are
/// exact, where the rows hold power-of-two buckets (the default profile).
/// Only without a time filter: the totals cover every flow of the node.
fn exact_totals(roots: &[PathBuf], report: &mut Report) -> Result<(), AnalyzeError> {
    for node in report.nodes.keys() {
        let mut sum: Option<(u64, u64)> = None;
        for root in roots {
            let path = layout::node_dir(root, node).join(layout::TOTALS_FILE);
            let t = exitflow_output::dataset::read_totals(&path).map_err(AnalyzeError::Totals)?;
            if let Some(t) = t {
                let (p, b) = sum.unwrap_or((0, 0));
                sum = Some((p + t.packets, b + t.bytes));
            }
        }
        if let Some(v) = sum {
            report.volumes.insert(node.clone(), v);
        }
    }
    Ok(())
}

/// The exit policy each node recorded last (from any of the roots).
fn exit_policies(roots: &[PathBuf], report: &mut Report) -> Result<(), AnalyzeError> {
    for node in report.nodes.keys() {
        for root in roots {
            let path = layout::node_dir(root, node).join(layout::TOTALS_FILE);
            let t = exitflow_output::dataset::read_totals(&path).map_err(AnalyzeError::Totals)?;
            let Some(t) = t else { continue };
            let a = report.anonymity.entry(node.clone()).or_default();
            for (x, v) in a.iter_mut().zip([
                t.flows,
                t.generalised_flows,
                t.suppressed_flows,
                t.folded_flows,
            ]) {
                *x += v;
            }
            if let Some(p) = t.exit_policy {
                report.exit_policies.insert(node.clone(), p);
            }
        }
    }
    Ok(())
}

fn scan_file(
    path: &Path,
    data: &Path,
    filter: &Filter,
    tz: &Zone,
    node: &mut NodeAgg,
    how: &mut HowMade,
) -> Result<(), AnalyzeError> {
    let pq = |source: parquet::errors::ParquetError| AnalyzeError::Parquet {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(|source| AnalyzeError::Io {
        path: path.to_owned(),
        source,
    })?;
    node.slices[EXIT].dataset_bytes += std::fs::metadata(data).map_or(0, |m| m.len());
    use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
    let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(pq)?;
    // The strict profile's files and the parts' sidecars are hourly
    // aggregate tables, read whole; flow rows are read for the report's
    // columns only, their strings as the dictionaries Parquet stores, so the
    // scan counts dictionary keys and looks each string up once per batch.
    let is_agg = meta.schema().field_with_name(agg_cols::DIMENSION).is_ok();
    let meta = if is_agg {
        meta
    } else {
        let dict = arrow_schema::DataType::Dictionary(
            Box::new(arrow_schema::DataType::Int32),
            Box::new(arrow_schema::DataType::Utf8),
        );
        let fields: Vec<arrow_schema::Field> = meta
            .schema()
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                arrow_schema::DataType::Utf8 => f.as_ref().clone().with_data_type(dict.clone()),
                _ => f.as_ref().clone(),
            })
            .collect();
        let schema = std::sync::Arc::new(arrow_schema::Schema::new_with_metadata(
            fields,
            meta.schema().metadata().clone(),
        ));
        ArrowReaderMetadata::try_new(
            meta.metadata().clone(),
            ArrowReaderOptions::new().with_schema(schema),
        )
        .map_err(pq)?
    };
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, meta);
    let mut labelled = false;
    for kv in builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .into_iter()
        .flatten()
    {
        if kv.key == meta_keys::SYNTHETIC && kv.value.as_deref() == Some("true") {
            how.synthetic = true;
        }
        let set = match kv.key.as_str() {
            meta_keys::VERSION => &mut how.versions,
            meta_keys::POLICY => &mut how.policies,
            meta_keys::GEOIP => &mut how.geoip,
            meta_keys::TIMEOUTS => &mut how.timeouts,
            _ => continue,
        };
        labelled |= kv.key == meta_keys::POLICY && kv.value.is_some();
        if let Some(v) = &kv.value
            && !set.contains(v)
        {
            set.insert(v.clone());
        }
    }
    how.unlabelled |= !labelled;
    // Counts as power-of-two buckets (default, strict): see `Agg::bucketed_flows`.
    let coarse = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .into_iter()
        .flatten()
        .any(|kv| {
            kv.key == meta_keys::POLICY
                && kv
                    .value
                    .as_deref()
                    .is_some_and(|v| v.split(' ').any(|w| w == "coarse_counts=true"))
        });
    let schema = builder.parquet_schema();
    let builder = if is_agg {
        builder
    } else {
        let wanted: Vec<usize> = (0..schema.num_columns())
            .filter(|i| COLUMNS.iter().any(|c| c.name() == schema.column(*i).name()))
            .collect();
        let mask = ProjectionMask::leaves(schema, wanted);
        builder.with_projection(mask)
    };
    let reader = builder
        .with_batch_size(DEFAULT_BATCH_ROWS)
        .build()
        .map_err(pq)?;
    for batch in reader {
        let batch = batch.map_err(|source| AnalyzeError::Arrow {
            path: path.to_owned(),
            source,
        })?;
        if is_agg {
            add_aggregates(&batch, filter, tz, coarse, node);
        } else {
            add_batch(&batch, filter, tz, coarse, node);
        }
    }
    Ok(())
}

/// The hour of the day of `t` (ms, UTC) shifted by `tz_ms`.
fn hour_of_day(t: u64, tz_ms: i64) -> usize {
    ((t as i64 + tz_ms).rem_euclid(86_400_000) / 3_600_000) as usize
}

/// Adds a batch of an aggregate file (scope, dimension, value, sums per hour).
fn add_aggregates(b: &RecordBatch, filter: &Filter, tz: &Zone, coarse: bool, node: &mut NodeAgg) {
    let mut local = zone::LocalClock::new(tz);
    let u = |n: &str| {
        b.column_by_name(n)
            .map(|c| c.as_primitive::<UInt64Type>().clone())
    };
    let s = |n: &str| b.column_by_name(n).map(|c| c.as_string::<i32>().clone());
    let (Some(hour), Some(dim), Some(value), Some(flows)) = (
        u(agg_cols::HOUR),
        s(agg_cols::DIMENSION),
        s(agg_cols::VALUE),
        u(agg_cols::FLOWS),
    ) else {
        return;
    };
    let scope = s(agg_cols::SCOPE);
    let get = |c: &Option<arrow_array::UInt64Array>, i: usize| c.as_ref().map_or(0, |a| a.value(i));
    let (failed, pk, by, du) = (
        u(agg_cols::FAILED),
        u(agg_cols::PACKETS),
        u(agg_cols::BYTES),
        u(agg_cols::DURATION),
    );
    let (pkc, byc, duc) = (
        u(agg_cols::PACKETS_CLIPPED),
        u(agg_cols::BYTES_CLIPPED),
        u(agg_cols::DURATION_CLIPPED),
    );
    let (exf, exd) = (
        u(agg_cols::EXACT_DURATION_FLOWS),
        u(agg_cols::EXACT_DURATION),
    );
    for i in 0..b.num_rows() {
        let t = hour.value(i);
        if filter.from_ms.is_some_and(|f| t < f) || filter.to_ms.is_some_and(|to| t >= to) {
            continue;
        }
        // Files without scopes (older) count as other roles.
        let slice = scope.as_ref().map_or(OTHER, |c| {
            exitflow_output::aggregate::SCOPES
                .iter()
                .position(|x| *x == c.value(i))
                .unwrap_or(OTHER)
        });
        let agg = &mut node.slices[slice];
        let (d, v, n) = (dim.value(i), value.value(i), flows.value(i));
        let add = |c: &mut Counts| *c.entry(v.to_owned()).or_default() += n;
        match d {
            "total" => {
                agg.flows += n;
                agg.failed_flows += get(&failed, i);
                agg.packets += get(&pk, i);
                agg.bytes += get(&by, i);
                // Durations: the exact estimate for the ef flows it covers
                // (no bucket's bias), the buckets' share for the rest.
                let ef = get(&exf, i).min(n);
                let du_rows = get(&du, i);
                agg.duration_ms += get(&exd, i)
                    + (u128::from(du_rows) * u128::from(n - ef) / u128::from(n.max(1))) as u64;
                if coarse {
                    agg.bucketed_flows += n - ef;
                }
                agg.packets_clipped += get(&pkc, i);
                agg.bytes_clipped += get(&byc, i);
                agg.duration_clipped_ms += get(&duc, i);
                agg.hours_utc[hour_of_day(t, 0)] += n;
                agg.hours_local[local.hour_of_day(t)] += n;
                *agg.hour_flows.entry(t - t % 3_600_000).or_default() += n;
            }
            "application" => {
                add(&mut agg.applications);
                let master = v.split('.').next().unwrap_or("");
                if master == "HTTP" || master == "HTTP_Proxy" {
                    agg.http_flows += n;
                }
            }
            "category" => add(&mut agg.categories),
            "dst_country" => add(&mut agg.dst_countries),
            "src_country" => add(&mut agg.src_countries),
            "tor_role" => add(&mut agg.roles),
            "user_agent" => add(&mut agg.user_agents),
            "content_type" => add(&mut agg.content_types),
            "guessed" if v == "1" => agg.guessed += n,
            "dst_port" => {
                if let Ok(p) = v.parse::<u64>() {
                    *agg.hour_ports.entry((t - t % 3_600_000, p)).or_default() += n;
                }
            }
            "dst_port_country" => {
                if let Some((p, c)) = v.split_once('/')
                    && let Ok(p) = p.parse::<u64>()
                    && PORT_COUNTRY_PORTS.contains(&p)
                {
                    *agg.port_countries
                        .entry(p)
                        .or_default()
                        .entry(c.to_owned())
                        .or_default() += n;
                }
            }
            "proxy" if v == "src" => agg.src_proxy += n,
            "proxy" if v == "dst" => agg.dst_proxy += n,
            _ => {}
        }
    }
}

/// A string column of a batch: dictionary keys per row and the values.
struct StrCol {
    /// Dictionary keys; `None`: plain strings, each row its own key.
    keys: Option<arrow_array::Int32Array>,
    valid: Option<arrow_array::BooleanArray>,
    values: arrow_array::StringArray,
}

impl StrCol {
    fn of(b: &RecordBatch, c: Col) -> Option<StrCol> {
        let col = b.column_by_name(c.name())?;
        Some(
            match col.as_dictionary_opt::<arrow_array::types::Int32Type>() {
                Some(d) => StrCol {
                    // A null key's slot may hold anything: it is never read.
                    keys: Some(d.keys().clone()),
                    valid: d.keys().nulls().map(|n| n.inner().clone().into()),
                    values: d.values().as_string::<i32>().clone(),
                },
                None => {
                    // Not dictionary-encoded: each row its own key.
                    let v = col.as_string::<i32>().clone();
                    StrCol {
                        keys: None,
                        valid: v.nulls().map(|n| n.inner().clone().into()),
                        values: v,
                    }
                }
            },
        )
    }

    fn n_keys(&self) -> usize {
        self.values.len()
    }

    fn key(&self, i: usize) -> usize {
        self.keys
            .as_ref()
            .map_or(i, |k| usize::try_from(k.value(i)).unwrap_or(0))
    }

    fn is_valid(&self, i: usize) -> bool {
        self.valid.as_ref().is_none_or(|v| v.value(i))
    }
}

/// Per-batch counts per (slice, dictionary key), added to the counters
/// once per distinct key at the end of the batch.
struct KeyCounts {
    n: usize,
    counts: Vec<u64>,
}

impl KeyCounts {
    fn new(n: usize) -> KeyCounts {
        KeyCounts {
            n,
            counts: vec![0; 4 * n],
        }
    }

    fn add(&mut self, slice: usize, key: usize) {
        self.counts[slice * self.n + key] += 1;
    }

    fn flush(&self, col: &StrCol, node: &mut NodeAgg, pick: impl Fn(&mut Agg) -> &mut Counts) {
        for slice in 0..4 {
            for k in 0..self.n {
                let v = self.counts[slice * self.n + k];
                if v > 0 {
                    let c = pick(&mut node.slices[slice]);
                    let name = col.values.value(k);
                    match c.get_mut(name) {
                        Some(x) => *x += v,
                        None => {
                            c.insert(name.to_owned(), v);
                        }
                    }
                }
            }
        }
    }
}

fn add_batch(b: &RecordBatch, filter: &Filter, tz: &Zone, coarse: bool, node: &mut NodeAgg) {
    let mut local = zone::LocalClock::new(tz);
    let n = b.num_rows();
    let u = |c: Col| {
        b.column_by_name(c.name())
            .map(|c| c.as_primitive::<UInt64Type>().clone())
    };
    let bo = |c: Col| b.column_by_name(c.name()).map(|c| c.as_boolean().clone());
    let (pk, by, first, dur, port) = (
        u(Col::BiPackets),
        u(Col::BiBytes),
        u(Col::BiFirstSeen),
        u(Col::BiDuration),
        u(Col::DstPort),
    );
    let (failed, sp, dp, guessed) = (
        bo(Col::Failed),
        bo(Col::SrcIsProxy),
        bo(Col::DstIsProxy),
        bo(Col::AppGuessed),
    );
    let app = StrCol::of(b, Col::AppName);
    let cols = [
        StrCol::of(b, Col::AppCategory),
        StrCol::of(b, Col::DstCountry),
        StrCol::of(b, Col::SrcCountry),
        StrCol::of(b, Col::TorRole),
        StrCol::of(b, Col::UserAgent),
        StrCol::of(b, Col::ContentType),
    ];
    let [_, dc, _, role, _, _] = &cols;
    // Per dictionary key, computed once: is the label HTTP, is the role exit.
    let http_key: Vec<bool> = app.as_ref().map_or(Vec::new(), |a| {
        (0..a.n_keys())
            .map(|k| {
                let m = a.values.value(k).split('.').next().unwrap_or("");
                m == "HTTP" || m == "HTTP_Proxy"
            })
            .collect()
    });
    let exit_key: Vec<bool> = role.as_ref().map_or(Vec::new(), |r| {
        (0..r.n_keys())
            .map(|k| r.values.value(k) == "exit")
            .collect()
    });
    let counts = |c: &Option<StrCol>| KeyCounts::new(c.as_ref().map_or(0, StrCol::n_keys));
    let mut app_c = counts(&app);
    let mut col_c: Vec<KeyCounts> = cols.iter().map(counts).collect();
    let mut unknown_app = [0u64; 4];
    let mut missing_role = [0u64; 4];
    // Flows per hour, run-length counted (a batch rarely spans two hours).
    let mut run: [(u64, u64); 4] = [(0, 0); 4];
    for i in 0..n {
        let t = first.as_ref().map_or(0, |a| a.value(i));
        if filter.from_ms.is_some_and(|f| t < f) || filter.to_ms.is_some_and(|to| t >= to) {
            continue;
        }
        let is_failed = failed.as_ref().is_some_and(|a| a.value(i));
        let is_exit = role
            .as_ref()
            .is_some_and(|r| r.is_valid(i) && exit_key[r.key(i)]);
        let slice = usize::from(!is_exit) * 2 + usize::from(is_failed);
        let agg = &mut node.slices[slice];
        agg.flows += 1;
        let (p, bb, d) = (
            pk.as_ref().map_or(0, |a| a.value(i)),
            by.as_ref().map_or(0, |a| a.value(i)),
            dur.as_ref().map_or(0, |a| a.value(i)),
        );
        agg.packets += p;
        agg.bytes += bb;
        agg.duration_ms += d;
        agg.bucketed_flows += u64::from(coarse);
        agg.packets_clipped += p.min(publish::PACKETS_CLIP);
        agg.bytes_clipped += bb.min(publish::BYTES_CLIP);
        agg.duration_clipped_ms += d.min(publish::DURATION_CLIP_MS);
        agg.failed_flows += u64::from(is_failed);
        agg.src_proxy += u64::from(sp.as_ref().is_some_and(|a| a.value(i)));
        agg.dst_proxy += u64::from(dp.as_ref().is_some_and(|a| a.value(i)));
        agg.guessed += u64::from(guessed.as_ref().is_some_and(|a| a.value(i)));
        agg.hours_utc[hour_of_day(t, 0)] += 1;
        agg.hours_local[local.hour_of_day(t)] += 1;
        let hour = t - t % 3_600_000;
        let r = &mut run[slice];
        if r.0 != hour && r.1 > 0 {
            *agg.hour_flows.entry(r.0).or_default() += r.1;
            r.1 = 0;
        }
        r.0 = hour;
        r.1 += 1;
        let mut is_http = false;
        match &app {
            Some(a) if a.is_valid(i) => {
                let k = a.key(i);
                app_c.add(slice, k);
                is_http = http_key[k];
            }
            _ => unknown_app[slice] += 1,
        }
        for (j, c) in cols.iter().enumerate().take(4) {
            if let Some(c) = c
                && c.is_valid(i)
            {
                col_c[j].add(slice, c.key(i));
            }
        }
        if role.as_ref().is_none_or(|r| !r.is_valid(i)) {
            missing_role[slice] += 1;
        }
        if let Some(pp) = &port {
            let pv = pp.value(i);
            // One count per row: ports and the hourly series are sums of it.
            *agg.hour_ports.entry((hour, pv)).or_default() += 1;
            if PORT_COUNTRY_PORTS.contains(&pv) {
                let country = dc
                    .as_ref()
                    .filter(|c| c.is_valid(i))
                    .map_or("unknown", |c| c.values.value(c.key(i)));
                bump(agg.port_countries.entry(pv).or_default(), country);
            }
        }
        if is_http {
            agg.http_flows += 1;
            for j in [4, 5] {
                if let Some(c) = &cols[j]
                    && c.is_valid(i)
                {
                    col_c[j].add(slice, c.key(i));
                }
            }
        }
    }
    for (slice, (hour, n)) in run.iter().enumerate() {
        if *n > 0 {
            *node.slices[slice].hour_flows.entry(*hour).or_default() += n;
        }
    }
    if let Some(a) = &app {
        app_c.flush(a, node, |g| &mut g.applications);
    }
    for (slice, v) in unknown_app.iter().enumerate() {
        if *v > 0 {
            *node.slices[slice]
                .applications
                .entry("Unknown".into())
                .or_default() += v;
        }
    }
    for (slice, v) in missing_role.iter().enumerate() {
        if *v > 0 {
            *node.slices[slice].roles.entry("other".into()).or_default() += v;
        }
    }
    let picks: [fn(&mut Agg) -> &mut Counts; 6] = [
        |g| &mut g.categories,
        |g| &mut g.dst_countries,
        |g| &mut g.src_countries,
        |g| &mut g.roles,
        |g| &mut g.user_agents,
        |g| &mut g.content_types,
    ];
    for ((c, kc), pick) in cols.iter().zip(&col_c).zip(picks) {
        if let Some(c) = c {
            kc.flush(c, node, pick);
        }
    }
}

/// The busiest destination ports.
pub fn top_ports(a: &Agg, n: usize) -> Vec<(u64, u64)> {
    let mut v: Vec<(u64, u64)> = a.dst_ports.iter().map(|(k, v)| (*k, *v)).collect();
    v.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    v.truncate(n);
    v
}

/// Content-type families among HTTP flows: (family, flows), plus the flows
/// without a content type.
///
/// (See [`content_type_family`] for the families.)
pub fn content_type_families(a: &Agg) -> (Vec<(String, u64)>, u64) {
    let mut fam = Counts::default();
    let mut with = 0;
    for (k, v) in &a.content_types {
        with += v;
        let f = content_type_family(k);
        *fam.entry(f).or_default() += v;
    }
    (top(&fam, 10), a.http_flows.saturating_sub(with))
}

/// The family of a content type: its top-level type when it is text,
/// application, image, audio or video, else `other`.
pub fn content_type_family(ct: &str) -> String {
    let f = ct
        .split('/')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match f.as_str() {
        "text" | "application" | "image" | "audio" | "video" => f,
        _ => "other".into(),
    }
}

/// A published study's figures (data/published.toml).
#[derive(Clone, Debug, serde::Deserialize, Serialize)]
pub struct Published {
    /// Short name (authors and year).
    pub name: String,
    /// Authors.
    pub authors: String,
    /// Title.
    pub title: String,
    /// Where it was published.
    pub venue: String,
    /// Year.
    pub year: u32,
    /// Where the publication contradicts itself, and other caveats.
    #[serde(default)]
    pub notes: Vec<String>,
    /// Figures by key (the report's JSON keys).
    pub figures: BTreeMap<String, f64>,
    /// What 100 % is for each figure.
    #[serde(default)]
    pub denominators: BTreeMap<String, String>,
    /// Where in the publication each figure is.
    #[serde(default, rename = "where")]
    pub place: BTreeMap<String, String>,
    /// Where a figure does not add up with the publication's own counts or
    /// text, shown beside the figure.
    #[serde(default)]
    pub figure_notes: BTreeMap<String, String>,
}

impl Published {
    /// The full citation.
    pub fn citation(&self) -> String {
        format!(
            "{}: {}. {}, {}.",
            self.authors, self.title, self.venue, self.year
        )
    }
}

/// The published studies compared with.
pub fn published() -> Vec<Published> {
    #[derive(serde::Deserialize)]
    struct File {
        study: Vec<Published>,
    }
    let f: File =
        toml::from_str(include_str!("../data/published.toml")).expect("data/published.toml parses");
    f.study
}

#[cfg(test)]
mod tests;
