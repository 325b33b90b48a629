//! Real protocol messages, one per table row that needs more than a
//! literal: each row is tested on its sample (see the tests in `mod.rs`).
use super::*;

pub(super) const DHCP_SAMPLE: &[u8] = &{
    // A DISCOVER: BOOTREQUEST, the cookie, option 53 = 1, end.
    let mut d = [0u8; 244];
    d[0] = 1;
    d[240] = 53;
    d[241] = 1;
    d[242] = 1;
    d[243] = 255;
    d[236] = DHCP_COOKIE[0];
    d[237] = DHCP_COOKIE[1];
    d[238] = DHCP_COOKIE[2];
    d[239] = DHCP_COOKIE[3];
    d
};
pub(super) const NTP_SAMPLE: &[u8] = &{
    let mut d = [0u8; 48];
    d[0] = 0x23; // version 4, client
    d
};
pub(super) const WIREGUARD_SAMPLE: &[u8] = &{
    let mut d = [0u8; 148];
    d[0] = 1;
    d
};
pub(super) const ETHEREUM_SAMPLE: &[u8] = &{
    let mut d = [0u8; 120];
    d[97] = 1;
    d
};

/// An RLPx auth message as it starts on the wire (EIP-8): its size (427),
/// then the ECIES ciphertext, whose first byte is the key marker.
pub(super) const ETHEREUM_RLPX_SAMPLE: &[u8] = &{
    let mut d = [0x5au8; 429];
    d[0] = 0x01;
    d[1] = 0xab;
    d[2] = 0x04;
    d
};

pub(super) const TENCENT_SAMPLE: &[u8] = &{
    let mut d = [0u8; 60];
    d[0] = 0x33;
    d[1] = 0x66;
    d[3] = 0x0b;
    d[5] = 0x0b;
    d
};
pub(super) const THREEMA_SAMPLE: &[u8] = &[0xc1; 48];
pub(super) const POE_SAMPLE: &[u8] =
    b"\0\x03\0\x37\x75\x60\0\x02\0\x09nDPI_Test\xec\x8f\xec\xf2\0\0\0\0\x40\0\0\x01";
pub(super) const MYSQL_SAMPLE: &[u8] = b"\x4a\0\0\0\x0a8.0.36\0\x08\0\0\0abcdefgh\0\xff\xff\xff\x02\0\xff\xdf\x15\0\0\0\0\0\0\0\0\0\0ijklmnopqrst\0caching_sha2_password\0";
pub(super) const NFS_TCP_SAMPLE: &[u8] = &{
    let mut d = [0u8; 48];
    d[0] = 0x80;
    d[3] = 44;
    d[4 + 11] = 2; // RPC version
    d[4 + 13] = 0x01;
    d[4 + 14] = 0x86;
    d[4 + 15] = 0xa3; // NFS
    d[4 + 19] = 3;
    d
};
pub(super) const NFS_UDP_SAMPLE: &[u8] = &{
    let mut d = [0u8; 44];
    d[11] = 2;
    d[13] = 0x01;
    d[14] = 0x86;
    d[15] = 0xa3;
    d[19] = 3;
    d
};
pub(super) const H323_SAMPLE: &[u8] = &{
    let mut d = [0u8; 24];
    d[0] = 3;
    d[3] = 24;
    d[4] = 0x08; // Q.931
    d[5] = 0x02;
    d
};
pub(super) const H323_RAS_SAMPLE: &[u8] = &{
    let mut d = [0u8; 24];
    d[4] = 0x06;
    d[6] = 0x08;
    d[7] = 0x91;
    d[8] = 0x4a;
    d
};
pub(super) const GW2_SAMPLE: &[u8] =
    b"P /Sts/Connect STS/1.0\r\nl:123\r\ns:1\r\n\r\n<Connect><ConnType>400</ConnType>";
