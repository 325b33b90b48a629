//! The exit-relay kit, checked by the programs that will read it: tor,
//! unbound and exitflow itself (Debian's tor and unbound; see .ci/run).
use std::path::Path;
use std::process::Command;

use crate::common::*;

/// `exitflow relay init` with `policy` into `dir/kit`, installed by its own
/// script under `dir/root`; returns the root.
pub fn kit_installed(dir: &Path, policy: &str, extra: &[&str]) -> std::path::PathBuf {
    let root = dir.join("root");
    let kit = dir.join("kit");
    let mut args = vec![
        "relay",
        "init",
        "--out",
        kit.to_str().unwrap(),
        "--nickname",
        "exitflowtest",
        "--contact",
        "research-exit@example.org",
        "--exit-policy",
        policy,
        "--prefix",
        root.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ok(&args);
    let o = Command::new("sh")
        .arg(kit.join("install.sh"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    root
}

fn checked(cmd: &mut Command) -> String {
    let o = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (Debian's tor and unbound; see .ci/run)"));
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{cmd:?}:\n{out}");
    out
}

#[test]
fn relay_init_kits_pass_tor_verify_config_and_unbound_checkconf_and_exitflow_reads_them() {
    for (policy, summary) in [
        ("study", "reject 25"),
        ("web", "accept 80,443"),
        ("reduced", "accept 20-23,43,53,79-81"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let root = kit_installed(
            dir.path(),
            policy,
            &[
                "--address",
                "192.0.2.10",
                "--admin",
                "198.51.100.7",
                "--bandwidth",
                "20 MBytes",
                "--burst",
                "40 MBytes",
                "--privacy-url",
                "https://example.org/exitflow-privacy",
                "--family",
                "9695DFC35FFEB861329B9F1AB04C46397020CE31",
            ],
        );
        let data = root.join("var/lib/tor");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        let torrc = root.join("etc/tor/torrc");
        let out = checked(
            Command::new("tor")
                .arg("--verify-config")
                .arg("-f")
                .arg(&torrc),
        );
        assert!(out.contains("Configuration was valid"), "{out}");
        checked(
            Command::new("unbound-checkconf")
                .arg(root.join("etc/unbound/unbound.conf.d/exitflow-resolver.conf")),
        );
        // tor's own reading of the policy agrees with exitflow's.
        let t = exitflow_enrich::torrc::load(&torrc).unwrap();
        assert!(t.exit_policy().to_string().starts_with(summary), "{policy}");
        // exitflow's configuration loads, and an ingest under it records the
        // policy from the kit's torrc.
        let cap = small_capture(dir.path(), 50);
        let ds = dir.path().join("ds");
        let conf = root.join("etc/exitflow/exitflow.toml");
        let consensus = shared()
            .expect("../shared")
            .join("tor/2018-06-01-00-00-00-consensus");
        ok(&[
            "--config",
            conf.to_str().unwrap(),
            "ingest",
            cap.to_str().unwrap(),
            "--dataset",
            ds.to_str().unwrap(),
            "--consensus",
            consensus.to_str().unwrap(),
        ]);
        let totals: serde_json::Value = serde_json::from_slice(
            &std::fs::read(ds.join("node=exitflowtest/_totals.json")).unwrap(),
        )
        .unwrap();
        let got = totals["exit_policy"]["summary"].as_str().unwrap();
        assert!(got.starts_with(summary), "{policy}: {got}");
        assert_eq!(totals["exit_policy"]["source"], "torrc");
    }
}

#[test]
fn a_bad_setting_writes_no_kit_and_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let kit = dir.path().join("kit");
    let o = run(&[
        "relay",
        "init",
        "--out",
        kit.to_str().unwrap(),
        "--nickname",
        "not a nickname",
        "--contact",
        "x@example.org",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("nickname"), "{err}");
    assert!(!kit.exists());
}

/// tor's C escapes (`\"`, `\\`, octal bytes) undone.
fn c_unescape(s: &str) -> String {
    let (b, mut out, mut i) = (s.as_bytes(), Vec::new(), 0);
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            if b[i + 1].is_ascii_digit() && i + 3 < b.len() {
                let oct = std::str::from_utf8(&b[i + 1..i + 4]).unwrap();
                out.push(u8::from_str_radix(oct, 8).unwrap());
                i += 4;
            } else {
                out.push(b[i + 1]);
                i += 2;
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// A torrc of `lines` checked by tor itself: whether it is valid, and tor's
/// own reading of it (`--dump-config short`).
fn tor_reads(dir: &Path, lines: &str) -> (bool, String) {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let torrc = dir.join("torrc-case");
    std::fs::write(
        &torrc,
        format!(
            "SocksPort 0\nORPort 443\nNickname t1\nExitRelay 1\nDataDirectory {}\n{lines}\n",
            data.display()
        ),
    )
    .unwrap();
    let valid = Command::new("tor")
        .args(["--verify-config", "-f"])
        .arg(&torrc)
        .output()
        .expect("tor (see .ci/run)")
        .status
        .success();
    let dump = Command::new("tor")
        .args(["--dump-config", "short", "-f"])
        .arg(&torrc)
        .output()
        .unwrap();
    (valid, String::from_utf8_lossy(&dump.stdout).into_owned())
}

/// Issue 20, finding 6: `relay init` accepts exactly the bandwidths and
/// contacts tor accepts — each case is put to `tor --verify-config`, and
/// where both accept, tor's own reading (`--dump-config`) is what the kit
/// meant: the same bytes per second, the whole contact.
#[test]
fn relay_init_accepts_exactly_the_bandwidths_and_contacts_tor_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let init = |n: usize, extra: &[&str]| {
        let kit = dir.path().join(format!("kit{n}"));
        let mut args = vec![
            "relay",
            "init",
            "--out",
            kit.to_str().unwrap(),
            "--nickname",
            "t1",
            "--address",
            "192.0.2.10",
        ];
        if !extra.contains(&"--contact") {
            args.extend(["--contact", "ops@example.org"]);
        }
        args.extend_from_slice(extra);
        let o = run(&args);
        (
            o.status.success(),
            kit,
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let bandwidths: &[(&str, Option<&str>)] = &[
        ("20 MBytes", None),
        ("20MBytes", None),
        ("100 mbit", None),
        ("1.5 MBytes", Some("2 MBytes")),
        ("75 KBytes", None),
        ("74 KBytes", None),
        ("20 KB", None),
        ("2 GBytes", None),
        ("3 GBytes", None),
        ("20 MiB", None),
        ("100 mb/s", None),
        ("614400 bits", None),
        ("20 MBytes", Some("10 MBytes")),
        ("20 MBytes", Some("3 GBytes")),
        ("800 kbits", Some("1 gbit")),
    ];
    for (n, (rate, burst)) in bandwidths.iter().enumerate() {
        let mut extra = vec!["--bandwidth", rate];
        if let Some(b) = burst {
            extra.extend(["--burst", b]);
        }
        let (kit_ok, _, err) = init(n, &extra);
        let case = dir.path().join(format!("bw{n}"));
        std::fs::create_dir_all(&case).unwrap();
        let mut lines = format!("RelayBandwidthRate {rate}\n");
        if let Some(b) = burst {
            lines.push_str(&format!("RelayBandwidthBurst {b}\n"));
        }
        let (tor_ok, dump) = tor_reads(&case, &lines);
        assert_eq!(
            kit_ok, tor_ok,
            "{rate} / {burst:?}: kit {kit_ok}, tor {tor_ok}\n{err}"
        );
        let want = exitflow_relay::torvalues::parse_bandwidth(rate).unwrap_or(0);
        // (At exactly 2^31 tor clamps the value and dumps no line for it.)
        if tor_ok && want < exitflow_relay::torvalues::MAX_RELAY_BANDWIDTH {
            assert!(
                dump.lines()
                    .any(|l| l == format!("RelayBandwidthRate {want}")),
                "{rate}: tor read\n{dump}"
            );
        } else if !tor_ok {
            assert!(err.contains("bandwidth"), "{err}");
        }
    }
    for (n, contact) in [
        r#""jane" <jane@example.org>"#,
        "jane@example.org # room 4",
        r#"a "b" c \ d"#,
        "ünïcode <u@example.org>",
    ]
    .iter()
    .enumerate()
    {
        let (kit_ok, kit, err) = init(100 + n, &["--contact", contact]);
        assert!(kit_ok, "{contact}: {err}");
        let torrc = std::fs::read_to_string(kit.join("torrc")).unwrap();
        let case = dir.path().join(format!("c{n}"));
        std::fs::create_dir_all(&case).unwrap();
        let line = torrc
            .lines()
            .find(|l| l.starts_with("ContactInfo "))
            .unwrap();
        let (tor_ok, dump) = tor_reads(&case, line);
        assert!(tor_ok, "{contact}: tor refused {line}");
        let read = dump
            .lines()
            .find_map(|l| l.strip_prefix("ContactInfo "))
            .unwrap_or_else(|| panic!("{dump}"));
        let unquoted = match read.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
            Some(r) => c_unescape(r),
            None => read.to_owned(),
        };
        assert_eq!(unquoted, *contact, "tor read {read}");
        let notice = std::fs::read_to_string(kit.join("tor-exit-notice.html")).unwrap();
        assert!(
            notice.contains(
                &contact
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
                    .replace('"', "&quot;")
            )
        );
    }
    // Stricter than tor, on purpose: tor takes these in its configuration,
    // but a public exit there is unreachable (or, with two IPv4 addresses,
    // only one is used).
    for (n, extra) in [
        &["--address", "10.1.2.3"][..],
        &["--address", "198.51.100.3"][..],
        &["--exit-address", "127.0.0.2"][..],
        &["--exit-address", "192.0.2.10"][..],
    ]
    .iter()
    .enumerate()
    {
        let (kit_ok, _, err) = init(200 + n, extra);
        assert!(!kit_ok && err.contains("address"), "{extra:?}: {err}");
    }
}

/// A TCP port free on loopback now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts a real tor on the kit's torrc, with its listeners and paths moved
/// to loopback and `dir` (tor publishes nothing), and asks it for its exit
/// policy as exitflow-consensus.service does, into `out`. tor's own output
/// is kept: a tor that exits names its reason in the failure, and one whose
/// loopback port was taken by another test between `free_port` and its bind
/// is started again on fresh ports (the only retry; any other exit fails).
fn tor_answering_exit_policy(
    dir: &Path,
    root: &Path,
    data: &Path,
    out: &Path,
    policy: &str,
) -> crate::support::netns::Bg {
    let kit_torrc = std::fs::read_to_string(root.join("etc/tor/torrc")).unwrap();
    let kept: String = kit_torrc
        .lines()
        .filter(|l| {
            ![
                "ORPort",
                "DirPort",
                "ControlPort",
                "MetricsPort",
                "DataDirectory",
                "ServerDNSResolvConfFile",
                "OutboundBindAddress",
            ]
            .iter()
            .any(|k| l.starts_with(k))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let tor_log = dir.join("tor.log");
    let tor_out = dir.join("tor.out");
    for attempt in 1..=3 {
        let control = free_port();
        let torrc = format!(
            "{kept}ORPort 127.0.0.1:{}\nControlPort 127.0.0.1:{control}\nDataDirectory {}\n\
             PublishServerDescriptor 0\nAssumeReachable 1\nLog notice file {}\n",
            free_port(),
            data.display(),
            tor_log.display()
        );
        let torrc_path = dir.join("torrc");
        std::fs::write(&torrc_path, &torrc).unwrap();
        // Each attempt's own words only: an earlier attempt's "Address
        // already in use" must not send this one round again.
        let _ = std::fs::remove_file(&tor_log);
        let output = std::fs::File::create(&tor_out).unwrap();
        let mut tor = crate::support::netns::Bg(
            Command::new("tor")
                .arg("-f")
                .arg(&torrc_path)
                .stdout(output.try_clone().unwrap())
                .stderr(output)
                .spawn()
                .expect("tor (see .ci/run)"),
        );
        let said = || {
            format!(
                "tor's output:\n{}\ntor's log:\n{}",
                std::fs::read_to_string(&tor_out).unwrap_or_default(),
                std::fs::read_to_string(&tor_log).unwrap_or_default()
            )
        };
        // Generous: on two cores tor starts beside the private Tor network
        // of another test.
        let start = std::time::Instant::now();
        loop {
            let o = run(&[
                "relay",
                "exit-policy",
                "--control",
                &format!("127.0.0.1:{control}"),
                "--out",
                out.to_str().unwrap(),
            ]);
            if o.status.success() {
                return tor;
            }
            if let Some(status) = tor.0.try_wait().unwrap() {
                let said = said();
                assert!(
                    said.contains("Address already in use") && attempt < 3,
                    "{policy}: tor exited ({status}) before answering\n{said}"
                );
                break;
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(120),
                "{policy}: {}\n{}",
                String::from_utf8_lossy(&o.stderr),
                said()
            );
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
    }
    unreachable!("the third attempt either answers or fails above")
}

/// Issue 20, finding 4: the exit policy exitflow records is tor's own. For
/// each of the kit's policies a real tor runs the kit's torrc (on loopback,
/// not published), `exitflow relay exit-policy` asks it over its control
/// port (cookie authentication), and `ingest` records what tor said — the
/// same ports exitflow's own reading of the kit gives, so that a tor that
/// changes its reduced policy (0.4.9 added 18080-18081 and 18089) fails
/// here instead of marking accepted ports rejected in the report.
#[test]
fn the_exit_policy_recorded_is_the_one_tor_itself_expands_for_every_kit_policy() {
    for (policy, choice) in [
        ("study", exitflow_relay::ExitPolicyChoice::Study),
        ("web", exitflow_relay::ExitPolicyChoice::Web),
        ("reduced", exitflow_relay::ExitPolicyChoice::Reduced),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let root = kit_installed(dir.path(), policy, &["--address", "192.0.2.10"]);
        let data = dir.path().join("tor-data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        let copy = dir.path().join("consensus-copy");
        std::fs::create_dir_all(&copy).unwrap();
        let out = copy.join("exit-policy");
        let _tor = tor_answering_exit_policy(dir.path(), &root, &data, &out, policy);
        // Recorded beside the data by ingest, from the file beside the
        // consensus copy (as on a relay), in preference to the torrc.
        let consensus = shared()
            .expect("../shared")
            .join("tor/2018-06-01-00-00-00-consensus");
        std::fs::copy(&consensus, copy.join("cached-consensus")).unwrap();
        let cap = small_capture(dir.path(), 20);
        let ds = dir.path().join("ds");
        ok(&[
            "--config",
            root.join("etc/exitflow/exitflow.toml").to_str().unwrap(),
            "ingest",
            cap.to_str().unwrap(),
            "--dataset",
            ds.to_str().unwrap(),
            "--consensus",
            copy.join("cached-consensus").to_str().unwrap(),
        ]);
        let totals: serde_json::Value = serde_json::from_slice(
            &std::fs::read(ds.join("node=exitflowtest/_totals.json")).unwrap(),
        )
        .unwrap();
        let source = totals["exit_policy"]["source"].as_str().unwrap();
        assert!(source.starts_with("tor 0."), "{policy}: {source}");
        assert_eq!(
            totals["exit_policy"]["summary"].as_str().unwrap(),
            choice.policy(false).to_string(),
            "{policy}: tor's own policy and exitflow's reading of the kit differ"
        );
    }
}
