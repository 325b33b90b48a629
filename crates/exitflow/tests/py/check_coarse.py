"""An adversary's look at a dataset written under a coarse profile: does any
column, file name, file time, metadata value or row order tell a time finer
than the granularity, or a size finer than a power of two? Is an hour in
more than one file, a file of an hour born before the hour ended, a column
kept that the profile does not list, or a row shared by fewer than k rows
of its node-hour?

usage: check_coarse.py DATASET GRANULARITY_MS [K]
"""
import collections
import os
import sys

import pyarrow.parquet as pq

root, g = sys.argv[1], int(sys.argv[2])
k = int(sys.argv[3]) if len(sys.argv) > 3 else 5
# The default profile's columns: what the report reads, nothing else.
DEFAULT_COLUMNS = {
    "dst_port", "bidirectional_first_seen_ms", "bidirectional_duration_ms",
    "bidirectional_packets", "bidirectional_bytes", "application_name",
    "application_category_name", "application_is_guessed", "user_agent",
    "content_type", "src_country", "dst_country", "src_is_proxy",
    "dst_is_proxy", "tor_role", "failed_flow",
}
hours_seen = collections.Counter()
# The public vocabularies (crates/exitflow-output/data).
data = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "exitflow-output", "data")
MEDIA = {l.strip() for l in open(os.path.join(data, "iana-media-types.txt")) if l.strip() and not l.startswith("#")}
MAJORS = {}
for l in open(os.path.join(data, "browser-majors.txt")):
    if l.strip() and not l.startswith("#"):
        fam, vs = l.rstrip("\n").split("\t")
        MAJORS[fam] = set(vs.split(","))


def public(col, v):
    """Whether a user-agent or content type is of the public vocabularies."""
    if v is None:
        return True
    if col == "content_type":
        return v in MEDIA or v == "other"
    fam, _, major = v.rpartition(" ")
    if major.isdigit():
        return major in MAJORS.get(fam, ())
    return True
TIME = [c for c in ("bidirectional_first_seen_ms", "bidirectional_last_seen_ms",
                    "src2dst_first_seen_ms", "src2dst_last_seen_ms",
                    "dst2src_first_seen_ms", "dst2src_last_seen_ms")]
BUCKETED = ["bidirectional_duration_ms", "src2dst_duration_ms", "dst2src_duration_ms",
            "bidirectional_packets", "bidirectional_bytes", "src2dst_packets", "src2dst_bytes",
            "dst2src_packets", "dst2src_bytes"]
files = 0
for d, _, names in os.walk(root):
    for n in names:
        p = os.path.join(d, n)
        st = os.stat(p)
        if n.startswith(("agg-", "_agg-")) and n.endswith(".parquet"):
            # The strict profile's files, and every part's sidecar: hourly
            # aggregate tables, no flow columns.
            files += 1
            stem = n[n.index("agg-") + len("agg-"):-len(".parquet")]
            assert len(stem) == 32 and all(c in "0123456789abcdef" for c in stem), n
            assert int(st.st_mtime * 1000) % g == 0, (n, st.st_mtime)
            t = pq.ParquetFile(p).read().to_pydict()
            assert set(t) >= {"hour_ms", "dimension", "value", "flows"}, list(t)
            assert not set(t) & set(TIME + BUCKETED + ["id", "user_agent"]), list(t)
            assert all(v % g == 0 for v in t["hour_ms"])
            if n.startswith("agg-"):
                # Strict: one file per node-hour, born after the hour ended,
                # no cell (but the hour's total) of fewer than k flows.
                hours = set(t["hour_ms"])
                assert len(hours) == 1, (n, hours)
                hour = hours.pop()
                hours_seen[(d, hour)] += 1
                assert st.st_ctime * 1000 >= hour + g, (n, st.st_ctime, hour)
                for dim, v, fl in zip(t["dimension"], t["value"], t["flows"]):
                    assert dim == "total" or v == "Other" or fl >= k, (n, dim, v, fl)
            if n.startswith("_agg-"):
                # Beside its part, with the part's name.
                assert os.path.isfile(os.path.join(d, "part-" + stem + ".parquet")), n
        elif n.endswith(".parquet"):
            files += 1
            stem = n[len("part-"):-len(".parquet")]
            assert len(stem) == 32 and all(c in "0123456789abcdef" for c in stem), n
            assert int(st.st_mtime * 1000) % g == 0, (n, st.st_mtime)
            f = pq.ParquetFile(p)
            meta = {k.decode(): v.decode() for k, v in (f.schema_arrow.metadata or {}).items()}
            t = f.read().to_pydict()
            assert "id" not in t, "flow ids written"
            assert set(t) == DEFAULT_COLUMNS, sorted(set(t) ^ DEFAULT_COLUMNS)
            for c in TIME:
                if c in t:
                    assert all(v % g == 0 for v in t[c]), (c, [v for v in t[c] if v % g][:3])
            for c in BUCKETED:
                if c in t:
                    assert all(v & (v - 1) == 0 for v in t[c]), (c, [v for v in t[c] if v & (v - 1)][:3])
            # One node-hour per file, one file per node-hour, born after
            # the hour ended.
            hours = set(t["bidirectional_first_seen_ms"])
            assert len(hours) == 1, (n, hours)
            hour = hours.pop()
            hours_seen[(d, hour)] += 1
            assert st.st_ctime * 1000 >= hour + g, (n, st.st_ctime, hour)
            for c in ("user_agent", "content_type"):
                bad = [v for v in t[c] if not public(c, v)]
                assert not bad, (n, c, bad[:3])
            # k-anonymity: every row's stored columns shared by k rows.
            cols = sorted(t)
            rows = collections.Counter(zip(*(t[c] for c in cols)))
            small = [r for r, c in rows.items() if c < k]
            assert not small, (n, len(small), small[:2])
            # No metadata value holds a time finer than the granularity.
            for k, v in meta.items():
                if k == "ARROW:schema":
                    continue
                for tok in v.replace("=", " ").split():
                    if tok.isdigit() and len(tok) >= 12:
                        assert int(tok) % g == 0, (k, v)
        elif n.startswith("_"):
            # Node totals: counters, and a file time no finer either.
            assert int(st.st_mtime * 1000) % g == 0, (n, st.st_mtime)
        else:
            raise AssertionError(f"unexpected file {p}")
assert files > 0
split = {h: c for h, c in hours_seen.items() if c > 1}
assert not split, f"hours written more than once: {split}"
print(f"coarse ok: {files} files")
