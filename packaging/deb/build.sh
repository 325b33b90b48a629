#!/usr/bin/env bash
# Builds the Debian package of exitflow: the binary, the systemd units, the
# `exitflow` system user, a configuration in /etc/exitflow and the
# documentation. dpkg-deb only (no debhelper needed).
#
#   packaging/deb/build.sh [--binary PATH] [--out DIR]
#
# Without --binary it builds the release binary first. Prints the .deb's path.
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
arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root="$stage/exitflow_${version}_${arch}"

install -D -m 0755 "$binary" "$root/usr/bin/exitflow"
# Debug information stays out of the package (the build keeps it).
if command -v strip >/dev/null; then strip --strip-debug "$root/usr/bin/exitflow"; fi
for u in exitflow-capture@.service exitflow-consensus.service exitflow-consensus.path; do
  install -D -m 0644 "packaging/$u" "$root/lib/systemd/system/$u"
done
install -D -m 0644 packaging/deb/sysusers.conf "$root/usr/lib/sysusers.d/exitflow.conf"
doc="$root/usr/share/doc/exitflow"
install -d "$doc"
install -m 0644 README.md docs/exit-relay.md docs/privacy.md docs/live-capture.md docs/schema.md "$doc/"
install -m 0644 packaging/deb/copyright "$doc/copyright"
# The configuration: every default, with the relay's paths set.
install -d "$root/etc/exitflow"
"$binary" config \
  | sed -e 's|^# dataset = .*|dataset = "/var/lib/exitflow/dataset"|' \
        -e 's|^# consensus = .*|consensus = "/var/lib/exitflow-consensus/cached-consensus"|' \
        -e 's|^# torrc = .*|torrc = "/etc/tor/torrc"|' \
  > "$root/etc/exitflow/exitflow.toml"
chmod 0644 "$root/etc/exitflow/exitflow.toml"

install -d "$root/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: exitflow
Version: $version
Architecture: $arch
Maintainer: exitflow developers <exitflow@example.invalid>
Installed-Size: $size
Depends: libc6, adduser
Recommends: tor, unbound, nyx
Section: net
Priority: optional
Homepage: https://example.invalid/exitflow
Description: measure what leaves a Tor exit relay, without personal data
 exitflow captures a Tor exit relay's traffic, meters it into flows, names
 each flow's application, and writes an anonymised columnar dataset
 (nothing finer than an hour, no addresses) and the report of an
 exit-traffic study. Includes the relay kit (exitflow relay init), the
 capture service and exitflow status.
CONTROL
echo /etc/exitflow/exitflow.toml > "$root/DEBIAN/conffiles"
install -m 0755 packaging/deb/postinst "$root/DEBIAN/postinst"
install -m 0755 packaging/deb/postrm "$root/DEBIAN/postrm"
(cd "$root" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | xargs -0 md5sum > DEBIAN/md5sums)
mkdir -p "$out"
deb="$out/exitflow_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
