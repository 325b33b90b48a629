//! Decoder tests over frames built here with etherparse's packet builder.
use super::*;
use etherparse::{PacketBuilder, VlanId};

const A: [u8; 4] = [198, 51, 100, 7];
const B: [u8; 4] = [203, 0, 113, 9];

fn ip_tcp(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(A, B, 64)
        .tcp(40000, 443, 1, 1000)
        .syn()
        .write(&mut v, payload)
        .unwrap();
    v
}

fn ip_udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(A, B, 64)
        .udp(sport, dport)
        .write(&mut v, payload)
        .unwrap();
    v
}

fn ip6_udp(payload: &[u8]) -> Vec<u8> {
    let mut s = [0u8; 16];
    s[0] = 0x20;
    s[1] = 0x01;
    s[15] = 1;
    let mut d = s;
    d[15] = 2;
    let mut v = Vec::new();
    PacketBuilder::ipv6(s, d, 64)
        .udp(5353, 53)
        .write(&mut v, payload)
        .unwrap();
    v
}

fn eth(ethertype: u16, body: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(body);
    f
}

fn opts() -> DecodeOptions {
    DecodeOptions::default()
}

fn check_tcp(info: &PacketInfo<'_>) {
    assert_eq!(info.ip_version, 4);
    assert_eq!(&info.src[..4], &A);
    assert_eq!(&info.dst[..4], &B);
    assert_eq!(
        (info.protocol, info.src_port, info.dst_port),
        (6, 40000, 443)
    );
    assert_eq!(info.tcp_flags & 0x02, 0x02);
}

#[test]
fn ethernet_ipv4_tcp() {
    let f = eth(0x0800, &ip_tcp(b"hello"));
    let i = decode(LinkType::ETHERNET, &f, &opts()).unwrap();
    check_tcp(&i);
    assert_eq!(i.payload, b"hello");
    assert_eq!(i.ip_len, 20 + 20 + 5);
}

#[test]
fn ethernet_padding_is_not_payload() {
    let mut f = eth(0x0800, &ip_tcp(b""));
    f.extend_from_slice(&[0u8; 6]);
    let i = decode(LinkType::ETHERNET, &f, &opts()).unwrap();
    assert!(i.payload.is_empty());
}

#[test]
fn vlan_innermost_tag_wins() {
    let mut v = Vec::new();
    PacketBuilder::ethernet2([2; 6], [4; 6])
        .double_vlan(VlanId::try_new(100).unwrap(), VlanId::try_new(7).unwrap())
        .ipv4(A, B, 64)
        .tcp(40000, 443, 1, 1000)
        .syn()
        .write(&mut v, b"")
        .unwrap();
    let i = decode(LinkType::ETHERNET, &v, &opts()).unwrap();
    check_tcp(&i);
    assert_eq!(i.vlan_id, 7);
    let mut v = Vec::new();
    PacketBuilder::ethernet2([2; 6], [4; 6])
        .single_vlan(VlanId::try_new(42).unwrap())
        .ipv4(A, B, 64)
        .tcp(40000, 443, 1, 1000)
        .syn()
        .write(&mut v, b"")
        .unwrap();
    assert_eq!(decode(LinkType::ETHERNET, &v, &opts()).unwrap().vlan_id, 42);
}

#[test]
fn mpls_and_pppoe() {
    let mut body = vec![0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40]; // two labels, BoS on the second
    body.extend(ip_tcp(b""));
    check_tcp(&decode(LinkType::ETHERNET, &eth(0x8847, &body), &opts()).unwrap());
    let ip = ip_tcp(b"");
    let mut body = vec![0x11, 0x00, 0x12, 0x34];
    body.extend_from_slice(&((ip.len() + 2) as u16).to_be_bytes());
    body.extend_from_slice(&[0x00, 0x21]);
    body.extend(ip);
    check_tcp(&decode(LinkType::ETHERNET, &eth(0x8864, &body), &opts()).unwrap());
}

