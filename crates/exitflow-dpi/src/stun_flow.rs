//! A STUN flow over its life: the application its messages (or Google's
//! relays) name, shared between a call's flows through the endpoint cache,
//! and what follows on the same flow — DTLS, SRTP, RTP — that renames it as
//! nDPI does ("DTLS.App", "SRTP.App", "STUN.RTP"). The message parser is
//! `detect::stun`.
use std::sync::Mutex;

use exitflow_decode::PacketInfo;

use crate::cache::StunCache;
use crate::detect::{self, Alt};
use crate::registry::{ProtoId, known};
use crate::{FlowCtx, FlowDpi};

/// Google's STUN/TURN servers' ports.
const GOOGLE_STUN_PORTS: std::ops::RangeInclusive<u16> = 19302..=19309;

/// Signal's relays: STUN on this port, past the first packets.
const SIGNAL_PORT: u16 = 10000;

/// A STUN flow's first message: STUN, with the application it names (or
/// Google's by port). Inspection goes on: later messages may name the
/// application, and DTLS or RTP on the same flow rename it (nDPI's
/// "DTLS.App", "SRTP.App", "STUN.RTP").
pub(crate) fn stun_found(
    st: &mut FlowDpi,
    flow: &FlowCtx,
    p: &PacketInfo<'_>,
    app: Option<Alt>,
    mapped: bool,
) {
    let k = known();
    let mut id = app.map(detect::alt).unwrap_or(ProtoId::UNKNOWN);
    let google_port = |port: u16| port == 3478 || GOOGLE_STUN_PORTS.contains(&port);
    if id.is_unknown()
        && (google_port(flow.src_port) || google_port(flow.dst_port))
        && (google_relay(&p.src) || google_relay(&p.dst))
    {
        id = k.google_call;
    }
    st.master = k.stun;
    st.app = id;
    stun_settled(st, mapped);
}

/// A STUN flow with an application teaches the cache its endpoints; one
/// without takes the application of an endpoint the cache knows.
pub(crate) fn stun_cache(st: &mut FlowDpi, p: &PacketInfo<'_>, cache: &Mutex<StunCache>) {
    let Ok(mut c) = cache.lock() else {
        return;
    };
    let ends = [(p.src, p.src_port), (p.dst, p.dst_port)];
    if st.app.is_unknown() || st.app == known().rtp {
        if let Some(app) = ends.iter().find_map(|e| c.get(e)) {
            st.app = app;
        }
    } else {
        for e in ends {
            c.put(e, st.app);
        }
    }
}

/// nDPI stops looking at a STUN flow once it has an application and the
/// client's mapped address (WhatsApp's calls go on to find SRTP); Zoom at once.
fn stun_settled(st: &mut FlowDpi, mapped: bool) {
    let k = known();
    if st.app == k.zoom || (mapped && !st.app.is_unknown() && st.app != k.whatsapp_call) {
        st.done = true;
    }
}

/// Google's call relays (nDPI's list): 74.125.250.0/24, 142.250.82.0/24,
/// 2001:4860:4864:5::/64 and 2001:4860:4864:6::/64.
fn google_relay(a: &exitflow_decode::Addr) -> bool {
    let v4 = a[4..].iter().all(|b| *b == 0);
    if v4 {
        return a[..3] == [74, 125, 250] || a[..3] == [142, 250, 82];
    }
    a[..6] == [0x20, 0x01, 0x48, 0x60, 0x48, 0x64] && a[6] == 0 && matches!(a[7], 5 | 6)
}

/// Later datagrams of a STUN flow, told apart by their first byte (RFC 7983).
pub(crate) fn stun_again(st: &mut FlowDpi, flow: &FlowCtx, d: &[u8]) {
    let k = known();
    match d[0] {
        0..=3 => {
            if let Some(s) = detect::stun::parse(d, false) {
                if let Some(app) = s.app {
                    st.app = detect::alt(app);
                }
                stun_settled(st, s.mapped);
            }
        }
        20..=63 if detect::stun::is_dtls(d) => {
            st.set(k.dtls, st.app);
        }
        128..=191 => {
            if let Some(detect::voip::Rtp::Rtp) = detect::voip::rtp_kind(d) {
                if st.app.is_unknown() {
                    st.set(k.stun, k.rtp);
                } else {
                    st.set(k.srtp, st.app);
                }
            }
        }
        _ => {}
    }
    if !st.done
        && st.app.is_unknown()
        && st.packets > 4
        && (flow.src_port == SIGNAL_PORT || flow.dst_port == SIGNAL_PORT)
    {
        st.app = k.signal_voip;
    }
}
