//! DNS message parsing.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = exitflow_dpi::dns::parser::message(data);
});