#[test]
fn other_link_types() {
    let ip = ip_tcp(b"x");
    for lt in [
        LinkType::RAW,
        LinkType::RAW_12,
        LinkType::RAW_14,
        LinkType::IPV4,
    ] {
        check_tcp(&decode(lt, &ip, &opts()).unwrap());
    }
    let mut null = 2u32.to_le_bytes().to_vec();
    null.extend(&ip);
    check_tcp(&decode(LinkType::NULL, &null, &opts()).unwrap());
    let mut lo = 2u32.to_be_bytes().to_vec();
    lo.extend(&ip);
    check_tcp(&decode(LinkType::LOOP, &lo, &opts()).unwrap());
    let mut sll = vec![0u8; 14];
    sll.extend_from_slice(&[0x08, 0x00]);
    sll.extend(&ip);
    check_tcp(&decode(LinkType::LINUX_SLL, &sll, &opts()).unwrap());
    let mut sll2 = vec![0x08, 0x00];
    sll2.extend_from_slice(&[0u8; 18]);
    sll2.extend(&ip);
    check_tcp(&decode(LinkType::LINUX_SLL2, &sll2, &opts()).unwrap());
    let mut ppp = vec![0xff, 0x03, 0x00, 0x21];
    ppp.extend(&ip);
    check_tcp(&decode(LinkType::PPP, &ppp, &opts()).unwrap());
    let mut hdlc = vec![0x0f, 0x00, 0x08, 0x00];
    hdlc.extend(&ip);
    check_tcp(&decode(LinkType::C_HDLC, &hdlc, &opts()).unwrap());
    check_tcp(&decode(LinkType::PPP, &hdlc, &opts()).unwrap());
    assert_eq!(
        decode(LinkType(147), &ip, &opts()),
        Err(Skip::UnsupportedLinkType)
    );
}

#[test]
fn ipv6_with_extension_headers_and_fragments() {
    let base = ip6_udp(b"query");
    let i = decode(LinkType::RAW, &base, &opts()).unwrap();
    assert_eq!(
        (i.ip_version, i.protocol, i.src_port, i.dst_port),
        (6, 17, 5353, 53)
    );
    // Insert a hop-by-hop header and a first fragment header before UDP.
    let mut p = base[..40].to_vec();
    p[6] = 0; // next: hop-by-hop
    p.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]); // hbh -> fragment
    p.extend_from_slice(&[17, 0, 0x00, 0x01, 0, 0, 0, 9]); // fragment offset 0, M=1 -> UDP
    p.extend_from_slice(&base[40..]);
    let plen = (p.len() - 40) as u16;
    p[4..6].copy_from_slice(&plen.to_be_bytes());
    let i = decode(LinkType::RAW, &p, &opts()).unwrap();
    assert_eq!((i.protocol, i.src_port, i.dst_port), (17, 5353, 53));
    assert_eq!(i.payload, b"query");
    // A non-first fragment is ignored.
    let mut q = p.clone();
    q[48 + 2] = 0x00;
    q[48 + 3] = 0x09; // offset 1
    assert_eq!(decode(LinkType::RAW, &q, &opts()), Err(Skip::Fragment));
    // Truncated IPv6 is dropped.
    assert_eq!(
        decode(LinkType::RAW, &p[..p.len() - 1], &opts()),
        Err(Skip::BadIpHeader)
    );
}

