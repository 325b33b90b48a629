//! The scan: the tables resolved to protocol ids once, split by transport
//! and direction, and a payload run down its lane.
use std::sync::OnceLock;

use super::*;
use crate::FlowCtx;
use crate::registry::{ProtoId, registry};

/// The table's names resolved to registry ids, row for row.
pub struct Resolved {
    /// `TCP[i]`'s protocol.
    pub tcp: Vec<ProtoId>,
    /// `UDP[i]`'s protocol.
    pub udp: Vec<ProtoId>,
    /// [`ALT_NAMES`]' protocols, by [`Alt`].
    pub alt: Vec<ProtoId>,
    /// The protocols named by their IP protocol number ([`infra::IP_PROTOCOLS`]).
    pub ip: Vec<(u8, ProtoId)>,
    /// Per transport (TCP, UDP) and direction (client, server): the rows
    /// that read that direction, in table order, resolved.
    lanes: [[Vec<Lane>; 2]; 2],
}

/// One row, resolved, as the scan reads it.
struct Lane {
    detect: fn(&FlowCtx, &[u8]) -> Match,
    pid: ProtoId,
    ports: &'static [u16],
    range: Option<(u16, u16)>,
    from_first: bool,
    misses_allowed: u8,
}

/// Resolves a protocol name of this crate's code, never on the packet path;
/// panics on a name missing from `protocols.txt` (the tables' and
/// [`ALT_NAMES`]' names are checked when the tables load).
pub fn id(name: &str) -> ProtoId {
    registry().id(name).unwrap_or_else(|| {
        panic!("{name} missing from protocols.txt (checked when the tables load)")
    })
}

fn lanes(table: &'static [Detector], ids: &[ProtoId], client: bool) -> Vec<Lane> {
    table
        .iter()
        .zip(ids)
        .filter(|(d, _)| match d.dir {
            Dir::Either => true,
            Dir::Client => client,
            Dir::Server => !client,
        })
        .map(|(d, &pid)| {
            debug_assert!(!d.from_first || d.misses_allowed == 0, "{}", d.name);
            (d, pid)
        })
        .map(|(d, pid)| Lane {
            detect: d.detect,
            pid,
            ports: d.ports,
            range: d.range,
            from_first: d.from_first,
            misses_allowed: d.misses_allowed,
        })
        .collect()
}

/// The ids of every row, resolved once.
pub fn resolved() -> &'static Resolved {
    static R: OnceLock<Resolved> = OnceLock::new();
    R.get_or_init(|| {
        let tcp: Vec<ProtoId> = TCP.iter().map(|d| id(d.name)).collect();
        let udp: Vec<ProtoId> = UDP.iter().map(|d| id(d.name)).collect();
        let lanes = [
            [lanes(TCP, &tcp, true), lanes(TCP, &tcp, false)],
            [lanes(UDP, &udp, true), lanes(UDP, &udp, false)],
        ];
        let alt = ALT_NAMES.iter().map(|n| id(n)).collect();
        let ip = infra::IP_PROTOCOLS
            .iter()
            .map(|&(number, name)| (number, id(name)))
            .collect();
        Resolved {
            tcp,
            udp,
            alt,
            ip,
            lanes,
        }
    })
}

/// The protocol of an alternate ([`Alt`]), resolved with the tables.
#[inline]
pub fn alt(a: Alt) -> ProtoId {
    resolved().alt[a as usize]
}

/// The protocol named by an IP protocol number, or Unknown.
pub fn ip_protocol(number: u8) -> ProtoId {
    resolved()
        .ip
        .iter()
        .find(|(n, _)| *n == number)
        .map_or(ProtoId::UNKNOWN, |(_, id)| *id)
}

/// The first row of the transport's table that recognises `d` (the same
/// answer as [`first_match`], over rows resolved and sorted by direction
/// once, for the per-packet path).
pub fn scan(
    transport: Transport,
    flow: &FlowCtx,
    d: &[u8],
    src2dst: bool,
    before: Before,
) -> Option<Hit> {
    let t = usize::from(transport == Transport::Udp);
    let r = resolved();
    for lane in &r.lanes[t][usize::from(!src2dst)] {
        // nDPI's dissector has seen a payload that was not its own and
        // excluded itself: not asked (most payloads an inspection sees come
        // after a miss). Rows that hold from the first payload only are
        // among these (their `misses_allowed` is 0, checked below).
        if !before.still_read(lane.misses_allowed, lane.pid) {
            continue;
        }
        if ports_ok(lane.ports, lane.range, flow)
            && let Some(h) = hit(r, lane.pid, (lane.detect)(flow, d))
            && before.allows(&h, src2dst)
        {
            debug_assert!(!lane.from_first || h.from_first, "{:?}", lane.pid);
            return Some(h);
        }
    }
    None
}

/// What a flow's inspection saw before this payload, for the rows that
/// hold only from the flow's first payload on ([`Match::First`],
/// [`Match::Run`], [`Match::BothWays`]): when such a row cannot hold, the
/// scan goes on to the next row, as nDPI goes on to its next dissector.
#[derive(Clone, Copy, Debug)]
pub struct Before {
    /// Every payload before was evidence (none was missed).
    pub clean: bool,
    /// Payloads before that no row took.
    pub misses: u8,
    /// The protocol earlier payloads spoke for, if any.
    pub cand: ProtoId,
}

