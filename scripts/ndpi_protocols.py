#!/usr/bin/env python3
"""Regenerates crates/exitflow-dpi/data/ndpi/protocols.txt from the nDPI library
NFStream 6.6.0 links (nDPI 5.0): every protocol's name, category and default
TCP/UDP ports, read from the library itself at run time.

Usage: scripts/ndpi_protocols.py [OUT]   (needs pip and network access to PyPI)

The wheel is downloaded into a temporary directory; nothing is installed.
The layout of nDPI's protocol-defaults record (name[32], then 16-bit fields
with the category and two arrays of five port ranges) was checked against
well-known values (HTTP 80, DNS 53/53, BitTorrent 6881-6889).
"""
import ctypes as C
import glob
import os
import struct
import subprocess
import sys
import tempfile
import zipfile

HEADER = """# exitflow protocol registry: every protocol nDPI 5.0 defines (the
# library NFStream 6.6 links), in nDPI's id order, with the name and
# category nDPI prints and the default ports nDPI guesses a protocol from
# when inspection gives up. Regenerate with scripts/ndpi_protocols.py.
#
# name                 category             tcp ports                 udp ports
# ('-' = none; ports as comma lists and a-b ranges)
"""
RECORD = 128  # bytes per ndpi_proto_defaults_t entry in nDPI 5.0


def load_library(tmp):
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                    "-d", tmp, "nfstream==6.6.0"], check=True, stdout=subprocess.DEVNULL)
    wheel = glob.glob(os.path.join(tmp, "nfstream-6.6.0-*.whl"))[0]
    with zipfile.ZipFile(wheel) as z:
        z.extractall(os.path.join(tmp, "x"))
    so = glob.glob(os.path.join(tmp, "x", "**", "_lib_engine*.so"), recursive=True)[0]
    return C.CDLL(so)


def ports(fields, base):
    out = []
    for k in range(5):
        lo, hi = fields[base + 3 * k], fields[base + 3 * k + 1]
        if lo:
            out.append(str(lo) if lo == hi else f"{lo}-{hi}")
    return ",".join(out) or "-"


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "crates", "exitflow-dpi", "data", "ndpi", "protocols.txt")
    with tempfile.TemporaryDirectory() as tmp:
        lib = load_library(tmp)
        lib.ndpi_revision.restype = C.c_char_p
        lib.ndpi_init_detection_module.restype = C.c_void_p
        lib.ndpi_init_detection_module.argtypes = [C.c_void_p]
        lib.ndpi_finalize_initialization.argtypes = [C.c_void_p]
        lib.ndpi_get_num_protocols.argtypes = [C.c_void_p]
        lib.ndpi_get_proto_defaults.restype = C.c_void_p
        lib.ndpi_get_proto_defaults.argtypes = [C.c_void_p]
        lib.ndpi_category_get_name.restype = C.c_char_p
        lib.ndpi_category_get_name.argtypes = [C.c_void_p, C.c_int]
        module = lib.ndpi_init_detection_module(None)
        lib.ndpi_finalize_initialization(module)
        defaults = lib.ndpi_get_proto_defaults(module)
        lines = [HEADER]
        for i in range(lib.ndpi_get_num_protocols(module)):
            raw = C.string_at(defaults + RECORD * i, RECORD)
            name = raw[:32].split(b"\0")[0].decode()
            fields = struct.unpack("<48H", raw[32:])
            category = struct.unpack("<I", raw[32:36])[0]
            cat_name = lib.ndpi_category_get_name(module, category).decode()
            lines.append(f"{name:<22} {cat_name:<20} {ports(fields, 12):<25} {ports(fields, 27)}\n")
        revision = lib.ndpi_revision().decode()
    with open(out_path, "w") as f:
        f.write("".join(lines))
    print(f"{out_path}: {len(lines) - 1} protocols from nDPI {revision}")


if __name__ == "__main__":
    main()
