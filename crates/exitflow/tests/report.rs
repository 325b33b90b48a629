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

/// Runs headless Chromium on a page: screenshot and network log.
fn chromium(page: &std::path::Path, dir: &std::path::Path, name: &str) -> (u64, String) {
    chromium_sized(page, dir, name, (1000, 2400))
}

/// The same in a window of `size` (width, height) pixels.
fn chromium_sized(
    page: &std::path::Path,
    dir: &std::path::Path,
    name: &str,
    size: (u32, u32),
) -> (u64, String) {
    let png = dir.join(format!("{name}.png"));
    let netlog = dir.join(format!("{name}.netlog.json"));
    let profile = dir.join(format!("{name}-profile"));
    let url = if page.as_os_str().is_empty() {
        "about:blank".to_string()
    } else {
        format!("file://{}", page.display())
    };
    let o = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            // Anything that tries to leave goes to a dead proxy, and is logged.
            "--proxy-server=127.0.0.1:9",
            "--hide-scrollbars",
            &format!("--window-size={},{}", size.0, size.1),
            &format!("--user-data-dir={}", profile.display()),
            &format!("--log-net-log={}", netlog.display()),
            &format!("--screenshot={}", png.display()),
            &url,
        ])
        .output()
        .expect(
            "chromium is needed for this test (Debian package `chromium`; .ci/run installs it)",
        );
    assert!(
        png.is_file(),
        "no screenshot: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let size = std::fs::metadata(&png).unwrap().len();
    (size, std::fs::read_to_string(&netlog).unwrap_or_default())
}

#[test]
fn html_report_renders_offline_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds");
    synth_ingest(dir.path(), &ds, "n1", 1, 3000);
    let out = dir.path().join("report");
    report(&ds, &out, &["--format", "html"]);
    // The published report too (from a strict dataset: the profile it can
    // release): its notes and withheld values render.
    let strict = dir.path().join("strict");
    let cap = dir.path().join("n2.pcap");
    synth_file(
        &cap,
        &SynthConfig {
            seed: 2,
            flows: 3000,
            ..Default::default()
        },
    );
    ingest(&cap, &strict, "n2", &["--profile", "strict"]);
    let public = dir.path().join("public");
    report(&strict, &public, &["--format", "html", "--publish"]);
    let (blank, _) = chromium(std::path::Path::new(""), dir.path(), "blank");
    for (name, page) in [("report", &out), ("published", &public)] {
        let (png, netlog) = chromium(&page.join("report.html"), dir.path(), name);
        // Charts and tables drew: far more detail than an empty page.
        assert!(
            png > 4 * blank && png > 40_000,
            "{name}: screenshot {png} bytes vs blank {blank}"
        );
        // No request left the page (the browser's own background requests
        // carry no page initiator; the page's would carry its opaque file
        // origin).
        assert_eq!(page_requests(&netlog), Vec::<String>::new(), "{name}");
    }
    // The check can fail: a page that loads an image and calls fetch is caught.
    let bad = dir.path().join("bad.html");
    std::fs::write(
        &bad,
        "<img src=\"http://example.invalid/x.png\"><script>fetch('https://t.invalid/a')</script>x",
    )
    .unwrap();
    let (_, netlog) = chromium(&bad, dir.path(), "bad");
    assert_eq!(
        page_requests(&netlog).len(),
        2,
        "{:?}",
        page_requests(&netlog)
    );
}

/// URLs the page itself requested, from a Chromium net log.
fn page_requests(netlog: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(netlog).expect("a complete net log");
    let mut out: Vec<String> = v["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let p = &e["params"];
            let url = p["url"].as_str()?;
            let init = p["initiator"].as_str()?;
            (init == "null" || init.starts_with("file")).then(|| url.to_owned())
        })
        .filter(|u| !u.starts_with("file:") && !u.starts_with("data:"))
        .collect();
    out.sort();
    out.dedup();
    out
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

/// (width, height, last row drawn, pixels drawn in the right margin) of a screenshot.
fn screenshot_facts(png: &std::path::Path, margin: u32) -> (u32, u32, u32, u64) {
    let out = python(
        "check_screenshot.py",
        &[png.to_str().unwrap(), &margin.to_string()],
    );
    let v: Vec<u64> = out.split_whitespace().map(|x| x.parse().unwrap()).collect();
    (v[0] as u32, v[1] as u32, v[2] as u32, v[3])
}

