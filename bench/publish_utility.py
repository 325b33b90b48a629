#!/usr/bin/env python3
"""Utility of `exitflow report --publish` at the 2021 study's scale.

Writes a synthetic week of one node with `exitflow gen-dataset` (the
study's proportions, 4.8 M exit flows a day by default), publishes it at
the defaults (ε = 0.3 per node-day, one unit per UTC day), and compares
each day's published tables with the day's unpublished ones: whether the
published top 10 applications (master protocols), destination ports and
destination countries have the true top 10's members, and the largest
difference between a published share and the true share, in percentage
points. Prints a table and, with --json, the figures.

    python3 bench/publish_utility.py --exitflow target/release/exitflow
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

DAY_MS = 86_400_000
START_MS = 1_622_505_600_000  # exitflow_synth::DEFAULT_START_S


def date(ms):
    return time.strftime("%Y-%m-%d", time.gmtime(ms / 1000))


def report(exe, ds, out, *extra):
    subprocess.run(
        [exe, "report", ds, "--format", "json", "--out", out, *extra],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with open(os.path.join(out, "report.json")) as f:
        return json.load(f)


def table(node, key, master=False):
    out = {}
    for k, v in node[key]:
        k = str(k)
        if k == "Other (estimate)":
            continue
        if master:
            k = k.split(".")[0]
        out[k] = out.get(k, 0) + v
    return out


def top10(t):
    return set(k for k, _ in sorted(t.items(), key=lambda x: (-x[1], x[0]))[:10])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--exitflow", default="target/release/exitflow")
    ap.add_argument("--work", default="/dev/shm/exitflow-publish-utility")
    ap.add_argument("--flows-per-day", type=int, default=4_800_000)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--profile", default="strict", help="the profile the rows are written under (strict: the one publication is for)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    ds = os.path.join(a.work, "ds")
    t = time.time()
    # gen-dataset spreads its flows over one week.
    subprocess.run(
        [a.exitflow, "gen-dataset", "--dataset", ds, "--nodes", "1",
         "--flows", str(a.flows_per_day * 7), "--profile", a.profile],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    gen_s = time.time() - t
    t = time.time()
    report(a.exitflow, ds, os.path.join(a.work, "pub-week"), "--publish")
    release_s = time.time() - t
    rows = []
    ok = True
    for d in range(a.days):
        frm, to = date(START_MS + d * DAY_MS), date(START_MS + (d + 1) * DAY_MS)
        truth = report(a.exitflow, ds, os.path.join(a.work, f"truth-{d}"), "--from", frm, "--to", to)["nodes"]["gen-0"]
        pub = report(a.exitflow, ds, os.path.join(a.work, f"pub-{d}"), "--publish", "--from", frm, "--to", to)["nodes"]["gen-0"]
        row = {"day": frm, "true_flows": truth["study_flows"], "published_flows": pub["study_flows"]}
        for name, key, master in [
            ("applications", "applications_top40", True),
            ("ports", "dst_ports_top40", False),
            ("countries", "dst_countries", False),
        ]:
            tt, pt = table(truth, key, master), table(pub, key, master)
            members = top10(tt) <= set(pt) and top10(tt) == top10(pt)
            worst = max(
                abs(100 * v / pub["study_flows"] - 100 * tt.get(k, 0) / truth["study_flows"])
                for k, v in pt.items()
            )
            row[name] = {"top10_members": members, "max_share_error_pp": worst, "published": len(pt)}
            ok &= members and worst < 1.0
        rows.append(row)
    if a.json:
        print(json.dumps({"generate_s": gen_s, "release_week_s": release_s, "days": rows, "ok": ok}, indent=1))
    else:
        print(f"generated {a.flows_per_day * 7:,} flows ({a.profile} profile) in {gen_s:.0f} s; released the week in {release_s:.1f} s")
        print("day         true flows  published   apps top10/max pp   ports top10/max pp   countries top10/max pp")
        for r in rows:
            cells = "   ".join(
                f"{'yes' if r[n]['top10_members'] else 'NO ':>3} {r[n]['max_share_error_pp']:.4f} ({r[n]['published']})"
                for n in ("applications", "ports", "countries")
            )
            print(f"{r['day']}  {r['true_flows']:>10,}  {r['published_flows']:>10,}   {cells}")
        print("all within 1 pp with the true top 10:", "yes" if ok else "NO")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
