//! Traffic strings in report.md: every character that could start Markdown
//! is escaped, and no line break survives.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let md = exitflow_analyze::render::md_text(&s);
    assert!(!md.contains('\n') && !md.contains('\r'));
    let b = md.as_bytes();
    for (i, c) in b.iter().enumerate() {
        if b"<>[]()!|`*_~&:@".contains(c) {
            // Preceded by an odd run of backslashes: escaped.
            let run = b[..i].iter().rev().take_while(|x| **x == b'\\').count();
            assert!(run % 2 == 1, "{md:?}");
        }
    }
});
