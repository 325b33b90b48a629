//! Privacy audit on every real capture of the corpus, under the default and
//! the strict policy: no input address, MAC address or payload bytes appear
//! in any output byte (CSV, JSON lines, Parquet decompressed, dataset, logs),
//! apart from the HTTP user-agents and content types the policy keeps.
use std::collections::BTreeSet;
use std::path::Path;

use aho_corasick::AhoCorasick;
use exitflow_capture::{CaptureReader, LinkType};

use crate::common::*;

/// What must never reach an output.
struct Secrets {
    addrs: Vec<String>,
    macs: Vec<String>,
    payload: Vec<Vec<u8>>,
}

fn secrets(caps: &[String], tmp: &Path) -> Secrets {
    // Addresses: the explicit opt-in writes them all.
    let keep = tmp.join("keep");
    let mut args = vec![
        "flows",
        "--profile",
        "research",
        "--addresses",
        "keep",
        "--output",
        keep.to_str().unwrap(),
    ];
    args.extend(caps.iter().map(String::as_str));
    run(&args);
    let mut addrs = BTreeSet::new();
    for f in files_under(&keep) {
        let mut r = csv::Reader::from_path(&f).unwrap();
        let h = r.headers().unwrap().clone();
        let si = h.iter().position(|c| c == "src_ip").unwrap();
        let di = h.iter().position(|c| c == "dst_ip").unwrap();
        for rec in r.records() {
            let rec = rec.unwrap();
            addrs.insert(rec[si].to_string());
            addrs.insert(rec[di].to_string());
        }
    }
    // "::" and "::1" say nothing about anyone and occur by chance in binary files.
    addrs.retain(|a| a.len() >= 7);
    // MAC addresses and payload samples, read straight from the captures.
    let mut macs = BTreeSet::new();
    let mut payload = BTreeSet::new();
    for c in caps {
        let Ok(mut r) = CaptureReader::open(Path::new(c)) else {
            continue;
        };
        let _ = r.for_each(|p| {
            if p.link_type == LinkType::ETHERNET && p.data.len() >= 12 {
                for m in [&p.data[..6], &p.data[6..12]] {
                    if m.iter().any(|b| *b != 0) && m != [0xff; 6] {
                        macs.insert(
                            m.iter()
                                .map(|b| format!("{b:02x}"))
                                .collect::<Vec<_>>()
                                .join(":"),
                        );
                    }
                }
            }
            if let Ok(i) = exitflow_decode::decode(p.link_type, p.data, &Default::default()) {
                let d = i.payload;
                for off in [0usize, 8, d.len() / 2] {
                    if let Some(w) = d.get(off..off + 16) {
                        let distinct: BTreeSet<u8> = w.iter().copied().collect();
                        if distinct.len() >= 8 && payload.len() < 200_000 {
                            payload.insert(w.to_vec());
                        }
                    }
                }
            }
            true
        });
    }
    assert!(addrs.len() > 1000 && macs.len() > 100 && payload.len() > 10_000);
    Secrets {
        addrs: addrs.into_iter().collect(),
        macs: macs.into_iter().collect(),
        payload: payload.into_iter().collect(),
    }
}

