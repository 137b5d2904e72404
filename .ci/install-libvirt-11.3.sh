#!/bin/sh
# Unpack libvirt 11.3 (Debian bookworm-backports) into a private prefix beside the system's
# libvirt 9.0, which stays untouched: `pivotcheck live --libvirt 11.3` runs this libvirtd in
# its own mount namespace (live/src/install.rs says how). Only Debian packages, unpacked
# with `dpkg-deb -x`; dpkg's database does not know them. Idempotent; needs root.
# Usage: install-libvirt-11.3.sh [PREFIX]   (default /opt/libvirt-11.3)
set -eu

version=11.3.0-2~bpo12+1
prefix=${1:-/opt/libvirt-11.3}
stamp="$prefix/.pivotcheck-installed"
# The packages libvirtd with the QEMU driver needs (virsh stays the system's 9.0: it speaks
# the same RPC protocol, and the harness drives every version with it).
pkgs="libvirt0 libvirt-common libvirt-daemon libvirt-daemon-common libvirt-daemon-log libvirt-daemon-driver-qemu"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ] && [ -x "$prefix/usr/sbin/libvirtd" ]; then
    echo "install-libvirt-11.3: $version already in $prefix, skipping"
    exit 0
fi

src=/etc/apt/sources.list.d/bookworm-backports.sources
if [ ! -f "$src" ]; then
    uris=$(sed -n 's/^URIs: //p' /etc/apt/sources.list.d/debian.sources | head -n1)
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uris" \
        > "$src"
fi
if ! apt-cache show "libvirt-daemon=$version" >/dev/null 2>&1; then
    apt-get update
fi

dl=$(mktemp -d /tmp/install-libvirt-11.3.XXXXXX)
trap 'rm -rf "$dl"' EXIT
# apt's sandbox user must be able to write the download folder.
chmod 755 "$dl"
chown _apt "$dl" 2>/dev/null || true
specs=""
for p in $pkgs; do specs="$specs $p=$version"; done
# shellcheck disable=SC2086
(cd "$dl" && apt-get download $specs)

rm -rf "$prefix.new"
mkdir -p "$prefix.new"
for deb in "$dl"/*.deb; do
    dpkg-deb -x "$deb" "$prefix.new"
done

# Runtime libraries the 11.3 binaries link against come from bookworm; install any that
# are missing (11.x uses json-c where 9.0 used yajl).
lib="$prefix.new/usr/lib/x86_64-linux-gnu"
missing=$(for b in "$prefix.new/usr/sbin/libvirtd" "$lib"/libvirt/connection-driver/*.so; do
    LD_LIBRARY_PATH="$lib" ldd "$b" | sed -n 's/^[[:space:]]*\([^ ]*\) => not found.*/\1/p'
done | sort -u)
if [ -n "$missing" ]; then
    need=""
    for so in $missing; do
        case "$so" in
            libjson-c.so.5) need="$need libjson-c5" ;;
            *) echo "install-libvirt-11.3: $so missing and no known bookworm package has it" >&2; exit 1 ;;
        esac
    done
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need
fi

got=$(LD_LIBRARY_PATH="$lib" "$prefix.new/usr/sbin/libvirtd" --version)
case "$got" in
    *" 11.3.0") ;;
    *) echo "install-libvirt-11.3: unpacked libvirtd says '$got', expected 11.3.0" >&2; exit 1 ;;
esac
echo "$version" > "$prefix.new/.pivotcheck-installed"
rm -rf "$prefix"
mv "$prefix.new" "$prefix"
echo "install-libvirt-11.3: libvirt $version unpacked into $prefix"
