//! STARTTLS: mail and FTP sessions that turn into TLS. nDPI names them by
//! the protocol's TLS form once the client has asked for TLS (SMTP and
//! IMAP `STARTTLS`, POP3 `STLS`, FTP `AUTH TLS` or `AUTH SSL`) and the
//! server has said yes (`220`, `<tag> OK`, `+OK`, `234`; a refusal leaves
//! the flow plain), and the service by the ClientHello that follows
//! (`SMTPS.Google`, `FTPS.Huawei`).
use crate::parse::Parse;
use crate::registry::{ProtoId, known};
use crate::tls::naming::tls_app;
use crate::tls::parser::{HS_CLIENT_HELLO, client_hello, first_handshake, looks_like_record};
use crate::{FlowCtx, FlowDpi, Need};

/// The TLS form of a protocol that can turn into TLS, if it is one.
pub(crate) fn secure_form(master: ProtoId) -> Option<ProtoId> {
    let k = known();
    [
        (k.smtp, k.smtps),
        (k.imap, k.imaps),
        (k.pop3, k.pops),
        (k.ftp_control, k.ftps),
    ]
    .into_iter()
    .find_map(|(plain, secure)| (plain == master).then_some(secure))
}

/// Whether a client's command asks for TLS, for the plain protocol `plain`.
pub(crate) fn asks_for_tls(plain: ProtoId, d: &[u8]) -> bool {
    let k = known();
    let starts = |w: &[u8]| d.len() >= w.len() && d[..w.len()].eq_ignore_ascii_case(w);
    if plain == k.smtp {
        starts(b"STARTTLS")
    } else if plain == k.imap {
        // `<tag> STARTTLS`.
        d.iter().position(|&b| b == b' ').is_some_and(|i| {
            let c = &d[i + 1..];
            c.len() >= 8 && c[..8].eq_ignore_ascii_case(b"STARTTLS")
        })
    } else if plain == k.pop3 {
        starts(b"STLS")
    } else if plain == k.ftp_control {
        starts(b"AUTH TLS") || starts(b"AUTH SSL")
    } else {
        false
    }
}

/// Whether a server's reply accepts the request for TLS, for `plain`.
pub(crate) fn accepts_tls(plain: ProtoId, d: &[u8]) -> bool {
    let k = known();
    let starts = |w: &[u8]| d.len() >= w.len() && d[..w.len()].eq_ignore_ascii_case(w);
    if plain == k.smtp {
        starts(b"220")
    } else if plain == k.imap {
        // `<tag> OK`.
        d.iter().position(|&b| b == b' ').is_some_and(|i| {
            let c = &d[i + 1..];
            c.len() >= 3 && c[..3].eq_ignore_ascii_case(b"OK ")
        })
    } else if plain == k.pop3 {
        starts(b"+OK")
    } else if plain == k.ftp_control {
        starts(b"234")
    } else {
        false
    }
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
                let app = tls_app(flow, ch.sni);
                st.app = app;
                st.want_starttls = false;
                st.want_cert = app.is_unknown();
                let sni = ch.sni.map(str::to_owned);
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
