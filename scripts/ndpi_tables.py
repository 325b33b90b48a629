#!/usr/bin/env python3
"""Regenerates nDPI's four tables in crates/exitflow-dpi/data/ndpi/ from the
nDPI library NFStream 6.6.0 links (nDPI 5.0), read at run time:

  protocols.txt  every protocol's name, category and default TCP/UDP ports
  services.txt   nDPI's host-name lists (host_match and the generated lists)
  ip_lists.tsv   nDPI's address-prefix lists
  certificates.tsv  texts of a TLS certificate's subject that name a service

Usage: scripts/ndpi_tables.py [OUTDIR]   (needs pip and network access to PyPI)

The wheel is downloaded into a temporary directory; nothing is installed.
The library is loaded with ctypes and its tables are read from its memory:
the protocol defaults through nDPI's API; the host and address lists, which
are static arrays, at the addresses its symbol table gives. The order nDPI
loads the lists in (which decides overlaps) is the order its loader code
refers to them, read from the loader's machine code. Record layouts (nDPI
5.0, x86-64): ndpi_proto_defaults_t 128 bytes (name[32], then 16-bit
fields: category, two arrays of five port ranges); ndpi_protocol_match 32
bytes (two char pointers, protocol id, category, breed, level);
ndpi_network 8 bytes (address, prefix length, protocol id); ndpi_network6
16 bytes (address text pointer, prefix length, protocol id).
"""
import ctypes as C
import glob
import ipaddress
import os
import platform
import struct
import subprocess
import sys
import tempfile
import zipfile

PIN = "nfstream==6.6.0"
DEFAULTS_RECORD = 128
MATCH_RECORD = 32
NETWORK_RECORD = 8
NETWORK6_RECORD = 16
CATEGORY_RECORD = 16
CERT_RECORD = 16
SHT_SYMTAB = 2

CERTIFICATES_HEADER = """# nDPI 5.0's certificate subjects (the library NFStream 6.6 links: nDPI {rev}):
# tls_certificate_match, in its order. A TLS server certificate whose subject,
# written as nDPI writes it (`C=.., ST=.., L=.., O=.., OU=.., CN=..`, in the
# certificate's order, joined by ", "), contains a line's text gets the line's
# service, when the server name named none; the first line found wins.
# service<TAB>subject text. Regenerate with scripts/ndpi_tables.py.
"""

PROTOCOLS_HEADER = """# exitflow protocol registry: every protocol nDPI 5.0 defines (the
# library NFStream 6.6 links), in nDPI's id order, with the name and
# category nDPI prints and the default ports nDPI guesses a protocol from
# when inspection gives up. Regenerate with scripts/ndpi_tables.py.
#
# name                 category             tcp ports                 udp ports
# ('-' = none; ports as comma lists and a-b ranges)
"""

SERVICES_HEADER = """# nDPI 5.0's host-name lists (the library NFStream 6.6 links: nDPI {rev}):
# host_match and the generated lists, in the order nDPI loads them. A server
# name (TLS/QUIC SNI, HTTP Host, DNS query) ending in one of a line's domains
# gets that line's service, named as nDPI names it, with the line's category
# (nDPI gives a host match its list entry's category, which may not be the
# protocol's: Google's ad servers are Advertisement); the longest domain wins,
# and of two equal domains the first (nDPI keeps the first of a duplicate).
# A domain written `~text` matches any name containing that text (nDPI's
# patterns that end in a dot or a dash, or begin with a dash).
# exitflow's own lines (crates/exitflow-dpi/src/own_services.txt) come first.
# Regenerate with scripts/ndpi_tables.py.
#
# service           category         domains
"""

CATEGORIES_HEADER = """
# nDPI's host categories (category_match): a server name matching one of
# these takes the line's category whatever its service, before any other
# category (nDPI's custom categories). The name '-' marks them.
"""

IP_HEADER = """# nDPI 5.0's IP-prefix lists (the library NFStream 6.6 links: nDPI {rev}),
# read from the library's own tables, overlaps resolved as nDPI loads them (the
# last list wins); matched longest prefix first. A flow inspection names nothing
# is named by its server's address, as nDPI's guess does (not by its client's:
# on an exit relay that is the relay itself).
# prefix<TAB>protocol
"""


def fetch_library(tmp):
    # The library is loaded into this process and its x86-64 loader code
    # is read: another machine would get another wheel.
    if platform.machine() != "x86_64":
        sys.exit(f"{PIN}'s tables are read from its x86-64 library; this is {platform.machine()}")
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                    "-d", tmp, PIN], check=True, stdout=subprocess.DEVNULL)
    wheels = glob.glob(os.path.join(tmp, "nfstream-6.6.0-*.whl"))
    if not wheels:
        sys.exit(f"pip gave no wheel of {PIN} in {tmp}")
    with zipfile.ZipFile(wheels[0]) as z:
        z.extractall(os.path.join(tmp, "x"))
    libs = glob.glob(os.path.join(tmp, "x", "**", "_lib_engine*.so"), recursive=True)
    if not libs:
        sys.exit(f"{wheels[0]} holds no _lib_engine library: its layout has changed")
    return libs[0]


