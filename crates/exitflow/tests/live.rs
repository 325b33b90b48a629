//! `exitflow capture` through a real kernel: each test makes two network
//! namespaces joined by a veth pair, runs real servers and clients (or
//! tcpreplay) across it, and captures on the veth.
//!
//! These tests need root (network namespaces, AF_PACKET); CI runs as root.
//! They fail without it, unless `EXITFLOW_SKIP_ROOT_TESTS=1` says to skip them.
//! Tools: iproute2, tcpdump, tcpreplay, curl, python3 with pyarrow (.ci/run).
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{assert_noisy, assert_totals_stand_for_rows, files_under, python};

pub(crate) fn root_or_skip(test: &str) -> bool {
    if std::env::var_os("EXITFLOW_SKIP_ROOT_TESTS").is_some() {
        crate::common::skipped(test, "needs root; EXITFLOW_SKIP_ROOT_TESTS is set");
        return false;
    }
    let uid = Command::new("id").arg("-u").output().expect("id");
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "{test} needs root (network namespaces, AF_PACKET); CI runs as root. \
         Set EXITFLOW_SKIP_ROOT_TESTS=1 to skip it."
    );
    true
}

/// Returns from the test, recorded as skipped, when it may not run here.
macro_rules! require_root {
    ($test:expr) => {
        if !crate::live::root_or_skip($test) {
            return;
        }
    };
}
pub(crate) use require_root;

pub(crate) fn sh(args: &[&str]) {
    let o = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e} (is it installed? see .ci/run)"));
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A new network namespace `ns` (a leftover one of that name removed),
/// IPv6 off so that no neighbour discovery adds flows, loopback up.
pub(crate) fn fresh_netns(ns: &str) {
    let _ = Command::new("ip").args(["netns", "del", ns]).output();
    sh(&["ip", "netns", "add", ns]);
    for key in ["all", "default"] {
        let setting = format!("net.ipv6.conf.{key}.disable_ipv6=1");
        sh(&["ip", "netns", "exec", ns, "sysctl", "-qw", &setting]);
    }
    sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
}

/// Two namespaces, `a` (10.N.0.1 on `va`) and `b` (10.N.0.2 on `vb`),
/// joined by a veth pair; IPv6 off so that no neighbour discovery adds flows.
pub(crate) struct Lab {
    pub(crate) a: String,
    pub(crate) b: String,
    pub(crate) va: String,
    vb: String,
    net: u8,
}

impl Lab {
    pub(crate) fn new(tag: &str, net: u8, mtu: u32) -> Lab {
        let pid = std::process::id() % 100_000;
        let lab = Lab {
            a: format!("ef{tag}{pid}a"),
            b: format!("ef{tag}{pid}b"),
            va: format!("v{tag}{pid}a"),
            vb: format!("v{tag}{pid}b"),
            net,
        };
        for ns in [&lab.a, &lab.b] {
            fresh_netns(ns);
        }
        sh(&[
            "ip", "link", "add", &lab.va, "netns", &lab.a, "type", "veth", "peer", "name", &lab.vb,
            "netns", &lab.b,
        ]);
        for (ns, dev, host) in [(&lab.a, &lab.va, 1), (&lab.b, &lab.vb, 2)] {
            let addr = format!("10.{net}.0.{host}/24");
            sh(&["ip", "-n", ns, "addr", "add", &addr, "dev", dev]);
            sh(&[
                "ip",
                "-n",
                ns,
                "link",
                "set",
                dev,
                "mtu",
                &mtu.to_string(),
                "up",
            ]);
        }
        lab
    }

    pub(crate) fn ip(&self, host: u8) -> String {
        format!("10.{}.0.{host}", self.net)
    }

    pub(crate) fn exec(&self, ns: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns]);
        c
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

/// An own address for captures whose tests are not about roles (a
/// documentation address: no packet of the tests has it).
pub(crate) const NOT_ON_THE_WIRE: &str = "192.0.2.254";

