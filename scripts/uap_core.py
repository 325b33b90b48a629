#!/usr/bin/env python3
"""Regenerates crates/exitflow-output/data/uap-core-user-agents.json: the
user-agent parsers of uap-core (Apache-2.0, the ua-parser project), as the
pinned PyPI package ua-parser-builtins carries them (a snapshot of
uap-core's regexes.yaml; its REVISION file names the uap-core commit),
converted to the JSON the ua-parser crate reads (only user_agent_parsers;
the OS and device parsers are not used).

usage: scripts/uap_core.py [OUT]   (needs pip and network access to PyPI)

The wheel holds the parsers as Python calls (`UserAgentMatcher(regex,
family_replacement, v1_replacement, ...)`); they are read with `ast`, not
executed, and written with the keys in regexes.yaml's order.
"""
import ast
import glob
import json
import os
import subprocess
import sys
import tempfile
import zipfile

PIN = "ua-parser-builtins==202610"
KEYS = ["regex", "family_replacement", "v1_replacement", "v2_replacement",
        "v3_replacement", "v4_replacement"]


def parsers(source):
    calls = [n for n in ast.walk(ast.parse(source))
             if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "UserAgentMatcher"]
    calls.sort(key=lambda n: (n.lineno, n.col_offset))
    out = []
    for call in calls:
        if len(call.args) > len(KEYS):
            sys.exit(f"a UserAgentMatcher at line {call.lineno} has {len(call.args)} arguments, "
                     f"more than the {len(KEYS)} known: the layout has changed")
        entry = {k: ast.literal_eval(a) for k, a in zip(KEYS, call.args)}
        entry.update({kw.arg: ast.literal_eval(kw.value) for kw in call.keywords})
        out.append({k: v for k, v in entry.items() if v is not None})
    if not out:
        sys.exit("no UserAgentMatcher in the wheel: its layout has changed")
    return out


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "crates", "exitflow-output", "data",
        "uap-core-user-agents.json")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                        "-d", tmp, PIN], check=True, stdout=subprocess.DEVNULL)
        with zipfile.ZipFile(glob.glob(os.path.join(tmp, "*.whl"))[0]) as z:
            source = z.read("ua_parser_builtins/matchers.py").decode()
            revision = z.read("REVISION").decode().strip()
    entries = parsers(source)
    with open(out, "w") as f:
        json.dump({"user_agent_parsers": entries, "os_parsers": [], "device_parsers": []},
                  f, separators=(",", ":"))
    print(f"{out}: {len(entries)} user-agent parsers from uap-core {revision}")


if __name__ == "__main__":
    main()
