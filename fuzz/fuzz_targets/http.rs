//! HTTP request and response head parsing.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = exitflow_dpi::http::parser::request(data);
    let _ = exitflow_dpi::http::parser::response(data);
});