/// Every output byte of a run of every command under `policy`.
fn outputs(caps: &[String], policy: &[&str], dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut texts = Vec::new();
    for fmt in ["csv", "jsonl", "parquet"] {
        let out = dir.join(fmt);
        let mut args = vec![
            "--log",
            "debug",
            "flows",
            "--format",
            fmt,
            "--output",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(policy);
        args.extend(caps.iter().map(String::as_str));
        let o = run(&args);
        if policy.contains(&"strict") {
            // No per-flow rows under strict: refused, and nothing written.
            assert!(!o.status.success() && !out.exists(), "flows under strict");
        }
        texts.push((format!("log of flows --format {fmt}"), o.stderr));
        texts.push((format!("stdout of flows --format {fmt}"), o.stdout));
    }
    let ds = dir.join("dataset");
    let mut args = vec![
        "--log",
        "debug",
        "ingest",
        "--node",
        "audit",
        "--dataset",
        ds.to_str().unwrap(),
    ];
    args.extend_from_slice(policy);
    args.extend(caps.iter().map(String::as_str));
    texts.push(("log of ingest".into(), run(&args).stderr));
    let mut parquet = Vec::new();
    for sub in ["csv", "jsonl", "parquet", "dataset"] {
        if !dir.join(sub).exists() {
            continue;
        }
        for f in files_under(&dir.join(sub)) {
            texts.push((f.display().to_string(), std::fs::read(&f).unwrap()));
            if f.extension().is_some_and(|e| e == "parquet") {
                parquet.push(f.display().to_string());
            }
        }
    }
    // Decompressed: every value and the metadata of every Parquet file, as text.
    let args: Vec<&str> = parquet.iter().map(String::as_str).collect();
    let dump = python("dump_parquet.py", &args);
    assert_eq!(dump.matches("\n=== ").count() + 1, parquet.len());
    texts.push(("Parquet files, decoded".into(), dump.into_bytes()));
    texts
}

/// The user-agent and content-type values the policy wrote (they are payload
/// by nature, and kept on purpose).
fn kept_values(dir: &Path) -> Vec<String> {
    let mut v = BTreeSet::new();
    if !dir.join("csv").exists() {
        return Vec::new();
    }
    for f in files_under(&dir.join("csv")) {
        let mut r = csv::Reader::from_path(&f).unwrap();
        let h = r.headers().unwrap().clone();
        let cols: Vec<usize> = h
            .iter()
            .enumerate()
            .filter(|(_, c)| *c == "user_agent" || *c == "content_type")
            .map(|(i, _)| i)
            .collect();
        for rec in r.records() {
            let rec = rec.unwrap();
            for &c in &cols {
                if !rec[c].is_empty() {
                    v.insert(rec[c].to_string());
                }
            }
        }
    }
    v.into_iter().collect()
}

fn glued(bytes: &[u8], start: usize, end: usize) -> bool {
    let g = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_hexdigit() || *b == b'.' || *b == b':');
    g(start.checked_sub(1).and_then(|i| bytes.get(i))) || g(bytes.get(end))
}

fn audit(policy: &[&str], s: &Secrets, caps: &[String], tmp: &Path, name: &str) {
    let dir = tmp.join(name);
    let texts = outputs(caps, policy, &dir);
    // Every capture's files (per-flow outputs; under strict the dataset's).
    assert!(texts.len() > if name == "strict" { 6 } else { 3 * caps.len() });
    let kept = kept_values(&dir);
    let addr_ac = AhoCorasick::new(s.addrs.iter().chain(&s.macs)).unwrap();
    let pay_ac = AhoCorasick::new(&s.payload).unwrap();
    // Longest first: a short kept value inside a longer one must not leave the rest.
    let kept_ac = AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostLongest)
        .build(&kept)
        .unwrap();
    for (file, bytes) in &texts {
        for m in addr_ac.find_overlapping_iter(bytes) {
            // A match glued to more digits ("1.2.3.4" in "11.2.3.45") is not that address.
            assert!(
                glued(bytes, m.start(), m.end()),
                "{name}: {file}: contains input address {}",
                s.addrs
                    .iter()
                    .chain(&s.macs)
                    .nth(m.pattern().as_usize())
                    .unwrap()
            );
        }
        // Payload is looked for in text (raw Parquet is compressed binary, where
        // 16 bytes can match by chance; its decoded form is searched instead).
        if file.ends_with(".parquet") {
            continue;
        }
        // Blank the kept user-agents and content types, then look for payload.
        let mut b = bytes.clone();
        for m in kept_ac.find_iter(bytes) {
            b[m.start()..m.end()].fill(0);
        }
        if let Some(m) = pay_ac.find(&b) {
            panic!(
                "{name}: {file}: contains payload bytes {:?}",
                String::from_utf8_lossy(&s.payload[m.pattern().as_usize()])
            );
        }
    }
    if name == "strict" {
        // Aggregates only: no column of a flow at all.
        let dump = python(
            "dump_parquet.py",
            &[files_under(&dir.join("dataset"))
                .iter()
                .find(|p| p.extension().is_some_and(|e| e == "parquet"))
                .unwrap()
                .to_str()
                .unwrap()],
        );
        for c in [
            "src_ip",
            "dst_ip",
            "user_agent",
            "bidirectional_first_seen_ms",
            "id",
        ] {
            assert!(!dump.contains(&format!("{c}:")), "{name}: {c} in {dump}");
        }
        return;
    }
    // No address, server-name or fingerprint column at all.
    let header = std::fs::read_to_string(&files_under(&dir.join("csv"))[0]).unwrap();
    let header = header.lines().next().unwrap().to_owned();
    for c in [
        "src_ip",
        "dst_ip",
        "requested_server_name",
        "client_fingerprint",
    ] {
        assert!(!header.split(',').any(|h| h == c), "{name}: {header}");
    }
    if name == "strict" {
        assert!(!header.contains("user_agent"), "{header}");
        assert!(
            kept.iter().all(|v| !v.contains("Mozilla")),
            "strict kept a user-agent"
        );
    }
}