pub(super) const SOMEIP_SAMPLE: &[u8] = b"\xff\xff\0\0\0\0\0\x08\xde\xad\xbe\xef\x01\x01\x01\x00";
pub(super) const MELSEC_SAMPLE: &[u8] = &{
    let mut d = [0u8; 44];
    d[0] = 0x57;
    d[5] = 0x11;
    d[6] = 0x11;
    d[19] = 23; // data length: 44 - 21
    d
};
pub(super) const C37118_SAMPLE: &[u8] = &[
    0xaa, 0x41, 0x00, 0x12, 0x00, 0x01, 0x5f, 0x5e, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,
    0x17, 0x31,
];
pub(super) const VMWARE_SAMPLE: &[u8] = &{
    let mut d = [0u8; 66];
    d[0] = 0xa4;
    d
};
pub(super) const CPHA_SAMPLE: &[u8] = b"\x1a\x90\x00\x02\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";
pub(super) const CROSSFIRE_SAMPLE: &[u8] = &{
    let mut d = [0u8; 25];
    d[0] = 0xc7;
    d[1] = 0xd9;
    d[2] = 0x19;
    d[3] = 0x99;
    d[4] = 0x02;
    d[22] = 0x7d;
    d
};
pub(super) const SDRTN_SAMPLE: &[u8] = &{
    let mut d = [0u8; 24];
    d[6] = 0x21;
    d[12] = 0x04;
    d[13] = b'S';
    d[14] = b'N';
    d[15] = b'I';
    d[17] = 4;
    d
};
pub(super) const SDR_SAMPLE: &[u8] = &{
    let mut d = [0u8; 100];
    let p = b"sdping";
    let mut i = 0;
    while i < 6 {
        d[2 + i] = p[i];
        i += 1;
    }
    d
};
pub(super) const I3D_SAMPLE: &[u8] = &{
    let mut d = [0u8; 80];
    d[1] = 0x01;
    d[3] = 0x46;
    d[5] = 0x03;
    d[6] = 0xcf;
    d[7] = 0xa8;
    d
};
pub(super) const CRYNET_SAMPLE: &[u8] = &{
    let mut d = [0u8; 70];
    d[0] = 0x3c;
    d[16] = 1;
    d[20] = 7;
    d[24] = 0x03;
    d[25] = 0x07;
    d
};
pub(super) const DIAMETER_SAMPLE: &[u8] = &{
    let mut d = [0u8; 20];
    d[0] = 1;
    d[3] = 20;
    d[4] = 0x80;
    d[6] = 0x01;
    d[7] = 0x01; // capabilities exchange (257)
    d
};
pub(super) const TUYA_SAMPLE: &[u8] = &{
    let mut d = [0u8; 28];
    d[2] = 0x55;
    d[3] = 0xaa;
    d[26] = 0xaa;
    d[27] = 0x55;
    d
};
pub(super) const ORACLE_SAMPLE: &[u8] = &{
    let mut d = [0u8; 40];
    d[1] = 40;
    d[4] = 1; // CONNECT
    d[8] = 0x01;
    d[9] = 0x3c; // version 316
    d
};
pub(super) const ENIP_SAMPLE: &[u8] = &{
    let mut d = [0u8; 28];
    d[0] = 0x65; // register session
    d[2] = 4;
    d
};
pub(super) const SLP_SAMPLE: &[u8] = &{
    let mut d = [0u8; 20];
    d[0] = 2;
    d[1] = 1; // service request
    d[4] = 20;
    d
};
pub(super) const VXLAN_SAMPLE: &[u8] = &{
    let mut d = [0u8; 30];
    d[0] = 0x08;
    d[6] = 1;
    d
};
pub(super) const RADIUS_SAMPLE: &[u8] = &{
    let mut d = [0u8; 20];
    d[0] = 1;
    d[3] = 20;
    d
};
pub(super) const NETFLOW_SAMPLE: &[u8] = &{
    let mut d = [0u8; 72];
    d[1] = 5;
    d[3] = 1;
    // Exported at 2023-11-14 22:13:20 UTC.
    d[8] = 0x65;
    d[9] = 0x53;
    d[10] = 0xf1;
    d
};
pub(super) const SFLOW_SAMPLE: &[u8] = &{
    let mut d = [0u8; 28];
    d[3] = 5;
    d[7] = 1;
    d
};
pub(super) const PTP_SAMPLE: &[u8] = &{
    let mut d = [0u8; 44];
    d[1] = 2;
    d[3] = 44;
    d
};
pub(super) const BFD_SAMPLE: &[u8] = &{
    let mut d = [0u8; 24];
    d[0] = 0x20;
    d[2] = 3;
    d[3] = 24;
    d
};
pub(super) const MPEGTS_SAMPLE: &[u8] = &{
    let mut d = [0xffu8; 188];
    d[0] = 0x47;
    d
};
/// An HSRP version 0 hello (20 bytes, group 10, priority 100).
pub(super) const HSRP_SAMPLE: &[u8] =
    b"\x00\x00\x10\x03\x0ad\x01\x00cisco\x00\x00\x00\x0a\x00\x00\x01";
