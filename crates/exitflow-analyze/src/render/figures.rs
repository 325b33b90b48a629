//! The report's typed JSON (`crate::contract`) from the scan's aggregates.
use std::collections::BTreeMap;

use serde_json::Value;

use exitflow_output::SELF_SOURCE;

use super::*;
use crate::contract::{
    Abuse, AllFlows, Anonymity, Definition, Definitions, ExitPolicy, Figures, HowMade, Period,
    PortCountries, PublishedStudy, ReportDoc,
};
use crate::{
    Agg, NodeAgg, PORT_COUNTRY_PORTS, Report, TOP_ROWS, content_type_families, published, top,
    top_ports,
};

pub(super) fn top_with_other(c: &crate::Counts, n: usize, total: u64) -> Vec<(String, u64)> {
    let mut v = top(c, n);
    let shown: u64 = v.iter().map(|x| x.1).sum();
    if total > shown {
        v.push(("Other".into(), total - shown));
    }
    v
}

/// Content types without their parameters (`text/html; charset=UTF-8`
/// counts as `text/html`, as NFStream and the 2021 study counted them; a
/// malformed one as `other`): research rows keep them as sent.
fn content_type_bases(c: &crate::Counts) -> crate::Counts {
    let mut m = crate::Counts::default();
    for (k, v) in c {
        *m.entry(exitflow_output::useragent::content_type_base(k))
            .or_default() += v;
    }
    m
}

/// Flows per master protocol: each label's services summed under it
/// (`TLS.Google` and `TLS.YouTube` under `TLS`).
pub(super) fn masters(apps: &crate::Counts) -> crate::Counts {
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
pub(super) fn is_country(k: &str) -> bool {
    k.len() == 2 && k.bytes().all(|b| b.is_ascii_uppercase()) && k != "ZZ"
}

/// Countries counted, without the special values (private, unknown, withheld...).
pub(super) fn unique_countries(c: &crate::Counts) -> usize {
    c.keys().filter(|k| is_country(k)).count()
}

/// Each content-type family's share of the HTTP flows with a content type:
/// text, application, image, audio, video, other.
pub(super) fn family_shares(families: &[(String, u64)], with_ct: u64) -> [f64; 6] {
    crate::publish::units::CONTENT_TYPE_FAMILIES.map(|f| family_share(families, f, with_ct))
}

/// The figures one definition gives, the ones set beside the published
/// studies: `d` holds the definition's flows; failed shares are of
/// `failed` among `attempted` (the same roles, failed flows included).
pub(super) fn definition(name: &str, d: &Agg, failed: u64, attempted: u64) -> Definition {
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
pub(super) fn mean_duration_s(a: &Agg) -> f64 {
    if a.flows == 0 {
        0.0
    } else {
        a.duration_ms as f64 / a.flows as f64 / 1000.0
    }
}

/// Failed connection attempts per hour and port, fan-out per hour, and
/// login services: counts only, no identity.
pub(super) fn abuse(ok: &Agg, failed: &Agg) -> Abuse {
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

/// The figures of one node (or of all): interface-wide totals, the study's
/// tables over [`STUDY_SCOPE`], the failed-flow series and the abuse tables.
pub(super) fn figures(n: &NodeAgg, volume: Option<(u64, u64)>) -> Figures {
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
                    countries: top(&c, TOP_ROWS),
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
            "node totals"
        } else {
            "rows"
        }
        .into(),
        tor_roles: top(&all.roles, 10),
        exit_flows: exit.flows,
        exit_failed_flows: exit.failed_flows,
        exit_failed_share: if has_exit {
            pct(exit.failed_flows, exit.flows)
        } else {
            pct(all.failed_flows, all.flows)
        },
        all_flows: AllFlows {
            applications_top40: top(&all.applications, TOP_ROWS),
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
        applications_top40: top(&a.applications, TOP_ROWS),
        categories: top(&a.categories, TOP_ROWS),
        dst_countries: top(&a.dst_countries, TOP_ROWS),
        src_countries: top(&src_countries, TOP_ROWS),
        src_country_flows: d2021.flows - from_self,
        unique_dst_countries: unique_countries(&a.dst_countries) as u64,
        unique_src_countries: unique_countries(&src_countries) as u64,
        dst_ports_top40: top_ports(&a, TOP_ROWS),
        port_countries,
        user_agents: top(&a.user_agents, TOP_ROWS),
        crawlers: top(&crawlers, TOP_ROWS),
        crawler_flows,
        crawler_share: pct(crawler_flows, a.http_flows),
        http_flows: a.http_flows,
        http_unknown_content_type_share: pct(no_ct, a.http_flows),
        http_flows_with_content_type: with_ct,
        content_type_families: families
            .iter()
            .map(|(f, n)| (f.clone(), *n, pct(*n, with_ct)))
            .collect(),
        content_types_top40: top(&content_type_bases(&a.content_types), TOP_ROWS),
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

pub(super) fn family_share(families: &[(String, u64)], f: &str, with_ct: u64) -> f64 {
    pct(
        families.iter().find(|x| x.0 == f).map_or(0, |x| x.1),
        with_ct,
    )
}

pub(super) fn tz_label(zone: Option<&crate::Zone>, n: &NodeAgg) -> String {
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
pub(super) fn withhold_noisy(f: &mut Figures, tables: &Value) {
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