#[test]
fn no_address_mac_or_payload_reaches_any_output_or_log() {
    let caps: Vec<String> = corpus_pcaps()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let s = secrets(&caps, tmp.path());
    audit(&[], &s, &caps, tmp.path(), "default");
    audit(&["--profile", "strict"], &s, &caps, tmp.path(), "strict");
    audit(
        &["--profile", "research"],
        &s,
        &caps,
        tmp.path(),
        "research",
    );
}

#[test]
fn pseudonyms_keep_prefixes_and_change_with_the_key() {
    let cap = corpus_pcaps()
        .into_iter()
        .find(|p| p.ends_with("1kxun.pcap"))
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut maps = Vec::new();
    for (i, key) in [
        "11".repeat(16) + &"22".repeat(16),
        "33".repeat(16) + &"44".repeat(16),
    ]
    .iter()
    .enumerate()
    {
        let kf = tmp.path().join(format!("key{i}"));
        std::fs::write(&kf, key).unwrap();
        // A key others can read is refused (finding 5); owner-only is taken.
        let e = run(&[
            "flows",
            cap.to_str().unwrap(),
            "--profile",
            "research",
            "--addresses",
            "pseudonymize",
            "--key-file",
            kf.to_str().unwrap(),
            "--output",
            tmp.path().to_str().unwrap(),
        ]);
        assert!(!e.status.success() && String::from_utf8_lossy(&e.stderr).contains("too open"));
        std::fs::set_permissions(&kf, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        let out = tmp.path().join(format!("out{i}"));
        for (mode, sub) in [("keep", "k"), ("pseudonymize", "p")] {
            flows(
                &cap,
                &out.join(sub),
                &[
                    "--profile",
                    "research",
                    "--addresses",
                    mode,
                    "--key-file",
                    kf.to_str().unwrap(),
                ],
            );
        }
        let read = |sub: &str| -> Vec<String> {
            let mut r = csv::Reader::from_path(out.join(sub).join("1kxun.pcap.csv")).unwrap();
            let h = r.headers().unwrap().clone();
            let d = h.iter().position(|c| c == "dst_ip").unwrap();
            r.records().map(|x| x.unwrap()[d].to_string()).collect()
        };
        let (real, pseudo) = (read("k"), read("p"));
        let pairs: Vec<(std::net::Ipv4Addr, std::net::Ipv4Addr)> = real
            .iter()
            .zip(&pseudo)
            .filter_map(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
            .collect();
        assert!(pairs.len() > 50);
        for (a, pa) in &pairs {
            assert_ne!(a, pa);
            for (b, pb) in &pairs {
                let p = (u32::from(*a) ^ u32::from(*b)).leading_zeros();
                let q = (u32::from(*pa) ^ u32::from(*pb)).leading_zeros();
                assert_eq!(p, q, "{a} {b} -> {pa} {pb}");
            }
        }
        maps.push(pseudo);
    }
    assert_ne!(maps[0], maps[1], "pseudonyms must change with the key");
}

/// Review findings 1 and 2 of the first review, and findings 3, 5 and 7
/// of the privacy gate's, as an adversary holding a default or strict
/// dataset: no column, file name, file time or metadata value is finer
/// than an hour, sizes and durations are powers of two, there are no flow
/// ids, each node-hour is one file born after the hour ended, no row is
/// shared by fewer than k = 5 rows of its node-hour (no strict cell of
/// fewer than 5 flows but Other), only the listed columns are kept, and a
/// unique user-agent sent by a client does not come back.
#[test]
fn finding_5_default_and_strict_datasets_keep_nothing_finer_than_an_hour_and_no_row_alone() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("relay.pcap");
    let cfg = exitflow_synth::SynthConfig {
        flows: 2000,
        ..Default::default()
    };
    synth_file(&cap, &cfg);
    for profile in ["default", "strict"] {
        let ds = dir.path().join(profile);
        ingest(&cap, &ds, "n", &["--profile", profile]);
        let out = python("check_coarse.py", &[ds.to_str().unwrap(), "3600000"]);
        assert!(out.contains("coarse ok"), "{out}");
        // A finer granularity is refused, not silently applied.
        let err = ingest_fails(
            &cap,
            &ds,
            "n",
            &["--profile", profile, "--time-granularity", "0"],
        );
        assert!(err.contains("finer"), "{err}");
        // The report of the dataset: every value it names stands for at
        // least k = 5 flows, and user-agents and content types are of the
        // public vocabularies.
        let out = dir.path().join(format!("report-{profile}"));
        report(&ds, &out, &[]);
        let j = report_json(&out);
        for (node, f) in j["nodes"].as_object().unwrap() {
            for key in [
                "applications_top40",
                "dst_ports_top40",
                "dst_countries",
                "user_agents",
                "content_types_top40",
            ] {
                for row in f[key].as_array().unwrap() {
                    let n = row[1].as_u64().unwrap();
                    assert!(n >= 5 || row[0] == "Other", "{profile} {node} {key}: {row}");
                    let v = row[0].as_str().unwrap_or("");
                    assert!(
                        !v.contains("7341") && !v.contains("zqx") && !v.contains('@'),
                        "{profile} {node} {key}: {row}"
                    );
                }
            }
        }
    }
}

/// A capture of UDP flows at known times: `per_minute` flows in each of
/// `minutes` minutes from `start_s`, each to port 20000 + the minute (so a
/// row's port tells the adversary when it came), answered `reply_after_s`
/// seconds later if given. Classic pcap, Ethernet, written by hand.
fn timed_capture(
    path: &Path,
    start_s: u32,
    minutes: u32,
    per_minute: u32,
    reply_after_s: Option<u32>,
) {
    let mut b: Vec<u8> = Vec::new();
    b.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&4u16.to_le_bytes());
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&65535u32.to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes());
    let mut n = 0u32;
    let mut packets: Vec<(u32, Vec<u8>)> = Vec::new();
    for minute in 0..minutes {
        for j in 0..per_minute {
            let t = start_s + minute * 60 + j;
            let port = 20000 + minute as u16;
            for reply in [false, true] {
                if reply && reply_after_s.is_none() {
                    continue;
                }
                let mut f = Vec::new();
                f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00]);
                let payload = [0x5au8; 16];
                let udp_len = 8 + payload.len() as u16;
                let ip_len = 20 + udp_len;
                let (mut src, mut dst) = ([198, 51, 100, (n % 200) as u8 + 1], [203, 0, 113, 7]);
                let (mut sport, mut dport) = (40000 + (n % 20000) as u16, port);
                if reply {
                    std::mem::swap(&mut src, &mut dst);
                    std::mem::swap(&mut sport, &mut dport);
                }
                let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0];
                ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
                ip.extend_from_slice(&src);
                ip.extend_from_slice(&dst);
                let sum = !ip
                    .chunks(2)
                    .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
                    .fold(0u32, |a, x| {
                        let s = a + x;
                        (s & 0xffff) + (s >> 16)
                    }) as u16;
                ip[10..12].copy_from_slice(&sum.to_be_bytes());
                f.extend_from_slice(&ip);
                f.extend_from_slice(&sport.to_be_bytes());
                f.extend_from_slice(&dport.to_be_bytes());
                f.extend_from_slice(&udp_len.to_be_bytes());
                f.extend_from_slice(&[0, 0]);
                f.extend_from_slice(&payload);
                let at = if reply {
                    t + reply_after_s.unwrap_or(0)
                } else {
                    t
                };
                packets.push((at, f));
            }
            n += 1;
        }
    }
    packets.sort_by_key(|p| p.0);
    for (t, f) in packets {
        b.extend_from_slice(&t.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&(f.len() as u32).to_le_bytes());
        b.extend_from_slice(&(f.len() as u32).to_le_bytes());
        b.extend_from_slice(&f);
    }
    std::fs::write(path, b).unwrap();
}

