//! Flow table tests with packets made directly as `PacketInfo`.
use super::*;
use exitflow_decode::Tunnel;

fn addr(last: u8) -> Addr {
    let mut a = [0u8; 16];
    a[..4].copy_from_slice(&[203, 0, 113, last]);
    a
}

fn pkt(src: u8, sp: u16, dst: u8, dp: u16, proto: u8, flags: u8) -> PacketInfo<'static> {
    PacketInfo {
        ip_version: 4,
        src: addr(src),
        dst: addr(dst),
        protocol: proto,
        src_port: sp,
        dst_port: dp,
        vlan_id: 0,
        tunnel_id: 0,
        tunnel: Tunnel::None,
        tcp_flags: flags,
        tcp_seq: 0,
        ip_len: 40,
        truncated: false,
        payload: &[],
    }
}

use exitflow_decode::tcp_flags::{ACK, FIN, RST, SYN};
const S: u64 = 1_000_000; // one second in µs

fn run(cfg: FlowConfig, pkts: &[(u64, PacketInfo<'static>)]) -> (Vec<Flow>, FlowTable) {
    let mut t: FlowTable = FlowTable::new(cfg);
    let mut out = Vec::new();
    for (ts, p) in pkts {
        t.process(p, *ts, 60, &mut |f, _| out.push(f));
    }
    t.flush(&mut |f, _| out.push(f));
    (out, t)
}

#[test]
fn both_directions_make_one_flow_and_the_first_packet_is_the_source() {
    let c2s = pkt(1, 40000, 2, 443, 6, SYN);
    let s2c = pkt(2, 443, 1, 40000, 6, SYN | ACK);
    let (flows, t) = run(
        FlowConfig::default(),
        &[
            (10 * S, c2s),
            (10 * S + 5000, s2c),
            (10 * S + 9000, pkt(1, 40000, 2, 443, 6, ACK)),
        ],
    );
    assert_eq!(flows.len(), 1);
    let f = &flows[0];
    assert_eq!((f.src, f.src_port, f.dst_port), (addr(1), 40000, 443));
    assert_eq!(
        (f.src2dst.packets, f.dst2src.packets, f.bytes()),
        (2, 1, 180)
    );
    assert_eq!(
        (f.first_seen_ms, f.last_seen_ms, f.duration_ms()),
        (10_000, 10_009, 9)
    );
    assert_eq!(f.end_reason, EndReason::EndOfInput);
    assert_eq!(f.conn_state(), ConnState::S1);
    assert_eq!((f.flags.syn, f.flags.ack), (2, 2));
    assert!(f.is_failed());
    assert_eq!(t.stats().failed_flows, 1);
}

#[test]
fn idle_timeout_splits_at_exactly_the_timeout() {
    let p = pkt(1, 1000, 2, 53, 17, 0);
    let idle = DEFAULT_IDLE_TIMEOUT_MS * 1000;
    // A gap one ms short of the timeout keeps one flow; the full timeout splits.
    let (flows, _) = run(FlowConfig::default(), &[(0, p), (idle - 1000, p)]);
    assert_eq!(flows.len(), 1);
    let (flows, t) = run(FlowConfig::default(), &[(0, p), (idle, p)]);
    assert_eq!(flows.len(), 2);
    assert_eq!(flows[0].end_reason, EndReason::Idle);
    assert_eq!(t.stats().expired_idle, 1);
}

#[test]
fn active_timeout_splits_long_flows() {
    let p = pkt(1, 1000, 2, 53, 17, 0);
    let pkts: Vec<_> = (0..=40).map(|i| (i * 60 * S, p)).collect(); // one per minute for 40 min
    let (flows, t) = run(FlowConfig::default(), &pkts);
    assert_eq!(flows.len(), 2);
    assert_eq!(flows[0].end_reason, EndReason::Active);
    assert_eq!(flows[0].packets(), 30);
    assert_eq!(flows[1].packets(), 11);
    assert_eq!(t.stats().expired_active, 1);
}

#[test]
fn vlan_and_tunnel_are_part_of_the_key() {
    let mut a = pkt(1, 1000, 2, 53, 17, 0);
    let mut b = a;
    b.vlan_id = 7;
    let mut c = a;
    c.tunnel_id = 1;
    a.ip_len = 50;
    let (flows, _) = run(FlowConfig::default(), &[(0, a), (1, b), (2, c)]);
    assert_eq!(flows.len(), 3);
}

#[test]
fn full_table_evicts_unanswered_attempts_first() {
    let cfg = FlowConfig {
        max_flows: 10,
        ..FlowConfig::default()
    };
    let mut pkts = Vec::new();
    // One established flow, then a flood of SYNs from distinct sources.
    pkts.push((0, pkt(1, 40000, 2, 443, 6, SYN)));
    pkts.push((1000, pkt(2, 443, 1, 40000, 6, SYN | ACK)));
    for i in 0..100u16 {
        pkts.push((
            2000 + u64::from(i),
            pkt(10 + (i % 200) as u8, 1000 + i, 2, 80, 6, SYN),
        ));
    }
    pkts.push((5000, pkt(1, 40000, 2, 443, 6, ACK)));
    let (flows, t) = run(cfg, &pkts);
    let s = t.stats();
    assert!(s.peak_active <= 10);
    assert_eq!(s.flows_created, 101);
    assert_eq!(s.flows_exported, s.flows_created);
    assert_eq!(flows.len() as u64, s.flows_created);
    assert_eq!(s.evicted, 91);
    assert_eq!(s.evicted_unanswered, 91);
    // The established flow survived the flood whole.
    let est = flows.iter().find(|f| f.dst_port == 443).unwrap();
    assert_eq!(est.packets(), 3);
    assert_eq!(est.end_reason, EndReason::EndOfInput);
}

#[test]
fn half_open_attempts_expire_sooner() {
    let syn = pkt(1, 40000, 2, 443, 6, SYN);
    let other = pkt(3, 1000, 4, 53, 17, 0);
    let ho = DEFAULT_HALF_OPEN_TIMEOUT_MS * 1000;
    let (flows, t) = run(FlowConfig::default(), &[(0, syn), (ho + S, other)]);
    assert_eq!(flows.len(), 2);
    assert_eq!(t.stats().expired_half_open, 1);
    assert_eq!(flows[0].end_reason, EndReason::Idle);
    assert_eq!(flows[0].conn_state(), ConnState::S0);
    // SYN retries within the schedule stay one flow.
    let retries: Vec<_> = [0, 1, 3, 7, 15, 31, 63]
        .iter()
        .map(|s| (s * S, syn))
        .collect();
    let (flows, _) = run(FlowConfig::default(), &retries);
    assert_eq!(flows.len(), 1);
}

#[test]
fn time_going_backwards_is_clamped() {
    let p = pkt(1, 1000, 2, 53, 17, 0);
    let (flows, t) = run(FlowConfig::default(), &[(100 * S, p), (50 * S, p)]);
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0].duration_ms(), 0);
    assert_eq!(t.stats().time_regressions, 1);
}

