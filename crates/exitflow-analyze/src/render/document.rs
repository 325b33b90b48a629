//! A report's JSON as sections: the introduction, key findings, how the
//! report was made, the nodes, each node's own tables and every flow.
use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use super::compare::{noise_note, publication_intro};
use super::*;

/// What every section reads: the report's JSON and what is derived from
/// it once.
pub(super) struct Ctx<'a> {
    pub(super) j: &'a Value,
    pub(super) a: &'a Value,
    pub(super) defs: &'a Value,
    pub(super) nodes: serde_json::Map<String, Value>,
    pub(super) studies: Vec<Value>,
    pub(super) study: u64,
    pub(super) scope: String,
    pub(super) http: u64,
    pub(super) has_exit: bool,
}

impl Ctx<'_> {
    /// A published study's figure (the first study whose name holds
    /// `name_part`), or a dash.
    pub(super) fn pubfig(&self, name_part: &str, key: &str) -> String {
        self.studies
            .iter()
            .find(|p| s(&p["name"]).contains(name_part))
            .and_then(|p| p["figures"][key].as_f64())
            .map_or("–".into(), |v| format!("{v:.2}"))
    }
}

/// The introduction and the sections of a report's JSON, in order.
pub(super) fn document(j: &Value) -> (String, Vec<Section>) {
    let a = &j["all"];
    let c = Ctx {
        j,
        a,
        defs: &a["definitions"],
        nodes: j["nodes"].as_object().cloned().unwrap_or_default(),
        studies: j["published"].as_array().cloned().unwrap_or_default(),
        study: u(&a["study_flows"]),
        scope: s(&a["study_scope"]),
        http: u(&a["http_flows"]),
        has_exit: a["definitions"]["exit"].is_object(),
    };
    let (study, scope, nodes) = (c.study, &c.scope, &c.nodes);
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

    let mut out = Vec::new();
    for section in [
        key_findings,
        how_made,
        node_totals,
        super::tables::labels,
        super::tables::ports_http,
        super::tables::hours,
        super::tables::failed_over_time,
        super::tables::abuse_section,
        per_node,
        all_flows,
        super::compare::comparison,
    ] {
        out.extend(section(&c));
    }
    if j["publication"].is_object() {
        for sec in &mut out {
            if let Some(note) = noise_note(&j["publication"], &sec.id) {
                sec.blocks.push(Block::Para(note));
            }
        }
    }
    (intro, out)
}

pub(super) fn key_findings(c: &Ctx) -> Vec<Section> {
    let a = c.a;
    let defs = c.defs;
    let has_exit = c.has_exit;
    let study = c.study;
    let scope = &c.scope;
    let pubfig = |p: &str, k: &str| c.pubfig(p, k);
    let mut out = Vec::new();
    // Key findings, with the published figures beside them: exit traffic
    // (what leaves Tor) and the 2021 study's own definition beside its
    // figures.
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

    out
}

pub(super) fn how_made(c: &Ctx) -> Vec<Section> {
    let j = c.j;
    let a = c.a;
    let nodes = &c.nodes;
    let scope = &c.scope;
    let mut out = Vec::new();
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
    for (n, f) in nodes {
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
                    "{g} of {flows} flows written with a column generalised ({} %), {sup} not written as rows ({} %), {fo} counted under Other in strict tables ({} %): no row or cell stands for fewer than k flows of its hour (counts from the node totals, which default and strict keep noisy, to 16 flows per write)",
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

    out
}

pub(super) fn node_totals(c: &Ctx) -> Vec<Section> {
    let j = c.j;
    let a = c.a;
    let nodes = &c.nodes;
    let mut out = Vec::new();
    // Nodes (Table 5.1, Figures 5.1 and 5.2).
    let mut rows = Vec::new();
    let mut pk = Vec::new();
    let mut fl = Vec::new();
    for (n, f) in nodes.iter().chain(std::iter::once((&"all".to_string(), a))) {
        rows.push(vec![
            n.clone(),
            thousands(u(&f["flows"])),
            thousands(u(&f["failed_flows"])),
            f2(&f["failed_share"]),
            thousands(u(&f["exit_flows"])),
            thousands(u(&f["study_flows"])),
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
                Some("Every flow on each node's interface, every role; failed: 4 packets or fewer. Packets and bytes from the node totals where the rows hold buckets (under default and strict noisy, to 1,024 packets and 1 MiB).".into()),
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

    out
}

pub(super) fn per_node(c: &Ctx) -> Vec<Section> {
    let nodes = &c.nodes;
    let mut out = Vec::new();
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

    out
}

pub(super) fn all_flows(c: &Ctx) -> Vec<Section> {
    let a = c.a;
    let defs = c.defs;
    let mut out = Vec::new();
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

    out
}

/// A policy as the files record it (`profile=default addresses=drop ...`),
/// in words.
pub(super) fn profile_words(policy: &str) -> String {
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
pub(super) fn duration_note(bucketed_share: &Value) -> String {
    match bucketed_share.as_f64() {
        Some(b) if b > 0.0 => format!(
            " The durations of {b:.2}% of these flows are power-of-two buckets (their hours had no exact sums: a slice of fewer than k flows, or files written before exitflow kept them), which read low by up to half; the others come from each hour's exact sums."
        ),
        _ => String::new(),
    }
}
