//! `exitflow capture`'s settings: the live service's configuration.
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Result, bail};

use exitflow_capture::live::{DEFAULT_RING_BLOCK_SIZE, DEFAULT_RING_BLOCKS, RingConfig};
use exitflow_service::{MAX_WORKERS, ServiceConfig, WriterConfig};

use exitflow_pipeline::EnrichSettings;

use super::{meter, node, period, pick, policy};
use crate::args::CaptureArgs;
use crate::config::Config;

/// The live service's settings.
pub fn service(a: &CaptureArgs, cfg: &Config) -> Result<ServiceConfig> {
    let c = &cfg.capture;
    let interface = match (&a.interface, c.interfaces.as_slice()) {
        (Some(i), _) => i.clone(),
        (None, [one]) => one.clone(),
        (None, []) => bail!("no interface: give --interface or capture.interfaces"),
        (None, _) => bail!(
            "capture.interfaces lists several interfaces; one process captures one (run one per interface)"
        ),
    };
    let target = node(&a.node, cfg)?;
    let workers = match a.workers.or(c.workers) {
        Some(n) if (1..=MAX_WORKERS).contains(&n) => n,
        Some(n) => bail!("workers: {n}: expected 1 to {MAX_WORKERS}"),
        None => std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_WORKERS),
    };
    let ring_mb = pick(
        a.ring_mb,
        c.ring_mb,
        (DEFAULT_RING_BLOCKS * DEFAULT_RING_BLOCK_SIZE) >> 20,
    );
    let ring = RingConfig {
        blocks: ((u64::from(ring_mb) << 20) / u64::from(DEFAULT_RING_BLOCK_SIZE))
            .clamp(2, u64::from(u32::MAX)) as u32,
        promiscuous: a.promiscuous || c.promiscuous.unwrap_or(false),
        ..RingConfig::default()
    };
    let metrics = pick(
        a.metrics.clone(),
        c.metrics.clone(),
        exitflow_service::metrics::DEFAULT_METRICS_ADDR.to_owned(),
    );
    let metrics_addr = match metrics.as_str() {
        "off" => None,
        m => Some(
            m.parse::<SocketAddr>()
                .map_err(|_| anyhow::anyhow!("metrics: {m:?}: expected IP:PORT or off"))?,
        ),
    };
    let filter = match a.filter.as_deref().or(c.filter.as_deref()) {
        Some(e) => Some(exitflow_service::supervisor::compile_filter(e, &interface)?),
        None => None,
    };
    let policy = policy(&a.pipeline.policy, cfg)?;
    // tor may not have written its first consensus yet when the capture
    // starts (at boot): it is loaded when it appears.
    let enricher = exitflow_pipeline::Enricher::open(&EnrichSettings {
        wait_for_consensus: true,
        ..super::enrich(&a.pipeline.enrich, cfg)?
    })?;
    let meter = meter(&a.pipeline.meter, cfg)?;
    let write_buffer = pick(
        a.write_buffer,
        c.write_buffer,
        exitflow_service::DEFAULT_MAX_PENDING_FLOWS,
    );
    if write_buffer == 0 {
        bail!("write_buffer: must be at least 1");
    }
    let mut dataset = target.dataset_for(&enricher, &meter);
    dataset.max_rows = write_buffer;
    let status_interval = period(
        "status_interval",
        a.status_interval,
        c.status_interval,
        exitflow_service::DEFAULT_STATUS_INTERVAL,
    )?;
    // Counters in the journal are no finer than the profile's time: under
    // default and strict, a status line per granularity bucket.
    let status_interval = if policy.holds_hours() {
        let g = Duration::from_millis(policy.time_granularity_ms);
        if a.status_interval.is_some() || c.status_interval.is_some() {
            if status_interval < g {
                bail!(
                    "status_interval: the {} profile logs counters at most once per {} s, not every {} s (only --profile research may)",
                    policy.profile.as_str(),
                    g.as_secs(),
                    status_interval.as_secs()
                );
            }
            status_interval
        } else {
            g
        }
    } else {
        status_interval
    };
    let reload_interval = period(
        "reload_interval",
        a.reload_interval,
        c.reload_interval,
        exitflow_service::DEFAULT_RELOAD_INTERVAL,
    )?;
    // Last, once every setting is known good: a capture that could not tell
    // exit traffic from the rest does not start.
    if enricher.roles.own.is_empty() {
        bail!("{}", super::NO_OWN_ADDRESS);
    }
    Ok(ServiceConfig {
        interface,
        dataset,
        workers,
        ring,
        filter,
        metrics_addr,
        metrics_allow_remote: a.metrics_allow_remote || c.metrics_allow_remote.unwrap_or(false),
        user: a.user.clone().or_else(|| c.user.clone()),
        writer: WriterConfig {
            flush_interval: period(
                "flush_interval",
                a.flush_interval,
                c.flush_interval,
                exitflow_service::DEFAULT_FLUSH_INTERVAL,
            )?,
            clock: exitflow_service::writer::Clock::System(a.clock_skew_ms.unwrap_or(0)),
            ..WriterConfig::default()
        },
        status_interval,
        reload_interval,
        duration: a.duration.map(Duration::from_secs),
        meter,
        policy,
        enricher,
    })
}
