//! The report's numbers against an independent computation (pyarrow).
use exitflow_synth::SynthConfig;

use crate::common::*;

#[test]
fn report_numbers_equal_an_independent_computation() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds");
    for (seed, node) in [(1u64, "relay-de"), (2, "relay-us")] {
        let cap = dir.path().join(format!("{node}.pcap"));
        let cfg = SynthConfig {
            seed,
            flows: 3000,
            syn_flood: 200,
            ..Default::default()
        };
        synth_file(&cap, &cfg);
        let relay = std::net::IpAddr::from(exitflow_synth::RELAY).to_string();
        ingest(&cap, &ds, node, &["--own-address", &relay]);
    }
    let out = dir.path().join("report");
    report(&ds, &out, &["--tz", "relay-us=-05:00"]);
    let check = python(
        "check_report.py",
        &[
            ds.to_str().unwrap(),
            out.join("report.json").to_str().unwrap(),
        ],
    );
    assert!(check.contains("report ok"), "{check}");
    // A self-contained page: charts drawn inline, nothing to fetch.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.matches("<svg").count() >= 5);
    for forbidden in ["<script", "src=", "@import", "url("] {
        assert!(
            !html.contains(forbidden),
            "report.html contains {forbidden}"
        );
    }
    // Links only within the page (the table of contents).
    for link in html.split("href=\"").skip(1) {
        assert!(
            link.starts_with('#'),
            "report.html links out: {}",
            &link[..40.min(link.len())]
        );
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("| relay-de |") && md.contains("Chaabane et al. 2010"));
    // Metered with NFStream's timeouts (active 1800 s): the comparison
    // warns that the 2021 study's were not used.
    assert!(
        md.contains("> **Warning:** Flow timeouts differ from the 2021 study's"),
        "{md}"
    );
    // Node and date filters.
    let only = dir.path().join("only");
    report(&ds, &only, &["--node", "relay-us", "--format", "json"]);
    let j = report_json(&only);
    assert_eq!(j["nodes"].as_object().unwrap().len(), 1);
    let none = dir.path().join("none");
    report(&ds, &none, &["--from", "2030-01-01", "--format", "json"]);
    let j = report_json(&none);
    assert_eq!(j["all"]["flows"], 0);
}

/// `--flow-preset study-2021` meters with the 2021 study's timeouts
/// (active 3600 s): the files record them, and the report's comparison
/// has no timeout warning; a flag refining the preset brings it back.
#[test]
fn the_study_2021_preset_is_recorded_and_silences_the_timeout_warning() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("c.pcap");
    synth_file(
        &cap,
        &SynthConfig {
            seed: 5,
            flows: 300,
            ..Default::default()
        },
    );
    let relay = std::net::IpAddr::from(exitflow_synth::RELAY).to_string();
    for (name, extra) in [
        ("study", vec!["--flow-preset", "study-2021"]),
        (
            "refined",
            vec!["--flow-preset", "study-2021", "--active-timeout", "600"],
        ),
    ] {
        let ds = dir.path().join(name);
        let mut args = vec!["--own-address", relay.as_str()];
        args.extend(extra);
        ingest(&cap, &ds, "n", &args);
        let out = dir.path().join(format!("{name}-report"));
        report(&ds, &out, &["--format", "json,md"]);
        let j = report_json(&out);
        let md = std::fs::read_to_string(out.join("report.md")).unwrap();
        let timeouts = j["how_made"]["timeouts"].to_string();
        if name == "study" {
            assert!(timeouts.contains("idle 120 s, active 3600 s"), "{timeouts}");
            assert!(!md.contains("Flow timeouts differ"), "{md}");
        } else {
            assert!(timeouts.contains("active 600 s"), "{timeouts}");
            assert!(md.contains("Flow timeouts differ"));
        }
    }
}

