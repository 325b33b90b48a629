//! Reader tests over captures built byte by byte here, so they stand alone.
use super::*;

fn legacy(big_endian: bool, nanos: bool, link: u32, pkts: &[(u32, u32, &[u8])]) -> Vec<u8> {
    let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
    let mut out = Vec::new();
    let put32 = |o: &mut Vec<u8>, v: u32| {
        if big_endian {
            o.extend_from_slice(&v.to_be_bytes())
        } else {
            o.extend_from_slice(&v.to_le_bytes())
        }
    };
    let put16 = |o: &mut Vec<u8>, v: u16| {
        if big_endian {
            o.extend_from_slice(&v.to_be_bytes())
        } else {
            o.extend_from_slice(&v.to_le_bytes())
        }
    };
    put32(&mut out, magic);
    put16(&mut out, 2);
    put16(&mut out, 4);
    put32(&mut out, 0);
    put32(&mut out, 0);
    put32(&mut out, 65535);
    put32(&mut out, link);
    for (sec, frac, data) in pkts {
        put32(&mut out, *sec);
        put32(&mut out, *frac);
        put32(&mut out, data.len() as u32);
        put32(&mut out, data.len() as u32 + 10);
        out.extend_from_slice(data);
    }
    out
}

fn ng_block(kind: u32, body: &[u8]) -> Vec<u8> {
    let pad = (4 - body.len() % 4) % 4;
    let total = 12 + body.len() + pad;
    let mut b = Vec::new();
    b.extend_from_slice(&kind.to_le_bytes());
    b.extend_from_slice(&(total as u32).to_le_bytes());
    b.extend_from_slice(body);
    b.extend(std::iter::repeat_n(0u8, pad));
    b.extend_from_slice(&(total as u32).to_le_bytes());
    b
}

fn pcapng_two_interfaces() -> Vec<u8> {
    let mut out = Vec::new();
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    out.extend(ng_block(0x0a0d_0d0a, &shb));
    // Interface 0: Ethernet, default microseconds.
    let mut idb = Vec::new();
    idb.extend_from_slice(&1u16.to_le_bytes());
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&0u32.to_le_bytes());
    out.extend(ng_block(1, &idb));
    // Interface 1: raw IP, nanoseconds (if_tsresol = 9).
    let mut idb = Vec::new();
    idb.extend_from_slice(&101u16.to_le_bytes());
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&0u32.to_le_bytes());
    idb.extend_from_slice(&9u16.to_le_bytes()); // if_tsresol
    idb.extend_from_slice(&1u16.to_le_bytes());
    idb.extend_from_slice(&[9, 0, 0, 0]);
    idb.extend_from_slice(&[0, 0, 0, 0]); // opt_endofopt
    out.extend(ng_block(1, &idb));
    for (ifid, ts, data) in [
        (0u32, 1_600_000_000_000_123u64, &b"abc"[..]),
        (1, 1_600_000_001_000_456_789, &b"hello"[..]),
    ] {
        let mut epb = Vec::new();
        epb.extend_from_slice(&ifid.to_le_bytes());
        epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(ts as u32).to_le_bytes());
        epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
        epb.extend_from_slice(data);
        out.extend(ng_block(6, &epb));
    }
    out
}

/// (timestamp µs, original length, link type, bytes) of each packet read.
type Pkts = Vec<(u64, u32, u32, Vec<u8>)>;

fn collect(bytes: Vec<u8>) -> Result<(Pkts, ReadStats), CaptureError> {
    let mut r = CaptureReader::from_reader(Path::new("mem.pcap"), std::io::Cursor::new(bytes))?;
    let mut v = Vec::new();
    r.for_each(|p| {
        v.push((p.ts_us, p.orig_len, p.link_type.0, p.data.to_vec()));
        true
    })?;
    Ok((v, r.stats()))
}

#[test]
fn legacy_both_byte_orders_and_resolutions() {
    for be in [false, true] {
        for nanos in [false, true] {
            let frac = if nanos { 123_456_789 } else { 123_456 };
            let bytes = legacy(be, nanos, 113, &[(10, frac, b"xyz"), (11, 0, b"")]);
            let (pkts, stats) = collect(bytes).unwrap();
            assert_eq!(pkts.len(), 2, "be={be} ns={nanos}");
            assert_eq!(pkts[0].0, 10_123_456);
            assert_eq!(pkts[0].1, 13);
            assert_eq!(pkts[0].2, 113);
            assert_eq!(pkts[0].3, b"xyz");
            assert_eq!(pkts[1].0, 11_000_000);
            assert!(!stats.truncated_tail);
        }
    }
}

#[test]
fn pcapng_per_interface_link_type_and_resolution() {
    let (pkts, _) = collect(pcapng_two_interfaces()).unwrap();
    assert_eq!(pkts.len(), 2);
    assert_eq!((pkts[0].0, pkts[0].2), (1_600_000_000_000_123, 1));
    assert_eq!(&pkts[0].3[..], b"abc");
    assert_eq!((pkts[1].0, pkts[1].2), (1_600_000_001_000_456, 101));
    assert_eq!(&pkts[1].3[..], b"hello");
}

#[test]
fn truncated_tail_is_counted_not_fatal() {
    let mut bytes = legacy(false, false, 1, &[(1, 0, b"abcdef"), (2, 0, b"ghijkl")]);
    bytes.truncate(bytes.len() - 3);
    let (pkts, stats) = collect(bytes).unwrap();
    assert_eq!(pkts.len(), 1);
    assert!(stats.truncated_tail);
}

#[test]
fn garbage_and_empty_are_named_errors() {
    let e = collect(b"this is not a capture file at all, not at all".to_vec()).unwrap_err();
    assert!(matches!(e, CaptureError::NotACapture { .. }), "{e}");
    assert!(e.to_string().starts_with("mem.pcap:"));
    let e = collect(Vec::new()).unwrap_err();
    assert!(matches!(e, CaptureError::Empty { .. }), "{e}");
}

#[test]
fn huge_block_length_is_an_error_not_an_allocation() {
    let mut bytes = legacy(false, false, 1, &[]);
    bytes.extend_from_slice(&1u32.to_le_bytes());
    bytes.extend_from_slice(&0u32.to_le_bytes());
    bytes.extend_from_slice(&0x7fff_fff0u32.to_le_bytes());
    bytes.extend_from_slice(&0x7fff_fff0u32.to_le_bytes());
    bytes.extend_from_slice(&[0u8; 64]);
    // The claimed length runs past the end: a truncated tail and no packet,
    // or an error naming the capture; never a panic nor a 2 GiB allocation.
    match collect(bytes) {
        Ok((pkts, stats)) => assert!(pkts.is_empty() && stats.truncated_tail, "{stats:?}"),
        Err(e) => assert!(e.to_string().starts_with("mem.pcap"), "{e}"),
    }
}

#[test]
fn every_truncation_of_a_pcapng_is_handled() {
    let full = pcapng_two_interfaces();
    let (all, _) = collect(full.clone()).unwrap();
    assert!(!all.is_empty());
    for n in 0..full.len() {
        // Every prefix: no panic, and what is read is the whole file's
        // first packets (a truncated tail loses the rest, never alters them).
        if let Ok((pkts, _)) = collect(full[..n].to_vec()) {
            assert!(
                pkts.len() <= all.len() && pkts[..] == all[..pkts.len()],
                "prefix {n}"
            );
        }
    }
}
