//! `report --publish` tried as an adversary would (issue 21): windows,
//! time zones, copies, re-releases and settings that would cancel or
//! remove the noise, and the demo's tables against the truth.
use std::path::{Path, PathBuf};

use exitflow_synth::SynthConfig;
use serde_json::Value;

use crate::common::*;

const DAY_S: u64 = 86_400;

/// Three UTC days of one node's exit traffic.
fn three_days(dir: &Path, node: &str, seed: u64) -> PathBuf {
    let ds = dir.join("ds");
    let cap = dir.join(format!("{node}.pcap"));
    synth_file(
        &cap,
        &SynthConfig {
            seed,
            flows: 9000,
            start_s: exitflow_synth::DEFAULT_START_S,
            span_s: 3 * DAY_S - 60,
            ..Default::default()
        },
    );
    let relay = std::net::IpAddr::from(exitflow_synth::RELAY).to_string();
    // The strict profile: hourly tables, the one whose sensitivity is
    // bounded (k-anonymous rows are refused, see below).
    ingest(
        &cap,
        &ds,
        node,
        &["--own-address", &relay, "--profile", "strict"],
    );
    ds
}

fn day(i: u64) -> String {
    let ms = (exitflow_synth::DEFAULT_START_S + i * DAY_S) * 1000;
    exitflow_output::dataset::utc_date(ms)
}

fn publish(ds: &Path, out: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["--publish", "--format", "json"];
    args.extend_from_slice(extra);
    report(ds, out, &args);
    report_json(out)
}

