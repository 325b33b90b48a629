//! The report: every number as JSON, and from that JSON alone (so a JSON
//! computed elsewhere, by Spark say, renders the same) a Markdown document
//! and one self-contained HTML page with inline SVG charts, each chart next
//! to its table (nothing fetched from the network).
//!
//! Shares are over the study's flows unless a table says otherwise: exit
//! flows of more than 4 packets, as the 2021 study's parser kept (its
//! appendix A.2); the flows of every role, failed ones included, have
//! sections of their own.
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::Value;

use exitflow_output::SELF_SOURCE;

use crate::contract::{
    Abuse, AllFlows, Anonymity, Definition, Definitions, ExitPolicy, Figures, HowMade, Period,
    PortCountries, PublishedStudy, ReportDoc,
};
use crate::{
    Agg, NodeAgg, PORT_COUNTRY_PORTS, Report, TOP_ROWS, content_type_families, pct, published, top,
    top_ports,
};

/// Entries in the "top 8 + Other" charts.
pub const CHART_TOP: usize = 8;
/// Rows of the abuse tables.
pub const ABUSE_ROWS: usize = 20;
/// Destination ports of login services, watched for brute force.
pub const LOGIN_PORTS: &[(u64, &str)] = &[
    (21, "FTP"),
    (22, "SSH"),
    (23, "Telnet"),
    (25, "SMTP"),
    (110, "POP3"),
    (143, "IMAP"),
    (445, "SMB"),
    (587, "SMTP submission"),
    (993, "IMAPS"),
    (995, "POP3S"),
    (3389, "RDP"),
    (5900, "VNC"),
];
/// What the study's denominator is, in words.
pub const STUDY_SCOPE: &str = "exit flows of more than 4 packets";
/// The same when no flow has the exit role.
pub const STUDY_SCOPE_NO_ROLES: &str = "flows of more than 4 packets, every role (no flow has the exit role: the relay's own addresses were not given)";

fn top_with_other(c: &crate::Counts, n: usize, total: u64) -> Vec<(String, u64)> {
    let mut v = top(c, n);
    let shown: u64 = v.iter().map(|x| x.1).sum();
    if total > shown {
        v.push(("Other".into(), total - shown));
    }
    v
}

/// `YYYY-MM-DD HH:00` (UTC) of a time in ms.
pub fn hour_label(ms: u64) -> String {
    format!(
        "{} {:02}:00",
        exitflow_output::dataset::utc_date(ms),
        (ms % 86_400_000) / 3_600_000
    )
}

/// Flows per master protocol: each label's services summed under it
/// (`TLS.Google` and `TLS.YouTube` under `TLS`).
fn masters(apps: &crate::Counts) -> crate::Counts {
    let mut m = crate::Counts::default();
    for (k, v) in apps {
        *m.entry(k.split('.').next().unwrap_or(k).to_owned())
            .or_default() += v;
    }
    m
}

/// Whether a country value is a country (an ISO 3166-1 alpha-2 code), not
/// one of the special values (private, unknown, withheld, self...) nor the
/// generalised `ZZ`.
fn is_country(k: &str) -> bool {
    k.len() == 2 && k.bytes().all(|b| b.is_ascii_uppercase()) && k != "ZZ"
}

/// Countries counted, without the special values (private, unknown, withheld...).
fn unique_countries(c: &crate::Counts) -> usize {
    c.keys().filter(|k| is_country(k)).count()
}

/// The 2021 study's definition of its row set, in words.
pub const DEFINITION_2021: &str =
    "flows of more than 4 packets, every Tor role (relay traffic included)";
/// Exit traffic, in words.
pub const DEFINITION_EXIT: &str = "exit flows of more than 4 packets";
/// All flows, in words.
pub const DEFINITION_ALL: &str = "every flow of every role, failed ones included";
/// The three definitions' keys in the report's JSON, in the order shown.
pub const DEFINITIONS: [&str; 3] = ["study_2021", "exit", "all"];

/// Each content-type family's share of the HTTP flows with a content type:
/// text, application, image, audio, video, other.
fn family_shares(families: &[(String, u64)], with_ct: u64) -> [f64; 6] {
    ["text", "application", "image", "audio", "video", "other"]
        .map(|f| family_share(families, f, with_ct))
}

/// The figures one definition gives, the ones set beside the published
/// studies: `d` holds the definition's flows; failed shares are of
/// `failed` among `attempted` (the same roles, failed flows included).
fn definition(name: &str, d: &Agg, failed: u64, attempted: u64) -> Definition {
    let (families, no_ct) = content_type_families(d);
    let with_ct = d.http_flows.saturating_sub(no_ct);
    let port = |p: u64| pct(*d.dst_ports.get(&p).unwrap_or(&0), d.flows);
    let c5222 = d.port_countries.get(&5222).cloned().unwrap_or_default();
    let on_5222 = d.dst_ports.get(&5222).copied().unwrap_or(0);
    let mut iso_5222: Vec<u64> = c5222
        .iter()
        .filter(|(k, _)| is_country(k))
        .map(|(_, v)| *v)
        .collect();
    iso_5222.sort_unstable_by(|a, b| b.cmp(a));
    let tls_tor = d.applications.get("TLS.Tor").copied().unwrap_or(0);
    let [text, application, image, audio, video, other] = family_shares(&families, with_ct);
    Definition {
        definition: name.to_owned(),
        flows: d.flows,
        failed_flows: failed,
        failed_share: pct(failed, attempted),
        tls_share: d.master_share("TLS"),
        tls_tor_share: pct(tls_tor, d.flows),
        http_share: d.master_share("HTTP") + d.master_share("HTTP_Proxy"),
        bittorrent_share: d.master_share("BitTorrent"),
        unknown_share: pct(*d.applications.get("Unknown").unwrap_or(&0), d.flows),
        guessed_share: pct(d.guessed, d.flows),
        mean_duration_s: Some(mean_duration_s(d)),
        duration_bucketed_share: pct(d.bucketed_flows, d.flows),
        port_443_share: port(443),
        port_80_share: port(80),
        port_5222_share: port(5222),
        port_25_share: port(25),
        port_5222_top3_countries_share: pct(iso_5222.iter().take(3).sum(), on_5222),
        dst_proxy_share: pct(d.dst_proxy, d.flows),
        unique_dst_countries: unique_countries(&d.dst_countries) as u64,
        unique_src_countries: unique_countries(&d.src_countries) as u64,
        http_unknown_content_type_share: pct(no_ct, d.http_flows),
        content_type_text: text,
        content_type_application: application,
        content_type_image: image,
        content_type_audio: audio,
        content_type_video: video,
        content_type_other: other,
    }
}

/// Mean flow duration, s (0 without flows).
fn mean_duration_s(a: &Agg) -> f64 {
    if a.flows == 0 {
        0.0
    } else {
        a.duration_ms as f64 / a.flows as f64 / 1000.0
    }
}

/// Failed connection attempts per hour and port, fan-out per hour, and
/// login services: counts only, no identity.
fn abuse(ok: &Agg, failed: &Agg) -> Abuse {
    let mut by: BTreeMap<(u64, u64), [u64; 2]> = BTreeMap::new();
    for (k, v) in &ok.hour_ports {
        by.entry(*k).or_default()[0] += v;
    }
    for (k, v) in &failed.hour_ports {
        let e = by.entry(*k).or_default();
        e[0] += v;
        e[1] += v;
    }
    let mut worst: Vec<(&(u64, u64), &[u64; 2])> = by.iter().filter(|(_, v)| v[1] > 0).collect();
    worst.sort_by(|a, b| b.1[1].cmp(&a.1[1]).then(a.0.cmp(b.0)));
    let failed_by_hour_port = worst
        .iter()
        .take(ABUSE_ROWS)
        .map(|((h, p), [n, f])| (hour_label(*h), *p, *f, *n, pct(*f, *n)))
        .collect();
    let mut fan: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for ((h, _), [_, f]) in &by {
        if *f > 0 {
            let e = fan.entry(*h).or_default();
            e.0 += 1;
            e.1 += f;
        }
    }
    let mut fan: Vec<(u64, (u64, u64))> = fan.into_iter().collect();
    fan.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(&b.0)));
    let ports_per_hour = fan
        .iter()
        .take(ABUSE_ROWS)
        .map(|(h, (ports, f))| (hour_label(*h), *ports, *f))
        .collect();
    let login_ports = LOGIN_PORTS
        .iter()
        .map(|(port, name)| {
            let n = ok.dst_ports.get(port).copied().unwrap_or(0)
                + failed.dst_ports.get(port).copied().unwrap_or(0);
            let f = failed.dst_ports.get(port).copied().unwrap_or(0);
            let busiest = by
                .iter()
                .filter(|((_, p), _)| p == port)
                .map(|(_, v)| v[0])
                .max()
                .unwrap_or(0);
            (*port, (*name).to_owned(), n, f, pct(f, n), busiest)
        })
        .filter(|v| v.2 > 0)
        .collect();
    Abuse {
        failed_by_hour_port,
        ports_per_hour,
        login_ports,
    }
}

/// `[value, flows]` rows of a counter's largest entries.
fn ranked(c: &crate::Counts, n: usize) -> Vec<(String, u64)> {
    top(c, n)
}

