//! `exitflow capture` when things go wrong, through a real kernel: killed,
//! its interface removed, its disk full; its systemd unit, its capabilities,
//! a filter; hours written whole across a boundary.
//!
//! These tests need root (network namespaces, AF_PACKET); CI runs as root.
//! They fail without it, unless `EXITFLOW_SKIP_ROOT_TESTS=1` says to skip them.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{assert_noisy, assert_totals_stand_for_rows, python};

use crate::support::netns::*;

/// Flows end after 1 s without packets and files complete every second, so
/// the dataset grows while the capture runs.
/// Files every second: the research profile (exact times) writes each
/// flush; the hourly profiles hold an hour's flows until the hour ends.
const QUICK: [&str; 10] = [
    "--profile",
    "research",
    "--metrics",
    "off",
    "--flush-interval",
    "1",
    "--idle-timeout",
    "1",
    "--status-interval",
    "1",
];

#[test]
fn kill_9_leaves_only_readable_files_and_a_restart_carries_on() {
    require_root!("kill -9");
    let Scene {
        lab,
        dir: _dir,
        pcap,
        ds,
    } = Scene::new("k", 80, 3000);
    let args = QUICK;
    let cap = Capture::start(&lab, &lab.b, &lab.vb, &ds, &args);
    let replay = replay_in_background(&lab, &pcap, "20000");
    std::thread::sleep(Duration::from_millis(3500));
    // A status line a second (a minute by default).
    let statuses = cap.log().matches(" status ").count();
    assert!(statuses >= 2, "{}", cap.log());
    let (st, _) = cap.stop("KILL");
    drop(replay);
    assert!(!st.success());
    let first = parquet_files(&ds);
    assert!(!first.is_empty(), "no file completed in 3.5 s");
    let before: Vec<(PathBuf, Vec<u8>)> = first
        .iter()
        .map(|p| (p.clone(), std::fs::read(p).unwrap()))
        .collect();
    for p in &first {
        python("count_parquet.py", &[p.to_str().unwrap()]);
    }

    // A restart removes what the killed run left half-written and carries on.
    let cap = Capture::start(&lab, &lab.b, &lab.vb, &ds, &args);
    let replay = replay_in_background(&lab, &pcap, "20000");
    std::thread::sleep(Duration::from_millis(2500));
    drop(replay);
    let (st, log) = cap.stop("TERM");
    assert!(st.success(), "{st}\n{log}");
    let after = parquet_files(&ds);
    assert!(
        after.len() > first.len(),
        "{} files then {}",
        first.len(),
        after.len()
    );
    for p in &after {
        python("count_parquet.py", &[p.to_str().unwrap()]);
    }
    for (p, bytes) in before {
        assert_eq!(std::fs::read(&p).unwrap(), bytes, "{} changed", p.display());
    }
    assert_no_temp_files(&ds);
}

#[test]
fn an_interface_that_disappears_ends_the_capture_with_an_error_and_whole_files() {
    require_root!("interface removed");
    let Scene {
        lab,
        dir: _dir,
        pcap,
        ds,
    } = Scene::new("g", 83, 500);
    let mut cap = Capture::start(&lab, &lab.b, &lab.vb, &ds, &QUICK);
    let o = lab
        .exec(&lab.a)
        .args(["tcpreplay", "-q", "--pps", "20000", "-i", &lab.va])
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(o.status.success());
    // Deleting one end of a veth pair deletes both.
    sh(&["ip", "-n", &lab.a, "link", "del", &lab.va]);
    let mut child = cap.child.take().unwrap();
    let t = Instant::now();
    let st = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "still running:\n{}",
            cap.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(100));
    let log = cap.log();
    assert!(!st.success(), "{log}");
    assert!(
        log.contains("the interface went down or was removed"),
        "{log}"
    );
    assert!(
        log.contains("capture stopped"),
        "drained before exiting:\n{log}"
    );
    let rows = dataset_rows(&ds);
    assert!(rows > 0, "{log}");
}

