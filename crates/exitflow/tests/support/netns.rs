//! The harness of the tests that need a real kernel: network namespaces
//! joined by a veth pair (`Lab`), real servers and clients across it, the
//! capture under test (`Capture`), background processes (`Bg`), and the
//! readers of what a capture wrote. Used by `live`, `live_faults`, `relay`,
//! `tornet` and `systemd`.
//!
//! These tests need root (network namespaces, AF_PACKET); CI runs as root.
//! They fail without it, unless `EXITFLOW_SKIP_ROOT_TESTS=1` says to skip them.
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{files_under, python};

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
        if !crate::support::netns::root_or_skip($test) {
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
    pub(crate) vb: String,
    pub(crate) net: u8,
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

pub(crate) fn signal(pid: u32, sig: &str) {
    sh(&["kill", &format!("-{sig}"), &pid.to_string()]);
}

/// A running `exitflow capture` with its log collected.
pub(crate) struct Capture {
    pub(crate) child: Option<Child>,
    pub(crate) log: Arc<Mutex<String>>,
}

impl Capture {
    pub(crate) fn start(lab: &Lab, ns: &str, dev: &str, dataset: &Path, extra: &[&str]) -> Capture {
        Capture::start_under(lab, ns, dev, dataset, extra, &[])
    }

    /// As `start`, with `wrapper` (a command and its arguments, such as
    /// `setpriv …`) running the binary.
    pub(crate) fn start_under(
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
pub(crate) fn csv_rows(path: &Path, cols: &[&str]) -> Vec<Vec<String>> {
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
pub(crate) fn normal(v: &str) -> String {
    match v {
        "True" => "1".into(),
        "False" => "0".into(),
        _ => v.to_owned(),
    }
}

/// Every Parquet file of a dataset opens in pyarrow; returns (files, rows).
pub(crate) fn dataset_to_csv(
    out: &Path,
    sets: &[(String, PathBuf)],
) -> BTreeMap<String, (u64, u64)> {
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

pub(crate) fn wait_tcp(lab: &Lab, ns: &str, host: &str, port: u16) {
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

pub(crate) const FLOW_COLS: &[&str] = &[
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
    pub(crate) _http: Bg,
    pub(crate) _echo: Bg,
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

pub(crate) fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter(|l| {
            let rest = &l[name.len()..];
            rest.starts_with(' ') || rest.starts_with('{')
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

pub(crate) fn scrape(lab: &Lab) -> String {
    let o = lab
        .exec(&lab.b)
        .args(["curl", "-s", "http://127.0.0.1:9477/metrics"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn vm_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// No half-written file is left in the dataset.
pub(crate) fn assert_no_temp_files(ds: &Path) {
    let leftovers: Vec<_> = files_under(ds)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// A synthetic capture of `flows` flows in `dir`.
pub(crate) fn synth_pcap(dir: &Path, flows: u32) -> PathBuf {
    let pcap = dir.join("synth.pcap");
    let n = flows.to_string();
    crate::common::ok(&["synth", "-o", pcap.to_str().unwrap(), "--flows", &n]);
    pcap
}

pub(crate) fn parquet_files(ds: &Path) -> Vec<PathBuf> {
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
pub(crate) struct Scene {
    pub(crate) lab: Lab,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) pcap: PathBuf,
    pub(crate) ds: PathBuf,
}

impl Scene {
    pub(crate) fn new(tag: &str, net: u8, flows: u32) -> Scene {
        let lab = Lab::new(tag, net, 1500);
        let dir = tempfile::tempdir().unwrap();
        let pcap = synth_pcap(dir.path(), flows);
        let ds = dir.path().join("ds");
        Scene { lab, dir, pcap, ds }
    }
}

pub(crate) fn replay_in_background(lab: &Lab, pcap: &Path, pps: &str) -> Bg {
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

pub(crate) fn status_field(log: &str, field: &str) -> u64 {
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

/// The capability sets of every thread of `pid`, as (thread, line) for each
/// `Cap*` line that is not all zero.
pub(crate) fn capabilities_held(pid: u32) -> Vec<(String, String)> {
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

/// The dataset's completed files as an adversary holding the disk sees them
/// (`py/hour_files.py`).
pub(crate) fn hour_files(ds: &Path) -> Vec<serde_json::Value> {
    if !ds.exists() {
        return Vec::new();
    }
    python("hour_files.py", &[ds.to_str().unwrap()])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
