"""The report's application-protocol table computed by Apache Spark over an
exitflow dataset: the same Hive-partitioned Parquet that `exitflow report`
reads, for datasets larger than one machine.

usage: spark-submit spark/protocols.py DATASET [OUT.json]
   or: python3 spark/protocols.py DATASET [OUT.json]   (pip install pyspark)

Prints, and writes as JSON when OUT is given: flows per node and the top 40
application labels with their share, plus the TLS and HTTP shares (all TLS.*
and HTTP.* labels), as in report.json's "all" section: over the study's
flows, exit flows of more than 4 packets (every role when no flow has the
exit role).
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
    nodes = {r["node"]: r["count"] for r in df.groupBy("node").count().collect()}
    has_exit = df.filter(F.col("tor_role") == "exit").limit(1).count() > 0
    study = df.filter(~F.col("failed_flow"))
    if has_exit:
        study = study.filter(F.col("tor_role") == "exit")
    df = study
    study_total = df.count()
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
    result = {
        "flows": total,
        "study_flows": study_total,
        "nodes": nodes,
        "applications_top40": [[r["application_name"], r["count"]] for r in apps],
        "tls_share": 100.0 * (shares["tls"] or 0) / study_total if study_total else 0.0,
        "http_share": 100.0 * (shares["http"] or 0) / study_total if study_total else 0.0,
    }
    for name, n in result["applications_top40"]:
        print(f"{name:30s} {n:12d} {100.0 * n / study_total:6.2f} %")
    print(f"TLS {result['tls_share']:.2f} %  HTTP {result['http_share']:.2f} %  ({study_total} study flows of {total})")
    if out:
        with open(out, "w") as f:
            json.dump(result, f)
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
