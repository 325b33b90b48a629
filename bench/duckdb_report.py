"""Yardstick: the report's aggregations computed by DuckDB on the same
Parquet dataset (the same tables `exitflow report` makes: node totals and
roles over every flow; the study's tables over exit flows of more than 4
packets; the failed-flow series and the abuse table over exit flows).

usage: duckdb_report.py DATASET"""
import sys
import time

import duckdb

root = sys.argv[1]
t = time.time()
con = duckdb.connect()
con.execute(
    f"CREATE VIEW f AS SELECT * FROM read_parquet('{root}/*/*/part-*.parquet', hive_partitioning=true)"
)
con.execute("CREATE VIEW s AS SELECT * FROM f WHERE tor_role = 'exit' AND NOT failed_flow")
con.execute("CREATE VIEW e AS SELECT * FROM f WHERE tor_role = 'exit'")
http = "split_part(application_name, '.', 1) IN ('HTTP','HTTP_Proxy')"
q = {
    "nodes": "SELECT node, count(*), sum(failed_flow::int), sum(bidirectional_packets), sum(bidirectional_bytes) FROM f GROUP BY node",
    "roles": "SELECT node, tor_role, count(*) FROM f GROUP BY 1, 2",
    "all_apps": "SELECT application_name, count(*) c FROM f GROUP BY 1 ORDER BY c DESC LIMIT 40",
    "apps": "SELECT node, application_name, count(*) c FROM s GROUP BY 1, 2",
    "categories": "SELECT node, application_category_name, count(*) c FROM s GROUP BY 1, 2",
    "dst_countries": "SELECT node, dst_country, count(*) c FROM s GROUP BY 1, 2",
    "src_countries": "SELECT node, src_country, count(*) c FROM s GROUP BY 1, 2",
    "ports": "SELECT node, dst_port, count(*) c FROM s GROUP BY 1, 2",
    "port_5222": "SELECT node, dst_country, count(*) FROM s WHERE dst_port = 5222 GROUP BY 1, 2",
    "hours": "SELECT node, (bidirectional_first_seen_ms // 3600000) % 24 h, count(*) FROM s GROUP BY 1, 2",
    "ua": f"SELECT node, user_agent, count(*) c FROM s WHERE {http} AND user_agent IS NOT NULL GROUP BY 1, 2",
    "ct": f"SELECT node, content_type, count(*) c FROM s WHERE {http} AND content_type IS NOT NULL GROUP BY 1, 2",
    "sums": f"SELECT node, sum(application_is_guessed::int), sum(src_is_proxy::int), sum(dst_is_proxy::int), sum(bidirectional_duration_ms), sum(({http})::int) FROM s GROUP BY 1",
    "failed_by_hour": "SELECT node, bidirectional_first_seen_ms // 3600000, count(*), sum(failed_flow::int) FROM e GROUP BY 1, 2",
    "abuse": "SELECT node, bidirectional_first_seen_ms // 3600000, dst_port, count(*), sum(failed_flow::int) FROM e GROUP BY 1, 2, 3",
}
for name, sql in q.items():
    con.execute(sql).fetchall()
print(f"duckdb {duckdb.__version__}: {len(q)} queries in {time.time() - t:.2f} s")