pub(super) const ZOOM_P2P_SAMPLE: &[u8] = &{
    let mut d = [0u8; 44];
    d[0] = 0x1f;
    d[1] = 0x02;
    d[2] = 0x01;
    d[27] = 4; // address length
    d[35] = 4; // UUID length
    d
};
/// Telegram's call relays listen on ports 500-600.
pub(super) const TELEGRAM_RELAY_PORTS: (u16, u16) = (500, 600);
pub(super) const TELEGRAM_SAMPLE: &[u8] = &{
    let mut d = [0u8; 48];
    let mut i = 16;
    while i < 28 {
        d[i] = 0xff;
        i += 1;
    }
    d
};
pub(super) const LOL_SAMPLE: &[u8] = &{
    let mut d = [0u8; 22];
    d[0] = 0x01;
    d[1] = 0x02;
    d[2] = 0xc8;
    d[3] = 0x41;
    d[18] = b'A';
    d[19] = b'0';
    d[20] = b'B';
    d[21] = b'1';
    d
};
pub(super) const GAIJIN_SAMPLE: &[u8] = &{
    let mut d = [0u8; 52];
    d[0] = 0x8f;
    d[1] = 0xff;
    d[4] = 0x82;
    d[5] = 0xff;
    d[7] = 0x01;
    d
};
pub(super) const HOTS_SAMPLE: &[u8] = &{
    let mut d = [0u8; 24];
    d[2] = 0x34;
    d[14] = 0x40;
    d
};
pub(super) const EPIC_SAMPLE: &[u8] = &{
    let mut d = [0u8; 50];
    d[0] = 0x47;
    d[1] = 0x1a;
    d[2] = 0x20;
    d
};
pub(super) const RTP_SAMPLE: &[u8] =
    b"\x80\x00\x12\x34\0\0\x01\x00\xde\xad\xbe\xef\x55\x55\x55\x55";
pub(super) const NANO_SAMPLE: &[u8] = &{
    let mut d = [0u8; 40];
    d[0] = b'R';
    d[1] = b'C';
    d[2] = 20;
    d[3] = 19;
    d[4] = 18;
    d[5] = 0x0a;
    d
};
pub(super) const GENSHIN_SAMPLE: &[u8] =
    b"\x00\x00\x00\xff\x00\x00\x00\x00\x00\x00\x00\x00I\x96\x02\xd2\xff\xff\xff\xff";
pub(super) const TEREDO_SAMPLE: &[u8] = &{
    let mut d = [0u8; 48];
    d[8] = 0x60; // IPv6 after an origin indication
    d
};
pub(super) const FLUTE_SAMPLE: &[u8] = &{
    let mut d = [0u8; 260];
    d[0] = 0x10;
    d[2] = 4; // header of 16 bytes
    let x = b"<?xml";
    let mut i = 0;
    while i < 5 {
        d[20 + i] = x[i];
        i += 1;
    }
    let f = b"<FDT";
    i = 0;
    while i < 4 {
        d[59 + i] = f[i];
        i += 1;
    }
    d
};
/// An Elasticsearch transport handshake request (a 23-byte message).
pub(super) const ELASTIC_SAMPLE: &[u8] =
    b"ES\0\0\0\x17\0\0\0\0\0\0\0\x01\x08\0\x5c\xc6\x63\0\0\x01\x06x-pack";
