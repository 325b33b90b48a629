//! The table proper: a hash map from key to slot, and the slots on two
//! intrusive least-recently-seen lists (unanswered TCP, everything else) so that
//! idle expiry and eviction look only at list heads — O(1) per packet.
use super::*;

const NIL: u32 = u32::MAX;
/// List of TCP flows that began with a SYN and have not seen a packet from the responder.
const UNANSWERED: usize = 0;
/// List of all other flows.
const MAIN: usize = 1;

struct Slot<E> {
    /// The flow; its key is derived from it, not stored twice.
    flow: Flow,
    /// Per-flow state of the caller (inspection state, ...).
    ext: E,
    /// `true` when the flow's `src` is the key's `lo` endpoint.
    src_is_lo: bool,
    prev: u32,
    next: u32,
    list: u8,
}

#[derive(Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
}

/// What [`FlowTable::process`] hands back for the packet just metered.
pub struct Hit<'a, E> {
    /// The packet's flow, counters already updated.
    pub flow: &'a Flow,
    /// The caller's per-flow state.
    pub ext: &'a mut E,
    /// Whether the packet goes source → destination.
    pub src2dst: bool,
}

/// The flow table, with per-flow caller state `E`. Not thread-safe by design:
/// each capture worker owns one.
pub struct FlowTable<E = ()> {
    cfg: FlowConfig,
    map: FlowMap<u32>,
    slots: Vec<Slot<E>>,
    free: Vec<u32>,
    lists: [List; 2],
    next_id: u64,
    last_scan_ms: u64,
    /// Latest packet time seen; time never runs backwards inside the table.
    now_ms: u64,
    stats: FlowStats,
}

impl<E: Default> FlowTable<E> {
    /// A new, empty table. Memory grows with the flows actually present,
    /// never beyond `cfg.max_flows`.
    pub fn new(cfg: FlowConfig) -> FlowTable<E> {
        let cfg = FlowConfig {
            max_flows: cfg.max_flows.clamp(1, NIL as usize - 1),
            ..cfg
        };
        FlowTable {
            cfg,
            map: FlowMap::with_hasher(ahash::RandomState::new()),
            slots: Vec::new(),
            free: Vec::new(),
            lists: [List {
                head: NIL,
                tail: NIL,
            }; 2],
            next_id: 0,
            last_scan_ms: 0,
            now_ms: 0,
            stats: FlowStats::default(),
        }
    }

    /// Approximate memory per flow (slot plus hash map entry), for sizing the cap.
    pub fn bytes_per_flow() -> usize {
        std::mem::size_of::<Slot<E>>() + std::mem::size_of::<(FlowKey, u32)>() * 8 / 7 + 1
    }

    /// Settings in force.
    pub fn config(&self) -> &FlowConfig {
        &self.cfg
    }

    /// Counters so far.
    pub fn stats(&self) -> &FlowStats {
        &self.stats
    }

    /// Flows currently in the table.
    pub fn active(&self) -> usize {
        self.map.len()
    }

    /// Meters one packet; flows that end on the way are passed to `export`
    /// with their state. Returns the packet's flow and state.
    ///
    /// `ts_us` is the capture time in µs; `wire_len` the original frame length.
    #[inline]
    pub fn process(
        &mut self,
        p: &PacketInfo<'_>,
        ts_us: u64,
        wire_len: u32,
        export: &mut impl FnMut(Flow, E),
    ) -> Hit<'_, E> {
        let mut ts_ms = ts_us / 1000;
        if ts_ms < self.now_ms {
            // Out-of-order timestamps (merged captures, clock steps) must not make
            // durations negative or expire everything.
            self.stats.time_regressions += 1;
            ts_ms = self.now_ms;
        }
        self.now_ms = ts_ms;
        self.stats.packets += 1;
        if ts_ms >= self.last_scan_ms + IDLE_SCAN_PERIOD_MS {
            self.expire_idle(ts_ms, export);
            self.last_scan_ms = ts_ms;
        }
        let (key, fwd) = FlowKey::of(p);
        if let Some(&idx) = self.map.get(&key) {
            let i = idx as usize;
            let idle_timeout = self.idle_timeout_of(i);
            let slot = &mut self.slots[i];
            let reason = if ts_ms - slot.flow.last_seen_ms >= idle_timeout {
                Some(EndReason::Idle)
            } else if ts_ms - slot.flow.first_seen_ms >= self.cfg.active_timeout_ms {
                Some(EndReason::Active)
            } else {
                None
            };
            if let Some(reason) = reason {
                // The old flow ends; this packet starts a new one under the same key.
                self.unlink(idx);
                let fresh = self.fresh_flow(p, ts_ms);
                let slot = &mut self.slots[i];
                let old = std::mem::replace(&mut slot.flow, fresh);
                let old_ext = std::mem::take(&mut slot.ext);
                slot.src_is_lo = fwd;
                self.finish(old, old_ext, reason, export);
                self.slots[i].flow.update(p, ts_ms, wire_len, true);
                let list = self.list_for(i);
                self.push_back(idx, list);
                return self.hit(i, true);
            }
            let src2dst = fwd == slot.src_is_lo;
            slot.flow.update(p, ts_ms, wire_len, src2dst);
            let list = self.list_for(i);
            self.unlink(idx);
            self.push_back(idx, list);
            return self.hit(i, src2dst);
        }
        if self.map.len() >= self.cfg.max_flows {
            self.evict_one(export);
        }
        let flow = self.fresh_flow(p, ts_ms);
        let slot = Slot {
            flow,
            ext: E::default(),
            src_is_lo: fwd,
            prev: NIL,
            next: NIL,
            list: 0,
        };
        let idx = match self.free.pop() {
            Some(idx) => {
                self.slots[idx as usize] = slot;
                idx
            }
            None => {
                if self.slots.len() == self.slots.capacity() {
                    // Grow by doubling, but never past the cap.
                    let room = self.cfg.max_flows - self.slots.len();
                    self.slots
                        .reserve_exact(self.slots.len().max(64).min(room.max(1)));
                }
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        self.slots[idx as usize]
            .flow
            .update(p, ts_ms, wire_len, true);
        self.map.insert(key, idx);
        let list = self.list_for(idx as usize);
        self.push_back(idx, list);
        self.stats.peak_active = self.stats.peak_active.max(self.map.len() as u64);
        self.hit(idx as usize, true)
    }

    #[inline]
    fn hit(&mut self, i: usize, src2dst: bool) -> Hit<'_, E> {
        let slot = &mut self.slots[i];
        Hit {
            flow: &slot.flow,
            ext: &mut slot.ext,
            src2dst,
        }
    }

