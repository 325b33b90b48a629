"""Recompute the report's numbers from the dataset with pyarrow and compare.
The main tables' shares are over exit flows of more than 4 packets; the
three definitions (the 2021 study's: every role, more than 4 packets; exit
traffic; all flows) each over their own rows; node totals over every flow.

usage: check_report.py DATASET REPORT_JSON
"""
import collections
import json
import sys

import pyarrow.dataset as pads

ds = pads.dataset(sys.argv[1], format="parquet", partitioning="hive")
rep = json.load(open(sys.argv[2]))
t = ds.to_table().to_pydict()
n = len(t["node"])


# The hourly sidecars' exact durations (default profile): per slice, what
# they change in the rows' duration sum (the covered flows' bucket sums out,
# their exact estimate in) and the flows left as buckets.
import glob
import os
import pyarrow.parquet as pq

SCOPES = ["exit", "exit_failed", "other", "other_failed"]
corr = collections.Counter()
bucketed = collections.Counter()
for side in glob.glob(os.path.join(sys.argv[1], "node=*", "date=*", "_agg-*.parquet")):
    st = pq.read_table(side).to_pydict()
    policy = (pq.read_metadata(side).metadata or {}).get(b"exitflow.policy", b"").decode()
    for i in range(len(st["scope"])):
        if st["dimension"][i] != "total":
            continue
        sc = st["scope"][i]
        cell, ef, du = st["flows"][i], min(st["exact_duration_flows"][i], st["flows"][i]), st["duration_ms"][i]
        corr[sc] += st["exact_duration_ms"][i] + du * (cell - ef) // max(cell, 1) - du
        if "coarse_counts=true" in policy.split(" "):
            bucketed[sc] += cell - ef


def mean_duration(idx, scopes):
    return (sum(t["bidirectional_duration_ms"][i] for i in idx) + sum(corr[x] for x in scopes)) / len(idx) / 1000.0


def close(a, b, what):
    assert abs(a - b) < 1e-6, (what, a, b)


def ranked(counter, k=40):
    return [list(x) for x in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]


# Per node totals: every flow, every role.
for node, fig in rep["nodes"].items():
    idx = [i for i in range(n) if t["node"][i] == node]
    assert fig["flows"] == len(idx), (node, fig["flows"], len(idx))
    assert fig["failed_flows"] == sum(t["failed_flow"][i] for i in idx)
    if fig["volume_from"] == "rows":
        assert fig["packets"] == sum(t["bidirectional_packets"][i] for i in idx)
        assert fig["bytes"] == sum(t["bidirectional_bytes"][i] for i in idx)
    else:
        # Rows hold buckets; the exact sums are the node's totals.
        tot = json.load(open(f"{sys.argv[1]}/node={node}/_totals.json"))
        assert (fig["packets"], fig["bytes"]) == (tot["packets"], tot["bytes"]), (node, fig, tot)
    exit_idx = [i for i in idx if t["tor_role"][i] == "exit"]
    assert fig["exit_flows"] == len(exit_idx)
    study = [i for i in exit_idx if not t["failed_flow"][i]]
    assert fig["study_flows"] == len(study), (node, fig["study_flows"], len(study))

