//! `exitflow status`: one screen about a running capture, refreshed
//! (see `exitflow_service::status`).
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use exitflow_service::status::{Sample, render, scrape};

use crate::args::StatusArgs;
use crate::config::Config;

/// Prints the screen once, or refreshes it every interval until interrupted.
pub fn run(a: &StatusArgs, conf: &Config) -> Result<ExitCode> {
    let text = a
        .metrics
        .clone()
        .or_else(|| conf.capture.metrics.clone())
        .unwrap_or_else(|| exitflow_service::metrics::DEFAULT_METRICS_ADDR.to_owned());
    if text == "off" {
        bail!("metrics: the capture's endpoint is off; status reads it (set capture.metrics)");
    }
    let addr: SocketAddr = text
        .parse()
        .with_context(|| format!("metrics: {text:?}: expected IP:PORT"))?;
    let tor: Option<SocketAddr> = a
        .tor_metrics
        .as_ref()
        .or(conf.relay.tor_metrics.as_ref())
        .map(|t| {
            t.parse()
                .with_context(|| format!("tor_metrics: {t:?}: expected IP:PORT"))
        })
        .transpose()?;
    if a.interval == 0 {
        bail!("interval: must be at least 1 second");
    }
    let source = format!("metrics at {addr}");
    let tty = std::io::stdout().is_terminal();
    let mut prev: Option<(Sample, Instant)> = None;
    loop {
        let sample = Sample::parse(&scrape(addr).context("is `exitflow capture` running?")?);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let taken = Instant::now();
        // tor's counts are shown when its MetricsPort answers; a tor that
        // is down is logged, not an error.
        let tor_sample = tor.map(|t| scrape(t).map(|text| Sample::parse(&text)));
        if let Some(Err(e)) = &tor_sample {
            tracing::warn!("tor's MetricsPort: {}", super::chain(e));
        }
        let screen = render(
            &source,
            now,
            &sample,
            prev.as_ref().map(|(s, t)| (s, taken - *t)),
            tor_sample.as_ref().and_then(|r| r.as_ref().ok()),
        );
        let mut out = std::io::stdout().lock();
        if tty && !a.once {
            // Home and clear: one screen, redrawn.
            write!(out, "\x1b[H\x1b[2J")?;
        }
        write!(out, "{screen}")?;
        out.flush()?;
        if a.once {
            return Ok(ExitCode::SUCCESS);
        }
        prev = Some((sample, taken));
        std::thread::sleep(Duration::from_secs(a.interval));
    }
}
