"""Print the number of rows of a Parquet file (pyarrow)."""
import sys

import pyarrow.parquet as pq

print(pq.read_table(sys.argv[1]).num_rows)
