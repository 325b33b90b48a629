//! `exitflow capture` through a real kernel: each test makes two network
//! namespaces joined by a veth pair, runs real servers and clients (or
//! tcpreplay) across it, and captures on the veth.
//!
//! These tests need root (network namespaces, AF_PACKET); CI runs as root.
//! They fail without it, unless `EXITFLOW_SKIP_ROOT_TESTS=1` says to skip them.
//! Tools: iproute2, tcpdump, tcpreplay, curl, python3 with pyarrow (.ci/run).
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{assert_noisy, assert_totals_stand_for_rows, files_under, python};

use crate::support::netns::*;

#[test]
fn live_capture_of_real_clients_and_servers_matches_a_tcpdump_of_the_same_traffic() {
    require_root!("live capture");
    let (lab, dir, _servers) = with_servers("h", 77);
    let truth = dir.path().join("truth.pcap");
    let mut tcpdump = lab
        .exec(&lab.a)
        .args([
            "tcpdump",
            "-n",
            "-U",
            "--immediate-mode",
            "-B",
            "65536",
            "-i",
            &lab.va,
            "-w",
        ])
        .arg(&truth)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tcpdump (see .ci/run)");
    let mut line = String::new();
    BufReader::new(tcpdump.stderr.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("listening"), "tcpdump: {line}");

    // The capture drops to `nobody` once its sockets are open.
    let ds = dir.path().join("ds");
    std::fs::create_dir(&ds).unwrap();
    for (p, mode) in [(dir.path(), 0o755), (ds.as_path(), 0o777)] {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
    }
    let cap = Capture::start(
        &lab,
        &lab.a,
        &lab.va,
        &ds,
        // Exact counts, to compare with the servers' traffic: research.
        &[
            "--flush-interval",
            "1",
            "--metrics",
            "off",
            "--user",
            "nobody",
            "--profile",
            "research",
        ],
    );
    let uid = std::fs::read_to_string(format!("/proc/{}/status", cap.pid())).unwrap();
    let uid = uid
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .unwrap()
        .to_owned();
    assert!(
        uid.split_whitespace().skip(1).all(|u| u == "65534"),
        "still privileged: {uid}"
    );
    clients(&lab);
    std::thread::sleep(Duration::from_millis(300));
    let (st, log) = cap.stop("TERM");
    assert!(st.success(), "capture exited with {st}:\n{log}");
    assert!(log.contains("capture stopped"), "{log}");
    signal(tcpdump.id(), "TERM");
    let mut rest = String::new();
    std::io::Read::read_to_string(tcpdump.stderr.as_mut().unwrap(), &mut rest).unwrap();
    tcpdump.wait().unwrap();
    assert!(
        rest.lines()
            .any(|l| l.trim() == "0 packets dropped by kernel"),
        "tcpdump: {rest}"
    );

    // The same packets, read offline from tcpdump's file.
    let off = dir.path().join("offline");
    crate::common::ok(&[
        "flows",
        "--profile",
        "research",
        truth.to_str().unwrap(),
        "-o",
        off.to_str().unwrap(),
    ]);
    let csvs = dir.path().join("csv");
    let n = dataset_to_csv(&csvs, &[("live".into(), ds.clone())]);
    assert!(n["live"].0 >= 1, "{n:?}");
    let live = csv_rows(&csvs.join("live.csv"), FLOW_COLS);
    let offline = csv_rows(&off.join("truth.pcap.csv"), FLOW_COLS);
    assert_eq!(live, offline, "live capture and tcpdump's file disagree");

    // Exactly those flows: four HTTP connections and two UDP echoes.
    let http: Vec<_> = live.iter().filter(|r| r[1] == "8080").collect();
    assert_eq!(http.len(), 4, "{live:?}");
    // Plain requests on the proxy port are HTTP for nDPI (HTTP_Proxy is a
    // request for a proxy: an absolute URI or CONNECT).
    assert!(
        http.iter().all(|r| r[0] == "6" && r[8] == "HTTP"),
        "{http:?}"
    );
    // Three downloads of 200,000 bytes each carried at least that much back.
    let big = http
        .iter()
        .filter(|r| r[7].parse::<u64>().unwrap() > 200_000)
        .count();
    assert_eq!(big, 3, "{http:?}");
    let udp: Vec<_> = live.iter().filter(|r| r[1] == "7777").collect();
    assert_eq!(udp.len(), 2, "{live:?}");
    for (r, n) in udp.iter().zip([10u64, 1000]) {
        // One datagram each way: Ethernet 14 + IPv4 20 + UDP 8 + payload.
        assert_eq!(r[2], "2");
        assert_eq!(r[3], (2 * (42 + n)).to_string(), "{r:?}");
        assert_eq!((r[4].as_str(), r[6].as_str()), ("1", "1"));
    }
    assert_eq!(live.len(), 6, "no other flows: {live:?}");

    // Nothing personal on disk: the addresses of both hosts appear nowhere.
    for f in files_under(&ds) {
        let bytes = std::fs::read(&f).unwrap();
        for ip in [lab.ip(1), lab.ip(2)] {
            assert!(
                !bytes.windows(ip.len()).any(|w| w == ip.as_bytes()),
                "{} holds {ip}",
                f.display()
            );
        }
    }
    let dump = python(
        "dump_parquet.py",
        &files_under(&ds)
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .map(|p| p.to_str().unwrap())
            .collect::<Vec<_>>(),
    );
    assert!(!dump.contains(&lab.ip(1)) && !dump.contains(&lab.ip(2)));
}

