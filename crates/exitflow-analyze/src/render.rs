//! The report as JSON (every number), Markdown tables and one self-contained
//! HTML page with inline SVG charts (nothing fetched from the network).
use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::{Agg, Report, TOP_ROWS, content_type_families, pct, published, top, top_ports};

/// Entries in the "top 8 + Other" chart.
pub const CHART_TOP: usize = 8;

fn top_with_other(c: &crate::Counts, n: usize, total: u64) -> Vec<(String, u64)> {
    let mut v = top(c, n);
    let shown: u64 = v.iter().map(|x| x.1).sum();
    if total > shown {
        v.push(("Other".into(), total - shown));
    }
    v
}

/// Figures of one aggregate, as JSON.
pub fn figures(a: &Agg) -> Value {
    let (families, no_ct) = content_type_families(a);
    let with_ct = a.http_flows - no_ct;
    json!({
        "flows": a.flows,
        "failed_flows": a.failed_flows,
        "failed_share": pct(a.failed_flows, a.flows),
        "packets": a.packets,
        "bytes": a.bytes,
        "traffic_gb": a.bytes as f64 / 1e9,
        "dataset_bytes": a.dataset_bytes,
        "volume_from": if a.exact_volume { "node totals (exact)" } else { "rows" },
        "mean_duration_s": if a.flows == 0 { 0.0 } else { a.duration_ms as f64 / a.flows as f64 / 1000.0 },
        "tls_share": a.master_share("TLS"),
        "http_share": a.master_share("HTTP") + a.master_share("HTTP_Proxy"),
        "bittorrent_share": a.master_share("BitTorrent"),
        "unknown_share": pct(*a.applications.get("Unknown").unwrap_or(&0), a.flows),
        "port_443_share": pct(*a.dst_ports.get(&443).unwrap_or(&0), a.flows),
        "port_80_share": pct(*a.dst_ports.get(&80).unwrap_or(&0), a.flows),
        "src_proxy_flows": a.src_proxy,
        "dst_proxy_flows": a.dst_proxy,
        "applications_top8": top_with_other(&a.applications, CHART_TOP, a.flows),
        "applications_top40": top(&a.applications, TOP_ROWS),
        "categories": top(&a.categories, TOP_ROWS),
        "dst_countries": top(&a.dst_countries, TOP_ROWS),
        "src_countries": top(&a.src_countries, TOP_ROWS),
        "dst_ports_top40": top_ports(a, TOP_ROWS),
        "user_agents": top(&a.user_agents, TOP_ROWS),
        "http_flows": a.http_flows,
        "http_unknown_content_type_share": pct(no_ct, a.http_flows),
        "content_type_families": families.iter().map(|(f, n)| json!([f, n, pct(*n, with_ct)])).collect::<Vec<_>>(),
        "content_types_top40": top(&a.content_types, TOP_ROWS),
        "flows_per_hour_utc": a.hours_utc,
        "flows_per_hour_local": a.hours_local,
        "tor_roles": top(&a.roles, 10),
    })
}

/// The whole report as JSON.
pub fn json(r: &Report) -> Value {
    let all = figures(&r.all);
    let comparison: Vec<Value> = published()
        .into_iter()
        .map(|p| json!({"name": p.name, "source": p.source, "figures": p.figures}))
        .collect();
    json!({
        "files": r.files,
        "nodes": r.nodes.iter().map(|(n, a)| (n.clone(), figures(a))).collect::<serde_json::Map<_, _>>(),
        "all": all,
        "published": comparison,
        "publication": r.publication,
        "exit_policies": r.exit_policies,
    })
}

const COMPARED: &[(&str, &str)] = &[
    ("http_share", "HTTP share of flows (%)"),
    ("tls_share", "TLS share of flows (%)"),
    ("bittorrent_share", "BitTorrent share of flows (%)"),
    ("unknown_share", "Unknown share of flows (%)"),
    ("failed_share", "Failed flows (%)"),
    ("mean_duration_s", "Mean flow duration (s)"),
    ("port_443_share", "Destination port 443 (%)"),
    ("port_80_share", "Destination port 80 (%)"),
    (
        "http_unknown_content_type_share",
        "HTTP flows without content type (%)",
    ),
];