#[test]
fn connection_states() {
    let c = |f| pkt(1, 40000, 2, 80, 6, f);
    let s = |f| pkt(2, 80, 1, 40000, 6, f);
    let cases: &[(&[PacketInfo<'static>], ConnState)] = &[
        (&[c(SYN)], ConnState::S0),
        (&[c(SYN), s(RST | ACK)], ConnState::Rej),
        (
            &[
                c(SYN),
                s(SYN | ACK),
                c(ACK),
                c(FIN | ACK),
                s(FIN | ACK),
                c(ACK),
            ],
            ConnState::SF,
        ),
        (&[c(SYN), s(SYN | ACK), c(ACK), c(RST)], ConnState::Rsto),
        (&[c(SYN), s(SYN | ACK), c(ACK), s(RST)], ConnState::Rstr),
        (&[c(SYN), s(SYN | ACK), c(ACK), c(FIN | ACK)], ConnState::S2),
        (&[c(SYN), c(RST)], ConnState::Rstos0),
        (&[c(SYN), c(FIN)], ConnState::Sh),
        (&[c(ACK), s(ACK)], ConnState::Oth),
    ];
    for (pkts, want) in cases {
        let seq: Vec<_> = pkts
            .iter()
            .enumerate()
            .map(|(i, p)| (i as u64 * 1000, *p))
            .collect();
        let (flows, _) = run(FlowConfig::default(), &seq);
        assert_eq!(flows[0].conn_state(), *want, "{pkts:?}");
    }
    let (flows, _) = run(FlowConfig::default(), &[(0, pkt(1, 5, 2, 53, 17, 0))]);
    assert_eq!(flows[0].conn_state(), ConnState::S0);
}

proptest::proptest! {
    /// Whatever the packets, every flow created is exported exactly once and
    /// the packet counts add up.
    #[test]
    fn conservation(seq in proptest::collection::vec((0u8..6, 0u8..6, 0u64..200, proptest::bool::ANY), 1..400), cap in 1usize..8) {
        let cfg = FlowConfig { max_flows: cap, ..FlowConfig::default() };
        let mut t: FlowTable = FlowTable::new(cfg);
        let mut out = Vec::new();
        let mut ts = 0;
        for (a, b, dt, syn) in &seq {
            ts += dt * S;
            let p = pkt(*a, 1000 + u16::from(*a), *b, 80, 6, if *syn { SYN } else { ACK });
            t.process(&p, ts, 60, &mut |f, _| out.push(f));
            proptest::prop_assert!(t.active() <= cap);
        }
        t.flush(&mut |f, _| out.push(f));
        let s = *t.stats();
        proptest::prop_assert_eq!(out.len() as u64, s.flows_created);
        proptest::prop_assert_eq!(s.flows_exported, s.flows_created);
        proptest::prop_assert_eq!(out.iter().map(|f| f.packets()).sum::<u64>(), seq.len() as u64);
        proptest::prop_assert_eq!(s.expired_idle + s.expired_active + s.flushed + s.evicted, s.flows_exported);
    }
}

#[test]
fn default_cap_keeps_the_table_small() {
    // The default cap times the per-flow footprint stays well under 128 MiB,
    // leaving room for per-flow inspection state.
    let bytes = DEFAULT_MAX_FLOWS * FlowTable::<()>::bytes_per_flow();
    assert!(bytes < 96 << 20, "{bytes}");
}
