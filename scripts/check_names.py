#!/usr/bin/env python3
"""Asks nDPI 5.0 itself (NFStream 6.6.0) and exitflow to name a DNS query
and a TLS ClientHello's server name for every domain and pattern of
exitflow's host lists (crates/exitflow-dpi/data/ndpi/services.txt) and
variants of each: the domain, a subdomain of it, the domain glued to a
longer label, with a label after it, behind a dash; a pattern (`~text`) at
a name's start, after a label, glued to one, with one label after it and
with two. Fails on every flow the two label or file differently: how a
server name finds its service and its category (the host-category lists
match otherwise) is nDPI's, match for match.

Usage: scripts/check_names.py EXITFLOW [OUT_DIR]   (needs `nfstream==6.6.0`)
"""
import csv
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_samples as cs  # noqa: E402

SERVICES = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "../crates/exitflow-dpi/data/ndpi/services.txt")
BASE = 1_700_000_000


def variants(entry):
    """(kind, name) pairs for one list entry."""
    if entry.startswith("~"):
        t = entry[1:]
        core = t.strip(".-")
        out = [("pattern after a label", "a." + t + ("x" if t.endswith((".", "-")) else "")),
               ("pattern glued", "q" + t + "z.com"),
               ("pattern, two labels after", t + "x.y" if t.endswith(".") else "w." + t + "x.y")]
        if not t.startswith("-"):
            out.append(("pattern at the start", t + ("x" if t.endswith((".", "-")) else "")))
        else:
            out.append(("pattern after a dash", "a" + t + ("x" if t.endswith(".") else "")))
        if core:
            out.append(("pattern text alone", core + ".zz"))
        return out
    return [("domain", entry), ("subdomain", "a1." + entry), ("glued", "xy" + entry),
            ("label after", entry + ".zz"), ("behind a dash", "a-" + entry)]


def client_hello(name):
    """A TLS 1.3 ClientHello record with `name` as its server name."""
    def ext(kind, body):
        return struct.pack("!HH", kind, len(body)) + body
    n = name.encode()
    exts = (ext(0, struct.pack("!HBH", len(n) + 3, 0, len(n)) + n)  # server_name
            + ext(10, b"\x00\x02\x00\x1d")  # supported_groups: x25519
            + ext(13, b"\x00\x02\x04\x03")  # signature_algorithms
            + ext(43, b"\x02\x03\x04"))  # supported_versions: TLS 1.3
    body = (b"\x03\x03" + bytes(range(32)) + b"\x00" + b"\x00\x04\x13\x01\xc0\x2f"
            + b"\x01\x00" + struct.pack("!H", len(exts)) + exts)
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def query(name, qid):
    labels = b"".join(bytes([len(label)]) + label.encode() for label in name.split(".") if label)
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack("!HH", 1, 1)


def main():
    exe, out, NFStreamer = cs.start(__doc__, "check_names")
    entries = []
    for line in open(SERVICES):
        if line.startswith("#") or not line.strip():
            continue
        entries += line.split()[2:]
    names = []
    for e in dict.fromkeys(entries):
        for kind, n in variants(e):
            if 0 < len(n) < 250:
                names += [(f"DNS {kind}", e, n), (f"TLS {kind}", e, n)]
    os.makedirs(out, exist_ok=True)
    pcap = f"{out}/names.pcap"
    by_addr = {}
    with open(pcap, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for k, (kind, _, name) in enumerate(names):
            cip = (10, 64 | (k >> 14) & 63, (k >> 6) & 255, (k & 63) + 1)
            by_addr[".".join(map(str, cip))] = k
            sip = (198, 18 | (k >> 16) & 1, (k >> 8) & 255, k & 255)
            if kind.startswith("DNS"):
                frames = cs.flow("udp", 20000 + k % 40000, 53, [(True, query(name, k & 0xffff))],
                                 cip, sip)
            else:
                frames = cs.flow("tcp", 20000 + k % 40000, 443, [(True, client_hello(name))],
                                 cip, sip)
            # Each flow's first packet at its own millisecond: k.
            for j, fr in enumerate(frames):
                us = k * 1000 + j
                f.write(struct.pack("<IIII", BASE + us // 1_000_000, us % 1_000_000, len(fr),
                                    len(fr)) + fr)
    subprocess.run([exe, "flows", "--profile", "research", "--output", f"{out}/exitflow", pcap],
                   check=True, capture_output=True)
    ndpi, ours = {}, {}
    for r in NFStreamer(source=pcap, n_dissections=20, n_meters=1).to_pandas().itertuples():
        if r.src_ip in by_addr:
            ndpi[by_addr[r.src_ip]] = (r.application_name, r.application_category_name)
    for r in csv.DictReader(open(f"{out}/exitflow/names.pcap.csv")):
        ours[int(r["bidirectional_first_seen_ms"]) - BASE * 1000] = (
            r["application_name"], r["application_category_name"])
    # A name either side left out is a failure too (no flow, no label).
    failed = [f"{kind} {name} (from {entry}): nDPI names it {ndpi.get(k)}, exitflow {ours.get(k)}"
              for k, (kind, entry, name) in enumerate(names)
              if ndpi.get(k) != ours.get(k) or k not in ndpi]
    cs.finish([], failed, f"{len(names)} flows (DNS and TLS) for {len(names) // 2} names from "
              f"{len(set(entries))} list entries: "
              f"{len(failed)} contradicted by nDPI; replays in {out}")


if __name__ == "__main__":
    main()