    /// Exports every flow idle at `now_ms` (packet time, or wall time in live capture).
    pub fn expire_idle(&mut self, now_ms: u64, export: &mut impl FnMut(Flow, E)) {
        for list in [UNANSWERED, MAIN] {
            let timeout = if list == UNANSWERED {
                self.cfg.half_open_timeout_ms.min(self.cfg.idle_timeout_ms)
            } else {
                self.cfg.idle_timeout_ms
            };
            loop {
                let head = self.lists[list].head;
                if head == NIL {
                    break;
                }
                let last = self.slots[head as usize].flow.last_seen_ms;
                if now_ms < last || now_ms - last < timeout {
                    break;
                }
                if list == UNANSWERED && timeout < self.cfg.idle_timeout_ms {
                    self.stats.expired_half_open += 1;
                }
                self.remove(head, EndReason::Idle, export);
            }
        }
    }

    /// Exports every flow (end of input, or shutdown).
    pub fn flush(&mut self, export: &mut impl FnMut(Flow, E)) {
        for list in [UNANSWERED, MAIN] {
            while self.lists[list].head != NIL {
                let head = self.lists[list].head;
                self.remove(head, EndReason::EndOfInput, export);
            }
        }
    }

    fn evict_one(&mut self, export: &mut impl FnMut(Flow, E)) {
        let victim = if self.lists[UNANSWERED].head != NIL {
            self.stats.evicted_unanswered += 1;
            self.lists[UNANSWERED].head
        } else {
            self.lists[MAIN].head
        };
        if victim != NIL {
            self.remove(victim, EndReason::Evicted, export);
        }
    }

    fn fresh_flow(&mut self, p: &PacketInfo<'_>, ts_ms: u64) -> Flow {
        let id = self.next_id;
        self.next_id += 1;
        self.stats.flows_created += 1;
        Flow::new(id, p, ts_ms)
    }

    #[inline]
    fn idle_timeout_of(&self, i: usize) -> u64 {
        if self.slots[i].list as usize == UNANSWERED {
            self.cfg.half_open_timeout_ms.min(self.cfg.idle_timeout_ms)
        } else {
            self.cfg.idle_timeout_ms
        }
    }

    #[inline]
    fn list_for(&self, i: usize) -> usize {
        let f = &self.slots[i].flow;
        // Only connection attempts (a SYN first, nothing back) count as half-open:
        // one-sided midstream traffic keeps the ordinary idle timeout.
        if f.syn_first && !f.answered() {
            UNANSWERED
        } else {
            MAIN
        }
    }

    fn remove(&mut self, idx: u32, reason: EndReason, export: &mut impl FnMut(Flow, E)) {
        self.unlink(idx);
        let slot = &mut self.slots[idx as usize];
        let flow = slot.flow.clone();
        let ext = std::mem::take(&mut slot.ext);
        self.map.remove(&FlowKey::of_flow(&flow));
        self.free.push(idx);
        self.finish(flow, ext, reason, export);
    }

    fn finish(
        &mut self,
        mut flow: Flow,
        ext: E,
        reason: EndReason,
        export: &mut impl FnMut(Flow, E),
    ) {
        flow.end_reason = reason;
        let s = &mut self.stats;
        s.flows_exported += 1;
        match reason {
            EndReason::Idle => s.expired_idle += 1,
            EndReason::Active => s.expired_active += 1,
            EndReason::EndOfInput => s.flushed += 1,
            EndReason::Evicted => s.evicted += 1,
        }
        if flow.is_failed() {
            s.failed_flows += 1;
        }
        export(flow, ext);
    }

    #[inline]
    fn unlink(&mut self, idx: u32) {
        let (prev, next, list) = {
            let s = &self.slots[idx as usize];
            (s.prev, s.next, s.list as usize)
        };
        if prev == NIL {
            self.lists[list].head = next;
        } else {
            self.slots[prev as usize].next = next;
        }
        if next == NIL {
            self.lists[list].tail = prev;
        } else {
            self.slots[next as usize].prev = prev;
        }
        let s = &mut self.slots[idx as usize];
        s.prev = NIL;
        s.next = NIL;
    }

    #[inline]
    fn push_back(&mut self, idx: u32, list: usize) {
        let tail = self.lists[list].tail;
        {
            let s = &mut self.slots[idx as usize];
            s.prev = tail;
            s.next = NIL;
            s.list = list as u8;
        }
        if tail == NIL {
            self.lists[list].head = idx;
        } else {
            self.slots[tail as usize].next = idx;
        }
        self.lists[list].tail = idx;
    }
}
