//! QUIC long headers, Initial decryption attempts and CRYPTO reassembly over
//! a sequence of datagrams (split at 0xff 0xfe markers).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = exitflow_dpi::quic::parser::long_header(data);
    let _ = exitflow_dpi::quic::parser::crypto_frames(data, |_, _| {});
    let mut st = exitflow_dpi::quic::QuicState::default();
    for d in data.split(|b| *b == 0xfe).filter(|d| !d.is_empty()) {
        let _ = st.client_datagram(d);
        let _ = st.client_hello();
    }
});