/// The page a researcher would put in a paper, at a desktop's and a phone's
/// width: every section drawn, nothing running off the right edge (wide
/// tables scroll inside their box, charts scale), no request.
#[test]
fn the_html_report_fits_desktop_and_phone_widths_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("demo");
    ok(&["demo", "--dir", d.to_str().unwrap(), "--flows", "2000"]);
    let page = d.join("report/report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    // A table of contents, each chart right after the heading of its section.
    assert!(html.contains("<nav><h2>Contents</h2>"));
    for id in [
        "key-findings",
        "how-made",
        "nodes",
        "applications",
        "ports",
        "hours",
        "abuse",
        "published",
    ] {
        assert!(html.contains(&format!("href=\"#{id}\"")), "{id}");
        assert!(html.contains(&format!("<section id=\"{id}\">")), "{id}");
    }
    // Margin: less than the body's padding (1em = 16 px).
    const MARGIN: u32 = 8;
    for (name, width) in [("desktop", 1280u32), ("phone", 390)] {
        let (_, netlog) = chromium_sized(&page, dir.path(), name, (width, 16_000));
        assert_eq!(page_requests(&netlog), Vec::<String>::new(), "{name}");
        let (w, _, last, right) = screenshot_facts(&dir.path().join(format!("{name}.png")), MARGIN);
        assert_eq!(w, width);
        assert!(last > 6_000, "{name}: drawn down to row {last} only");
        assert_eq!(right, 0, "{name}: {right} pixels drawn at the right edge");
    }
    // The check can fail: a page with a table wider than the phone.
    let wide = dir.path().join("wide.html");
    let cells: String = (0..40).map(|i| format!("<td>column{i}</td>")).collect();
    std::fs::write(
        &wide,
        format!("<!DOCTYPE html><html><head><meta name=\"viewport\" content=\"width=device-width\"></head><body><table><tr>{cells}</tr></table>{}</body></html>", "<p>x</p>".repeat(800)),
    )
    .unwrap();
    chromium_sized(&wide, dir.path(), "wide", (390, 16_000));
    let (_, _, _, right) = screenshot_facts(&dir.path().join("wide.png"), MARGIN);
    assert!(right > 0, "a table running off the screen was not seen");
}

/// Measures every chart's labels in Chromium (the page as rendered, fonts
/// included): each `<text>`'s box must lie inside its chart and overlap no
/// other. The report's own page allows no script, so a copy without its
/// Content-Security-Policy gets one that writes what it found into the DOM,
/// which `--dump-dom` prints.
fn chart_label_problems(page: &std::path::Path, dir: &std::path::Path, width: u32) -> Vec<String> {
    const CHECK: &str = r#"<script>
window.addEventListener('load', () => {
  const out = [];
  document.querySelectorAll('svg').forEach((svg, si) => {
    const box = svg.getBoundingClientRect();
    const texts = [...svg.querySelectorAll('text')].map(t => [t.textContent, t.getBoundingClientRect()]);
    for (const [s, r] of texts) {
      if (r.width === 0) continue;
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5)
        out.push(`chart ${si}: "${s}" cut (${r.left.toFixed(1)}..${r.right.toFixed(1)} x ${r.top.toFixed(1)}..${r.bottom.toFixed(1)} in ${box.left.toFixed(1)}..${box.right.toFixed(1)} x ${box.top.toFixed(1)}..${box.bottom.toFixed(1)})`);
    }
    for (let i = 0; i < texts.length; i++) for (let j = i + 1; j < texts.length; j++) {
      const [a, ra] = texts[i], [b, rb] = texts[j];
      const w = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
      const h = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
      if (w > 0.5 && h > 0.5) out.push(`chart ${si}: "${a}" overlaps "${b}"`);
    }
  });
  // The node switch (CSS only): one panel shown, the checked node's.
  const shown = () => [...document.querySelectorAll('.node-panel')]
    .map((p, i) => getComputedStyle(p).display !== 'none' ? i : -1).filter(i => i >= 0).join(',');
  const before = shown();
  const second = document.getElementById('node-1');
  if (second) second.checked = true;
  out.push('SWITCH ' + before + ' ' + shown());
  const pre = document.createElement('pre');
  pre.id = 'label-check';
  pre.textContent = 'CHECKED ' + document.querySelectorAll('svg').length + '\n' + out.join('\n');
  document.body.appendChild(pre);
});
</script>"#;
    let html = std::fs::read_to_string(page).unwrap();
    let csp_start = html
        .find("<meta http-equiv=\"Content-Security-Policy\"")
        .unwrap();
    let csp_end = csp_start + html[csp_start..].find('>').unwrap() + 1;
    let html = format!("{}{}", &html[..csp_start], &html[csp_end..])
        .replace("</body>", &format!("{CHECK}</body>"));
    let copy = dir.join(format!("labels-{width}.html"));
    std::fs::write(&copy, html).unwrap();
    let o = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--proxy-server=127.0.0.1:9",
            &format!("--window-size={width},4000"),
            &format!(
                "--user-data-dir={}",
                dir.join(format!("labels-{width}-profile")).display()
            ),
            "--virtual-time-budget=5000",
            "--dump-dom",
            &format!("file://{}", copy.display()),
        ])
        .output()
        .expect("chromium is needed for this test");
    let dom = String::from_utf8_lossy(&o.stdout);
    let start = dom.find("<pre id=\"label-check\">").unwrap_or_else(|| {
        panic!(
            "no check in the DOM: {}",
            String::from_utf8_lossy(&o.stderr)
        )
    });
    let text = &dom[start + "<pre id=\"label-check\">".len()..];
    let text = &text[..text.find("</pre>").unwrap()];
    let mut lines = text.lines();
    let charts: usize = lines
        .next()
        .unwrap()
        .trim_start_matches("CHECKED ")
        .parse()
        .unwrap();
    assert!(charts >= 5, "{charts} charts measured");
    let mut problems: Vec<String> = lines.map(|l| l.replace("&quot;", "\"")).collect();
    // The node switch's line: a finding only when it did not switch.
    let switch = problems
        .iter()
        .position(|l| l.starts_with("SWITCH "))
        .expect("the switch was checked");
    if problems[switch] == "SWITCH 0 1" {
        problems.remove(switch);
    }
    problems
}

