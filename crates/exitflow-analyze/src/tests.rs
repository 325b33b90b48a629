//! Report tests over a small dataset written with exitflow's own writer.
use super::*;
use std::path::Path;

#[test]
fn published_figures_load() {
    let p = published();
    assert_eq!(p.len(), 2);
    assert_eq!(p[1].figures["tls_share"], 55.03);
    assert_eq!(p[0].figures["http_share"], 68.57);
    // Every figure says what 100 % is and where it is printed.
    for study in &p {
        for k in study.figures.keys() {
            assert!(study.denominators.contains_key(k), "{}: {k}", study.name);
            assert!(study.place.contains_key(k), "{}: {k}", study.name);
        }
        assert!(study.citation().contains(&study.year.to_string()));
        assert!(!study.citation().contains("shared"), "no internal path");
    }
}

#[test]
fn empty_roots_are_a_clear_error() {
    let d = tempfile::tempdir().unwrap();
    let e = scan(&[d.path().to_owned()], &Filter::default()).unwrap_err();
    assert!(e.to_string().contains("no dataset files"), "{e}");
}

/// A dataset of two nodes written with the output crate's writer: `n` flows
/// per node, every third failed, on ports 443 and 80, one day apart.
fn dataset(root: &Path, n: u64) {
    use exitflow_flow::{EndReason, Flow};
    use exitflow_output::{DatasetConfig, DatasetWriter, Record};
    for (node, day) in [("a", 0u64), ("b", 1)] {
        let mut p = exitflow_output::Policy::research();
        let mut w = DatasetWriter::open(&p, DatasetConfig::new(root, node)).unwrap();
        for i in 0..n {
            let t = 1_700_000_000_000 + day * 86_400_000 + i * 1000;
            let failed = i % 3 == 0;
            let (pk, port) = if failed { (1, 80) } else { (6, 443) };
            let f = Flow::from_totals(
                i,
                6,
                ([0; 16], 40_000),
                ([0; 16], port),
                (t, t + 500),
                (pk, pk * 100),
                (if failed { 0 } else { 4 }, 400),
                EndReason::Idle,
            );
            let mut r = Record::unlabelled(f);
            r.application_name = if failed { "HTTP" } else { "TLS.Google" }.into();
            r.application_category_name = "Web".into();
            r.tor_role = "exit";
            w.push(p.store(r)).unwrap();
        }
        w.close().unwrap();
    }
}

