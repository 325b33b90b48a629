#!/usr/bin/env python3
"""Checks crates/exitflow-dpi/src/own_services.txt against nDPI 5.0's own
host matcher: every exact domain of an own line must be one that
ndpi_match_string_subprotocol (in the library of the pinned nfstream 6.6.0
wheel) gives that line's service and category. CI runs it (scripts/check_vendored.sh).

Usage: scripts/check_own_services.py   (needs pip and network access to PyPI)
"""
import ctypes as C
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from ndpi_tables import fetch_library, open_module  # noqa: E402


class MatchResult(C.Structure):
    # ndpi_protocol_match_result in nDPI 5.0: protocol id, category, breed.
    _fields_ = [("protocol_id", C.c_uint16), ("category", C.c_int), ("breed", C.c_int)]


def main():
    own = os.path.join(os.path.dirname(__file__), "..", "crates", "exitflow-dpi", "src",
                       "own_services.txt")
    with tempfile.TemporaryDirectory() as tmp:
        lib, module = open_module(fetch_library(tmp))
        lib.ndpi_match_string_subprotocol.argtypes = [C.c_void_p, C.c_char_p, C.c_uint,
                                                      C.POINTER(MatchResult)]
        bad, checked = [], 0
        with open(own) as f:
            for n, line in enumerate(f, 1):
                fields = line.split()
                if not fields or fields[0].startswith("#"):
                    continue
                for domain in fields[2:]:
                    if domain.startswith("~"):
                        # nDPI's matcher cannot vouch for a pattern, and an
                        # own one would shadow nDPI's (own lines come first).
                        bad.append(f"own_services.txt:{n}: {domain}: no patterns in own lines")
                        continue
                    r = MatchResult()
                    lib.ndpi_match_string_subprotocol(module, domain.encode(), len(domain),
                                                      C.byref(r))
                    got = (lib.ndpi_get_proto_name(module, r.protocol_id).decode(),
                           lib.ndpi_category_get_name(module, r.category).decode())
                    checked += 1
                    if got != (fields[0], fields[1]):
                        bad.append(f"own_services.txt:{n}: {domain} is {' '.join(got)} to nDPI, "
                                   f"not {fields[0]} {fields[1]}")
    if bad:
        sys.exit("\n".join(bad))
    print(f"own_services.txt: {checked} domains named and categorised as nDPI 5.0 does")


if __name__ == "__main__":
    main()
