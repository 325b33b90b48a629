//! Builders of wire messages — a TLS ClientHello, a QUIC client Initial —
//! for synthetic captures (`exitflow synth`) and tests. Not used when
//! inspecting traffic.
use aes::Aes128;
use aes::cipher::{BlockEncrypt, KeyInit, generic_array::GenericArray};
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Nonce};

use crate::quic::parser::client_initial_keys;
use crate::tls::parser::{HS_CLIENT_HELLO, RECORD_HANDSHAKE};

/// A ClientHello record for `sni`, built field by field. `pad` adds a
/// padding extension to make it span several TCP segments.
pub fn client_hello_record(sni: &str, pad: usize) -> Vec<u8> {
    let hs = client_hello_message(sni, pad);
    let mut rec = vec![RECORD_HANDSHAKE, 3, 1];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend(hs);
    rec
}

/// The handshake message (header included), as QUIC carries it.
pub fn client_hello_message(sni: &str, pad: usize) -> Vec<u8> {
    let mut exts = Vec::new();
    let mut ext = |ty: u16, data: &[u8]| {
        exts.extend_from_slice(&ty.to_be_bytes());
        exts.extend_from_slice(&(data.len() as u16).to_be_bytes());
        exts.extend_from_slice(data);
    };
    ext(0x0a0a, &[]); // GREASE
    let mut sn = Vec::new();
    sn.extend_from_slice(&((sni.len() + 3) as u16).to_be_bytes());
    sn.push(0);
    sn.extend_from_slice(&(sni.len() as u16).to_be_bytes());
    sn.extend_from_slice(sni.as_bytes());
    ext(0, &sn);
    ext(16, &[0, 3, 2, b'h', b'2']);
    ext(43, &[4, 0x03, 0x04, 0x03, 0x03]);
    ext(13, &[0, 4, 0x04, 0x03, 0x08, 0x04]);
    ext(21, &vec![0u8; pad]);
    let mut body = vec![3, 3];
    body.extend_from_slice(&[7u8; 32]);
    body.push(0);
    body.extend_from_slice(&[0, 6, 0x1a, 0x1a, 0x13, 0x01, 0x13, 0x02]);
    body.extend_from_slice(&[1, 0]);
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend(exts);
    let mut hs = vec![HS_CLIENT_HELLO];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend(body);
    hs
}

/// A CRYPTO frame (2-byte varints).
pub fn crypto_frame(off: usize, data: &[u8]) -> Vec<u8> {
    let mut f = vec![0x06];
    f.extend_from_slice(&(0x4000u16 | off as u16).to_be_bytes());
    f.extend_from_slice(&(0x4000u16 | data.len() as u16).to_be_bytes());
    f.extend_from_slice(data);
    f
}

/// A client Initial carrying `frames`, encrypted and header-protected.
pub fn client_initial(version: u32, dcid: &[u8], pn: u32, frames: &[u8]) -> Vec<u8> {
    let (key, iv, hp) = client_initial_keys(version, dcid).expect("a known QUIC version");
    let v2 = version == 0x6b33_43cf;
    let mut payload = frames.to_vec();
    payload.resize(payload.len().max(1162), 0); // PADDING to a full-size datagram
    let mut h = vec![0xc0 | if v2 { 0x10 } else { 0 } | 0x03];
    h.extend_from_slice(&version.to_be_bytes());
    h.push(dcid.len() as u8);
    h.extend_from_slice(dcid);
    h.push(4);
    h.extend_from_slice(&[9, 9, 9, 9]);
    h.push(0); // token length
    let length = 4 + payload.len() + 16;
    h.extend_from_slice(&(0x4000u16 | length as u16).to_be_bytes());
    let pn_offset = h.len();
    h.extend_from_slice(&pn.to_be_bytes());
    let mut nonce = iv;
    for (i, b) in u64::from(pn).to_be_bytes().iter().enumerate() {
        nonce[4 + i] ^= b;
    }
    let cipher = Aes128Gcm::new(GenericArray::from_slice(&key));
    let tag = cipher
        .encrypt_in_place_detached(Nonce::from_slice(&nonce), &h, &mut payload)
        .expect("AES-GCM sealing a bounded buffer");
    let mut pkt = h;
    pkt.extend_from_slice(&payload);
    pkt.extend_from_slice(&tag);
    let mut mask = GenericArray::clone_from_slice(&pkt[pn_offset + 4..pn_offset + 20]);
    Aes128::new(GenericArray::from_slice(&hp)).encrypt_block(&mut mask);
    pkt[0] ^= mask[0] & 0x0f;
    for i in 0..4 {
        pkt[pn_offset + i] ^= mask[1 + i];
    }
    pkt
}

/// A small deterministic pseudo-random byte source (xorshift64) for tests
/// that feed arbitrary payloads; `seed` must not be zero.
pub fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

/// The flow facts inspection needs, with unspecified (all-zero) IPv4
/// addresses: for tests that care about the transport and ports only.
pub fn flow_ctx(protocol: u8, src_port: u16, dst_port: u16) -> crate::FlowCtx {
    crate::FlowCtx {
        protocol,
        src_port,
        dst_port,
        ip_version: 4,
        src: [0; 16],
        dst: [0; 16],
    }
}

/// A packet of one IPv4 flow (addresses zero), for tests through the
/// engine: UDP, or a TCP segment with sequence 1 and no flags.
pub fn packet(
    payload: &[u8],
    protocol: u8,
    src_port: u16,
    dst_port: u16,
) -> exitflow_decode::PacketInfo<'_> {
    exitflow_decode::PacketInfo {
        ip_version: 4,
        src: [0; 16],
        dst: [0; 16],
        protocol,
        src_port,
        dst_port,
        vlan_id: 0,
        tunnel_id: 0,
        tunnel: exitflow_decode::Tunnel::None,
        tcp_flags: 0,
        tcp_seq: 1,
        ip_len: 0,
        truncated: false,
        payload,
    }
}

/// The label the engine gives one IPv4 flow (client port 40000, server
/// `port`) of these payloads, `true` for the client's; TCP segments in
/// sequence per direction.
pub fn flow_label(e: &crate::Engine, protocol: u8, port: u16, msgs: &[(bool, &[u8])]) -> String {
    flow_result(e, protocol, port, msgs).0
}

/// [`flow_label`] and whether the label is a guess.
pub fn flow_result(
    e: &crate::Engine,
    protocol: u8,
    port: u16,
    msgs: &[(bool, &[u8])],
) -> (String, bool) {
    let c = flow_ctx(protocol, 40000, port);
    let mut st = crate::FlowDpi::default();
    let mut seq = [1u32, 1];
    for (client, m) in msgs {
        let (sp, dp) = if *client {
            (40000, port)
        } else {
            (port, 40000)
        };
        let s = &mut seq[usize::from(!client)];
        let mut p = packet(m, protocol, sp, dp);
        p.tcp_seq = *s;
        p.tcp_flags = 0x18;
        e.inspect(&mut st, &c, &p, *client);
        *s = s.wrapping_add(m.len() as u32);
    }
    let cl = e.finish(&mut st, &c);
    (cl.application_name(), cl.guessed)
}
