//! FTP's control connection (RFC 959) as nDPI 5.0 recognises it: the
//! server's greeting is not read; a client command, then the server's
//! reply to it, names the flow once the reply is an error, or answers a
//! password (FTP_CONTROL) or an AUTH (FTPS), within the flow's first
//! payloads and never on SMTP's port.
use crate::FlowCtx;
use crate::detect::either_port;

/// The commands nDPI knows (RFC 959 and its extensions), matched as a
/// prefix, in capitals or in small letters (not mixed).
const COMMANDS: [&[u8]; 61] = [
    b"USER", b"PASS", b"AUTH", b"ABOR", b"ACCT", b"ADAT", b"ALLO", b"APPE", b"CCC", b"CDUP",
    b"CONF", b"CWD", b"DELE", b"ENC", b"EPRT", b"EPSV", b"FEAT", b"HELP", b"LANG", b"LIST",
    b"LPRT", b"LPSV", b"MDTM", b"MIC", b"MKD", b"MLSD", b"MLST", b"MODE", b"NLST", b"NOOP",
    b"OPTS", b"PASV", b"PBSZ", b"PORT", b"PROT", b"PWD", b"QUIT", b"REIN", b"REST", b"RETR",
    b"RMD", b"RNFR", b"RNTO", b"SITE", b"SIZE", b"SMNT", b"STAT", b"STOR", b"STOU", b"STRU",
    b"SYST", b"TYPE", b"XCUP", b"XMKD", b"XPWD", b"XRCP", b"XRMD", b"XRSQ", b"XSEM", b"XSEN",
    b"HOST",
];
/// The first letters of [`COMMANDS`], a bit each from A.
const FIRST_LETTERS: u32 = {
    let mut bits = 0u32;
    let mut i = 0;
    while i < COMMANDS.len() {
        bits |= 1 << (COMMANDS[i][0] - b'A');
        i += 1;
    }
    bits
};
/// nDPI reads a flow's first payloads only.
pub const WINDOW: u8 = 8;
/// SMTP's port, on which nDPI never names FTP.
const SMTP_PORT: u16 = 25;

/// Whether `d` starts with `word` in capitals or in small letters.
fn says(d: &[u8], word: &[u8]) -> bool {
    d.starts_with(word)
        || (d.len() >= word.len()
            && d.iter()
                .zip(word)
                .all(|(a, b)| *a == b.to_ascii_lowercase()))
}

/// The command a client's payload starts with, if nDPI knows it.
pub fn command(d: &[u8]) -> Option<&'static [u8]> {
    // The first letter picks the candidates (most payloads have none).
    let first = d.first()?.to_ascii_uppercase();
    if !first.is_ascii_uppercase() || FIRST_LETTERS & (1 << (first - b'A')) == 0 {
        return None;
    }
    COMMANDS
        .iter()
        .copied()
        .find(|w| w[0] == first && says(d, w))
}

/// A flow's FTP evidence so far (in the flow's boxed extension).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Session {
    pub(crate) watch: crate::Watch,
    /// A command awaits its reply.
    pending: bool,
    /// A password that is not empty was sent.
    password: bool,
    /// An AUTH was sent.
    auth: bool,
}

/// What one payload says of an FTP session.
pub(crate) use crate::SessionStep as Step;

impl Session {
    fn client(&mut self, d: &[u8]) -> Step {
        let Some(cmd) = command(d) else {
            return Step::Nothing;
        };
        self.pending = true;
        if cmd == b"PASS" {
            let arg = &d[cmd.len()..];
            self.password |= arg.first() == Some(&b' ')
                && arg.get(1).is_some_and(|b| !matches!(b, b'\r' | b'\n'));
        }
        self.auth |= cmd == b"AUTH";
        Step::Alive
    }

    fn server(&mut self, d: &[u8]) -> Step {
        if !self.pending {
            return Step::Nothing;
        }
        match d.first() {
            Some(b'4' | b'5') => Step::Named { secure: false },
            Some(b'1' | b'2' | b'3' | b'6') if self.auth => Step::Named { secure: true },
            Some(b'1' | b'2' | b'3' | b'6') if self.password => Step::Named { secure: false },
            Some(b'1' | b'2' | b'3' | b'6') => {
                self.pending = false;
                Step::Alive
            }
            _ => {
                self.pending = false;
                Step::Nothing
            }
        }
    }
}

