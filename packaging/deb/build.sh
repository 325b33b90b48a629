#!/usr/bin/env bash
# Builds the Debian package of exitflow with debhelper (packaging/deb/debian):
# the binary (stripped, its debug symbols in exitflow-dbgsym), the manual
# page generated from the command line's definitions, the systemd units, the
# `exitflow` system user, /var/lib/exitflow, a configuration in /etc/exitflow,
# nDPI's tables in /usr/share/exitflow/ndpi and the documentation. Needs debhelper and dpkg-dev (.ci/run installs them).
#
#   packaging/deb/build.sh [--binary PATH] [--out DIR]
#
# Without --binary it builds the release binary first. Prints the .deb's path
# (the -dbgsym package is written beside it).
set -euo pipefail
cd "$(dirname "$0")/../.."
binary=""
out="target/debian"
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: $0 [--binary PATH] [--out DIR]" >&2; exit 2 ;;
  esac
done
if [ -z "$binary" ]; then
  cargo build --release --quiet
  binary=target/release/exitflow
fi
[ -x "$binary" ] || { echo "$binary: not an executable" >&2; exit 2; }
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
changelog=$(dpkg-parsechangelog -l packaging/deb/debian/changelog -S Version)
if [ "$changelog" != "$version" ]; then
  echo "packaging/deb/debian/changelog: version $changelog, Cargo.toml says $version: add a changelog entry" >&2
  exit 2
fi
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
src="$stage/exitflow-$version"
mkdir -p "$src/units" "$src/docs" "$src/ndpi"
cp -r packaging/deb/debian "$src/debian"
install -m 0755 "$binary" "$src/exitflow"
"$binary" manpage > "$src/exitflow.1"
for u in exitflow-capture@.service exitflow-consensus.service exitflow-consensus.path; do
  install -m 0644 "packaging/$u" "$src/units/$u"
done
# nDPI's tables (LGPL-3.0-or-later), read at run time from
# /usr/share/exitflow/ndpi: data beside the program, replaceable.
install -m 0644 crates/exitflow-dpi/data/ndpi/* "$src/ndpi/"
install -m 0644 README.md "$src/"
install -m 0644 docs/exit-relay.md docs/privacy.md docs/live-capture.md docs/schema.md "$src/docs/"
# The configuration: every default, with the relay's paths set.
"$binary" config \
  | sed -e 's|^# dataset = .*|dataset = "/var/lib/exitflow/dataset"|' \
        -e 's|^# consensus = .*|consensus = "/var/lib/exitflow-consensus/cached-consensus"|' \
        -e 's|^# torrc = .*|torrc = "/etc/tor/torrc"|' \
  > "$src/exitflow.toml"
(cd "$src" && dpkg-buildpackage -b -uc -us --no-pre-clean >"$stage/build.log" 2>&1) || {
  cat "$stage/build.log" >&2
  exit 1
}
mkdir -p "$out"
cp "$stage"/exitflow_*.deb "$stage"/exitflow-dbgsym_*.*deb "$out/"
ls "$out"/exitflow_"$version"_*.deb