pub(super) const PPTP_SAMPLE: &[u8] = b"\0\x10\0\x01\x1a\x2b\x3c\x4d\0\x01\0\0\x01\0\0\0";
/// An ADS Read Device Info request (38 bytes).
pub(super) const ADS_SAMPLE: &[u8] = b"\x00\x00 \x00\x00\x00\xc0\xa8\x01\x0a\x01\x01S\x03\xc0\xa8\x01d\x01\x01\x00\x80\x01\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00";
pub(super) const DLMS_HDLC_SAMPLE: &[u8] = b"~\xa0\x07\x03!\x93\x0f\x01~";
pub(super) const XIAOMI_SAMPLE: &[u8] = b"\xc2\xfe\0\x05\0\0\0\x04\0\x02\0\x16\x08\0\x1a\x0a";
pub(super) const SPOTIFY_SAMPLE: &[u8] = b"\0\x04\0\0\0\x10\x52\x0f\x50\x02\xa0\x01\0\xf0\x01\x06";
/// TRDP process data (48 bytes: an 8-byte dataset) with its check sequence.
pub(super) const TRDP_PD_SAMPLE: &[u8] = b"\x00\x00\x00\x01\x01\x00Pd\x00\x00\x03\xe8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00>\xe4\xfa\x10\x00\x01\x02\x03\x04\x05\x06\x07";
/// TRDP message data (120 bytes: a 4-byte dataset) with its check sequence.
pub(super) const TRDP_MD_SAMPLE: &[u8] = b"\x00\x00\x00\x01\x01\x00Mr\x00\x00\x03\xe8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00\x00\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x00\x0fB@dev1@example\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00dev2@example\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00d\xdef.\x01\x02\x03\x04";
pub(super) const C1222_SAMPLE: &[u8] = b"\x60:\xa2\x07\x06\x05\x60|\x86\xf7T\xa6\x06\x06\x04*\x03\x04\x05\xa8\x03\x02\x01\x01\xbe\x22( \x81\x1e\x000\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";
/// A Gnutella 0.6 ping over UDP asking for a query key: GUID, type 0, TTL
/// 1, payload length 5; a GGEP block with the "QK" extension, no data.
pub(super) const GNUTELLA_SAMPLE: &[u8] = &{
    let mut d = [0u8; 28];
    d[17] = 1;
    d[19] = 5;
    d[23] = 0xc3;
    d[24] = 0x82;
    d[25] = b'Q';
    d[26] = b'K';
    d[27] = 0x40;
    d
};
pub(super) const CNP_SAMPLE: &[u8] = &{
    let mut d = [0u8; 28];
    d[1] = 28;
    d[2] = 1;
    d[3] = 1;
    d
};
/// EGD production data from 10.0.0.1 (its producer id).
pub(super) const EGD_SAMPLE: &[u8] = &{
    let mut d = [0u8; 40];
    d[0] = 0x0d;
    d[1] = 0x01;
    d[4] = 10;
    d[7] = 1;
    d
};
pub(super) const KCP_SAMPLE: &[u8] = &{
    let mut d = [0u8; 28];
    d[0] = 10;
    d[4] = 81;
    d[20] = 4;
    d
};
/// A DCE/RPC request over UDP: version 4, little-endian, 16 bytes of stub.
pub(super) const DCERPC_SAMPLE: &[u8] = &{
    let mut d = [0u8; 96];
    d[0] = 4;
    d[1] = 0;
    d[2] = 8;
    d[4] = 0x10;
    d[74] = 16;
    d
};
/// DNSCrypt's encrypted answer: the resolver magic, then nonce, MAC and box.
pub(super) const DNSCRYPT_SAMPLE: &[u8] = &{
    let mut d = [0u8; 64];
    let m = *b"r6fnvWj8";
    let mut i = 0;
    while i < m.len() {
        d[i] = m[i];
        i += 1;
    }
    d
};
/// iQIYI's UDP message: 135 bytes naming PPStream.
pub(super) const IQIYI_SAMPLE: &[u8] = &{
    let mut d = [0u8; 135];
    let m = *b"PPStream";
    let mut i = 0;
    while i < m.len() {
        d[64 + i] = m[i];
        i += 1;
    }
    d
};
/// A CAN-ETH header (version 1, one frame: id 0x123, four data bytes).
pub(super) const CAN_ETH_SAMPLE: &[u8] =
    b"ISO11898\x01\x01\x23\x01\0\0\x04\x55\x66\x77\x88\0\0\0\0\0\0";