fn comparison_rows(all: &Value) -> Vec<(String, Vec<String>)> {
    let studies = published();
    COMPARED
        .iter()
        .map(|(k, label)| {
            let mut cells: Vec<String> = studies
                .iter()
                .map(|s| s.figures.get(*k).map_or("–".into(), |v| format!("{v:.2}")))
                .collect();
            cells.push(all[*k].as_f64().map_or("–".into(), |v| format!("{v:.2}")));
            (label.to_string(), cells)
        })
        .collect()
}

fn md_table(out: &mut String, head: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(out, "| {} |", head.join(" | "));
    let _ = writeln!(
        out,
        "|{}|",
        head.iter().map(|_| "---").collect::<Vec<_>>().join("|")
    );
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| md_text(c)).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push('\n');
}

/// Characters that can start inline Markdown (emphasis, code, links,
/// images, autolinks, HTML, entities, strikethrough, table cells).
const MD_INLINE: &[char] = &[
    '\\', '`', '*', '_', '[', ']', '<', '>', '!', '|', '~', '&', ':', '(', ')', '@',
];

/// Text (from traffic: user-agents, content types, labels) as literal
/// Markdown inside a table cell: every character that can start inline
/// Markdown is backslash-escaped (CommonMark renders an escaped punctuation
/// character as itself), the dot of `www.` too (GitHub's autolinks), and
/// line breaks and control characters become spaces. Nothing in it can
/// become HTML, a link or an image.
pub fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        let after_www =
            out.len() >= 3 && out.as_bytes()[out.len() - 3..].eq_ignore_ascii_case(b"www");
        if MD_INLINE.contains(&c) || (c == '.' && after_www) {
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

/// The text a [`md_text`] cell stands for.
fn md_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match chars.peek() {
            Some(n) if c == '\\' && n.is_ascii_punctuation() => {
                out.push(*n);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

fn pairs(v: &Value, total: u64) -> Vec<Vec<String>> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    let name = p[0]
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| p[0].to_string());
                    let n = p[1].as_u64().unwrap_or(0);
                    vec![name, n.to_string(), format!("{:.2}", pct(n, total))]
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The report as Markdown.
pub fn markdown(r: &Report) -> String {
    let j = json(r);
    let a = &j["all"];
    let flows = a["flows"].as_u64().unwrap_or(0);
    let mut s = String::from("# Exit traffic report\n\n");
    if let Some(p) = &r.publication {
        let _ = writeln!(
            s,
            "Published with differential privacy; the unit of privacy is one flow. Total ε = {} over {} releases (ε = {} each; ledger in report.json), δ = 0. Histograms over fixed public vocabularies, noise {}; counts rounded up to multiples of {}, values under {} flows folded into Other. Not released: {}.\n",
            p["epsilon_total"],
            p["releases"],
            p["epsilon_per_statistic"],
            p["noise"].as_str().unwrap_or(""),
            p["rounding"],
            p["k_threshold"],
            p["not_released"].as_str().unwrap_or(""),
        );
    }
    let mut rows = Vec::new();
    for (n, f) in j["nodes"].as_object().into_iter().flatten() {
        rows.push(node_row(n, f));
    }
    rows.push(node_row("all", a));
    s.push_str("## Nodes\n\n");
    md_table(
        &mut s,
        &[
            "node",
            "flows",
            "failed flows",
            "failed %",
            "packets",
            "traffic GB",
            "dataset MB",
        ],
        &rows,
    );
    // Exit policies are public (the consensus carries them); a flow to a
    // port a node's policy rejects did not leave Tor through that node.
    let policies: Vec<(String, exitflow_enrich::ExitPolicy)> = r
        .exit_policies
        .iter()
        .filter_map(|(n, p)| {
            exitflow_enrich::ExitPolicy::parse_summary(&p.summary)
                .ok()
                .map(|e| (n.clone(), e))
        })
        .collect();
    if !r.exit_policies.is_empty() {
        s.push_str("## Exit policies\n\n");
        let rows: Vec<Vec<String>> = r
            .exit_policies
            .iter()
            .map(|(n, p)| vec![n.clone(), p.summary.clone(), p.source.clone()])
            .collect();
        md_table(
            &mut s,
            &["node", "ports let out (tor's summary)", "read from"],
            &rows,
        );
    }
    for (title, key, total) in [
        (
            "Application protocols (top 40)",
            "applications_top40",
            flows,
        ),
        ("Categories", "categories", flows),
        ("Destination countries", "dst_countries", flows),
        ("Source countries", "src_countries", flows),
        ("Destination ports (top 40)", "dst_ports_top40", flows),
        ("Tor roles", "tor_roles", flows),
        (
            "User-agents (HTTP)",
            "user_agents",
            a["http_flows"].as_u64().unwrap_or(0),
        ),
        (
            "Content types (HTTP, top 40)",
            "content_types_top40",
            a["http_flows"].as_u64().unwrap_or(0),
        ),
    ] {
        let _ = writeln!(s, "## {title}\n");
        if key == "dst_ports_top40" && !policies.is_empty() {
            let rows: Vec<Vec<String>> = pairs(&a[key], total)
                .into_iter()
                .map(|mut row| {
                    let port: u16 = row[0].parse().unwrap_or(0);
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
                    row
                })
                .collect();
            md_table(&mut s, &["value", "flows", "%", "exit policy"], &rows);
            continue;
        }
        md_table(&mut s, &["value", "flows", "%"], &pairs(&a[key], total));
    }
    let _ = writeln!(
        s,
        "TLS share {:.2} %, HTTP share {:.2} %, Unknown {:.2} %, mean flow duration {:.1} s, proxy-flagged flows: {} source, {} destination.\n",
        a["tls_share"].as_f64().unwrap_or(0.0),
        a["http_share"].as_f64().unwrap_or(0.0),
        a["unknown_share"].as_f64().unwrap_or(0.0),
        a["mean_duration_s"].as_f64().unwrap_or(0.0),
        a["src_proxy_flows"],
        a["dst_proxy_flows"],
    );
    s.push_str("## Compared with published studies\n\n");
    let mut head = vec!["figure".to_string()];
    head.extend(published().into_iter().map(|p| p.name));
    head.push("this dataset".into());
    let head_refs: Vec<&str> = head.iter().map(String::as_str).collect();
    let rows: Vec<Vec<String>> = comparison_rows(a)
        .into_iter()
        .map(|(l, mut c)| {
            c.insert(0, l);
            c
        })
        .collect();
    md_table(&mut s, &head_refs, &rows);
    s
}

fn node_row(n: &str, f: &Value) -> Vec<String> {
    vec![
        n.to_string(),
        f["flows"].to_string(),
        f["failed_flows"].to_string(),
        format!("{:.2}", f["failed_share"].as_f64().unwrap_or(0.0)),
        f["packets"].to_string(),
        format!("{:.3}", f["traffic_gb"].as_f64().unwrap_or(0.0)),
        format!("{:.2}", f["dataset_bytes"].as_f64().unwrap_or(0.0) / 1e6),
    ]
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A horizontal bar chart as inline SVG.
fn bars(title: &str, items: &[(String, u64)]) -> String {
    let max = items.iter().map(|x| x.1).max().unwrap_or(1).max(1);
    let h = 22 * items.len() + 30;
    let mut s = format!(
        "<figure><figcaption>{}</figcaption><svg role=\"img\" width=\"640\" height=\"{h}\" viewBox=\"0 0 640 {h}\" xmlns=\"http://www.w3.org/2000/svg\">",
        esc(title)
    );
    for (i, (name, n)) in items.iter().enumerate() {
        let y = 10 + 22 * i;
        let w = (400.0 * *n as f64 / max as f64).max(1.0);
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text><rect x=\"200\" y=\"{y}\" width=\"{w:.1}\" height=\"16\" fill=\"#3b6ea8\"><title>{} {}</title></rect><text x=\"{:.1}\" y=\"{}\" font-size=\"11\">{}</text>",
            y + 12,
            esc(&truncate(name, 30)),
            esc(name),
            n,
            205.0 + w,
            y + 12,
            n
        );
    }
    s.push_str("</svg></figure>\n");
    s
}

/// Flows per hour as a column chart.
fn hours(title: &str, h: &[u64]) -> String {
    let max = h.iter().copied().max().unwrap_or(1).max(1);
    let mut s = format!(
        "<figure><figcaption>{}</figcaption><svg role=\"img\" width=\"640\" height=\"180\" viewBox=\"0 0 640 180\" xmlns=\"http://www.w3.org/2000/svg\">",
        esc(title)
    );
    for (i, n) in h.iter().enumerate() {
        let bh = 140.0 * *n as f64 / max as f64;
        let x = 10 + i * 26;
        let _ = write!(
            s,
            "<rect x=\"{x}\" y=\"{:.1}\" width=\"20\" height=\"{bh:.1}\" fill=\"#6a9f58\"><title>{i:02}h {n}</title></rect><text x=\"{x}\" y=\"175\" font-size=\"10\">{i:02}</text>",
            150.0 - bh
        );
    }
    s.push_str("</svg></figure>\n");
    s
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}

/// The report as one self-contained HTML page.
pub fn html(r: &Report) -> String {
    let md = markdown(r);
    let mut body = String::new();
    let a = &r.all;
    body.push_str(&bars(
        "Application protocols: top 8 and Other",
        &top_with_other(&a.applications, CHART_TOP, a.flows),
    ));
    body.push_str(&bars("Categories", &top(&a.categories, CHART_TOP)));
    body.push_str(&bars(
        "Destination countries",
        &top_with_other(&a.dst_countries, 10, a.flows),
    ));
    let ports: Vec<(String, u64)> = top_ports(a, CHART_TOP)
        .into_iter()
        .map(|(p, n)| (p.to_string(), n))
        .collect();
    body.push_str(&bars("Destination ports", &ports));
    for (node, agg) in &r.nodes {
        body.push_str(&hours(
            &format!("Flows per hour of the day, {node} (local time)"),
            &agg.hours_local,
        ));
    }
    body.push_str(&hours(
        "Flows per hour of the day, all nodes (UTC)",
        &a.hours_utc,
    ));
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"><title>Exit traffic report</title><style>body{{font-family:sans-serif;max-width:900px;margin:2em auto}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}td:first-child{{text-align:left}}</style></head><body>\n{}\n<h2>Charts</h2>\n{}\n</body></html>\n",
        md_to_html(&md),
        body
    )
}

/// Just enough Markdown (headings, tables, paragraphs) for the report's own text.
fn md_to_html(md: &str) -> String {
    let mut out = String::new();
    let mut in_table = false;
    for line in md.lines() {
        if let Some(t) = line.strip_prefix("## ") {
            out.push_str(&format!("<h2>{}</h2>\n", esc(t)));
        } else if let Some(t) = line.strip_prefix("# ") {
            out.push_str(&format!("<h1>{}</h1>\n", esc(t)));
        } else if line.starts_with("|---") || line.starts_with("|--") {
            continue;
        } else if line.starts_with('|') {
            if !in_table {
                out.push_str("<table>\n");
                in_table = true;
            }
            let cells: Vec<String> = line
                .trim_matches('|')
                .split(" | ")
                .map(|c| format!("<td>{}</td>", esc(&md_unescape(c.trim()))))
                .collect();
            out.push_str(&format!("<tr>{}</tr>\n", cells.join("")));
        } else {
            if in_table {
                out.push_str("</table>\n");
                in_table = false;
            }
            if !line.is_empty() {
                out.push_str(&format!("<p>{}</p>\n", esc(line)));
            }
        }
    }
    if in_table {
        out.push_str("</table>\n");
    }
    out
}
