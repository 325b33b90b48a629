//! The Debian package under real systemd: systemd boots as PID 1 in a
//! container (`systemd-nspawn -b` over a copy-on-write view of this
//! machine's own Debian), the package is installed there with apt, and its
//! units run as an operator runs them — seccomp filter, capabilities,
//! sandboxing and all — capturing real clients and servers on a veth.
//!
//! Needs root, systemd-container (systemd-nspawn), debhelper and lintian
//! (.ci/run installs them).
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::common::{assert_totals_stand_for_rows, shared, written_flows};
use crate::support::netns::{Lab, Servers, clients, require_root, sh};

/// The package built once per test run with `packaging/deb/build.sh` from
/// the binary under test: (the .deb, the -dbgsym package).
fn package() -> &'static (PathBuf, PathBuf) {
    static DEB: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    DEB.get_or_init(|| {
        // Under the target directory, one per checkout: the package is built
        // once per run and a run cannot remove it at exit (a static), so a
        // name per process would leave 50 MB in /tmp after every run.
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("exitflow-deb");
        let _ = std::fs::remove_dir_all(&out);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/deb/build.sh");
        let o = Command::new("bash")
            .arg(&script)
            .args(["--binary", env!("CARGO_BIN_EXE_exitflow"), "--out"])
            .arg(&out)
            .output()
            .expect("bash");
        assert!(
            o.status.success(),
            "build.sh: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        let deb = String::from_utf8_lossy(&o.stdout)
            .lines()
            .rfind(|l| l.ends_with(".deb"))
            .map(PathBuf::from)
            .expect("build.sh prints the .deb");
        let dbgsym = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().contains("exitflow-dbgsym_"))
            .expect("an exitflow-dbgsym package beside the .deb");
        (deb, dbgsym)
    })
}

/// A container booted with systemd as PID 1 in the network namespace `netns`;
/// its root is an overlay of this machine's `/` (changes go to a tmpfs
/// directory and vanish with it). Shut down and unmounted when dropped.
struct Machine {
    root: PathBuf,
    scratch: PathBuf,
    nspawn: Child,
    leader: u32,
}

