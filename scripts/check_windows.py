#!/usr/bin/env python3
"""Replays every detector rule's sample after payloads that are not its
protocol's, through nDPI 5.0 itself (NFStream 6.6.0) and through exitflow,
and reports where they disagree: whether a rule still reads after a foreign
payload (most of nDPI's dissectors exclude themselves on the first packet
that is not theirs; a few read on) is each row's `misses_allowed`.

Each rule whose sample nDPI names by content from one packet is replayed
four ways: a foreign payload from the client first, one from the server,
two from the client, one from each side; a TCP rule three more, to follow
nDPI's sequence tracking: after 100 lost bytes, re-sent over a foreign
payload's sequence numbers right after it (a retransmission to nDPI) and
after a pure ACK from the peer (not one). Fails where nDPI names such a flow
by content and exitflow names it otherwise; reports (without failing) where
exitflow names it and nDPI does not. One capture holds every flow (IPv4,
each flow its own pair of addresses).

Usage: scripts/check_windows.py EXITFLOW [OUT_DIR]   (needs `nfstream==6.6.0`)
"""
import csv
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_samples as cs  # noqa: E402

FOREIGN = (bytes([0x8f, 0x13, 0x00, 0x07]) * 4, bytes([0x9e, 0x21, 0x00, 0x05]) * 4)
SHAPES = {
    "client first": lambda own: [(True, FOREIGN[0]), own],
    "server first": lambda own: [(False, FOREIGN[0]), own],
    "two from the client": lambda own: [(True, FOREIGN[0]), (True, FOREIGN[1]), own],
    "one from each side": lambda own: [(True, FOREIGN[0]), (False, FOREIGN[1]), own],
}
# TCP only: how nDPI's sequence tracking hands payloads to its dissectors.
# A payload after lost bytes is read like a first one; a payload sent at
# the sequence number of that side's foreign one is read after a pure ACK
# (not a retransmission then) and not right after it (one).
TCP_SHAPES = {
    "after lost bytes": lambda own: [(own[0], own[1], "gap")],
    "re-sent over a foreign one after an ACK":
        lambda own: [(own[0], FOREIGN[0]), (not own[0], b"", "ack"), (own[0], own[1], "resend")],
    "re-sent over a foreign one": lambda own: [(own[0], FOREIGN[0]), (own[0], own[1], "resend")],
}
BASE = 1_700_000_000


def main():
    exe, out, NFStreamer = cs.start(__doc__, "check_windows")
    tsv = subprocess.run([exe, "protocols", "--samples"], check=True, capture_output=True,
                         text=True).stdout
    cases = []  # (rule, shape, transport, port, payloads, row)
    for i, line in enumerate(tsv.splitlines()):
        if line.startswith("#") or not line.strip():
            continue
        name, transport, ports, direction, sample = line.split("\t")
        if name in cs.SKIP:
            continue
        own = (direction != "server", bytes.fromhex(sample))
        port = int(ports.split(",")[0].split("-")[0]) if ports != "-" else 50000 + i
        cases.append((name, "alone", transport, port, [own], i))
        shapes = SHAPES | (TCP_SHAPES if transport == "tcp" else {})
        for shape, make in shapes.items():
            cases.append((name, shape, transport, port, make(own), i))
    os.makedirs(out, exist_ok=True)
    pcap = f"{out}/windows.pcap"
    first_ms, by_addr, n = {}, {}, 0
    with open(pcap, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for k, (_, _, transport, port, msgs, _) in enumerate(cases):
            # Addresses of their own per flow (the last byte 1-64).
            cip = (10, 64 | (k >> 14) & 63, (k >> 6) & 255, (k & 63) + 1)
            sip = (198, 18 | (k >> 14) & 1, (k >> 6) & 255, (k & 63) + 1)
            by_addr[".".join(map(str, cip))] = k
            first_ms[BASE * 1000 + n] = k
            for fr in cs.flow(transport, 20000 + k % 40000, port, msgs, cip, sip):
                f.write(struct.pack("<IIII", BASE + n // 1000, (n % 1000) * 1000, len(fr), len(fr)) + fr)
                n += 1
    subprocess.run([exe, "flows", "--profile", "research", "--output", f"{out}/exitflow", pcap],
                   check=True, capture_output=True)
    ndpi, ours = {}, {}
    for r in NFStreamer(source=pcap, n_dissections=20, n_meters=1).to_pandas().itertuples():
        k = by_addr.get(r.src_ip, by_addr.get(r.dst_ip))
        if k is not None:
            ndpi[k] = None if int(r.application_is_guessed) else r.application_name
    for r in csv.DictReader(open(f"{out}/exitflow/windows.pcap.csv")):
        k = first_ms.get(int(r["bidirectional_first_seen_ms"]))
        if k is not None:
            ours[k] = None if r["application_is_guessed"] == "1" else r["application_name"]
    # By row: a protocol's rows differ in what nDPI names alone.
    named_alone = {c[5] for k, c in enumerate(cases) if c[1] == "alone" and ndpi.get(k) not in (None, "Unknown")}
    failed, looser, total = [], [], 0
    for k, (name, shape, *_rest, row) in enumerate(cases):
        if shape == "alone" or row not in named_alone:
            continue
        total += 1
        a, b = ndpi.get(k), ours.get(k)
        a = None if a == "Unknown" else a
        b = None if b == "Unknown" else b
        if a is not None and a != b:
            failed.append(f"{name}, {shape}: nDPI names it {a}, exitflow {b or 'nothing'}")
        elif a is None and b is not None:
            looser.append(f"{name}, {shape}: exitflow names it {b}, nDPI nothing")
    cs.finish(looser, failed, f"{total} flows ({len(named_alone)} rules, {len(SHAPES)} shapes, {len(TCP_SHAPES)} more for TCP): "
              f"{len(failed)} contradicted by nDPI, {len(looser)} named where nDPI names nothing; "
              f"replays in {out}")


if __name__ == "__main__":
    main()
