//! The pcap/pcapng reader on arbitrary bytes: never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut r) = exitflow_capture::CaptureReader::from_reader(
        std::path::Path::new("fuzz"),
        std::io::Cursor::new(data.to_vec()),
    ) else {
        return;
    };
    let _ = r.for_each(|p| {
        std::hint::black_box(p.data.len());
        true
    });
});
