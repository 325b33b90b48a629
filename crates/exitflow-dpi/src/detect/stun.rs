//! STUN (RFC 5389 and the classic RFC 3489 form) and the application a
//! STUN message names: attributes and realms that Zoom, Teams, WhatsApp,
//! Google, Signal, Facebook, Telegram and Viber calls carry.
use super::{Alt, be16};

/// The magic cookie of RFC 5389 messages.
pub(crate) const COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
/// STUN header length.
const HEADER: usize = 20;
/// WhatsApp's own message types.
const WHATSAPP_TYPES: [u16; 5] = [0x0800, 0x0801, 0x0802, 0x0804, 0x0805];
/// Classic (RFC 3489) message types: binding, shared secret, allocate, send...
const CLASSIC_TYPES: [u16; 19] = [
    0x0001, 0x0101, 0x0111, 0x0002, 0x0102, 0x0112, 0x0003, 0x0103, 0x0113, 0x0004, 0x0104, 0x0114,
    0x0115, 0x0006, 0x0106, 0x0116, 0x0005, 0x0105, 0x0107,
];
/// Attributes.
const ATTR_REALM: u16 = 0x0014;
/// MAPPED-ADDRESS and XOR-MAPPED-ADDRESS.
const MAPPED_ATTRS: [u16; 2] = [0x0001, 0x0020];
const ATTR_GOOGLE: u16 = 0xff03;
const ZOOM_ATTRS: [u16; 2] = [0x0101, 0x0103];
const WHATSAPP_ATTRS: [u16; 6] = [0x4000, 0x4001, 0x4002, 0x4003, 0x4004, 0x4007];
/// Microsoft's (Teams, Skype for Business) attributes.
const TEAMS_ATTRS: [u16; 9] = [
    0x8054, 0x24df, 0x3802, 0x8036, 0x8095, 0x0800, 0x8006, 0x8070, 0x8055,
];
/// Realm texts naming the service.
const REALMS: [(&str, Alt); 6] = [
    ("google.com", Alt::GoogleCall),
    ("whispersystems.org", Alt::SignalVoip),
    ("signal.org", Alt::SignalVoip),
    ("facebook", Alt::FacebookVoip),
    ("telegram", Alt::TelegramVoip),
    ("viber", Alt::ViberVoip),
];

/// A STUN message: whether it is one, and the application it names.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Stun {
    /// The application, if the message names one.
    pub app: Option<Alt>,
    /// It carries the client's mapped address (a binding answer).
    pub mapped: bool,
}

/// Parses one STUN message (UDP datagram, or a TCP segment framed with a
/// 2-byte length as RFC 4571 does).
pub(crate) fn parse(d: &[u8], tcp: bool) -> Option<Stun> {
    let mut d = d;
    if tcp && d.len() >= 22 && be16(d, 0).map(|l| l + 2) == Some(d.len()) {
        d = &d[2..];
    }
    if d.len() < HEADER {
        return None;
    }
    let t = be16(d, 0)? as u16;
    let len = be16(d, 2)?;
    let modern = d[4..8] == COOKIE;
    if t == 0 || len + HEADER != d.len() || (tcp && !modern) {
        return None;
    }
    if WHATSAPP_TYPES.contains(&t) {
        return Some(Stun {
            app: Some(Alt::WhatsAppCall),
            mapped: false,
        });
    }
    if t & 0x3eef > 0x000b {
        return None;
    }
    if !modern && (!CLASSIC_TYPES.contains(&t) || !attrs_fit(d)) {
        return None;
    }
    let mut app = None;
    let mut mapped = false;
    let mut at = HEADER;
    while at + 4 <= d.len() {
        let a = be16(d, at)? as u16;
        let l = be16(d, at + 2)?;
        let v = d.get(at + 4..(at + 4 + l).min(d.len()))?;
        if ZOOM_ATTRS.contains(&a) {
            return Some(Stun {
                app: Some(Alt::Zoom),
                mapped,
            });
        }
        mapped |= MAPPED_ATTRS.contains(&a);
        if WHATSAPP_ATTRS.contains(&a) {
            app = Some(Alt::WhatsAppCall);
        } else if TEAMS_ATTRS.contains(&a) {
            app = Some(Alt::TeamsCall);
        } else if a == ATTR_GOOGLE {
            app = Some(Alt::GoogleCall);
        } else if a == ATTR_REALM {
            let realm = String::from_utf8_lossy(v).to_ascii_lowercase();
            if let Some((_, name)) = REALMS.iter().find(|(t, _)| realm.contains(t)) {
                app = Some(*name);
            }
        }
        at += 4 + l.div_ceil(4) * 4;
    }
    Some(Stun { app, mapped })
}

