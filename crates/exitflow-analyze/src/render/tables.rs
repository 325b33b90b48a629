//! The study's tables: applications, categories, countries, ports,
//! user-agents and crawlers, content types, hours, failed flows, abuse.
use serde_json::Value;

use super::document::{Ctx, duration_note};
use super::*;

/// A section of one chart (top 8) and its table of `a[key]`.
#[allow(clippy::too_many_arguments)]
pub(super) fn simple(
    a: &Value,
    id: &str,
    title: &str,
    key: &str,
    chart: &str,
    total: u64,
    note: Option<String>,
    extra: Option<String>,
) -> Section {
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
}

pub(super) fn labels(c: &Ctx) -> Vec<Section> {
    let a = c.a;
    let study = c.study;
    let scope = &c.scope;
    let mut out = Vec::new();
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
            table(&["application", "flows", "%"], pairs(&a["applications_top40"], study), of(study, scope)),
        ],
    });
    out.push(simple(
        a,
        "categories",
        "Categories (Figure 5.4)",
        "categories",
        "Categories: top 8",
        study,
        of(study, scope),
        None,
    ));
    out.push(simple(
        a,
        "dst-countries",
        "Destination countries (Figure 5.5)",
        "dst_countries",
        "Destination countries: top 8",
        study,
        of(study, scope),
        Some(format!(
            "{} distinct destination countries and territories (2021 study: 244).",
            u(&a["unique_dst_countries"])
        )),
    ));

    out
}

pub(super) fn ports_http(c: &Ctx) -> Vec<Section> {
    let j = c.j;
    let a = c.a;
    let study = c.study;
    let scope = &c.scope;
    let http = c.http;
    let pubfig = |p: &str, k: &str| c.pubfig(p, k);
    let mut out = Vec::new();
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
        table(&head, port_rows, of(study, scope)),
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
                thousands(u(&x[1])),
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

    out
}

pub(super) fn hours(c: &Ctx) -> Vec<Section> {
    let a = c.a;
    let nodes = &c.nodes;
    let mut out = Vec::new();
    // Hours (Figures 5.7 to 5.10): charts per node, and one table.
    let mut blocks = Vec::new();
    let mut head = vec!["hour".to_string()];
    let mut cols: Vec<Vec<u64>> = Vec::new();
    for (n, f) in nodes {
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
        a,
        "src-countries",
        "Source countries (Figure 5.11)",
        "src_countries",
        "Source countries: top 8",
        u(&a["src_country_flows"]),
        of(u(&a["src_country_flows"]), "flows of more than 4 packets, every role, not begun by the relay"),
        Some(format!("{} distinct source countries and territories (2021 study: 176). As the study's Figure 5.11: the sources of flows of every role (relays connecting to this one, replies), not of exit flows, whose source is the relay itself; flows the relay began are left out. Outside the research profile a source's country is kept only where the source is a relay; the others are 'withheld'.", u(&a["unique_src_countries"]))),
    ));

    out
}

pub(super) fn failed_over_time(c: &Ctx) -> Vec<Section> {
    let a = c.a;
    let mut out = Vec::new();
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
                series.iter().map(|x| vec![s(&x[0]), thousands(u(&x[1])), thousands(u(&x[2])), f2(&x[3])]).collect(),
                Some("Per hour: 100 % = the exit flows that started in it.".into()),
            ),
        ],
    });

    out
}

pub(super) fn abuse_section(c: &Ctx) -> Vec<Section> {
    let a = c.a;
    let mut out = Vec::new();
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
                rows("failed_by_hour_port", &|x| vec![s(&x[0]), u(&x[1]).to_string(), thousands(u(&x[2])), thousands(u(&x[3])), f2(&x[4])]),
                Some("The hours and ports with the most failed exit flows.".into()),
            ),
            table(
                &["hour (UTC)", "ports with failed attempts", "failed attempts"],
                rows("ports_per_hour", &|x| vec![s(&x[0]), thousands(u(&x[1])), thousands(u(&x[2]))]),
                Some("Fan-out: the hours whose failed exit flows reached the most destination ports.".into()),
            ),
            table(
                &["port", "service", "exit flows", "failed", "failed %", "busiest hour (flows)"],
                rows("login_ports", &|x| vec![u(&x[0]).to_string(), s(&x[1]), thousands(u(&x[2])), thousands(u(&x[3])), f2(&x[4]), thousands(u(&x[5]))]),
                Some("Login services: every exit flow to their ports.".into()),
            ),
        ],
    });

    out
}