a = rep["all"]
assert a["flows"] == n
assert ranked(collections.Counter(t["tor_role"]), 10) == a["tor_roles"]
exits = [i for i in range(n) if t["tor_role"][i] == "exit"]
close(a["exit_failed_share"], 100.0 * sum(t["failed_flow"][i] for i in exits) / len(exits), "exit failed")
S = [i for i in exits if not t["failed_flow"][i]]
m = len(S)
assert a["study_flows"] == m
assert a["study_scope"] == "exit flows of more than 4 packets"
apps = collections.Counter(t["application_name"][i] for i in S)
assert ranked(apps) == a["applications_top40"], (ranked(apps)[:5], a["applications_top40"][:5])
tls = sum(v for k, v in apps.items() if k.split(".")[0] == "TLS")
close(a["tls_share"], 100.0 * tls / m, "tls_share")
http = sum(v for k, v in apps.items() if k.split(".")[0] in ("HTTP", "HTTP_Proxy"))
close(a["http_share"], 100.0 * http / m, "http_share")
close(a["unknown_share"], 100.0 * apps.get("Unknown", 0) / m, "unknown_share")
close(a["guessed_share"], 100.0 * sum(t["application_is_guessed"][i] for i in S) / m, "guessed_share")
ports = collections.Counter(t["dst_port"][i] for i in S)
assert ranked(ports) == a["dst_ports_top40"]
close(a["port_443_share"], 100.0 * ports.get(443, 0) / m, "port 443")
hours = [0] * 24
for i in S:
    hours[(t["bidirectional_first_seen_ms"][i] // 3600000) % 24] += 1
assert hours == a["flows_per_hour_utc"], (hours, a["flows_per_hour_utc"])
# relay-us is reported in UTC-5 (the test passes --tz relay-us=-05:00).
us = [0] * 24
for i in S:
    if t["node"][i] == "relay-us":
        us[((t["bidirectional_first_seen_ms"][i] - 5 * 3600000) // 3600000) % 24] += 1
assert us == rep["nodes"]["relay-us"]["flows_per_hour_local"], (us, rep["nodes"]["relay-us"]["flows_per_hour_local"])
close(a["mean_duration_s"], mean_duration(S, ["exit"]), "mean duration")
assert sum(corr.values()) != 0, "the default profile's sidecars hold no exact sums"
assert ranked(collections.Counter(t["application_category_name"][i] for i in S)) == a["categories"]
dst = collections.Counter(t["dst_country"][i] for i in S)
assert ranked(dst) == a["dst_countries"]
assert a["unique_dst_countries"] == sum(1 for k in dst if len(k) == 2 and k.isupper())
http_idx = [i for i in S if t["application_name"][i].split(".")[0] in ("HTTP", "HTTP_Proxy")]
uas = collections.Counter(t["user_agent"][i] for i in http_idx if t["user_agent"][i] is not None)
assert ranked(uas) == a["user_agents"]
# Crawlers (section 5.2): the user-agents that hold a name of the public
# crawler list, by its longest name there.
here = os.path.dirname(os.path.abspath(__file__))
names = [l.strip() for l in open(os.path.join(here, "..", "..", "..", "exitflow-output", "data", "crawlers.txt"))
         if l.strip() and not l.startswith("#")]
crawl = collections.Counter()
for ua, k in uas.items():
    found = sorted((x for x in names if x in ua), key=lambda x: (-len(x), x))
    if found:
        crawl[found[0]] += k
assert ranked(crawl) == a["crawlers"], (ranked(crawl), a["crawlers"])
assert crawl.get("Baiduspider", 0) > 0, "the synthetic Baiduspider is not a crawler"
close(a["crawler_share"], 100.0 * sum(crawl.values()) / len(http_idx), "crawler share")
# Port 5222 by destination country.
c5222 = collections.Counter(t["dst_country"][i] for i in S if t["dst_port"][i] == 5222)
assert ranked(c5222) == a["port_countries"]["5222"]["countries"], (ranked(c5222), a["port_countries"]["5222"])
# Failed exit flows per hour of the measurement.
per_hour = collections.defaultdict(lambda: [0, 0])
for i in exits:
    h = t["bidirectional_first_seen_ms"][i] // 3600000
    per_hour[h][0] += 1
    per_hour[h][1] += t["failed_flow"][i]
assert [[f, x] for _, (f, x) in sorted(per_hour.items())] == [[r[1], r[2]] for r in a["failed_by_hour"]]

# The three definitions, each recomputed from the rows.
failed = t["failed_flow"]


def check_definition(d, idx, failed_n, attempted, what, scopes):
    k = len(idx)
    assert d["flows"] == k, (what, d["flows"], k)
    close(d["failed_share"], 100.0 * failed_n / attempted, what + " failed")
    apps = collections.Counter(t["application_name"][i] for i in idx)
    share = lambda x: 100.0 * x / k
    tls = sum(v for a_, v in apps.items() if a_.split(".")[0] == "TLS")
    close(d["tls_share"], share(tls), what + " tls")
    close(d["tls_tor_share"], share(apps.get("TLS.Tor", 0)), what + " tls.tor")
    http = sum(v for a_, v in apps.items() if a_.split(".")[0] in ("HTTP", "HTTP_Proxy"))
    close(d["http_share"], share(http), what + " http")
    close(d["unknown_share"], share(apps.get("Unknown", 0)), what + " unknown")
    close(d["guessed_share"], share(sum(t["application_is_guessed"][i] for i in idx)), what + " guessed")
    ports = collections.Counter(t["dst_port"][i] for i in idx)
    for p in (443, 80, 5222, 25):
        close(d[f"port_{p}_share"], share(ports.get(p, 0)), f"{what} port {p}")
    close(d["mean_duration_s"], mean_duration(idx, scopes), what + " duration")
    close(d["duration_bucketed_share"], 100.0 * sum(bucketed[x] for x in scopes) / k, what + " bucketed")
    iso = lambda c: len(c) == 2 and c.isalpha() and c.isupper() and c != "ZZ"
    assert d["unique_dst_countries"] == len({t["dst_country"][i] for i in idx if iso(t["dst_country"][i])})
    assert d["unique_src_countries"] == len({t["src_country"][i] for i in idx if iso(t["src_country"][i])})


every = list(range(n))
ok_every = [i for i in every if not failed[i]]
defs = a["definitions"]
# The 2021 study's: every role, more than 4 packets; failed of every flow (its 32.37 %).
check_definition(defs["study_2021"], ok_every, sum(failed), n, "study_2021", ["exit", "other"])
check_definition(defs["exit"], S, sum(failed[i] for i in exits), len(exits), "exit", ["exit"])
check_definition(defs["all"], every, sum(failed), n, "all", SCOPES)
assert abs(defs["study_2021"]["failed_share"] - a["failed_share"]) < 1e-9
# Source countries (Figure 5.11): of the 2021 row set, without the flows the
# relay began; every exit flow is one of those.
assert all(t["src_country"][i] == "self" for i in exits), "an exit flow's source is not marked as the relay"
src = collections.Counter(t["src_country"][i] for i in ok_every if t["src_country"][i] != "self")
assert ranked(src) == a["src_countries"], (ranked(src)[:5], a["src_countries"][:5])
assert a["src_country_flows"] == sum(src.values())
print("definitions ok")
print("report ok", n, "flows,", m, "study flows")

# Abuse: failed exit flows per hour and port, the worst first.
cells = collections.defaultdict(lambda: [0, 0])
for i in exits:
    key = (t["bidirectional_first_seen_ms"][i] // 3600000 * 3600000, t["dst_port"][i])
    cells[key][0] += 1
    cells[key][1] += t["failed_flow"][i]
worst = sorted(((k, v) for k, v in cells.items() if v[1] > 0), key=lambda kv: (-kv[1][1], kv[0]))[:20]
got = a["abuse"]["failed_by_hour_port"]
assert [[p, f, n] for (h, p), (n, f) in worst] == [[r[1], r[2], r[3]] for r in got], (worst[:3], got[:3])
print("abuse ok", len(got), "rows")