/// Classic STUN's attributes end exactly at the end of the message.
fn attrs_fit(d: &[u8]) -> bool {
    let mut at = HEADER;
    while at + 4 <= d.len() {
        let l = be16(d, at + 2).unwrap_or(usize::MAX);
        at = at.saturating_add(4 + l.div_ceil(4) * 4);
    }
    at == d.len()
}

/// DTLS record versions nDPI accepts: 1.0, 1.2, 1.3 and OpenSSL's
/// pre-standard 1.0 (`DTLS1_BAD_VER`, 0x0100).
const DTLS_VERSIONS: [[u8; 2]; 4] = [[0xfe, 0xff], [0xfe, 0xfd], [0xfe, 0xfc], [0x01, 0x00]];

/// A DTLS record header (content types 20-23, a version nDPI accepts) with
/// more than its 13 bytes, as nDPI's check wants.
pub(crate) fn is_dtls(d: &[u8]) -> bool {
    d.len() > 13 && (20..=23).contains(&d[0]) && DTLS_VERSIONS.contains(&[d[1], d[2]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(t: u16, attrs: &[(u16, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (a, v) in attrs {
            body.extend_from_slice(&a.to_be_bytes());
            body.extend_from_slice(&(v.len() as u16).to_be_bytes());
            body.extend_from_slice(v);
            body.resize(body.len().div_ceil(4) * 4, 0);
        }
        let mut d = t.to_be_bytes().to_vec();
        d.extend_from_slice(&(body.len() as u16).to_be_bytes());
        d.extend_from_slice(&COOKIE);
        d.extend_from_slice(b"abcdefghijkl");
        d.extend_from_slice(&body);
        d
    }

    #[test]
    fn applications_from_attributes_and_realms() {
        assert_eq!(
            parse(&msg(1, &[]), false),
            Some(Stun {
                app: None,
                mapped: false
            })
        );
        let cases: [(Vec<u8>, Alt); 6] = [
            (msg(1, &[(0x0101, b"zoom")]), Alt::Zoom),
            (msg(1, &[(0x4000, b"wa")]), Alt::WhatsAppCall),
            (msg(1, &[(0x8055, b"\0\0\0\x01")]), Alt::TeamsCall),
            (msg(1, &[(0xff03, b"g")]), Alt::GoogleCall),
            (
                msg(0x0101, &[(ATTR_REALM, b"turn.telegram.org")]),
                Alt::TelegramVoip,
            ),
            (msg(0x0800, &[]), Alt::WhatsAppCall),
        ];
        for (d, app) in cases {
            assert_eq!(parse(&d, false).and_then(|s| s.app), Some(app));
            for n in 0..d.len() {
                let _ = parse(&d[..n], false);
            }
        }
    }

    #[test]
    fn classic_stun_needs_a_known_type_and_exact_attributes() {
        let mut d = msg(1, &[(0x0001, b"\0\x01\x0f\x62\x7c\x3d\x45\x51")]);
        d[4..8].copy_from_slice(b"\x01\x02\x03\x04");
        assert!(parse(&d, false).is_some());
        d[1] = 0x09;
        assert!(parse(&d, false).is_none());
        assert!(parse(&d, true).is_none());
    }
}
