//! `exitflow flows`: one flow table per capture.
use std::process::ExitCode;

use anyhow::{Context, Result};
use exitflow_output::{FlowTable, Format};

use super::{capture_name, meter_file, status};
use crate::args::{FlowsArgs, FormatArg};
use crate::config::Config;
use crate::settings;

/// Meters each capture into `<output>/<capture name>.<ext>`. A capture that
/// cannot be read gets one error line; the others are still processed.
pub fn run(a: &FlowsArgs, conf: &Config) -> Result<ExitCode> {
    let mut policy = settings::policy(&a.pipeline.policy, conf)?;
    if policy.aggregates_only {
        // Refused before anything is created (the table refuses it too).
        anyhow::bail!(
            "the {} profile writes no per-flow rows: use `exitflow ingest`, which writes its hourly aggregate tables",
            policy.profile.as_str()
        );
    }
    let mut enricher = settings::enricher(&a.pipeline.enrich, conf)?;
    let opts = settings::meter(&a.pipeline.meter, conf)?;
    std::fs::create_dir_all(&a.output)
        .with_context(|| format!("creating {}", a.output.display()))?;
    let format = match a.format {
        FormatArg::Csv => Format::Csv,
        FormatArg::Parquet => Format::Parquet,
        FormatArg::Jsonl => Format::Jsonl,
    };
    let mut failed = 0usize;
    for cap in &a.captures {
        let out = a
            .output
            .join(format!("{}.{}", capture_name(cap), format.ext()));
        let mut writer = FlowTable::create(&out, format, &policy)?;
        let (s, bad) = meter_file(cap, &opts, &mut policy, &mut enricher, &mut |r| {
            writer.push(r)
        });
        if !bad {
            writer.finish()?;
        } else {
            failed += 1;
            if s.flows.flows_exported > 0 {
                // Keep what was metered before the problem.
                writer.finish()?;
            } else {
                writer.abort();
            }
        }
    }
    Ok(status(failed))
}
