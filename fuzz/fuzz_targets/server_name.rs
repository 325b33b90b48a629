//! Server names reduced to registrable domains: never an address.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    if let Some(d) = exitflow_output::policy::registrable_domain(&s) {
        assert!(d.parse::<std::net::IpAddr>().is_err(), "{d}");
        assert!(!d.is_empty() && !d.starts_with('.') && !d.contains(".."), "{d}");
    }
});
