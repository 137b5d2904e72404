#!/bin/sh
# Install qemu-system-x86_64 10.x from bookworm-backports so that it matches the
# qemu-utils 10.0.2 already on the machine (the bookworm 7.2 package would remove
# qemu-utils 10: it has `Breaks: qemu-system-common (<< 1:8.0+dfsg-5~)`).
# Idempotent: does nothing if qemu-system-x86_64 with major version 10 is present.
# Needs root (CI and developer machines run as root).
set -eu

have_qemu10() {
    command -v qemu-system-x86_64 >/dev/null 2>&1 || return 1
    v=$(qemu-system-x86_64 --version | sed -n 's/^QEMU emulator version \([0-9]*\)\..*/\1/p')
    [ "$v" = "10" ]
}

if have_qemu10; then
    echo "INSTALL-QEMU: $(qemu-system-x86_64 --version | head -n1) already present, skipping"
    exit 0
fi

src=/etc/apt/sources.list.d/bookworm-backports.sources
if [ ! -f "$src" ]; then
    # reuse the mirror the machine's own Debian source already names
    uris=$(sed -n 's/^URIs: //p' /etc/apt/sources.list.d/debian.sources | head -n1)
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uris" \
        > "$src"
fi
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -t bookworm-backports qemu-system-x86

have_qemu10 || { echo "INSTALL-QEMU: qemu-system-x86_64 10.x still missing after install" >&2; exit 1; }
echo "INSTALL-QEMU: installed $(qemu-system-x86_64 --version | head -n1)"
