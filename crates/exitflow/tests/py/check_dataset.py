"""Check an exitflow dataset with pyarrow: Hive layout, schema, row count, metadata.

usage: check_dataset.py DATASET ROWS SCHEMA_MARKDOWN

ROWS is a count, or LOW:HIGH; prints `rows N`.
"""
import sys

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

root, rows, schema_md = sys.argv[1], sys.argv[2], sys.argv[3]
low, _, high = rows.partition(":")
low, high = int(low), int(high or low)
types = {"uint64": pa.uint64(), "bool": pa.bool_(), "string": pa.string(), "string (nullable)": pa.string()}
want = []
for line in schema_md.splitlines()[2:]:
    cells = [c.strip() for c in line.strip("|").split("|")]
    name, ty, default = cells[0].strip("`"), cells[1], cells[3]
    if default == "written":
        want.append((name, types[ty]))

ds = pads.dataset(root, format="parquet", partitioning="hive")
t = ds.to_table()
assert low <= t.num_rows <= high, (t.num_rows, rows)
print(f"rows {t.num_rows}")
got = [(f.name, f.type) for f in t.schema]
cols = [(n, ty) for n, ty in got if n not in ("node", "date")]
assert cols == want, (cols, want)
assert set(t.column("node").to_pylist()) == {"relay-1"}
dates = sorted(set(str(d) for d in t.column("date").to_pylist()))
for f in ds.files:
    md = pq.ParquetFile(f).metadata
    assert md.metadata[b"exitflow.address_policy"] == b"drop", md.metadata
    # zstd from 8,192 rows; a quiet hour's part is not worth a compressor.
    want = "ZSTD" if md.num_rows >= 8192 else "UNCOMPRESSED"
    assert md.row_group(0).column(0).compression == want, (f, md.num_rows)
    assert "/node=relay-1/date=" in f, f
# Each flow sits in the partition of its first packet's UTC date.
import datetime
for d, ms in zip(t.column("date").to_pylist(), t.column("bidirectional_first_seen_ms").to_pylist()):
    assert str(d) == datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%d")
# String columns are dictionary-encoded in the file.
md = pq.ParquetFile(ds.files[0]).metadata
names = [md.schema.column(i).name for i in range(md.num_columns)]
enc = md.row_group(0).column(names.index("application_name")).encodings
assert any("DICT" in e for e in enc), enc
print("rows", t.num_rows, "dates", ",".join(dates))
