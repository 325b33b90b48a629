//! Aggregates of a node's flows, by slice (exit or other role, failed or
//! not), and the counters and rankings the report's tables read.
use std::collections::HashMap;

use serde::Serialize;

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
    /// Sum of per-flow packets clipped at [`crate::publish::PACKETS_CLIP`].
    pub packets_clipped: u64,
    /// Sum of per-flow bytes clipped at [`crate::publish::BYTES_CLIP`].
    pub bytes_clipped: u64,
    /// Sum of per-flow durations clipped at [`crate::publish::DURATION_CLIP_MS`].
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
pub(crate) fn bump(c: &mut Counts, k: &str) {
    if let Some(v) = c.get_mut(k) {
        *v += 1;
    } else {
        c.insert(k.to_owned(), 1);
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