fn publish_fails(ds: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "report",
        ds.to_str().unwrap(),
        "--publish",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(!o.status.success(), "{args:?} succeeded");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn releases(ds: &Path, node: &str) -> PathBuf {
    ds.join(format!("node={node}")).join("_releases")
}

/// Every file of the node's releases, with its bytes.
fn snapshot(ds: &Path, node: &str) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(releases(ds, node))
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

fn unit(ds: &Path, node: &str, day: &str) -> Value {
    serde_json::from_slice(
        &std::fs::read(releases(ds, node).join(format!("{day}+1d.json"))).unwrap(),
    )
    .unwrap()
}

/// The exit slice's flows and hours of the day as the units say: sums of
/// their released values, clamped at 0 once summed (as the report does).
fn from_units(units: &[Value]) -> (i64, Vec<u64>) {
    let flows = units
        .iter()
        .map(|u| u["slices"]["exit"]["flows"]["value"].as_i64().unwrap())
        .sum::<i64>();
    let mut hours = [0i64; 24];
    for u in units {
        for (h, v) in u["slices"]["exit"]["hours_utc"]["values"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            hours[h % 24] += v.as_i64().unwrap();
        }
    }
    (
        flows.max(0),
        hours.iter().map(|h| (*h).max(0) as u64).collect(),
    )
}

/// Review finding 1: A + C − B and an empty window took the noise away.
/// Each window is now the sum of stored units, released once: no window
/// adds a draw, and the units never change.
#[test]
fn published_windows_are_sums_of_units_released_once() {
    let dir = tempfile::tempdir().unwrap();
    let ds = three_days(dir.path(), "n1", 5);
    let out = |n: &str| dir.path().join(n);
    let a = publish(&ds, &out("a"), &["--from", &day(0), "--to", &day(2)]);
    let b = publish(&ds, &out("b"), &["--from", &day(1), "--to", &day(3)]);
    let before = snapshot(&ds, "n1");
    let c = publish(&ds, &out("c"), &["--from", &day(1), "--to", &day(2)]);
    let whole = publish(&ds, &out("whole"), &[]);
    assert_eq!(
        snapshot(&ds, "n1"),
        before,
        "C and the whole period released nothing new"
    );
    let ledger: Value =
        serde_json::from_slice(&std::fs::read(releases(&ds, "n1").join("ledger.json")).unwrap())
            .unwrap();
    let entries = ledger["releases"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "one release per day: {entries:?}");
    let u: Vec<Value> = (0..3).map(|i| unit(&ds, "n1", &day(i))).collect();
    for (name, j, us) in [
        ("A", &a, vec![u[0].clone(), u[1].clone()]),
        ("B", &b, vec![u[1].clone(), u[2].clone()]),
        ("C", &c, vec![u[1].clone()]),
        ("whole", &whole, u.clone()),
    ] {
        let (flows, hours) = from_units(&us);
        let n = &j["nodes"]["n1"];
        assert_eq!(n["study_flows"].as_i64().unwrap(), flows, "{name}");
        let got: Vec<u64> = n["flows_per_hour_utc"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(got, hours, "{name}");
        assert_eq!(
            j["publication"]["nodes"]["n1"]["units"]
                .as_array()
                .unwrap()
                .len(),
            us.len(),
            "{name}"
        );
    }
    // So A + C − B is u0 + u1 − u2: three independent draws, not day 0's
    // truth with the noise cancelled. An empty window (a day of the period
    // with no flows) is a unit of its own, pure noise, that leaves the
    // others as they were.
    let empty = publish(&ds, &out("empty"), &["--from", &day(5), "--to", &day(6)]);
    let e = &empty["nodes"]["n1"];
    assert!(e["study_flows"].as_u64().unwrap() < 900, "{e}");
    let after = snapshot(&ds, "n1");
    for (name, bytes) in before.iter().filter(|(n, _)| n.ends_with("d.json")) {
        assert!(
            after.contains(&(name.clone(), bytes.clone())),
            "{name} changed"
        );
    }
    assert_eq!(after.len(), before.len() + 1, "one new unit file");
}

/// Review finding 1: 24 reports with different `--tz` recovered the
/// hourly histogram. Local hours are now the released UTC hours shifted:
/// every offset gives the same units, and no new draw.
#[test]
fn time_zones_shift_released_hours_and_release_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ds = three_days(dir.path(), "n1", 6);
    let first = publish(&ds, &dir.path().join("utc"), &[]);
    let utc: Vec<u64> = first["nodes"]["n1"]["flows_per_hour_utc"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let before = snapshot(&ds, "n1");
    for off in -11i64..=12 {
        let tz = format!("n1={}{:02}:00", if off < 0 { '-' } else { '+' }, off.abs());
        let j = publish(&ds, &dir.path().join(format!("tz{off}")), &["--tz", &tz]);
        let local: Vec<u64> = j["nodes"]["n1"]["flows_per_hour_local"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        for h in 0..24i64 {
            assert_eq!(
                local[(h + off).rem_euclid(24) as usize],
                utc[h as usize],
                "{tz} hour {h}"
            );
        }
        assert_eq!(
            j["nodes"]["n1"]["flows_per_hour_utc"],
            first["nodes"]["n1"]["flows_per_hour_utc"]
        );
    }
    assert_eq!(snapshot(&ds, "n1"), before, "no offset released anything");
}

/// A change made to a copy's `_releases/`.
type Tamper = dyn Fn(&Path);

fn copy_dir(from: &Path, to: &Path) {
    let o = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .output()
        .unwrap();
    assert!(o.status.success());
}

/// Review finding 2: a copy of the data without its release history made
/// a fresh secret, and 25 releases averaged to the truth. A copy now
/// carries its history (the day directories say they were released), and
/// a history that does not add up is refused.
#[test]
fn copies_and_tampered_ledgers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ds = three_days(dir.path(), "n1", 7);
    publish(&ds, &dir.path().join("first"), &[]);
    // A whole copy carries its releases: nothing new is released.
    let whole = dir.path().join("whole");
    copy_dir(&ds, &whole);
    publish(&whole, &dir.path().join("w"), &[]);
    assert_eq!(snapshot(&whole, "n1"), snapshot(&ds, "n1"));
    // A crash between the ledger and the unit's rename: the next run
    // completes it from the pending file.
    let crashed = dir.path().join("crashed");
    copy_dir(&ds, &crashed);
    let name = format!("{}+1d.json", day(1));
    let r = releases(&crashed, "n1");
    std::fs::rename(r.join(&name), r.join(format!(".pending-{name}"))).unwrap();
    publish(&crashed, &dir.path().join("c"), &[]);
    assert!(r.join(&name).is_file(), "the pending release was completed");
    // Flows ingested into a released day are not in its release: ingest
    // says so.
    let late = dir.path().join("late");
    copy_dir(&ds, &late);
    let relay = std::net::IpAddr::from(exitflow_synth::RELAY).to_string();
    let o = ingest(
        &dir.path().join("n1.pcap"),
        &late,
        "n1",
        &["--own-address", &relay, "--profile", "strict"],
    );
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("already released"), "{e}");
    // The data without `_releases/`.
    let bare = dir.path().join("bare");
    copy_dir(&ds, &bare);
    std::fs::remove_dir_all(releases(&bare, "n1")).unwrap();
    let e = publish_fails(&bare, &[]);
    assert!(e.contains("_released") && e.contains("copy"), "{e}");
    // Its ledger removed, changed, or a release it does not list.
    let cases: [(&str, &Tamper, &str); 4] = [
        (
            "no ledger",
            &|r: &Path| std::fs::remove_file(r.join("ledger.json")).unwrap(),
            "missing",
        ),
        (
            "a unit changed",
            &|r: &Path| {
                let f = r.join(format!("{}+1d.json", day(1)));
                let t =
                    std::fs::read_to_string(&f)
                        .unwrap()
                        .replacen("\"value\": ", "\"value\": 1", 1);
                std::fs::write(f, t).unwrap();
            },
            "SHA-256",
        ),
        (
            "an unlisted unit",
            &|r: &Path| {
                std::fs::copy(
                    r.join(format!("{}+1d.json", day(1))),
                    r.join("2021-01-01+1d.json"),
                )
                .map(|_| ())
                .unwrap()
            },
            "does not list",
        ),
        (
            "a ledger entry dropped",
            &|r: &Path| {
                let p = r.join("ledger.json");
                let mut l: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
                l["releases"].as_array_mut().unwrap().pop();
                std::fs::write(&p, serde_json::to_vec(&l).unwrap()).unwrap();
                let last = format!("{}+1d.json", day(2));
                std::fs::remove_file(r.join(last)).unwrap();
            },
            "does not list",
        ),
    ];
    for (i, (what, tamper, says)) in cases.iter().enumerate() {
        let copy = dir.path().join(format!("t{i}"));
        copy_dir(&ds, &copy);
        tamper(&releases(&copy, "n1"));
        let e = publish_fails(&copy, &[]);
        assert!(e.contains(says), "{what}: {e}");
    }
}

/// Review finding 5 and the budget: settings that remove the guarantee,
/// a release over the budget, a raised budget and a day released twice
/// are refused, each naming what is wrong.
#[test]
fn settings_budgets_and_re_releases_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ds = three_days(dir.path(), "n1", 8);
    for (args, says) in [
        (&["--epsilon", "0"][..], "--epsilon"),
        (&["--epsilon=-1"][..], "--epsilon"),
        (&["--epsilon", "1e308"][..], "--epsilon"),
        (&["--epsilon", "inf"][..], "--epsilon"),
        (&["--epsilon", "NaN"][..], "--epsilon"),
        (&["--epsilon", "11", "--budget", "11"][..], "--epsilon"),
        (&["--epsilon", "0.5"][..], "budget"),
        (&["--action-bound", "0"][..], "--action-bound"),
        (&["--unit-days", "0"][..], "--unit-days"),
        (
            &[
                "--epsilon",
                "1e-6",
                "--budget",
                "1e-6",
                "--action-bound",
                "1000000",
            ][..],
            "scale",
        ),
        (
            &["--from", "1970-01-02", "--to", "2021-06-02"][..],
            "new units",
        ),
        (&["--no-noise"][..], "--no-noise"),
        (&["--k", "1"][..], "--k"),
        (&["--round", "1"][..], "--round"),
    ] {
        let e = publish_fails(&ds, args);
        assert!(e.contains(says), "{args:?}: {e}");
        assert!(
            !releases(&ds, "n1").join("ledger.json").exists(),
            "{args:?} released"
        );
    }

    // Without --publish, the publication settings are refused too (they
    // would suggest a guarantee the report does not have).
    let o = run(&[
        "report",
        ds.to_str().unwrap(),
        "--epsilon",
        "0.3",
        "--out",
        dir.path().join("x").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    publish(&ds, &dir.path().join("p"), &["--epsilon", "0.2"]);
    let e = publish_fails(&ds, &["--budget", "1"]);
    assert!(e.contains("cannot be raised"), "{e}");
    let e = publish_fails(
        &ds,
        &["--unit-days", "3", "--from", &day(0), "--to", &day(3)],
    );
    assert!(e.contains("released once"), "{e}");
    // Review finding: the same capture ingested again under another
    // profile put its flows in the day twice; a day of several profiles
    // is refused.
    let mixed = dir.path().join("mixed");
    copy_dir(&ds, &mixed);
    std::fs::remove_dir_all(releases(&mixed, "n1")).unwrap();
    for m in std::fs::read_dir(mixed.join("node=n1")).unwrap() {
        let _ = std::fs::remove_file(m.unwrap().path().join("_released"));
    }
    let relay = std::net::IpAddr::from(exitflow_synth::RELAY).to_string();
    ingest(
        &dir.path().join("n1.pcap"),
        &mixed,
        "n1",
        &["--own-address", &relay, "--profile", "research"],
    );
    let e = publish_fails(&mixed, &[]);
    assert!(e.contains("several profiles"), "{e}");
    // The ledger's ε and draws are the units': 0.2 on each day, and every
    // unit draws the same number of values whatever its data.
    let ledger: Value =
        serde_json::from_slice(&std::fs::read(releases(&ds, "n1").join("ledger.json")).unwrap())
            .unwrap();
    let entries = ledger["releases"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    for e in entries {
        assert_eq!(e["epsilon"], 0.2);
        assert_eq!(e["draws"], entries[0]["draws"]);
        let u = unit(&ds, "n1", e["unit"].as_str().unwrap());
        assert_eq!(u["draws"], e["draws"]);
        let parts = u["epsilon_by_statistic"].as_object().unwrap();
        assert_eq!(parts.len(), u["slices"]["exit"].as_object().unwrap().len());
        let sum: f64 = parts.values().map(|e| e.as_f64().unwrap()).sum();
        assert!((sum - 0.2).abs() < 1e-9);
    }
}

/// Review finding 6: at the defaults, most of the published table was
/// noise (ports and country codes that were not in the data). On the
/// demo, every value published is in the unpublished report too.
#[test]
fn the_demo_publishes_no_value_it_does_not_have() {
    let dir = tempfile::tempdir().unwrap();
    // Review finding: k-anonymous rows (the default profile) let one flow
    // change how many other rows are generalised, without bound; they are
    // refused, naming why.
    let default = dir.path().join("default");
    ok(&[
        "demo",
        "--dir",
        default.to_str().unwrap(),
        "--flows",
        "2000",
    ]);
    let e = publish_fails(&default.join("dataset"), &[]);
    assert!(
        e.contains("k-anonymous") && e.contains("--profile strict"),
        "{e}"
    );
    assert!(
        !releases(&default.join("dataset"), "demo-de")
            .join("ledger.json")
            .exists()
    );
    let demo = dir.path().join("demo");
    ok(&[
        "demo",
        "--dir",
        demo.to_str().unwrap(),
        "--profile",
        "strict",
    ]);
    let ds = demo.join("dataset");
    let truth = report_json(&demo.join("report"));
    let p = publish(&ds, &dir.path().join("pub"), &[]);
    let keys = |v: &Value, master: bool| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let k = match &r[0] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                if master {
                    k.split('.').next().unwrap().to_owned()
                } else {
                    k
                }
            })
            .collect()
    };
    let mut shown = 0;
    for node in truth["nodes"]
        .as_object()
        .unwrap()
        .keys()
        .chain(["all".to_owned()].iter())
    {
        let (t, q) = if node == "all" {
            (&truth["all"], &p["all"])
        } else {
            (&truth["nodes"][node], &p["nodes"][node])
        };
        for (table, master) in [
            ("applications_top40", true),
            ("categories", false),
            ("dst_countries", false),
            ("src_countries", false),
            ("dst_ports_top40", false),
            ("tor_roles", false),
        ] {
            let have = keys(&t[table], master);
            for k in keys(&q[table], false) {
                if k == "Other (estimate)" {
                    continue;
                }
                shown += 1;
                assert!(
                    have.contains(&k),
                    "{node} {table}: {k} published, not in the data ({have:?})"
                );
            }
        }
    }
    assert!(shown >= 6, "the demo publishes something: {shown} values");
    let text = std::fs::read_to_string(dir.path().join("pub").join("report.json")).unwrap();
    assert!(!text.contains("\"BP\"") && !text.contains("\"KA\""));
    // The Markdown says how good each table is, and withholds what is
    // mostly noise instead of printing it (the demo's bytes: 80 MB a node
    // against a noise scale of 600 MB).
    let out = dir.path().join("pub-md");
    report(&ds, &out, &["--publish", "--format", "md"]);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    for says in [
        "Published with differential privacy",
        "Differential privacy: noise of scale 33.3 per unit; a value of all nodes sums 3 unit(s)",
        "too few flows to publish",
        "Other (estimate)",
    ] {
        assert!(md.contains(says), "report.md does not say {says:?}");
    }
}

/// Review finding: two reports started together on a fresh node both
/// found its days unreleased and released them twice (ε spent twice, one
/// recorded). The lock is now taken before the ledger is read.
#[test]
fn two_reports_at_once_release_each_day_once() {
    let dir = tempfile::tempdir().unwrap();
    let ds = three_days(dir.path(), "n1", 9);
    let spawn = |n: &str| {
        exitflow()
            .args([
                "report",
                ds.to_str().unwrap(),
                "--publish",
                "--format",
                "json",
                "--out",
            ])
            .arg(dir.path().join(n))
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("a"), spawn("b"));
    let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    let succeeded = outs.iter().filter(|o| o.status.success()).count();
    assert!(succeeded >= 1);
    for o in outs.iter().filter(|o| !o.status.success()) {
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains("another report is releasing"), "{e}");
    }
    let ledger: Value =
        serde_json::from_slice(&std::fs::read(releases(&ds, "n1").join("ledger.json")).unwrap())
            .unwrap();
    assert_eq!(ledger["releases"].as_array().unwrap().len(), 3);
    let units = snapshot(&ds, "n1")
        .iter()
        .filter(|(n, _)| n.ends_with("d.json"))
        .count();
    assert_eq!(units, 3, "one file per day, none unlisted");
}
