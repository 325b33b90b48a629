//! Safe publication of a report (`--publish`): ε-differential privacy with
//! the flow as the unit of privacy, stated in a ledger that lists every
//! noisy release and equals what the code draws.
//!
//! - **Neighbouring datasets** differ by one flow. A user with many flows is
//!   protected as many flows: divide ε by the flows one user may contribute.
//! - **Histograms** (protocols, categories, countries, ports, user-agent
//!   families, content-type families, Tor roles, hours) are released over a
//!   *fixed public vocabulary*: every bin of the vocabulary gets noise,
//!   whether or not it occurs, so a value's presence says nothing; a flow
//!   adds 1 to one bin, so a histogram costs ε once (parallel composition).
//!   Bins whose noisy count is under k are then folded into Other and counts
//!   rounded up (post-processing, free). Open-ended values (server names,
//!   raw user-agents, `Master.App` labels, raw content types) are not
//!   released at all.
//! - **Counts** (flows, failed, HTTP, proxy-flagged) have sensitivity 1.
//! - **Sums** (packets, bytes, durations) are of per-flow values clipped at
//!   [`PACKETS_CLIP`], [`BYTES_CLIP`], [`DURATION_CLIP_MS`]; the clip is the
//!   sensitivity.
//! - **Composition:** a flow is in its node's aggregate and in the combined
//!   one, and in every statistic of each: the report's ε is the sum of the
//!   ledger's entries (sequential composition), as the JSON states.
//! - **Noise** is derived with HKDF-SHA256 from a per-dataset secret
//!   (`_publish.secret` in the first dataset root, created once, mode 0600)
//!   and the statistic's name: publishing again releases the same numbers,
//!   so repeated runs cannot be averaged. Exact file counts and sizes are
//!   left out.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hkdf::Hkdf;
use serde::Serialize;
use sha2::Sha256;

use crate::{Agg, AnalyzeError, Counts, NodeAgg, Report};

/// Default ε per statistic (Tor's own statistics use 0.3).
pub const DEFAULT_EPSILON: f64 = 0.3;
/// Default threshold: bins with fewer (noisy) flows are folded into Other.
pub const DEFAULT_K: u64 = 10;
/// Default rounding: counts are rounded up to a multiple of this.
pub const DEFAULT_ROUND: u64 = 4;
/// Per-flow clips of the summed packets, bytes and durations (shared with
/// the strict profile's aggregate tables, which store the clipped sums).
pub use exitflow_output::aggregate::{BYTES_CLIP, DURATION_CLIP_MS, PACKETS_CLIP};
/// The per-dataset noise secret's file name, in the dataset root.
pub const SECRET_FILE: &str = "_publish.secret";
/// Bytes of the noise secret.
pub const SECRET_BYTES: usize = 32;

/// Publication settings.
#[derive(Clone, Debug)]
pub struct PublishConfig {
    /// ε per statistic; `None` for no noise (rounding and threshold only).
    pub epsilon: Option<f64>,
    /// Threshold.
    pub k: u64,
    /// Rounding step.
    pub round: u64,
    /// The secret noise is derived from.
    pub secret: [u8; SECRET_BYTES],
}

/// One noisy release.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Release {
    /// The flows it is computed from: one node's slice (`relay-1/exit`).
    /// Partitions are disjoint (a flow is in exactly one).
    pub partition: String,
    /// What was released (`applications`, `bytes`).
    pub statistic: String,
    /// Histogram, count or sum.
    pub kind: &'static str,
    /// Noise draws (bins of a histogram; 1 otherwise).
    pub draws: usize,
    /// How much one flow can change it (L1).
    pub sensitivity: f64,
    /// ε spent on it.
    pub epsilon: f64,
}

/// Every release of a report and what it costs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Ledger {
    /// The releases, in order.
    pub releases: Vec<Release>,
    /// Noise values drawn (the test compares it with the releases).
    #[serde(skip)]
    pub drawn: usize,
}

impl Ledger {
    /// Total ε of the report: statistics compose sequentially; the same
    /// statistic over disjoint partitions composes in parallel (one flow
    /// changes one partition's release only), so each statistic costs the
    /// largest ε of its releases. Totals over several partitions are sums
    /// of released values (post-processing, free).
    pub fn epsilon(&self) -> f64 {
        let mut by_stat: BTreeMap<&str, f64> = BTreeMap::new();
        for r in &self.releases {
            let e = by_stat.entry(r.statistic.as_str()).or_insert(0.0);
            *e = e.max(r.epsilon);
        }
        by_stat.values().sum()
    }
}

