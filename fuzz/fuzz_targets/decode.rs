//! The frame decoder on arbitrary frames of every link type it knows.
#![no_main]
use exitflow_capture::LinkType;
use libfuzzer_sys::fuzz_target;

const LINKS: [u32; 12] = [0, 1, 9, 12, 14, 50, 101, 104, 108, 113, 228, 276];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, frame)) = data.split_first() else { return };
    let link = LinkType(LINKS[usize::from(sel) % LINKS.len()]);
    let _ = exitflow_decode::decode(link, frame, &Default::default());
});
