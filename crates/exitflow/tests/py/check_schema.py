"""Validate report JSON files against the report's JSON Schema
(docs/report.schema.json, generated from exitflow's typed contract).

usage: check_schema.py SCHEMA REPORT_JSON...
Prints "valid NAME" per file, or the first errors and exits 1.
"""
import json
import sys

import jsonschema

schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
bad = False
for path in sys.argv[2:]:
    errors = sorted(validator.iter_errors(json.load(open(path))), key=lambda e: list(e.path))
    if errors:
        bad = True
        for e in errors[:5]:
            print(f"invalid {path}: {'/'.join(map(str, e.path))}: {e.message}")
    else:
        print(f"valid {path}")
sys.exit(1 if bad else 0)