/// The figures of one node (or of all): interface-wide totals, the study's
/// tables over [`STUDY_SCOPE`], the failed-flow series and the abuse tables.
fn figures(n: &NodeAgg, volume: Option<(u64, u64)>) -> Figures {
    let all = n.all();
    let exit = n.exit();
    let has_exit = n.has_exit_flows();
    let a = n.study();
    let (families, no_ct) = content_type_families(&a);
    let with_ct = a.http_flows - no_ct;
    let (packets, bytes) = volume.unwrap_or((all.packets, all.bytes));
    let timeline_src = if has_exit { &exit } else { &all };
    let mut timeline: Vec<(&u64, &[u64; 2])> = timeline_src.timeline.iter().collect();
    timeline.sort();
    let (ok_slice, failed_slice) = if has_exit {
        (
            n.slices[crate::EXIT].clone(),
            n.slices[crate::EXIT_FAILED].clone(),
        )
    } else {
        (
            n.sum_of(&[crate::EXIT, crate::OTHER]),
            n.sum_of(&[crate::EXIT_FAILED, crate::OTHER_FAILED]),
        )
    };
    let mut hours_all: Vec<&u64> = all.timeline.keys().collect();
    hours_all.sort();
    let port_countries: BTreeMap<String, PortCountries> = PORT_COUNTRY_PORTS
        .iter()
        .map(|p| {
            let c = a.port_countries.get(p).cloned().unwrap_or_default();
            let on_port = a.dst_ports.get(p).copied().unwrap_or(0);
            let iso: crate::Counts = c
                .iter()
                .filter(|(k, _)| is_country(k))
                .map(|(k, v)| (k.clone(), *v))
                .collect();
            let top3: u64 = top(&iso, 3).iter().map(|x| x.1).sum();
            (
                p.to_string(),
                PortCountries {
                    flows: on_port,
                    countries: ranked(&c, TOP_ROWS),
                    top3_share: pct(top3, on_port),
                },
            )
        })
        .collect();
    let port_share = |p: u64| pct(*a.dst_ports.get(&p).unwrap_or(&0), a.flows);
    // Figure 5.11's row set: every role, more than 4 packets, without the
    // flows the relay itself began (their source is the relay).
    let d2021 = n.sum_of(&[crate::EXIT, crate::OTHER]);
    let mut src_countries = d2021.src_countries.clone();
    let from_self = src_countries.remove(SELF_SOURCE).unwrap_or(0);
    // User-agents that name a well-known crawler (section 5.2's finding).
    let mut crawlers = crate::Counts::default();
    for (ua, n) in &a.user_agents {
        if let Some(c) = exitflow_output::useragent::crawler(ua) {
            *crawlers.entry(c.to_owned()).or_default() += n;
        }
    }
    let crawler_flows: u64 = crawlers.values().sum();
    let definitions = Definitions {
        study_2021: definition(DEFINITION_2021, &d2021, all.failed_flows, all.flows),
        exit: has_exit.then(|| {
            definition(
                DEFINITION_EXIT,
                &n.slices[crate::EXIT],
                exit.failed_flows,
                exit.flows,
            )
        }),
        all: definition(DEFINITION_ALL, &all, all.failed_flows, all.flows),
    };
    Figures {
        definitions,
        flows: all.flows,
        failed_flows: all.failed_flows,
        failed_share: pct(all.failed_flows, all.flows),
        packets: Some(packets),
        bytes: Some(bytes),
        traffic_gb: Some(bytes as f64 / 1e9),
        dataset_bytes: n.slices[crate::EXIT].dataset_bytes,
        volume_from: if volume.is_some() {
            "node totals (exact)"
        } else {
            "rows"
        }
        .into(),
        tor_roles: ranked(&all.roles, 10),
        exit_flows: exit.flows,
        exit_failed_flows: exit.failed_flows,
        exit_failed_share: if has_exit {
            pct(exit.failed_flows, exit.flows)
        } else {
            pct(all.failed_flows, all.flows)
        },
        all_flows: AllFlows {
            applications_top40: ranked(&all.applications, TOP_ROWS),
            tls_share: all.master_share("TLS"),
            http_share: all.master_share("HTTP") + all.master_share("HTTP_Proxy"),
            unknown_share: pct(*all.applications.get("Unknown").unwrap_or(&0), all.flows),
        },
        study_scope: if has_exit {
            STUDY_SCOPE
        } else {
            STUDY_SCOPE_NO_ROLES
        }
        .into(),
        study_flows: a.flows,
        mean_duration_s: Some(mean_duration_s(&a)),
        duration_bucketed_share: pct(a.bucketed_flows, a.flows),
        tls_share: a.master_share("TLS"),
        http_share: a.master_share("HTTP") + a.master_share("HTTP_Proxy"),
        bittorrent_share: a.master_share("BitTorrent"),
        unknown_share: pct(*a.applications.get("Unknown").unwrap_or(&0), a.flows),
        guessed_share: pct(a.guessed, a.flows),
        port_443_share: port_share(443),
        port_80_share: port_share(80),
        port_5222_share: port_share(5222),
        port_25_share: port_share(25),
        port_5222_top3_countries_share: port_countries.get("5222").map_or(0.0, |p| p.top3_share),
        src_proxy_flows: a.src_proxy,
        dst_proxy_flows: a.dst_proxy,
        applications_top8: top_with_other(&a.applications, CHART_TOP, a.flows),
        masters_top8: top_with_other(&masters(&a.applications), CHART_TOP, a.flows),
        applications_top40: ranked(&a.applications, TOP_ROWS),
        categories: ranked(&a.categories, TOP_ROWS),
        dst_countries: ranked(&a.dst_countries, TOP_ROWS),
        src_countries: ranked(&src_countries, TOP_ROWS),
        src_country_flows: d2021.flows - from_self,
        unique_dst_countries: unique_countries(&a.dst_countries) as u64,
        unique_src_countries: unique_countries(&src_countries) as u64,
        dst_ports_top40: top_ports(&a, TOP_ROWS),
        port_countries,
        user_agents: ranked(&a.user_agents, TOP_ROWS),
        crawlers: ranked(&crawlers, TOP_ROWS),
        crawler_flows,
        crawler_share: pct(crawler_flows, a.http_flows),
        http_flows: a.http_flows,
        http_unknown_content_type_share: pct(no_ct, a.http_flows),
        http_flows_with_content_type: with_ct,
        content_type_families: families
            .iter()
            .map(|(f, n)| (f.clone(), *n, pct(*n, with_ct)))
            .collect(),
        content_types_top40: ranked(&a.content_types, TOP_ROWS),
        flows_per_hour_utc: a.hours_utc.to_vec(),
        flows_per_hour_local: a.hours_local.to_vec(),
        period: Period {
            first_hour: hours_all.first().map(|h| hour_label(**h)),
            last_hour: hours_all.last().map(|h| hour_label(**h)),
            hours: hours_all.len() as u64,
        },
        failed_by_hour: timeline
            .iter()
            .map(|(h, [f, x])| (hour_label(**h), *f, *x, pct(*x, *f)))
            .collect(),
        abuse: abuse(&ok_slice, &failed_slice),
        dataset_flow_share: None,
        dataset_traffic_share: None,
        time_zone: None,
    }
}

fn family_share(families: &[(String, u64)], f: &str, with_ct: u64) -> f64 {
    pct(
        families.iter().find(|x| x.0 == f).map_or(0, |x| x.1),
        with_ct,
    )
}

fn tz_label(zone: Option<&crate::Zone>, n: &NodeAgg) -> String {
    let Some(z) = zone else {
        return "UTC (no --tz given)".into();
    };
    let all = n.all();
    let first = all.timeline.keys().min().copied().unwrap_or(0);
    let last = all.timeline.keys().max().copied().unwrap_or(first);
    z.describe(first, last)
}

/// Under --publish, the sums whose 95 % interval is wider than their value
/// are withheld (`null`, shown as [`TOO_FEW`]) rather than printed as noise.
fn withhold_noisy(f: &mut Figures, tables: &Value) {
    let few = |stat: &str| tables["exit"][stat]["too_few_flows"].as_bool() == Some(true);
    if few("packets_clipped") {
        f.packets = None;
    }
    if few("bytes_clipped") {
        f.bytes = None;
        f.traffic_gb = None;
        f.dataset_traffic_share = None;
    }
    if few("duration_ms_clipped") {
        f.mean_duration_s = None;
    }
}

/// The whole report, typed: everything the Markdown and HTML show.
pub fn doc(r: &Report) -> ReportDoc {
    let volume_all = (!r.nodes.is_empty() && r.nodes.keys().all(|n| r.volumes.contains_key(n)))
        .then(|| {
            r.volumes
                .values()
                .fold((0, 0), |(p, b), (x, y)| (p + x, b + y))
        });
    let mut all = figures(&r.all, volume_all);
    let (all_flows, all_bytes) = (all.flows, all.bytes.unwrap_or(0));
    let mut nodes: BTreeMap<String, Figures> = r
        .nodes
        .iter()
        .map(|(n, a)| {
            let mut f = figures(a, r.volumes.get(n).copied());
            f.dataset_flow_share = Some(pct(f.flows, all_flows));
            f.dataset_traffic_share = Some(pct(f.bytes.unwrap_or(0), all_bytes));
            f.time_zone = Some(tz_label(r.zones.get(n), a));
            (n.clone(), f)
        })
        .collect();
    if let Some(p) = &r.publication {
        withhold_noisy(&mut all, &p["all_nodes_tables"]);
        for (n, f) in nodes.iter_mut() {
            withhold_noisy(f, &p["nodes"][n]["tables"]);
        }
    }
    let published = published()
        .into_iter()
        .map(|p| PublishedStudy {
            citation: p.citation(),
            name: p.name,
            notes: p.notes,
            figures: p.figures,
            denominators: p.denominators,
            place: p.place,
            figure_notes: p.figure_notes,
        })
        .collect();
    ReportDoc {
        report_version: crate::contract::REPORT_VERSION,
        synthetic: r.how.synthetic,
        files: r.files,
        how_made: HowMade {
            exitflow_versions: r.how.versions.iter().cloned().collect(),
            privacy_policies: r.how.policies.iter().cloned().collect(),
            geoip: r.how.geoip.iter().cloned().collect(),
            timeouts: r.how.timeouts.iter().cloned().collect(),
            report_by: format!("exitflow {}", env!("CARGO_PKG_VERSION")),
        },
        nodes,
        all,
        published,
        publication: r.publication.clone(),
        exit_policies: r
            .exit_policies
            .iter()
            .map(|(n, p)| {
                (
                    n.clone(),
                    ExitPolicy {
                        summary: p.summary.clone(),
                        source: p.source.clone(),
                    },
                )
            })
            .collect(),
        anonymity: r
            .anonymity
            .iter()
            .map(|(n, a)| {
                (
                    n.clone(),
                    Anonymity {
                        flows: a[0],
                        generalised_flows: a[1],
                        suppressed_flows: a[2],
                        folded_flows: a[3],
                    },
                )
            })
            .collect(),
    }
}