/// Spearman's rank correlation of the row order with the minute each row
/// came in (from its port), over a `flows` CSV.
fn order_time_correlation(csv_path: &Path) -> (f64, usize) {
    let mut r = csv::Reader::from_path(csv_path).unwrap();
    let port = r
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "dst_port")
        .unwrap();
    let minutes: Vec<f64> = r
        .records()
        .map(|x| x.unwrap()[port].parse::<f64>().unwrap() - 20000.0)
        .collect();
    let n = minutes.len();
    // Ranks of the minutes (ties: mean rank).
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| minutes[a].total_cmp(&minutes[b]));
    let mut rank = vec![0.0; n];
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && minutes[idx[j + 1]] == minutes[idx[i]] {
            j += 1;
        }
        for k in i..=j {
            rank[idx[k]] = (i + j) as f64 / 2.0;
        }
        i = j + 1;
    }
    let pos: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (mp, mr) = (mean(&pos), mean(&rank));
    let cov: f64 = pos
        .iter()
        .zip(&rank)
        .map(|(p, r)| (p - mp) * (r - mr))
        .sum();
    let sp: f64 = pos.iter().map(|p| (p - mp).powi(2)).sum::<f64>().sqrt();
    let sr: f64 = rank.iter().map(|r| (r - mr).powi(2)).sum::<f64>().sqrt();
    (cov / (sp * sr), n)
}

