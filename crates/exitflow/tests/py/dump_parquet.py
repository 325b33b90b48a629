"""Print every value and all metadata of Parquet files as text (pyarrow),
each file's dump after a line '=== PATH'."""
import sys

import pyarrow.parquet as pq

for path in sys.argv[1:]:
    print("===", path)
    f = pq.ParquetFile(path)
    print(f.metadata.metadata)
    print(f.schema_arrow)
    for col in f.read().columns:
        for v in col.to_pylist():
            print(v)