/// The whole report as JSON (the typed [`doc`], serialised).
pub fn json(r: &Report) -> Value {
    serde_json::to_value(doc(r)).expect("the report serialises")
}

/// A table of the document, with what 100 % is.
struct Table {
    head: Vec<String>,
    rows: Vec<Vec<String>>,
    note: Option<String>,
    /// Past [`FOLD_ROWS`] rows, the rest folded in HTML (not for a
    /// table of facts read whole, as how the report was made).
    fold: bool,
}

/// A chart: bars (label, value) or columns over ordered labels.
enum Chart {
    Bars {
        title: String,
        items: Vec<(String, u64)>,
        total: u64,
        unit: &'static str,
    },
    Columns {
        title: String,
        labels: Vec<String>,
        values: Vec<f64>,
        unit: &'static str,
    },
}

enum Block {
    Para(String),
    /// A paragraph the reader must not miss (a comparison that is not like
    /// for like).
    Warning(String),
    /// The same blocks for each node: a switch in HTML (one node shown at a
    /// time, no script), one subsection per node in Markdown.
    Nodes(Vec<(String, Vec<Block>)>),
    Table(Table),
    Chart(Chart),
}

struct Section {
    id: String,
    title: String,
    blocks: Vec<Block>,
}

fn s(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn f2(v: &Value) -> String {
    if v.is_null() {
        return TOO_FEW.into();
    }
    format!("{:.2}", v.as_f64().unwrap_or(0.0))
}

/// A count with thousands separators (`1,234,567`).
pub fn thousands(n: u64) -> String {
    let d = n.to_string();
    let mut out = String::with_capacity(d.len() + d.len() / 3);
    for (i, c) in d.chars().enumerate() {
        if i > 0 && (d.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What a published value too noisy to show says instead (JSON `null`).
pub const TOO_FEW: &str = "too few flows to publish";

/// An integer cell, or [`TOO_FEW`] for a withheld value.
fn n_or_few(v: &Value) -> String {
    if v.is_null() {
        TOO_FEW.into()
    } else {
        thousands(u(v))
    }
}

/// (value, flows, %) rows of a JSON list of [value, flows].
fn pairs(v: &Value, total: u64) -> Vec<Vec<String>> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    let n = u(&p[1]);
                    vec![s(&p[0]), thousands(n), format!("{:.2}", pct(n, total))]
                })
                .collect()
        })
        .unwrap_or_default()
}

fn bar_items(v: &Value) -> Vec<(String, u64)> {
    v.as_array()
        .map(|a| a.iter().map(|p| (s(&p[0]), u(&p[1]))).collect())
        .unwrap_or_default()
}

fn table(head: &[&str], rows: Vec<Vec<String>>, note: Option<String>) -> Block {
    Block::Table(Table {
        head: head.iter().map(|h| h.to_string()).collect(),
        rows,
        note,
        fold: true,
    })
}

fn of(n: u64, what: &str) -> Option<String> {
    Some(format!("100 % = {} {what}.", thousands(n)))
}

