#!/usr/bin/env python3
"""Regenerates the public vocabularies the default profile reduces
client- and server-chosen values to (crates/exitflow-output/data/):

- iana-media-types.txt: every media type IANA registers, from the pinned
  npm package mime-db (MIT; its entries marked "source": "iana" are the
  IANA media-types registry).
- browser-majors.txt: the major versions each browser family is known to
  have released, from the pinned npm package @mdn/browser-compat-data
  (CC0-1.0), under uap-core's family names.
- crawlers.txt: the names of well-known crawlers and bots, from the pinned
  npm package crawler-user-agents (MIT, Martin Monperrus and contributors):
  each pattern's leading literal name, where the pattern is that name
  followed by nothing or a separator.

usage: scripts/vocabularies.py [OUT_DIR]   (needs npm and the npm registry)
"""
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile

MIME_DB = "mime-db@1.54.0"
BCD = "@mdn/browser-compat-data@8.1.9"
CRAWLERS = "crawler-user-agents@1.60.0"
# Shorter names match too much of other user-agents.
MIN_CRAWLER_NAME = 4

# uap-core family -> MDN browser key (families not here keep no version).
FAMILIES = {
    "Chrome": "chrome",
    "HeadlessChrome": "chrome",
    "Chrome Mobile": "chrome_android",
    "Chrome Mobile iOS": "chrome",
    "Chrome Mobile WebView": "webview_android",
    "Chromium": "chrome",
    "Firefox": "firefox",
    "Firefox Mobile": "firefox_android",
    "Edge": "edge",
    "Edge Mobile": "edge",
    "Opera": "opera",
    "Opera Mobile": "opera_android",
    "Safari": "safari",
    "Mobile Safari": "safari_ios",
    "Mobile Safari UI/WKWebView": "webview_ios",
    "Samsung Internet": "samsunginternet_android",
    "IE": "ie",
}
# Released, or announced for release: versions that exist.
STATUSES = {"retired", "current", "esr", "beta", "nightly"}


def unpack(spec, tmp):
    name = subprocess.run(["npm", "pack", "--silent", spec], cwd=tmp, check=True,
                          capture_output=True, text=True).stdout.strip().splitlines()[-1]
    d = os.path.join(tmp, name + ".d")
    with tarfile.open(os.path.join(tmp, name)) as t:
        t.extractall(d, filter="data")
    return os.path.join(d, "package")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "crates", "exitflow-output", "data")
    with tempfile.TemporaryDirectory() as tmp:
        db = json.load(open(os.path.join(unpack(MIME_DB, tmp), "db.json")))
        types = sorted(k for k, v in db.items() if v.get("source") == "iana")
        with open(os.path.join(out, "iana-media-types.txt"), "w") as f:
            f.write(f"# IANA media types, from {MIME_DB} (MIT; entries with source iana).\n")
            f.write("# Regenerate with scripts/vocabularies.py; do not edit.\n")
            f.writelines(t + "\n" for t in types)
        bcd = json.load(open(os.path.join(unpack(BCD, tmp), "data.json")))["browsers"]
        with open(os.path.join(out, "browser-majors.txt"), "w") as f:
            f.write(f"# Browser major versions known to exist, from {BCD} (CC0-1.0),\n")
            f.write("# under uap-core's family names. Regenerate with scripts/vocabularies.py.\n")
            for family, key in sorted(FAMILIES.items()):
                majors = sorted({int(v.split(".")[0]) for v, r in bcd[key]["releases"].items()
                                 if r.get("status") in STATUSES and v.split(".")[0].isdigit()})
                f.write(f"{family}\t{','.join(map(str, majors))}\n")

        entries = json.load(open(os.path.join(unpack(CRAWLERS, tmp), "crawler-user-agents.json")))
        with open(os.path.join(out, "crawlers.txt"), "w") as f:
            f.write(f"# Names of well-known crawlers and bots, from {CRAWLERS} (MIT,\n")
            f.write("# Copyright (c) 2017 Martin Monperrus). Regenerate with scripts/vocabularies.py.\n")
            f.writelines(n + "\n" for n in crawler_names(entries))


def crawler_names(entries):
    """Each pattern's leading literal name (escapes undone), kept where the
    pattern is just that name, or the name and a separator: a name a
    user-agent holds verbatim."""
    names = set()
    for e in entries:
        q = re.sub(r"\\(.)", r"\1", e["pattern"].lstrip("^"))
        m = re.match(r"[A-Za-z0-9][A-Za-z0-9 ._\-]*", q)
        if not m:
            continue
        rest = q[m.end():]
        name = m.group(0).rstrip(" ._-")
        if len(name) >= MIN_CRAWLER_NAME and (rest == "" or rest[0] in "/;( )$"):
            names.add(name)
    return sorted(names)


if __name__ == "__main__":
    main()