/// One TCP payload of a flow: whether it names or keeps FTP.
pub(crate) fn session(st: &mut crate::FlowDpi, flow: &FlowCtx, d: &[u8], src2dst: bool) -> Step {
    if either_port(flow, SMTP_PORT) {
        return Step::Nothing;
    }
    // State is kept from a client's first command on (the payloads before
    // it count towards the window).
    let before = st.misses;
    let s = match st.ext.as_mut() {
        Some(e) if e.ftp.watch.payloads > 0 => &mut e.ftp,
        _ if !src2dst || command(d).is_none() => return Step::Nothing,
        _ => {
            let s = &mut st.ext().ftp;
            s.watch.payloads = before;
            s
        }
    };
    if !s.watch.next(WINDOW) {
        return Step::Nothing;
    }
    if src2dst { s.client(d) } else { s.server(d) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(port: u16, msgs: &[(bool, &[u8])]) -> String {
        crate::craft::flow_label(&crate::Engine::default(), 6, port, msgs)
    }

    const BANNER: &[u8] = b"220 ProFTPD 1.3.5 Server (Debian) [93.184.216.34]\r\n";

    /// Each case checked with nDPI 5.0's library (NFStream 6.6.0) on a
    /// port without a guess: named on the reply after the password, on an
    /// error, or as FTPS on the reply to AUTH; the greeting alone, a user
    /// without its password, mixed case, an empty password or SMTP's
    /// port name nothing.
    #[test]
    fn a_command_and_its_reply_name_ftp_as_ndpi() {
        let (c, s) = (true, false);
        let login: [(bool, &[u8]); 5] = [
            (s, BANNER),
            (c, b"USER anonymous\r\n"),
            (s, b"331 Anonymous login ok\r\n"),
            (c, b"PASS guest@\r\n"),
            (s, b"230 Login ok\r\n"),
        ];
        assert_eq!(label(2121, &login), "FTP_CONTROL");
        assert_ne!(label(2121, &login[..4]), "FTP_CONTROL");
        assert_eq!(
            label(
                2121,
                &[
                    (s, BANNER),
                    (c, b"USER bob\r\n"),
                    (s, b"530 Login incorrect.\r\n")
                ]
            ),
            "FTP_CONTROL"
        );
        assert_eq!(
            label(
                2121,
                &[
                    (s, BANNER),
                    (c, b"AUTH TLS\r\n"),
                    (s, b"234 AUTH TLS successful\r\n")
                ]
            ),
            "FTPS"
        );
        assert_eq!(
            label(
                2121,
                &[
                    (c, b"user bob\r\n"),
                    (s, b"331 pw\r\n"),
                    (c, b"pass x\r\n"),
                    (s, b"230 ok\r\n")
                ]
            ),
            "FTP_CONTROL"
        );
        assert_ne!(
            label(
                2121,
                &[
                    (c, b"User bob\r\n"),
                    (s, b"331 pw\r\n"),
                    (c, b"Pass x\r\n"),
                    (s, b"230 ok\r\n")
                ]
            ),
            "FTP_CONTROL"
        );
        assert_ne!(
            label(2121, &[(c, b"PASS \r\n"), (s, b"230 ok\r\n")]),
            "FTP_CONTROL"
        );
        assert_ne!(label(2121, &[(s, BANNER)]), "FTP_CONTROL");
        assert_ne!(
            label(
                2121,
                &[(s, BANNER), (c, b"USER bob\r\n"), (s, b"331 pw\r\n")]
            ),
            "FTP_CONTROL"
        );
        assert_ne!(
            label(25, &[(s, BANNER), (c, b"USER bob\r\n"), (s, b"530 no\r\n")]),
            "FTP_CONTROL"
        );
    }

    #[test]
    fn every_prefix_is_safe() {
        for n in 0..BANNER.len() {
            let _ = command(&BANNER[..n]);
            let mut s = Session::default();
            let _ = s.client(&BANNER[..n]);
            let _ = s.server(&BANNER[..n]);
        }
    }
}
