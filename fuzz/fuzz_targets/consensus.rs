//! Tor consensus documents (the relay list).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = exitflow_enrich::Consensus::parse(data);
});
