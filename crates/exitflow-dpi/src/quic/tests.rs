//! QUIC tests with Initial packets encrypted here, as a client would.
use super::*;
use parser::client_initial_keys;

use crate::craft::{client_hello_message, client_initial as initial, crypto_frame};

#[test]
fn rfc9001_client_initial_keys() {
    // RFC 9001 appendix A.1: DCID 8394c8f03e515708.
    let dcid = [0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];
    let (key, iv, hp) = client_initial_keys(1, &dcid).unwrap();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    assert_eq!(hex(&key), "1f369613dd76d5467730efcbe3b1a22d");
    assert_eq!(hex(&iv), "fa044b2f42a3fd3b46fb255c");
    assert_eq!(hex(&hp), "9f50449e04a0e810283a1e9933adedd2");
}

#[test]
fn client_hello_in_one_initial() {
    for version in [1u32, 0x6b33_43cf, 0xff00_001d, 0xff00_001b] {
        let hs = client_hello_message("www.example.org", 0);
        let pkt = initial(version, &[1, 2, 3, 4, 5, 6, 7, 8], 0, &crypto_frame(0, &hs));
        let mut st = QuicState::default();
        assert!(
            matches!(st.client_datagram(&pkt), Step::ClientHello),
            "{version:x}"
        );
        assert_eq!(st.client_hello().unwrap().sni, Some("www.example.org"));
    }
}

#[test]
fn reordered_crypto_frames_split_over_two_packets() {
    // A post-quantum-sized ClientHello: does not fit one packet.
    let hs = client_hello_message("split.example.net", 1400);
    let dcid = [0xaa; 8];
    let (a, rest) = hs.split_at(500);
    let (b, c) = rest.split_at(700);
    // Packet 1 carries the last and the first pieces, in that order; packet 2 the middle.
    let mut f1 = crypto_frame(1200, c);
    f1.extend(crypto_frame(0, a));
    let p1 = initial(1, &dcid, 0, &f1);
    let p2 = initial(1, &dcid, 1, &crypto_frame(500, b));
    let mut st = QuicState::default();
    assert!(matches!(st.client_datagram(&p2), Step::Quic));
    assert!(st.client_hello().is_none());
    assert!(matches!(st.client_datagram(&p1), Step::ClientHello));
    assert_eq!(st.client_hello().unwrap().sni, Some("split.example.net"));
}

#[test]
fn garbage_is_not_quic_and_never_panics() {
    let mut st = QuicState::default();
    assert!(matches!(
        st.client_datagram(b"\x00\x01\x02 not quic"),
        Step::NotQuic
    ));
    let hs = client_hello_message("x.example", 0);
    let pkt = initial(1, &[7; 8], 0, &crypto_frame(0, &hs));
    for i in 0..pkt.len().min(120) {
        let mut p = pkt.clone();
        p[i] ^= 0x5a;
        let mut st = QuicState::default();
        let _ = st.client_datagram(&p);
        let _ = st.client_hello();
    }
    for n in 0..pkt.len() {
        let mut st = QuicState::default();
        let _ = st.client_datagram(&pkt[..n]);
    }
}
