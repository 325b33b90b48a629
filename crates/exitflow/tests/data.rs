//! nDPI's tables are data read at run time (LGPL-3.0-or-later, issue 23):
//! not in the binary, replaceable without a rebuild, and a missing or bad
//! directory is a clear error.

use std::path::{Path, PathBuf};

use crate::common::*;

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../exitflow-dpi/data/ndpi")
}

/// Each row's value of `column` in a CSV flow table.
fn column(csv: &Path, column: &str) -> Vec<String> {
    let text = std::fs::read_to_string(csv).unwrap();
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let i = head.iter().position(|h| *h == column).unwrap();
    lines
        .map(|l| l.split(',').nth(i).unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn the_dpi_reads_a_replaced_data_directory_and_the_binary_holds_none_of_ndpis_tables() {
    let dir = tempfile::tempdir().unwrap();
    let cap = small_capture(dir.path(), 400);
    // The shipped tables, with every category replaced.
    let data = dir.path().join("tables");
    std::fs::create_dir(&data).unwrap();
    for f in [
        "protocols.txt",
        "services.txt",
        "ip_lists.tsv",
        "certificates.tsv",
    ] {
        let text = std::fs::read_to_string(shipped().join(f)).unwrap();
        let text = if f == "ip_lists.tsv" || f == "certificates.tsv" {
            text
        } else {
            text.lines()
                .map(|l| {
                    let mut w: Vec<&str> = l.split_whitespace().collect();
                    if !l.starts_with('#') && w.len() >= 2 {
                        w[1] = "Game";
                    }
                    w.join(" ") + "\n"
                })
                .collect()
        };
        std::fs::write(data.join(f), text).unwrap();
    }
    let base = dir.path().join("base");
    flows(&cap, &base, &["--profile", "research"]);
    let replaced = dir.path().join("replaced");
    flows(
        &cap,
        &replaced,
        &[
            "--profile",
            "research",
            "--data-dir",
            data.to_str().unwrap(),
        ],
    );
    let before = column(&base.join("s.pcap.csv"), "application_category_name");
    let after = column(&replaced.join("s.pcap.csv"), "application_category_name");
    assert_eq!(before.len(), after.len());
    // Every category the tables give is now Game; the rest (exitflow's
    // own service lines, which are compiled in, and HTTP content types)
    // stay as they were. Most flows change.
    assert!(
        after
            .iter()
            .zip(&before)
            .all(|(a, b)| a == "Game" || a == b),
        "{before:?}\n{after:?}"
    );
    let changed = after.iter().zip(&before).filter(|(a, b)| a != b).count();
    assert!(changed * 2 > before.len(), "{before:?}\n{after:?}");
    // The same through the environment.
    let env = dir.path().join("env");
    let o = exitflow()
        .env("EXITFLOW_DATA_DIR", &data)
        .args([
            "flows",
            cap.to_str().unwrap(),
            "--output",
            env.to_str().unwrap(),
        ])
        .args(["--profile", "research"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        column(&env.join("s.pcap.csv"), "application_category_name"),
        after
    );

    // A directory without the tables: an error naming it, no output.
    let out = dir.path().join("none");
    let flows_with = |tables: &Path| {
        let o = run(&[
            "flows",
            cap.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--data-dir",
            tables.to_str().unwrap(),
        ]);
        (o.status, String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let (st, err) = flows_with(&dir.path().join("nowhere"));
    assert_eq!(st.code(), Some(2), "{err}");
    assert!(err.contains("nowhere/protocols.txt"), "{err}");
    assert!(!out.exists());
    // A bad line: the file and line named.
    std::fs::write(data.join("ip_lists.tsv"), "8.8.8.0/24\tNoSuchService\n").unwrap();
    let (st, err) = flows_with(&data);
    assert!(
        !st.success() && err.contains("ip_lists.tsv:1: NoSuchService"),
        "{err}"
    );

    // None of the tables' lines is in the binary (`strings` would find
    // them): sample lines of each, with their own spacing.
    let bin = std::fs::read(env!("CARGO_BIN_EXE_exitflow")).unwrap();
    // (The standard library's substring search: optimised even here.)
    let bin = String::from_utf8_lossy(&bin);
    let contains = |needle: &str| bin.contains(needle);
    // (The search finds what the binary does hold.)
    assert!(contains("EXITFLOW_DATA_DIR") && contains("/usr/share/exitflow/ndpi"));
    for f in [
        "protocols.txt",
        "services.txt",
        "ip_lists.tsv",
        "certificates.tsv",
    ] {
        let text = std::fs::read_to_string(shipped().join(f)).unwrap();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#') && l.len() >= 16)
            .collect();
        for l in lines.iter().step_by((lines.len() / 12).max(1)) {
            let needle = &l[..l.floor_char_boundary(48)];
            assert!(!contains(needle), "{f}: {l:?} is in the binary");
        }
    }
}