/// No chart label overlaps another or is cut, at desktop and phone width,
/// as Chromium lays them out, and the per-node switch shows one node's
/// panel, the chosen one's; the check finds a label pushed out of its
/// chart and two labels drawn over each other.
#[test]
fn no_chart_label_overlaps_another_or_is_cut_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("demo");
    ok(&["demo", "--dir", d.to_str().unwrap(), "--flows", "2000"]);
    let page = d.join("report/report.html");
    for width in [1280, 390] {
        let problems = chart_label_problems(&page, dir.path(), width);
        assert!(problems.is_empty(), "{width} px:\n{}", problems.join("\n"));
    }
    // The check can fail: one label moved out of its chart, one onto another.
    let bad = dir.path().join("bad.html");
    let html = std::fs::read_to_string(&page).unwrap();
    let first = html.find("<text x=\"").unwrap();
    let html = format!(
        "{}<text x=\"-40\" y=\"12\" font-size=\"12\">pushed out</text><text x=\"-40\" y=\"12\" font-size=\"12\">pushed out too</text>{}",
        &html[..first],
        &html[first..]
    );
    std::fs::write(&bad, html).unwrap();
    let problems = chart_label_problems(&bad, dir.path(), 1280);
    assert!(
        problems.iter().any(|p| p.contains("\"pushed out\" cut")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("overlaps")),
        "{problems:?}"
    );
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

/// Field by field: `a` and `b` equal, floats within 1e-9; returns the
/// paths that differ.
fn json_diff(a: &serde_json::Value, b: &serde_json::Value, path: &str, out: &mut Vec<String>) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                json_diff(
                    &x[k],
                    y.get(k).unwrap_or(&Value::Null),
                    &format!("{path}.{k}"),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                json_diff(p, q, &format!("{path}[{i}]"), out);
            }
        }
        (Value::Number(x), Value::Number(y)) => {
            if (x.as_f64().unwrap() - y.as_f64().unwrap()).abs() > 1e-9 {
                out.push(format!("{path}: {x} vs {y}"));
            }
        }
        _ if a == b => {}
        _ => out.push(format!("{path}: {a} vs {b}")),
    }
}