/// A BFCP FloorRequest (RFC 8855 section 5.3.1) with one FLOOR-ID attribute.
pub(super) const BFCP_SAMPLE: &[u8] = b"\x20\x01\0\x01\0\0\0\x01\0\x01\0\x02\x05\x04\0\x01";
/// collectd's binary protocol: host, time-hr, interval-hr, plugin,
/// plugin instance, type, type instance and one DERIVE value.
pub(super) const COLLECTD_SAMPLE: &[u8] = b"\0\0\0\x0bmyhost\0\0\x08\0\x0c\x19\x54\xfc\x40\0\0\0\0\0\x09\0\x0c\0\0\0\x02\x80\0\0\0\0\x02\0\x08cpu\0\0\x03\0\x060\0\0\x04\0\x08cpu\0\0\x05\0\x09idle\0\0\x06\0\x0f\0\x01\x02\0\0\0\0\0\x01\xe2\x40";
/// A LISP Map-Request (RFC 9301 section 5.2) for 192.0.2.0/24.
pub(super) const LISP_MAP_REQUEST_SAMPLE: &[u8] =
    b"\x10\0\0\x01\xa1\xb2\xc3\xd4\xe5\xf6\x07\x18\0\0\0\x01\x0a\0\0\x01\0\x18\0\x01\xc0\0\x02\0";
