//! Helpers shared by the integration tests.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test.
pub fn exitflow() -> Command {
    Command::new(env!("CARGO_BIN_EXE_exitflow"))
}

/// Runs the binary and returns its output, panicking with stderr on spawn failure.
pub fn run(args: &[&str]) -> Output {
    exitflow().args(args).output().expect("spawn exitflow")
}

/// Runs and asserts success.
pub fn ok(args: &[&str]) -> Output {
    let o = run(args);
    assert!(
        o.status.success(),
        "exitflow {args:?} failed: {}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// `../shared` beside the repository (present in development and CI).
pub fn shared() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    p.canonicalize().ok().filter(|p| p.join("corpus").is_dir())
}

/// The corpus captures, sorted.
pub fn corpus_pcaps() -> Vec<PathBuf> {
    let Some(s) = shared() else {
        panic!(
            "../shared/corpus is missing: these tests need the shared corpus beside the repository"
        )
    };
    let mut v: Vec<PathBuf> = std::fs::read_dir(s.join("corpus/nfstream/pcaps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// Runs a Python helper from tests/py; panics with its output on failure.
pub fn python(script: &str, args: &[&str]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/py")
        .join(script);
    let o = Command::new("python3")
        .arg(&path)
        .args(args)
        .output()
        .expect("python3 is needed for the cross-checks (see .ci/run)");
    assert!(
        o.status.success(),
        "{script} failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// All files under a directory, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Writes a synthetic capture to `path`; returns what it holds.
pub fn synth_file(path: &Path, cfg: &exitflow_synth::SynthConfig) -> exitflow_synth::SynthSummary {
    exitflow_synth::write_capture(cfg, std::fs::File::create(path).unwrap()).unwrap()
}

/// `dir/s.pcap`: a synthetic capture of `flows` flows, otherwise default.
pub fn small_capture(dir: &Path, flows: u64) -> PathBuf {
    let cap = dir.join("s.pcap");
    synth_file(
        &cap,
        &exitflow_synth::SynthConfig {
            flows,
            ..Default::default()
        },
    );
    cap
}

fn ingest_args<'a>(
    cap: &'a Path,
    dataset: &'a Path,
    node: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        "ingest",
        cap.to_str().unwrap(),
        "--dataset",
        dataset.to_str().unwrap(),
        "--node",
        node,
    ];
    args.extend_from_slice(extra);
    args
}

/// `exitflow ingest CAPTURE --dataset DATASET --node NODE EXTRA...`, which must succeed.
pub fn ingest(cap: &Path, dataset: &Path, node: &str, extra: &[&str]) -> Output {
    ok(&ingest_args(cap, dataset, node, extra))
}

/// The same, which must fail: its standard error.
pub fn ingest_fails(cap: &Path, dataset: &Path, node: &str, extra: &[&str]) -> String {
    let o = run(&ingest_args(cap, dataset, node, extra));
    assert!(!o.status.success(), "ingest {extra:?} succeeded");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `exitflow flows CAPTURE --output OUT EXTRA...`, which must succeed.
pub fn flows(cap: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "flows",
        cap.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ok(&args)
}

/// `exitflow report DATASET --out OUT EXTRA...`, which must succeed.
pub fn report(dataset: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["report", dataset.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.extend(["--out", out.to_str().unwrap()]);
    ok(&args)
}

/// A report's `report.json` in `out`.
pub fn report_json(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap()
}

/// Synthesises a capture of `flows` flows (seed `seed`) into `dir/NODE.pcap`
/// and ingests it into `dataset` as node `node`; returns what synth made.
pub fn synth_ingest(
    dir: &Path,
    dataset: &Path,
    node: &str,
    seed: u64,
    flows: u64,
) -> exitflow_synth::SynthSummary {
    let cap = dir.join(format!("{node}.pcap"));
    let cfg = exitflow_synth::SynthConfig {
        seed,
        flows,
        ..Default::default()
    };
    let sum = synth_file(&cap, &cfg);
    ingest(&cap, dataset, node, &[]);
    sum
}

/// Records that a test did not run and why: on standard error, and in the
/// file `EXITFLOW_SKIPPED_LOG` names, which `./test.sh` counts and lists, so
/// a skipped test never shows as passed in the summary.
pub fn skipped(test: &str, why: &str) {
    eprintln!("SKIPPED {test}: {why}");
    if let Some(log) = std::env::var_os("EXITFLOW_SKIPPED_LOG") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let _ = writeln!(f, "{test}: {why}");
        }
    }
}

/// Checks a noisy total of an hourly profile's `_totals.json`
/// (exitflow_output::totals) against the exact count behind it: a multiple
/// of its grid, within eight grid steps per √write of it (the noise of one
/// write exceeds that once in about 10⁷).
pub fn assert_noisy(got: &serde_json::Value, exact: u64, grid: u64, writes: u64, what: &str) {
    let got = got
        .as_u64()
        .unwrap_or_else(|| panic!("{what}: {got} is not a count"));
    assert_eq!(got % grid, 0, "{what}: {got} is not on its grid of {grid}");
    let bound = 8.0 * grid as f64 * (writes.max(1) as f64).sqrt();
    assert!(
        (got as f64 - exact as f64).abs() <= bound,
        "{what}: {got} is more than {bound} from the exact {exact}"
    );
}

/// Rows written in every run a log holds: the `flows=N` of each
/// `capture stopped` line, summed.
pub fn written_flows(log: &str) -> u64 {
    log.lines()
        .filter(|l| l.contains("capture stopped"))
        .map(|l| {
            l.split(" flows=")
                .nth(1)
                .and_then(|s| s.split(' ').next()?.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("no flows= in {l:?}"))
        })
        .sum()
}

/// Checks an hourly profile's noisy totals against the rows the dataset
/// holds: the flows less the withheld ones, each noisy and rounded, stand
/// for those rows (the exact withheld count is written nowhere).
pub fn assert_totals_stand_for_rows(totals: &serde_json::Value, rows: u64, writes: u64) {
    let grid = exitflow_output::totals::COUNT_GRID;
    let n = |k: &str| {
        let v = totals[k]
            .as_u64()
            .unwrap_or_else(|| panic!("{k} in {totals}"));
        assert_eq!(v % grid, 0, "{k} is not on its grid of {grid}: {totals}");
        v as f64
    };
    let bound = 8.0 * grid as f64 * (2.0 * writes.max(1) as f64).sqrt();
    let d = n("flows") - n("suppressed_flows") - rows as f64;
    assert!(
        d.abs() <= bound,
        "flows less withheld is {d} from the {rows} rows (bound {bound}): {totals}"
    );
}
