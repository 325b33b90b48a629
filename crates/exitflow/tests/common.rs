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
    let sum = exitflow_synth::write_capture(&cfg, std::fs::File::create(&cap).unwrap()).unwrap();
    ok(&[
        "ingest",
        cap.to_str().unwrap(),
        "--dataset",
        dataset.to_str().unwrap(),
        "--node",
        node,
    ]);
    sum
}
