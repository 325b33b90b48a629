//! The privacy default on real captures: no address from the input appears in
//! any output byte (CSV, JSON lines, Parquet decompressed, dataset, logs).
use std::collections::BTreeSet;

use aho_corasick::AhoCorasick;

use crate::common::*;

#[test]
fn no_input_address_reaches_any_output_or_log_by_default() {
    let pcaps = corpus_pcaps();
    let caps: Vec<String> = pcaps.iter().map(|p| p.display().to_string()).collect();
    let tmp = tempfile::tempdir().unwrap();
    let keep = tmp.path().join("keep");

    // 1. Learn every address in the input (the explicit opt-in writes them).
    let mut args = vec![
        "flows",
        "--addresses",
        "keep",
        "--output",
        keep.to_str().unwrap(),
    ];
    args.extend(caps.iter().map(String::as_str));
    run(&args);
    let mut addrs = BTreeSet::new();
    for f in files_under(&keep) {
        let mut r = csv::Reader::from_path(&f).unwrap();
        let h = r.headers().unwrap().clone();
        let si = h.iter().position(|c| c == "src_ip").unwrap();
        let di = h.iter().position(|c| c == "dst_ip").unwrap();
        for rec in r.records() {
            let rec = rec.unwrap();
            addrs.insert(rec[si].to_string());
            addrs.insert(rec[di].to_string());
        }
    }
    assert!(addrs.len() > 1000, "only {} addresses learnt", addrs.len());
    // "::" and "::1" say nothing about anyone and occur by chance in binary
    // files; every address of 7 characters or more ("0.0.0.0") is searched.
    addrs.retain(|a| a.len() >= 7);

    // 2. Default policy, every output format, plus a dataset, with debug logs.
    let mut texts: Vec<(String, Vec<u8>)> = Vec::new();
    for fmt in ["csv", "jsonl", "parquet"] {
        let out = tmp.path().join(fmt);
        let mut args = vec![
            "--log",
            "debug",
            "flows",
            "--format",
            fmt,
            "--output",
            out.to_str().unwrap(),
        ];
        args.extend(caps.iter().map(String::as_str));
        let o = run(&args);
        texts.push((format!("log of flows --format {fmt}"), o.stderr));
        texts.push((format!("stdout of flows --format {fmt}"), o.stdout));
    }
    let ds = tmp.path().join("dataset");
    let mut args = vec![
        "--log",
        "debug",
        "ingest",
        "--node",
        "audit",
        "--dataset",
        ds.to_str().unwrap(),
    ];
    args.extend(caps.iter().map(String::as_str));
    let o = run(&args);
    texts.push(("log of ingest".into(), o.stderr));
    let mut parquet = Vec::new();
    for dir in ["csv", "jsonl", "parquet", "dataset"] {
        for f in files_under(&tmp.path().join(dir)) {
            let bytes = std::fs::read(&f).unwrap();
            texts.push((f.display().to_string(), bytes));
            if f.extension().is_some_and(|e| e == "parquet") {
                parquet.push(f.display().to_string());
            }
        }
    }
    // Decompressed: every value and the metadata of every Parquet file, as text.
    let args: Vec<&str> = parquet.iter().map(String::as_str).collect();
    let dump = python("dump_parquet.py", &args);
    assert_eq!(dump.matches("\n=== ").count() + 1, parquet.len());
    texts.push(("Parquet files, decoded".into(), dump.into_bytes()));
    assert!(texts.len() > 4 * pcaps.len());

    // 3. Search all of it at once.
    let pats: Vec<&String> = addrs.iter().collect();
    let ac = AhoCorasick::new(&pats).unwrap();
    for (name, bytes) in &texts {
        for m in ac.find_overlapping_iter(bytes) {
            // Ignore a match glued to more digits: "1.2.3.4" inside "11.2.3.45" is not that address.
            let before = m.start().checked_sub(1).map(|i| bytes[i]);
            let after = bytes.get(m.end()).copied();
            let glued =
                |b: Option<u8>| b.is_some_and(|b| b.is_ascii_hexdigit() || b == b'.' || b == b':');
            assert!(
                glued(before) || glued(after),
                "{name}: contains input address {}",
                pats[m.pattern().as_usize()]
            );
        }
    }
    // And the text outputs carry no address-like column at all.
    let csv = files_under(&tmp.path().join("csv"));
    let header = std::fs::read_to_string(&csv[0]).unwrap();
    let header = header.lines().next().unwrap();
    assert!(
        !header.contains("src_ip") && !header.contains("dst_ip"),
        "{header}"
    );
}