/// Review finding 2 of the privacy gate: `exitflow flows` under the default
/// profile kept the flows' time order, so a client marking one request per
/// minute dated every other row to its minute. The row order now carries
/// nothing: rank correlation with the true minute ≈ 0 (|ρ| < 0.15 over
/// 1,200 rows: 5 standard deviations), where research keeps ρ ≈ 1 (the
/// attack works on what it should not be able to read); and the file's time
/// is no finer than the hour.
#[test]
fn finding_2_the_row_order_of_flows_tells_nothing_of_when_a_flow_came() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("timed.pcap");
    // 2021-06-01 10:00 UTC.
    timed_capture(&cap, 1_622_541_600, 60, 20, None);
    let out = dir.path().join("default");
    flows(&cap, &out, &[]);
    let (rho, n) = order_time_correlation(&out.join("timed.pcap.csv"));
    assert_eq!(n, 1200, "every row kept: 20 share each port");
    assert!(
        rho.abs() < 0.15,
        "rows in time order under default: rho {rho}"
    );
    let mtime = std::fs::metadata(out.join("timed.pcap.csv"))
        .unwrap()
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    assert_eq!(mtime % 3_600_000, 0, "file time finer than the hour");
    let res = dir.path().join("research");
    flows(&cap, &res, &["--profile", "research"]);
    let (rho, _) = order_time_correlation(&res.join("timed.pcap.csv"));
    assert!(
        rho > 0.9,
        "the attack's premise: research keeps the order, rho {rho}"
    );
}