/// Captures the client traffic of [`clients`] in namespace a with `extra`
/// flags; returns the dataset's flows (`FLOW_COLS`).
fn capture_clients(lab: &Lab, dir: &Path, name: &str, extra: &[&str]) -> Vec<Vec<String>> {
    let ds = dir.join(format!("ds-{name}"));
    // Every flow as metered (the default profile generalises and withholds
    // rare rows): research.
    let mut args = vec!["--metrics", "off", "--profile", "research"];
    args.extend(extra);
    let cap = Capture::start(lab, &lab.a, &lab.va, &ds, &args);
    clients(lab);
    std::thread::sleep(Duration::from_millis(300));
    let (st, log) = cap.stop("TERM");
    assert!(st.success(), "{st}\n{log}");
    let csvs = dir.join("csv");
    dataset_to_csv(&csvs, &[(name.to_owned(), ds)]);
    csv_rows(&csvs.join(format!("{name}.csv")), FLOW_COLS)
}

#[test]
fn excluded_ports_and_hosts_never_become_flows() {
    require_root!("exclusions");
    let (lab, dir, _servers) = with_servers("x", 85);
    // The web server's port, and a network holding no host of the lab.
    let rows = capture_clients(
        &lab,
        dir.path(),
        "x",
        &["--exclude-port", "8080", "--exclude-net", "192.0.2.0/24"],
    );
    assert_eq!(rows.len(), 2, "only the two UDP echoes: {rows:?}");
    assert!(rows.iter().all(|r| r[1] == "7777"), "{rows:?}");
    // Excluding the client's own address leaves nothing at all.
    let ds2 = dir.path().join("ds2");
    let cap = Capture::start(
        &lab,
        &lab.a,
        &lab.va,
        &ds2,
        &[
            "--metrics",
            "off",
            "--exclude-net",
            &format!("{}/32", lab.ip(1)),
        ],
    );
    clients(&lab);
    let (st, log) = cap.stop("TERM");
    assert!(st.success(), "{st}\n{log}");
    assert!(parquet_files(&ds2).is_empty(), "{log}");
}

/// The Ethernet captures of the corpus (tcpreplay sends frames as they are).
fn ethernet_pcaps() -> Vec<PathBuf> {
    crate::common::corpus_pcaps()
        .into_iter()
        .filter(|p| {
            let Ok(mut r) = exitflow_capture::CaptureReader::open(p) else {
                return false;
            };
            let mut eth = true;
            let mut any = false;
            let _ = r.for_each(|pkt| {
                any = true;
                eth &= pkt.link_type == exitflow_capture::LinkType::ETHERNET;
                eth
            });
            any && eth
        })
        .collect()
}