#[test]
fn a_full_disk_with_a_small_write_buffer_counts_every_flow_it_loses() {
    require_root!("full disk, losses");
    let d = SmallDisk::new("l", 84);
    let (lab, pcap, mnt) = (&d.lab, d.pcap.as_path(), d.mnt.as_path());
    let ds = mnt.join("ds");
    let mut args = QUICK.to_vec();
    args.extend(["--write-buffer", "200"]);
    let cap = Capture::start(lab, &lab.b, &lab.vb, &ds, &args);
    let filler = fill(mnt);
    let replay = replay_in_background(lab, pcap, "5000");
    cap.wait_for(
        "cannot write the dataset, holding up to 200 flows",
        Duration::from_secs(15),
    );
    let t = Instant::now();
    while status_field(&cap.log(), "flows_lost") == 0 {
        assert!(t.elapsed() < Duration::from_secs(20), "{}", cap.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(replay);
    std::fs::remove_file(&filler).unwrap();
    cap.wait_for("writable again", Duration::from_secs(20));
    let (st, log) = cap.stop("TERM");
    assert!(!st.success(), "losses must fail the exit status:\n{log}");
    let lost = status_field(&log, "flows_lost");
    let exported = status_field(&log, "flows_exported");
    assert!(
        log.contains(&format!("error: {lost} flows could not be written")),
        "{log}"
    );
    let rows = dataset_rows(&ds);
    assert!(lost > 0 && rows > 0, "{log}");
    assert_eq!(
        rows + lost,
        exported,
        "every flow written or counted as lost\n{log}"
    );
    let totals: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ds.join("node=live/_totals.json")).unwrap()).unwrap();
    assert_eq!(totals["lost_flows"].as_u64().unwrap(), lost, "{totals}");
    assert_eq!(totals["flows"].as_u64().unwrap(), rows, "{totals}");
}

/// Fills a file system to the last byte; returns the filler file.
fn fill(mnt: &Path) -> PathBuf {
    use std::io::Write;
    let filler = mnt.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 64 << 10];
    while f.write_all(&chunk).is_ok() {}
    let mut one = [0u8; 1];
    while f.write_all(&one).is_ok() {
        one[0] = 1;
    }
    filler
}

/// A lab, a synthetic capture to replay, and an 8 MiB tmpfs to fill.
struct SmallDisk {
    lab: Lab,
    pcap: PathBuf,
    mnt: PathBuf,
    // Unmounted before the directory holding it is removed.
    _guard: Tmpfs,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    fn new(tag: &str, net: u8) -> SmallDisk {
        let Scene { lab, dir, pcap, .. } = Scene::new(tag, net, 3000);
        let mnt = dir.path().join("small");
        std::fs::create_dir(&mnt).unwrap();
        sh(&[
            "mount",
            "-t",
            "tmpfs",
            "-o",
            "size=8m",
            "tmpfs",
            mnt.to_str().unwrap(),
        ]);
        SmallDisk {
            lab,
            pcap,
            _guard: Tmpfs(mnt.clone()),
            mnt,
            _dir: dir,
        }
    }
}

/// A small tmpfs, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).output();
    }
}

#[test]
fn a_full_disk_holds_the_flows_and_resumes_without_a_corrupt_file() {
    require_root!("full disk");
    let d = SmallDisk::new("d", 81);
    let (lab, pcap, mnt) = (&d.lab, d.pcap.as_path(), d.mnt.as_path());
    let ds = mnt.join("ds");
    let cap = Capture::start(lab, &lab.b, &lab.vb, &ds, &QUICK);
    let filler = fill(mnt);
    let replay = replay_in_background(lab, pcap, "5000");
    cap.wait_for("cannot write the dataset", Duration::from_secs(15));
    assert!(
        cap.log().contains("No space left on device"),
        "{}",
        cap.log()
    );
    std::fs::remove_file(&filler).unwrap();
    cap.wait_for("writable again", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(1500));
    drop(replay);
    let (st, log) = cap.stop("TERM");
    assert!(
        st.success(),
        "flows were lost or the capture failed: {st}\n{log}"
    );
    let files = parquet_files(&ds);
    assert!(!files.is_empty());
    let rows = dataset_rows(&ds);
    let totals: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ds.join("node=live/_totals.json")).unwrap()).unwrap();
    assert_eq!(rows, totals["flows"].as_u64().unwrap(), "{totals}");
    assert!(log.contains("flows_lost=0"), "{log}");
    assert_no_temp_files(&ds);
}

