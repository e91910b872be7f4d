#!/usr/bin/env bash
# Runs a command of this project inside a minimal Debian root of the given release, made
# with debootstrap: how CI tests the release the machine does not run (Debian 13 from a
# Debian 12 machine, or the other way round), and how a developer tries one.
#
#   scripts/debian-root.sh SUITE COMMAND...      e.g. scripts/debian-root.sh trixie scripts/test.sh --quick
#
# The base system is built once and kept in $TLSGATE_ROOT_CACHE (default
# /var/tmp/tlsgate-root-SUITE); the packages the command installs stay there too, so a second
# run starts at once. Every run gets a fresh copy of the checkout's files (tracked and
# untracked, never build output) in /root/tlsgate inside the root. Needs root; installs
# debootstrap if it is missing.
set -euo pipefail
[[ $# -ge 2 ]] || { sed -n '2,12p' "$0"; exit 64; }
suite=$1
shift
[[ $(id -u) == 0 ]] || { echo "debian-root.sh: needs root (chroot, mounts)" >&2; exit 1; }
top=$(cd "$(dirname "$0")/.." && pwd)
root=${TLSGATE_ROOT_CACHE:-/var/tmp/tlsgate-root-$suite}
mirror=$(grep -hs '^URIs:' /etc/apt/sources.list.d/debian.sources | head -1 | awk '{print $2}')
mirror=${mirror:-http://deb.debian.org/debian}
security=$(grep -hs '^URIs:' /etc/apt/sources.list.d/debian.sources | awk '/security/{print $2; exit}')
security=${security:-http://deb.debian.org/debian-security}

if ! command -v debootstrap >/dev/null; then
    echo "== installing debootstrap" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
if [[ ! -x $root/bin/bash ]]; then
    echo "== building a minimal Debian $suite in $root (once)" >&2
    rm -rf "$root.tmp"
    debootstrap --variant=minbase "$suite" "$root.tmp" "$mirror" >/dev/null
    mv "$root.tmp" "$root"
fi
{ echo "deb $mirror $suite main"; echo "deb $mirror $suite-updates main"
  echo "deb $security $suite-security main"; } >"$root/etc/apt/sources.list"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# debootstrap writes no /etc/hosts: the names every Debian install has.
[[ -s $root/etc/hosts ]] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"

unmount() {
    for m in dev/pts dev sys proc; do umount -l "$root/$m" 2>/dev/null || true; done
}
trap unmount EXIT
mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
mountpoint -q "$root/sys" || mount --rbind /sys "$root/sys"
mountpoint -q "$root/dev" || mount --rbind /dev "$root/dev"

# The checkout as it is now: tracked and untracked files, not what is ignored (build/).
rm -rf "$root/root/tlsgate"
mkdir -p "$root/root/tlsgate"
git -C "$top" ls-files -z --cached --others --exclude-standard |
    tar -C "$top" --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -C "$root/root/tlsgate" -xf -

echo "== Debian $suite ($(cat "$root/etc/debian_version")): $*" >&2
quoted=$(printf '%q ' "$@")
chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    TERM=dumb LANG=C.UTF-8 bash -lc "cd /root/tlsgate && $quoted"
