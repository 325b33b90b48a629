//! STARTTLS: mail and FTP sessions that turn into TLS. nDPI names them by
//! the protocol's TLS form once the client has asked for TLS (SMTP and
//! IMAP `STARTTLS`, POP3 `STLS`, FTP `AUTH TLS` or `AUTH SSL`) and the
//! server has said yes (`220`, `<tag> OK`, `+OK`, `234`; a refusal leaves
//! the flow plain), and the service by the ClientHello that follows
//! (`SMTPS.Google`, `FTPS.Huawei`).
use crate::detect::starts_ci;
use crate::parse::Parse;
use crate::registry::{Known, ProtoId, known};
use crate::tls::naming::tls_app;
use crate::tls::parser::{HS_CLIENT_HELLO, client_hello, first_handshake, looks_like_record};
use crate::{FlowCtx, FlowDpi, Need};

/// How a plain protocol asks for TLS and how its server says yes: the
/// commands (any case), whether they follow a tag (IMAP), and the reply.
struct Upgrade {
    plain: fn(&Known) -> ProtoId,
    secure: fn(&Known) -> ProtoId,
    asks: &'static [&'static [u8]],
    tagged: bool,
    yes: &'static [u8],
}

const UPGRADES: [Upgrade; 4] = [
    Upgrade {
        plain: |k| k.smtp,
        secure: |k| k.smtps,
        asks: &[b"STARTTLS"],
        tagged: false,
        yes: b"220",
    },
    Upgrade {
        plain: |k| k.imap,
        secure: |k| k.imaps,
        asks: &[b"STARTTLS"],
        tagged: true,
        yes: b"OK ",
    },
    Upgrade {
        plain: |k| k.pop3,
        secure: |k| k.pops,
        asks: &[b"STLS"],
        tagged: false,
        yes: b"+OK",
    },
    Upgrade {
        plain: |k| k.ftp_control,
        secure: |k| k.ftps,
        asks: &[b"AUTH TLS", b"AUTH SSL"],
        tagged: false,
        yes: b"234",
    },
];

fn upgrade(plain: ProtoId) -> Option<&'static Upgrade> {
    let k = known();
    UPGRADES.iter().find(|u| (u.plain)(k) == plain)
}

/// Whether `d` (after its tag, for tagged protocols) starts with `word`.
fn says(u: &Upgrade, d: &[u8], word: &[u8]) -> bool {
    let d = if u.tagged {
        match d.iter().position(|&b| b == b' ') {
            Some(i) => &d[i + 1..],
            None => return false,
        }
    } else {
        d
    };
    starts_ci(d, word)
}

/// The port on which nDPI 5.0 watches an RDP connection for the TLS that
/// follows its negotiation.
pub const RDP_PORT: u16 = 3389;

/// Where nDPI 5.0 reads the requested protocols of a connection request
/// (right for one that carries a cookie), and the bit asking for TLS.
const RDP_REQUESTED_AT: usize = 43;
const RDP_PROTOCOL_SSL: u8 = 0x01;

/// An RDP connection request to its port that nDPI names at once (a cookie,
/// then a negotiation asking for TLS): a ClientHello after it makes the flow
/// TLS carrying RDP, whatever the server name. A shorter request is named
/// on the answer and stays RDP (both measured with nDPI's library).
pub(crate) fn rdp_then_tls(master: ProtoId, flow: &FlowCtx, request: &[u8]) -> bool {
    master == known().rdp
        && flow.dst_port == RDP_PORT
        && request
            .get(RDP_REQUESTED_AT)
            .is_some_and(|b| b & RDP_PROTOCOL_SSL != 0)
}

/// The TLS form of a protocol that can turn into TLS, if it is one.
pub(crate) fn secure_form(master: ProtoId) -> Option<ProtoId> {
    upgrade(master).map(|u| (u.secure)(known()))
}

/// Whether a client's command asks for TLS, for the plain protocol `plain`.
pub(crate) fn asks_for_tls(plain: ProtoId, d: &[u8]) -> bool {
    upgrade(plain).is_some_and(|u| u.asks.iter().any(|w| says(u, d, w)))
}

/// Whether a server's reply accepts the request for TLS, for `plain`.
pub(crate) fn accepts_tls(plain: ProtoId, d: &[u8]) -> bool {
    upgrade(plain).is_some_and(|u| says(u, d, u.yes))
}