/// Review finding 4: a flow first seen at 22:00 and last seen at 23:00
/// with a 128-ms duration bucket was pinned to the 256 ms before 23:00.
/// Rows now keep one time, the hour the flow began, and the duration
/// bucket alone places it anywhere in that hour.
#[test]
fn finding_4_a_flow_across_an_hour_boundary_gives_nothing_finer_than_its_hour() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("edge.pcap");
    // Flows that begin in the last 30 s before 10:00 and are answered 40 s
    // later, after 10:00.
    timed_capture(&cap, 1_622_541_600 - 30, 1, 20, Some(40));
    let out = dir.path().join("o");
    flows(&cap, &out, &[]);
    let mut r = csv::Reader::from_path(out.join("edge.pcap.csv")).unwrap();
    let h = r.headers().unwrap().clone();
    let times: Vec<&str> = h.iter().filter(|c| c.ends_with("_seen_ms")).collect();
    assert_eq!(times, ["bidirectional_first_seen_ms"], "one time per flow");
    let t = h
        .iter()
        .position(|c| c == "bidirectional_first_seen_ms")
        .unwrap();
    let mut rows = 0;
    for rec in r.records() {
        let v: u64 = rec.unwrap()[t].parse().unwrap();
        assert_eq!(v, 1_622_538_000_000, "the hour the flow began");
        rows += 1;
    }
    assert_eq!(rows, 20);
}

/// Review finding 7: `--time-granularity 3601` was accepted under default
/// (and then dated partitions by exact time), and finer status lines went to
/// the journal. Both are refused, naming the setting.
#[test]
fn finding_7_granularities_that_are_not_whole_hours_of_a_day_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("t.pcap");
    timed_capture(&cap, 1_622_541_600, 60, 1, None);
    for (profile, g) in [
        ("default", "3601"),
        ("strict", "5400"),
        ("default", "25200"),
    ] {
        let err = ingest_fails(
            &cap,
            &dir.path().join("ds"),
            "n",
            &["--profile", profile, "--time-granularity", g],
        );
        assert!(err.contains("whole hours that divide a day"), "{err}");
    }
    ingest(
        &cap,
        &dir.path().join("ok"),
        "n",
        &["--time-granularity", "7200"],
    );
    let o = run(&[
        "capture",
        "--interface",
        "lo",
        "--node",
        "n",
        "--own-address",
        "192.0.2.1",
        "--dataset",
        dir.path().join("c").to_str().unwrap(),
        "--status-interval",
        "60",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("status_interval") && err.contains("3600"),
        "{err}"
    );
}

/// Review finding 3, end to end: an hour of more rows than the memory cap
/// (32,768; the 2021 study's relays averaged ≈ 200,000 flows an hour) is
/// one write — spilled encrypted meanwhile — and a second `ingest` of the
/// same hour rewrites it as one whole.
#[test]
fn finding_3_an_hour_of_more_rows_than_the_memory_cap_is_one_write() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("busy.pcap");
    let cfg = exitflow_synth::SynthConfig {
        flows: 70_000,
        span_s: 3000,
        ..Default::default()
    };
    synth_file(&cap, &cfg);
    let ds = dir.path().join("ds");
    for _ in 0..2 {
        ingest(&cap, &ds, "n", &[]);
    }
    let out = python("check_coarse.py", &[ds.to_str().unwrap(), "3600000"]);
    assert!(out.contains("coarse ok"), "{out}");
    let parts: Vec<_> = files_under(&ds)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("part-")
        })
        .collect();
    // The capture's hour (or two, if it straddles one): one file each.
    assert!(!parts.is_empty() && parts.len() <= 2, "{parts:?}");
    let totals: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ds.join("node=n/_totals.json")).unwrap()).unwrap();
    assert_noisy(
        &totals["flows"],
        140_000,
        exitflow_output::totals::COUNT_GRID,
        1,
        "flows",
    );
    assert!(
        !files_under(&ds).iter().any(|p| p
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(".spill-")),
        "a spool chunk left behind"
    );
}