/// A background process killed when dropped.
pub(crate) struct Bg(pub(crate) Child);

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn signal(pid: u32, sig: &str) {
    sh(&["kill", &format!("-{sig}"), &pid.to_string()]);
}

/// A running `exitflow capture` with its log collected.
pub(crate) struct Capture {
    child: Option<Child>,
    log: Arc<Mutex<String>>,
}

impl Capture {
    fn start(lab: &Lab, ns: &str, dev: &str, dataset: &Path, extra: &[&str]) -> Capture {
        Capture::start_under(lab, ns, dev, dataset, extra, &[])
    }

    /// As `start`, with `wrapper` (a command and its arguments, such as
    /// `setpriv …`) running the binary.
    fn start_under(
        lab: &Lab,
        ns: &str,
        dev: &str,
        dataset: &Path,
        extra: &[&str],
        wrapper: &[&str],
    ) -> Capture {
        let mut c = lab.exec(ns);
        c.args(wrapper);
        Capture::spawn(c, dev, dataset, extra)
    }

    /// `exitflow capture` on `dev` into `dataset`, run by `c` (a command
    /// such as `ip netns exec NS`, to which the binary and its arguments are
    /// added); returns once it has started.
    pub(crate) fn spawn(mut c: Command, dev: &str, dataset: &Path, extra: &[&str]) -> Capture {
        c.arg(env!("CARGO_BIN_EXE_exitflow"));
        Capture::spawn_program(c, dev, dataset, extra)
    }

