//! The whole inspection engine over a flow of arbitrary TCP or UDP packets,
//! and the stateful protocols' parsers (TFTP requests, Z39.50 APDUs, SMTP
//! lines, FTP commands) alone.
#![no_main]
use exitflow_decode::{PacketInfo, Tunnel};
use exitflow_dpi::{Engine, FlowCtx, FlowDpi};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = exitflow_dpi::tftp::request(data);
    let _ = exitflow_dpi::z3950::elements(data);
    let _ = exitflow_dpi::smtp::words(data);
    let _ = exitflow_dpi::ftp::command(data);
    if data.len() < 6 {
        return;
    }
    let proto = if data[0] & 1 == 0 { 6 } else { 17 };
    let port = [443u16, 80, 53, 5353, 25, 88, 1900, 30303, 6000, 8080][usize::from(data[1]) % 10];
    let ctx = FlowCtx {
        protocol: proto,
        src_port: 40000,
        dst_port: port,
        ip_version: 4,
        src: [10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        dst: [data[2], data[3], data[4], data[5], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    };
    let e = Engine::default();
    let mut st = FlowDpi::default();
    let mut seq = u32::from_be_bytes([data[2], data[3], data[4], data[5]]);
    for (i, chunk) in data[6..].split(|b| *b == 0xfe).enumerate() {
        let src2dst = i % 3 != 1;
        let p = PacketInfo {
            ip_version: 4,
            src: [0; 16],
            dst: [0; 16],
            protocol: proto,
            src_port: if src2dst { 40000 } else { port },
            dst_port: if src2dst { port } else { 40000 },
            vlan_id: 0,
            tunnel_id: 0,
            tunnel: Tunnel::None,
            tcp_flags: if i == 0 { 0x02 } else { 0x18 },
            tcp_seq: seq,
            ip_len: 0,
            truncated: false,
            payload: chunk,
        };
        e.inspect(&mut st, &ctx, &p, src2dst);
        seq = seq.wrapping_add(chunk.len() as u32 + u32::from(i == 0));
    }
    let _ = e.finish(&mut st, &ctx);
});
