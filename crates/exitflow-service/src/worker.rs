//! A capture worker: its ring → the pipeline's [`Meter`] → records, in
//! batches, to the writer. Counters reach the metrics once per second or
//! batch, never per packet, so the packet path takes no shared lock.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use exitflow_capture::live::{DEFAULT_BLOCK_TIMEOUT_MS, KernelStats, LiveError, LiveSocket};
use exitflow_dpi::Classification;
use exitflow_flow::{Flow, FlowStats};
use exitflow_output::{Policy, Row};
use exitflow_pipeline::{Enricher, Meter, MeterOptions, to_record};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

use crate::EXPORT_BATCH;
use crate::metrics::{Metrics, worker};

/// How long a worker waits for a ring block before checking its timers.
pub const BLOCK_WAIT: Duration = Duration::from_millis(100);
/// How often counters are published and idle flows expired.
pub const TICK: Duration = Duration::from_secs(1);

/// Why a worker stopped early.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The socket failed (the interface was removed, say); every flow
    /// collected was still exported.
    #[error("capture worker {id}")]
    Socket {
        /// The worker.
        id: usize,
        /// The socket's error.
        #[source]
        source: LiveError,
    },
    /// The writer is gone.
    #[error("capture worker {0}: the writer has stopped")]
    WriterGone(usize),
}

/// Counters of one worker as they stand.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Frames metered.
    pub metered: u64,
    /// Bytes metered.
    pub bytes: u64,
    /// Frames not metered (undecodable or excluded).
    pub ignored: u64,
    /// Frames excluded by configuration.
    pub excluded: u64,
    /// Flow table counters.
    pub flows: FlowStats,
    /// Flows in the table.
    pub active: u64,
    /// Entries the DPI engine's STUN and tinc caches evicted.
    pub dpi_cache_evicted: exitflow_dpi::CacheEvictions,
    /// The socket's kernel counters, when readable.
    pub kernel: Option<KernelStats>,
}

/// Publishes a worker's growing counters to the shared metrics: each call
/// adds what grew since the last one.
pub struct Publisher {
    last: Snapshot,
    packets: Counter,
    bytes: Counter,
    kernel_packets: Counter,
    kernel_drops: Counter,
    active: Gauge,
}

impl Publisher {
    /// The publisher of worker `id`.
    pub fn new(id: usize, m: &Metrics) -> Publisher {
        let label = worker(id);
        Publisher {
            last: Snapshot::default(),
            packets: m.packets.get_or_create(&label).clone(),
            bytes: m.bytes.get_or_create(&label).clone(),
            kernel_packets: m.kernel_packets.get_or_create(&label).clone(),
            kernel_drops: m.kernel_drops.get_or_create(&label).clone(),
            active: m.flows_active.get_or_create(&label).clone(),
        }
    }

    /// Adds the growth since the last call to the metrics.
    pub fn publish(&mut self, now: Snapshot, m: &Metrics) {
        let l = &self.last;
        self.packets.inc_by(now.metered - l.metered);
        self.bytes.inc_by(now.bytes - l.bytes);
        m.ignored.inc_by(now.ignored - l.ignored);
        m.excluded.inc_by(now.excluded - l.excluded);
        m.flows_exported
            .inc_by(now.flows.flows_exported - l.flows.flows_exported);
        m.flows_evicted.inc_by(now.flows.evicted - l.flows.evicted);
        m.flows_half_open
            .inc_by(now.flows.expired_half_open - l.flows.expired_half_open);
        let (e, was) = (now.dpi_cache_evicted, l.dpi_cache_evicted);
        m.flows_dpi_stun_cache_evicted.inc_by(e.stun - was.stun);
        m.flows_dpi_tinc_cache_evicted.inc_by(e.tinc - was.tinc);
        self.active.set(now.active as i64);
        let mut now = now;
        match now.kernel {
            Some(k) => {
                let was = l.kernel.unwrap_or_default();
                self.kernel_packets.inc_by(k.packets - was.packets);
                self.kernel_drops.inc_by(k.drops - was.drops);
            }
            // Unreadable this time: keep the last reading as the base.
            None => now.kernel = l.kernel,
        }
        self.last = now;
    }
}

/// Everything one worker owns.
pub struct Worker {
    /// Its number (the metrics' label).
    pub id: usize,
    /// Its socket.
    pub sock: LiveSocket,
    /// Pipeline options (the flow cap is this worker's share).
    pub opts: MeterOptions,
    /// The privacy policy.
    pub policy: Policy,
    /// Its enricher (databases shared, caches its own).
    pub enricher: Enricher,
    /// Reloaded enrichers from the supervisor.
    pub reload: Receiver<Enricher>,
    /// The export queue.
    pub tx: SyncSender<Vec<Row>>,
    /// Shared metrics.
    pub metrics: Arc<Metrics>,
    /// Set when the service is to stop.
    pub stop: Arc<AtomicBool>,
    /// Shift of packet times and of the clock, ms (0 but in tests: see
    /// [`crate::writer::Clock`]).
    pub skew_ms: i64,
}

fn now_ms(skew_ms: i64) -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
        .saturating_add_signed(skew_ms)
}

