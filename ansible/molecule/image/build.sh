#!/usr/bin/env bash
# Build a Molecule test image locally: Debian 12 (bookworm) or 13 (trixie) with systemd as PID 1, made from
# Debian packages with debootstrap and imported with `docker import` (no registry, no Dockerfile, no base image).
#
#   ansible/molecule/image/build.sh [--if-missing] [IMAGE [SUITE]]
#       IMAGE defaults to $MOLECULE_IMAGE or datavisor-molecule:SUITE, SUITE to bookworm;
#       --if-missing: nothing to do when IMAGE exists
#
# Needs root (debootstrap), debootstrap and a reachable Debian mirror ($DEBIAN_MIRROR). See DEVELOPERS.md
# for the container options systemd needs at run time (the molecule.yml platforms use them).
set -euo pipefail

if_missing=0
[ "${1:-}" = --if-missing ] && { if_missing=1; shift; }
suite=${2:-bookworm}
image=${1:-${MOLECULE_IMAGE:-datavisor-molecule:$suite}}
if [ "$if_missing" = 1 ] && docker image inspect "$image" >/dev/null 2>&1; then
    exit 0
fi
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# systemd + dbus: a real init; python3 + python3-venv: Ansible and the role's virtualenv; iproute2: `ss` in
# the verify; curl/ca-certificates/sudo: what a minimal server image has anyway.
packages=systemd,systemd-sysv,dbus,python3,python3-venv,python3-apt,sudo,curl,ca-certificates,iproute2

rootfs=$(mktemp -d /tmp/datavisor-molecule-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT

echo "debootstrap $suite from $mirror into $rootfs"
debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
    || { tail -20 "$rootfs.log"; rm -f "$rootfs.log"; exit 1; }
rm -f "$rootfs.log"

# A container has no consoles or hardware: these units only fail or wait there.
for unit in getty@tty1.service console-getty.service systemd-udevd.service systemd-udev-trigger.service \
    systemd-modules-load.service sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
    systemd-remount-fs.service; do
    ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
# systemd creates a fresh machine id at first boot when the file is empty.
: >"$rootfs/etc/machine-id"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/*.log

tar -C "$rootfs" -c . | docker import \
    --change 'ENV container=docker' \
    --change 'CMD ["/lib/systemd/systemd"]' \
    - "$image" >/dev/null
echo "built $image"
