//! The private Tor network of the `tornet` test: addresses of its
//! namespaces, its directory authorities, certificates and DNS server.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::netns::{Bg, fresh_netns, sh};

pub(crate) const NET: u8 = 93;
pub(crate) const TOR: u8 = 1;
pub(crate) const EXIT: u8 = 2;
pub(crate) const INET: u8 = 3;
pub(crate) const ADMIN: u8 = 4;
/// The exit's second address, reserved for exit traffic
/// (`OutboundBindAddressExit`).
pub(crate) const EXIT_OUT: u8 = 12;
/// Pages fetched over HTTP and HTTPS, and mails sent, through Tor.
pub(crate) const HTTP_FETCHES: usize = 3;
pub(crate) const HTTPS_FETCHES: usize = 2;
pub(crate) const SMTP_SESSIONS: usize = 1;
/// Pages fetched over IPv6 (an address literal: tor's exit connects over
/// IPv6, from its IPv6 exit address).
pub(crate) const HTTP6_FETCHES: usize = 1;
/// Longest wait for the network to bootstrap (CI has two cores).
pub(crate) const BOOTSTRAP_TIMEOUT: Duration = Duration::from_secs(180);

pub(crate) fn ip(host: u8) -> String {
    format!("10.{NET}.0.{host}")
}

/// A host's IPv6 address (the exit and the internet speak IPv6 too).
pub(crate) fn ip6(host: u8) -> String {
    format!("fd00:{NET}::{host}")
}

/// The namespaces, joined by a bridge; removed when dropped.
pub(crate) struct Net {
    pub(crate) names: BTreeMap<&'static str, String>,
}

impl Net {
    pub(crate) fn new() -> Net {
        let pid = std::process::id() % 100_000;
        let names: BTreeMap<&'static str, String> = ["sw", "tor", "exit", "inet", "adm"]
            .into_iter()
            .map(|n| (n, format!("tn{n}{pid}")))
            .collect();
        let net = Net { names };
        for ns in net.names.values() {
            fresh_netns(ns);
        }
        let sw = net.ns("sw");
        sh(&["ip", "-n", &sw, "link", "add", "br0", "type", "bridge"]);
        sh(&["ip", "-n", &sw, "link", "set", "br0", "up"]);
        for (name, host) in [("tor", TOR), ("exit", EXIT), ("inet", INET), ("adm", ADMIN)] {
            let ns = net.ns(name);
            let (dev, port) = (Net::dev(name), format!("p{name}"));
            sh(&[
                "ip", "link", "add", &dev, "netns", &ns, "type", "veth", "peer", "name", &port,
                "netns", &sw,
            ]);
            sh(&["ip", "-n", &sw, "link", "set", &port, "master", "br0", "up"]);
            let addr = format!("{}/24", ip(host));
            sh(&["ip", "-n", &ns, "addr", "add", &addr, "dev", &dev]);
            sh(&["ip", "-n", &ns, "link", "set", &dev, "up"]);
        }
        let out = format!("{}/24", ip(EXIT_OUT));
        sh(&[
            "ip",
            "-n",
            &net.ns("exit"),
            "addr",
            "add",
            &out,
            "dev",
            &Net::dev("exit"),
        ]);
        // IPv6 between the exit and the internet: global addresses only (no
        // link-local, no router solicitations), no duplicate detection.
        for (name, hosts) in [("exit", &[EXIT, EXIT_OUT][..]), ("inet", &[INET][..])] {
            let ns = net.ns(name);
            let dev = Net::dev(name);
            for key in [
                format!("net.ipv6.conf.{dev}.addr_gen_mode=1"),
                format!("net.ipv6.conf.{dev}.accept_ra=0"),
                format!("net.ipv6.conf.{dev}.router_solicitations=0"),
                format!("net.ipv6.conf.{dev}.disable_ipv6=0"),
            ] {
                sh(&["ip", "netns", "exec", &ns, "sysctl", "-qw", &key]);
            }
            for h in hosts {
                let a = format!("{}/64", ip6(*h));
                sh(&["ip", "-n", &ns, "addr", "add", &a, "dev", &dev, "nodad"]);
            }
        }
        net
    }

    pub(crate) fn ns(&self, name: &str) -> String {
        self.names[name].clone()
    }

    pub(crate) fn dev(name: &str) -> String {
        format!("e{name}")
    }

