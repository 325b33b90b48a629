//! What exitflow reads from tor and for tor: control-port replies (every
//! split of the bytes, as they arrive) and the kit's bandwidth values.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for cut in [data.len() / 3, data.len() / 2, data.len()] {
        if let Ok(Some((r, used))) = exitflow_enrich::torcontrol::parse_reply(&data[..cut]) {
            assert!(used <= cut);
            std::hint::black_box(r.lines.len());
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = exitflow_relay::torvalues::parse_bandwidth(text);
        let _ = exitflow_enrich::torcontrol::summarise(&text.lines().map(str::to_owned).collect::<Vec<_>>());
    }
});
