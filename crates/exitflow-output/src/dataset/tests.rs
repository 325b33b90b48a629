use super::*;

#[test]
fn dates() {
    assert_eq!(utc_date(0), "1970-01-01");
    assert_eq!(utc_date(951_782_400_000), "2000-02-29");
    assert_eq!(utc_date(1_609_459_199_999), "2020-12-31");
    assert_eq!(utc_date(1_609_459_200_000), "2021-01-01");
}

#[test]
fn temp_files_of_dead_writers_are_removed_and_others_kept() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("date=2026-11-25");
    std::fs::create_dir_all(&dir).unwrap();
    let me = std::process::id();
    // Far above any pid_max: no such process.
    let names = [
        format!(".part-ab.parquet.{me}.tmp"),
        ".part-cd.parquet.999999999.tmp".to_string(),
        "part-ef.parquet".to_string(),
        ".other.tmp".to_string(),
    ];
    for n in &names {
        std::fs::write(dir.join(n), b"x").unwrap();
    }
    let removed = remove_stale_temp_files(root.path()).unwrap();
    assert_eq!(removed, vec![dir.join(&names[1])]);
    for n in [&names[0], &names[2], &names[3]] {
        assert!(dir.join(n).exists(), "{n}");
    }
    assert_eq!(crate::files::temp_pid(".part-17.parquet.42.tmp"), Some(42));
    assert_eq!(crate::files::temp_pid(".other.tmp"), None);
}

const HOUR: u64 = 3_600_000;

fn flow_at(port: u16, t: u64, packets: u64) -> crate::Record {
    crate::Record::unlabelled(exitflow_flow::Flow::from_totals(
        u64::from(port),
        6,
        ([0; 16], 40_000),
        ([0; 16], port),
        (t, t + 10),
        (packets, 60 * packets),
        (packets, 60 * packets),
        exitflow_flow::EndReason::Idle,
    ))
}

/// Completed files of a node's dataset (parts, sidecars, aggregates).
fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in std::fs::read_dir(crate::layout::node_dir(root, "n"))
        .unwrap()
        .flatten()
    {
        if d.path().is_dir() {
            for f in std::fs::read_dir(d.path()).unwrap().flatten() {
                if !f.file_name().to_string_lossy().starts_with('.') {
                    out.push(f.path());
                }
            }
        }
    }
    out.sort();
    out
}

fn ports_in(path: &Path, l: &crate::Layout) -> Vec<u64> {
    crate::row::read_rows(path, l)
        .unwrap()
        .iter()
        .map(|r| r.u(l, crate::Col::DstPort))
        .collect()
}

/// Random names, coarse file times, one file per hour.
#[test]
fn part_names_are_random_and_mtimes_no_finer_than_the_granularity() {
    let root = tempfile::tempdir().unwrap();
    let mut p = Policy::default();
    for h in 0..3 {
        let mut w = DatasetWriter::open(&p, DatasetConfig::new(root.path(), "n")).unwrap();
        for _ in 0..5 {
            w.push(p.store(flow_at(443, h * HOUR + 1_000, 8))).unwrap();
        }
        w.close().unwrap();
    }
    let fs = files(root.path());
    assert_eq!(fs.len(), 6, "{fs:?}");
    for f in fs {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let id = name
            .strip_prefix("part-")
            .or_else(|| name.strip_prefix(crate::layout::SIDECAR_PREFIX))
            .unwrap()
            .strip_suffix(".parquet")
            .unwrap();
        assert_eq!(id.len(), 2 * PART_NAME_RANDOM_BYTES, "{name}");
        let ms = f
            .metadata()
            .unwrap()
            .modified()
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        assert_eq!(ms % 3_600_000, 0, "{name}");
    }
}

