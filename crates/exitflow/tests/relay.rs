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
        ("study", "accept 1-65535"),
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
        let cap = dir.path().join("s.pcap");
        synth_file(
            &cap,
            &exitflow_synth::SynthConfig {
                flows: 50,
                ..Default::default()
            },
        );
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

/// Removes the package (and its user) when the test ends, however it ends.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["--purge", "exitflow"]).output();
        let _ = std::fs::remove_dir_all("/var/lib/exitflow");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn the_debian_package_installs_with_apt_and_its_unit_captures_as_its_user() {
    use crate::live::{
        Capture, capture_unit, clients, dataset_rows, require_root, unit_values, with_servers,
    };
    require_root!("debian package");
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/deb/build.sh");
    let deb = checked(
        Command::new("bash")
            .arg(&script)
            .args(["--binary", env!("CARGO_BIN_EXE_exitflow"), "--out"])
            .arg(dir.path()),
    );
    let deb = deb
        .lines()
        .rfind(|l| l.ends_with(".deb"))
        .unwrap()
        .to_owned();
    assert!(
        !Path::new("/usr/bin/exitflow").exists(),
        "exitflow is installed on this machine already; the test installs and purges the package"
    );
    let _installed = Installed;
    checked(
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .arg(&deb)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    );
    // What the package put in place.
    let passwd = checked(Command::new("getent").args(["passwd", "exitflow"]));
    assert!(
        passwd
            .trim_end()
            .ends_with(":/var/lib/exitflow:/usr/sbin/nologin"),
        "{passwd}"
    );
    let owner = checked(Command::new("stat").args(["-c", "%U %a", "/var/lib/exitflow"]));
    assert_eq!(owner.trim(), "exitflow 750");
    let version = checked(Command::new("/usr/bin/exitflow").arg("--version"));
    assert!(version.starts_with("exitflow "), "{version}");
    let unit_dir = Path::new("/lib/systemd/system");
    let installed = std::fs::read_to_string(unit_dir.join("exitflow-capture@.service")).unwrap();
    assert_eq!(installed, capture_unit());
    checked(
        Command::new("systemd-analyze")
            .arg("verify")
            .arg(unit_dir.join("exitflow-consensus.service"))
            .arg(unit_dir.join("exitflow-consensus.path")),
    );
    for doc in ["README.md", "exit-relay.md", "privacy.md", "copyright"] {
        assert!(
            Path::new("/usr/share/doc/exitflow").join(doc).is_file(),
            "{doc}"
        );
    }
    // The operator names the node in the packaged configuration.
    let conf = Path::new("/etc/exitflow/exitflow.toml");
    let text = std::fs::read_to_string(conf).unwrap();
    std::fs::write(conf, text.replacen("# name = ", "name = \"pkgtest\" # ", 1)).unwrap();

    // Started as systemd starts the unit: its ExecStart, as its user, with
    // its capabilities (no systemd runs in CI's container).
    let (lab, _tmp, _servers) = with_servers("y", 88);
    let unit = capture_unit();
    let exec = unit_values(&unit, "ExecStart");
    let user = unit_values(&unit, "User").remove(0);
    let caps = |key: &str| {
        unit_values(&unit, key)
            .iter()
            .map(|c| format!("+{}", c.trim_start_matches("CAP_").to_lowercase()))
            .collect::<Vec<_>>()
            .join(",")
    };
    let (inh, amb, bnd) = (
        format!("--inh-caps=-all,{}", caps("AmbientCapabilities")),
        format!("--ambient-caps={}", caps("AmbientCapabilities")),
        format!("--bounding-set=-all,{}", caps("CapabilityBoundingSet")),
    );
    let mut c = lab.exec(&lab.a);
    c.args([
        "setpriv",
        &format!("--reuid={user}"),
        &format!("--regid={user}"),
        "--init-groups",
        &inh,
        &amb,
        &bnd,
    ]);
    // ExecStart's program and arguments, %i being the interface; `spawn`
    // adds `capture --interface` itself.
    assert_eq!(exec[0], "/usr/bin/exitflow");
    let before: Vec<&str> = exec[1..]
        .iter()
        .map(String::as_str)
        .take_while(|a| *a != "capture")
        .collect();
    c.args(["/usr/bin/exitflow"]).args(&before);
    let ds = Path::new("/var/lib/exitflow/dataset");
    let cap = Capture::spawn_program(c, &lab.va, ds, &["--node", "pkgtest"]);
    cap.wait_for(
        "every capability dropped",
        std::time::Duration::from_secs(5),
    );
    clients(&lab);
    let (st, log) = cap.stop("TERM");
    assert!(st.success(), "{st}\n{log}");
    // The package's default profile: every flow counted in the totals
    // (rows that fewer than k flows of their hour share are withheld).
    let totals: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ds.join("node=pkgtest/_totals.json")).unwrap())
            .unwrap();
    assert!(totals["flows"].as_u64().unwrap() >= 6, "{totals}\n{log}");
    assert_eq!(
        dataset_rows(ds) + totals["suppressed_flows"].as_u64().unwrap(),
        totals["flows"].as_u64().unwrap(),
        "{totals}"
    );
    let owner =
        checked(Command::new("stat").args(["-c", "%U", "/var/lib/exitflow/dataset/node=pkgtest"]));
    assert_eq!(owner.trim(), "exitflow");
}