/// `--tz NODE=Europe/Berlin` follows daylight saving: flows over
/// 2021-03-28 01:00 UTC (02:00 CET became 03:00 CEST) land in local hours
/// with an offset of one hour before and two after, as recomputed here
/// from the rows; the report names the zone and both offsets, and a fixed
/// +01:00 puts the same flows an hour earlier after the change.
#[test]
fn local_hours_follow_daylight_saving_across_a_change_date() {
    const SPRING_S: u64 = 1_616_893_200;
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("dst.pcap");
    synth_file(
        &cap,
        &SynthConfig {
            seed: 8,
            flows: 600,
            start_s: SPRING_S - 2 * 3600,
            span_s: 4 * 3600,
            ..Default::default()
        },
    );
    let ds = dir.path().join("ds");
    ingest(&cap, &ds, "berlin", &["--profile", "research"]);
    let local = |zone: &str| {
        let out = dir.path().join(format!("r{}", zone.replace('/', "-")));
        report(
            &ds,
            &out,
            &["--format", "json", "--tz", &format!("berlin={zone}")],
        );
        let j = report_json(&out);
        let n = &j["nodes"]["berlin"];
        let hours: Vec<u64> = n["flows_per_hour_local"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        (hours, n["time_zone"].as_str().unwrap().to_owned())
    };
    let (berlin, label) = local("Europe/Berlin");
    assert_eq!(
        label,
        "Europe/Berlin (UTC+01:00, then UTC+02:00: daylight saving followed)"
    );
    // Recomputed from the rows: the study's flows (no relay address given:
    // every role, more than 4 packets).
    let rows = python(
        "rows_json.py",
        &[
            ds.to_str().unwrap(),
            "bidirectional_first_seen_ms,failed_flow",
        ],
    );
    let mut want = vec![0u64; 24];
    let mut fixed = vec![0u64; 24];
    for line in rows.lines() {
        let r: serde_json::Value = serde_json::from_str(line).unwrap();
        if r["failed_flow"] == true {
            continue;
        }
        let t = r["bidirectional_first_seen_ms"].as_u64().unwrap();
        let off_h = if t < SPRING_S * 1000 { 1 } else { 2 };
        want[((t / 3_600_000 + off_h) % 24) as usize] += 1;
        fixed[((t / 3_600_000 + 1) % 24) as usize] += 1;
    }
    assert_eq!(berlin, want);
    // 02:00 local never was that night.
    assert_eq!(berlin[2], 0, "{berlin:?}");
    assert!(berlin[3] > 0 && fixed[2] > 0);
    let (plus_one, label) = local("+01:00");
    assert_eq!(label, "UTC+01:00");
    assert_eq!(plus_one, fixed);
    assert_ne!(plus_one, berlin);
}

/// The study's question "which countries receive port 5222", in SQL.
#[cfg(feature = "sql")]
#[test]
fn sql_query_answers_the_studys_port_5222_question() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds");
    let cap = dir.path().join("q.pcap");
    let cfg = SynthConfig {
        flows: 3000,
        ..Default::default()
    };
    synth_file(&cap, &cfg);
    let geo = shared().unwrap().join("geoip/geo-whois-asn-country.mmdb");
    ingest(&cap, &ds, "q", &["--geoip", geo.to_str().unwrap()]);
    let o = ok(&[
        "query",
        ds.to_str().unwrap(),
        "SELECT dst_country, count(*) AS flows FROM flows WHERE dst_port = 5222 GROUP BY dst_country ORDER BY flows DESC, dst_country",
    ]);
    let table = String::from_utf8(o.stdout).unwrap();
    // The same question over the strict profile's hourly aggregates.
    let strict = dir.path().join("strict");
    ingest(
        &cap,
        &strict,
        "q",
        &["--geoip", geo.to_str().unwrap(), "--profile", "strict"],
    );
    let o = ok(&[
        "query",
        strict.to_str().unwrap(),
        "SELECT split_part(value, '/', 2) AS dst_country, sum(flows) AS flows FROM flows \
         WHERE dimension = 'dst_port_country' AND value LIKE '5222/%' GROUP BY 1 ORDER BY flows DESC, 1",
    ]);
    let aggregated = String::from_utf8(o.stdout).unwrap();
    // Rows of the default dataset: the query counts exactly them.
    let expected = python("count_5222.py", &[ds.to_str().unwrap()]);
    let has = |t: &str, country: &str, n: &str| {
        t.lines().any(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            cells.len() > 2 && cells[1] == country && cells[2] == n
        })
    };
    for line in expected.lines() {
        let (country, n) = line.split_once(' ').unwrap();
        assert!(
            has(&table, country, n),
            "{country} {n} missing from\n{table}"
        );
    }
    // Strict: every (port 5222, country) cell of k = 5 or more flows an
    // hour, no more than the exact count (research), and the leading
    // country the same.
    let research = dir.path().join("research");
    ingest(
        &cap,
        &research,
        "q",
        &["--geoip", geo.to_str().unwrap(), "--profile", "research"],
    );
    let exact: std::collections::BTreeMap<String, u64> =
        python("count_5222.py", &[research.to_str().unwrap()])
            .lines()
            .map(|l| {
                let (c, n) = l.split_once(' ').unwrap();
                (c.to_owned(), n.parse().unwrap())
            })
            .collect();
    let rows: Vec<(String, u64)> = aggregated
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            if cells.len() > 2 {
                cells[2].parse().ok().map(|n| (cells[1].to_owned(), n))
            } else {
                None
            }
        })
        .collect();
    assert!(!rows.is_empty(), "{aggregated}");
    for (country, n) in &rows {
        assert!(
            *n >= 5 && *n <= exact[country],
            "{country} {n} vs {exact:?}"
        );
    }
    let mut by_count: Vec<(&String, &u64)> = exact.iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(a.1));
    assert!(
        by_count.iter().take(3).any(|(c, _)| **c == rows[0].0),
        "{aggregated}\n{exact:?}"
    );
    assert!(expected.lines().count() > 3, "{expected}");
}