/// The whole report computed by Spark (spark/report.py) over a dataset of
/// three relays equals exitflow's, field by field, and renders to the same
/// Markdown with `exitflow report --from-json`.
#[test]
fn spark_computes_the_whole_report_and_exitflow_renders_it() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds");
    let relay = std::net::IpAddr::from(exitflow_synth::RELAY).to_string();
    for (seed, node, flood) in [(11u64, "r-de", 300u64), (12, "r-us", 0), (13, "r-jp", 100)] {
        let cap = dir.path().join(format!("{node}.pcap"));
        synth_file(
            &cap,
            &SynthConfig {
                seed,
                flows: 1500,
                syn_flood: flood,
                span_s: 3 * 3600,
                relay_percent: 10,
                unknown_percent: 8,
                daily_rhythm_tz_s: Some(3600),
                ..Default::default()
            },
        );
        ingest(&cap, &ds, node, &["--own-address", &relay]);
    }
    let tz = [
        "--tz",
        "r-us=-05:00",
        "--tz",
        "r-jp=+09:00",
        "--tz",
        "r-de=Europe/Berlin",
    ];
    let out = dir.path().join("report");
    report(&ds, &out, &tz);
    let mine = report_json(&out);
    let spark_json = dir.path().join("spark.json");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spark/report.py");
    let mut args = vec![ds.to_str().unwrap(), spark_json.to_str().unwrap()];
    args.extend_from_slice(&tz);
    python(script.to_str().unwrap(), &args);
    let spark: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&spark_json).unwrap()).unwrap();
    // Both follow the report's contract: the JSON Schema generated from
    // exitflow's types, checked by an independent validator (jsonschema)...
    let schema = dir.path().join("report.schema.json");
    std::fs::write(&schema, run(&["schema", "--report"]).stdout).unwrap();
    let mine_path = out.join("report.json");
    let valid = python(
        "check_schema.py",
        &[
            schema.to_str().unwrap(),
            mine_path.to_str().unwrap(),
            spark_json.to_str().unwrap(),
        ],
    );
    assert_eq!(valid.matches("valid ").count(), 2, "{valid}");
    // ...which a renamed field fails, as `report --from-json` refuses it.
    let mut renamed = spark.clone();
    let share = renamed["all"]["definitions"]["study_2021"]
        .as_object_mut()
        .unwrap()
        .remove("tls_share")
        .unwrap();
    renamed["all"]["definitions"]["study_2021"]["tls_percent"] = share;
    let renamed_path = dir.path().join("renamed.json");
    std::fs::write(&renamed_path, renamed.to_string()).unwrap();
    let o = std::process::Command::new("python3")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/check_schema.py"))
        .args([schema.to_str().unwrap(), renamed_path.to_str().unwrap()])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(
        !o.status.success() && said.contains("tls_percent"),
        "{said}"
    );
    let refused = run(&[
        "report",
        "--from-json",
        renamed_path.to_str().unwrap(),
        "--out",
        dir.path().join("refused").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && err.contains("tls_percent"),
        "{err}"
    );
    let mut diffs = Vec::new();
    for key in [
        "nodes",
        "all",
        "exit_policies",
        "published",
        "synthetic",
        "files",
    ] {
        json_diff(&mine[key], &spark[key], key, &mut diffs);
    }
    for key in ["exitflow_versions", "privacy_policies", "geoip", "timeouts"] {
        json_diff(
            &mine["how_made"][key],
            &spark["how_made"][key],
            key,
            &mut diffs,
        );
    }
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
    // The test can fail: a changed count is found.
    let mut changed = spark.clone();
    changed["all"]["applications_top40"][0][1] = serde_json::json!(1);
    let mut d = Vec::new();
    json_diff(&mine["all"], &changed["all"], "all", &mut d);
    assert_eq!(d.len(), 1, "{d:?}");
    // Rendered from Spark's JSON: the same document but for who made it.
    let rendered = dir.path().join("from-spark");
    ok(&[
        "report",
        "--from-json",
        spark_json.to_str().unwrap(),
        "--out",
        rendered.to_str().unwrap(),
    ]);
    let strip = |md: String| -> String {
        md.lines()
            .filter(|l| !l.starts_with("| report made by"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        strip(std::fs::read_to_string(rendered.join("report.md")).unwrap()),
        strip(std::fs::read_to_string(out.join("report.md")).unwrap())
    );
    assert!(rendered.join("report.html").is_file());
}

/// Each part has its rows as hourly tables beside it (`_agg-*.parquet`,
/// written at ingest); the report over them equals the report over every
/// row, under the default and the research profile — but for durations
/// under default, which the sidecars' exact hourly sums make unbiased:
/// within 2 % of the research profile's on the same captures, where the
/// rows' power-of-two buckets read more than 10 % low.
#[test]
fn the_report_from_the_sidecar_tables_equals_the_report_from_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    let relay = std::net::IpAddr::from(exitflow_synth::RELAY).to_string();
    let mut means = Vec::new();
    for profile in ["default", "research"] {
        let ds = dir.path().join(profile);
        for (seed, node) in [(21u64, "x"), (22, "y")] {
            let cap = dir.path().join(format!("{profile}-{node}.pcap"));
            synth_file(
                &cap,
                &SynthConfig {
                    seed,
                    flows: 2000,
                    syn_flood: 200,
                    span_s: 5 * 3600,
                    relay_percent: 10,
                    unknown_percent: 5,
                    ..Default::default()
                },
            );
            ingest(
                &cap,
                &ds,
                node,
                &["--own-address", &relay, "--profile", profile],
            );
        }
        let sidecars = files_under(&ds)
            .iter()
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("_agg-")
            })
            .count();
        assert!(sidecars >= 2, "{profile}: {sidecars} sidecars");
        let (fast, rows) = (
            dir.path().join(format!("{profile}-fast")),
            dir.path().join(format!("{profile}-rows")),
        );
        report(&ds, &fast, &["--format", "json", "--tz", "x=+02:00"]);
        report(
            &ds,
            &rows,
            &["--format", "json", "--tz", "x=+02:00", "--rows"],
        );
        let (mut f, mut r) = (report_json(&fast), report_json(&rows));
        if profile == "default" {
            // The rows hold power-of-two buckets; the sidecars add each
            // hour's exact sums: durations (only) differ, and only there
            // are they exact.
            let exit = |j: &serde_json::Value, k: &str| {
                j["all"]["definitions"]["exit"][k].as_f64().unwrap()
            };
            assert_eq!(exit(&r, "duration_bucketed_share"), 100.0);
            assert_eq!(exit(&f, "duration_bucketed_share"), 0.0);
            assert!(exit(&r, "mean_duration_s") < 0.9 * exit(&f, "mean_duration_s"));
            means.push(f.clone());
            for j in [&mut f, &mut r] {
                strip_keys(j, &["mean_duration_s", "duration_bucketed_share"]);
            }
        } else {
            means.push(f.clone());
        }
        assert_eq!(f, r, "{profile}");
    }
    // The same captures: the default profile's mean durations within 2 %
    // of the research profile's exact ones wherever every slice-hour had
    // the 100 flows exact durations need (exit traffic here); elsewhere
    // the report says which share of flows was left to buckets.
    let (default, research) = (&means[0], &means[1]);
    let mut checked = 0;
    for (d, r) in ["x", "y"]
        .iter()
        .map(|n| (&default["nodes"][*n], &research["nodes"][*n]))
        .chain([(&default["all"], &research["all"])])
    {
        for def in ["exit", "study_2021", "all"] {
            let (a, b) = (
                d["definitions"][def]["mean_duration_s"].as_f64().unwrap(),
                r["definitions"][def]["mean_duration_s"].as_f64().unwrap(),
            );
            let bucketed = d["definitions"][def]["duration_bucketed_share"]
                .as_f64()
                .unwrap();
            if def == "exit" {
                assert_eq!(bucketed, 0.0, "{def}");
            }
            if bucketed == 0.0 {
                assert!(
                    b > 0.0 && (a - b).abs() <= 0.02 * b,
                    "{def}: default {a} vs research {b}"
                );
                checked += 1;
            } else {
                // Small slices (relay traffic, failed flows) stay buckets:
                // said, and reading low.
                assert!(a < b, "{def}: {a} vs {b}");
            }
        }
    }
    assert!(checked >= 3, "{checked}");
}

/// Removes these keys wherever they are in `v`.
fn strip_keys(v: &mut serde_json::Value, keys: &[&str]) {
    match v {
        serde_json::Value::Object(m) => {
            for k in keys {
                m.remove(*k);
            }
            for x in m.values_mut() {
                strip_keys(x, keys);
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| strip_keys(x, keys)),
        _ => {}
    }
}
