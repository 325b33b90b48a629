//! The HTML report in a real browser (headless Chromium): offline, no
//! request leaves the page, it fits desktop and phone widths, no chart label
//! overlaps another or is cut.
use exitflow_synth::SynthConfig;

use crate::common::*;

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