/// Review finding 6: report.md wrote traffic-supplied strings raw, so a
/// user-agent could inject HTML, an image every reader's viewer fetches, or
/// break the table. Rendered by a real Markdown renderer (GitHub's dialect,
/// with autolinks), nothing of it becomes markup.
#[test]
fn hostile_user_agents_render_as_text_in_a_real_markdown_renderer() {
    use exitflow_output::{DatasetConfig, DatasetWriter, Record};
    let hostile = [
        "<script>alert(1)</script>",
        "![t](https://tracker.example/t.png)",
        "<img src=x onerror=alert(1)>",
        "a\\|b | c",
        "[click](javascript:alert(1))",
        "see www.tracker.example and https://tracker.example/x",
        "**bold** _em_ `code` ~~gone~~",
        "<https://tracker.example/auto>",
        "mail@tracker.example",
        "line\nbreak",
    ];
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds");
    // Research keeps user-agents as sent: the report must still show them
    // as text.
    let mut p = exitflow_output::Policy::research();
    let mut w = DatasetWriter::open(&p, DatasetConfig::new(&ds, "n")).unwrap();
    for (i, ua) in hostile.iter().enumerate() {
        let t = 1_700_000_000_000 + i as u64;
        let f = exitflow_flow::Flow::from_totals(
            i as u64,
            6,
            ([0; 16], 40_000),
            ([0; 16], 80),
            (t, t),
            (5, 500),
            (5, 500),
            exitflow_flow::EndReason::Idle,
        );
        let mut r = Record::unlabelled(f);
        r.application_name = "HTTP".into();
        r.application_category_name = "Web".into();
        r.user_agent = Some((*ua).into());
        r.content_type = Some(format!("text/{}", ua));
        w.push(p.store(r)).unwrap();
    }
    w.close().unwrap();
    let out = dir.path().join("report");
    report(&ds, &out, &["--format", "md,html"]);
    let md = out.join("report.md");
    let html = python("render_md.py", &[md.to_str().unwrap()]);
    // Only the document's own elements (its warnings are quoted, with a
    // bold "Warning:"): no link, image, script or other HTML.
    let allowed = [
        "h1",
        "h2",
        "h3",
        "p",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "blockquote",
        "strong",
    ];
    for tag in html.split('<').skip(1) {
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        assert!(allowed.contains(&name.as_str()), "<{name}> in\n{html}");
    }
    // Each user-agent is one table row, shown as its text.
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(html.contains("a\\|b | c"), "{html}");
    // The HTML report shows the same text, escaped.
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(!page.contains("<img"));
}

