#!/usr/bin/env python3
"""Asks nDPI 5.0 itself (NFStream 6.6.0) and exitflow to name a flow nothing
else names (one foreign UDP datagram to port 12345) to a server at the
edges of every prefix of exitflow's address lists
(crates/exitflow-dpi/data/ndpi/ip_lists.tsv), IPv4 and IPv6: its first and
last addresses and the two just outside it. Fails on every flow the two
label differently (label or guessed flag): which list an address falls in,
longest prefix first and overlaps resolved as nDPI loads them, is nDPI's.

Usage: scripts/check_addresses.py EXITFLOW [OUT_DIR]   (needs `nfstream==6.6.0`)
"""
import csv
import ipaddress
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_samples as cs  # noqa: E402

LISTS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                     "../crates/exitflow-dpi/data/ndpi/ip_lists.tsv")
BASE = 1_700_000_000
PAYLOAD = bytes([0x8f, 0x13, 0x00, 0x07]) * 4
PORT = 12345
ETHER = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01"


def datagram(k, server):
    """Flow k's one datagram to `server` (an ip_address), from a client of
    its own that no list holds."""
    udp = struct.pack("!HHHH", 20000 + k % 40000, PORT, 8 + len(PAYLOAD), 0) + PAYLOAD
    if server.version == 4:
        client = (10, 64 | (k >> 14) & 63, (k >> 6) & 255, (k & 63) + 1)
        return cs.frame(client, tuple(server.packed), 17, udp)
    client = ipaddress.ip_address(f"fd00::{k >> 16:x}:{k & 0xffff:x}").packed
    ip6 = struct.pack("!IHBB", 0x6000_0000, len(udp), 17, 64) + client + server.packed
    return ETHER + b"\x86\xdd" + ip6 + udp


def main():
    exe, out, NFStreamer = cs.start(__doc__, "check_addresses")
    edges = {}
    for line in open(LISTS):
        if line.startswith("#") or not line.strip():
            continue
        prefix, name = line.rstrip("\n").split("\t")[:2]
        net = ipaddress.ip_network(prefix, strict=False)
        top = 2 ** net.max_prefixlen
        first, last = int(net.network_address), int(net.broadcast_address)
        for kind, a in (("first", first), ("last", last), ("below", first - 1), ("above", last + 1)):
            if 0 < a < top - 1:
                edges.setdefault((net.version, a), (kind, prefix, name))
    version = {4: ipaddress.IPv4Address, 6: ipaddress.IPv6Address}
    cases = [(version[v](a), info) for (v, a), info in edges.items()]
    os.makedirs(out, exist_ok=True)
    pcap = f"{out}/addresses.pcap"
    with open(pcap, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for k, (server, _) in enumerate(cases):
            fr = datagram(k, server)
            us = k * 1000  # each flow at its own millisecond: k
            f.write(struct.pack("<IIII", BASE + us // 1_000_000, us % 1_000_000, len(fr), len(fr)) + fr)
    subprocess.run([exe, "flows", "--profile", "research", "--output", f"{out}/exitflow", pcap],
                   check=True, capture_output=True)
    ndpi, ours = {}, {}
    for r in NFStreamer(source=pcap, n_dissections=20, n_meters=1).to_pandas().itertuples():
        ndpi[ipaddress.ip_address(r.dst_ip)] = (r.application_name, int(r.application_is_guessed))
    for r in csv.DictReader(open(f"{out}/exitflow/addresses.pcap.csv")):
        k = int(r["bidirectional_first_seen_ms"]) - BASE * 1000
        ours[cases[k][0]] = (r["application_name"], int(r["application_is_guessed"]))
    failed = [f"{server} ({kind} of {prefix}, {name}): nDPI names it {ndpi.get(server)}, "
              f"exitflow {ours.get(server)}"
              for server, (kind, prefix, name) in cases
              if server not in ndpi or ndpi.get(server) != ours.get(server)]
    cs.finish([], failed, f"{len(cases)} addresses at the edges of the lists' prefixes: "
              f"{len(failed)} contradicted by nDPI; replays in {out}")


if __name__ == "__main__":
    main()