/// `{"system":{"get_sysinfo":{}}}` under TP-Link's autokey cipher.
pub(super) const TPLINK_SAMPLE: &[u8] = b"\xd0\xf2\x81\xf8\x8b\xff\x9a\xf7\xd5\xef\x94\xb6\xd1\xb4\xc0\x9f\xec\x95\xe6\x8f\xe1\x87\xe8\xca\xf0\x8b\xf6\x8b\xf6";
/// The same over TCP, after its 4-byte length.
pub(super) const TPLINK_TCP_SAMPLE: &[u8] = b"\0\0\0\x1d\xd0\xf2\x81\xf8\x8b\xff\x9a\xf7\xd5\xef\x94\xb6\xd1\xb4\xc0\x9f\xec\x95\xe6\x8f\xe1\x87\xe8\xca\xf0\x8b\xf6\x8b\xf6";
/// An IKEv2 IKE_SA_INIT request (RFC 7296 section 1.2): SA (AES-CBC-256,
/// HMAC-SHA256, group 19), KE and nonce payloads.
pub(super) const IKEV2_SA_INIT_SAMPLE: &[u8] = b"\x1a\x2b\x3c\x4d\x5e\x6f\x70\x81\x00\x00\x00\x00\x00\x00\x00\x00\x21\x20\x22\x08\x00\x00\x00\x00\x00\x00\x00\xb8\x22\x00\x00\x30\x00\x00\x00\x2c\x01\x01\x00\x04\x03\x00\x00\x0c\x01\x00\x00\x0c\x80\x0e\x01\x00\x03\x00\x00\x08\x02\x00\x00\x05\x03\x00\x00\x08\x03\x00\x00\x0c\x00\x00\x00\x08\x04\x00\x00\x13\x28\x00\x00\x48\x00\x13\x00\x00\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x20\x21\x22\x23\x24\x25\x26\x27\x28\x29\x2a\x2b\x2c\x2d\x2e\x2f\x30\x31\x32\x33\x34\x35\x36\x37\x38\x39\x3a\x3b\x3c\x3d\x3e\x3f\x00\x00\x00\x24\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f\x70\x71\x72\x73\x74\x75\x76\x77\x78\x79\x7a\x7b\x7c\x7d\x7e\x7f\x80\x81\x82\x83";
/// A GLBP v1 Hello for group 1 with its Hello TLV (virtual IP 192.168.1.1).
pub(super) const GLBP_SAMPLE: &[u8] = b"\x01\x00\x00\x01\x00\x00\x00\x00\x5e\x00\x01\x01\x01\x1c\x00\x00\x00\x00\x0b\xb8\x27\x10\x00\x00\x00\x00\x00\x0a\x00\x01\x00\x01\xc0\xa8\x01\x01\x00\x00\x00\x00";
/// Delivery Optimization's peer handshake: name, reserved bytes, content
/// hash, peer id.
pub(super) const MSDO_SAMPLE: &[u8] = b"\x0e\x53\x77\x61\x72\x6d\x20\x70\x72\x6f\x74\x6f\x63\x6f\x6c\x00\x00\x00\x00\x00\x00\x00\x00\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x2d\x44\x4f\x30\x30\x30\x31\x2d\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";
/// A Raft AppendEntries (type 1) with a 40-byte body: term 2, previous
/// index 5, previous term 2, commit 5, no entries.
pub(super) const RAFT_APPEND_ENTRIES_SAMPLE: &[u8] = b"\x01\x00\x00\x00\x00\x00\x00\x00\x28\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";
/// An unsecured Matter PBKDFParamRequest (session 0): message header,
/// exchange header, TLV body.
pub(super) const MATTER_SAMPLE: &[u8] = b"\x04\x00\x00\x00\x5a\x3c\x1f\x0b\x11\x22\x33\x44\x55\x66\x77\x88\x05\x20\x4b\x9e\x00\x00\x15\x30\x01\x20\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\xab\x25\x01\x01\x00\x24\x02\x00\x28\x03\x18";
/// An Rx (AFS) DATA packet from the client: epoch, connection, call,
/// sequence, serial, type 1, flags client-initiated and last, service 52.
pub(super) const RX_SAMPLE: &[u8] = b"\x5f\x3a\x1b\x2c\x8a\x3c\x10\x04\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x01\x01\x21\x00\x00\x00\x00\x00\x34\x00\x00\x02\x09\x00\x00\x00\x00";
/// RTMP's C0 and C1 (version 3; time, zero, 1528 bytes of its random data).
pub(super) const RTMP_C0_C1_SAMPLE: &[u8] = &{
    let mut d = [0u8; 1537];
    d[0] = 3;
    let mut i = 9;
    while i < d.len() {
        d[i] = (i * 7) as u8;
        i += 1;
    }
    d
};
/// RTMP's S0 and the opening of S1.
pub(super) const RTMP_S0_S1_SAMPLE: &[u8] = b"\x03\0\0\x12\x34\0\0\0\0\x5a\xa5";
/// A Protobuf message of eight fields (varints, strings, fixed32 1.0,
/// fixed64 2.0).
pub(super) const PROTOBUF_SAMPLE: &[u8] = b"\x08\x96\x01\x12\x07\x74\x65\x73\x74\x69\x6e\x67\x18\x01\x25\x00\x00\x80\x3f\x2a\x10\x75\x73\x65\x72\x40\x65\x78\x61\x6d\x70\x6c\x65\x2e\x63\x6f\x6d\x30\x80\xe2\xcf\xaa\x06\x39\x00\x00\x00\x00\x00\x00\x00\x40\x40\x01";

/// A MongoDB OP_MSG `{ping: 1}` (header: length 36, request id 1, opcode
/// 2013; flag bits 0; a body section holding one BSON document).
pub(super) const MONGODB_PING_SAMPLE: &[u8] =
    b"\x24\0\0\0\x01\0\0\0\0\0\0\0\xdd\x07\0\0\0\0\0\0\0\x0f\0\0\0\x10ping\0\x01\0\0\0\0";