impl Before {
    /// A flow's first payload.
    pub const FIRST: Before = Before {
        clean: true,
        misses: 0,
        cand: ProtoId::UNKNOWN,
    };

    /// Whether a rule of `pid` that holds from the first payload only may
    /// still hold: every payload before was evidence, for `pid` if any.
    fn may_continue(self, pid: ProtoId) -> bool {
        self.clean && (self.cand.is_unknown() || self.cand == pid)
    }

    /// Whether a row of `pid` that reads after `allowed` foreign payloads
    /// still reads: with none allowed, every payload before was its
    /// protocol's evidence.
    fn still_read(self, allowed: u8, pid: ProtoId) -> bool {
        if allowed == 0 {
            self.may_continue(pid)
        } else {
            self.misses <= allowed
        }
    }

    fn allows(self, h: &Hit, src2dst: bool) -> bool {
        if !h.from_first {
            return true;
        }
        let fresh = self.cand.is_unknown();
        if (h.continues && fresh) || (h.opens && !fresh) {
            return false;
        }
        // A request-and-answer rule starts with the flow's first direction.
        let opens = !h.both_ways || !fresh || src2dst;
        self.clean && opens && (fresh || (h.need > 0 && self.cand == h.master))
    }
}

/// Whether a row limited to `ports` (or `range`) applies to the flow.
#[inline]
fn ports_ok(ports: &[u16], range: Option<(u16, u16)>, flow: &FlowCtx) -> bool {
    match range {
        Some((lo, hi)) => (lo..=hi).contains(&flow.src_port) || (lo..=hi).contains(&flow.dst_port),
        None => ports.is_empty() || ports.iter().any(|p| either_port(flow, *p)),
    }
}

/// What a row's answer names, for the row's protocol `pid`.
#[inline]
fn hit(r: &Resolved, pid: ProtoId, m: Match) -> Option<Hit> {
    let (master, app, need, both_ways, from_first) = match m {
        Match::No => return None,
        Match::Yes => (pid, ProtoId::UNKNOWN, 1, false, false),
        Match::First => (pid, ProtoId::UNKNOWN, 0, false, true),
        Match::As(other) => (r.alt[other as usize], ProtoId::UNKNOWN, 1, false, false),
        Match::WithApp(app) => (pid, r.alt[app as usize], 1, false, false),
        Match::Count(n) => (pid, ProtoId::UNKNOWN, n.max(1), false, false),
        Match::Wait => (pid, ProtoId::UNKNOWN, super::WAIT_NEED, false, false),
        Match::Run(n) | Match::Continue(n) | Match::Open(n) => {
            (pid, ProtoId::UNKNOWN, n.max(2), false, true)
        }
        Match::BothWays(n) | Match::Answer(n) => (pid, ProtoId::UNKNOWN, n.max(2), true, true),
    };
    Some(Hit {
        master,
        app,
        need,
        both_ways,
        from_first,
        continues: matches!(m, Match::Continue(_) | Match::Answer(_)),
        opens: matches!(m, Match::Open(_)),
    })
}

/// What a row found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    /// Master protocol.
    pub master: ProtoId,
    /// Application, or Unknown.
    pub app: ProtoId,
    /// Packets of the flow that must say so before the label holds (1: this
    /// one; 0: this one, if it is the first payload inspected).
    pub need: u8,
    /// Those packets must include one of each direction.
    pub both_ways: bool,
    /// Every payload inspected before must have been evidence too.
    pub from_first: bool,
    /// It cannot be the first of that evidence ([`Match::Continue`]).
    pub continues: bool,
    /// It can only be the first of that evidence ([`Match::Open`]).
    pub opens: bool,
}

/// The first row of `table` that recognises `d`.
pub fn first_match(
    table: &'static [Detector],
    ids: &[ProtoId],
    flow: &FlowCtx,
    d: &[u8],
    src2dst: bool,
) -> Option<Hit> {
    first_match_after(table, ids, flow, d, src2dst, None)
}

/// The row that names `d` as a flow's first payload, or else as a payload
/// of a run of `pid`'s evidence (a row's own sample that only answers).
#[cfg(test)]
pub(crate) fn first_match_in_run_of(
    table: &'static [Detector],
    ids: &[ProtoId],
    flow: &FlowCtx,
    d: &[u8],
    src2dst: bool,
    pid: ProtoId,
) -> Option<Hit> {
    let own = Before {
        clean: true,
        misses: 0,
        cand: pid,
    };
    first_match_after(table, ids, flow, d, src2dst, Some(Before::FIRST))
        .or_else(|| first_match_after(table, ids, flow, d, src2dst, Some(own)))
}

/// [`first_match`], for a payload that comes after what `before` says
/// (None: any row's answer counts, as for a row's own sample).
pub fn first_match_after(
    table: &'static [Detector],
    ids: &[ProtoId],
    flow: &FlowCtx,
    d: &[u8],
    src2dst: bool,
    before: Option<Before>,
) -> Option<Hit> {
    let r = resolved();
    for (det, &pid) in table.iter().zip(ids) {
        let dir_ok = match det.dir {
            Dir::Either => true,
            Dir::Client => src2dst,
            Dir::Server => !src2dst,
        };
        if dir_ok
            && ports_ok(det.ports, det.range, flow)
            && let Some(h) = hit(r, pid, (det.detect)(flow, d))
            && before.is_none_or(|b| b.allows(&h, src2dst))
        {
            return Some(h);
        }
    }
    None
}
