"""The report's application-protocol table computed by Apache Spark over an
exitflow dataset: the same Hive-partitioned Parquet that `exitflow report`
reads, for datasets larger than one machine.

usage: spark-submit spark/protocols.py DATASET [OUT.json]
   or: python3 spark/protocols.py DATASET [OUT.json]   (pip install pyspark)

Prints, and writes as JSON when OUT is given: flows per node and the top 40
application labels with their share, plus the TLS and HTTP shares (all TLS.*
and HTTP.* labels), as in report.json's "all" section.
"""
import json
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def main(dataset, out=None):
    spark = (
        SparkSession.builder.appName("exitflow-protocols")
        .master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    df = spark.read.option("basePath", dataset).parquet(dataset)  # node=/date= become columns
    total = df.count()
    apps = (
        df.groupBy("application_name")
        .count()
        .orderBy(F.col("count").desc(), F.col("application_name"))
        .limit(40)
        .collect()
    )
    master = F.split(F.col("application_name"), r"\.").getItem(0)
    shares = df.select(
        F.sum(F.when(master == "TLS", 1).otherwise(0)).alias("tls"),
        F.sum(F.when(master.isin("HTTP", "HTTP_Proxy"), 1).otherwise(0)).alias("http"),
    ).collect()[0]
    nodes = {r["node"]: r["count"] for r in df.groupBy("node").count().collect()}
    result = {
        "flows": total,
        "nodes": nodes,
        "applications_top40": [[r["application_name"], r["count"]] for r in apps],
        "tls_share": 100.0 * (shares["tls"] or 0) / total if total else 0.0,
        "http_share": 100.0 * (shares["http"] or 0) / total if total else 0.0,
    }
    for name, n in result["applications_top40"]:
        print(f"{name:30s} {n:12d} {100.0 * n / total:6.2f} %")
    print(f"TLS {result['tls_share']:.2f} %  HTTP {result['http_share']:.2f} %  ({total} flows)")
    if out:
        with open(out, "w") as f:
            json.dump(result, f)
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