def open_module(so):
    """The library at `so`, loaded, and a finalised detection module of it,
    with the signatures of the calls these scripts make declared."""
    lib = C.CDLL(so)
    lib.ndpi_revision.restype = C.c_char_p
    lib.ndpi_init_detection_module.restype = C.c_void_p
    lib.ndpi_init_detection_module.argtypes = [C.c_void_p]
    lib.ndpi_finalize_initialization.argtypes = [C.c_void_p]
    lib.ndpi_get_num_protocols.argtypes = [C.c_void_p]
    lib.ndpi_get_proto_defaults.restype = C.c_void_p
    lib.ndpi_get_proto_defaults.argtypes = [C.c_void_p]
    lib.ndpi_get_proto_name.restype = C.c_char_p
    lib.ndpi_get_proto_name.argtypes = [C.c_void_p, C.c_uint16]
    lib.ndpi_category_get_name.restype = C.c_char_p
    lib.ndpi_category_get_name.argtypes = [C.c_void_p, C.c_int]
    module = lib.ndpi_init_detection_module(None)
    lib.ndpi_finalize_initialization(module)
    return lib, module


def sections(image):
    """ELF64 little-endian section headers (name, type, flags, addr, offset, size, ...)."""
    shoff, = struct.unpack_from("<Q", image, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", image, 0x3a)
    return [struct.unpack_from("<IIQQQQIIQQ", image, shoff + i * shentsize)
            for i in range(shnum)]


def file_offset(image, address):
    for s in sections(image):
        if s[3] and s[3] <= address < s[3] + s[5]:
            return address - s[3] + s[4]
    sys.exit(f"address {address:#x} is in no section")


def symbols(image):
    """name -> (value, size) from an ELF64 little-endian .symtab."""
    sections_ = sections(image)
    out = {}
    for s in sections_:
        if s[1] != SHT_SYMTAB:
            continue
        strtab = sections_[s[6]][4]
        for k in range(s[5] // 24):
            name, _, _, _, value, size = struct.unpack_from("<IBBHQQ", image, s[4] + 24 * k)
            start = strtab + name
            out[image[start:image.index(b"\0", start)].decode()] = (value, size)
    if not out:
        sys.exit("the library has no symbol table: its lists cannot be found")
    return out


def referred_in_order(image, syms, function, wanted):
    """The symbols of `wanted` that `function` refers to with a RIP-relative
    lea (REX.W 8D /r, mod 00 r/m 101), in the order of their first use."""
    start, size = syms[function]
    by_address = {syms[n][0]: n for n in wanted}
    seen = []
    at = file_offset(image, start)
    code = image[at:at + size]
    for i in range(len(code) - 7):
        if code[i] in (0x48, 0x4C) and code[i + 1] == 0x8D and code[i + 2] & 0xC7 == 0x05:
            disp, = struct.unpack_from("<i", code, i + 3)
            name = by_address.get(start + i + 7 + disp)
            if name and name not in seen:
                seen.append(name)
    missing = set(wanted) - set(seen)
    if missing:
        sys.exit(f"{function} does not load {sorted(missing)}: the layout has changed")
    return seen


def ports(fields, base):
    out = []
    for k in range(5):
        lo, hi = fields[base + 3 * k], fields[base + 3 * k + 1]
        if lo:
            out.append(str(lo) if lo == hi else f"{lo}-{hi}")
    return ",".join(out) or "-"


def as_domain(pattern):
    # nDPI matches a pattern ending in '.' or '-', or starting with '-',
    # inside a name; any other as the name or its parent domain.
    if pattern.endswith((".", "-")) or pattern.startswith("-"):
        return "~" + pattern
    return pattern


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "crates", "exitflow-dpi", "data", "ndpi")
    with tempfile.TemporaryDirectory() as tmp:
        so = fetch_library(tmp)
        with open(so, "rb") as f:
            image = f.read()
        syms = symbols(image)
        lib, module = open_module(so)
        base = C.cast(lib.ndpi_revision, C.c_void_p).value - syms["ndpi_revision"][0]
        revision = lib.ndpi_revision().decode()

        def category(c):
            return lib.ndpi_category_get_name(module, c).decode()

        # protocols.txt: the defaults, in id order; names[id] for the lists.
        defaults = lib.ndpi_get_proto_defaults(module)
        names = []
        protocols = [PROTOCOLS_HEADER]
        for i in range(lib.ndpi_get_num_protocols(module)):
            raw = C.string_at(defaults + DEFAULTS_RECORD * i, DEFAULTS_RECORD)
            name = raw[:32].split(b"\0")[0].decode()
            fields = struct.unpack("<48H", raw[32:])
            names.append(name)
            protocols.append(f"{name:<22} {category(fields[0]):<20} "
                             f"{ports(fields, 12):<25} {ports(fields, 27)}\n")

        def name_of(pid):
            if pid >= len(names):
                sys.exit(f"a list names protocol {pid}, past the last ({len(names) - 1})")
            return names[pid]

        # services.txt: every host list in load order; runs of one service
        # and category make a line.
        host_lists = [n for n in syms if n == "host_match" or n.endswith("_host_match")]
        services = [SERVICES_HEADER.format(rev=revision)]
        run = None
        for sym in referred_in_order(image, syms, "ndpi_init_detection_module", host_lists):
            value, size = syms[sym]
            if size % MATCH_RECORD:
                sys.exit(f"{sym} is {size} bytes, not whole {MATCH_RECORD}-byte records")
            for k in range(size // MATCH_RECORD):
                text, _, pid, cat, _, _ = struct.unpack(
                    "<QQH2xIIi", C.string_at(base + value + MATCH_RECORD * k, MATCH_RECORD))
                if not text:
                    break
                key = (name_of(pid), category(cat))
                if run is None or run[0] != key:
                    run = (key, [])
                    services.append(run)
                run[1].append(as_domain(C.string_at(text).decode()))
        # nDPI's host categories (category_match): a category alone, which
        # overrides any other; lines named '-'.
        services.append(CATEGORIES_HEADER)
        run = None
        value, size = syms["category_match"]
        if size % CATEGORY_RECORD:
            sys.exit(f"category_match is {size} bytes, not whole {CATEGORY_RECORD}-byte records")
        for k in range(size // CATEGORY_RECORD):
            text, cat = struct.unpack(
                "<Qi4x", C.string_at(base + value + CATEGORY_RECORD * k, CATEGORY_RECORD))
            if not text:
                break
            key = ("-", category(cat))
            if run is None or run[0] != key:
                run = (key, [])
                services.append(run)
            run[1].append(as_domain(C.string_at(text).decode()))
        services = [s if isinstance(s, str) else
                    f"{s[0][0]:<19} {s[0][1]:<16} {' '.join(s[1])}\n" for s in services]

        # ip_lists.tsv: nDPI's protocol lists (not its risk lists: Tor exit
        # nodes, iCloud Private Relay, crawlers), the last load winning.
        ip_lists = [n for n in syms if n in ("host_protocol_list", "host_protocol_list_6")
                    or (n.startswith("ndpi_protocol_") and n.endswith(("_protocol_list",
                                                                       "_protocol_list_6")))]
        prefixes = {}
        for sym in referred_in_order(image, syms, "ndpi_finalize_initialization", ip_lists):
            value, size = syms[sym]
            v6 = sym.endswith("_6")
            record = NETWORK6_RECORD if v6 else NETWORK_RECORD
            if size % record:
                sys.exit(f"{sym} is {size} bytes, not whole {record}-byte records")
            for k in range(size // record):
                raw = C.string_at(base + value + record * k, record)
                if v6:
                    text, length, pid = struct.unpack("<QBxH4x", raw)
                    if not text:
                        break
                    address = ipaddress.IPv6Address(C.string_at(text).decode())
                else:
                    number, length, pid = struct.unpack("<IBxH", raw)
                    if not (number or length or pid):
                        break
                    address = ipaddress.IPv4Address(number)
                net = ipaddress.ip_network(f"{address}/{length}", strict=False)
                prefixes[net] = name_of(pid)
        order = sorted(prefixes, key=lambda n: (n.version, int(n.network_address), n.prefixlen))
        ip_text = [IP_HEADER.format(rev=revision)] + [f"{n}\t{prefixes[n]}\n" for n in order]

        # certificates.tsv: tls_certificate_match, in its order (the first
        # text found in a subject wins).
        value, size = syms["tls_certificate_match"]
        if size % CERT_RECORD:
            sys.exit(f"tls_certificate_match is {size} bytes, not whole {CERT_RECORD}-byte records")
        cert_text = [CERTIFICATES_HEADER.format(rev=revision)]
        for k in range(size // CERT_RECORD):
            text, pid = struct.unpack("<QH6x", C.string_at(base + value + CERT_RECORD * k, CERT_RECORD))
            if not text:
                break
            subject = C.string_at(text).decode()
            if "\t" in subject or "\n" in subject:
                sys.exit(f"tls_certificate_match: {subject!r} holds a tab or a line break")
            cert_text.append(f"{name_of(pid)}\t{subject}\n")

    for file, lines in (("protocols.txt", protocols), ("services.txt", services),
                        ("ip_lists.tsv", ip_text), ("certificates.tsv", cert_text)):
        with open(os.path.join(out_dir, file), "w") as f:
            f.write("".join(lines))
    print(f"{out_dir}: {len(protocols) - 1} protocols, {len(services) - 2} service lines, "
          f"{len(order)} prefixes, {len(cert_text) - 1} certificate subjects from nDPI {revision}")


if __name__ == "__main__":
    main()
