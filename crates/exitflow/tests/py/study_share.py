"""The TLS share over the study's flows (exit flows of more than 4 packets)
and over every flow, with pyarrow. usage: study_share.py DATASET"""
import sys

import pyarrow.dataset as pads

t = pads.dataset(sys.argv[1], format="parquet", partitioning="hive").to_table().to_pydict()
n = len(t["application_name"])
tls = [a.split(".")[0] == "TLS" for a in t["application_name"]]
study = [i for i in range(n) if t["tor_role"][i] == "exit" and not t["failed_flow"][i]]
print(100.0 * sum(tls[i] for i in study) / len(study), 100.0 * sum(tls) / n)