/// Issue 24, measured against NFStream 6.6.0 on crafted captures: a
/// Mobility Header (135) or hop-by-hop header that ends the packet, and an
/// empty payload, are packets of the last next header (59, or the
/// transport's with ports 0); "no next header" followed by more than one
/// byte, or a header longer than what is left, is malformed.
#[test]
fn ipv6_mobility_no_next_header_and_empty_payloads_follow_ndpi() {
    let v6 = |next: u8, rest: &[u8]| {
        let mut p = ip6_udp(b"")[..40].to_vec();
        p[6] = next;
        p[4..6].copy_from_slice(&(rest.len() as u16).to_be_bytes());
        p.extend_from_slice(rest);
        p
    };
    let proto = |p: &[u8]| decode(LinkType::RAW, p, &opts()).map(|i| (i.protocol, i.src_port));
    let mobility = [59, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(proto(&v6(135, &mobility)), Ok((59, 0)));
    assert_eq!(proto(&v6(0, &[59, 0, 0, 0, 0, 0, 0, 0])), Ok((59, 0)));
    assert_eq!(proto(&v6(59, &[])), Ok((59, 0)));
    assert_eq!(proto(&v6(59, &[0])), Ok((59, 0)));
    assert_eq!(proto(&v6(17, &[])), Ok((17, 0)));
    assert_eq!(proto(&v6(6, &[])), Ok((6, 0)));
    assert_eq!(proto(&v6(59, &[0; 8])), Err(Skip::BadIpHeader));
    let mut more = mobility.to_vec();
    more.extend_from_slice(&[0; 8]);
    assert_eq!(proto(&v6(135, &more)), Err(Skip::BadIpHeader));
    let mut long = mobility;
    long[1] = 3; // 32 bytes claimed, 16 there
    assert_eq!(proto(&v6(135, &long)), Err(Skip::BadIpHeader));
}

/// Issue 24, measured against NFStream 6.6.0 on crafted captures: 802.11
/// behind radiotap is decoded for data frames to or from the distribution
/// system (a 26-byte header, then LLC/SNAP); management frames, frames
/// between access points and non-SNAP LLC are not IP.
#[test]
fn radiotap_wifi_data_frames_are_decoded_as_nfstream_does() {
    let ip = ip_udp(5000, 6000, b"hello");
    let frame = |radiotap_len: u16, fc: [u8; 2], dsap: u8, ethertype: [u8; 2]| {
        let mut f = vec![0, 0];
        f.extend_from_slice(&radiotap_len.to_le_bytes());
        f.resize(usize::from(radiotap_len), 0);
        f.extend_from_slice(&fc);
        f.extend_from_slice(&[0; 24]); // duration, addresses, sequence, QoS
        f.extend_from_slice(&[dsap, 0xaa, 3, 0, 0, 0, ethertype[0], ethertype[1]]);
        f.extend_from_slice(&ip);
        f
    };
    let radio = LinkType::IEEE802_11_RADIOTAP;
    let ports = |f: &[u8]| decode(radio, f, &opts()).map(|i| (i.protocol, i.src_port, i.dst_port));
    assert_eq!(
        ports(&frame(8, [0x88, 0x01], 0xaa, [8, 0])),
        Ok((17, 5000, 6000))
    );
    assert_eq!(
        ports(&frame(18, [0x88, 0x02], 0xaa, [8, 0])),
        Ok((17, 5000, 6000))
    );
    assert_eq!(
        ports(&frame(8, [0x88, 0x03], 0xaa, [8, 0])),
        Err(Skip::NotIp)
    );
    assert_eq!(
        ports(&frame(8, [0x80, 0x00], 0xaa, [8, 0])),
        Err(Skip::NotIp)
    );
    assert_eq!(
        ports(&frame(8, [0x88, 0x01], 0x42, [8, 0])),
        Err(Skip::NotIp)
    );
    assert_eq!(
        ports(&frame(8, [0x88, 0x01], 0xaa, [8, 6])),
        Err(Skip::NotIp)
    );
    let f = frame(8, [0x88, 0x01], 0xaa, [8, 0]);
    for n in 0..f.len() {
        let _ = decode(radio, &f[..n], &opts());
    }
}

#[test]
fn ipv4_fragments() {
    let mut p = ip_udp(1000, 53, b"0123456789abcdef");
    p[6] = 0x20; // MF, offset 0: first fragment, metered
    assert!(decode(LinkType::RAW, &p, &opts()).is_ok());
    p[7] = 0x10; // offset 16: non-first, ignored
    assert_eq!(decode(LinkType::RAW, &p, &opts()), Err(Skip::Fragment));
}

#[test]
fn truncated_transport_keeps_the_packet_with_zero_ports() {
    let p = ip_tcp(&[0u8; 20]);
    // Cut inside the TCP header; IPv4 truncation by snap length is still metered.
    let i = decode(LinkType::RAW, &p[..30], &opts()).unwrap();
    assert_eq!((i.protocol, i.src_port, i.dst_port), (6, 0, 0));
    assert_eq!(
        decode(LinkType::RAW, &p[..27], &opts()),
        Err(Skip::TooShort)
    );
}

#[test]
fn non_ip_frames_are_counted_by_reason() {
    let arp = eth(0x0806, &[0u8; 28]);
    assert_eq!(decode(LinkType::ETHERNET, &arp, &opts()), Err(Skip::NotIp));
    let mut c = SkipCounters::default();
    c.add(Skip::NotIp);
    c.add(Skip::NotIp);
    c.add(Skip::Fragment);
    assert_eq!(c.total(), 3);
    assert!(c.iter().any(|(n, v)| n == "not_ip" && v == 2));
}

fn gtp(inner: &[u8], flags: u8) -> Vec<u8> {
    let mut g = vec![flags, 0xff];
    let ext = if flags & 0x07 != 0 { 4 } else { 0 };
    g.extend_from_slice(&((inner.len() + ext) as u16).to_be_bytes());
    g.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    if ext > 0 {
        g.extend_from_slice(&[0, 0, 0, 0]);
    }
    g.extend_from_slice(inner);
    g
}

#[test]
fn gtp_u_is_decapsulated_with_nfstream_tunnel_id() {
    for flags in [0x30, 0x32] {
        let outer = ip_udp(2152, 2152, &gtp(&ip_tcp(b""), flags));
        let i = decode(LinkType::RAW, &outer, &opts()).unwrap();
        check_tcp(&i);
        assert_eq!(
            (i.tunnel, i.tunnel_id),
            (Tunnel::Gtp, tunnel::TUNNEL_ID_GTP)
        );
        // Without tunnel decoding it is plain UDP.
        let o = DecodeOptions {
            decode_tunnels: false,
        };
        let i = decode(LinkType::RAW, &outer, &o).unwrap();
        assert_eq!((i.protocol, i.dst_port, i.tunnel_id), (17, 2152, 0));
    }
}

#[test]
fn tzsp_and_capwap_and_ip_in_ip() {
    let mut tz = vec![1, 0, 0, 1, 1]; // v1, received, Ethernet, END tag
    tz.extend(eth(0x0800, &ip_tcp(b"")));
    let f = ip_udp(40000, 37008, &tz);
    let i = decode(LinkType::RAW, &f, &opts()).unwrap();
    check_tcp(&i);
    assert_eq!(i.tunnel_id, tunnel::TUNNEL_ID_TZSP);

    let mut cw = vec![0x00, 0x10, 0x43, 0x20, 0, 0, 0, 0]; // HLEN 2 words
    cw.extend_from_slice(&[0x08, 0x01]);
    cw.extend_from_slice(&[0u8; 22]);
    cw.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]);
    cw.extend(ip_tcp(b""));
    let f = ip_udp(12380, 5247, &cw);
    let i = decode(LinkType::RAW, &f, &opts()).unwrap();
    check_tcp(&i);
    assert_eq!(i.tunnel_id, tunnel::TUNNEL_ID_CAPWAP);

    let mut v = Vec::new();
    let inner = ip_tcp(b"");
    PacketBuilder::ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
        .write(&mut v, etherparse::IpNumber(ipproto::IPIP), &inner)
        .unwrap();
    let i = decode(LinkType::RAW, &v, &opts()).unwrap();
    check_tcp(&i);
    assert_eq!((i.tunnel, i.tunnel_id), (Tunnel::IpInIp, 0));
}

