"""Turn datasets into flow CSVs (pyarrow + pandas), for flowcmp and for
comparisons in tests.

usage: datasets_to_csv.py OUT_DIR NAME=DATASET_DIR [NAME=DATASET_DIR ...]

Each dataset's rows (every Parquet file under it, hidden and `_` files
skipped, as dataset readers do) go to OUT_DIR/NAME.csv, in a stable order.
Prints `NAME rows files` per dataset; every file must open, or this fails.
"""
import os
import sys

import pyarrow.parquet as pq
import pandas as pd

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for arg in sys.argv[2:]:
    name, root = arg.split("=", 1)
    frames, files = [], 0
    for d, dirs, names in os.walk(root):
        dirs[:] = sorted(x for x in dirs if not x.startswith((".", "_")))
        for n in sorted(names):
            if n.endswith(".parquet") and not n.startswith((".", "_")):
                frames.append(pq.read_table(os.path.join(d, n)).to_pandas())
                files += 1
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["bidirectional_packets", "bidirectional_bytes", "application_name"])
    if len(df):
        df = df.sort_values(["bidirectional_first_seen_ms", "bidirectional_packets",
                             "bidirectional_bytes"], kind="stable")
    df.to_csv(os.path.join(out, name + ".csv"), index=False)
    print(name, len(df), files)