/// A Nintendo (PIA) datagram as nDPI recognises it: the magic, version 2,
/// and 44 more bytes (nDPI wants more than 48 in all).
pub(super) const NINTENDO_SAMPLE: &[u8] = &{
    let mut d = [0u8; 49];
    let mut i = 0;
    while i < apps::NINTENDO_MAGIC.len() {
        d[i] = apps::NINTENDO_MAGIC[i];
        i += 1;
    }
    d
};

/// OpenVPN's P_CONTROL_HARD_RESET_SERVER_V2 over TCP: length 26, opcode 8
/// key 0, the server's session id, one ack (packet 0), the client's session
/// id, packet id 0.
pub(super) const OPENVPN_SERVER_RESET_SAMPLE: &[u8] = b"\x00\x1a\x40\xa1\xa2\xa3\xa4\xa5\xa6\xa7\xa8\x01\0\0\0\0\x01\x02\x03\x04\x05\x06\x07\x08\0\0\0\0";

/// A FastCGI PARAMS record (REQUEST_METHOD GET, SCRIPT_URL, HTTP_HOST).
pub(super) const FASTCGI_PARAMS_SAMPLE: &[u8] =
    b"\x01\x04\0\x01\0\x43\0\0\x0e\x03REQUEST_METHODGET\x0a\x0aSCRIPT_URL/index.php\x09\x0fHTTP_HOSTwww.example.org";

/// An AMQP 0-9-1 Connection.Start frame (RabbitMQ's, trimmed).
pub(super) const AMQP_START_SAMPLE: &[u8] = b"\x01\0\0\0\0\0\x4d\0\x0a\0\x0a\0\x09\0\0\0\x28\x07productS\0\0\0\x08RabbitMQ\x07versionS\0\0\0\x063.12.0\0\0\0\x0ePLAIN AMQPLAIN\0\0\0\x05en_US\xce";

/// An XMPP client's stream opening (RFC 6120).
pub(super) const JABBER_STREAM_SAMPLE: &[u8] = b"<?xml version='1.0'?><stream:stream to='example.org' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";

/// An SMB2 Negotiate request in its NetBIOS session message (108 bytes).
pub(super) const SMB2_NEGOTIATE_SAMPLE: &[u8] = &{
    let mut d = [0u8; 108];
    d[3] = 0x68;
    d[4] = 0xfe;
    d[5] = b'S';
    d[6] = b'M';
    d[7] = b'B';
    d[8] = 0x40;
    d[36] = 0xff;
    d[37] = 0xfe;
    // The Negotiate request: structure size 36, two dialects, signing.
    d[68] = 0x24;
    d[70] = 0x02;
    d[72] = 0x01;
    let mut i = 0;
    while i < 15 {
        d[81 + i] = (i + 1) as u8;
        i += 1;
    }
    d[104] = 0x02;
    d[105] = 0x02;
    d[106] = 0x10;
    d[107] = 0x02;
    d
};
/// A NetBIOS session request to *SMBSERVER from a workstation (72 bytes).
pub(super) const NBSS_SESSION_REQUEST_SAMPLE: &[u8] =
    b"\x81\0\0\x44 FDEFFCFGEFFCCACACACACACACACACACA\0 EDEMEJEFEOFECACACACACACACACACAAA\0";

/// A NetBIOS name query for WORKGROUP<00> (RFC 1002, 50 bytes).
pub(super) const NBNS_QUERY_SAMPLE: &[u8] =
    b"\x82(\x01\x10\0\x01\0\0\0\0\0\0 FHEPFCELEHFCEPFFFACACACACACACAAA\0\0 \0\x01";
/// A NetBIOS direct group datagram from 10.0.0.1 (RFC 1002, 82 bytes).
pub(super) const NBDS_SAMPLE: &[u8] = b"\x11\x02\x124\x0a\0\0\x01\0\x8a\0D\0\0 EIEPFDFEDBCACACACACACACACACACAAA\0 FHEPFCELEHFCEPFFFACACACACACACABN\0";
/// A DTLS 1.2 ClientHello in one record (79 bytes).
pub(super) const DTLS_CLIENT_HELLO_SAMPLE: &[u8] = b"\x16\xfe\xfd\0\0\0\0\0\0\0\0\0B\x01\0\x006\0\0\0\0\0\0\x006\xfe\xfd\0\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\0\0\0\x04\xc0+\xc0/\x01\0\0\x08\0\x0a\0\x04\0\x02\0\x17";