/// Replays each capture into the lab's veth (a capture run each, 2 workers)
/// and reads the same files offline; returns flowcmp's output of live
/// against offline with `--min-agreement min` and whether it held.
fn replay_and_compare(lab: &Lab, dir: &Path, pcaps: &[PathBuf], min: &str) -> (String, bool) {
    let mut sets = Vec::new();
    let mut failed_sends = 0u64;
    let t = Instant::now();
    for p in pcaps {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let ds = dir.join("ds").join(&name);
        let cap = Capture::start(
            lab,
            &lab.b,
            &lab.vb,
            &ds,
            // Flows as metered, to compare one by one: research.
            &[
                "--metrics",
                "off",
                "--flush-interval",
                "60",
                "--profile",
                "research",
            ],
        );
        let o = lab
            .exec(&lab.a)
            .args(["tcpreplay", "-q", "--topspeed", "-i", &lab.va])
            .arg(p)
            .output()
            .expect("tcpreplay (see .ci/run)");
        let out = String::from_utf8_lossy(&o.stdout);
        failed_sends += out
            .lines()
            .find_map(|l| l.trim().strip_prefix("Failed packets:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
        let (st, log) = cap.stop("TERM");
        assert!(st.success(), "{name}: {st}\n{log}");
        sets.push((name, ds));
    }
    eprintln!(
        "{} captures replayed and captured in {:.0} s ({failed_sends} frames tcpreplay could not send)",
        pcaps.len(),
        t.elapsed().as_secs_f64()
    );
    let live = dir.join("live");
    dataset_to_csv(&live, &sets);
    // Offline, the same files. A replay at top speed takes well under a
    // second, so no timeout fires live; offline they must not fire either.
    let off = dir.join("offline");
    let never = "100000000000";
    let mut args: Vec<String> = vec![
        "flows".into(),
        "--profile".into(),
        "research".into(),
        "-o".into(),
        off.display().to_string(),
        "--idle-timeout".into(),
        never.into(),
        "--active-timeout".into(),
        never.into(),
        "--half-open-timeout".into(),
        never.into(),
    ];
    args.extend(pcaps.iter().map(|p| p.display().to_string()));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let _ = crate::common::run(&a);
    let list = dir.join("list.txt");
    std::fs::write(
        &list,
        sets.iter()
            .map(|(n, _)| format!("{n}\n"))
            .collect::<String>(),
    )
    .unwrap();
    let flowcmp = crate::common::shared().unwrap().join("tools/flowcmp.py");
    let o = Command::new("python3")
        .arg(&flowcmp)
        .arg(&live)
        .arg(&off)
        .arg("--only-files")
        .arg(&list)
        .args(["--min-agreement", min])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    eprintln!("live vs offline: {}", text.lines().last().unwrap_or(""));
    (text, o.status.success())
}

#[test]
fn replaying_the_corpus_into_a_veth_gives_the_offline_flows() {
    require_root!("corpus replay");
    // Large enough for every frame of the corpus.
    let lab = Lab::new("r", 78, 65535);
    let dir = tempfile::tempdir().unwrap();
    let pcaps = ethernet_pcaps();
    assert!(pcaps.len() >= 200, "{}", pcaps.len());
    let (text, ok) = replay_and_compare(&lab, dir.path(), &pcaps, "99:99");
    assert!(ok, "below 99 %:\n{text}");
}

/// Regression: the kernel's fanout hash sent the two directions of an
/// IPv4-in-IPv6 flow to different workers, and a first steering program
/// did the same to QinQ-tagged IP-in-IP packets; each became two flows.
#[test]
fn tunnelled_and_double_tagged_flows_stay_on_one_worker() {
    require_root!("fanout steering");
    let lab = Lab::new("t", 87, 65535);
    let dir = tempfile::tempdir().unwrap();
    let pcaps: Vec<PathBuf> = crate::common::corpus_pcaps()
        .into_iter()
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            [
                "4in4tunnel.pcap",
                "4in6tunnel.pcap",
                "6in4tunnel.pcap",
                "6in6tunnel.pcap",
            ]
            .contains(&n.as_ref())
        })
        .collect();
    assert_eq!(pcaps.len(), 4);
    let (text, ok) = replay_and_compare(&lab, dir.path(), &pcaps, "100:100");
    assert!(ok, "a flow was split:\n{text}");
}

