//! Enrichment with the real databases and consensuses in ../shared.
use std::net::IpAddr;
use std::path::PathBuf;

use exitflow_enrich::{Consensus, GeoSet};

use crate::common::*;

fn geo(name: &str) -> PathBuf {
    shared().expect("../shared").join("geoip").join(name)
}

fn tor(name: &str) -> PathBuf {
    shared().expect("../shared").join("tor").join(name)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn maxmind_schema_country_and_asn() {
    let mut g = GeoSet::open(&[
        geo("maxmind-test/GeoIP2-Country-Test.mmdb"),
        geo("maxmind-test/GeoLite2-ASN-Test.mmdb"),
    ])
    .unwrap();
    assert!(g.has_asn());
    assert_eq!(g.lookup(ip("81.2.69.160")).country.as_ref(), "GB");
    assert_eq!(g.lookup(ip("2001:218::1")).country.as_ref(), "JP");
    let a = g.lookup(ip("1.128.0.0")).clone();
    assert_eq!(a.asn, 1221);
    assert!(a.as_org.as_deref().unwrap().contains("Telstra"), "{a:?}");
    assert_eq!(g.lookup(ip("10.1.2.3")).country.as_ref(), "private");
    assert_eq!(g.lookup(ip("127.0.0.1")).country.as_ref(), "loopback");
    assert_eq!(g.lookup(ip("fe80::1")).country.as_ref(), "link-local");
    assert_eq!(g.lookup(ip("224.0.0.251")).country.as_ref(), "multicast");
    assert_eq!(g.lookup(ip("0.0.0.0")).country.as_ref(), "unspecified");
    assert_eq!(g.lookup(ip("192.0.2.1")).country.as_ref(), "unknown");
    let mut lite = GeoSet::open(&[geo("maxmind-test/GeoLite2-Country-Test.mmdb")]).unwrap();
    assert_eq!(lite.lookup(ip("81.2.69.160")).country.as_ref(), "GB");
}

#[test]
fn real_country_databases_of_both_sources() {
    for db in ["geo-whois-asn-country.mmdb", "dbip-country.mmdb"] {
        let mut g = GeoSet::open(&[geo(db)]).unwrap();
        assert_eq!(g.lookup(ip("8.8.8.8")).country.as_ref(), "US", "{db}");
        assert_eq!(g.lookup(ip("193.0.6.139")).country.as_ref(), "NL", "{db}"); // RIPE NCC
        assert_eq!(
            g.lookup(ip("2001:67c:2e8::2")).country.as_ref(),
            "NL",
            "{db}"
        );
        assert_eq!(g.lookup(ip("133.11.0.1")).country.as_ref(), "JP", "{db}"); // University of Tokyo
    }
}

#[test]
fn anonymous_ip_flags_proxies() {
    let path = geo("maxmind-test/GeoIP2-Anonymous-IP-Test.mmdb");
    // Find a flagged network from the database itself.
    let reader = maxminddb::Reader::open_readfile(&path).unwrap();
    let mut flagged = None;
    for item in reader.networks(Default::default()).unwrap() {
        let item = item.unwrap();
        let v: Option<std::collections::BTreeMap<String, bool>> = item.decode().ok().flatten();
        if v.is_some_and(|m| m.get("is_public_proxy") == Some(&true)) {
            flagged = Some(item.network().unwrap().network());
            break;
        }
    }
    let addr = flagged.expect("the test database flags some public proxy");
    let mut g = GeoSet::open(&[path]).unwrap();
    assert!(g.lookup(addr).is_proxy, "{addr}");
}

#[test]
fn corrupt_databases_are_clear_errors() {
    for bad in [
        "maxmind-test/GeoIP2-City-Test-Broken-Double-Format.mmdb",
        "maxmind-test/GeoIP2-City-Test-Invalid-Node-Count.mmdb",
        "README.md",
    ] {
        let e = GeoSet::open(&[geo(bad)])
            .err()
            .unwrap_or_else(|| panic!("{bad} opened"))
            .to_string();
        assert!(e.contains(bad.rsplit('/').next().unwrap()), "{e}");
        // And from the command line: one error line, no panic.
        let o = run(&[
            "flows",
            "--geoip",
            geo(bad).to_str().unwrap(),
            "--output",
            "/nonexistent-never-created",
            "x.pcap",
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.starts_with("error: ") && !err.contains("panicked"),
            "{err}"
        );
    }
}

#[test]
fn real_consensuses_parse_and_the_malformed_one_is_rejected() {
    let full = Consensus::load(&tor("2018-06-01-00-00-00-consensus")).unwrap();
    assert_eq!((full.flavour.as_str(), full.relays), ("ns", 208));
    assert!(full.is_relay_port(ip("162.247.72.201"), 443));
    assert!(full.is_relay_port(ip("162.247.72.201"), 80));
    let md = Consensus::load(&tor("2019-05-01-01-00-00-consensus-microdesc")).unwrap();
    assert_eq!((md.flavour.as_str(), md.relays), ("microdesc", 556));
    assert_eq!(md.valid_after, "2019-05-01 01:00:00");
    let test = Consensus::load(&tor("test-network-cached-consensus")).unwrap();
    assert!(test.is_relay_port(ip("127.0.0.1"), 5002));
    let e =
        Consensus::load(&tor("bad-cached-microdesc-consensus-with-carriage-returns")).unwrap_err();
    // The message names the file; its source says where and what.
    let e = format!("{e}: {}", std::error::Error::source(&e).unwrap());
    assert!(
        e.contains("carriage-returns: line 1") && e.contains("carriage return"),
        "{e}"
    );
}

#[test]
fn flows_to_consensus_relays_are_tagged_relay_the_rest_exit() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("relay.pcap");
    let cfg = exitflow_synth::SynthConfig {
        flows: 400,
        ..Default::default()
    };
    synth_file(&cap, &cfg);
    // Learn some destinations, and declare those on port 443 relays.
    let keep = dir.path().join("keep");
    flows(
        &cap,
        &keep,
        &["--profile", "research", "--addresses", "keep"],
    );
    let mut r = csv::Reader::from_path(keep.join("relay.pcap.csv")).unwrap();
    let h = r.headers().unwrap().clone();
    let (di, dp) = (
        h.iter().position(|c| c == "dst_ip").unwrap(),
        h.iter().position(|c| c == "dst_port").unwrap(),
    );
    let mut doc = String::from("network-status-version 3 microdesc\nvote-status consensus\n");
    let mut relays = 0;
    for rec in r.records() {
        let rec = rec.unwrap();
        if &rec[dp] == "443" && relays < 50 {
            doc.push_str(&format!(
                "r relay{relays} AAAA 2021-06-01 00:00:00 {} 443 0\n",
                &rec[di]
            ));
            relays += 1;
        }
    }
    let cons = dir.path().join("cached-microdesc-consensus");
    std::fs::write(&cons, doc).unwrap();
    let out = dir.path().join("out");
    let relay = std::net::IpAddr::from(exitflow_synth::RELAY).to_string();
    // Research: every flow's row and transport (the roles are the point).
    flows(
        &cap,
        &out,
        &[
            "--profile",
            "research",
            "--consensus",
            cons.to_str().unwrap(),
            "--own-address",
            &relay,
            "--geoip",
            geo("geo-whois-asn-country.mmdb").to_str().unwrap(),
        ],
    );
    let mut r = csv::Reader::from_path(out.join("relay.pcap.csv")).unwrap();
    let h = r.headers().unwrap().clone();
    let role = h.iter().position(|c| c == "tor_role").unwrap();
    let country = h.iter().position(|c| c == "dst_country").unwrap();
    let proto = h.iter().position(|c| c == "protocol").unwrap();
    let port = h.iter().position(|c| c == "dst_port").unwrap();
    let mut counts = std::collections::BTreeMap::new();
    let (mut placed, mut tcp, mut dns, mut other) = (0, 0, 0, 0);
    for rec in r.records() {
        let rec = rec.unwrap();
        *counts.entry(rec[role].to_string()).or_insert(0) += 1;
        placed += usize::from(rec[country].len() == 2);
        if &rec[role] == "relay" {
            continue;
        }
        match (&rec[proto], &rec[port]) {
            ("6", _) => tcp += 1,
            ("17", "53") => dns += 1,
            _ => other += 1,
        }
    }
    assert_eq!(counts.get("relay"), Some(&relays), "{counts:?}");
    // Only TCP leaves Tor: the relay's UDP is its resolver's (port 53) or
    // the machine's own, never exit traffic.
    assert_eq!(counts.get("exit"), Some(&tcp), "{counts:?}");
    assert_eq!(counts.get("resolver"), Some(&dns), "{counts:?}");
    assert_eq!(counts.get("relay-host"), Some(&other), "{counts:?}");
    assert_eq!(counts.get("other"), None, "{counts:?}");
    assert!(placed > 350, "{placed} flows with a country");
    // The same from tor's own files: torrc (Address, DataDirectory) and the
    // consensus found in the data directory.
    let torrc = dir.path().join("torrc");
    std::fs::write(
        &torrc,
        format!(
            "ORPort 9001\nAddress {relay}\nDataDirectory {}\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let out2 = dir.path().join("out2");
    flows(
        &cap,
        &out2,
        &[
            "--profile",
            "research",
            "--torrc",
            torrc.to_str().unwrap(),
            "--geoip",
            geo("geo-whois-asn-country.mmdb").to_str().unwrap(),
        ],
    );
    assert_eq!(
        std::fs::read(out.join("relay.pcap.csv")).unwrap(),
        std::fs::read(out2.join("relay.pcap.csv")).unwrap()
    );
}

/// Sets a file's modification time (a reload notices the change).
fn set_mtime(p: &std::path::Path, t: std::time::SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(p)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

/// Issue 20, finding 2: the relay's own addresses also come from its own
/// consensus entry, found by tor's fingerprint file beside the consensus
/// copy, and follow it when the address changes; without any, `capture`
/// refuses to start and `ingest` says so.
#[test]
fn the_relays_address_comes_from_its_consensus_entry_and_without_one_capture_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let cons = dir.path().join("cached-consensus");
    let hex = "9695DFC35FFEB861329B9F1AB04C46397020CE31";
    let id = exitflow_enrich::tor::identity_of_fingerprint(hex).unwrap();
    let doc = |ip: &str| {
        format!(
            "network-status-version 3\nvote-status consensus\nr me {id} digest 2021-06-01 00:00:00 {ip} 443 80\na [2001:db8::7]:443\nr other BBBB digest 2021-06-01 00:00:00 198.51.100.1 9001 0\n"
        )
    };
    std::fs::write(&cons, doc("192.0.2.7")).unwrap();
    std::fs::write(dir.path().join("fingerprint"), format!("me {hex}\n")).unwrap();
    let mut e = exitflow_pipeline::Enricher::open(&exitflow_pipeline::EnrichSettings {
        consensus: Some(cons.clone()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(e.roles.own, vec![ip("192.0.2.7"), ip("2001:db8::7")]);
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
    std::fs::write(&cons, doc("192.0.2.8")).unwrap();
    set_mtime(&cons, later);
    assert!(e.reload_changed().is_empty());
    assert_eq!(e.roles.own, vec![ip("192.0.2.8"), ip("2001:db8::7")]);
    // A consensus without the relay keeps the addresses last known.
    std::fs::write(
        &cons,
        "network-status-version 3\nvote-status consensus\nr other BBBB digest 2021-06-01 00:00:00 198.51.100.1 9001 0\n",
    )
    .unwrap();
    set_mtime(&cons, later + std::time::Duration::from_secs(60));
    assert!(e.reload_changed().is_empty());
    assert_eq!(e.roles.own, vec![ip("192.0.2.8"), ip("2001:db8::7")]);
    std::fs::write(&cons, doc("192.0.2.8")).unwrap();
    // A fingerprint that tor writes after the start is read at the next
    // consensus.
    let late = tempfile::tempdir().unwrap();
    let cons2 = late.path().join("cached-consensus");
    std::fs::write(&cons2, doc("192.0.2.9")).unwrap();
    let mut e2 = exitflow_pipeline::Enricher::open(&exitflow_pipeline::EnrichSettings {
        consensus: Some(cons2.clone()),
        ..Default::default()
    })
    .unwrap();
    assert!(e2.roles.own.is_empty());
    std::fs::write(late.path().join("fingerprint"), format!("me {hex}\n")).unwrap();
    set_mtime(&cons2, later);
    assert!(e2.reload_changed().is_empty());
    assert_eq!(e2.roles.own, vec![ip("192.0.2.9"), ip("2001:db8::7")]);

    // Known from nowhere: capture refuses, ingest warns.
    let o = run(&[
        "capture",
        "--interface",
        "lo",
        "--node",
        "n",
        "--dataset",
        dir.path().join("c").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("no address of the relay is known"), "{err}");
    assert!(!dir.path().join("c").exists());
    let cap = small_capture(dir.path(), 20);
    let o = ok(&[
        "ingest",
        cap.to_str().unwrap(),
        "--node",
        "n",
        "--dataset",
        dir.path().join("d").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no address of the relay is known") && err.contains("`other`"),
        "{err}"
    );
    // With the consensus and the fingerprint beside it, ingest knows.
    let o = ok(&[
        "ingest",
        cap.to_str().unwrap(),
        "--node",
        "n",
        "--consensus",
        cons.to_str().unwrap(),
        "--dataset",
        dir.path().join("d2").to_str().unwrap(),
    ]);
    assert!(!String::from_utf8_lossy(&o.stderr).contains("no address of the relay"));
}

#[test]
fn databases_and_consensus_are_reloaded_when_their_files_change() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("country.mmdb");
    std::fs::copy(geo("maxmind-test/GeoLite2-Country-Test.mmdb"), &db).unwrap();
    let cons = dir.path().join("cached-microdesc-consensus");
    let doc = |ip: &str| {
        format!(
            "network-status-version 3 microdesc\nvote-status consensus\nr a AAAA 2021-06-01 00:00:00 {ip} 9001 0\n"
        )
    };
    std::fs::write(&cons, doc("198.51.100.1")).unwrap();
    let mut e = exitflow_pipeline::Enricher::open(&exitflow_pipeline::EnrichSettings {
        geoip: vec![db.clone()],
        consensus: Some(cons.clone()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(e.geo.lookup(ip("8.8.8.8")).country.as_ref(), "unknown");
    assert!(e.reload_changed().is_empty());
    assert_eq!((e.geo.reloads, e.consensus_reloads), (0, 0));
    // New files, with later modification times.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
    std::fs::copy(geo("geo-whois-asn-country.mmdb"), &db).unwrap();
    set_mtime(&db, later);
    std::fs::write(&cons, doc("198.51.100.2")).unwrap();
    set_mtime(&cons, later);
    assert!(e.reload_changed().is_empty());
    assert_eq!((e.geo.reloads, e.consensus_reloads), (1, 1));
    assert_eq!(e.geo.lookup(ip("8.8.8.8")).country.as_ref(), "US");
    let c = e.consensus.as_ref().unwrap();
    assert!(c.is_relay(ip("198.51.100.2")) && !c.is_relay(ip("198.51.100.1")));
    // A broken update keeps the previous copy and reports the error.
    std::fs::write(&cons, "garbage\n").unwrap();
    let even_later = later + std::time::Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(&cons)
        .unwrap()
        .set_modified(even_later)
        .unwrap();
    let errs = e.reload_changed();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(e.consensus.as_ref().unwrap().is_relay(ip("198.51.100.2")));
}

#[test]
fn the_exit_policy_is_recorded_in_the_dataset_and_the_report_marks_rejected_ports() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("relay.pcap");
    let cfg = exitflow_synth::SynthConfig {
        flows: 300,
        ..Default::default()
    };
    synth_file(&cap, &cfg);
    let relay = std::net::IpAddr::from(exitflow_synth::RELAY).to_string();
    // A web-only exit, from its torrc.
    let torrc = dir.path().join("torrc");
    std::fs::write(
        &torrc,
        format!(
            "ORPort 9001\nAddress {relay}\nExitRelay 1\nExitPolicy accept *:80,accept *:443\nExitPolicy reject *:*\n"
        ),
    )
    .unwrap();
    let ds = dir.path().join("ds");
    ingest(&cap, &ds, "web", &["--torrc", torrc.to_str().unwrap()]);
    let totals: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ds.join("node=web").join("_totals.json")).unwrap())
            .unwrap();
    assert_eq!(totals["exit_policy"]["summary"], "accept 80,443");
    assert_eq!(totals["exit_policy"]["source"], "torrc");
    // In every file's metadata too.
    let o = std::process::Command::new("python3")
        .args([
            "-c",
            "import pyarrow.parquet as pq,sys,glob\n\
             for f in glob.glob(sys.argv[1]+'/**/*.parquet', recursive=True):\n\
             \x20print(pq.read_metadata(f).metadata[b'exitflow.exit_policy'].decode())",
            ds.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let meta = String::from_utf8(o.stdout).unwrap();
    assert!(
        !meta.is_empty() && meta.lines().all(|l| l == "accept 80,443"),
        "{meta}"
    );
    // A second node whose policy comes from its own entry in a real
    // full-flavour consensus (the relay's address and ORPort put in it).
    let doc = std::fs::read_to_string(tor("2018-06-01-00-00-00-consensus")).unwrap();
    let (head, rest) = doc.split_once("\nr ").unwrap();
    let entry = format!(
        "r ours AAAAAAAAAAAAAAAAAAAAAAAAAAA BBBBBBBBBBBBBBBBBBBBBBBBBBB 2018-05-31 12:00:00 {relay} 9001 0\ns Exit Fast Running Valid\np reject 25,465,587\n"
    );
    let cons = dir.path().join("cached-consensus");
    std::fs::write(&cons, format!("{head}\n{entry}r {rest}")).unwrap();
    ingest(
        &cap,
        &ds,
        "cons",
        &[
            "--consensus",
            cons.to_str().unwrap(),
            "--own-address",
            &relay,
            "--or-port",
            "9001",
        ],
    );
    let out = dir.path().join("report");
    report(&ds, &out, &[]);
    let j = report_json(&out);
    assert_eq!(j["exit_policies"]["cons"]["summary"], "reject 25,465,587");
    assert_eq!(j["exit_policies"]["cons"]["source"], "consensus");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("## Exit policies"), "{md}");
    assert!(md.contains("| web | accept 80,443 | torrc |"), "{md}");
    let port_rows: Vec<&str> = md
        .split("## Destination ports")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .nth(1)
        .unwrap()
        .lines()
        .skip(2)
        .collect();
    assert!(!port_rows.is_empty());
    for row in port_rows {
        let cell = row.split('|').nth(1).unwrap().trim();
        let Ok(port) = cell.parse::<u16>() else {
            // Port 0 (none, or a rare port generalised): no policy applies.
            assert!(
                cell.starts_with("0 (") && !row.contains("rejected"),
                "{row}"
            );
            continue;
        };
        let mut rejecting = Vec::new();
        if port != 80 && port != 443 {
            rejecting.push("web");
        }
        if [25, 465, 587].contains(&port) {
            rejecting.insert(0, "cons");
        }
        let want = if rejecting.is_empty() {
            String::new()
        } else {
            format!("rejected by {}", rejecting.join(", "))
        };
        assert!(
            row.trim_end_matches('|').trim_end().ends_with(&want)
                && want.is_empty() != row.contains("rejected"),
            "{row}"
        );
    }
}
