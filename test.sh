#!/usr/bin/env bash
# The test command: installs what the cross-checks use if it is missing
# (pyarrow, pandas and pyspark, markdown-it to render report.md, jsonschema to
# hold Spark's report to the report's schema, NFStream 6.6.0 to ask nDPI 5.0
# itself about every detector's sample, from pip; Chromium, and iproute2, tcpdump,
# tcpreplay and curl for the live-capture tests, from Debian when run as
# root), then runs every test of the workspace and prints one closing line
# with the totals. The live-capture tests need root (network namespaces);
# EXITFLOW_SKIP_ROOT_TESTS=1 skips them elsewhere.
set -euo pipefail
cd "$(dirname "$0")"
if ! python3 -c 'import pyarrow, pandas, pyspark, markdown_it, linkify_it, PIL, jsonschema, nfstream' 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check 'pyarrow>=14' 'pandas>=2' 'pyspark>=3.5' \
    'markdown-it-py>=3' 'linkify-it-py>=2' 'pillow>=9' 'jsonschema>=4.18' 'nfstream==6.6.0'
fi
# The HTML report is rendered in headless Chromium (Debian's package).
need=()
# tor and unbound check the relay kit and run the private Tor network; sshd
# and ssh make the administrator's session in it. debhelper builds the Debian
# package, lintian checks it, systemd-nspawn boots systemd to run it.
for p in chromium:chromium ip:iproute2 tcpdump:tcpdump tcpreplay:tcpreplay curl:curl systemd-analyze:systemd \
  tor:tor tor-gencert:tor unbound:unbound unbound-checkconf:unbound sshd:openssh-server ssh:openssh-client \
  ssh-keygen:openssh-client setpriv:util-linux openssl:openssl dh:debhelper lintian:lintian \
  systemd-nspawn:systemd-container; do
  command -v "${p%%:*}" >/dev/null || need+=("${p#*:}")
done
# libpcap's headers and library for the `libpcap` feature's tests.
[ -e /usr/include/pcap.h ] || need+=(libpcap-dev)
if [ ${#need[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
log=$(mktemp)
# Tests that cannot run here (root-only, without root) write their name and
# reason to this file: they are counted as skipped, not as passed.
export EXITFLOW_SKIPPED_LOG=$(mktemp)
trap 'rm -f "$log" "$EXITFLOW_SKIPPED_LOG"' EXIT
status=0
cargo test --workspace --all-targets --no-fail-fast "$@" 2>&1 | tee "$log" || status=$?
# `exitflow query` (Apache DataFusion) is behind the `sql` feature; its test
# builds with it (long the first time).
cargo test -p exitflow --features sql --test tests "$@" -- sql_query 2>&1 | tee -a "$log" || status=$?
# tcpdump-style filters for live capture are behind the `libpcap` feature
# (it links the system's libpcap); its tests run with it.
cargo test -p exitflow-capture --features libpcap "$@" 2>&1 | tee -a "$log" || status=$?
cargo test -p exitflow --features libpcap --test tests "$@" -- live::a_filter 2>&1 | tee -a "$log" || status=$?
passed=$(grep -oE 'test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -oE '[0-9]+ failed' "$log" | awk '{s+=$1} END {print s+0}')
skipped=$(wc -l < "$EXITFLOW_SKIPPED_LOG")
if [ "$skipped" -gt 0 ]; then
  echo "skipped tests:"
  sed 's/^/  /' "$EXITFLOW_SKIPPED_LOG"
fi
# A full disk shows up as a linker killed by SIGBUS: say how much was left.
echo "disk: $(du -sh target 2>/dev/null | cut -f1) in target/, $(df -h --output=avail . | tail -1 | tr -d ' ') free"
echo "summary: $((passed - skipped)) passed, ${failed} failed, ${skipped} skipped"
exit "$status"
