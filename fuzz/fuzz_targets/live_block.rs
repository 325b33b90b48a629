//! A TPACKET_V3 ring block as the kernel might write it, on arbitrary bytes:
//! every offset is bounds-checked, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut scratch = Vec::new();
    for link in [
        exitflow_capture::LinkType::ETHERNET,
        exitflow_capture::LinkType::RAW,
    ] {
        exitflow_capture::live::parse_block(data, link, &mut scratch, &mut |p| {
            std::hint::black_box(p.data.len());
        });
    }
});
