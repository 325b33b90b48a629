//! IMAP (RFC 9051) as nDPI 5.0 recognises it: payloads whose first line
//! carries one of its words, after a tag, either side; the third or the
//! fifth of them names the flow once a LOGIN gave a user name. An
//! AUTHENTICATE names IMAPS at once, as does the server's OK to a
//! STARTTLS.
use crate::detect::starts_ci;

/// The words nDPI counts, in any case.
const WORDS: [&[u8]; 19] = [
    b"OK ",
    b"NO ",
    b"UID",
    b"CAPABILITY",
    b"STARTTLS",
    b"LOGIN",
    b"FETCH",
    b"FLAGS",
    b"CHECK",
    b"STORE",
    b"AUTHENTICATE",
    b"NAMESPACE",
    b"LSUB",
    b"LIST",
    b"NOOP",
    b"IDLE",
    b"SELECT",
    b"EXISTS",
    b"APPEND",
];
const AUTHENTICATE: &[u8] = b"AUTHENTICATE";
const STARTTLS: &[u8] = b"STARTTLS";
const LOGIN: &[u8] = b"LOGIN ";
const OK: &[u8] = b"OK ";
const NO: &[u8] = b"NO ";
/// The end of an IDLE, the one untagged command nDPI counts.
const DONE: &[u8] = b"DONE\r\n";
/// nDPI tolerates lines without its words within a flow's first payloads.
pub const WINDOW: u8 = 8;

/// The first line of an IMAP payload from its word on: a tag (letters,
/// digits, `*`, `.`), a space, a message number and a space for untagged
/// data; the payload ends its line. None if `d` is no such payload.
pub fn word(d: &[u8]) -> Option<&[u8]> {
    if d.len() < 4 || !d.ends_with(b"\r\n") {
        return None;
    }
    if d == DONE {
        return Some(d);
    }
    let tag = d
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'*' | b'.'))
        .count();
    if tag == 0 || d.get(tag) != Some(&b' ') {
        return None;
    }
    let mut rest = &d[tag + 1..];
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits > 0 && rest.get(digits) == Some(&b' ') {
        rest = &rest[digits + 1..];
    }
    (rest == DONE || WORDS.iter().any(|w| starts_ci(rest, w))).then_some(rest)
}

/// A flow's IMAP evidence so far (in the flow's boxed extension).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Session {
    pub(crate) watch: crate::Watch,
    /// Payloads with a word.
    stage: u8,
    /// A LOGIN gave a user name.
    user: bool,
    /// A STARTTLS awaits the server's answer.
    starttls: bool,
}

/// What one payload says of an IMAP session.
pub(crate) use crate::SessionStep as Step;

impl Session {
    fn step(&mut self, d: &[u8]) -> Step {
        // Words count whenever they come; lines without one are borne
        // within the window only.
        if !self.watch.next(u8::MAX) {
            return Step::Nothing;
        }
        let Some(w) = word(d) else {
            let w = &mut self.watch;
            w.out |= w.payloads >= WINDOW || !d.ends_with(b"\r\n");
            return Step::Nothing;
        };
        if starts_ci(w, AUTHENTICATE) || (self.starttls && starts_ci(w, OK)) {
            return Step::Named { secure: true };
        }
        if starts_ci(w, STARTTLS) {
            self.starttls = true;
        } else if starts_ci(w, NO) {
            self.starttls = false;
        }
        if starts_ci(w, LOGIN) && w.len() > LOGIN.len() + 2 {
            self.user = true;
        }
        self.stage = self.stage.saturating_add(1);
        if self.user && matches!(self.stage, 3 | 5) {
            Step::Named { secure: false }
        } else {
            Step::Alive
        }
    }
}

/// One TCP payload of a flow: whether it names or keeps IMAP. State is
/// kept only for a flow whose first payload has a word (nDPI rules IMAP
/// out on any other first payload).
pub(crate) fn session(st: &mut crate::FlowDpi, d: &[u8]) -> Step {
    let s = match st.ext.as_mut() {
        Some(e) if e.imap.watch.payloads > 0 => &mut e.imap,
        _ => {
            if st.began_otherwise() || word(d).is_none() {
                return Step::Nothing;
            }
            &mut st.ext().imap
        }
    };
    s.step(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(msgs: &[(bool, &[u8])]) -> String {
        crate::craft::flow_label(&crate::Engine::default(), 6, 1143, msgs)
    }

    const GREETING: &[u8] = b"* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] Dovecot ready.\r\n";

    /// Each case checked with nDPI 5.0's library (NFStream 6.6.0) on a
    /// port without a guess: the third or fifth payload of words once a
    /// LOGIN named a user; never without one; AUTHENTICATE is IMAPS at
    /// once, as is the OK to a STARTTLS; a first payload without a word
    /// rules IMAP out; a failed LOGIN then AUTHENTICATE stays IMAP.
    #[test]
    fn words_and_a_user_name_imap_as_ndpi() {
        let (c, s) = (true, false);
        let login: &[u8] = b"a001 LOGIN alice secret\r\n";
        assert_eq!(
            label(&[
                (s, b"* OK IMAP4rev1 Service Ready\r\n"),
                (c, login),
                (s, b"a001 OK LOGIN completed\r\n")
            ]),
            "IMAP"
        );
        let caps: &[u8] =
            b"* CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN\r\na001 OK Capability completed.\r\n";
        let five: [(bool, &[u8]); 5] = [
            (s, GREETING),
            (c, b"a001 CAPABILITY\r\n"),
            (s, caps),
            (c, b"a002 LOGIN alice secret\r\n"),
            (s, b"a002 OK Logged in\r\n"),
        ];
        assert_eq!(label(&five), "IMAP");
        assert_ne!(label(&five[..4]), "IMAP");
        assert_ne!(
            label(&[
                (s, GREETING),
                (c, b"a1 NOOP\r\n"),
                (s, b"a1 OK done\r\n"),
                (c, b"a2 NOOP\r\n"),
                (s, b"a2 OK done\r\n")
            ]),
            "IMAP"
        );
        assert_eq!(
            label(&[(s, GREETING), (c, b"a1 AUTHENTICATE PLAIN\r\n")]),
            "IMAPS"
        );
        assert_eq!(label(&[(c, b"a1 AUTHENTICATE PLAIN\r\n")]), "IMAPS");
        assert_eq!(
            label(&[
                (c, b"a1 STARTTLS\r\n"),
                (s, b"a1 OK Begin TLS negotiation now\r\n")
            ]),
            "IMAPS"
        );
        assert_ne!(
            label(&[
                (c, b"hello\r\n"),
                (s, GREETING),
                (c, login),
                (s, b"a001 OK done\r\n")
            ]),
            "IMAP"
        );
        assert_eq!(
            label(&[
                (s, GREETING),
                (c, login),
                (
                    s,
                    b"a001 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
                ),
                (c, b"a002 AUTHENTICATE PLAIN\r\n")
            ]),
            "IMAP"
        );
    }

    #[test]
    fn every_prefix_is_safe() {
        for n in 0..GREETING.len() {
            let _ = word(&GREETING[..n]);
            let _ = Session::default().step(&GREETING[..n]);
        }
    }
}