#[test]
fn the_systemd_unit_runs_unprivileged_and_is_rated_ok_by_systemd() {
    let unit =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/exitflow-capture@.service");
    let text = capture_unit();
    for line in [
        "ExecStart=/usr/bin/exitflow --config /etc/exitflow/exitflow.toml capture --interface %i",
        "User=exitflow",
        "AmbientCapabilities=CAP_NET_RAW CAP_SETPCAP",
        "CapabilityBoundingSet=CAP_NET_RAW CAP_SETPCAP",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "KillSignal=SIGTERM",
    ] {
        assert!(text.lines().any(|l| l == line), "the unit lacks {line}");
    }
    // Not in tor's group (its control socket and cookie), and tor's
    // directories out of reach.
    assert!(unit_values(&text, "SupplementaryGroups").is_empty());
    assert!(!text.contains("debian-tor"), "{text}");
    let hidden = unit_values(&text, "InaccessiblePaths");
    for p in ["-/run/tor", "-/var/lib/tor"] {
        assert!(hidden.iter().any(|h| h == p), "{hidden:?}");
    }
    // systemd's own rating of the sandbox, offline (no running systemd needed).
    let dir = tempfile::tempdir().unwrap();
    let inst = dir.path().join("exitflow-capture@eth0.service");
    std::fs::copy(&unit, &inst).unwrap();
    let o = Command::new("systemd-analyze")
        .args(["--offline=yes", "security"])
        .arg(&inst)
        .output()
        .expect("systemd-analyze (Debian's systemd package; see .ci/run)");
    let out = String::from_utf8_lossy(&o.stdout);
    let level: f64 = out
        .lines()
        .find_map(|l| l.split("Overall exposure level for").nth(1))
        .and_then(|l| {
            l.split(": ")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| {
            panic!(
                "systemd-analyze said:\n{out}\n{}",
                String::from_utf8_lossy(&o.stderr)
            )
        });
    eprintln!("systemd-analyze security: exposure {level}");
    assert!(level <= 2.0, "exposure {level}:\n{out}");
    // The consensus copier: tor's user, no capability, no network.
    let copier = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/exitflow-consensus.service"),
    )
    .unwrap();
    for line in [
        "User=debian-tor",
        "CapabilityBoundingSet=",
        "PrivateNetwork=yes",
        "StateDirectory=exitflow-consensus",
    ] {
        assert!(copier.lines().any(|l| l == line), "the copier lacks {line}");
    }
    let o = Command::new("systemd-analyze")
        .args(["verify"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/exitflow-consensus.path"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn no_capability_is_left_once_capturing_as_the_unit_runs_it_or_as_root_with_a_user() {
    require_root!("capabilities");
    let (lab, dir, _servers) = with_servers("c", 86);
    // The test directory is root's (0700): let `nobody` in and write.
    let base = dir.path();
    sh(&["chmod", "0755", &base.display().to_string()]);
    // As systemd runs packaging/exitflow-capture@.service: an unprivileged
    // user with CAP_NET_RAW and CAP_SETPCAP, ambient, and nothing else.
    // The capabilities are the unit's own (nobody stands in for its user).
    let text = capture_unit();
    let caps = |key: &str| {
        unit_values(&text, key)
            .iter()
            .map(|c| format!("+{}", c.trim_start_matches("CAP_").to_lowercase()))
            .collect::<Vec<_>>()
            .join(",")
    };
    let (ambient, bounding) = (caps("AmbientCapabilities"), caps("CapabilityBoundingSet"));
    assert!(!ambient.is_empty() && !bounding.is_empty(), "{text}");
    let (inh, amb, bnd) = (
        format!("--inh-caps=-all,{ambient}"),
        format!("--ambient-caps={ambient}"),
        format!("--bounding-set=-all,{bounding}"),
    );
    let unit_like: &[&str] = &[
        "setpriv",
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
        &inh,
        &amb,
        &bnd,
    ];
    for (name, wrapper, extra) in [
        ("unit", unit_like, &[][..]),
        ("root", &[][..], &["--user", "nobody"][..]),
    ] {
        let ds = base.join(name);
        std::fs::create_dir(&ds).unwrap();
        sh(&["chown", "nobody:nogroup", &ds.display().to_string()]);
        let mut args = vec!["--metrics", "off", "--profile", "research"];
        args.extend_from_slice(extra);
        let cap = Capture::start_under(&lab, &lab.a, &lab.va, &ds, &args, wrapper);
        cap.wait_for("every capability dropped", Duration::from_secs(5));
        let held = capabilities_held(cap.pid());
        assert!(held.is_empty(), "{name}: capabilities left: {held:?}");
        // Still capturing without them.
        clients(&lab);
        let (st, log) = cap.stop("TERM");
        assert!(st.success(), "{name}: {st}\n{log}");
        assert!(dataset_rows(&ds) >= 6, "{name}: {log}");
    }
}

/// Each test's namespaces are named after its tag and the process id: two
/// tests with one tag, run in parallel, delete each other's namespaces (the
/// capability test once failed so, sharing "k" with the worker-scene test).
#[test]
fn every_namespace_tag_belongs_to_one_test() {
    let mut seen = std::collections::HashMap::new();
    for file in [
        "live.rs",
        "live_faults.rs",
        "support/netns.rs",
        "relay.rs",
        "tornet.rs",
        "systemd.rs",
    ] {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/").to_owned() + file;
        let src = std::fs::read_to_string(&path).unwrap();
        for call in [
            "Scene::new(\"",
            "with_servers(\"",
            "Lab::new(\"",
            "SmallDisk::new(\"",
        ] {
            for (i, _) in src.match_indices(call) {
                let rest = &src[i + call.len()..];
                let tag = &rest[..rest.find('"').unwrap()];
                if let Some(other) = seen.insert(tag.to_owned(), format!("{file}:{i}")) {
                    panic!("namespace tag {tag:?} used twice: {other} and {file}:{i}");
                }
            }
        }
    }
    assert!(seen.len() >= 10, "{seen:?}");
}

/// Privacy gate finding 1, live, across an hour boundary (the service's
/// clock and packet times shifted so that an hour ends 25 s after the
/// start): under the default profile, nothing of an hour is on disk before
/// the hour and its hold (active + idle timeout) are over, not even the
/// totals or a status line; then the hour is one part and its sidecar,
/// named at random, born after the hour ended, holding the flows that
/// began in it, with one time each — the hour — also for flows that went on
/// past it; the next hour waits until SIGTERM (the one time an hour is
/// written before it ends) and is then one file too.
#[test]
fn finding_1_a_live_capture_across_an_hour_boundary_writes_each_hour_once_after_it_ends() {
    require_root!("live hour boundary");
    let (lab, dir, _servers) = with_servers("b", 89);
    hour_boundary(&lab, dir.path(), "default");
}

/// The same under the strict profile: each hour one aggregate table.
#[test]
fn finding_1_strict_a_live_capture_across_an_hour_boundary_writes_each_hour_once() {
    require_root!("live hour boundary, strict");
    let (lab, dir, _servers) = with_servers("j", 90);
    hour_boundary(&lab, dir.path(), "strict");
}

fn hour_boundary(lab: &Lab, dir: &Path, profile: &str) {
    let strict = profile == "strict";
    let ds = dir.join("ds");
    const HOUR: i64 = 3_600_000;
    let real = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    };
    let now = real();
    let boundary = now - now % HOUR + HOUR;
    // The service's now: 25 s before `boundary + HOUR` (an hour ahead, so
    // the boundary is never in the real past of the shift).
    let skew = boundary + HOUR - 25_000 - now;
    let end = boundary + HOUR; // the end of the hour H, in service time
    let skew_s = skew.to_string();
    let cap = Capture::start(
        lab,
        &lab.a,
        &lab.va,
        &ds,
        &[
            "--metrics",
            "off",
            "--flush-interval",
            "1",
            "--idle-timeout",
            "2",
            "--active-timeout",
            "10",
            "--clock-skew-ms",
            &skew_s,
            "--profile",
            profile,
        ],
    );
    let service_now = || real() + skew;
    // Hour H: the clients twice (their rows shared by k = 5 where alike).
    clients(lab);
    clients(lab);
    // Five alike flows that begin 4 s before the hour ends and go on 4 s
    // past it (a datagram every 0.5 s, answered by the echo server).
    while service_now() < end - 4_500 {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !cap.log().contains(" status "),
        "counters logged within the hour:\n{}",
        cap.log()
    );
    let server = lab.ip(2);
    let across = format!(
        "import socket,time\nss=[socket.socket(socket.AF_INET,socket.SOCK_DGRAM) for _ in range(5)]\nfor s in ss: s.settimeout(5)\nfor i in range(16):\n for s in ss:\n  s.sendto(b'a'*100,('{server}',7777)); s.recv(65535)\n time.sleep(0.5)"
    );
    let o = lab
        .exec(&lab.a)
        .args(["python3", "-c", &across])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Hour H+1's own flows.
    clients(lab);
    clients(lab);
    // Within the hold after the hour: nothing on disk, no totals, no
    // counters in the log.
    while service_now() < end + 11_000 {
        assert!(
            hour_files(&ds).is_empty(),
            "a file before the hour and its hold were over"
        );
        assert!(
            !ds.join("node=live/_totals.json").exists(),
            "totals before an hour was written"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    // One status line: at the hour's end (the counters as of then).
    assert_eq!(
        cap.log().matches(" status ").count(),
        1,
        "counters logged more often than hourly:\n{}",
        cap.log()
    );
    let t = Instant::now();
    while hour_files(&ds).is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "hour H never written:\n{}",
            cap.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let written = hour_files(&ds);
    let h = (end - HOUR) as u64;
    let per_hour = if strict { 1 } else { 2 };
    assert_eq!(
        written.len(),
        per_hour,
        "one part and its sidecar, or one table: {written:?}"
    );
    for f in &written {
        assert_eq!(f["hour"], h, "{f}");
        // Born after the hour ended (in the service's time).
        let born = (f["ctime"].as_f64().unwrap() * 1000.0) as i64 + skew;
        assert!(born >= end, "{f}: born {born}, hour ends {end}");
        let mtime = (f["mtime"].as_f64().unwrap() * 1000.0) as i64;
        assert_eq!(mtime % HOUR, 0, "{f}");
    }
    if !strict {
        let part = written
            .iter()
            .find(|f| f["name"].as_str().unwrap().starts_with("part-"))
            .unwrap();
        assert_eq!(
            part["time_columns"],
            serde_json::json!(["bidirectional_first_seen_ms"])
        );
        assert_eq!(part["first_seen"], serde_json::json!([h]), "{part}");
        assert!(
            part["rows"].as_u64().unwrap() >= 5,
            "the five flows across the hour: {part}"
        );
    }
    // SIGTERM writes the next hour, once.
    let (st, log) = cap.stop("TERM");
    assert!(st.success(), "{st}\n{log}");
    let all = hour_files(&ds);
    let next: Vec<_> = all
        .iter()
        .filter(|f| f["hour"] == h + HOUR as u64)
        .collect();
    assert_eq!(next.len(), per_hour, "{all:?}");
    assert_eq!(all.len(), 2 * per_hour, "each hour written once: {all:?}");
    let totals: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ds.join("node=live/_totals.json")).unwrap()).unwrap();
    let rows: u64 = all.iter().filter_map(|f| f["rows"].as_u64()).sum();
    // Hourly profiles write noisy, rounded totals, which stand for the
    // flows the strict tables count, or for the rows written and the
    // withheld flows, whose exact count is written nowhere (default).
    if strict {
        let flows: u64 = all.iter().filter_map(|f| f["flows"].as_u64()).sum();
        assert!(flows >= 25, "{all:?}");
        use exitflow_output::totals::COUNT_GRID;
        assert_noisy(&totals["flows"], flows, COUNT_GRID, 3, "flows");
    } else {
        assert!(rows > 0, "{all:?}");
        assert_totals_stand_for_rows(&totals, rows, 3);
    }
}