impl Machine {
    fn boot(name: &str, netns: &str) -> Machine {
        let scratch = PathBuf::from(format!("/dev/shm/{name}"));
        let _ = Command::new("umount")
            .arg("-l")
            .arg(scratch.join("root"))
            .output();
        let _ = std::fs::remove_dir_all(&scratch);
        for d in ["upper", "work", "root"] {
            std::fs::create_dir_all(scratch.join(d)).unwrap();
        }
        let root = scratch.join("root");
        let opts = format!(
            "lowerdir=/,upperdir={},workdir={}",
            scratch.join("upper").display(),
            scratch.join("work").display()
        );
        sh(&[
            "mount",
            "-t",
            "overlay",
            "overlay",
            "-o",
            &opts,
            root.to_str().unwrap(),
        ]);
        // A machine id of its own (systemd refuses to share the host's
        // journal otherwise) and no leftover exitflow of this machine's.
        let id: String = (0..32)
            .map(|i| {
                let r = std::process::id() as usize * 2654435761 + i * 40503;
                char::from_digit(((r >> (i % 7)) % 16) as u32, 16).unwrap()
            })
            .collect();
        std::fs::write(root.join("etc/machine-id"), format!("{id}\n")).unwrap();
        // No exitflow of this machine's: units an old kit put in
        // /etc/systemd/system would shadow the package's.
        for leftover in [
            "etc/exitflow",
            "var/lib/exitflow",
            "var/lib/exitflow-consensus",
        ] {
            let _ = std::fs::remove_dir_all(root.join(leftover));
        }
        for unit in [
            "exitflow-capture@.service",
            "exitflow-consensus.service",
            "exitflow-consensus.path",
        ] {
            let _ = std::fs::remove_file(root.join("etc/systemd/system").join(unit));
        }
        // A container image's policy-rc.d forbids maintainer scripts to
        // start or stop services; a relay has none.
        let _ = std::fs::remove_file(root.join("usr/sbin/policy-rc.d"));
        // This machine's own relay services stay off: the test installs and
        // starts what it needs.
        let masks = root.join("etc/systemd/system");
        std::fs::create_dir_all(&masks).unwrap();
        for unit in [
            "tor.service",
            "tor@default.service",
            "unbound.service",
            "ssh.service",
        ] {
            let _ = std::fs::remove_file(masks.join(unit));
            std::os::unix::fs::symlink("/dev/null", masks.join(unit)).unwrap();
        }
        let log = std::fs::File::create(scratch.join("boot.log")).unwrap();
        let nspawn = Command::new("systemd-nspawn")
            .arg("--directory")
            .arg(&root)
            .args([
                &format!("--machine={name}"),
                "--boot",
                "--register=no",
                "--keep-unit",
                "--console=passive",
                &format!("--network-namespace-path=/run/netns/{netns}"),
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("systemd-nspawn (package systemd-container; see .ci/run)");
        let mut m = Machine {
            root,
            scratch,
            nspawn,
            leader: 0,
        };
        // The container's PID 1: nspawn's child running systemd.
        let start = Instant::now();
        while m.leader == 0 {
            let children =
                std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", m.nspawn.id()))
                    .unwrap_or_default();
            m.leader = children
                .split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok())
                .find(|p| {
                    std::fs::read_to_string(format!("/proc/{p}/comm"))
                        .is_ok_and(|c| c.trim() == "systemd")
                })
                .unwrap_or(0);
            assert!(
                start.elapsed() < Duration::from_secs(30) && m.nspawn.try_wait().unwrap().is_none(),
                "the container did not start:\n{}",
                m.boot_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // Booted: every unit started (systemctl answers once systemd's
        // private socket exists).
        let mut state = String::new();
        while start.elapsed() < Duration::from_secs(60) {
            let o = m.run("systemctl is-system-running --wait");
            state = String::from_utf8_lossy(&o.stdout).trim().to_owned();
            if !state.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // "degraded" names a unit of this machine's that failed in the
        // container; exitflow's own units are checked one by one below.
        assert!(
            state == "running" || state == "degraded",
            "systemd in the container: {state:?}\n{}\n{}",
            String::from_utf8_lossy(&m.run("systemctl --failed --no-pager").stdout),
            m.boot_log()
        );
        m
    }

    fn boot_log(&self) -> String {
        std::fs::read_to_string(self.scratch.join("boot.log")).unwrap_or_default()
    }

    /// A shell script run inside the container (all its namespaces, a clean
    /// environment).
    fn run(&self, script: &str) -> Output {
        Command::new("nsenter")
            .args(["-t", &self.leader.to_string(), "-a"])
            .args([
                "env",
                "-i",
                "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                "LANG=C.UTF-8",
                "DEBIAN_FRONTEND=noninteractive",
                "sh",
                "-c",
                script,
            ])
            .output()
            .expect("nsenter (util-linux)")
    }

    /// `run`, asserting success; its standard output.
    fn out(&self, script: &str) -> String {
        let o = self.run(script);
        assert!(
            o.status.success(),
            "in the container: {script}\n{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Polls `script` until it succeeds, for at most `secs`.
    fn until(&self, what: &str, secs: u64, script: &str) {
        let start = Instant::now();
        while !self.run(script).status.success() {
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "{what}: not after {secs} s\n{}",
                self.out("journalctl --no-pager -n 60 || true")
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A path inside the container, as seen from here.
    fn path(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        // SIGTERM asks nspawn for a clean shutdown of the container.
        let _ = Command::new("kill")
            .args(["-TERM", &self.nspawn.id().to_string()])
            .output();
        let start = Instant::now();
        while self.nspawn.try_wait().ok().flatten().is_none()
            && start.elapsed() < Duration::from_secs(20)
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.nspawn.kill();
        let _ = self.nspawn.wait();
        let _ = Command::new("umount").arg("-l").arg(&self.root).output();
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// Every `Cap*` line of every thread of `pid` in the container that is not 0.
fn capabilities_held(m: &Machine, pid: &str) -> String {
    m.out(&format!(
        "for t in /proc/{pid}/task/*; do grep '^Cap' $t/status; done | grep -v ':[[:space:]]*0*$' || true"
    ))
}

/// The main process id of a unit, or "0".
fn main_pid(m: &Machine, unit: &str) -> String {
    m.out(&format!("systemctl show -p MainPID --value {unit}"))
        .trim()
        .to_owned()
}

#[test]
fn the_package_under_real_systemd_captures_unprivileged_restarts_drains_and_refreshes_the_consensus()
 {
    require_root!("systemd in a container");
    let (deb, _) = package();
    let lab = Lab::new("y", 88, 1500);
    let dir = tempfile::tempdir().unwrap();
    let _servers = Servers::start(&lab, dir.path());
    let m = Machine::boot(&format!("ef-sd-{}", std::process::id()), &lab.a);
    assert_eq!(m.out("cat /proc/1/comm").trim(), "systemd");

    // Installed as an operator installs it.
    std::fs::copy(deb, m.path("/root/exitflow.deb")).unwrap();
    m.out("apt-get install -y -q --no-install-recommends /root/exitflow.deb");
    let passwd = m.out("getent passwd exitflow");
    assert!(
        passwd
            .trim_end()
            .ends_with(":/var/lib/exitflow:/usr/sbin/nologin"),
        "{passwd}"
    );
    assert_eq!(
        m.out("stat -c '%U %a' /var/lib/exitflow").trim(),
        "exitflow 750"
    );
    assert_eq!(
        std::fs::read_to_string(m.path("/lib/systemd/system/exitflow-capture@.service")).unwrap(),
        include_str!("../../../packaging/exitflow-capture@.service")
    );
    m.out("systemd-analyze verify /lib/systemd/system/exitflow-consensus.service /lib/systemd/system/exitflow-consensus.path");
    // The package enabled the consensus copier's watch.
    assert_eq!(
        m.out("systemctl is-enabled exitflow-consensus.path").trim(),
        "enabled"
    );
    assert_eq!(
        m.out("systemctl is-active exitflow-consensus.path").trim(),
        "active"
    );

    // The consensus path unit copies tor's consensus when tor writes one,
    // and again when it changes — also while tor's microdescriptor
    // consensus does not exist.
    let consensus = shared().expect("../shared").join("tor");
    let mut docs: Vec<PathBuf> = std::fs::read_dir(&consensus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("-consensus"))
        .collect();
    docs.sort();
    assert!(docs.len() >= 2, "{docs:?}");
    m.out("install -d -o debian-tor -g debian-tor -m 0700 /var/lib/tor");
    for (i, doc) in docs[..2].iter().enumerate() {
        std::fs::copy(doc, m.path("/root/consensus")).unwrap();
        m.out("install -o debian-tor -g debian-tor -m 0600 /root/consensus /var/lib/tor/.new && mv /var/lib/tor/.new /var/lib/tor/cached-consensus");
        m.until(
            &format!("the consensus copy follows tor's (change {i})"),
            20,
            "cmp -s /root/consensus /var/lib/exitflow-consensus/cached-consensus",
        );
    }
    assert!(!m.path("/var/lib/tor/cached-microdesc-consensus").exists());

    // The operator's node: its name and the relay's address.
    let conf = m.path("/etc/exitflow/exitflow.toml");
    let text = std::fs::read_to_string(&conf).unwrap();
    let text = text
        .replacen("# name = ", "name = \"sdtest\" # ", 1)
        .replacen(
            "# own_addresses = ",
            &format!("own_addresses = [\"{}\"] # ", lab.ip(1)),
            1,
        );
    std::fs::write(&conf, text).unwrap();

    // Started as an operator starts it: the unit's seccomp filter,
    // capabilities and sandbox, for real.
    let unit = format!("exitflow-capture@{}.service", lab.va);
    m.out(&format!("systemctl enable --now {unit}"));
    let dropped =
        format!("journalctl -u {unit} -o cat --no-pager | grep -q 'every capability dropped'");
    m.until("the capture drops its capabilities", 20, &dropped);
    let pid = main_pid(&m, &unit);
    assert_ne!(pid, "0");
    assert_eq!(
        m.out(&format!("systemctl show -p FragmentPath --value {unit}"))
            .trim(),
        "/lib/systemd/system/exitflow-capture@.service",
        "the package's unit runs"
    );
    assert_eq!(capabilities_held(&m, &pid), "", "capabilities left");
    assert_eq!(m.out(&format!("stat -c %U /proc/{pid}")).trim(), "exitflow");
    // It reads the copied consensus (exitflow is not in tor's group).
    let metrics = m.out("curl -sf http://127.0.0.1:9477/metrics");
    let valid_after = metrics
        .lines()
        .find(|l| l.starts_with("exitflow_consensus_valid_after_seconds "))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(valid_after > 1e9, "no consensus in use:\n{metrics}");
    clients(&lab);
    // The operator's screen, from the package's configuration (read by
    // default): the capture's workers and its addresses; health not OK
    // without GeoIP. (Under the default profile its counters move once an
    // hour: the private Tor network test checks packets under research.)
    let screen = m.out("exitflow status --once");
    assert!(
        screen.contains("2 workers") && screen.contains("own addresses 1 (exit addresses 0)"),
        "{screen}"
    );
    assert!(
        screen.contains("health       WARNING: ")
            && screen.contains("no GeoIP database")
            && !screen.contains("no consensus")
            && !screen.contains("no address of the relay"),
        "{screen}"
    );

    // A restart: a new process, no capability either, and the first one's
    // flows kept.
    m.out(&format!("systemctl restart {unit}"));
    m.until(
        "the capture restarts",
        20,
        &format!("systemctl is-active -q {unit}"),
    );
    let pid2 = main_pid(&m, &unit);
    assert_ne!(pid2, pid);
    m.until(
        "restart: every capability dropped",
        20,
        &format!("journalctl -u {unit} -o cat --no-pager _PID={pid2} | grep -q 'every capability dropped'"),
    );
    assert_eq!(capabilities_held(&m, &pid2), "", "capabilities left");
    clients(&lab);

    // An upgrade (the package installed over itself: postinst configure
    // with the old version) restarts the running capture on the new binary.
    m.out("apt-get install -y -q --reinstall --no-install-recommends /root/exitflow.deb");
    m.until(
        "the capture restarts after the upgrade",
        20,
        &format!("systemctl is-active -q {unit}"),
    );
    let pid3 = main_pid(&m, &unit);
    assert_ne!(pid3, pid2, "the upgrade did not restart the capture");
    m.until(
        "upgrade restart: every capability dropped",
        20,
        &format!("journalctl -u {unit} -o cat --no-pager _PID={pid3} | grep -q 'every capability dropped'"),
    );
    assert_eq!(capabilities_held(&m, &pid3), "", "capabilities left");
    clients(&lab);

    // Stopped with SIGTERM: every flow drained, none lost, exit status 0,
    // and never restarted by systemd (no SIGSYS, no failure).
    m.out(&format!("systemctl stop {unit}"));
    let show = m.out(&format!(
        "systemctl show -p Result -p ExecMainStatus -p NRestarts {unit}"
    ));
    assert!(
        show.contains("Result=success")
            && show.contains("ExecMainStatus=0")
            && show.contains("NRestarts=0"),
        "{show}\n{}",
        m.out(&format!(
            "journalctl -u {unit} -o cat --no-pager | tail -40"
        ))
    );
    let journal = m.out(&format!("journalctl -u {unit} -o cat --no-pager"));
    let stops: Vec<&str> = journal.lines().filter(|l| l.contains(" lost=")).collect();
    assert!(!stops.is_empty(), "{journal}");
    assert!(stops.iter().all(|l| l.contains(" lost=0")), "{journal}");
    let totals: serde_json::Value = serde_json::from_slice(
        &std::fs::read(m.path("/var/lib/exitflow/dataset/node=sdtest/_totals.json")).unwrap(),
    )
    .unwrap();
    // The default profile's totals: every write's increments noised and
    // rounded; they stand for the rows the three runs wrote.
    // (So few flows that k-anonymity may withhold every row; the exact
    // count of flows is written nowhere. Each run wrote its counts.)
    assert_eq!(totals["captures"], 3, "{totals}");
    assert!(totals["noisy_writes"].as_u64() >= Some(3), "{totals}");
    assert_totals_stand_for_rows(&totals, written_flows(&journal), 6);
    assert_eq!(
        m.out("stat -c %U /var/lib/exitflow/dataset/node=sdtest")
            .trim(),
        "exitflow"
    );

    // Removed while capturing: prerm stops the capture first (its files
    // whole); purged: the dataset stays, reachable by root only, and the
    // user stays (no later user inherits its id).
    m.out(&format!("systemctl start {unit}"));
    m.until(
        "the capture starts again",
        20,
        &format!("systemctl is-active -q {unit}"),
    );
    m.out("apt-get purge -y -q exitflow");
    assert!(
        m.run(&format!("systemctl is-active -q {unit}"))
            .status
            .code()
            != Some(0),
        "still capturing after removal"
    );
    assert_eq!(
        m.out("stat -c '%U %a' /var/lib/exitflow").trim(),
        "root 700"
    );
    assert!(!m.path("/var/lib/exitflow-consensus").exists());
    assert!(m.run("getent passwd exitflow").status.success());
    assert!(
        m.path("/var/lib/exitflow/dataset/node=sdtest/_totals.json")
            .is_file()
    );
    // Installed again, the dataset is the service's again.
    m.out("apt-get install -y -q --no-install-recommends /root/exitflow.deb");
    assert_eq!(
        m.out("stat -c '%U %a' /var/lib/exitflow").trim(),
        "exitflow 750"
    );
}

#[test]
fn lintian_finds_no_error_and_no_warning_in_the_package() {
    let (deb, dbgsym) = package();
    for p in [deb, dbgsym] {
        let o = Command::new("lintian")
            .args(["--fail-on", "error,warning", "--no-tag-display-limit"])
            .arg(p)
            .output()
            .expect("lintian (see .ci/run)");
        let out = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.status.success(), "{}:\n{out}", p.display());
        assert!(
            !out.lines()
                .any(|l| l.starts_with("E:") || l.starts_with("W:")),
            "{out}"
        );
    }
}

#[test]
fn the_package_holds_a_stripped_binary_its_manual_and_a_changelog_and_depends_on_its_libc() {
    let (deb, dbgsym) = package();
    let info = Command::new("dpkg-deb")
        .arg("-f")
        .arg(deb)
        .arg("Depends")
        .output()
        .unwrap();
    let depends = String::from_utf8_lossy(&info.stdout);
    assert!(depends.contains("libc6 (>= 2."), "{depends}");
    let list = Command::new("dpkg-deb")
        .arg("-c")
        .arg(deb)
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    for f in [
        "./usr/bin/exitflow",
        "./usr/share/man/man1/exitflow.1.gz",
        "./usr/share/doc/exitflow/changelog.gz",
        "./usr/share/doc/exitflow/copyright",
        "./usr/lib/sysusers.d/exitflow.conf",
        "./usr/lib/tmpfiles.d/exitflow.conf",
        "./lib/systemd/system/exitflow-capture@.service",
        "./etc/exitflow/exitflow.toml",
        // nDPI's tables, read at run time: the packaged binary, outside any
        // source tree, finds them nowhere else.
        "./usr/share/exitflow/ndpi/protocols.txt",
        "./usr/share/exitflow/ndpi/services.txt",
        "./usr/share/exitflow/ndpi/ip_lists.tsv",
        "./usr/share/exitflow/ndpi/certificates.tsv",
    ] {
        assert!(list.lines().any(|l| l.ends_with(f)), "{f} missing:\n{list}");
    }
    let dir = tempfile::tempdir().unwrap();
    sh(&[
        "dpkg-deb",
        "-x",
        deb.to_str().unwrap(),
        dir.path().to_str().unwrap(),
    ]);
    let file = Command::new("readelf")
        .args(["-S", "-W"])
        .arg(dir.path().join("usr/bin/exitflow"))
        .output()
        .expect("readelf (binutils)");
    let sections = String::from_utf8_lossy(&file.stdout);
    assert!(!sections.contains(".debug_info"), "not stripped");
    let dbg = Command::new("dpkg-deb")
        .arg("-c")
        .arg(dbgsym)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&dbg.stdout).contains("/usr/lib/debug/.build-id/"),
        "no debug symbols in the -dbgsym package"
    );
}