/// Builds the document from the report's JSON.
fn document(j: &Value) -> (String, Vec<Section>) {
    let a = &j["all"];
    let nodes = j["nodes"].as_object().cloned().unwrap_or_default();
    let study = u(&a["study_flows"]);
    let scope = s(&a["study_scope"]);
    let http = u(&a["http_flows"]);
    let studies = j["published"].as_array().cloned().unwrap_or_default();
    let pubfig = |name_part: &str, key: &str| -> String {
        studies
            .iter()
            .find(|p| s(&p["name"]).contains(name_part))
            .and_then(|p| p["figures"][key].as_f64())
            .map_or("–".into(), |v| format!("{v:.2}"))
    };
    let mut out = Vec::new();
    let synthetic = j["synthetic"].as_bool().unwrap_or(false);
    let mut intro = String::new();
    if synthetic {
        intro.push_str("SYNTHETIC DATA: this report was made from synthetic traffic (exitflow demo), not from a relay. Its numbers describe the generator, not Tor; they are set beside the published studies only to show the report's layout.\n\n");
    }
    let _ = writeln!(
        intro,
        "{} node(s), {} to {} UTC. Shares are of the study's flows ({scope}: {study}) unless a table says otherwise.",
        nodes.len(),
        s(&a["period"]["first_hour"]),
        s(&a["period"]["last_hour"]),
    );
    if j["publication"].is_object() {
        intro.push('\n');
        intro.push_str(&publication_intro(&j["publication"]));
    }

    // Key findings, with the published figures beside them: exit traffic
    // (what leaves Tor) and the 2021 study's own definition beside its
    // figures.
    let defs = &a["definitions"];
    let has_exit = defs["exit"].is_object();
    let key_rows: Vec<Vec<String>> = [
        ("TLS share (%)", "tls_share"),
        ("TLS.Tor: connections to relays (%)", "tls_tor_share"),
        ("HTTP share (%)", "http_share"),
        ("Unknown share (%)", "unknown_share"),
        ("Failed flows (%)", "failed_share"),
        ("Destination port 443 (%)", "port_443_share"),
        ("Destination port 80 (%)", "port_80_share"),
    ]
    .iter()
    .map(|(label, k)| {
        vec![
            label.to_string(),
            if has_exit {
                f2(&defs["exit"][*k])
            } else {
                "–".into()
            },
            f2(&defs["study_2021"][*k]),
            pubfig("2021", k),
            pubfig("2010", k),
        ]
    })
    .collect();
    let top_app = a["applications_top40"][0][0]
        .as_str()
        .unwrap_or("–")
        .to_owned();
    let top_country = a["dst_countries"][0][0].as_str().unwrap_or("–").to_owned();
    let failed_text = if has_exit {
        format!(
            "{}% of exit flows failed (4 packets or fewer); over every flow of every role, the 2021 study's denominator, {}% failed.",
            f2(&defs["exit"]["failed_share"]),
            f2(&defs["study_2021"]["failed_share"]),
        )
    } else {
        format!(
            "No flow has the exit role (the relay's own addresses were not given), so exit traffic cannot be told apart: every figure is over every role. {}% of all flows failed (4 packets or fewer).",
            f2(&defs["study_2021"]["failed_share"]),
        )
    };
    out.push(Section {
        id: "key-findings".into(),
        title: "Key findings".into(),
        blocks: vec![
            Block::Para(format!(
                "Of {} {scope}, TLS carried {}% and HTTP {}%; {}% were not recognised. {failed_text} The most frequent label was {top_app}; the most frequent destination country {top_country}.",
                thousands(study),
                f2(&a["tls_share"]),
                f2(&a["http_share"]),
                f2(&a["unknown_share"]),
            )),
            table(
                &["figure", "exit traffic", "2021 definition", "2021 study", "Chaabane 2010"],
                key_rows,
                Some(format!(
                    "Exit traffic: {DEFINITION_EXIT}. 2021 definition: {DEFINITION_2021}, the row set of the 2021 study's figures. Failed: of the same roles' flows, failed ones included (the 2021 study: of every flow). The 2021 study's TLS includes its TLS.Tor relay connections."
                )),
            ),
        ],
    });

    // How the report was made.
    let join = |v: &Value| {
        v.as_array()
            .map(|x| x.iter().map(s).collect::<Vec<_>>().join("; "))
            .filter(|x| !x.is_empty())
            .unwrap_or_else(|| "not recorded".into())
    };
    let h = &j["how_made"];
    let mut how_rows = vec![
        vec![
            "measurement period".into(),
            format!(
                "{} to {} UTC ({} hours with flows)",
                s(&a["period"]["first_hour"]),
                s(&a["period"]["last_hour"]),
                u(&a["period"]["hours"])
            ),
        ],
        vec![
            "nodes".into(),
            nodes.keys().cloned().collect::<Vec<_>>().join(", "),
        ],
        vec![
            "data made by".into(),
            format!("exitflow {}", join(&h["exitflow_versions"])),
        ],
        vec!["report made by".into(), s(&h["report_by"])],
        vec![
            "privacy profile".into(),
            h["privacy_policies"]
                .as_array()
                .map(|v| {
                    v.iter()
                        .map(|p| profile_words(&s(p)))
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .filter(|x| !x.is_empty())
                .unwrap_or_else(|| "not recorded".into()),
        ],
        vec!["GeoIP databases".into(), join(&h["geoip"])],
        vec!["flow timeouts".into(), join(&h["timeouts"])],
        vec![
            "study flows".into(),
            format!(
                "{scope} (the 2021 study's parser skipped flows of 4 packets or fewer; relay, directory, resolver and management flows are not exit traffic)"
            ),
        ],
    ];
    for (n, f) in &nodes {
        how_rows.push(vec![format!("time zone of {n}"), s(&f["time_zone"])]);
    }
    if let Some(an) = j["anonymity"].as_object() {
        for (n, a) in an {
            let flows = u(&a["flows"]);
            let share = |x: u64| {
                if flows == 0 {
                    "0.00".to_string()
                } else {
                    format!("{:.2}", 100.0 * x as f64 / flows as f64)
                }
            };
            let (g, sup, fo) = (
                u(&a["generalised_flows"]),
                u(&a["suppressed_flows"]),
                u(&a["folded_flows"]),
            );
            how_rows.push(vec![
                format!("k-anonymity on {n}"),
                format!(
                    "{g} of {flows} flows written with a column generalised ({} %), {sup} not written as rows ({} %), {fo} counted under Other in strict tables ({} %): no row or cell stands for fewer than k flows of its hour",
                    share(g),
                    share(sup),
                    share(fo)
                ),
            ]);
        }
    }
    how_rows.push(vec!["files read".into(), j["files"].to_string()]);
    out.push(Section {
        id: "how-made".into(),
        title: "How this report was made".into(),
        blocks: vec![Block::Table(Table {
            head: vec![String::new(), "how".into()],
            rows: how_rows,
            note: None,
            fold: false,
        })],
    });

    // Nodes (Table 5.1, Figures 5.1 and 5.2).
    let mut rows = Vec::new();
    let mut pk = Vec::new();
    let mut fl = Vec::new();
    for (n, f) in nodes.iter().chain(std::iter::once((&"all".to_string(), a))) {
        rows.push(vec![
            n.clone(),
            u(&f["flows"]).to_string(),
            u(&f["failed_flows"]).to_string(),
            f2(&f["failed_share"]),
            u(&f["exit_flows"]).to_string(),
            u(&f["study_flows"]).to_string(),
            n_or_few(&f["packets"]),
            if f["traffic_gb"].is_null() {
                TOO_FEW.into()
            } else {
                format!("{:.3}", f["traffic_gb"].as_f64().unwrap_or(0.0))
            },
            format!("{:.2}", f["dataset_bytes"].as_f64().unwrap_or(0.0) / 1e6),
            if n == "all" {
                "100.00".into()
            } else {
                f2(&f["dataset_flow_share"])
            },
            if n == "all" {
                "100.00".into()
            } else {
                f2(&f["dataset_traffic_share"])
            },
        ]);
        if n != "all" {
            pk.push((n.clone(), u(&f["packets"])));
            fl.push((n.clone(), u(&f["flows"])));
        }
    }
    out.push(Section {
        id: "nodes".into(),
        title: "Nodes (Table 5.1, Figures 5.1 and 5.2)".into(),
        blocks: vec![
            table(
                &["node", "flows", "failed flows", "failed %", "exit flows", "study flows", "packets", "traffic GB", "dataset MB", "% of flows", "% of traffic"],
                rows,
                Some("Every flow on each node's interface, every role; failed: 4 packets or fewer. Packets and bytes from the node totals when exact.".into()),
            ),
            Block::Chart(Chart::Bars { title: "Packets per node (Figure 5.1)".into(), total: pk.iter().map(|x| x.1).sum(), items: pk, unit: "packets" }),
            Block::Chart(Chart::Bars { title: "Flows per node (Figure 5.2)".into(), total: fl.iter().map(|x| x.1).sum(), items: fl, unit: "flows" }),
        ],
    });
    if let Some(p) = j["exit_policies"].as_object().filter(|p| !p.is_empty()) {
        let rows = p
            .iter()
            .map(|(n, v)| vec![n.clone(), s(&v["summary"]), s(&v["source"])])
            .collect();
        out.push(Section {
            id: "exit-policies".into(),
            title: "Exit policies".into(),
            blocks: vec![table(
                &["node", "ports let out (tor's summary)", "read from"],
                rows,
                None,
            )],
        });
    }

    // Application protocols (Figure 5.3).
    out.push(Section {
        id: "applications".into(),
        title: "Application protocols (Figure 5.3)".into(),
        blocks: vec![
            Block::Para(format!(
                "TLS {}%, HTTP {}%, BitTorrent {}%, Unknown {}%; labels guessed from the port: {}%; mean flow duration{}.{}",
                f2(&a["tls_share"]), f2(&a["http_share"]), f2(&a["bittorrent_share"]), f2(&a["unknown_share"]), f2(&a["guessed_share"]), a["mean_duration_s"].as_f64().map_or(format!(": {TOO_FEW}"), |d| format!(" {d:.1} s")),
                duration_note(&a["duration_bucketed_share"]),
            )),
            Block::Chart(Chart::Bars { title: "Application protocols, each with its services summed (TLS.Google under TLS): top 8 and Other".into(), items: bar_items(&a["masters_top8"]), total: study, unit: "flows" }),
            table(&["application", "flows", "%"], pairs(&a["applications_top40"], study), of(study, &scope)),
        ],
    });
    let simple = |id: &str,
                  title: &str,
                  key: &str,
                  chart: &str,
                  total: u64,
                  note: Option<String>,
                  extra: Option<String>|
     -> Section {
        let mut items = bar_items(&a[key]);
        items.truncate(CHART_TOP);
        let mut blocks = Vec::new();
        if let Some(e) = extra {
            blocks.push(Block::Para(e));
        }
        blocks.push(Block::Chart(Chart::Bars {
            title: chart.into(),
            items,
            total,
            unit: "flows",
        }));
        blocks.push(table(&["value", "flows", "%"], pairs(&a[key], total), note));
        Section {
            id: id.into(),
            title: title.into(),
            blocks,
        }
    };
    out.push(simple(
        "categories",
        "Categories (Figure 5.4)",
        "categories",
        "Categories: top 8",
        study,
        of(study, &scope),
        None,
    ));
    out.push(simple(
        "dst-countries",
        "Destination countries (Figure 5.5)",
        "dst_countries",
        "Destination countries: top 8",
        study,
        of(study, &scope),
        Some(format!(
            "{} distinct destination countries and territories (2021 study: 244).",
            u(&a["unique_dst_countries"])
        )),
    ));

    // Destination ports (Figure 5.6), with the exit policies and port 5222.
    let policies: Vec<(String, exitflow_enrich::ExitPolicy)> = j["exit_policies"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(n, p)| {
            exitflow_enrich::ExitPolicy::parse_summary(p["summary"].as_str()?)
                .ok()
                .map(|e| (n.clone(), e))
        })
        .collect();
    let mut port_rows = pairs(&a["dst_ports_top40"], study);
    // Port 0: no port (ICMP, ...) or, under the default profile, a rare
    // port generalised so that k flows share the row.
    const NO_PORT: &str = "0 (none, or rare and generalised)";
    let mut head = vec!["port", "flows", "%"];
    if !policies.is_empty() {
        head.push("exit policy");
        for row in &mut port_rows {
            let Ok(port @ 1..) = row[0].parse::<u16>() else {
                row.push(String::new());
                continue;
            };
            let rejecting: Vec<&str> = policies
                .iter()
                .filter(|(_, p)| !p.accepts(port))
                .map(|(n, _)| n.as_str())
                .collect();
            row.push(if rejecting.is_empty() {
                String::new()
            } else {
                format!("rejected by {}", rejecting.join(", "))
            });
        }
    }
    for row in &mut port_rows {
        if row[0] == "0" {
            row[0] = NO_PORT.into();
        }
    }
    let mut port_items = bar_items(&a["dst_ports_top40"]);
    port_items.truncate(CHART_TOP);
    let mut blocks = vec![
        Block::Chart(Chart::Bars {
            title: "Destination ports: top 8".into(),
            items: port_items,
            total: study,
            unit: "flows",
        }),
        table(&head, port_rows, of(study, &scope)),
    ];
    for (port, pc) in a["port_countries"].as_object().into_iter().flatten() {
        let n = u(&pc["flows"]);
        blocks.push(Block::Para(format!(
            "Port {port} by destination country: the top three countries take {}% of its flows (2021 study, port 5222: NL, UK and CH, 99.78%).",
            f2(&pc["top3_share"])
        )));
        blocks.push(table(
            &["destination country", "flows", "%"],
            pairs(&pc["countries"], n),
            Some(format!("100 % = {n} study flows to port {port}.")),
        ));
    }
    out.push(Section {
        id: "ports".into(),
        title: "Destination ports (Figure 5.6)".into(),
        blocks,
    });

    out.push(Section {
        id: "user-agents".into(),
        title: "User-agents (Table 5.2)".into(),
        blocks: vec![table(
            &["user-agent", "flows", "%"],
            pairs(&a["user_agents"], http),
            of(http, "HTTP study flows"),
        )],
    });
    out.push(Section {
        id: "crawlers".into(),
        title: "Crawlers (section 5.2)".into(),
        blocks: vec![
            Block::Para(format!(
                "{} of {} HTTP flows ({}%) named a well-known crawler or bot in their user-agent (the public crawler-user-agents list). The 2021 study's most frequent user-agent was Baiduspider, a search engine's crawler: part of the plain HTTP leaving Tor is not people.",
                thousands(u(&a["crawler_flows"])),
                thousands(http),
                f2(&a["crawler_share"]),
            )),
            table(
                &["crawler", "flows", "% of HTTP flows"],
                pairs(&a["crawlers"], http),
                of(http, "HTTP study flows"),
            ),
        ],
    });
    let with_ct = u(&a["http_flows_with_content_type"]);
    let fam_rows: Vec<Vec<String>> = a["content_type_families"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| {
            vec![
                s(&x[0]),
                u(&x[1]).to_string(),
                f2(&x[2]),
                pubfig("2021", &format!("content_type_{}", s(&x[0]))),
                pubfig("2010", &format!("content_type_{}", s(&x[0]))),
            ]
        })
        .collect();
    out.push(Section {
        id: "content-types".into(),
        title: "Content types (Table 5.3)".into(),
        blocks: vec![
            Block::Para(format!(
                "{}% of HTTP study flows carry no content type (2021 study: 70.46%).",
                f2(&a["http_unknown_content_type_share"])
            )),
            table(
                &["family", "flows", "%", "2021 study %", "Chaabane 2010 %"],
                fam_rows,
                of(with_ct, "HTTP study flows with a content type"),
            ),
            table(
                &["content type", "flows", "%"],
                pairs(&a["content_types_top40"], http),
                of(http, "HTTP study flows"),
            ),
        ],
    });

    // Hours (Figures 5.7 to 5.10): charts per node, and one table.
    let mut blocks = Vec::new();
    let mut head = vec!["hour".to_string()];
    let mut cols: Vec<Vec<u64>> = Vec::new();
    for (n, f) in &nodes {
        let hours: Vec<u64> = f["flows_per_hour_local"]
            .as_array()
            .into_iter()
            .flatten()
            .map(u)
            .collect();
        blocks.push(Block::Chart(Chart::Columns {
            title: format!(
                "Study flows per hour of the day, {n} ({})",
                s(&f["time_zone"])
            ),
            labels: (0..24).map(|h| format!("{h:02}")).collect(),
            values: hours.iter().map(|x| *x as f64).collect(),
            unit: "flows",
        }));
        head.push(format!("{n} ({})", s(&f["time_zone"])));
        cols.push(hours);
    }
    let utc: Vec<u64> = a["flows_per_hour_utc"]
        .as_array()
        .into_iter()
        .flatten()
        .map(u)
        .collect();
    blocks.push(Block::Chart(Chart::Columns {
        title: "Study flows per hour of the day, all nodes (UTC)".into(),
        labels: (0..24).map(|h| format!("{h:02}")).collect(),
        values: utc.iter().map(|x| *x as f64).collect(),
        unit: "flows",
    }));
    head.push("all nodes (UTC)".into());
    cols.push(utc);
    let rows = (0..24)
        .map(|h| {
            let mut r = vec![format!("{h:02}")];
            r.extend(
                cols.iter()
                    .map(|c| c.get(h).copied().unwrap_or(0).to_string()),
            );
            r
        })
        .collect();
    let head_refs: Vec<&str> = head.iter().map(String::as_str).collect();
    blocks.push(table(
        &head_refs,
        rows,
        Some("Study flows by the hour their first packet was seen.".into()),
    ));
    out.push(Section {
        id: "hours".into(),
        title: "Flows per hour of the day (Figures 5.7 to 5.10)".into(),
        blocks,
    });

    out.push(simple(
        "src-countries",
        "Source countries (Figure 5.11)",
        "src_countries",
        "Source countries: top 8",
        u(&a["src_country_flows"]),
        of(u(&a["src_country_flows"]), "flows of more than 4 packets, every role, not begun by the relay"),
        Some(format!("{} distinct source countries and territories (2021 study: 176). As the study's Figure 5.11: the sources of flows of every role (relays connecting to this one, replies), not of exit flows, whose source is the relay itself; flows the relay began are left out. Outside the research profile a source's country is kept only where the source is a relay; the others are 'withheld'.", u(&a["unique_src_countries"]))),
    ));

    // Failed flows over the measurement period.
    let series: Vec<&Value> = a["failed_by_hour"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    out.push(Section {
        id: "failed-over-time".into(),
        title: "Failed flows over the measurement period".into(),
        blocks: vec![
            Block::Para("The 2021 study reported that its US and German nodes had a higher share of failed flows early in the experiment, reduced after 36 hours of running (its section 5.1); it gave no cause.".into()),
            Block::Chart(Chart::Columns {
                title: "Failed exit flows, % per hour (UTC)".into(),
                labels: series.iter().map(|x| s(&x[0])).collect(),
                values: series.iter().map(|x| x[3].as_f64().unwrap_or(0.0)).collect(),
                unit: "%",
            }),
            table(
                &["hour (UTC)", "exit flows", "failed", "failed %"],
                series.iter().map(|x| vec![s(&x[0]), u(&x[1]).to_string(), u(&x[2]).to_string(), f2(&x[3])]).collect(),
                Some("Per hour: 100 % = the exit flows that started in it.".into()),
            ),
        ],
    });

    // Abuse.
    let ab = &a["abuse"];
    let rows = |k: &str, f: &dyn Fn(&Value) -> Vec<String>| -> Vec<Vec<String>> {
        ab[k].as_array().into_iter().flatten().map(f).collect()
    };
    out.push(Section {
        id: "abuse".into(),
        title: "Traffic that looks like abuse".into(),
        blocks: vec![
            Block::Para("Counts only, without any identity: what an operator needs to tell whether a complaint matches what left the relay. A port scan shows as many ports with failed attempts in one hour; a SYN flood as many failed attempts on one port; brute force as many short connections to a login service.".into()),
            table(
                &["hour (UTC)", "port", "failed attempts", "exit flows", "failed %"],
                rows("failed_by_hour_port", &|x| vec![s(&x[0]), u(&x[1]).to_string(), u(&x[2]).to_string(), u(&x[3]).to_string(), f2(&x[4])]),
                Some("The hours and ports with the most failed exit flows.".into()),
            ),
            table(
                &["hour (UTC)", "ports with failed attempts", "failed attempts"],
                rows("ports_per_hour", &|x| vec![s(&x[0]), u(&x[1]).to_string(), u(&x[2]).to_string()]),
                Some("Fan-out: the hours whose failed exit flows reached the most destination ports.".into()),
            ),
            table(
                &["port", "service", "exit flows", "failed", "failed %", "busiest hour (flows)"],
                rows("login_ports", &|x| vec![u(&x[0]).to_string(), s(&x[1]), u(&x[2]).to_string(), u(&x[3]).to_string(), f2(&x[4]), u(&x[5]).to_string()]),
                Some("Login services: every exit flow to their ports.".into()),
            ),
        ],
    });

    // Each node's own tables (the study's Table 5.1 shows its three nodes
    // side by side; the figures above are all nodes together).
    let per_node: Vec<(String, Vec<Block>)> = nodes
        .iter()
        .map(|(name, f)| {
            let fd = &f["definitions"];
            let node_exit = fd["exit"].is_object();
            let rows = [
                ("flows", "flows"),
                ("TLS share (%)", "tls_share"),
                ("HTTP share (%)", "http_share"),
                ("Unknown share (%)", "unknown_share"),
                ("Failed flows (%)", "failed_share"),
                ("Mean flow duration (s)", "mean_duration_s"),
                ("Destination port 443 (%)", "port_443_share"),
                ("Destination countries", "unique_dst_countries"),
            ]
            .iter()
            .map(|(label, k)| {
                let cell = |v: &Value| {
                    if *k == "flows" || *k == "unique_dst_countries" {
                        n_or_few(v)
                    } else {
                        f2(v)
                    }
                };
                vec![
                    label.to_string(),
                    if node_exit {
                        cell(&fd["exit"][*k])
                    } else {
                        "–".into()
                    },
                    cell(&fd["study_2021"][*k]),
                    cell(&fd["all"][*k]),
                ]
            })
            .collect();
            let node_study = u(&f["study_flows"]);
            let node_http = u(&f["http_flows"]);
            let node_scope = s(&f["study_scope"]);
            let blocks = vec![
                table(
                    &["figure", "exit traffic", "2021 definition", "all flows"],
                    rows,
                    Some(format!("{name}, local time {}.", s(&f["time_zone"]))),
                ),
                table(
                    &["application", "flows", "%"],
                    pairs(&f["applications_top40"], node_study),
                    of(node_study, &node_scope),
                ),
                table(
                    &["destination country", "flows", "%"],
                    pairs(&f["dst_countries"], node_study),
                    of(node_study, &node_scope),
                ),
                table(
                    &["destination port", "flows", "%"],
                    pairs(&f["dst_ports_top40"], node_study),
                    of(node_study, &node_scope),
                ),
                table(
                    &["user-agent", "flows", "%"],
                    pairs(&f["user_agents"], node_http),
                    of(node_http, "HTTP study flows"),
                ),
            ];
            (name.clone(), blocks)
        })
        .collect();
    if !per_node.is_empty() {
        out.push(Section {
            id: "per-node".into(),
            title: "Each node".into(),
            blocks: vec![
                Block::Para("The main tables of each node on its own (above: all nodes together). In the HTML page, choose a node.".into()),
                Block::Nodes(per_node),
            ],
        });
    }

    // Every flow on the interface.
    let total = u(&a["flows"]);
    out.push(Section {
        id: "all-flows".into(),
        title: "All flows on the interface, every role".into(),
        blocks: vec![
            Block::Para(format!(
                "Over all {} flows ({DEFINITION_ALL}): TLS {}%, HTTP {}%, Unknown {}%, failed {}%. Under the 2021 study's definition ({} flows of more than 4 packets, every role: its parser skipped the failed ones, and relay traffic was not separated): TLS {}%, HTTP {}%, Unknown {}%.",
                thousands(total),
                f2(&a["all_flows"]["tls_share"]), f2(&a["all_flows"]["http_share"]), f2(&a["all_flows"]["unknown_share"]), f2(&a["failed_share"]),
                thousands(u(&defs["study_2021"]["flows"])),
                f2(&defs["study_2021"]["tls_share"]), f2(&defs["study_2021"]["http_share"]), f2(&defs["study_2021"]["unknown_share"]),
            )),
            table(&["Tor role", "flows", "%"], pairs(&a["tor_roles"], total), of(total, "flows")),
            table(&["application", "flows", "%"], pairs(&a["all_flows"]["applications_top40"], total), of(total, "flows")),
        ],
    });

    // Compared with published studies: the 2021 study's definition beside
    // its figures, exit traffic beside it.
    let compared: &[(&str, &str)] = &[
        ("tls_share", "TLS share (%)"),
        ("tls_tor_share", "TLS.Tor: connections to relays (%)"),
        ("http_share", "HTTP share (%)"),
        ("bittorrent_share", "BitTorrent share (%)"),
        ("unknown_share", "Unknown share (%)"),
        ("guessed_share", "Labels guessed from the port (%)"),
        ("failed_share", "Failed flows (%)"),
        ("mean_duration_s", "Mean flow duration (s)"),
        ("port_443_share", "Destination port 443 (%)"),
        ("port_5222_share", "Destination port 5222 (%)"),
        ("port_80_share", "Destination port 80 (%)"),
        ("port_25_share", "Destination port 25 (%)"),
        (
            "port_5222_top3_countries_share",
            "Port 5222: top 3 countries (%)",
        ),
        ("dst_proxy_share", "Destination flagged as proxy (%)"),
        ("unique_dst_countries", "Destination countries"),
        ("unique_src_countries", "Source countries (not the relay)"),
        (
            "http_unknown_content_type_share",
            "HTTP flows without content type (%)",
        ),
        ("content_type_text", "Content type text (%)"),
        ("content_type_application", "Content type application (%)"),
        ("content_type_image", "Content type image (%)"),
        ("content_type_audio", "Content type audio (%)"),
        ("content_type_video", "Content type video (%)"),
        ("content_type_other", "Content type other (%)"),
    ];
    let mut head = vec![
        "figure".to_string(),
        "this dataset, 2021 definition".to_string(),
        "this dataset, exit traffic".to_string(),
    ];
    head.extend(studies.iter().map(|p| s(&p["name"])));
    head.push("denominator (published)".into());
    head.push("notes on the published figure".into());
    let count_keys = ["unique_dst_countries", "unique_src_countries"];
    let cell = |v: &Value, k: &str| {
        if count_keys.contains(&k) {
            n_or_few(v)
        } else {
            f2(v)
        }
    };
    let cmp_rows = compared
        .iter()
        .map(|(k, label)| {
            let mut r = vec![
                label.to_string(),
                cell(&defs["study_2021"][*k], k),
                if has_exit {
                    cell(&defs["exit"][*k], k)
                } else {
                    "–".into()
                },
            ];
            let mut den = BTreeSet::new();
            let mut notes = Vec::new();
            for p in &studies {
                r.push(
                    p["figures"][*k]
                        .as_f64()
                        .map_or("–".into(), |v| format!("{v:.2}")),
                );
                if let Some(d) = p["denominators"][*k].as_str() {
                    den.insert(format!("{}: {d} ({})", s(&p["name"]), s(&p["where"][*k])));
                }
                if let Some(n) = p["figure_notes"][*k].as_str() {
                    notes.push(format!("{}: {n}", s(&p["name"])));
                }
            }
            if let Some((_, n)) = DATASET_NOTES.iter().find(|(key, _)| key == k) {
                notes.push(format!("This dataset: {n}"));
            }
            r.push(den.into_iter().collect::<Vec<_>>().join("; "));
            r.push(notes.join(" "));
            r
        })
        .collect();
    let head_refs: Vec<&str> = head.iter().map(String::as_str).collect();
    let mut blocks = Vec::new();
    if let Some(w) = timeout_warning(&h["timeouts"]) {
        blocks.push(Block::Warning(w));
    }
    blocks.push(table(
        &head_refs,
        cmp_rows,
        Some(format!(
            "2021 definition: {DEFINITION_2021} (source countries: of those flows, without the ones the relay began). Exit traffic: {DEFINITION_EXIT}. Failed: of the same roles' flows, failed ones included. Content types: of HTTP flows with one."
        )),
    ));
    for p in &studies {
        let mut text = format!("{} — {}", s(&p["name"]), s(&p["citation"]));
        for n in p["notes"].as_array().into_iter().flatten() {
            text.push_str(" Note: ");
            text.push_str(&s(n));
        }
        blocks.push(Block::Para(text));
    }
    out.push(Section {
        id: "published".into(),
        title: "Compared with published studies".into(),
        blocks,
    });
    if j["publication"].is_object() {
        for sec in &mut out {
            if let Some(note) = noise_note(&j["publication"], &sec.id) {
                sec.blocks.push(Block::Para(note));
            }
        }
    }
    (intro, out)
}

/// A policy as the files record it (`profile=default addresses=drop ...`),
/// in words.
fn profile_words(policy: &str) -> String {
    let kv: BTreeMap<&str, &str> = policy
        .split_whitespace()
        .filter_map(|w| w.split_once('='))
        .collect();
    let get = |k: &str| kv.get(k).copied().unwrap_or("?");
    let yes = |k: &str| get(k) == "true";
    let mut parts = Vec::new();
    parts.push(match get("addresses") {
        "drop" => "no addresses".to_string(),
        a => format!("addresses {a}"),
    });
    parts.push(match get("server_names") {
        "drop" => "no server names".to_string(),
        n => format!("server names: {n}"),
    });
    let g = get("time_granularity_ms").parse::<u64>().unwrap_or(0);
    parts.push(match g {
        0 | 1 => "exact times".to_string(),
        3_600_000 => "times to the hour".to_string(),
        g => format!("times to {} s", g / 1000),
    });
    parts.push(if yes("aggregates_only") {
        "hourly tables only, no flow rows".into()
    } else if yes("coarse_counts") {
        "packets, bytes and durations as power-of-two buckets".into()
    } else {
        "exact packets, bytes and durations".into()
    });
    parts.push(if !yes("user_agents") {
        "no user-agents".into()
    } else if yes("ua_families") {
        "user-agents as families".into()
    } else {
        "user-agents as sent".into()
    });
    if yes("content_type_base") {
        parts.push("content types without parameters".into());
    }
    if yes("src_geo_relays_only") {
        parts.push("source countries of relays only".into());
    }
    if yes("fingerprints") {
        parts.push("fingerprints".into());
    }
    if yes("source_ports") {
        parts.push("source ports".into());
    }
    if yes("ids") {
        parts.push("flow ids".into());
    }
    let k = get("k_anonymity");
    if k != "1" && k != "?" && k != "0" {
        parts.push(if yes("aggregates_only") {
            format!("cells of fewer than {k} flows folded into Other")
        } else {
            format!("every row shared by at least {k} of its hour (k-anonymity)")
        });
    }
    format!("{}: {}", get("profile"), parts.join(", "))
}

/// What a mean duration is made of, when not only of exact values.
fn duration_note(bucketed_share: &Value) -> String {
    match bucketed_share.as_f64() {
        Some(b) if b > 0.0 => format!(
            " The durations of {b:.2}% of these flows are power-of-two buckets (their hours had no exact sums: a slice of fewer than k flows, or files written before exitflow kept them), which read low by up to half; the others come from each hour's exact sums."
        ),
        _ => String::new(),
    }
}

/// Where this dataset's own figure is not like for like with the
/// published one, whatever the data.
const DATASET_NOTES: &[(&str, &str)] = &[
    (
        "guessed_share",
        "not comparable: exitflow marks a label guessed where NFStream 6.6 does not (on the mix-1 capture 14.3 % of labels against NFStream's 4.6 %), so this row says little beside the study's.",
    ),
    (
        "mean_duration_s",
        "comparable with the study's only where no timeout warning is shown above (its active timeout was 3600 s).",
    ),
];

/// The 2021 study's flow timeouts: NFStream's defaults but for
/// `active_timeout=3600` (its appendix A.2).
pub const STUDY_TIMEOUTS: &str = "idle 120 s, active 3600 s";

/// A warning when the dataset's flows were not metered with the 2021
/// study's timeouts (`how_made.timeouts`, as recorded in the files).
fn timeout_warning(timeouts: &Value) -> Option<String> {
    let list: Vec<String> = timeouts
        .as_array()
        .map(|v| v.iter().map(s).collect())
        .unwrap_or_default();
    let like_study = |t: &String| t.starts_with(STUDY_TIMEOUTS);
    if !list.is_empty() && list.iter().all(like_study) {
        return None;
    }
    let used = if list.is_empty() {
        "not recorded in the files".to_string()
    } else {
        list.join("; ")
    };
    Some(format!(
        "Flow timeouts differ from the 2021 study's: this dataset's are {used}; the study ran NFStream with {STUDY_TIMEOUTS} (its appendix A.2). A shorter active timeout cuts long flows into more, shorter ones, so flow counts, shares and mean durations are not like for like. Ingest or capture with --flow-preset study-2021 to meter as the study did."
    ))
}

/// The publication paragraph of the introduction.
fn publication_intro(p: &Value) -> String {
    let nodes = p["nodes"].as_object().cloned().unwrap_or_default();
    let units: usize = nodes
        .values()
        .map(|n| n["units"].as_array().map_or(0, Vec::len))
        .sum();
    let mut eps = BTreeSet::new();
    let mut bounds = BTreeSet::new();
    let mut budgets = BTreeSet::new();
    for n in nodes.values() {
        budgets.insert(n["budget_per_day"].to_string());
        for u in n["units"].as_array().into_iter().flatten() {
            eps.insert(u["epsilon"].to_string());
            bounds.insert(u["action_bound"].to_string());
        }
    }
    let join = |s: BTreeSet<String>| s.into_iter().collect::<Vec<_>>().join(", ");
    let covered = &p["window_covered"];
    let mut out = format!(
        "Published with differential privacy (δ = {:.0e}, from the sampler's resolution). This report is the sum of {units} stored release units (one node's UTC days each, released once with fresh noise; listed in report.json), covering {} to {} UTC: a window snaps to whole units. Each unit spent ε = {} (budget {} per node-day); the unit of privacy is up to {} flow(s) of one client per unit. A value of an open vocabulary (ports, countries, protocols, user-agent families) is shown only when its noisy count reached the unit's threshold, so that values with no flows are almost never shown (at most {} expected per table of a unit); a value's sum counts the units where it reached the threshold; '{}' is the noisy total minus the values shown. Each table states its noise. Not released: {}.",
        p["delta"].as_f64().unwrap_or(0.0),
        s(&covered[0]),
        s(&covered[1]),
        join(eps),
        join(budgets),
        join(bounds),
        p["phantom_values_per_table_and_unit"],
        crate::publish::assemble::OTHER_ESTIMATE,
        s(&p["not_released"]),
    );
    out.push_str(" Packets, bytes and durations are released as sums of the stored per-flow values clipped per flow: power-of-two buckets under the strict profile, so they read low (the hourly exact sums are not released: their sensitivity is the clip, not a bucket).");
    let pending = p["not_yet_complete"].as_array().map_or(0, Vec::len);
    if pending > 0 {
        let _ = write!(
            out,
            " {pending} unit(s) of the window are not over yet and were not released."
        );
    }
    out
}

/// Sections and the statistic whose noise their tables carry.
const SECTION_STATISTICS: &[(&str, &str, &str)] = &[
    ("applications", "master_protocols", "flows per protocol"),
    ("categories", "categories", "flows per category"),
    ("dst-countries", "dst_countries", "flows per country"),
    ("src-countries", "src_countries", "flows per country"),
    ("ports", "dst_ports", "flows per port"),
    ("user-agents", "user_agent_families", "flows per family"),
    ("content-types", "content_type_families", "flows per family"),
    ("hours", "hours_utc", "flows per hour"),
    ("nodes", "flows", "flows per node"),
];

/// Under --publish, a section's noise: scale, 95 % interval, threshold, or
/// that too few flows were there to publish anything.
fn noise_note(p: &Value, section: &str) -> Option<String> {
    let (_, stat, what) = SECTION_STATISTICS.iter().find(|x| x.0 == section)?;
    // Source countries are over two slices (exit and other roles, more
    // than 4 packets): their noise adds.
    let slices: &[&str] = if section == "src-countries" {
        &["exit", "other"]
    } else {
        &["exit"]
    };
    let ts: Vec<&Value> = slices
        .iter()
        .map(|sl| &p["all_nodes_tables"][*sl][stat])
        .filter(|t| !t.is_null())
        .collect();
    let t = ts.first()?;
    if ts
        .iter()
        .all(|t| t["too_few_flows"].as_bool() == Some(true))
    {
        return Some(format!(
            "Too few flows to publish: no value reached the threshold of {} flows per unit (noise scale {:.1} per unit).",
            t["threshold_per_unit"],
            t["noise_scale_per_unit"].as_f64().unwrap_or(0.0)
        ));
    }
    let units: u64 = ts.iter().map(|t| u(&t["units"])).sum();
    let half = ts
        .iter()
        .map(|t| t["ci95_half_width"].as_f64().unwrap_or(0.0).powi(2))
        .sum::<f64>()
        .sqrt();
    let mut note = format!(
        "Differential privacy: noise of scale {:.1} per unit; a value of all nodes sums {units} unit(s), 95 % interval ±{half:.0} {what}",
        t["noise_scale_per_unit"].as_f64().unwrap_or(0.0),
    );
    if let Some(th) = t["threshold_per_unit"].as_i64() {
        let _ = write!(
            note,
            "; a value is shown only where it reached {th} flows in a unit"
        );
    }
    note.push('.');
    Some(note)
}

fn title(j: &Value) -> &'static str {
    if j["synthetic"].as_bool().unwrap_or(false) {
        "Exit traffic report (synthetic data)"
    } else {
        "Exit traffic report"
    }
}

fn md_table(out: &mut String, t: &Table) {
    let _ = writeln!(
        out,
        "| {} |",
        t.head
            .iter()
            .map(|h| md_text(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(
        out,
        "|{}|",
        t.head.iter().map(|_| "---").collect::<Vec<_>>().join("|")
    );
    for r in &t.rows {
        let cells: Vec<String> = r.iter().map(|c| md_text(c)).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push('\n');
    if let Some(n) = &t.note {
        let _ = writeln!(out, "{}\n", md_prose(n));
    }
}

/// The report as Markdown, from its JSON.
pub fn markdown_from_json(j: &Value) -> String {
    let (intro, sections) = document(j);
    let mut out = format!("# {}\n\n", title(j));
    for line in intro.lines() {
        let _ = writeln!(out, "{}", md_prose(line));
    }
    out.push('\n');
    out.push_str("Contents: ");
    out.push_str(
        &sections
            .iter()
            .map(|s| md_text(&s.title))
            .collect::<Vec<_>>()
            .join(" · "),
    );
    out.push_str("\n\n");
    for sec in &sections {
        let _ = writeln!(out, "## {}\n", md_text(&sec.title));
        for b in &sec.blocks {
            md_block(&mut out, b);
        }
    }
    out
}

fn md_block(out: &mut String, b: &Block) {
    match b {
        Block::Para(p) => {
            let _ = writeln!(out, "{}\n", md_prose(p));
        }
        Block::Warning(p) => {
            let _ = writeln!(out, "> **Warning:** {}\n", md_prose(p));
        }
        Block::Table(t) => md_table(out, t),
        // The table beside each chart holds its numbers.
        Block::Chart(_) => {}
        Block::Nodes(nodes) => {
            for (name, blocks) in nodes {
                let _ = writeln!(out, "### {}\n", md_text(name));
                for b in blocks {
                    md_block(out, b);
                }
            }
        }
    }
}

/// The report as Markdown.
pub fn markdown(r: &Report) -> String {
    markdown_from_json(&json(r))
}

/// Characters that can start inline Markdown (emphasis, code, links,
/// images, autolinks, HTML, entities, strikethrough, table cells).
const MD_INLINE: &[char] = &['\\', '`', '*', '_', '[', ']', '<', '>', '|', '~', '&', '@'];

/// Text (from traffic: user-agents, content types, labels) as literal
/// Markdown inside a table cell: every character that can start inline
/// Markdown is backslash-escaped (CommonMark renders an escaped punctuation
/// character as itself), so are the colon of `://` and the dot of `www.`
/// (GitHub's autolinks), and line breaks and control characters become
/// spaces. Nothing in it can become HTML, a link or an image; parentheses,
/// `!` and other colons need no escape once `[`, `]` and `<` have one.
pub fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        let after_www =
            out.len() >= 3 && out.as_bytes()[out.len() - 3..].eq_ignore_ascii_case(b"www");
        let scheme = c == ':' && rest.starts_with("//");
        if MD_INLINE.contains(&c) || (c == '.' && after_www) || scheme {
            out.push('\\');
            out.push(c);
        } else if c.is_control() {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// The report's own sentences (which may quote node names, labels and
/// numbers) as Markdown: the characters that can make emphasis, code,
/// links, images or HTML are escaped, punctuation of prose is not.
fn md_prose(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if "\\`*_[]<>|~&!".contains(c) {
            out.push('\\');
            out.push(c);
        } else if c.is_control() {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    // GitHub's autolinks start at "www." and "://".
    out.replace("www.", "www\\.").replace("://", ":\\/\\/")
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}

/// Width of the charts' drawing (they scale down to the page with viewBox).
const CHART_W: usize = 520;

/// Horizontal bars with a value axis, each bar's value and share written.
fn bars_svg(title: &str, items: &[(String, u64)], total: u64, unit: &str) -> String {
    if items.iter().all(|x| x.1 == 0) {
        return format!(
            "<figure><figcaption>{}</figcaption><p class=\"note\">No flows to chart.</p></figure>\n",
            esc(title)
        );
    }
    let max = items.iter().map(|x| x.1).max().unwrap_or(0).max(1);
    let (left, width) = (150usize, 260usize);
    let h = 22 * items.len() + 50;
    let mut s = format!(
        "<figure><figcaption>{}</figcaption><svg role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {CHART_W} {h}\" width=\"100%\" xmlns=\"http://www.w3.org/2000/svg\">",
        esc(title),
        esc(title)
    );
    for (i, (name, n)) in items.iter().enumerate() {
        let y = 10 + 22 * i;
        let w = (width as f64 * *n as f64 / max as f64).max(1.0);
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\">{}</text><rect x=\"{left}\" y=\"{y}\" width=\"{w:.1}\" height=\"16\" fill=\"#3b6ea8\"><title>{} {}</title></rect><text x=\"{:.1}\" y=\"{}\" font-size=\"11\">{} ({:.1}%)</text>",
            left - 6,
            y + 12,
            esc(&truncate(name, 22)),
            esc(name),
            n,
            left as f64 + w + 4.0,
            y + 12,
            n,
            pct(*n, total)
        );
    }
    // The value axis: a line with ticks at 0, half and the maximum.
    let ya = 10 + 22 * items.len() + 4;
    let _ = write!(
        s,
        "<line x1=\"{left}\" y1=\"{ya}\" x2=\"{}\" y2=\"{ya}\" stroke=\"#555\"/>",
        left + width
    );
    for (frac, v) in [(0.0, 0), (0.5, max / 2), (1.0, max)] {
        let x = left as f64 + frac * width as f64;
        let _ = write!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{ya}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#555\"/><text x=\"{x:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{v}</text>",
            ya + 4,
            ya + 16
        );
    }
    let _ = write!(
        s,
        "<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
        left + width / 2,
        ya + 28,
        esc(unit)
    );
    s.push_str("</svg></figure>\n");
    s
}

/// Columns over ordered labels, with a value axis and each column's value.
fn columns_svg(title: &str, labels: &[String], values: &[f64], unit: &str) -> String {
    let n = values.len().max(1);
    let max = values.iter().copied().fold(0.0, f64::max).max(1e-9);
    let (left, top, plot_h) = (48.0, 16.0, 150.0);
    let step = (CHART_W as f64 - left - 10.0) / n as f64;
    // Hour labels (`YYYY-MM-DD HH:00`) as `MM-DD HH h`: the year is in the
    // table, and long rotated labels ran off the chart.
    let labels: Vec<String> = labels
        .iter()
        .map(|l| match (l.get(5..10), l.get(11..13), l.len()) {
            (Some(md), Some(hh), 16) if l.ends_with(":00") => format!("{md} {hh} h"),
            _ => l.clone(),
        })
        .collect();
    // Labels run level under their columns (9 px type, ≤ 5.5 px a
    // character), every `every`-th one where they would touch.
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0) as f64;
    let h = top + plot_h + 32.0;
    let mut s = format!(
        "<figure><figcaption>{}</figcaption><svg role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {CHART_W} {h}\" width=\"100%\" xmlns=\"http://www.w3.org/2000/svg\">",
        esc(title),
        esc(title)
    );
    let base = top + plot_h;
    // Value axis with three ticks, and the unit.
    let _ = write!(
        s,
        "<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{base}\" stroke=\"#555\"/><line x1=\"{left}\" y1=\"{base}\" x2=\"{}\" y2=\"{base}\" stroke=\"#555\"/>",
        CHART_W - 10
    );
    for frac in [0.0, 0.5, 1.0] {
        let y = base - frac * plot_h;
        let _ = write!(
            s,
            "<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{left}\" y2=\"{y:.1}\" stroke=\"#555\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
            left - 4.0,
            left - 6.0,
            y + 3.0,
            fmt_value(frac * max, unit)
        );
    }
    let _ = write!(
        s,
        "<text x=\"10\" y=\"{:.1}\" font-size=\"10\" transform=\"rotate(-90 10 {:.1})\" text-anchor=\"middle\">{}</text>",
        top + plot_h / 2.0,
        top + plot_h / 2.0,
        esc(unit)
    );
    // Rotated labels of adjacent columns stand 0.71 × their spacing apart:
    // at least 10 px for 9 px type.
    let every = ((5.5 * longest + 6.0) / step).ceil().max(1.0) as usize;
    let values_fit = values
        .iter()
        .all(|v| 5.5 * fmt_value(*v, unit).chars().count() as f64 <= step - 2.0);
    for (i, v) in values.iter().enumerate() {
        let bh = plot_h * v / max;
        let x = left + 2.0 + step * i as f64;
        let w = (step - 2.0).max(1.0);
        let label = labels.get(i).map_or("", String::as_str);
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{bh:.1}\" fill=\"#6a9f58\"><title>{} {}</title></rect>",
            base - bh,
            esc(label),
            fmt_value(*v, unit)
        );
        // Values over the columns only where every one fits its column
        // (8 px type, ≤ 5.5 px a character): never over a neighbour's.
        let text = fmt_value(*v, unit);
        if values_fit {
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"8\" text-anchor=\"middle\">{}</text>",
                x + w / 2.0,
                base - bh - 2.0,
                text
            );
        }
        // The last label centred on its column must stay inside the chart.
        let half = 2.75 * label.chars().count() as f64;
        if i % every == 0 && x + w / 2.0 + half <= CHART_W as f64 {
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\" text-anchor=\"middle\">{}</text>",
                x + w / 2.0,
                base + 17.0,
                esc(label)
            );
        }
    }
    s.push_str("</svg></figure>\n");
    s
}

fn fmt_value(v: f64, unit: &str) -> String {
    if unit == "%" {
        format!("{v:.1}%")
    } else {
        format!("{}", v.round() as u64)
    }
}

/// Rows of a table shown before the rest is folded (`<details>`).
pub const FOLD_ROWS: usize = 10;

/// Whether a cell reads as a number (right-aligned).
fn numeric(c: &str) -> bool {
    !c.is_empty()
        && c.chars().any(|ch| ch.is_ascii_digit() || ch == '–')
        && c.chars()
            .all(|ch| ch.is_ascii_digit() || matches!(ch, '.' | ',' | '%' | '-' | '–' | '±' | ' '))
}

/// One row of cells (`td` or `th`), numeric columns right-aligned.
fn html_cells(out: &mut String, cells: &[String], num: &[bool], tag: &str) {
    out.push_str("<tr>");
    for (i, c) in cells.iter().enumerate() {
        let class = if num.get(i) == Some(&true) {
            " class=\"n\""
        } else {
            ""
        };
        let _ = write!(out, "<{tag}{class}>{}</{tag}>", esc(c));
    }
    out.push_str("</tr>\n");
}

fn html_rows(out: &mut String, rows: &[Vec<String>], num: &[bool]) {
    for r in rows {
        html_cells(out, r, num, "td");
    }
}

fn html_head(out: &mut String, head: &[String], num: &[bool]) {
    out.push_str("<div class=\"scroll\"><table><thead>");
    html_cells(out, head, num, "th");
    out.push_str("</thead><tbody>\n");
}

/// A table: numbers right-aligned, text left; past [`FOLD_ROWS`] rows the
/// rest folded under a `<details>` (the Markdown keeps every row).
fn html_table(out: &mut String, t: &Table) {
    let cols = t.head.len();
    let num: Vec<bool> = (0..cols)
        .map(|i| {
            let mut cells = t
                .rows
                .iter()
                .filter_map(|r| r.get(i))
                .filter(|c| !c.is_empty());
            let mut any = false;
            let all = cells.all(|c| {
                any = true;
                numeric(c)
            });
            any && all
        })
        .collect();
    html_head(out, &t.head, &num);
    let shown = if t.fold {
        t.rows.len().min(FOLD_ROWS)
    } else {
        t.rows.len()
    };
    html_rows(out, &t.rows[..shown], &num);
    out.push_str("</tbody></table></div>\n");
    if t.rows.len() > shown {
        let _ = writeln!(
            out,
            "<details><summary>{} more rows</summary>",
            t.rows.len() - shown
        );
        html_head(out, &t.head, &num);
        html_rows(out, &t.rows[shown..], &num);
        out.push_str("</tbody></table></div></details>\n");
    }
    if let Some(n) = &t.note {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(n));
    }
}

fn html_block(body: &mut String, b: &Block) {
    match b {
        Block::Para(p) => {
            let _ = writeln!(body, "<p>{}</p>", esc(p));
        }
        Block::Warning(p) => {
            let _ = writeln!(body, "<p class=\"warning\">{}</p>", esc(p));
        }
        Block::Table(t) => html_table(body, t),
        Block::Chart(Chart::Bars {
            title,
            items,
            total,
            unit,
        }) => {
            body.push_str(&bars_svg(title, items, *total, unit));
        }
        Block::Chart(Chart::Columns {
            title,
            labels,
            values,
            unit,
        }) => {
            body.push_str(&columns_svg(title, labels, values, unit));
        }
        Block::Nodes(nodes) => {
            // A switch without script: radio buttons, and CSS showing the
            // panel of the one checked.
            body.push_str("<style>.node-panel{display:none}.node-switch label{margin-right:1em;cursor:pointer}.node-switch input{margin-right:.2em}");
            for i in 0..nodes.len() {
                let _ = write!(body, "#node-{i}:checked~#node-panel-{i}{{display:block}}");
            }
            body.push_str("</style><div class=\"node-switch\">\n");
            for (i, (name, _)) in nodes.iter().enumerate() {
                let _ = writeln!(
                    body,
                    "<input type=\"radio\" name=\"node\" id=\"node-{i}\"{}><label for=\"node-{i}\">{}</label>",
                    if i == 0 { " checked" } else { "" },
                    esc(name)
                );
            }
            for (i, (name, blocks)) in nodes.iter().enumerate() {
                let _ = writeln!(
                    body,
                    "<div class=\"node-panel\" id=\"node-panel-{i}\"><h3>{}</h3>",
                    esc(name)
                );
                for b in blocks {
                    html_block(body, b);
                }
                body.push_str("</div>\n");
            }
            body.push_str("</div>\n");
        }
    }
}

/// The report as one self-contained HTML page, from its JSON.
pub fn html_from_json(j: &Value) -> String {
    let (intro, sections) = document(j);
    let mut body = String::new();
    let _ = writeln!(body, "<h1>{}</h1>", esc(title(j)));
    for p in intro.split("\n\n").filter(|p| !p.trim().is_empty()) {
        let class = if p.starts_with("SYNTHETIC") {
            " class=\"warning\""
        } else {
            ""
        };
        let _ = writeln!(body, "<p{class}>{}</p>", esc(p.trim()));
    }
    body.push_str("<nav><h2>Contents</h2><ol>\n");
    for sec in &sections {
        let _ = writeln!(
            body,
            "<li><a href=\"#{}\">{}</a></li>",
            esc(&sec.id),
            esc(&sec.title)
        );
    }
    body.push_str("</ol></nav>\n");
    for sec in &sections {
        let _ = writeln!(
            body,
            "<section id=\"{}\"><h2>{}</h2>",
            esc(&sec.id),
            esc(&sec.title)
        );
        for b in &sec.blocks {
            html_block(&mut body, b);
        }
        body.push_str("</section>\n");
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"><title>{}</title><style>body{{font-family:sans-serif;max-width:960px;margin:1em auto;padding:0 1em;line-height:1.4}}table{{border-collapse:collapse;font-size:14px}}td,th{{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}}.n{{text-align:right;white-space:nowrap}}summary{{cursor:pointer;margin:.3em 0}}.scroll{{overflow-x:auto}}.note{{color:#555;font-size:13px}}.warning{{background:#fff3cd;border:1px solid #c9a227;padding:.5em}}figure{{margin:1em 0}}figure svg{{max-width:640px;height:auto}}figcaption{{font-weight:bold}}@media (min-width:700px){{nav ol{{columns:2}}}}</style></head><body>\n{}</body></html>\n",
        esc(title(j)),
        body
    )
}

/// The report as one self-contained HTML page.
pub fn html(r: &Report) -> String {
    html_from_json(&json(r))
}
