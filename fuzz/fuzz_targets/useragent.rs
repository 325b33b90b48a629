//! User-agent families and content types: whatever a client sends, the
//! result is from the public vocabulary.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let f = exitflow_output::useragent::family_only(&s);
    assert!(exitflow_output::useragent::vocabulary().binary_search(&f).is_ok(), "{f}");
    let _ = exitflow_output::useragent::family(&s);
    let _ = exitflow_output::useragent::content_type(&s);
});
