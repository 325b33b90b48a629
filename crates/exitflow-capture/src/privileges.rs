//! Giving up privileges once the capture sockets are open: the user switch
//! and every Linux capability (ambient, bounding, permitted, effective,
//! inheritable). A parser bug in a process that handles attacker-chosen
//! packets must find nothing left to abuse.
//!
//! System calls, hence `unsafe`; each block says why it is sound.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;

use crate::live::LiveError;

/// `capset` ABI version 3 (64-bit capability sets in two 32-bit words).
const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
/// Highest capability number probed in the bounding set; the kernel answers
/// `EINVAL` past its own last one.
const MAX_CAPABILITY: libc::c_ulong = 63;

/// The capability sets of one thread, as `/proc/<pid>/task/<tid>/status` shows them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// `CapInh`.
    pub inheritable: u64,
    /// `CapPrm`.
    pub permitted: u64,
    /// `CapEff`.
    pub effective: u64,
    /// `CapBnd`.
    pub bounding: u64,
    /// `CapAmb`.
    pub ambient: u64,
}

impl Capabilities {
    /// Reads the sets from the text of a `status` file; `None` if one is missing.
    pub fn parse(status: &str) -> Option<Capabilities> {
        let field = |name: &str| {
            status.lines().find_map(|l| {
                let v = l.strip_prefix(name)?.strip_prefix(':')?;
                u64::from_str_radix(v.trim(), 16).ok()
            })
        };
        Some(Capabilities {
            inheritable: field("CapInh")?,
            permitted: field("CapPrm")?,
            effective: field("CapEff")?,
            bounding: field("CapBnd")?,
            ambient: field("CapAmb")?,
        })
    }

    /// The calling thread's sets.
    pub fn current() -> io::Result<Capabilities> {
        let text = std::fs::read_to_string("/proc/thread-self/status")?;
        Capabilities::parse(&text)
            .ok_or_else(|| io::Error::other("/proc/thread-self/status: no capability lines"))
    }

    /// Whether no set holds any capability.
    pub fn is_empty(&self) -> bool {
        *self == Capabilities::default()
    }
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Clears the ambient set and as much of the bounding set as the thread may
/// (dropping from it needs `CAP_SETPCAP`); returns whether the bounding set
/// is now empty.
fn clear_ambient_and_bounding() -> bool {
    // SAFETY: prctl with integer arguments only; the result is checked. Old
    // kernels without ambient capabilities answer EINVAL, which leaves
    // nothing to clear.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        );
    }
    let mut empty = true;
    for cap in 0..=MAX_CAPABILITY {
        // SAFETY: prctl with integer arguments only.
        let held = unsafe { libc::prctl(libc::PR_CAPBSET_READ, cap, 0, 0, 0) };
        if held < 0 {
            break; // past the kernel's last capability
        }
        if held == 1 {
            // SAFETY: as above; EPERM (no CAP_SETPCAP) is reported by the result.
            let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) };
            empty &= r == 0;
        }
    }
    empty
}

/// Empties the permitted, effective and inheritable sets of the calling
/// thread and forbids gaining privileges through `execve`.
fn clear_thread_sets() -> io::Result<()> {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [CapData::default(); 2];
    // SAFETY: capset reads one header and two data structs (version 3), both
    // valid for the duration of the call; pid 0 is the calling thread.
    let r = unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: prctl with integer arguments only; the result is checked.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Gives up every capability of the process. Call it once the sockets are
/// open and before any thread starts (capabilities are per thread; threads
/// started later inherit the empty sets). Returns the sets left: all empty,
/// or the bounding set alone when the process lacked `CAP_SETPCAP` to clear
/// it (then `PR_SET_NO_NEW_PRIVS` still keeps `execve` from using it).
pub fn drop_capabilities() -> Result<Capabilities, LiveError> {
    let err = |why: String| LiveError::Capabilities { why };
    clear_ambient_and_bounding();
    clear_thread_sets().map_err(|e| err(format!("capset: {e}")))?;
    let left = Capabilities::current().map_err(|e| err(e.to_string()))?;
    if left.permitted | left.effective | left.inheritable | left.ambient != 0 {
        return Err(err(format!("still held: {left:?}")));
    }
    Ok(left)
}

/// Switches the process to an unprivileged user (and its primary group,
/// with no supplementary groups) after the sockets are open, with every
/// capability dropped first from the bounding and ambient sets (while
/// `CAP_SETPCAP` is still held) and then, by the switch, from the others.
/// Forbids regaining privileges. Call it before starting threads.
pub fn drop_privileges(user: &str) -> Result<(), LiveError> {
    let err = |why: String| LiveError::Privileges {
        user: user.to_owned(),
        why,
    };
    let name = CString::new(user).map_err(|_| err("name contains NUL".into()))?;
    // SAFETY: getpwnam reads a NUL-terminated string; its result points to
    // static storage that we copy from at once (no other thread runs yet).
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err(err("no such user".into()));
    }
    // SAFETY: `pw` is non-null and points to a valid passwd entry.
    let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    clear_ambient_and_bounding();
    // SAFETY: plain system calls with checked results; `&gid` is one valid gid_t.
    unsafe {
        if libc::setgroups(1, &gid) != 0 {
            return Err(err(format!("setgroups: {}", io::Error::last_os_error())));
        }
        if libc::setgid(gid) != 0 {
            return Err(err(format!("setgid: {}", io::Error::last_os_error())));
        }
        if libc::setuid(uid) != 0 {
            return Err(err(format!("setuid: {}", io::Error::last_os_error())));
        }
    }
    clear_thread_sets().map_err(|e| err(format!("capset: {e}")))?;
    // SAFETY: getuid/geteuid have no preconditions.
    let (r, e) = unsafe { (libc::getuid(), libc::geteuid()) };
    if r != uid || e != uid || (uid != 0 && setuid_root_succeeds()) {
        return Err(err("still privileged after setuid".into()));
    }
    Ok(())
}

fn setuid_root_succeeds() -> bool {
    // SAFETY: setuid(0) must fail once privileges are gone; if it succeeds the
    // drop did not take, and the caller reports an error.
    unsafe { libc::setuid(0) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sets_are_read_from_a_status_file() {
        let text = "Name:\tx\nCapInh:\t0000000000000000\nCapPrm:\t0000000000002000\n\
                    CapEff:\t0000000000002000\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000002000\n";
        let c = Capabilities::parse(text).unwrap();
        assert_eq!(c.permitted, 1 << 13); // CAP_NET_RAW
        assert_eq!(c.bounding, 0x1ff_ffff_ffff);
        assert!(!c.is_empty());
        assert_eq!(Capabilities::parse("CapInh:\t0\n"), None);
        assert!(Capabilities::current().is_ok());
    }
}
