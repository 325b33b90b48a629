"""An adversary's inventory of a dataset's completed files, one JSON object
a line: name, the hour key in its metadata, birth/change/modify times (s),
for part files the rows, the distinct first-seen times and the time
columns, and for strict aggregate files the flows they count.

usage: hour_files.py DATASET
"""
import json
import os
import sys

import pyarrow.parquet as pq

for d, _, names in os.walk(sys.argv[1]):
    for n in sorted(names):
        if n.startswith(".") or not n.endswith(".parquet"):
            continue
        p = os.path.join(d, n)
        st = os.stat(p)
        f = pq.ParquetFile(p)
        meta = {k.decode(): v.decode() for k, v in (f.metadata.metadata or {}).items()}
        out = {"name": n, "hour": int(meta.get("exitflow.hour_ms", "-1")),
               "ctime": st.st_ctime, "mtime": st.st_mtime}
        if n.startswith("part-"):
            t = f.read().to_pydict()
            out["rows"] = len(t["bidirectional_first_seen_ms"])
            out["first_seen"] = sorted(set(t["bidirectional_first_seen_ms"]))
            out["time_columns"] = sorted(c for c in t if c.endswith("_seen_ms"))
        elif n.startswith("agg-"):
            t = f.read().to_pydict()
            out["flows"] = sum(fl for dim, fl in zip(t["dimension"], t["flows"]) if dim == "total")
        print(json.dumps(out))
