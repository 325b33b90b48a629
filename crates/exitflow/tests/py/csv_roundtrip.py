"""Read a CSV written by exitflow with Python's csv module and pandas, and
compare the application_name column with the expected strings (JSON)."""
import csv
import json
import sys

import pandas as pd

path, expected = sys.argv[1], json.loads(sys.argv[2])
with open(path, newline="", encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
assert [r["application_name"] for r in rows] == expected, [r["application_name"] for r in rows]
assert [r["application_category_name"] for r in rows] == [f"{s}|{i}" for i, s in enumerate(expected)]
print("csv ok")
df = pd.read_csv(path, keep_default_na=False, dtype=str)
assert list(df["application_name"]) == expected, list(df["application_name"])
assert len(df.columns) == len(rows[0])
print("pandas ok")
