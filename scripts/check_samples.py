#!/usr/bin/env python3
"""Replays every detector rule's sample (`exitflow protocols --samples`) as a
flow through nDPI 5.0 itself (NFStream 6.6.0, which links it) and through
exitflow, and fails wherever nDPI names a sample flow by its content and
exitflow names it otherwise: another protocol's rule comes first, or a
port-limited rule's sample off its ports (the rule asks for a port nDPI does
not). Where nDPI names nothing from one packet (its rule wants the answer,
or more packets) and exitflow names the rule's protocol, the line is
reported, not failed: exitflow is the looser of the two on that sample. Each sample is sent once, from its rule's direction: on
random high ports when the rule takes any port, else on its first port and
again off its ports. Flows are IPv4 between 10.0.0.1 and 198.51.100.7.

Usage: scripts/check_samples.py EXITFLOW [OUT_DIR]   (needs `nfstream==6.6.0`)
"""
import csv
import os
import struct
import subprocess
import sys
import tempfile

# Rules whose sample needs what this replay cannot give, with the reason.
SKIP = {
    "Matter": "IPv6 only",
    "KakaoTalk_Voice": "needs KakaoTalk's addresses",
    "LineCall": "needs LINE's addresses",
    "Lustre": "the sample's address is the flow's",
    # nDPI's Blizzard rule runs before NestLogSink's and takes its sample.
    "NestLogSink": "nDPI's Blizzard rule takes the sample first",
}
CLIENT, SERVER = (10, 0, 0, 1), (198, 51, 100, 7)


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def frame(src, dst, proto, l4):
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0, 64, proto, 0,
                     bytes(src), bytes(dst))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ip + l4


def flow(transport, sport, dport, msgs, c=CLIENT, s=SERVER):
    """A flow's frames: a TCP handshake then the payloads, or datagrams;
    `msgs` is a list of (from the client, bytes), or for TCP (from the
    client, bytes, how): how is "gap" (100 bytes of that side lost before
    it), "resend" (at the sequence number of that side's last payload) or
    "ack" (a pure ACK from that side; the bytes are ignored)."""
    out = []
    if transport == "udp":
        for from_client, data, *_ in msgs:
            src, dst, sp, dp = (c, s, sport, dport) if from_client else (s, c, dport, sport)
            out.append(frame(src, dst, 17, struct.pack("!HHHH", sp, dp, 8 + len(data), 0) + data))
        return out

    def seg(src, dst, sp, dp, seq, ack, flags, payload=b""):
        return frame(src, dst, 6, struct.pack("!HHIIBBHHH", sp, dp, seq, ack, 0x50, flags,
                                              65535, 0, 0) + payload)
    nxt, last = [1001, 5001], [1001, 5001]
    out += [seg(c, s, sport, dport, 1000, 0, 0x02), seg(s, c, dport, sport, 5000, 1001, 0x12),
            seg(c, s, sport, dport, 1001, 5001, 0x10)]
    for from_client, data, *how in msgs:
        how = how[0] if how else None
        me = 0 if from_client else 1
        src, dst, sp, dp = (c, s, sport, dport) if from_client else (s, c, dport, sport)
        if how == "ack":
            out.append(seg(src, dst, sp, dp, nxt[me], nxt[1 - me], 0x10))
            continue
        if how == "gap":
            nxt[me] += 100
        seq = last[me] if how == "resend" else nxt[me]
        out.append(seg(src, dst, sp, dp, seq, nxt[1 - me], 0x18, data))
        last[me] = seq
        nxt[me] = max(nxt[me], seq + len(data))
    return out


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1_700_000_000, i * 1000, len(fr), len(fr)) + fr)


def cases(tsv):
    for i, line in enumerate(tsv.splitlines()):
        if line.startswith("#") or not line.strip():
            continue
        name, transport, ports, direction, sample = line.split("\t")
        if name in SKIP:
            continue
        data, from_client = bytes.fromhex(sample), direction != "server"
        if ports == "-":
            yield f"{i:03d}_{name}_any", name, False, transport, 40000 + i, 50000 + i, from_client, data
            # The client's port above the server's, as an ephemeral port is
            # above a service's: nDPI orders a flow's sides by port, and some
            # of its dissectors read the order (EpicGames).
            yield f"{i:03d}_{name}_anyhigh", name, False, transport, 60000 + i, 50000 + i, from_client, data
        else:
            first = int(ports.split(",")[0].split("-")[0])
            yield f"{i:03d}_{name}_port", name, False, transport, 40000 + i, first, from_client, data
            yield f"{i:03d}_{name}_offport", name, True, transport, 40000 + i, 50000 + i, from_client, data


def start(doc, script):
    """The cross-checks' common start: (EXITFLOW, OUT_DIR, NFStreamer) from
    the command line, or the usage (`doc`) and an exit."""
    if len(sys.argv) < 2:
        sys.exit(doc)
    exe = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix=f"{script}.")
    try:
        from nfstream import NFStreamer
    except ImportError:
        sys.exit(f"{script}.py needs nfstream==6.6.0 (pip install nfstream==6.6.0)")
    return exe, out, NFStreamer


def main():
    exe, out, NFStreamer = start(__doc__, "check_samples")
    tsv = subprocess.run([exe, "protocols", "--samples"], check=True, capture_output=True,
                         text=True).stdout
    rows = list(cases(tsv))
    os.makedirs(f"{out}/pcaps", exist_ok=True)
    for key, _, _, transport, sport, dport, from_client, data in rows:
        write_pcap(f"{out}/pcaps/{key}.pcap", flow(transport, sport, dport, [(from_client, data)]))
    subprocess.run([exe, "flows", "--profile", "research", "--output", f"{out}/exitflow"]
                   + [f"{out}/pcaps/{r[0]}.pcap" for r in rows], check=True, capture_output=True)
    failed, looser = [], []
    for key, name, off_port, *_ in rows:
        df = NFStreamer(source=f"{out}/pcaps/{key}.pcap", n_dissections=20, n_meters=1).to_pandas()
        named = None
        if df is not None and len(df) and not int(df.iloc[0].application_is_guessed):
            named = df.iloc[0].application_name
        ours = list(csv.DictReader(open(f"{out}/exitflow/{key}.pcap.csv")))
        guessed = bool(ours) and ours[0]["application_is_guessed"] == "1"
        ours = ours[0]["application_name"] if ours else "-"
        if named not in (None, "Unknown"):
            if ours != named:
                failed.append(f"{key}: nDPI names it {named}, exitflow {ours}")
        elif name in ours.split(".") and not guessed:
            # exitflow names it by content (a port's guess is nDPI's too).
            looser.append(f"{key}: nDPI names nothing from this one packet")
    finish(looser, failed, f"{len(rows)} sample flows ({len(SKIP)} rules skipped): {len(failed)} "
           f"contradicted by nDPI, {len(looser)} named from one packet where nDPI wants more; "
           f"replays in {out}")


def finish(looser, failed, summary):
    """Prints the lines and the summary; exits 1 if any line failed."""
    for line in looser:
        print(f"looser  {line}")
    for line in failed:
        print(f"FAILED  {line}")
    print(summary)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