    pub(crate) fn exec(&self, name: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.names[name]]);
        c
    }

    /// A long-running process in namespace `name`, its output in `log`.
    pub(crate) fn spawn(&self, name: &str, args: &[&str], log: &Path) -> Bg {
        let out = std::fs::File::create(log).unwrap();
        Bg(self
            .exec(name)
            .args(args)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("{args:?}: {e} (see .ci/run)")))
    }

    /// Runs a command in namespace `name`; its standard output.
    pub(crate) fn run(&self, name: &str, args: &[&str]) -> String {
        let o = self
            .exec(name)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{args:?}: {e} (see .ci/run)"));
        assert!(
            o.status.success(),
            "{args:?}: {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in self.names.values() {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

pub(crate) fn run_ok(cmd: &mut Command) -> String {
    let o = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (see .ci/run)"));
    assert!(
        o.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let t = Instant::now();
    while !done() {
        assert!(t.elapsed() < timeout, "no {what} within {timeout:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

pub(crate) fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

pub(crate) fn private_dir(p: &Path) -> PathBuf {
    std::fs::create_dir_all(p).unwrap();
    std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    p.to_owned()
}

/// Three authorities' keys and their `DirAuthority` lines.
pub(crate) fn authorities(dir: &Path) -> String {
    let mut lines = String::new();
    for i in 1..=3 {
        let data = private_dir(&dir.join(format!("a{i}")));
        let keys = private_dir(&data.join("keys"));
        let mut g = Command::new("tor-gencert");
        g.current_dir(&keys)
            .args(["--create-identity-key", "-m", "12", "-a"])
            .arg(format!("{}:700{i}", ip(TOR)))
            .args([
                "-i",
                "authority_identity_key",
                "-s",
                "authority_signing_key",
                "-c",
                "authority_certificate",
                "--passphrase-fd",
                "0",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = g.spawn().expect("tor-gencert (Debian's tor; see .ci/run)");
        drop(child.stdin.take());
        assert!(child.wait().unwrap().success(), "tor-gencert");
        let cert = read(&keys.join("authority_certificate"));
        let v3 = cert
            .lines()
            .find_map(|l| l.strip_prefix("fingerprint "))
            .unwrap()
            .to_owned();
        let out = run_ok(
            Command::new("tor")
                .args(["--quiet", "--ignore-missing-torrc", "-f", "/dev/null"])
                .args(["--orport", "1", "--list-fingerprint", "--datadirectory"])
                .arg(&data),
        );
        let fp: String = out.split_whitespace().skip(1).collect();
        lines.push_str(&format!(
            "DirAuthority a{i} orport=500{i} no-v2 v3ident={v3} {}:700{i} {fp}\n",
            ip(TOR)
        ));
    }
    lines
}

/// What every tor of the test network shares: fast voting, forced flags.
pub(crate) fn testing_lines(dir_authorities: &str) -> String {
    format!(
        "TestingTorNetwork 1\n{dir_authorities}\
         TestingV3AuthInitialVotingInterval 10\nTestingV3AuthInitialVoteDelay 2\n\
         TestingV3AuthInitialDistDelay 2\nV3AuthVotingInterval 10\nV3AuthVoteDelay 2\n\
         V3AuthDistDelay 2\nTestingDirAuthVoteExit *\nTestingDirAuthVoteGuard *\n\
         TestingDirAuthVoteHSDir *\nTestingMinExitFlagThreshold 0\nAssumeReachable 1\n\
         ShutdownWaitLength 0\n"
    )
}

/// The test CA and the HTTPS server's certificate; returns (CA, cert, key).
pub(crate) fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let p = |n: &str| dir.join(n).display().to_string();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run_ok(
        Command::new("openssl")
            .args(["req", "-x509"])
            .args(ec)
            .args(["-keyout", &p("ca.key"), "-out", &p("ca.pem")])
            .args(["-days", "2", "-subj", "/CN=exitflow test CA"]),
    );
    run_ok(
        Command::new("openssl")
            .arg("req")
            .args(ec)
            .args(["-keyout", &p("srv.key"), "-out", &p("srv.csr")])
            .args(["-subj", "/CN=secure.exitflow.example"]),
    );
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=DNS:secure.exitflow.example\n",
    )
    .unwrap();
    run_ok(
        Command::new("openssl")
            .args(["x509", "-req", "-in", &p("srv.csr"), "-CA", &p("ca.pem")])
            .args([
                "-CAkey",
                &p("ca.key"),
                "-CAcreateserial",
                "-out",
                &p("srv.pem"),
            ])
            .args(["-days", "2", "-extfile", &p("san.ext")]),
    );
    (dir.join("ca.pem"), dir.join("srv.pem"), dir.join("srv.key"))
}

/// The authoritative server of the test names (unbound serving the root
/// zone): the exit's resolver asks it, and its log counts the queries.
pub(crate) fn dns_server(net: &Net, dir: &Path) -> Bg {
    let zone = dir.join("root.zone");
    let s = ip(INET);
    std::fs::write(
        &zone,
        format!(
            ". 3600 IN SOA a.root-servers.example. admin.exitflow.example. 1 3600 600 86400 60\n\
             . 3600 IN NS a.root-servers.example.\na.root-servers.example. 3600 IN A {s}\n\
             www.exitflow.example. 60 IN A {s}\nsecure.exitflow.example. 60 IN A {s}\n\
             mail.exitflow.example. 60 IN A {s}\n"
        ),
    )
    .unwrap();
    let conf = dir.join("auth.conf");
    std::fs::write(
        &conf,
        format!(
            "server:\n  interface: {s}\n  access-control: 10.{NET}.0.0/24 allow\n  username: \"\"\n\
             \x20 chroot: \"\"\n  directory: \"{d}\"\n  pidfile: \"{d}/auth.pid\"\n  use-syslog: no\n\
             \x20 logfile: \"{d}/auth.log\"\n  log-queries: yes\n  do-ip6: no\n  do-daemonize: no\n\
             auth-zone:\n  name: \".\"\n  zonefile: \"{z}\"\n  for-downstream: yes\n  for-upstream: no\n\
             \x20 fallback-enabled: no\n",
            d = dir.display(),
            z = zone.display()
        ),
    )
    .unwrap();
    net.spawn(
        "inet",
        &["unbound", "-d", "-c", conf.to_str().unwrap()],
        &dir.join("auth.out"),
    )
}