/// The dataset's publication secret: read from the first root, or created
/// there (owner-only) the first time.
pub fn dataset_secret(root: &Path) -> Result<[u8; SECRET_BYTES], AnalyzeError> {
    let path = root.join(SECRET_FILE);
    let io = |source| AnalyzeError::Io {
        path: path.clone(),
        source,
    };
    match std::fs::read(&path) {
        Ok(b) if b.len() == SECRET_BYTES => Ok(b.try_into().expect("length checked")),
        Ok(_) => Err(io(std::io::Error::other(format!(
            "expected {SECRET_BYTES} bytes; remove it to make a new secret (published numbers will change)"
        )))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut s = [0u8; SECRET_BYTES];
            getrandom::fill(&mut s).expect("the operating system provides random numbers");
            let mut o = std::fs::OpenOptions::new();
            o.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
            let mut f = o.open(&path).map_err(io)?;
            std::io::Write::write_all(&mut f, &s).map_err(io)?;
            Ok(s)
        }
        Err(e) => Err(io(e)),
    }
}

/// Laplace noise derived from the secret and the statistic's name.
struct Noise<'a> {
    cfg: &'a PublishConfig,
    hk: Hkdf<Sha256>,
    ledger: Ledger,
}

impl Noise<'_> {
    /// A uniform value in (0, 1) for `name`, the same every run.
    fn uniform(&self, name: &str) -> f64 {
        let mut b = [0u8; 8];
        self.hk
            .expand(name.as_bytes(), &mut b)
            .expect("8 bytes is a valid HKDF length");
        ((u64::from_le_bytes(b) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// `v` plus Laplace(sensitivity/ε) noise for `name` (clamped at 0).
    fn noisy(&mut self, name: &str, v: u64, sensitivity: f64) -> u64 {
        let Some(eps) = self.cfg.epsilon else {
            return v;
        };
        self.ledger.drawn += 1;
        let u = self.uniform(name) - 0.5;
        let x = -(sensitivity / eps) * u.signum() * (1.0 - 2.0 * u.abs()).ln();
        (v as f64 + x).round().max(0.0) as u64
    }

    fn record(&mut self, name: String, kind: &'static str, draws: usize, sensitivity: f64) {
        if let Some(eps) = self.cfg.epsilon {
            let (partition, statistic) = name
                .rsplit_once('/')
                .map_or((String::new(), name.clone()), |(p, s)| {
                    (p.to_owned(), s.to_owned())
                });
            self.ledger.releases.push(Release {
                partition,
                statistic,
                kind,
                draws,
                sensitivity,
                epsilon: eps,
            });
        }
    }

    /// A count of flows.
    fn count(&mut self, agg: &str, what: &str, v: u64) -> u64 {
        let name = format!("{agg}/{what}");
        let n = self.noisy(&name, v, 1.0);
        self.record(name, "count", 1, 1.0);
        round_up(n, self.cfg.round)
    }

    /// A sum of per-flow values clipped at `clip`.
    fn sum(&mut self, agg: &str, what: &str, v: u64, clip: u64) -> u64 {
        let name = format!("{agg}/{what}");
        let n = self.noisy(&name, v, clip as f64);
        self.record(name, "sum", 1, clip as f64);
        n
    }

    /// A histogram over `vocabulary`: every bin noised, small bins into
    /// Other (values outside the vocabulary are counted there too).
    fn histogram(&mut self, agg: &str, what: &str, c: &Counts, vocabulary: &[String]) -> Counts {
        let name = format!("{agg}/{what}");
        let in_voc: u64 = vocabulary
            .iter()
            .map(|k| c.get(k).copied().unwrap_or(0))
            .sum();
        let outside = c.values().sum::<u64>() - in_voc;
        let mut out = Counts::default();
        let mut other = 0u64;
        for key in vocabulary {
            let v = c.get(key).copied().unwrap_or(0);
            let n = self.noisy(&format!("{name}/{key}"), v, 1.0);
            if n >= self.cfg.k && key != "Other" {
                out.insert(key.clone(), round_up(n, self.cfg.round));
            } else {
                other += n;
            }
        }
        let o = self.noisy(&format!("{name}/(outside)"), outside, 1.0) + other;
        if o >= self.cfg.k {
            out.insert("Other".into(), round_up(o, self.cfg.round));
        }
        self.record(name, "histogram", vocabulary.len() + 1, 1.0);
        out
    }
}

fn round_up(v: u64, step: u64) -> u64 {
    v.div_ceil(step.max(1)) * step.max(1)
}

/// The public vocabularies released over.
struct Vocabularies {
    masters: Vec<String>,
    categories: Vec<String>,
    countries: Vec<String>,
    ports: Vec<String>,
    ua_families: Vec<String>,
    content_types: Vec<String>,
    roles: Vec<String>,
    hours: Vec<String>,
}

fn vocabularies() -> Vocabularies {
    let reg = exitflow_dpi::registry();
    let mut masters: Vec<String> = (0..reg.len())
        .map(|i| exitflow_dpi::ProtoId(i as u16).name().to_owned())
        .collect();
    let mut categories: Vec<String> = (0..reg.len())
        .map(|i| exitflow_dpi::ProtoId(i as u16).category().to_owned())
        .collect();
    for v in [&mut masters, &mut categories] {
        v.sort();
        v.dedup();
    }
    // Every two-letter code (a superset of ISO 3166-1), and the special values.
    let mut countries: Vec<String> = (b'A'..=b'Z')
        .flat_map(|a| (b'A'..=b'Z').map(move |b| String::from_utf8(vec![a, b]).unwrap()))
        .collect();
    countries.extend(
        [
            "private",
            "loopback",
            "link-local",
            "multicast",
            "unspecified",
            "unknown",
            exitflow_output::policy::WITHHELD,
        ]
        .map(String::from),
    );
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
    Vocabularies {
        masters,
        categories,
        countries,
        ports: (0..=u16::MAX).map(|p| p.to_string()).collect(),
        ua_families: exitflow_output::useragent::vocabulary(),
        content_types: strings(&["text", "application", "image", "audio", "video", "other"]),
        roles: exitflow_enrich::Role::ALL
            .iter()
            .map(|r| r.as_str().to_owned())
            .collect(),
        hours: (0..24).map(|h| h.to_string()).collect(),
    }
}

fn regroup(c: &Counts, key: impl Fn(&str) -> String) -> Counts {
    let mut out = Counts::default();
    for (k, v) in c {
        *out.entry(key(k)).or_default() += v;
    }
    out
}

fn hours(h: &[u64; 24]) -> Counts {
    h.iter()
        .enumerate()
        .map(|(i, v)| (i.to_string(), *v))
        .collect()
}

fn protect_agg(name: &str, a: &mut Agg, n: &mut Noise<'_>, voc: &Vocabularies) {
    a.flows = n.count(name, "flows", a.flows);
    a.failed_flows = n.count(name, "failed_flows", a.failed_flows);
    a.http_flows = n.count(name, "http_flows", a.http_flows);
    a.src_proxy = n.count(name, "src_proxy_flows", a.src_proxy);
    a.dst_proxy = n.count(name, "dst_proxy_flows", a.dst_proxy);
    a.packets = n.sum(name, "packets_clipped", a.packets_clipped, PACKETS_CLIP);
    a.bytes = n.sum(name, "bytes_clipped", a.bytes_clipped, BYTES_CLIP);
    a.duration_ms = n.sum(
        name,
        "duration_ms_clipped",
        a.duration_clipped_ms,
        DURATION_CLIP_MS,
    );
    a.exact_volume = false;
    a.dataset_bytes = 0;
    let masters = regroup(&a.applications, |k| {
        k.split('.').next().unwrap_or("").to_owned()
    });
    a.applications = n.histogram(name, "master_protocols", &masters, &voc.masters);
    a.categories = n.histogram(name, "categories", &a.categories, &voc.categories);
    a.dst_countries = n.histogram(name, "dst_countries", &a.dst_countries, &voc.countries);
    a.src_countries = n.histogram(name, "src_countries", &a.src_countries, &voc.countries);
    let ua = regroup(&a.user_agents, exitflow_output::useragent::family_only);
    a.user_agents = n.histogram(name, "user_agent_families", &ua, &voc.ua_families);
    let ct = regroup(&a.content_types, crate::content_type_family);
    a.content_types = n.histogram(name, "content_type_families", &ct, &voc.content_types);
    a.roles = n.histogram(name, "tor_roles", &a.roles, &voc.roles);
    a.guessed = n.count(name, "guessed_flows", a.guessed);
    for (port, c) in a.port_countries.iter_mut() {
        *c = n.histogram(
            name,
            &format!("dst_countries_of_port_{port}"),
            c,
            &voc.countries,
        );
    }
    // Per-hour series of the measurement period are not released: their
    // vocabulary (the hours) would come from the data.
    a.timeline.clear();
    a.hour_ports.clear();
    let ports: Counts = a
        .dst_ports
        .iter()
        .map(|(p, v)| (p.to_string(), *v))
        .collect();
    a.dst_ports = n
        .histogram(name, "dst_ports", &ports, &voc.ports)
        .into_iter()
        .filter_map(|(p, v)| Some((p.parse().ok()?, v)))
        .collect();
    for (what, h) in [
        ("hours_utc", &mut a.hours_utc),
        ("hours_local", &mut a.hours_local),
    ] {
        let c = n.histogram(name, what, &hours(h), &voc.hours);
        for (i, slot) in h.iter_mut().enumerate() {
            *slot = c.get(&i.to_string()).copied().unwrap_or(0);
        }
    }
}

/// Applies the publication rules to a report in place, records them and
/// the ledger in `r.publication`, and returns the ledger.
pub fn protect_report(r: &mut Report, cfg: &PublishConfig) -> Ledger {
    let voc = vocabularies();
    let mut n = Noise {
        cfg,
        hk: Hkdf::<Sha256>::new(Some(b"exitflow publish v1"), &cfg.secret),
        ledger: Ledger::default(),
    };
    // Each node's slices are disjoint sets of flows: each is released
    // alone, and every total over slices or nodes is a sum of releases.
    for (node, a) in r.nodes.iter_mut() {
        for (slice, scope) in a.slices.iter_mut().zip(exitflow_output::aggregate::SCOPES) {
            protect_agg(&format!("{node}/{scope}"), slice, &mut n, &voc);
        }
    }
    r.all = NodeAgg::default();
    for a in r.nodes.values() {
        r.all.merge(a);
    }
    r.volumes.clear();
    r.how.geoip.clear();
    r.files = 0;
    let ledger = n.ledger;
    r.publication = Some(serde_json::json!({
        "unit_of_privacy": "one flow (a user with many flows is protected less: divide by the flows one user may contribute)",
        "epsilon_per_statistic": cfg.epsilon,
        "epsilon_total": cfg.epsilon.map(|_| ledger.epsilon()),
        "delta": 0.0,
        "releases": ledger.releases.len(),
        "ledger": ledger.releases,
        "noise": if cfg.epsilon.is_some() { "Laplace(0, sensitivity/epsilon), derived from the dataset's secret and the statistic's name (the same numbers every run)" } else { "none" },
        "vocabularies": "histograms over fixed public vocabularies: protocol names and categories, two-letter country codes, all ports, user-agent families, content-type families, Tor roles, hours",
        "clipping": {"packets": PACKETS_CLIP, "bytes": BYTES_CLIP, "duration_ms": DURATION_CLIP_MS},
        "k_threshold": cfg.k,
        "rounding": cfg.round,
        "not_released": "Master.App labels, raw user-agents and content types, file counts and dataset sizes, series over the hours of the measurement period (failed-flow ratio, abuse indicators), GeoIP database names",
    }));
    ledger
}

/// Where the noise secret of these datasets lives.
pub fn secret_root(roots: &[PathBuf]) -> Option<&Path> {
    roots.first().map(PathBuf::as_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(eps: Option<f64>) -> PublishConfig {
        PublishConfig {
            epsilon: eps,
            k: 10,
            round: 4,
            secret: [7; SECRET_BYTES],
        }
    }

    #[test]
    fn laplace_noise_has_the_right_scale_and_is_deterministic() {
        let c = cfg(Some(0.3));
        let mut n = Noise {
            cfg: &c,
            hk: Hkdf::<Sha256>::new(None, &c.secret),
            ledger: Ledger::default(),
        };
        let xs: Vec<f64> = (0..20_000)
            .map(|i| n.noisy(&format!("s{i}"), 1_000_000, 1.0) as f64 - 1e6)
            .collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let mad = xs.iter().map(|x| x.abs()).sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.2, "{mean}");
        assert!((mad - 1.0 / 0.3).abs() < 0.25, "{mad}");
        assert_eq!(n.noisy("same", 50, 1.0), n.noisy("same", 50, 1.0));
        assert_eq!(n.ledger.drawn, 20_002);
    }

    #[test]
    fn small_bins_fold_into_other_and_counts_round_up() {
        let c = cfg(None);
        let mut n = Noise {
            cfg: &c,
            hk: Hkdf::<Sha256>::new(None, &c.secret),
            ledger: Ledger::default(),
        };
        let counts: Counts = [("a", 100u64), ("b", 9), ("c", 3), ("d", 11), ("zz", 7)]
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        let voc: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        let out = n.histogram("all", "t", &counts, &voc);
        assert_eq!(out["a"], 100);
        assert_eq!(out["d"], 12);
        // b + c + the value outside the vocabulary.
        assert_eq!(out["Other"], 20);
        assert!(!out.contains_key("b") && !out.contains_key("zz"));
    }
}