/// A packet of a session whose protocol is still a candidate (POP3 wants
/// three answers): a request for TLS is noted, and the server's yes to it
/// names the TLS form at once, as nDPI 5.0 names POPS. Whether the packet
/// was taken.
pub(crate) fn candidate_packet(st: &mut FlowDpi, d: &[u8], src2dst: bool) -> bool {
    let Some(cand) = st.ext.as_ref().map(|e| e.cand) else {
        return false;
    };
    let Some(secure) = secure_form(cand) else {
        return false;
    };
    let e = st.ext();
    if src2dst {
        let asks = asks_for_tls(cand, d);
        e.starttls_asked |= asks;
        return asks;
    }
    // The server's next answer decides, whatever it says (a refusal, and
    // the session goes on in the clear).
    let asked = std::mem::take(&mut e.starttls_asked);
    if asked && accepts_tls(cand, d) {
        st.set(secure, ProtoId::UNKNOWN);
        // The ClientHello that follows names the service.
        st.want_starttls = true;
        return true;
    }
    false
}

/// A client packet of a labelled mail or FTP session: the command that
/// asks for TLS is noted; once the server said yes, the ClientHello names
/// the service (or leaves it to the server's certificate).
pub(crate) fn client_packet(st: &mut FlowDpi, flow: &FlowCtx, d: &[u8]) -> Need {
    if secure_form(st.master).is_some() {
        if asks_for_tls(st.master, d) {
            st.ext().starttls_asked = true;
        }
        return Need::Nothing;
    }
    if !looks_like_record(d) {
        return Need::Nothing;
    }
    let mut scratch = std::mem::take(&mut st.ext().scratch);
    let r = match first_handshake(d, &mut scratch) {
        Parse::Done((HS_CLIENT_HELLO, body)) => {
            if let Parse::Done(ch) = client_hello(body) {
                let sni = ch.sni.map(str::to_owned);
                if st.master == known().rdp {
                    st.master = known().tls;
                    st.app = known().rdp;
                    st.want_cert = false;
                } else {
                    let app = tls_app(flow, ch.sni);
                    st.app = app;
                    st.want_cert = app.is_unknown();
                }
                st.want_starttls = false;
                st.meta().server_name = sni;
            }
            Need::Nothing
        }
        // A ClientHello over several segments (post-quantum key shares):
        // the stream cap bounds the wait.
        Parse::Incomplete(_) => Need::More,
        _ => Need::Nothing,
    };
    st.ext().scratch = scratch;
    r
}

/// A server packet of a labelled mail or FTP session whose client asked
/// for TLS: a yes names the flow by the protocol's TLS form.
pub(crate) fn server_packet(st: &mut FlowDpi, d: &[u8]) -> Need {
    let asked = st.ext.as_ref().is_some_and(|e| e.starttls_asked);
    if let Some(secure) = secure_form(st.master)
        && asked
    {
        if accepts_tls(st.master, d) {
            st.master = secure;
        }
        st.ext().starttls_asked = false;
    }
    Need::Nothing
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each protocol's own command, in any case, and no other's.
    #[test]
    fn each_protocol_asks_and_agrees_with_its_own_words() {
        let k = known();
        assert!(asks_for_tls(k.smtp, b"starttls\r\n"));
        assert!(!asks_for_tls(k.smtp, b"a1 STARTTLS\r\n"));
        assert!(asks_for_tls(k.imap, b"a1 StartTLS\r\n"));
        assert!(!asks_for_tls(k.imap, b"a1 LOGIN x y\r\n"));
        assert!(asks_for_tls(k.pop3, b"STLS\r\n"));
        assert!(asks_for_tls(k.ftp_control, b"AUTH TLS\r\n"));
        assert!(asks_for_tls(k.ftp_control, b"auth ssl\r\n"));
        assert!(!asks_for_tls(k.ftp_control, b"STARTTLS\r\n"));
        assert!(!asks_for_tls(k.http, b"STARTTLS\r\n"));
        assert!(accepts_tls(k.smtp, b"220 2.0.0 Ready\r\n"));
        assert!(!accepts_tls(k.smtp, b"454 4.7.0 no\r\n"));
        assert!(accepts_tls(k.imap, b"a1 OK Begin\r\n"));
        assert!(!accepts_tls(k.imap, b"a1 NO never\r\n"));
        assert!(accepts_tls(k.pop3, b"+OK\r\n"));
        assert!(!accepts_tls(k.pop3, b"-ERR\r\n"));
        assert!(accepts_tls(k.ftp_control, b"234 AUTH TLS OK\r\n"));
        assert!(!accepts_tls(k.ftp_control, b"500 no\r\n"));
        assert_eq!(secure_form(k.imap), Some(k.imaps));
        assert_eq!(secure_form(k.tls), None);
        // Every prefix of a command is refused or taken, never a panic.
        for cmd in [&b"a1 STARTTLS"[..], b"AUTH TLS", b"STLS"] {
            for n in 0..cmd.len() {
                let _ = asks_for_tls(k.imap, &cmd[..n]);
                let _ = asks_for_tls(k.ftp_control, &cmd[..n]);
                let _ = accepts_tls(k.imap, &cmd[..n]);
            }
        }
    }
}
