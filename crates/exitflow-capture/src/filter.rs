//! tcpdump-style filter expressions for live capture (cargo feature
//! `libpcap`): libpcap compiles the expression into classic BPF, which is
//! attached to each live socket, so the kernel drops what the filter rejects
//! before it reaches the ring.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char, c_int, c_uint, c_void};

use crate::LinkType;
use crate::live::LiveError;

#[repr(C)]
struct BpfProgram {
    bf_len: c_uint,
    bf_insns: *mut libc::sock_filter,
}

#[link(name = "pcap")]
unsafe extern "C" {
    fn pcap_open_dead(linktype: c_int, snaplen: c_int) -> *mut c_void;
    fn pcap_compile(
        p: *mut c_void,
        fp: *mut BpfProgram,
        s: *const c_char,
        optimize: c_int,
        netmask: u32,
    ) -> c_int;
    fn pcap_freecode(fp: *mut BpfProgram);
    fn pcap_geterr(p: *mut c_void) -> *const c_char;
    fn pcap_close(p: *mut c_void);
}

/// `PCAP_NETMASK_UNKNOWN`: broadcast tests are not supported.
const NETMASK_UNKNOWN: u32 = 0xffff_ffff;
/// What a matching packet keeps: all of it.
const SNAPLEN: c_int = 262_144;

/// A compiled filter.
#[derive(Clone, Debug)]
pub struct Filter {
    /// The expression, as given.
    pub expression: String,
    /// The classic BPF program.
    pub program: Vec<libc::sock_filter>,
}

/// Compiles `expression` for frames of `link` (Ethernet or raw IP).
pub fn compile(expression: &str, link: LinkType) -> Result<Filter, LiveError> {
    let bad = |why: String| LiveError::BadFilter {
        expression: expression.to_owned(),
        why,
    };
    let dlt = match link {
        LinkType::ETHERNET => 1,
        // DLT_RAW as libpcap numbers it on Linux.
        LinkType::RAW => 12,
        other => return Err(bad(format!("no filters for link type {}", other.0))),
    };
    let expr = CString::new(expression).map_err(|_| bad("contains a NUL byte".into()))?;
    // SAFETY: pcap_open_dead has no preconditions; a null result is checked.
    let p = unsafe { pcap_open_dead(dlt, SNAPLEN) };
    if p.is_null() {
        return Err(bad("libpcap could not be initialised".into()));
    }
    let mut prog = BpfProgram {
        bf_len: 0,
        bf_insns: std::ptr::null_mut(),
    };
    // SAFETY: `p` is a live handle, `prog` is writable, `expr` is a
    // NUL-terminated string that outlives the call.
    let r = unsafe { pcap_compile(p, &mut prog, expr.as_ptr(), 1, NETMASK_UNKNOWN) };
    let result = if r != 0 {
        // SAFETY: after a failed compile, pcap_geterr returns a NUL-terminated
        // message owned by the handle, copied before the handle is closed.
        let msg = unsafe { CStr::from_ptr(pcap_geterr(p)) };
        Err(bad(msg.to_string_lossy().into_owned()))
    } else {
        // SAFETY: a successful compile leaves `bf_len` instructions at
        // `bf_insns`; they are copied out before pcap_freecode releases them.
        let insns = unsafe { std::slice::from_raw_parts(prog.bf_insns, prog.bf_len as usize) };
        let program = insns.to_vec();
        // SAFETY: frees what pcap_compile allocated, once.
        unsafe { pcap_freecode(&mut prog) };
        Ok(Filter {
            expression: expression.to_owned(),
            program,
        })
    };
    // SAFETY: closes the handle opened above, once; nothing refers to it after.
    unsafe { pcap_close(p) };
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_compile_and_mistakes_are_named() {
        let f = compile("udp port 53 or tcp port 443", LinkType::ETHERNET).unwrap();
        assert!(f.program.len() > 4);
        assert_eq!(
            f.program.last().unwrap().code & 0x07,
            0x06,
            "ends in a return"
        );
        let e = compile("udp prot 53", LinkType::ETHERNET).unwrap_err();
        assert!(e.to_string().starts_with("filter \"udp prot 53\": "), "{e}");
        assert!(compile("host 192.0.2.1", LinkType::RAW).is_ok());
    }
}