#[test]
fn a_syn_flood_into_the_veth_stays_under_the_memory_cap_and_the_counts_add_up() {
    require_root!("SYN flood");
    let lab = Lab::new("s", 79, 1500);
    let dir = tempfile::tempdir().unwrap();
    let flood = dir.path().join("flood.pcap");
    let syns = 600_000u64;
    crate::common::ok(&[
        "synth",
        "-o",
        flood.to_str().unwrap(),
        "--flows",
        "0",
        "--syn-flood",
        &syns.to_string(),
    ]);
    let ds = dir.path().join("ds");
    let cap = Capture::start(
        &lab,
        &lab.b,
        &lab.vb,
        &ds,
        &["--metrics", "127.0.0.1:9477", "--ring-mb", "32"],
    );
    let log = cap.log();
    let budget_mib: u64 = log
        .lines()
        .find(|l| l.contains("memory cap"))
        .and_then(|l| {
            l.split("budget_mib=")
                .nth(1)?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no memory cap in the log:\n{log}"));
    let o = lab
        .exec(&lab.a)
        .args(["tcpreplay", "--topspeed", "-i", &lab.va])
        .arg(&flood)
        .output()
        .unwrap();
    let replay = String::from_utf8_lossy(&o.stdout).into_owned();
    let sent: u64 = replay
        .lines()
        .find_map(|l| l.trim().strip_prefix("Successful packets:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("tcpreplay said:\n{replay}"));
    // The workers take what is left in their rings (while the writer holds
    // the flood's rows) and publish: wait until every packet the kernel
    // offered is accounted for, rather than a fixed time.
    let t = Instant::now();
    let m = loop {
        std::thread::sleep(Duration::from_millis(500));
        let m = scrape(&lab);
        let accounted = metric(&m, "exitflow_packets_total")
            + metric(&m, "exitflow_packets_ignored_total")
            + metric(&m, "exitflow_kernel_drops_total");
        if accounted >= metric(&m, "exitflow_kernel_packets_total")
            || t.elapsed() > Duration::from_secs(20)
        {
            break m;
        }
    };
    let hwm_mib = vm_kib(cap.pid(), "VmHWM:") >> 10;
    let (st, log) = cap.stop("TERM");
    assert!(st.success(), "{st}\n{log}");
    let kernel = metric(&m, "exitflow_kernel_packets_total");
    let drops = metric(&m, "exitflow_kernel_drops_total");
    let taken = metric(&m, "exitflow_packets_total");
    let ignored = metric(&m, "exitflow_packets_ignored_total");
    // Under the default profile the endpoint shows flow counts as of the
    // last hour boundary; the totals have them.
    let shown_evicted = metric(&m, "exitflow_flows_evicted_total");
    let totals: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ds.join("node=live/_totals.json")).unwrap()).unwrap();
    let evicted = totals["evicted_flows"].as_u64().unwrap();
    eprintln!(
        "SYN flood: {sent} sent by tcpreplay; kernel offered {kernel}, dropped {drops}; \
         metered {taken}, ignored {ignored}; {evicted} flows evicted; peak RSS {hwm_mib} MiB \
         (cap {budget_mib} MiB)\n{replay}"
    );
    assert!(hwm_mib > 0 && hwm_mib < budget_mib, "{hwm_mib} MiB");
    assert_eq!(
        kernel,
        taken + ignored + drops,
        "kernel = taken + dropped\n{m}"
    );
    assert!(
        evicted > 0,
        "the cap of 229,376 flows was never reached\n{m}"
    );
    // The default profile's endpoint never shows evictions or exports:
    // hour against hour they would give the withheld rows.
    assert_eq!(shown_evicted, 0, "{m}");
    assert!(!m.contains("exitflow_flows_exported_total "), "{m}");
    // Nor the DPI caches' evictions: they grow as STUN and tinc flows start.
    assert!(
        !m.contains("exitflow_flows_dpi_stun_cache_evicted_total "),
        "{m}"
    );
    // Every metered SYN became a flow of one packet, and every flow is in
    // the dataset (evicted ones too): nothing metered was lost.
    let csvs = dir.path().join("csv");
    let n = dataset_to_csv(&csvs, &[("flood".into(), ds.clone())]);
    let rows = n["flood"].1;
    let packets: u64 = csv_rows(&csvs.join("flood.csv"), &["bidirectional_packets"])
        .iter()
        .map(|r| r[0].parse::<u64>().unwrap())
        .sum();
    // The default profile's totals are noisy and rounded: they stand for
    // the exact counts within a few grid steps per write.
    use exitflow_output::totals::{COUNT_GRID, PACKET_GRID};
    assert_noisy(&totals["packets"], packets, PACKET_GRID, 3, "packets");
    assert_totals_stand_for_rows(&totals, rows, 3);
    assert_noisy(&totals["flows"], rows, COUNT_GRID, 3, "flows");
    // Each SYN comes from its own source: one flow of one packet each.
    assert_eq!(rows, packets);
    assert!(
        packets >= taken && taken + drops >= syns / 2,
        "{totals}\n{m}"
    );
}

#[test]
fn changed_geoip_databases_are_reloaded_live_and_a_bad_one_is_refused() {
    require_root!("GeoIP reload");
    let Some(shared) = crate::common::shared() else {
        panic!("../shared/geoip is needed beside the repository");
    };
    let lab = Lab::new("e", 86, 1500);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("country.mmdb");
    std::fs::copy(shared.join("geoip/dbip-country.mmdb"), &db).unwrap();
    let ds = dir.path().join("ds");
    let cap = Capture::start(
        &lab,
        &lab.b,
        &lab.vb,
        &ds,
        &[
            "--metrics",
            "127.0.0.1:9477",
            "--reload-interval",
            "1",
            "--geoip",
            db.to_str().unwrap(),
        ],
    );
    // A broken update: refused, the previous copy stays in use.
    let tmp = dir.path().join("country.mmdb.new");
    std::fs::write(&tmp, b"not a MaxMind database").unwrap();
    std::fs::rename(&tmp, &db).unwrap();
    cap.wait_for(
        "reload failed, the previous copy stays in use",
        Duration::from_secs(10),
    );
    // A good one, swapped in the way updaters do.
    std::fs::copy(shared.join("geoip/geo-whois-asn-country.mmdb"), &tmp).unwrap();
    std::fs::rename(&tmp, &db).unwrap();
    cap.wait_for(
        "GeoIP or consensus changed: reloaded",
        Duration::from_secs(10),
    );
    let m = scrape(&lab);
    assert_eq!(metric(&m, "exitflow_geoip_reloads_total"), 1, "{m}");
    assert_eq!(metric(&m, "exitflow_reload_errors_total"), 1, "{m}");
    let (st, log) = cap.stop("TERM");
    assert!(st.success(), "{st}\n{log}");
}

#[cfg(feature = "libpcap")]
#[test]
fn a_filter_expression_keeps_only_the_traffic_it_matches() {
    require_root!("filter");
    let (lab, dir, _servers) = with_servers("f", 82);
    let rows = capture_clients(&lab, dir.path(), "f", &["--filter", "udp port 7777"]);
    assert_eq!(rows.len(), 2, "only the two UDP echoes: {rows:?}");
    assert!(
        rows.iter().all(|r| r[1] == "7777" && r[2] == "2"),
        "{rows:?}"
    );
    // A mistake in the expression is a clear error before anything starts.
    let o = lab
        .exec(&lab.a)
        .arg(env!("CARGO_BIN_EXE_exitflow"))
        .args([
            "capture",
            "--interface",
            &lab.va,
            "--node",
            "x",
            "--own-address",
            NOT_ON_THE_WIRE,
            "--dataset",
        ])
        .arg(dir.path().join("ds2"))
        .args(["--filter", "udp prot 53"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("filter \"udp prot 53\""),
        "{err}"
    );
}