/// An HL7 v2.5 ADT^A01 message in MLLP framing (119 bytes).
pub(super) const HL7_ADT_SAMPLE: &[u8] = b"\x0bMSH|^~\x5c&|APP|FAC|RCVAPP|RCVFAC|20240101120000||ADT^A01|MSG00001|P|2.5\x0dPID|1||123456^^^HOSP^MR||DOE^JOHN||19700101|M\x0d\x1c\x0d";
/// A CQL v4 STARTUP (driver name and version, CQL_VERSION last).
pub(super) const CASSANDRA_STARTUP_SAMPLE: &[u8] = b"\x04\x00\x00\x01\x01\x00\x00\x00U\x00\x03\x00\x0bDRIVER_NAME\x00\x16DataStax Python Driver\x00\x0eDRIVER_VERSION\x00\x063.25.0\x00\x0bCQL_VERSION\x00\x073.4.5.1";
/// A Roughtime request as Google's servers take it: two tags (NONC, PAD),
/// a 64-byte nonce, padding to 1024 bytes.
pub(super) const ROUGHTIME_REQUEST_SAMPLE: &[u8] = &{
    let mut d = [0u8; 1024];
    d[0] = 2;
    d[4] = 64;
    d[8] = b'N';
    d[9] = b'O';
    d[10] = b'N';
    d[11] = b'C';
    d[12] = b'P';
    d[13] = b'A';
    d[14] = b'D';
    d[15] = 0xff;
    let mut i = 0;
    while i < 64 {
        d[16 + i] = i as u8;
        i += 1;
    }
    d
};

/// An S7 Setup Communication job (25 bytes).
pub(super) const S7_SETUP_SAMPLE: &[u8] = b"\x03\x00\x00\x19\x02\xf0\x802\x01\x00\x00\x00\x00\x00\x08\x00\x00\xf0\x00\x00\x01\x00\x01\x01\xe0";
/// TeamSpeak 3's first init packet (34 bytes).
pub(super) const TEAMSPEAK_INIT_SAMPLE: &[u8] = b"TS3INIT1\x00e\x00\x00\x88\x0e~\xa2\xb6\x00e\xa1\xb2\xc3\x11\x223D\x00\x00\x00\x00\x00\x00\x00\x00";
/// A PFCP Session Establishment Request (40 bytes).
pub(super) const PFCP_SESSION_SAMPLE: &[u8] = b"!2\x00\x24\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00<\x00\x05\x00\x0a\x00\x00\x01\x009\x00\x0d\x02\x00\x00\x00\x00\x00\x00\x00\x01\x0a\x00\x00\x01";
/// A UFTP 4 ANNOUNCE (32 bytes).
pub(super) const UFTP_ANNOUNCE_SAMPLE: &[u8] = b"@\x01\x00\x00\x0a\x00\x00\x01\x96\xf4\xc3\x04\x00\x9d\x00\x00\x01\x06\x00\x14\x00\x00\x05x\x00\x00\x00\x00e_\x00\x00";

/// An IRC server's welcome burst (RFC 2812 replies 001-005, 251, 375).
pub(super) const IRC_WELCOME_SAMPLE: &[u8] =
    b":irc.example.net 001 alice :Welcome to ExampleNet alice\r\n\
:irc.example.net 002 alice :Your host is irc.example.net\r\n\
:irc.example.net 003 alice :This server was created 2024\r\n\
:irc.example.net 004 alice irc.example.net ircd-2.11 aoOirw abeiIklmnoOpqrRstv\r\n\
:irc.example.net 005 alice CHANTYPES=#& PREFIX=(ov)@+ :are supported\r\n\
:irc.example.net 251 alice :There are 5 users\r\n\
:irc.example.net 375 alice :- irc.example.net Message of the Day -\r\n";
