#!/usr/bin/env bash
# Builds (once) a real Debian bookworm root filesystem with redis-server,
# redis-tools, nginx-light and curl, for the integration tests and the
# benchmarks, and prints its path.
#
# The result is cached in $RUNCAGE_DEBIAN_ROOTFS (default
# /var/tmp/runcage-debian/rootfs) and reused by every later call in the same
# CI job or on the same machine. A build is made in a temporary directory and
# renamed into place only when complete, so an interrupted build is never
# mistaken for a good one. Concurrent callers serialize on a lock.
set -euo pipefail

dest=${RUNCAGE_DEBIAN_ROOTFS:-/var/tmp/runcage-debian/rootfs}
mirror=${RUNCAGE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# RUNCAGE_DEBIAN_PACKAGES replaces the package list (integration/rootfs/workloads.sh).
pkgs=${RUNCAGE_DEBIAN_PACKAGES:-redis-server,redis-tools,nginx-light,curl}
stamp="bookworm minbase $pkgs v1"

parent=$(dirname "$dest")
mkdir -p "$parent"
exec 9>"$parent/.lock"
flock 9

if [ -f "$dest/.runcage-stamp" ] && [ "$(cat "$dest/.runcage-stamp")" = "$stamp" ]; then
	echo "$dest"
	exit 0
fi

if ! command -v debootstrap >/dev/null; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

tmp="$dest.tmp.$$"
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
echo "debian.sh: debootstrap bookworm into $tmp (about 90 s)" >&2
debootstrap --variant=minbase --include="$pkgs" bookworm "$tmp" "$mirror" >"$parent/debootstrap.log" 2>&1 || {
	echo "debian.sh: debootstrap failed, last lines of $parent/debootstrap.log:" >&2
	tail -20 "$parent/debootstrap.log" >&2
	exit 1
}
# The downloaded .deb files stay in /var/cache/apt/archives: they bring the
# tree to about 240 MB, and the user-namespace benchmark needs an image of at
# least 200 MB to show that setup time does not grow with image size.
echo "$stamp" >"$tmp/.runcage-stamp"
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
echo "$dest"