/// Review finding 3 of the privacy gate: above 65,536 held rows an hour
/// was written early in pieces. Past the memory cap rows now spill,
/// encrypted, and the hour is still one write, shuffled.
#[test]
fn finding_3_an_hour_beyond_the_memory_cap_is_still_one_shuffled_write() {
    let root = tempfile::tempdir().unwrap();
    let mut p = Policy::default();
    let mut cfg = DatasetConfig::new(root.path(), "n");
    cfg.memory_rows = 500;
    let mut w = DatasetWriter::open(&p, cfg).unwrap();
    // Two hours of flows in time order; the port says which arrived when
    // (each port 5 times, so no row is generalised).
    for i in 0..4000u64 {
        let port = 1000 + (i / 5) as u16;
        w.push(p.store(flow_at(port, i * 1800, 8))).unwrap();
        if i == 1999 {
            assert_eq!(
                files(root.path()).len(),
                0,
                "nothing before the hour is complete"
            );
        }
    }
    assert!(w.spilled_rows() > 3000, "{}", w.spilled_rows());
    w.close().unwrap();
    let parts: Vec<_> = files(root.path())
        .into_iter()
        .filter(|f| crate::layout::is_data_file(&f.file_name().unwrap().to_string_lossy()))
        .collect();
    assert_eq!(parts.len(), 2, "one file per hour: {parts:?}");
    let l = p.layout().clone();
    let mut total = 0;
    for f in parts {
        let ports = ports_in(&f, &l);
        total += ports.len();
        let n = ports.len() - 1;
        let ascending = ports.windows(2).filter(|w| w[0] < w[1]).count();
        assert!(
            ascending * 20 > n * 7 && ascending * 20 < n * 13,
            "{ascending} of {n} in arrival order"
        );
    }
    assert_eq!(total, 4000);
    // No spool file is left behind.
    let node = crate::layout::node_dir(root.path(), "n");
    assert!(!std::fs::read_dir(&node).unwrap().flatten().any(|e| {
        e.file_name()
            .to_string_lossy()
            .starts_with(crate::spool::SPILL_PREFIX)
    }));
}

/// Review finding 3 (second half): separate `ingest` calls for one hour
/// made one file each. A later write into an hour rewrites it whole.
#[test]
fn finding_3_a_second_ingest_into_an_hour_rewrites_it_as_one_whole() {
    for policy in [Policy::default(), Policy::strict()] {
        let root = tempfile::tempdir().unwrap();
        let mut p = policy.clone();
        for call in 0..3u16 {
            let mut w = DatasetWriter::open(&p, DatasetConfig::new(root.path(), "n")).unwrap();
            for _ in 0..7 {
                w.push(p.store(flow_at(100 + call, 5 * HOUR + 60_000, 8)))
                    .unwrap();
            }
            w.close().unwrap();
        }
        let fs = files(root.path());
        let expected = if policy.aggregates_only { 1 } else { 2 };
        assert_eq!(fs.len(), expected, "{fs:?}");
        if !policy.aggregates_only {
            let part = fs
                .iter()
                .find(|f| crate::layout::is_data_file(&f.file_name().unwrap().to_string_lossy()))
                .unwrap();
            let mut ports = ports_in(part, p.layout());
            ports.sort();
            assert_eq!(ports.len(), 21);
            assert_eq!(ports[0], 100);
            assert_eq!(ports[20], 102);
        } else {
            let t = crate::aggregate::read(&fs[0]).unwrap();
            let total: u64 = t
                .iter()
                .filter(|(k, _)| k.2 == "total")
                .map(|(_, b)| b.flows)
                .sum();
            assert_eq!(total, 21);
        }
    }
}

/// Review finding (issue 21): an hour written twice under the strict
/// profile re-folded the sum, so one flow in the first write lifted a
/// value and every later write's small count of it with it (4 + 4
/// flows: 0 or 9 with one more). Each write is folded alone.
#[test]
fn a_strict_hour_written_twice_folds_each_write_alone() {
    let port_7777 = |first: usize| {
        let root = tempfile::tempdir().unwrap();
        let mut p = Policy::strict();
        for n in [first, 4] {
            let mut w = DatasetWriter::open(&p, DatasetConfig::new(root.path(), "n")).unwrap();
            for _ in 0..n {
                w.push(p.store(flow_at(7777, 5 * HOUR + 60_000, 8)))
                    .unwrap();
            }
            w.close().unwrap();
        }
        let mut flows = 0;
        for f in files(root.path()) {
            for ((_, _, dim, value), bin) in crate::aggregate::read(&f).unwrap() {
                if dim == "dst_port" && value == "7777" {
                    flows += bin.flows;
                }
            }
        }
        flows
    };
    assert_eq!(port_7777(4), 0, "4 + 4: each write under k");
    assert_eq!(port_7777(5), 5, "5 + 4: the second write's 4 stay in Other");
}

