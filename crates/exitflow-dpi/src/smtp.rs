//! SMTP (RFC 5321) as nDPI 5.0 recognises it: the lines of whole-line
//! payloads, either side, each of a few words or reply codes setting one
//! bit of a mask; three different ones name the flow. A greeting from a
//! server nDPI knows by name names it at once, with that service.
use crate::registry::ProtoId;
use crate::{FlowDpi, service_of};

/// The words and reply codes nDPI counts, each a bit (by index): replies
/// by their code, commands in any case. `HELO`/`EHLO` share a bit, as do
/// `STARTTLS` and Exchange's `X-AnonymousTLS`.
const WORDS: [(&[u8], u8); 16] = [
    (b"220", 0),
    (b"250", 1),
    (b"235", 2),
    (b"334", 3),
    (b"354", 4),
    (b"HELO ", 5),
    (b"EHLO ", 5),
    (b"MAIL ", 6),
    (b"RCPT ", 7),
    (b"AUTH L", 8),
    (b"AUTH P", 9),
    (b"STARTTLS", 10),
    (b"X-AnonymousTLS", 10),
    (b"DATA", 11),
    (b"NOOP", 12),
    (b"RSET", 13),
];
/// Different words that name the flow.
pub const NAMING_WORDS: u32 = 3;
/// nDPI gives SMTP up after this many payloads.
pub const WINDOW: u8 = 12;
/// The greeting code, after which nDPI reads the server's name.
const GREETING: &[u8] = b"220 ";

/// The bits of the words `d`'s lines start with, or None if `d` is not a
/// payload nDPI reads (more than 2 bytes, ending its last line).
pub fn words(d: &[u8]) -> Option<u16> {
    if d.len() <= 2 || !d.ends_with(b"\r\n") {
        return None;
    }
    let mut bits = 0u16;
    for line in d.split(|b| *b == b'\n') {
        if let Some((_, bit)) = WORDS
            .iter()
            .find(|(w, _)| line.len() >= w.len() && line[..w.len()].eq_ignore_ascii_case(w))
        {
            bits |= 1 << bit;
        }
    }
    Some(bits)
}

/// The service of a greeting's server name (`220 mx.google.com ESMTP...`),
/// if nDPI knows the name: the name must be followed by more text.
fn greeting_service(d: &[u8]) -> ProtoId {
    let Some(rest) = d.strip_prefix(GREETING) else {
        return ProtoId::UNKNOWN;
    };
    let Some(end) = rest.iter().position(|b| *b == b' ') else {
        return ProtoId::UNKNOWN;
    };
    let more = rest[end + 1..]
        .first()
        .is_some_and(|b| !matches!(b, b'\r' | b'\n'));
    match std::str::from_utf8(&rest[..end]) {
        Ok(name) if more && !name.starts_with('(') => service_of(name),
        _ => ProtoId::UNKNOWN,
    }
}

/// A flow's SMTP evidence so far (in the flow's boxed extension).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Session {
    bits: u16,
    pub(crate) watch: crate::Watch,
}

/// What one payload says of an SMTP session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Three different words, or a known server's greeting: SMTP, with
    /// the service if any.
    Named(ProtoId),
    /// Words, not yet three (not a detector miss).
    Alive,
    /// No word here (the session may still be SMTP), or not SMTP.
    Nothing,
}

/// One TCP payload of a flow: whether it names or keeps SMTP. State is
/// kept only once a payload had a word.
pub(crate) fn session(st: &mut FlowDpi, d: &[u8]) -> Step {
    let found = words(d).unwrap_or(0);
    let s = match st.ext.as_mut() {
        Some(e) if e.smtp.watch.payloads > 0 => &mut e.smtp,
        _ if found == 0 => return Step::Nothing,
        _ => &mut st.ext().smtp,
    };
    if !s.watch.next(WINDOW) {
        return Step::Nothing;
    }
    let app = greeting_service(d);
    if !app.is_unknown() {
        return Step::Named(app);
    }
    s.bits |= found;
    match (s.bits.count_ones() >= NAMING_WORDS, found != 0) {
        (true, _) => Step::Named(ProtoId::UNKNOWN),
        (false, true) => Step::Alive,
        (false, false) => Step::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(msgs: &[(bool, &[u8])]) -> String {
        crate::craft::flow_label(&crate::Engine::default(), 6, 2525, msgs)
    }

    const BANNER: &[u8] = b"220 mx.example.org ESMTP Postfix\r\n";

    /// Each case checked with nDPI 5.0's library (NFStream 6.6.0), on a
    /// port that gives no guess: three different words name the flow, in
    /// one packet or several, whatever the banner says; the same code
    /// twice is one word; a line cut short or a command without its space
    /// is no word.
    #[test]
    fn three_different_words_name_smtp_as_ndpi() {
        let (c, s) = (true, false);
        let ehlo: &[u8] = b"EHLO client.example\r\n";
        let ok: &[u8] = b"250-mx.example.org\r\n250-PIPELINING\r\n250 8BITMIME\r\n";
        assert_eq!(label(&[(s, BANNER), (c, ehlo), (s, ok)]), "SMTP");
        assert_ne!(label(&[(s, BANNER), (c, ehlo)]), "SMTP");
        assert_ne!(label(&[(s, BANNER)]), "SMTP");
        assert_ne!(label(&[(c, ehlo)]), "SMTP");
        assert_eq!(
            label(&[(c, b"EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\n")]),
            "SMTP"
        );
        assert_ne!(label(&[(c, b"EHLO c\r\nMAIL FROM:<a@x>\r\n")]), "SMTP");
        assert_ne!(
            label(&[(s, BANNER), (s, b"250 a\r\n"), (s, b"250 b\r\n")]),
            "SMTP"
        );
        assert_eq!(
            label(&[
                (s, BANNER),
                (s, b"250 a\r\n"),
                (s, b"250 b\r\n"),
                (s, b"354 go\r\n")
            ]),
            "SMTP"
        );
        assert_ne!(
            label(&[(s, b"220 mx.example.org ESMTP"), (c, ehlo), (s, ok)]),
            "SMTP"
        );
        assert_ne!(label(&[(s, BANNER), (c, b"EHLO\r\n"), (s, ok)]), "SMTP");
        assert_eq!(
            label(&[(s, b"220 ProFTPD Server ready.\r\n"), (c, ehlo), (s, ok)]),
            "SMTP"
        );
        assert_eq!(
            label(&[
                (s, BANNER),
                (c, ehlo),
                (s, ok),
                (c, b"STARTTLS\r\n"),
                (s, b"220 2.0.0 Ready to start TLS\r\n")
            ]),
            "SMTPS"
        );
    }

    /// A greeting from a server nDPI knows by name names SMTP and the
    /// service at once (checked with its library); a name with nothing
    /// after it, or in parentheses, does not.
    #[test]
    fn a_known_servers_greeting_names_the_service() {
        assert_eq!(
            label(&[(false, b"220 mx.google.com ESMTP abc - gsmtp\r\n")]),
            "SMTP.Google"
        );
        assert_ne!(label(&[(false, b"220 mx.google.com\r\n")]), "SMTP.Google");
        assert_ne!(
            label(&[(false, b"220 (mx.google.com) ESMTP\r\n")]),
            "SMTP.Google"
        );
    }

    #[test]
    fn every_prefix_is_safe() {
        for n in 0..BANNER.len() {
            let _ = words(&BANNER[..n]);
            let _ = greeting_service(&BANNER[..n]);
        }
    }
}