    /// As `spawn`, where `c` already names the program (an installed one).
    pub(crate) fn spawn_program(
        mut c: Command,
        dev: &str,
        dataset: &Path,
        extra: &[&str],
    ) -> Capture {
        c.args(["capture", "--interface", dev, "--workers", "2"])
            .args(if extra.contains(&"--node") {
                &[][..]
            } else {
                &["--node", "live"][..]
            })
            // A capture needs the relay's own address; these tests are not
            // about roles, so one that is not on the wire unless given.
            .args(
                if extra
                    .iter()
                    .any(|a| ["--own-address", "--config", "--torrc"].contains(a))
                {
                    &[][..]
                } else {
                    &["--own-address", NOT_ON_THE_WIRE][..]
                },
            )
            .arg("--dataset")
            .arg(dataset)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn exitflow capture");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let l = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut g = l.lock().unwrap();
                g.push_str(&line);
                g.push('\n');
            }
        });
        let cap = Capture {
            child: Some(child),
            log,
        };
        cap.wait_for("capture started", Duration::from_secs(20));
        cap
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub(crate) fn wait_for(&self, what: &str, timeout: Duration) {
        let t = Instant::now();
        while !self.log().contains(what) {
            assert!(
                t.elapsed() < timeout,
                "no {what:?} in the log within {timeout:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `sig`, waits for the exit; returns the status and the whole log.
    pub(crate) fn stop(mut self, sig: &str) -> (ExitStatus, String) {
        let mut child = self.child.take().unwrap();
        signal(child.id(), sig);
        let st = child.wait().unwrap();
        // Let the reader thread take the last lines.
        std::thread::sleep(Duration::from_millis(100));
        (st, self.log())
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Rows of flow CSVs, as (name → rows of the columns asked for).
fn csv_rows(path: &Path, cols: &[&str]) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let h = r.headers().unwrap().clone();
    let idx: Vec<usize> = cols
        .iter()
        .map(|c| {
            h.iter()
                .position(|x| x == *c)
                .unwrap_or_else(|| panic!("{}: no column {c}", path.display()))
        })
        .collect();
    let mut rows: Vec<Vec<String>> = r
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            idx.iter().map(|&i| normal(&rec[i])).collect()
        })
        .collect();
    rows.sort();
    rows
}

/// pandas writes booleans as True/False, exitflow's CSV as 1/0.
fn normal(v: &str) -> String {
    match v {
        "True" => "1".into(),
        "False" => "0".into(),
        _ => v.to_owned(),
    }
}

/// Every Parquet file of a dataset opens in pyarrow; returns (files, rows).
fn dataset_to_csv(out: &Path, sets: &[(String, PathBuf)]) -> BTreeMap<String, (u64, u64)> {
    let args: Vec<String> = std::iter::once(out.display().to_string())
        .chain(sets.iter().map(|(n, p)| format!("{n}={}", p.display())))
        .collect();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    python("datasets_to_csv.py", &a)
        .lines()
        .map(|l| {
            let v: Vec<&str> = l.split(' ').collect();
            (
                v[0].to_owned(),
                (v[2].parse().unwrap(), v[1].parse().unwrap()),
            )
        })
        .collect()
}

fn wait_tcp(lab: &Lab, ns: &str, host: &str, port: u16) {
    let code = format!(
        "import socket,time\nfor i in range(100):\n try:\n  socket.create_connection(('{host}',{port}),1).close(); break\n except OSError: time.sleep(0.05)\nelse: raise SystemExit('no server')"
    );
    let o = lab
        .exec(ns)
        .args(["python3", "-c", &code])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

const FLOW_COLS: &[&str] = &[
    "protocol",
    "dst_port",
    "bidirectional_packets",
    "bidirectional_bytes",
    "src2dst_packets",
    "src2dst_bytes",
    "dst2src_packets",
    "dst2src_bytes",
    "application_name",
    "application_category_name",
];

/// A web server (`python3 -m http.server` serving a 200,000-byte `blob`) and
/// a UDP echo server on port 7777, in namespace b; stopped when dropped.
pub(crate) struct Servers {
    _http: Bg,
    _echo: Bg,
}

impl Servers {
    pub(crate) fn start(lab: &Lab, dir: &Path) -> Servers {
        let www = dir.join("www");
        std::fs::create_dir(&www).unwrap();
        std::fs::write(www.join("blob"), vec![b'x'; 200_000]).unwrap();
        let server = lab.ip(2);
        let _http = Bg(lab
            .exec(&lab.b)
            .args([
                "python3",
                "-m",
                "http.server",
                "8080",
                "--bind",
                &server,
                "--directory",
            ])
            .arg(&www)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap());
        let echo = format!(
            "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('{server}',7777))\nwhile True:\n d,a=s.recvfrom(65535); s.sendto(d,a)"
        );
        let _echo = Bg(lab
            .exec(&lab.b)
            .args(["python3", "-c", &echo])
            .spawn()
            .unwrap());
        // Readiness checked from inside b: over its loopback, not the veth.
        wait_tcp(lab, &lab.b, &server, 8080);

        Servers { _http, _echo }
    }
}

/// From namespace a: three downloads of the blob, one 404, and two UDP
/// echoes of 10 and 1,000 bytes.
/// A lab with the servers running, and a working directory.
pub(crate) fn with_servers(tag: &str, net: u8) -> (Lab, tempfile::TempDir, Servers) {
    let lab = Lab::new(tag, net, 1500);
    let dir = tempfile::tempdir().unwrap();
    let servers = Servers::start(&lab, dir.path());
    (lab, dir, servers)
}

pub(crate) fn clients(lab: &Lab) {
    let server = lab.ip(2);
    let url = |p: &str| format!("http://{server}:8080/{p}");
    for p in ["blob", "blob", "blob", "missing"] {
        let o = lab
            .exec(&lab.a)
            .args([
                "curl",
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                &url(p),
            ])
            .output()
            .expect("curl (see .ci/run)");
        let code = String::from_utf8_lossy(&o.stdout).into_owned();
        assert_eq!(code, if p == "blob" { "200" } else { "404" });
    }
    let client = format!(
        "import socket\nfor n in (10, 1000):\n s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(5)\n s.sendto(b'u'*n,('{server}',7777)); assert len(s.recv(65535))==n"
    );
    let o = lab
        .exec(&lab.a)
        .args(["python3", "-c", &client])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

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

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter(|l| {
            let rest = &l[name.len()..];
            rest.starts_with(' ') || rest.starts_with('{')
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

fn scrape(lab: &Lab) -> String {
    let o = lab
        .exec(&lab.b)
        .args(["curl", "-s", "http://127.0.0.1:9477/metrics"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn vm_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
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

/// No half-written file is left in the dataset.
fn assert_no_temp_files(ds: &Path) {
    let leftovers: Vec<_> = files_under(ds)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// A synthetic capture of `flows` flows in `dir`.
fn synth_pcap(dir: &Path, flows: u32) -> PathBuf {
    let pcap = dir.join("synth.pcap");
    let n = flows.to_string();
    crate::common::ok(&["synth", "-o", pcap.to_str().unwrap(), "--flows", &n]);
    pcap
}

fn parquet_files(ds: &Path) -> Vec<PathBuf> {
    files_under(ds)
        .into_iter()
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.ends_with(".parquet") && !n.starts_with('.') && !n.starts_with('_')
        })
        .collect()
}

/// Rows in the dataset's completed files, each read by pyarrow.
pub(crate) fn dataset_rows(ds: &Path) -> u64 {
    parquet_files(ds)
        .iter()
        .map(|p| {
            python("count_parquet.py", &[p.to_str().unwrap()])
                .trim()
                .parse::<u64>()
                .unwrap()
        })
        .sum()
}

/// A lab, a working directory, a synthetic capture in it and the dataset
/// path: what most capture tests start from.
struct Scene {
    lab: Lab,
    dir: tempfile::TempDir,
    pcap: PathBuf,
    ds: PathBuf,
}

impl Scene {
    fn new(tag: &str, net: u8, flows: u32) -> Scene {
        let lab = Lab::new(tag, net, 1500);
        let dir = tempfile::tempdir().unwrap();
        let pcap = synth_pcap(dir.path(), flows);
        let ds = dir.path().join("ds");
        Scene { lab, dir, pcap, ds }
    }
}

fn replay_in_background(lab: &Lab, pcap: &Path, pps: &str) -> Bg {
    Bg(lab
        .exec(&lab.a)
        .args([
            "tcpreplay",
            "-q",
            "--loop",
            "0",
            "--pps",
            pps,
            "-i",
            &lab.va,
        ])
        .arg(pcap)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap())
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

fn status_field(log: &str, field: &str) -> u64 {
    log.lines()
        .rev()
        .find(|l| l.contains(" status "))
        .and_then(|l| {
            l.split(&format!("{field}="))
                .nth(1)?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no {field} in the last status line:\n{log}"))
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

/// The shipped capture unit's text.
pub(crate) fn capture_unit() -> String {
    let unit =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/exitflow-capture@.service");
    std::fs::read_to_string(&unit).unwrap()
}

/// The values of `KEY=` lines of a unit, split on spaces.
pub(crate) fn unit_values(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .flat_map(|v| v.split_whitespace().map(str::to_owned))
        .collect()
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

/// The capability sets of every thread of `pid`, as (thread, line) for each
/// `Cap*` line that is not all zero.
fn capabilities_held(pid: u32) -> Vec<(String, String)> {
    let mut held = Vec::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let t = t.unwrap().path();
        let status = std::fs::read_to_string(t.join("status")).unwrap_or_default();
        let caps: Vec<&str> = status.lines().filter(|l| l.starts_with("Cap")).collect();
        assert_eq!(caps.len(), 5, "{status}");
        for l in caps {
            let v = l.split(':').nth(1).unwrap().trim();
            if u64::from_str_radix(v, 16).unwrap() != 0 {
                held.push((t.display().to_string(), l.to_owned()));
            }
        }
    }
    held
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
    for file in ["live.rs", "relay.rs", "tornet.rs", "systemd.rs"] {
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

/// The dataset's completed files as an adversary holding the disk sees them
/// (`py/hour_files.py`).
fn hour_files(ds: &Path) -> Vec<serde_json::Value> {
    if !ds.exists() {
        return Vec::new();
    }
    python("hour_files.py", &[ds.to_str().unwrap()])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
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
