#!/usr/bin/env bash
# Scores exitflow's labels against NFStream 6.6.0 on both shared corpora
# (NFStream's test captures and the shared half of nDPI's), with
# ../shared/tools/flowcmp.py. Usage: bench/dpi_score.sh [OUT_DIR] [--table]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED:-$here/../shared}
out=${1:-/dev/shm/dpi_score}
exe=${EXITFLOW:-$here/target/release/exitflow}
for c in nfstream ndpi; do
  rm -rf "$out/$c"; mkdir -p "$out/$c"
  "$exe" flows --profile research --output "$out/$c" "$shared/corpus/$c/pcaps/"* 2>"$out/$c.log" || true
  python3 "$shared/tools/flowcmp.py" "$out/$c" "$shared/corpus/$c/results-6.6.0" --json >"$out/$c.json"
  python3 - "$c" "$out/$c.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[2]))["aggregate"]
print(f"{sys.argv[1]:9} captures {a['pcaps']} flows {a['flows']:.2f} app {a['app']:.2f} master {a['master']:.2f} "
      f"category {a['category']:.2f} | per capture: app {a['macro_app']:.2f} master {a['macro_master']:.2f}")
PY
done
