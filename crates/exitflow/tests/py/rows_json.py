"""Print every row of a dataset's Parquet files as one JSON object a line
(pyarrow), with the columns named on the command line."""
import glob
import json
import sys

import pyarrow.parquet as pq

root, cols = sys.argv[1], sys.argv[2].split(",")
for path in sorted(glob.glob(root + "/**/*.parquet", recursive=True)):
    if path.rsplit("/", 1)[-1].startswith(("_", ".")):
        continue  # sidecars (hourly tables) and files in progress
    table = pq.read_table(path)
    names = [c for c in cols if c in table.schema.names]
    for row in table.select(names).to_pylist():
        print(json.dumps(row))