/// The hourly tables carry a slice's exact durations (flows of 10 ms,
/// stored as the bucket 8) only where one write has at least
/// EXACT_DURATION_MIN_FLOWS of the slice's flows, as the mean times the
/// rows' flows (no count of the flows the mean is over); a rewritten
/// default hour keeps the replaced part's and adds a new write's only
/// where that write alone reaches the bar (a review found one withheld
/// flow's exact duration in the difference of two sidecars); each
/// strict write has its own.
#[test]
fn exact_durations_are_kept_only_for_100_flows_of_one_write() {
    let sums = |root: &Path| {
        let (mut flows, mut ms, mut bucket_ms, mut rows) = (0, 0, 0, 0);
        for f in files(root) {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            if !name.starts_with(crate::layout::SIDECAR_PREFIX)
                && !name.starts_with(crate::aggregate::AGG_PREFIX)
            {
                continue;
            }
            for ((_, scope, dim, _), bin) in crate::aggregate::read(&f).unwrap() {
                if dim == "total" && scope == "other" {
                    flows += bin.exact_duration_flows;
                    ms += bin.exact_duration_ms;
                    bucket_ms += bin.duration_ms;
                    rows += bin.flows;
                }
            }
        }
        (flows, ms, bucket_ms, rows)
    };
    let run = |mut p: Policy, writes: &[usize]| {
        let root = tempfile::tempdir().unwrap();
        for (w_i, n) in writes.iter().enumerate() {
            let mut w = DatasetWriter::open(&p, DatasetConfig::new(root.path(), "n")).unwrap();
            for i in 0..*n {
                // Few ports: rows share their columns (k-anonymity).
                let port = 1000 + (w_i * 10 + i % 5) as u16;
                w.push(p.store(flow_at(port, 5 * HOUR + 60_000, 8)))
                    .unwrap();
            }
            w.close().unwrap();
        }
        sums(root.path())
    };
    let min = crate::aggregate::EXACT_DURATION_MIN_FLOWS as usize;
    // Default: 99 flows keep no exact durations; 100 do, exactly.
    assert_eq!(run(Policy::default(), &[min - 1]).0, 0);
    let (f, ms, bucket, rows) = run(Policy::default(), &[min]);
    assert_eq!((f, ms), (rows, 10 * rows));
    assert!(bucket < ms, "the rows' buckets read low: {bucket} vs {ms}");
    // A rewrite by a write of 10 flows keeps the first write's mean
    // only, for every row (a count of the rows it covered showed where
    // one write ended)...
    let (f, ms, _, rows) = run(Policy::default(), &[min, 10]);
    assert!(rows > min as u64, "{rows}");
    assert_eq!((f, ms), (rows, 10 * rows));
    // ...and one of 100 more covers the hour's rows.
    let (f, ms, _, rows) = run(Policy::default(), &[min, min]);
    assert_eq!((f, ms), (rows, 10 * rows));
    // Strict: each write alone.
    assert_eq!(run(Policy::strict(), &[min, 4]).0, min as u64);
    assert_eq!(run(Policy::strict(), &[min - 1, 4]).0, 0);
    // Research: exact rows, none beside them.
    assert_eq!(run(Policy::research(), &[min]).0, 0);
    // A review found exact per-slice sums of packets and bytes: with
    // `_totals.json`'s exact totals they gave the slices left out. No
    // such column is written, nor a count of the flows behind a mean.
    let root = tempfile::tempdir().unwrap();
    let mut p = Policy::default();
    let mut w = DatasetWriter::open(&p, DatasetConfig::new(root.path(), "n")).unwrap();
    for i in 0..min {
        w.push(p.store(flow_at(3000 + (i % 5) as u16, 5 * HOUR + 60_000, 8)))
            .unwrap();
    }
    w.close().unwrap();
    let side = files(root.path())
        .into_iter()
        .find(|f| {
            f.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("_agg-")
        })
        .unwrap();
    let reader =
        parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&side).unwrap())
            .unwrap();
    use parquet::file::reader::FileReader;
    let names: Vec<String> = reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    let exact: Vec<&String> = names.iter().filter(|n| n.starts_with("exact")).collect();
    assert_eq!(exact, ["exact_duration_flows", "exact_duration_ms"]);
}

