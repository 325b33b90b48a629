"""Yardstick: the report's main aggregations computed by DuckDB on the same
Parquet dataset. usage: duckdb_report.py DATASET"""
import sys
import time

import duckdb

root = sys.argv[1]
t = time.time()
con = duckdb.connect()
con.execute(f"CREATE VIEW f AS SELECT * FROM read_parquet('{root}/*/*/*.parquet', hive_partitioning=true)")
q = {
    "nodes": "SELECT node, count(*), sum(failed_flow::int), sum(bidirectional_packets), sum(bidirectional_bytes) FROM f GROUP BY node",
    "apps": "SELECT application_name, count(*) c FROM f GROUP BY 1 ORDER BY c DESC LIMIT 40",
    "categories": "SELECT application_category_name, count(*) c FROM f GROUP BY 1 ORDER BY c DESC",
    "dst_countries": "SELECT dst_country, count(*) c FROM f GROUP BY 1 ORDER BY c DESC LIMIT 40",
    "src_countries": "SELECT src_country, count(*) c FROM f GROUP BY 1 ORDER BY c DESC LIMIT 40",
    "ports": "SELECT dst_port, count(*) c FROM f GROUP BY 1 ORDER BY c DESC LIMIT 40",
    "hours": "SELECT (bidirectional_first_seen_ms // 3600000) % 24 h, count(*) FROM f GROUP BY 1",
    "ua": "SELECT user_agent, count(*) c FROM f WHERE split_part(application_name, '.', 1) IN ('HTTP','HTTP_Proxy') AND user_agent IS NOT NULL GROUP BY 1 ORDER BY c DESC LIMIT 40",
    "ct": "SELECT content_type, count(*) c FROM f WHERE split_part(application_name, '.', 1) IN ('HTTP','HTTP_Proxy') AND content_type IS NOT NULL GROUP BY 1 ORDER BY c DESC LIMIT 40",
    "roles": "SELECT tor_role, count(*) FROM f GROUP BY 1",
    "misc": "SELECT sum(src_is_proxy::int), sum(dst_is_proxy::int), avg(bidirectional_duration_ms) FROM f",
}
for name, sql in q.items():
    con.execute(sql).fetchall()
print(f"duckdb {duckdb.__version__}: {len(q)} queries in {time.time() - t:.2f} s")
