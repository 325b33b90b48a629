//! `exitflow report`: the study report from one or more datasets.
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use exitflow_analyze::publish::{PublishConfig, publish};
use exitflow_analyze::{Filter, render};
use exitflow_pipeline::peak_rss_bytes;

use crate::args::{ReportArgs, ReportFormat};
use crate::values::date_ms;

/// Scans the datasets and writes each format asked for (each file
/// completed under a temporary name, then renamed).
pub fn run(a: &ReportArgs) -> Result<ExitCode> {
    if let Some(path) = &a.from_json {
        return from_json(a, path);
    }
    let filter = Filter {
        zones: a.tz.iter().cloned().collect(),
        nodes: a.node.clone(),
        from_ms: a.from.as_deref().map(date_ms).transpose()?,
        to_ms: a.to.as_deref().map(date_ms).transpose()?,
        rows: a.rows,
        days: None,
    };
    let t = std::time::Instant::now();
    let r = if a.publish {
        let cfg = PublishConfig {
            epsilon: a.epsilon,
            budget: a.budget,
            unit_days: a.unit_days,
            action_bound: a.action_bound,
            now_ms: exitflow_output::dataset::now_ms(),
        };
        let (r, outcome) = publish(&a.datasets, &filter, &cfg)?;
        for (node, unit) in &outcome.released {
            tracing::info!(node, unit, epsilon = cfg.epsilon, "released");
        }
        if !outcome.pending.is_empty() {
            tracing::warn!(
                units = outcome.pending.len(),
                "units of the window are not over yet (or ended less than {} h ago): not released",
                exitflow_analyze::publish::RELEASE_GRACE_MS / 3_600_000
            );
        }
        r
    } else {
        let bar = super::progress::Progress::items("files");
        let r = exitflow_analyze::scan_with_progress(&a.datasets, &filter, &|done, all| {
            bar.set_total(all as u64);
            bar.set(done as u64);
        })?;
        bar.finish();
        r
    };
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
    let version = exitflow_analyze::contract::REPORT_VERSION;
    if j["report_version"] != version {
        bail!(
            "{}: not an exitflow report JSON of version {version} (report_version is {})",
            path.display(),
            j["report_version"]
        );
    }
    // The whole contract (docs/report.schema.json): a missing, renamed or
    // mistyped field is named, not rendered as a blank.
    exitflow_analyze::contract::check(&j).map_err(|e| {
        anyhow::anyhow!(
            "{}: does not follow the report's contract (docs/report.schema.json): {e}",
            path.display()
        )
    })?;
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