/// A crash between an hour's rewrite and the removal of the files it
/// replaces left the hour twice; the next writer removes them.
#[test]
fn files_a_rewrite_replaced_are_removed_after_a_crash() {
    let root = tempfile::tempdir().unwrap();
    let mut p = Policy::default();
    let write = |p: &mut Policy, port: u16| {
        let mut w = DatasetWriter::open(p, DatasetConfig::new(root.path(), "n")).unwrap();
        for _ in 0..5 {
            w.push(p.store(flow_at(port, 5 * HOUR + 60_000, 8)))
                .unwrap();
        }
        w.close().unwrap();
    };
    write(&mut p, 100);
    let first: Vec<(PathBuf, Vec<u8>)> = files(root.path())
        .into_iter()
        .map(|f| {
            let b = std::fs::read(&f).unwrap();
            (f, b)
        })
        .collect();
    write(&mut p, 101);
    // As if the crash came before the earlier files were removed.
    for (f, b) in &first {
        std::fs::write(f, b).unwrap();
    }
    assert_eq!(files(root.path()).len(), 4);
    // A reader is told which files count the hour twice (the part
    // only: a sidecar goes with its part).
    let day = first[0].0.parent().unwrap();
    let twice = replaced_files(day).unwrap();
    assert_eq!(twice.len(), 1, "{twice:?}");
    assert!(first.iter().any(|(f, _)| f == &twice[0]));
    write(&mut p, 102);
    assert!(replaced_files(day).unwrap().is_empty());
    let fs = files(root.path());
    assert_eq!(fs.len(), 2, "{fs:?}");
    let part = fs
        .iter()
        .find(|f| crate::layout::is_data_file(&f.file_name().unwrap().to_string_lossy()))
        .unwrap();
    let mut ports = ports_in(part, p.layout());
    ports.sort();
    ports.dedup();
    assert_eq!(ports, [100, 101, 102], "each earlier write once");
    assert_eq!(ports_in(part, p.layout()).len(), 15);
}

/// A file of another profile's columns in the hour is refused, by name.
#[test]
fn an_hour_written_under_another_profile_is_refused_naming_the_file() {
    let root = tempfile::tempdir().unwrap();
    let mut r = Policy::research();
    let mut d = Policy::default();
    let mut w = DatasetWriter::open(&r, DatasetConfig::new(root.path(), "n")).unwrap();
    w.push(r.store(flow_at(80, 60_000, 8))).unwrap();
    w.close().unwrap();
    // Give the research file an hour key as a default writer would.
    let part = files(root.path())
        .into_iter()
        .find(|f| crate::layout::is_data_file(&f.file_name().unwrap().to_string_lossy()))
        .unwrap();
    let rows = crate::row::read_rows(&part, r.layout()).unwrap();
    std::fs::remove_file(&part).unwrap();
    let mut meta = r.file_metadata(Some("n"));
    meta.push((HOUR_KEY.into(), "0".into()));
    let mut fw = FlowWriter::create(&part, Format::Parquet, r.layout(), &meta).unwrap();
    for row in &rows {
        fw.write(row).unwrap();
    }
    fw.finish().unwrap();
    let mut w = DatasetWriter::open(&d, DatasetConfig::new(root.path(), "n")).unwrap();
    for _ in 0..5 {
        w.push(d.store(flow_at(80, 60_000, 8))).unwrap();
    }
    let e = crate::error_chain(&w.close().unwrap_err());
    assert!(
        e.contains(&part.display().to_string()) && e.contains("profile"),
        "{e}"
    );
}

/// Offline, an hour that is not over by the wall clock is not written.
#[test]
fn ingest_refuses_to_write_an_hour_that_is_not_over() {
    let root = tempfile::tempdir().unwrap();
    let mut p = Policy::default();
    let mut w = DatasetWriter::open(&p, DatasetConfig::new(root.path(), "n")).unwrap();
    w.push(p.store(flow_at(80, now_ms(), 8))).unwrap();
    let e = w.close().unwrap_err().to_string();
    assert!(e.contains("not over yet"), "{e}");
    assert!(files(root.path()).is_empty());
}

#[test]
fn retention_removes_only_partitions_older_than_the_setting() {
    let root = tempfile::tempdir().unwrap();
    for d in ["2026-11-01", "2026-11-19", "2026-11-20", "2026-11-27"] {
        std::fs::create_dir_all(root.path().join(format!("date={d}"))).unwrap();
    }
    std::fs::write(root.path().join("_totals.json"), b"{}").unwrap();
    // 2026-11-27 12:00 UTC, keep 7 days: 2026-11-20 onwards.
    let now = 1_795_780_800_000;
    assert_eq!(utc_date(now), "2026-11-27");
    let removed = apply_retention(root.path(), 7, now).unwrap();
    let names: Vec<_> = removed
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["date=2026-11-01", "date=2026-11-19"]);
    assert!(root.path().join("date=2026-11-20").is_dir());
    assert!(root.path().join("_totals.json").is_file());
}

#[test]
fn node_names() {
    assert!(valid_node_name("relay-1.example"));
    for bad in ["", "..", "a/b", "a b", "x=y"] {
        assert!(!valid_node_name(bad), "{bad}");
    }
}
