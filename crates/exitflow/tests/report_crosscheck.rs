//! The report computed another way: by Spark from the same dataset, and
//! from the hourly sidecar tables instead of the rows.
use exitflow_synth::SynthConfig;

use crate::common::*;

/// Field by field: `a` and `b` equal, floats within 1e-9; returns the
/// paths that differ.
fn json_diff(a: &serde_json::Value, b: &serde_json::Value, path: &str, out: &mut Vec<String>) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                json_diff(
                    &x[k],
                    y.get(k).unwrap_or(&Value::Null),
                    &format!("{path}.{k}"),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                json_diff(p, q, &format!("{path}[{i}]"), out);
            }
        }
        (Value::Number(x), Value::Number(y)) => {
            if (x.as_f64().unwrap() - y.as_f64().unwrap()).abs() > 1e-9 {
                out.push(format!("{path}: {x} vs {y}"));
            }
        }
        _ if a == b => {}
        _ => out.push(format!("{path}: {a} vs {b}")),
    }
}

/// The whole report computed by Spark (spark/report.py) over a dataset of
/// three relays equals exitflow's, field by field, and renders to the same
/// Markdown with `exitflow report --from-json`.
#[test]
fn spark_computes_the_whole_report_and_exitflow_renders_it() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds");
    let relay = std::net::IpAddr::from(exitflow_synth::RELAY).to_string();
    for (seed, node, flood) in [(11u64, "r-de", 300u64), (12, "r-us", 0), (13, "r-jp", 100)] {
        let cap = dir.path().join(format!("{node}.pcap"));
        synth_file(
            &cap,
            &SynthConfig {
                seed,
                flows: 1500,
                syn_flood: flood,
                span_s: 3 * 3600,
                relay_percent: 10,
                unknown_percent: 8,
                daily_rhythm_tz_s: Some(3600),
                ..Default::default()
            },
        );
        ingest(&cap, &ds, node, &["--own-address", &relay]);
    }
    let tz = [
        "--tz",
        "r-us=-05:00",
        "--tz",
        "r-jp=+09:00",
        "--tz",
        "r-de=Europe/Berlin",
    ];
    let out = dir.path().join("report");
    report(&ds, &out, &tz);
    let mine = report_json(&out);
    let spark_json = dir.path().join("spark.json");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spark/report.py");
    let mut args = vec![ds.to_str().unwrap(), spark_json.to_str().unwrap()];
    args.extend_from_slice(&tz);
    python(script.to_str().unwrap(), &args);
    let spark: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&spark_json).unwrap()).unwrap();
    // Both follow the report's contract: the JSON Schema generated from
    // exitflow's types, checked by an independent validator (jsonschema)...
    let schema = dir.path().join("report.schema.json");
    std::fs::write(&schema, run(&["schema", "--report"]).stdout).unwrap();
    let mine_path = out.join("report.json");
    let valid = python(
        "check_schema.py",
        &[
            schema.to_str().unwrap(),
            mine_path.to_str().unwrap(),
            spark_json.to_str().unwrap(),
        ],
    );
    assert_eq!(valid.matches("valid ").count(), 2, "{valid}");
    // ...which a renamed field fails, as `report --from-json` refuses it.
    let mut renamed = spark.clone();
    let share = renamed["all"]["definitions"]["study_2021"]
        .as_object_mut()
        .unwrap()
        .remove("tls_share")
        .unwrap();
    renamed["all"]["definitions"]["study_2021"]["tls_percent"] = share;
    let renamed_path = dir.path().join("renamed.json");
    std::fs::write(&renamed_path, renamed.to_string()).unwrap();
    let o = std::process::Command::new("python3")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/check_schema.py"))
        .args([schema.to_str().unwrap(), renamed_path.to_str().unwrap()])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(
        !o.status.success() && said.contains("tls_percent"),
        "{said}"
    );
    let refused = run(&[
        "report",
        "--from-json",
        renamed_path.to_str().unwrap(),
        "--out",
        dir.path().join("refused").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && err.contains("tls_percent"),
        "{err}"
    );
    let mut diffs = Vec::new();
    for key in [
        "nodes",
        "all",
        "exit_policies",
        "published",
        "synthetic",
        "files",
    ] {
        json_diff(&mine[key], &spark[key], key, &mut diffs);
    }
    for key in ["exitflow_versions", "privacy_policies", "geoip", "timeouts"] {
        json_diff(
            &mine["how_made"][key],
            &spark["how_made"][key],
            key,
            &mut diffs,
        );
    }
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
    // The test can fail: a changed count is found.
    let mut changed = spark.clone();
    changed["all"]["applications_top40"][0][1] = serde_json::json!(1);
    let mut d = Vec::new();
    json_diff(&mine["all"], &changed["all"], "all", &mut d);
    assert_eq!(d.len(), 1, "{d:?}");
    // Rendered from Spark's JSON: the same document but for who made it.
    let rendered = dir.path().join("from-spark");
    ok(&[
        "report",
        "--from-json",
        spark_json.to_str().unwrap(),
        "--out",
        rendered.to_str().unwrap(),
    ]);
    let strip = |md: String| -> String {
        md.lines()
            .filter(|l| !l.starts_with("| report made by"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        strip(std::fs::read_to_string(rendered.join("report.md")).unwrap()),
        strip(std::fs::read_to_string(out.join("report.md")).unwrap())
    );
    assert!(rendered.join("report.html").is_file());
}

/// Each part has its rows as hourly tables beside it (`_agg-*.parquet`,
/// written at ingest); the report over them equals the report over every
/// row, under the default and the research profile — but for durations
/// under default, which the sidecars' exact hourly sums make unbiased:
/// within 2 % of the research profile's on the same captures, where the
/// rows' power-of-two buckets read more than 10 % low.
#[test]
fn the_report_from_the_sidecar_tables_equals_the_report_from_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    let relay = std::net::IpAddr::from(exitflow_synth::RELAY).to_string();
    let mut means = Vec::new();
    for profile in ["default", "research"] {
        let ds = dir.path().join(profile);
        for (seed, node) in [(21u64, "x"), (22, "y")] {
            let cap = dir.path().join(format!("{profile}-{node}.pcap"));
            synth_file(
                &cap,
                &SynthConfig {
                    seed,
                    flows: 2000,
                    syn_flood: 200,
                    span_s: 5 * 3600,
                    relay_percent: 10,
                    unknown_percent: 5,
                    ..Default::default()
                },
            );
            ingest(
                &cap,
                &ds,
                node,
                &["--own-address", &relay, "--profile", profile],
            );
        }
        let sidecars = files_under(&ds)
            .iter()
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("_agg-")
            })
            .count();
        assert!(sidecars >= 2, "{profile}: {sidecars} sidecars");
        let (fast, rows) = (
            dir.path().join(format!("{profile}-fast")),
            dir.path().join(format!("{profile}-rows")),
        );
        report(&ds, &fast, &["--format", "json", "--tz", "x=+02:00"]);
        report(
            &ds,
            &rows,
            &["--format", "json", "--tz", "x=+02:00", "--rows"],
        );
        let (mut f, mut r) = (report_json(&fast), report_json(&rows));
        if profile == "default" {
            // The rows hold power-of-two buckets; the sidecars add each
            // hour's exact sums: durations (only) differ, and only there
            // are they exact.
            let exit = |j: &serde_json::Value, k: &str| {
                j["all"]["definitions"]["exit"][k].as_f64().unwrap()
            };
            assert_eq!(exit(&r, "duration_bucketed_share"), 100.0);
            assert_eq!(exit(&f, "duration_bucketed_share"), 0.0);
            assert!(exit(&r, "mean_duration_s") < 0.9 * exit(&f, "mean_duration_s"));
            means.push(f.clone());
            for j in [&mut f, &mut r] {
                strip_keys(j, &["mean_duration_s", "duration_bucketed_share"]);
            }
        } else {
            means.push(f.clone());
        }
        assert_eq!(f, r, "{profile}");
    }
    // The same captures: the default profile's mean durations within 2 %
    // of the research profile's exact ones wherever every slice-hour had
    // the 100 flows exact durations need (exit traffic here); elsewhere
    // the report says which share of flows was left to buckets.
    let (default, research) = (&means[0], &means[1]);
    let mut checked = 0;
    for (d, r) in ["x", "y"]
        .iter()
        .map(|n| (&default["nodes"][*n], &research["nodes"][*n]))
        .chain([(&default["all"], &research["all"])])
    {
        for def in ["exit", "study_2021", "all"] {
            let (a, b) = (
                d["definitions"][def]["mean_duration_s"].as_f64().unwrap(),
                r["definitions"][def]["mean_duration_s"].as_f64().unwrap(),
            );
            let bucketed = d["definitions"][def]["duration_bucketed_share"]
                .as_f64()
                .unwrap();
            if def == "exit" {
                assert_eq!(bucketed, 0.0, "{def}");
            }
            if bucketed == 0.0 {
                assert!(
                    b > 0.0 && (a - b).abs() <= 0.02 * b,
                    "{def}: default {a} vs research {b}"
                );
                checked += 1;
            } else {
                // Small slices (relay traffic, failed flows) stay buckets:
                // said, and reading low.
                assert!(a < b, "{def}: {a} vs {b}");
            }
        }
    }
    assert!(checked >= 3, "{checked}");
}

/// Removes these keys wherever they are in `v`.
fn strip_keys(v: &mut serde_json::Value, keys: &[&str]) {
    match v {
        serde_json::Value::Object(m) => {
            for k in keys {
                m.remove(*k);
            }
            for x in m.values_mut() {
                strip_keys(x, keys);
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| strip_keys(x, keys)),
        _ => {}
    }
}