impl Worker {
    /// Captures until the stop flag, then drains the ring and exports every flow.
    pub fn run(self) -> Result<(), WorkerError> {
        let Worker {
            id,
            mut sock,
            opts,
            mut policy,
            mut enricher,
            reload,
            tx,
            metrics: m,
            stop,
            skew_ms,
        } = self;
        let skew_us = skew_ms.saturating_mul(1000);
        let mut meter = Meter::new(&opts);
        let mut batch: Vec<Row> = Vec::with_capacity(EXPORT_BATCH);
        // Flows by role for `exitflow status` (tor's exit streams beside
        // exitflow's exit flows), read from the row the gate made.
        // Each role's counter is looked up in the family once, not per flow.
        let role_col = policy.layout().index(exitflow_output::Col::TorRole);
        let mut roles: Vec<(String, prometheus_client::metrics::counter::Counter)> = Vec::new();
        let mut export = |f: Flow, c: Classification, e: &mut Enricher, b: &mut Vec<Row>| {
            let row = to_record(f, c, &mut policy, Some(e));
            if let Some(role) = role_col.and_then(|i| row.cells().get(i)?.as_str()) {
                match roles.iter().find(|(r, _)| r == role) {
                    Some((_, counter)) => {
                        counter.inc();
                    }
                    None => {
                        let counter = m
                            .flows_role
                            .get_or_create(&vec![("role".to_owned(), role.to_owned())])
                            .clone();
                        counter.inc();
                        roles.push((role.to_owned(), counter));
                    }
                }
            }
            b.push(row);
        };
        let mut publisher = Publisher::new(id, &m);
        let rate = m.packet_rate.get_or_create(&worker(id)).clone();
        let mut taken = 0u64;
        let (mut last_tick, mut tick_metered) = (Instant::now(), 0u64);
        let mut draining = false;
        let mut failure = None;
        loop {
            // While draining, wait a little longer than the block timeout so
            // the block being filled is retired and read too.
            let wait = if draining {
                Duration::from_millis(u64::from(DEFAULT_BLOCK_TIMEOUT_MS) * 3)
            } else {
                BLOCK_WAIT
            };
            let got = sock.next_block(wait, |mut pkt| {
                taken += 1;
                pkt.ts_us = pkt.ts_us.saturating_add_signed(skew_us);
                meter.packet(&pkt, &mut |f, c| export(f, c, &mut enricher, &mut batch));
            });
            let n = got.unwrap_or_else(|e| {
                // The socket is gone: stop reading, but still export every
                // flow collected so far.
                failure.get_or_insert(e);
                draining = true;
                0
            });
            let tick = last_tick.elapsed() >= TICK;
            if tick {
                meter.expire_idle(now_ms(skew_ms), &mut |f, c| {
                    export(f, c, &mut enricher, &mut batch)
                });
                if let Ok(e) = reload.try_recv() {
                    enricher = e;
                }
            }
            if !draining && stop.load(Ordering::Relaxed) {
                // Take what is already in the ring, then end every flow.
                draining = true;
                continue;
            }
            let finishing = draining && n == 0;
            if finishing {
                meter.flush(&mut |f, c| export(f, c, &mut enricher, &mut batch));
            }
            if tick || finishing || batch.len() >= EXPORT_BATCH {
                let ignored = meter.not_metered();
                let metered = taken - ignored;
                publisher.publish(
                    Snapshot {
                        metered,
                        bytes: meter.bytes,
                        ignored,
                        excluded: meter.excluded,
                        flows: *meter.stats(),
                        active: meter.active() as u64,
                        dpi_cache_evicted: meter.dpi_cache_evicted(),
                        kernel: sock.kernel_stats().ok(),
                    },
                    &m,
                );
                if tick {
                    let secs = last_tick.elapsed().as_secs_f64();
                    rate.set(((metered - tick_metered) as f64 / secs) as i64);
                    (last_tick, tick_metered) = (Instant::now(), metered);
                }
                if !batch.is_empty() {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(EXPORT_BATCH));
                    send(&tx, full, &m).map_err(|()| WorkerError::WriterGone(id))?;
                }
            }
            if finishing {
                break;
            }
        }
        match failure {
            Some(source) => Err(WorkerError::Socket { id, source }),
            None => Ok(()),
        }
    }
}

/// Hands a batch to the writer, waiting (counted) when the queue is full.
fn send(tx: &SyncSender<Vec<Row>>, batch: Vec<Row>, m: &Metrics) -> Result<(), ()> {
    match tx.try_send(batch) {
        Ok(()) => Ok(()),
        Err(TrySendError::Full(batch)) => {
            m.queue_full.inc();
            tx.send(batch).map_err(|_| ())
        }
        Err(TrySendError::Disconnected(_)) => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishing_adds_only_what_grew() {
        let m = Metrics::default();
        let mut p = Publisher::new(3, &m);
        let mut s = Snapshot {
            metered: 10,
            bytes: 1000,
            ignored: 2,
            excluded: 1,
            active: 4,
            kernel: Some(KernelStats {
                packets: 13,
                drops: 1,
                freeze_q: 0,
            }),
            ..Default::default()
        };
        s.flows.flows_exported = 5;
        s.dpi_cache_evicted.stun = 3;
        p.publish(s, &m);
        p.publish(s, &m);
        s.dpi_cache_evicted.tinc = 1;
        s.metered = 25;
        s.kernel = None;
        p.publish(s, &m);
        s.kernel = Some(KernelStats {
            packets: 30,
            drops: 2,
            freeze_q: 0,
        });
        p.publish(s, &m);
        let w = worker(3);
        assert_eq!(m.packets.get_or_create(&w).get(), 25);
        assert_eq!(m.bytes.get_or_create(&w).get(), 1000);
        assert_eq!(m.kernel_packets.get_or_create(&w).get(), 30);
        assert_eq!(m.kernel_drops.get_or_create(&w).get(), 2);
        assert_eq!((m.ignored.get(), m.excluded.get()), (2, 1));
        assert_eq!(m.flows_exported.get(), 5);
        assert_eq!(m.flows_active.get_or_create(&w).get(), 4);
        assert_eq!(
            (
                m.flows_dpi_stun_cache_evicted.get(),
                m.flows_dpi_tinc_cache_evicted.get()
            ),
            (3, 1)
        );
    }
}
