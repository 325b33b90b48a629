"""Recompute the report's numbers from the dataset with pyarrow and compare.

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


def close(a, b, what):
    assert abs(a - b) < 1e-6, (what, a, b)


# Per node totals.
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

a = rep["all"]
assert a["flows"] == n
apps = collections.Counter(t["application_name"])
top = sorted(apps.items(), key=lambda kv: (-kv[1], kv[0]))[:40]
assert [list(x) for x in top] == a["applications_top40"], (top[:5], a["applications_top40"][:5])
tls = sum(v for k, v in apps.items() if k.split(".")[0] == "TLS")
close(a["tls_share"], 100.0 * tls / n, "tls_share")
http = sum(v for k, v in apps.items() if k.split(".")[0] in ("HTTP", "HTTP_Proxy"))
close(a["http_share"], 100.0 * http / n, "http_share")
close(a["unknown_share"], 100.0 * apps.get("Unknown", 0) / n, "unknown_share")
ports = collections.Counter(t["dst_port"])
assert [list(x) for x in sorted(ports.items(), key=lambda kv: (-kv[1], kv[0]))[:40]] == a["dst_ports_top40"]
hours = [0] * 24
for ms in t["bidirectional_first_seen_ms"]:
    hours[(ms // 3600000) % 24] += 1
assert hours == a["flows_per_hour_utc"], (hours, a["flows_per_hour_utc"])
# relay-us is reported in UTC-5 (the test passes --tz relay-us=-05:00).
us = [0] * 24
for i in range(n):
    if t["node"][i] == "relay-us":
        us[((t["bidirectional_first_seen_ms"][i] - 5 * 3600000) // 3600000) % 24] += 1
assert us == rep["nodes"]["relay-us"]["flows_per_hour_local"], (us, rep["nodes"]["relay-us"]["flows_per_hour_local"])
close(a["mean_duration_s"], sum(t["bidirectional_duration_ms"]) / n / 1000.0, "mean duration")
cats = collections.Counter(t["application_category_name"])
assert [list(x) for x in sorted(cats.items(), key=lambda kv: (-kv[1], kv[0]))[:40]] == a["categories"]
http_idx = [i for i in range(n) if t["application_name"][i].split(".")[0] in ("HTTP", "HTTP_Proxy")]
uas = collections.Counter(t["user_agent"][i] for i in http_idx if t["user_agent"][i] is not None)
assert [list(x) for x in sorted(uas.items(), key=lambda kv: (-kv[1], kv[0]))[:40]] == a["user_agents"]
roles = collections.Counter(t["tor_role"])
assert [list(x) for x in sorted(roles.items(), key=lambda kv: (-kv[1], kv[0]))] == a["tor_roles"]
print("report ok", n, "flows")
