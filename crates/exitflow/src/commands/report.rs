//! `exitflow report`: the study report from one or more datasets.
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use exitflow_analyze::publish::{PublishConfig, protect_report};
use exitflow_analyze::{Filter, render};
use exitflow_pipeline::peak_rss_bytes;

use crate::args::{ReportArgs, ReportFormat};
use crate::settings::date_ms;

/// Scans the datasets and writes each format asked for (each file
/// completed under a temporary name, then renamed).
pub fn run(a: &ReportArgs) -> Result<ExitCode> {
    if let Some(path) = &a.from_json {
        return from_json(a, path);
    }
    let filter = Filter {
        tz_minutes: a.tz.iter().cloned().collect(),
        nodes: a.node.clone(),
        from_ms: a.from.as_deref().map(date_ms).transpose()?,
        to_ms: a.to.as_deref().map(date_ms).transpose()?,
        rows: a.rows,
    };
    if a.publish && !(a.epsilon > 0.0 && a.epsilon.is_finite()) {
        bail!("--epsilon must be a positive number");
    }
    let t = std::time::Instant::now();
    let bar = super::progress::Progress::items("files");
    let mut r = exitflow_analyze::scan_with_progress(&a.datasets, &filter, &|done, all| {
        bar.set_total(all as u64);
        bar.set(done as u64);
    })?;
    bar.finish();
    if a.publish {
        let root = a.datasets.first().context("no dataset")?;
        let ledger = protect_report(
            &mut r,
            &PublishConfig {
                epsilon: (!a.no_noise).then_some(a.epsilon),
                k: a.k.max(1),
                round: a.round.max(1),
                secret: exitflow_analyze::publish::dataset_secret(root)?,
            },
        );
        tracing::info!(
            releases = ledger.releases.len(),
            epsilon_total = ledger.epsilon(),
            "published with differential privacy"
        );
    }
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    for f in &a.format {
        let (name, text) = match f {
            ReportFormat::Html => ("report.html", render::html(&r)),
            ReportFormat::Md => ("report.md", render::markdown(&r)),
            ReportFormat::Json => (
                "report.json",
                serde_json::to_string_pretty(&render::json(&r))?,
            ),
        };
        let path = a.out.join(name);
        exitflow_output::files::write_atomic(&path, text.as_bytes())?;
        println!("{}", path.display());
    }
    tracing::info!(
        files = r.files,
        flows = r.all.all().flows,
        seconds = t.elapsed().as_secs_f64(),
        peak_rss_mib = peak_rss_bytes() >> 20,
        "report"
    );
    Ok(ExitCode::SUCCESS)
}

/// Renders the formats asked for from a report JSON (its own `report.json`
/// or one a Spark job computed).
fn from_json(a: &ReportArgs, path: &std::path::Path) -> Result<ExitCode> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let j: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    if j["report_version"] != 2 || !j["all"].is_object() || !j["nodes"].is_object() {
        bail!(
            "{}: not an exitflow report JSON (version 2, with \"all\" and \"nodes\")",
            path.display()
        );
    }
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    for f in &a.format {
        let (name, text) = match f {
            ReportFormat::Html => ("report.html", render::html_from_json(&j)),
            ReportFormat::Md => ("report.md", render::markdown_from_json(&j)),
            ReportFormat::Json => ("report.json", serde_json::to_string_pretty(&j)?),
        };
        let path = a.out.join(name);
        exitflow_output::files::write_atomic(&path, text.as_bytes())?;
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
