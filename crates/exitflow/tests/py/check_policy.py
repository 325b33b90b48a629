"""Print the policy recorded in a dataset's files, the Tor roles and whether
timestamps are whole hours (strict profile)."""
import sys

import pyarrow.dataset as pads
import pyarrow.parquet as pq

ds = pads.dataset(sys.argv[1], format="parquet", partitioning="hive")
policies = {pq.ParquetFile(f).metadata.metadata[b"exitflow.policy"].decode() for f in ds.files}
t = ds.to_table()
assert "user_agent" not in t.schema.names, t.schema.names
hours = all(ms % 3_600_000 == 0 for ms in t.column("bidirectional_first_seen_ms").to_pylist())
assert hours, "strict profile must round times to the hour"
print(sorted(policies), sorted(set(t.column("tor_role").to_pylist())))