/// The strict profile writes no per-flow rows, only hourly aggregate
/// tables; the report made from them counts every flow the research
/// profile counts, and shows the same leading values; the default
/// profile's rows plus the rows it withheld (k-anonymity) are those flows
/// too. Strict cells of fewer than k flows are folded into `Other`.
#[test]
fn a_strict_dataset_holds_only_aggregates_and_gives_the_same_study_tables() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("relay.pcap");
    let cfg = exitflow_synth::SynthConfig {
        flows: 3000,
        syn_flood: 100,
        span_s: 3 * 3600,
        ..Default::default()
    };
    synth_file(&cap, &cfg);
    let reports: Vec<serde_json::Value> = ["default", "strict", "research"]
        .iter()
        .map(|profile| {
            let ds = dir.path().join(profile);
            ingest(&cap, &ds, "n", &["--profile", profile]);
            let out = dir.path().join(format!("report-{profile}"));
            report(&ds, &out, &["--tz", "n=+02:00"]);
            report_json(&out)
        })
        .collect();
    // Only aggregate files in the strict dataset.
    let strict_files = files_under(&dir.path().join("strict"));
    let parts: Vec<_> = strict_files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    assert!(!parts.is_empty());
    for p in &parts {
        let name = p.file_name().unwrap().to_string_lossy();
        assert!(name.starts_with("agg-"), "{name}");
    }
    let (d, s, r) = (&reports[0]["all"], &reports[1]["all"], &reports[2]["all"]);
    for key in ["flows", "failed_flows", "flows_per_hour_utc"] {
        assert_eq!(s[key], r[key], "strict vs research {key}");
    }
    // Node volumes come from the totals, which the hourly profiles write
    // noisy and rounded (one write: one ingest).
    use exitflow_output::totals::{BYTE_GRID, COUNT_GRID, PACKET_GRID};
    for (key, grid) in [("packets", PACKET_GRID), ("bytes", BYTE_GRID)] {
        let exact = r[key].as_u64().unwrap();
        assert_noisy(&s[key], exact, grid, 1, &format!("strict {key}"));
        assert_noisy(&d[key], exact, grid, 1, &format!("default {key}"));
    }
    let withheld = &reports[0]["anonymity"]["n"]["suppressed_flows"];
    let rows = d["flows"].as_u64().unwrap();
    let every = r["flows"].as_u64().unwrap();
    assert_noisy(withheld, every - rows, COUNT_GRID, 1, "withheld");
    assert!((every - rows) * 50 < every, "{} withheld", every - rows);
    assert_noisy(
        &reports[1]["anonymity"]["n"]["flows"],
        reports[2]["anonymity"]["n"]["flows"].as_u64().unwrap(),
        COUNT_GRID,
        1,
        "strict flows",
    );
    // The leading values agree: what many flows share is not generalised.
    for key in [
        "applications_top40",
        "dst_ports_top40",
        "tor_roles",
        "categories",
    ] {
        for (name, x) in [("default", d), ("strict", s)] {
            assert_eq!(
                x[key][0][0], r[key][0][0],
                "{name} {key}: {} vs {}",
                x[key], r[key]
            );
        }
    }
    // Strict: no value of fewer than k = 5 flows is shown, but Other.
    for key in [
        "applications_top40",
        "dst_ports_top40",
        "dst_countries",
        "content_types_top40",
    ] {
        for row in s[key].as_array().unwrap() {
            assert!(
                row[0] == "Other" || row[1].as_u64().unwrap() >= 5,
                "strict {key}: {row}"
            );
        }
    }
    assert_eq!(s["user_agents"].as_array().map(Vec::len), Some(0));
    // Per-flow output is refused under strict.
    let o = run(&[
        "flows",
        cap.to_str().unwrap(),
        "--profile",
        "strict",
        "--output",
        dir.path().join("x").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
}

/// Every item the 2021 study has that the report lacked (issue: "missing
/// from the study"), each checked in report.md and report.html by name.
#[test]
fn every_study_item_is_in_the_markdown_and_the_html() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("demo");
    ok(&["demo", "--dir", d.to_str().unwrap(), "--flows", "3000"]);
    let md = std::fs::read_to_string(d.join("report/report.md")).unwrap();
    let html = std::fs::read_to_string(d.join("report/report.html")).unwrap();
    let j = report_json(&d.join("report"));
    let a = &j["all"];
    let guessed = format!(
        "labels guessed from the port: {:.2}%",
        a["guessed_share"].as_f64().unwrap()
    );
    let unique_dst = format!(
        "{} distinct destination countries and territories (2021 study: 244)",
        a["unique_dst_countries"]
    );
    let unique_src = format!(
        "{} distinct source countries and territories (2021 study: 176)",
        a["unique_src_countries"]
    );
    let de_share = format!(
        "{:.2}",
        j["nodes"]["demo-de"]["dataset_flow_share"]
            .as_f64()
            .unwrap()
    );
    let first_hour = a["failed_by_hour"][0][0].as_str().unwrap().to_owned();
    // (item, text in Markdown (escaped there), text in HTML)
    let items: Vec<(&str, Vec<String>)> = vec![
        ("guessed share", vec![guessed.clone()]),
        (
            "Table 5.3 content-type families",
            vec![
                "Content types (Table 5.3)".into(),
                "HTTP study flows with a content type".into(),
            ],
        ),
        (
            "2021 content-type figures",
            vec![
                "60.65".into(),
                "37.25".into(),
                "1.25".into(),
                "0.06".into(),
                "0.05".into(),
                "0.74".into(),
            ],
        ),
        (
            "Chaabane 2010 figures",
            vec![
                "5.94".into(),
                "27.90".into(),
                "18.00".into(),
                "31.70".into(),
            ],
        ),
        (
            "port 5222 by destination country",
            vec![
                "Port 5222 by destination country".into(),
                "NL, UK and CH, 99.78%".into(),
            ],
        ),
        ("unique destination countries", vec![unique_dst]),
        ("unique source countries", vec![unique_src]),
        (
            "each node's share of the dataset",
            vec!["% of flows".into(), de_share],
        ),
        (
            "failed-flow ratio over the period",
            vec![
                "Failed flows over the measurement period".into(),
                first_hour,
            ],
        ),
        (
            "citations",
            vec![
                "Torbjörn Jonsson, Gustaf Edeby: Collecting and analyzing Tor exit node traffic"
                    .into(),
            ],
        ),
        (
            "the seed's inconsistencies",
            vec![
                "32.47 % in the abstract, 32.37 % in Table 5.1".into(),
                "15.09 %".into(),
            ],
        ),
        (
            "denominators",
            vec![
                "its shares are over the 67.87 M other flows".into(),
                "denominator (published)".into(),
            ],
        ),
        (
            "how the report was made",
            vec![
                "How this report was made".into(),
                "flow timeouts".into(),
                "GeoIP databases".into(),
                "time zone of demo-jp".into(),
            ],
        ),
        (
            "abuse",
            vec![
                "Traffic that looks like abuse".into(),
                "Login services".into(),
            ],
        ),
    ];
    // Markdown escapes punctuation in table cells: compare without backslashes.
    let md_plain = md.replace('\\', "");
    let html_plain = html.replace("&#39;", "'").replace("&amp;", "&");
    for (item, texts) in &items {
        for t in texts {
            assert!(
                md_plain.contains(t.as_str()),
                "report.md lacks {item}: {t:?}"
            );
            assert!(
                html_plain.contains(t.as_str()),
                "report.html lacks {item}: {t:?}"
            );
        }
    }
    // Charts only the HTML has: Figures 5.1, 5.2 and 5.11.
    for chart in [
        "Packets per node (Figure 5.1)",
        "Flows per node (Figure 5.2)",
        "Source countries: top 8",
    ] {
        assert!(
            html.contains(&format!("<figcaption>{chart}</figcaption>")),
            "{chart}"
        );
    }
    // The hourly tables in Markdown: 24 rows, a column per node and all.
    let hours = md_plain
        .split("## Flows per hour of the day")
        .nth(1)
        .unwrap();
    assert!(hours.contains("| 00 |") && hours.contains("| 23 |"));
    assert!(
        hours.contains("| hour | demo-de (UTC+01:00) |"),
        "{}",
        &hours[..400]
    );
    // Nothing internal in any output.
    for (name, text) in [("md", &md), ("html", &html), ("json", &j.to_string())] {
        for internal in ["../shared", "/work/", "/tmp/", "shared/seed"] {
            assert!(!text.contains(internal), "report.{name} holds {internal}");
        }
    }
}

