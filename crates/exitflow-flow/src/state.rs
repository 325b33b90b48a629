//! Zeek-style connection states, derived from the flags each side sent.
use super::{Flow, ipproto};

/// Connection state in Zeek's vocabulary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnState {
    /// Connection attempt seen, no reply.
    S0,
    /// Established, not terminated.
    S1,
    /// Established and terminated normally (or, without TCP, both sides spoke).
    SF,
    /// Connection attempt rejected (RST answering a SYN).
    Rej,
    /// Established, originator sent FIN, no FIN from the responder.
    S2,
    /// Established, responder sent FIN, no FIN from the originator.
    S3,
    /// Established, originator aborted (RST).
    Rsto,
    /// Established, responder aborted (RST).
    Rstr,
    /// Originator sent SYN then RST; no SYN-ACK.
    Rstos0,
    /// Responder sent SYN-ACK then RST; no SYN from the originator seen.
    Rstrh,
    /// Originator sent SYN then FIN; no SYN-ACK ("half open").
    Sh,
    /// Responder sent SYN-ACK then FIN; no SYN from the originator seen.
    Shr,
    /// No SYN seen: midstream traffic.
    Oth,
}

impl ConnState {
    /// Zeek's name for the state.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnState::S0 => "S0",
            ConnState::S1 => "S1",
            ConnState::SF => "SF",
            ConnState::Rej => "REJ",
            ConnState::S2 => "S2",
            ConnState::S3 => "S3",
            ConnState::Rsto => "RSTO",
            ConnState::Rstr => "RSTR",
            ConnState::Rstos0 => "RSTOS0",
            ConnState::Rstrh => "RSTRH",
            ConnState::Sh => "SH",
            ConnState::Shr => "SHR",
            ConnState::Oth => "OTH",
        }
    }
}

use exitflow_decode::tcp_flags::{ACK, FIN, RST, SYN};

pub(crate) fn conn_state(f: &Flow) -> ConnState {
    if f.protocol != ipproto::TCP {
        return if f.dst2src.packets > 0 {
            ConnState::SF
        } else {
            ConnState::S0
        };
    }
    let o = f.src2dst.flags_seen;
    let r = f.dst2src.flags_seen;
    if !f.syn_first {
        // Midstream, or we saw the responder's SYN-ACK first.
        if o & (SYN | ACK) == (SYN | ACK) && f.dst2src.packets == 0 {
            return if o & RST != 0 {
                ConnState::Rstrh
            } else if o & FIN != 0 {
                ConnState::Shr
            } else {
                ConnState::Oth
            };
        }
        return ConnState::Oth;
    }
    if !f.synack {
        return if r & RST != 0 {
            ConnState::Rej
        } else if o & RST != 0 {
            ConnState::Rstos0
        } else if o & FIN != 0 {
            ConnState::Sh
        } else if f.dst2src.packets == 0 {
            ConnState::S0
        } else {
            ConnState::Oth
        };
    }
    if o & RST != 0 {
        return ConnState::Rsto;
    }
    if r & RST != 0 {
        return ConnState::Rstr;
    }
    match (o & FIN != 0, r & FIN != 0) {
        (true, true) => ConnState::SF,
        (true, false) => ConnState::S2,
        (false, true) => ConnState::S3,
        (false, false) => ConnState::S1,
    }
}
