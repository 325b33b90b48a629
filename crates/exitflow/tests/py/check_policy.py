"""Print the policy recorded in a dataset's files and the Tor roles it
counts; check that a strict dataset holds only hourly aggregates."""
import sys

import pyarrow.dataset as pads
import pyarrow.parquet as pq

ds = pads.dataset(sys.argv[1], format="parquet", partitioning="hive")
policies = {pq.ParquetFile(f).metadata.metadata[b"exitflow.policy"].decode() for f in ds.files}
t = ds.to_table()
assert "user_agent" not in t.schema.names, t.schema.names
if "dimension" in t.schema.names:
    # Strict: aggregates only, by whole hours.
    assert "bidirectional_first_seen_ms" not in t.schema.names, t.schema.names
    assert all(ms % 3_600_000 == 0 for ms in t.column("hour_ms").to_pylist())
    roles = {v for d, v in zip(t.column("dimension").to_pylist(), t.column("value").to_pylist())
             if d == "tor_role"}
else:
    hours = all(ms % 3_600_000 == 0 for ms in t.column("bidirectional_first_seen_ms").to_pylist())
    assert hours, "times must be whole hours"
    roles = set(t.column("tor_role").to_pylist())
print(sorted(policies), sorted(roles))
