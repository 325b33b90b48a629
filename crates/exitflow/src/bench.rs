//! `exitflow bench`: packets/s of each pipeline stage on one capture, and the
//! ratio to reading the file alone and to the baseline tools' published rates.
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use exitflow_capture::CaptureReader;
use exitflow_decode::{SkipCounters, decode};
use exitflow_dpi::{Engine, FlowCtx, FlowDpi};
use exitflow_flow::{Flow, FlowTable};

use crate::cli::{EnrichArgs, MeterArgs};
use crate::config::Config;
use crate::pipeline::peak_rss_bytes;

/// ndpiReader 4.x on the mixed benchmark capture, packets/s (DEVELOPERS.md, upper figure).
pub const BASELINE_NDPIREADER_PPS: f64 = 0.5e6;
/// NFStream 6.6 on the same capture, packets/s.
pub const BASELINE_NFSTREAM_PPS: f64 = 0.11e6;

/// Arguments of `exitflow bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Capture to measure (put it on /dev/shm so the disk does not dominate).
    capture: PathBuf,
    /// Runs of each stage; the best is reported.
    #[arg(long, default_value_t = 3)]
    repeat: u32,
    /// Print the result as JSON too.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    meter: MeterArgs,
    /// Enrichment for the last stage (give --geoip to measure lookups).
    #[command(flatten)]
    enrich: EnrichArgs,
}

struct Pass {
    name: &'static str,
    packets: u64,
    secs: f64,
}

fn time_pass(a: &BenchArgs, conf: &Config, stage: u8) -> Result<Pass> {
    let opts = a.meter.options(conf);
    let mut best: Option<Pass> = None;
    for _ in 0..a.repeat.max(1) {
        let mut r = CaptureReader::open(&a.capture)?;
        let mut table: FlowTable = FlowTable::new(opts.flow);
        let mut dpi_table: FlowTable<FlowDpi> = FlowTable::new(opts.flow);
        let engine = Engine::new(opts.dpi);
        let ctx = |f: &Flow| FlowCtx {
            protocol: f.protocol,
            src_port: f.src_port,
            dst_port: f.dst_port,
        };
        let mut labelled = 0u64;
        let mut enricher = a.enrich.enricher(conf)?;
        let mut policy = exitflow_output::Policy::default();
        let records = stage >= 4;
        let enrich = stage >= 5;
        let mut flows = 0u64;
        let mut skips = SkipCounters::default();
        let mut sink = 0u64;
        let t = Instant::now();
        r.for_each(|p| {
            match stage {
                0 => sink = sink.wrapping_add(u64::from(p.orig_len)),
                1 => match decode(p.link_type, p.data, &opts.decode) {
                    Ok(i) => sink = sink.wrapping_add(u64::from(i.src_port)),
                    Err(s) => skips.add(s),
                },
                2 => match decode(p.link_type, p.data, &opts.decode) {
                    Ok(i) => {
                        table.process(&i, p.ts_us, p.orig_len, &mut |_, _| flows += 1);
                    }
                    Err(s) => skips.add(s),
                },
                _ => match decode(p.link_type, p.data, &opts.decode) {
                    Ok(i) => {
                        let hit = dpi_table.process(&i, p.ts_us, p.orig_len, &mut |f, mut st| {
                            let c = engine.finish(&mut st, &ctx(&f));
                            labelled += u64::from(!c.master.is_unknown());
                            if records {
                                let e = enrich.then_some(&mut enricher);
                                std::hint::black_box(crate::pipeline::to_record(
                                    f,
                                    c,
                                    &mut policy,
                                    e,
                                ));
                            }
                        });
                        engine.inspect(hit.ext, &ctx(hit.flow), &i, hit.src2dst);
                    }
                    Err(s) => skips.add(s),
                },
            }
            true
        })?;
        table.flush(&mut |_, _| flows += 1);
        dpi_table.flush(&mut |f, mut st| {
            let c = engine.finish(&mut st, &ctx(&f));
            labelled += u64::from(!c.master.is_unknown());
            if records {
                let e = enrich.then_some(&mut enricher);
                std::hint::black_box(crate::pipeline::to_record(f, c, &mut policy, e));
            }
        });
        let secs = t.elapsed().as_secs_f64();
        std::hint::black_box((sink, flows, skips, labelled));
        let pass = Pass {
            name: [
                "read",
                "read+decode",
                "read+decode+meter",
                "read+decode+meter+dpi",
                "...+dpi+records",
                "...+dpi+records+enrich",
            ][usize::from(stage.min(5))],
            packets: r.stats().packets,
            secs,
        };
        if best.as_ref().is_none_or(|b| pass.secs < b.secs) {
            best = Some(pass);
        }
    }
    Ok(best.expect("at least one run"))
}

/// Runs the benchmark and prints the table.
pub fn run(a: BenchArgs, conf: &Config) -> Result<ExitCode> {
    let passes = [
        time_pass(&a, conf, 0)?,
        time_pass(&a, conf, 1)?,
        time_pass(&a, conf, 2)?,
        time_pass(&a, conf, 3)?,
        time_pass(&a, conf, 4)?,
        time_pass(&a, conf, 5)?,
    ];
    let read_pps = passes[0].packets as f64 / passes[0].secs;
    println!("capture: {}", a.capture.display());
    println!(
        "{:<26} {:>12} {:>10} {:>14} {:>10}",
        "stage", "packets", "seconds", "packets/s", "vs read"
    );
    let mut json = serde_json::Map::new();
    for p in &passes {
        let pps = p.packets as f64 / p.secs;
        println!(
            "{:<26} {:>12} {:>10.3} {:>14.0} {:>9.2}x",
            p.name,
            p.packets,
            p.secs,
            pps,
            pps / read_pps
        );
        json.insert(
            p.name.into(),
            serde_json::json!({"packets": p.packets, "seconds": p.secs, "pps": pps}),
        );
    }
    let dpi_pps = passes[3].packets as f64 / passes[3].secs;
    println!(
        "inspection cost: {:.2}x the time of metering alone",
        passes[3].secs / passes[2].secs
    );
    println!(
        "enrichment: {:.1} % less throughput than the same pipeline without it",
        100.0 * (1.0 - passes[4].secs / passes[5].secs)
    );
    println!(
        "metering+dpi vs ndpiReader 4.x ({:.2} M pkt/s): {:.1}x; vs NFStream 6.6 ({:.2} M pkt/s): {:.1}x",
        BASELINE_NDPIREADER_PPS / 1e6,
        dpi_pps / BASELINE_NDPIREADER_PPS,
        BASELINE_NFSTREAM_PPS / 1e6,
        dpi_pps / BASELINE_NFSTREAM_PPS
    );
    println!("peak RSS: {} MiB", peak_rss_bytes() >> 20);
    if a.json {
        json.insert("peak_rss_bytes".into(), peak_rss_bytes().into());
        println!("{}", serde_json::Value::Object(json));
    }
    Ok(ExitCode::SUCCESS)
}