#[test]
fn the_scan_counts_every_flow_once_per_node_and_in_all() {
    let d = tempfile::tempdir().unwrap();
    dataset(d.path(), 300);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let r = scan_with_progress(&[d.path().to_owned()], &Filter::default(), &|n, all| {
        assert!(n <= all);
        done.store(n, std::sync::atomic::Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(done.into_inner() as u64, r.files);
    assert_eq!(r.nodes.len(), 2);
    let all = r.all.all();
    assert_eq!(all.flows, 600);
    assert_eq!(all.failed_flows, 200);
    assert_eq!(r.nodes["a"].all().flows, 300);
    assert_eq!(all.applications["TLS.Google"], 400);
    assert_eq!(all.dst_ports[&80], 200);
    assert_eq!(all.duration_ms, 600 * 500);
    // The study's flows: exit flows of more than 4 packets, in their own slice.
    let study = r.all.study();
    assert_eq!((study.flows, study.failed_flows), (400, 0));
    assert_eq!(r.all.slices[EXIT_FAILED].flows, 200);
    assert_eq!(study.applications.get("HTTP"), None);
}

#[test]
fn node_and_date_filters_select_what_they_name() {
    let d = tempfile::tempdir().unwrap();
    dataset(d.path(), 30);
    let only_b = Filter {
        nodes: vec!["b".into()],
        ..Default::default()
    };
    let r = scan(&[d.path().to_owned()], &only_b).unwrap();
    assert_eq!((r.nodes.len(), r.all.all().flows), (1, 30));
    let day_one = Filter {
        from_ms: Some(1_700_000_000_000 + 86_400_000),
        ..Default::default()
    };
    let r = scan(&[d.path().to_owned()], &day_one).unwrap();
    assert_eq!(r.all.all().flows, 30);
}

#[test]
fn a_corrupt_file_is_an_error_naming_it() {
    let d = tempfile::tempdir().unwrap();
    dataset(d.path(), 3);
    let part = exitflow_output::layout::date_dir(
        &exitflow_output::layout::node_dir(d.path(), "a"),
        "2023-11-14",
    )
    .join("part-0-0-00000.parquet");
    std::fs::write(&part, b"not parquet").unwrap();
    let e = scan(&[d.path().to_owned()], &Filter::default()).unwrap_err();
    assert!(e.to_string().contains("part-0-0-00000.parquet"), "{e}");
}

#[test]
fn traffic_strings_are_literal_in_markdown_and_html() {
    for hostile in [
        "<script>alert(1)</script>",
        "![t](https://tracker.example/t.png)",
        "a|b",
        "[x](javascript:alert(1))",
        "visit www.tracker.example now",
        "<https://tracker.example>",
        "**bold** `code` ~~gone~~ &amp; x@example.org",
        "line\nbreak\r| cell",
    ] {
        let md = render::md_text(hostile);
        assert!(!md.contains('\n') && !md.contains('\r'), "{md}");
        for (i, c) in md.char_indices() {
            // Parentheses, `!` and a colon not before `//` start nothing
            // once brackets and `<` are escaped: left as they are.
            if "<>[]|`*_~&@".contains(c) || (c == ':' && md[i + 1..].starts_with("//")) {
                assert_eq!(&md[i - 1..i], "\\", "{hostile:?} -> {md}");
            }
        }
        assert!(!md.to_ascii_lowercase().contains("www."), "{md}");
    }
}

/// HTTP exit flows of more than 4 packets, one per user-agent.
fn http_agg(uas: &[String]) -> NodeAgg {
    let mut a = Agg {
        flows: uas.len() as u64,
        http_flows: uas.len() as u64,
        ..Default::default()
    };
    for (i, u) in uas.iter().enumerate() {
        *a.user_agents.entry(u.clone()).or_default() += 1;
        *a.applications.entry("HTTP".into()).or_default() += 1;
        *a.dst_ports.entry(80).or_default() += 1;
        a.hours_utc[i % 24] += 1;
        *a.hour_flows
            .entry(1_622_505_600_000 + (i as u64 % 24) * 3_600_000)
            .or_default() += 1;
        *a.roles.entry("exit".into()).or_default() += 1;
    }
    let mut n = NodeAgg::default();
    n.slices[EXIT] = a;
    n
}

/// Releases `n` as one unit and assembles it, as `report --publish` does.
fn release_and_assemble(n: &NodeAgg) -> (publish::units::UnitRelease, Report) {
    let mut rng = publish::noise::Rng::default();
    let spec = publish::units::UnitSpec {
        node: "n",
        start_ms: 1_622_505_600_000,
        days: 1,
        epsilon: publish::DEFAULT_EPSILON,
        action_bound: 1,
        fold_k: 1,
    };
    let u = publish::units::release(&spec, n, &mut rng);
    let a = publish::assemble::assemble(&[(&u, &Zone::Fixed(0))]);
    let mut r = Report::default();
    r.all.merge(&a.agg);
    r.nodes.insert("n".into(), a.agg);
    (u, r)
}

/// Review finding 3: 1,000 HTTP flows with their own user-agents published
/// 28-39 of them per run. Released over the family vocabulary, none is, in
/// any run.
#[test]
fn unique_user_agents_are_never_published() {
    let uas: Vec<String> = (0..1000)
        .map(|i| format!("Mozilla/5.0 (compatible; Zqx{i:04}Bot/1.0)"))
        .collect();
    for run in 0..5 {
        let (u, r) = release_and_assemble(&http_agg(&uas));
        let text =
            serde_json::to_string(&render::json(&r)).unwrap() + &serde_json::to_string(&u).unwrap();
        assert!(
            !text.contains("Zqx"),
            "run {run}: a unique user-agent was published"
        );
    }
}

/// The noise drawn is exactly the unit's draws, every statistic of every
/// slice is there, and a published value is a released one.
#[test]
fn a_unit_draws_what_it_says_and_the_report_shows_its_values() {
    let uas: Vec<String> = (0..30_000).map(|i| format!("curl/{}", i % 3)).collect();
    let (u, r) = release_and_assemble(&http_agg(&uas));
    assert_eq!(u.draws, publish::units::draws_per_unit(1));
    for scope in exitflow_output::aggregate::SCOPES {
        assert_eq!(u.slices[scope].len(), publish::units::STATISTICS.len());
    }
    let publish::units::Released::Value { value, .. } = &u.slices["exit"]["flows"] else {
        panic!()
    };
    assert_eq!(r.nodes["n"].slices[EXIT].flows, (*value).max(0) as u64);
    // 30,000 HTTP flows on port 80: both are published, near the truth.
    let a = &r.nodes["n"].slices[EXIT];
    let port80 = a.dst_ports[&80] as f64;
    assert!((port80 - 30_000.0).abs() < 2_000.0, "{port80}");
    assert!(a.applications.contains_key("HTTP"));
}

#[test]
fn counts_get_thousands_separators() {
    use render::thousands;
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1000), "1,000");
    assert_eq!(thousands(67_873_100), "67,873,100");
    assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
}

/// The port 5222 "top three countries" count countries only: a
/// pseudo-country (private, unknown, ZZ) is not one of the three, though it
/// stays in the denominator.
#[test]
fn the_top_three_countries_of_a_port_are_countries() {
    let mut n = NodeAgg::default();
    let s = &mut n.slices[EXIT];
    s.flows = 100;
    s.hour_ports.insert((0, 5222), 100);
    let c = s.port_countries.entry(5222).or_default();
    for (k, v) in [
        ("private", 50),
        ("NL", 20),
        ("ZZ", 15),
        ("GB", 10),
        ("CH", 3),
        ("DE", 2),
    ] {
        c.insert(k.into(), v);
    }
    n.finish();
    let j = render::json(&Report {
        nodes: [("a".to_string(), n.clone())].into(),
        all: n,
        ..Report::default()
    });
    assert_eq!(j["all"]["port_5222_top3_countries_share"], 33.0);
    assert_eq!(
        j["all"]["definitions"]["exit"]["port_5222_top3_countries_share"],
        33.0
    );
}
