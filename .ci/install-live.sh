#!/bin/sh
# Install what `pivotcheck live` needs from Debian's packages: QEMU 10 (bookworm-backports,
# see qmp/INSTALL-QEMU.sh), libvirt 9.0 (libvirtd, virsh), nasm for the guest, gcc for the crash
# trigger, util-linux/mount for the mount namespace, qemu-nbd (qemu-utils); and libvirt 11.3 (bookworm-backports)
# unpacked into /opt/libvirt-11.3 beside the system's 9.0 (install-libvirt-11.3.sh), for
# `pivotcheck live --libvirt 11.3`. Idempotent; needs root.
set -eu
cd "$(dirname "$0")"
sh ../qmp/INSTALL-QEMU.sh
need=""
command -v libvirtd >/dev/null 2>&1 || [ -x /usr/sbin/libvirtd ] || need="$need libvirt-daemon libvirt-daemon-driver-qemu"
command -v virsh >/dev/null 2>&1 || need="$need libvirt-clients"
command -v nasm >/dev/null 2>&1 || need="$need nasm"
command -v cc >/dev/null 2>&1 || need="$need gcc libc6-dev"
command -v unshare >/dev/null 2>&1 || need="$need util-linux"
if [ -n "$need" ]; then
    apt-get update
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need
fi
# qemu-nbd serves the slow scenarios' copy target; from bookworm-backports, as QEMU 10
# (qmp/INSTALL-QEMU.sh added that suite).
if ! command -v qemu-nbd >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -t bookworm-backports qemu-utils
fi
sh ./install-libvirt-11.3.sh
echo "install-live: $(libvirtd --version), $(nasm -v), $(qemu-system-x86_64 --version | head -n1)"
