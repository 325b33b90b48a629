//! The classic BPF program that steers each packet to a fanout member.

/// The classic BPF program that picks a fanout member for each packet: a
/// hash of the XOR of the source and destination addresses (IPv4 or IPv6,
/// read relative to the network header so received and sent packets agree).
/// XOR makes it symmetric, so both directions of every flow (and tunnels, by
/// their outer addresses) reach the same worker. The kernel's own flow hash
/// is not symmetric for every packet (it split IPv4-in-IPv6 flows across
/// workers in the corpus replay), hence this program. Frames whose network
/// header is not IP (QinQ, MPLS, PPPoE, ARP, ...) all go to the first worker.
pub fn steering_program() -> Vec<libc::sock_filter> {
    const LD_B_ABS: u16 = 0x30;
    const LD_H_ABS: u16 = 0x28;
    const LD_W_ABS: u16 = 0x20;
    const TAX: u16 = 0x07;
    const XOR_X: u16 = 0xac;
    const RSH_K: u16 = 0x74;
    const MUL_K: u16 = 0x24;
    const JEQ_K: u16 = 0x15;
    const JA: u16 = 0x05;
    const RET_A: u16 = 0x16;
    const RET_K: u16 = 0x06;
    // SKF_NET_OFF: loads relative to the network header.
    const NET: u32 = (-0x0010_0000i32) as u32;
    // SKF_AD_OFF + SKF_AD_PROTOCOL: skb->protocol.
    const PROTO: u32 = (-0x1000i32) as u32;
    // Jump targets, resolved once the program is laid out.
    #[derive(Clone, Copy, PartialEq)]
    enum L {
        Next,
        V6,
        Mix,
        Ret0,
    }
    let mut prog: Vec<(u16, L, L, u32)> = vec![
        (LD_H_ABS, L::Next, L::Next, PROTO),
        (JEQ_K, L::Next, L::V6, 0x0800),
        (LD_B_ABS, L::Next, L::Next, NET),
        (RSH_K, L::Next, L::Next, 4),
        (JEQ_K, L::Next, L::Ret0, 4),
        (LD_W_ABS, L::Next, L::Next, NET + 12),
        (TAX, L::Next, L::Next, 0),
        (LD_W_ABS, L::Next, L::Next, NET + 16),
        (XOR_X, L::Next, L::Next, 0),
        (JA, L::Mix, L::Next, 0),
    ];
    let v6 = prog.len();
    prog.extend([
        (JEQ_K, L::Next, L::Ret0, 0x86DD),
        (LD_B_ABS, L::Next, L::Next, NET),
        (RSH_K, L::Next, L::Next, 4),
        (JEQ_K, L::Next, L::Ret0, 6),
        (LD_W_ABS, L::Next, L::Next, NET + 8),
    ]);
    for word in 1..8u32 {
        prog.push((TAX, L::Next, L::Next, 0));
        prog.push((LD_W_ABS, L::Next, L::Next, NET + 8 + 4 * word));
        prog.push((XOR_X, L::Next, L::Next, 0));
    }
    let mix = prog.len();
    prog.push((MUL_K, L::Next, L::Next, 0x9E37_79B1));
    prog.push((RSH_K, L::Next, L::Next, 16));
    prog.push((RET_A, L::Next, L::Next, 0));
    let ret0 = prog.len();
    prog.push((RET_K, L::Next, L::Next, 0));
    let at = |l: L, i: usize| -> usize {
        let target = match l {
            L::Next => i + 1,
            L::V6 => v6,
            L::Mix => mix,
            L::Ret0 => ret0,
        };
        target - (i + 1)
    };
    prog.iter()
        .enumerate()
        .map(|(i, &(code, jt, jf, k))| {
            if code == JA {
                libc::sock_filter {
                    code,
                    jt: 0,
                    jf: 0,
                    k: at(jt, i) as u32,
                }
            } else {
                libc::sock_filter {
                    code,
                    jt: at(jt, i) as u8,
                    jf: at(jf, i) as u8,
                    k,
                }
            }
        })
        .collect()
}
