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
