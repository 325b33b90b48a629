//! `exitflow ingest`: captures into the node's Parquet dataset.
use std::process::ExitCode;

use anyhow::Result;
use exitflow_output::{DatasetWriter, NodeTotals};
use exitflow_pipeline::peak_rss_bytes;

use super::{meter_file, status};
use crate::args::IngestArgs;
use crate::config::Config;
use crate::settings;

/// Meters every capture into the dataset, adds to the node's totals and
/// returns them.
pub fn run(a: &IngestArgs, conf: &Config) -> Result<(ExitCode, NodeTotals)> {
    let mut policy = settings::policy(&a.pipeline.policy, conf)?;
    let mut enricher = settings::enricher(&a.pipeline.enrich, conf)?;
    if enricher.roles.own.is_empty() {
        tracing::warn!("{}; every flow will be `other`", settings::NO_OWN_ADDRESS);
    }
    let opts = settings::meter(&a.pipeline.meter, conf)?;
    let target = settings::node(&a.node, conf)?;
    let mut cfg = target.dataset_for(&enricher, &opts);
    if a.synthetic {
        cfg.metadata
            .push(("exitflow.synthetic".into(), "true".into()));
    }
    let mut ds = DatasetWriter::open(&policy, cfg)?;
    let node = target.node;
    let mut run = NodeTotals {
        node: node.clone(),
        exit_policy: enricher.exit_policy.clone(),
        ..Default::default()
    };
    let mut failed = 0usize;
    for cap in &a.captures {
        let (s, bad) = meter_file(cap, &opts, &mut policy, &mut enricher, &mut |r| ds.push(r));
        failed += usize::from(bad);
        if s.read.packets > 0 {
            run.merge(&s.totals(&node));
        }
    }
    let node_dir = ds.node_dir().to_owned();
    let w = ds.close()?;
    let files = w.files;
    run.files = w.files;
    run.dataset_bytes = w.bytes;
    run.generalised_flows = w.generalised;
    run.suppressed_flows = w.suppressed;
    run.folded_flows = w.folded;
    if w.released_hours > 0 {
        tracing::warn!(
            hours = w.released_hours,
            "flows were written into days `report --publish` already released: they are not in those releases (a day is released once)"
        );
    }
    let all = exitflow_output::totals::add(&node_dir, &run, policy.totals_rule())?;
    if let Some(days) = crate::settings::retention(&a.pipeline.policy, conf)? {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let removed = exitflow_output::dataset::apply_retention(&node_dir, days, now)?;
        if !removed.is_empty() {
            tracing::info!(
                partitions = removed.len(),
                days,
                "retention: old partitions deleted"
            );
        }
    }
    // Under an hourly profile the log is no finer than the totals file:
    // the node's noisy, rounded totals, not this run's exact counts (one
    // run over one hour's capture would give the hour's).
    let shown = if policy.totals_rule().noisy {
        &all
    } else {
        &run
    };
    tracing::info!(
        node = %node,
        flows = shown.flows,
        failed_flows = shown.failed_flows,
        packets = shown.packets,
        evicted = shown.evicted_flows,
        files,
        peak_rss_mib = peak_rss_bytes() >> 20,
        counts = if policy.totals_rule().noisy { "node totals, noisy and rounded" } else { "this run, exact" },
        "ingested"
    );
    Ok((status(failed), all))
}