/// A SYN flood of one-packet flows labelled TLS by their port makes TLS
/// look bigger over all flows than over the study's flows: the report shows
/// the study's share (non-failed exit flows), and the all-flows share apart.
#[test]
fn a_syn_flood_does_not_inflate_the_studys_shares() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds");
    let cap = dir.path().join("n.pcap");
    synth_file(
        &cap,
        &SynthConfig {
            flows: 2000,
            syn_flood: 4000,
            ..Default::default()
        },
    );
    let relay = std::net::IpAddr::from(exitflow_synth::RELAY).to_string();
    ingest(&cap, &ds, "n", &["--own-address", &relay]);
    let out = dir.path().join("report");
    report(&ds, &out, &["--format", "json"]);
    let a = &report_json(&out)["all"];
    let study = a["tls_share"].as_f64().unwrap();
    let all = a["all_flows"]["tls_share"].as_f64().unwrap();
    // The unanswered attempts to port 443 are TLS by port in all flows only.
    let sql = python("study_share.py", &[ds.to_str().unwrap()]);
    let v: Vec<f64> = sql.split_whitespace().map(|x| x.parse().unwrap()).collect();
    assert!(
        (v[0] - study).abs() < 1e-9,
        "study TLS share {study} vs pyarrow {}",
        v[0]
    );
    assert!(
        (v[1] - all).abs() < 1e-9,
        "all-flows TLS share {all} vs pyarrow {}",
        v[1]
    );
    assert!(all > study + 1.0, "all {all} vs study {study}");
}
