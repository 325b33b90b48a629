//! One module per command; each turns settings into calls of the libraries.
pub mod bench;
#[cfg(target_os = "linux")]
pub mod capture;
pub mod demo;
pub mod flows;
pub mod gen_dataset;
pub mod ingest;
mod progress;
#[cfg(feature = "sql")]
pub mod query;
pub mod relay;
pub mod report;
pub mod status;
pub mod synth;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use crate::args::Cmd;
use crate::config::Config;

/// Whether a command inspects flows or names protocols (and so reads
/// nDPI's tables, [`exitflow_dpi::data`]).
pub fn needs_dpi(cmd: &Cmd) -> bool {
    match cmd {
        Cmd::Flows(_) | Cmd::Ingest(_) | Cmd::Demo(_) | Cmd::Bench(_) | Cmd::Protocols(_) => true,
        #[cfg(target_os = "linux")]
        Cmd::Capture(_) => true,
        Cmd::Report(a) => a.publish,
        _ => false,
    }
}

/// Runs one command.
pub fn run(cmd: Cmd, conf: &Config) -> Result<ExitCode> {
    match cmd {
        Cmd::Flows(a) => flows::run(&a, conf),
        Cmd::Ingest(a) => ingest::run(&a, conf).map(|(code, _)| code),
        #[cfg(target_os = "linux")]
        Cmd::Capture(a) => capture::run(&a, conf),
        Cmd::Synth(a) => synth::run(&a).map(|_| ExitCode::SUCCESS),
        Cmd::Demo(a) => demo::run(&a, conf),
        Cmd::Bench(a) => bench::run(&a, conf),
        Cmd::Report(a) => report::run(&a),
        Cmd::GenDataset(a) => gen_dataset::run(&a),
        Cmd::Relay(a) => relay::run(&a),
        Cmd::Status(a) => status::run(&a, conf),
        #[cfg(feature = "sql")]
        Cmd::Query(a) => query::run(&a),
        Cmd::Config => {
            print!("{}", crate::config::default_text());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Schema(a) => {
            if a.report {
                print!("{}", exitflow_analyze::contract::schema());
            } else {
                print!("{}", exitflow_output::schema::markdown_table());
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Protocols(a) => {
            if a.samples {
                print!("{}", exitflow_dpi::coverage::samples_tsv());
            } else {
                print!("{}", exitflow_dpi::coverage::markdown());
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Manpage => {
            let cmd = <crate::args::Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(cmd).render(&mut std::io::stdout().lock())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The name a capture's outputs are called after (`-` is standard input).
fn capture_name(p: &Path) -> String {
    if p.as_os_str() == "-" {
        return "stdin".into();
    }
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "capture".into())
}

/// Meters one capture file through the whole pipeline (enrichment, policy)
/// into `write`, with a progress bar; a failure is reported on standard
/// error, naming the file, and returned beside the summary.
fn meter_file(
    cap: &Path,
    opts: &exitflow_pipeline::MeterOptions,
    policy: &mut exitflow_output::Policy,
    enricher: &mut exitflow_pipeline::Enricher,
    write: &mut dyn FnMut(exitflow_output::Row) -> Result<(), exitflow_output::OutputError>,
) -> (exitflow_pipeline::CaptureSummary, bool) {
    let bar = progress::Progress::file(cap);
    let (s, err) = exitflow_pipeline::meter_capture(
        cap,
        opts,
        &mut |f, c| write(exitflow_pipeline::to_record(f, c, policy, Some(enricher))),
        &mut |b| bar.set(b),
    );
    bar.finish();
    // Exact per-capture counts only where the profile keeps exact totals: a
    // flag (`--log debug`) never weakens a profile, and one capture may
    // be one hour.
    if !policy.totals_rule().noisy {
        tracing::debug!(
            capture = %capture_name(cap),
            packets = s.flows.packets,
            flows = s.flows.flows_exported,
            ignored = ?s.ignored.iter().filter(|(_, n)| *n > 0).collect::<Vec<_>>(),
            "metered"
        );
    }
    if err.is_none()
        && s.flows.packets == 0
        && let Some(why) = all_ignored(&s, !policy.totals_rule().noisy)
    {
        tracing::warn!(
            "{}: every frame was ignored, no flow metered: {why}",
            cap.display()
        );
    }
    match &err {
        None => {}
        Some(exitflow_pipeline::MeterError::Capture(e)) => eprintln!("error: {}", chain(e)),
        Some(exitflow_pipeline::MeterError::Sink(e)) => {
            eprintln!("error: {}: writing flows: {}", cap.display(), chain(e))
        }
    }
    (s, err.is_some())
}

/// Why every frame of a capture was ignored: each reason with its count
/// (exact under research; else to the nearest 16, as the node totals keep
/// counts), or `None` when no frame was ignored (an empty capture).
fn all_ignored(s: &exitflow_pipeline::CaptureSummary, exact: bool) -> Option<String> {
    let grid = exitflow_output::totals::COUNT_GRID;
    let count = |n: u64| {
        if exact {
            n.to_string()
        } else if n < grid {
            format!("fewer than {grid}")
        } else {
            format!("about {}", (n + grid / 2) / grid * grid)
        }
    };
    let mut reasons: Vec<String> = s
        .ignored
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(r, n)| format!("{r} ({})", count(n)))
        .collect();
    if s.excluded > 0 {
        reasons.push(format!(
            "excluded by the configuration ({})",
            count(s.excluded)
        ));
    }
    (!reasons.is_empty()).then(|| reasons.join(", "))
}

/// Exit status of a command over several inputs: 1 when any failed.
fn status(failed: usize) -> ExitCode {
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// An error and its sources, `a: b: c`.
fn chain(e: &dyn std::error::Error) -> String {
    exitflow_output::error_chain(e)
}