#[test]
fn every_prefix_of_every_fixture_is_safe() {
    let mut fixtures = vec![
        eth(0x0800, &ip_tcp(b"payload")),
        eth(0x86dd, &ip6_udp(b"q")),
        ip_udp(2152, 2152, &gtp(&ip_tcp(b""), 0x32)),
    ];
    let mut tz = vec![1, 0, 0, 1, 1];
    tz.extend(eth(0x0800, &ip_tcp(b"")));
    fixtures.push(eth(0x0800, &ip_udp(1, 37008, &tz)));
    for f in &fixtures {
        for n in 0..=f.len() {
            for lt in [
                LinkType::ETHERNET,
                LinkType::RAW,
                LinkType::LINUX_SLL2,
                LinkType::PPP,
            ] {
                let _ = decode(lt, &f[..n], &opts());
            }
        }
    }
}

proptest::proptest! {
    #[test]
    fn random_frames_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..200), lt in 0u32..300) {
        let _ = decode(LinkType(lt), &data, &opts());
    }

    #[test]
    fn mutated_frames_never_panic(pos in 0usize..80, byte in proptest::num::u8::ANY) {
        let mut f = ip_udp(2152, 2152, &gtp(&ip_tcp(b"abc"), 0x32));
        if pos < f.len() { f[pos] = byte; }
        let _ = decode(LinkType::RAW, &f, &opts());
    }
}
