"""Flows to port 5222 per destination country, with pyarrow: 'CC N' lines."""
import collections
import sys

import pyarrow.dataset as pads

t = pads.dataset(sys.argv[1], format="parquet", partitioning="hive").to_table(
    columns=["dst_port", "dst_country"]).to_pydict()
c = collections.Counter(cc for p, cc in zip(t["dst_port"], t["dst_country"]) if p == 5222)
for cc, n in c.most_common():
    print(cc, n)
