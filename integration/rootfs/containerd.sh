#!/usr/bin/env bash
# Builds (once) containerd VERSION's daemon and ctr from the Go module proxy,
# for the shim tests against containerd versions other than the installed
# one, and prints the directory holding the two binaries.
#
#   integration/rootfs/containerd.sh 1.7.35    # github.com/containerd/containerd
#   integration/rootfs/containerd.sh 2.4.2     # github.com/containerd/containerd/v2
#
# They are built outside any module of ours, in a throwaway module that
# requires only that release, so the dependency versions are exactly those
# of the release's go.mod (every download checked against the checksum
# database as usual). The build tags leave out the snapshotters that need C libraries
# (btrfs, devmapper, zfs, aufs); the tests disable those plugins anyway.
#
# The result is cached in $RUNCAGE_CONTAINERD_DIR/VERSION/bin (default
# /var/tmp/runcage-containerd) and reused by every later call on the same
# machine. A build goes to a temporary directory renamed into place only
# when complete; concurrent callers serialize on a lock. On a 2-core
# machine a build takes about 3 to 6 minutes, plus the module downloads
# (about 2 minutes the first time).
set -euo pipefail

version=${1:-}
if ! [[ $version =~ ^([12])\.[0-9]+\.[0-9]+$ ]]; then
	echo "containerd.sh: usage: containerd.sh VERSION (such as 1.7.35 or 2.4.2; containerd 1.x or 2.x)" >&2
	exit 2
fi
case ${BASH_REMATCH[1]} in
1) module=github.com/containerd/containerd ;;
2) module=github.com/containerd/containerd/v2 ;;
esac
if ! command -v go >/dev/null; then
	echo "containerd.sh: no go command in PATH: containerd $version is built from source" >&2
	exit 1
fi

base=${RUNCAGE_CONTAINERD_DIR:-/var/tmp/runcage-containerd}
dest=$base/$version
tags="no_btrfs no_devmapper no_zfs no_aufs"
stamp="containerd $version $module tags=$tags $(go env GOVERSION) v1"

mkdir -p "$base"
exec 9>"$base/.lock"
flock 9

if [ -f "$dest/.runcage-stamp" ] && [ "$(cat "$dest/.runcage-stamp")" = "$stamp" ] &&
	[ -x "$dest/bin/containerd" ] && [ -x "$dest/bin/ctr" ]; then
	echo "$dest/bin"
	exit 0
fi

tmp="$dest.tmp.$$"
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin"
log=$base/build-$version.log
echo "containerd.sh: building containerd $version and ctr from $module (several minutes; log $log)" >&2
start=$(date +%s)
# A throwaway module that requires only containerd at that version, so
# minimal version selection takes exactly the dependency versions of the
# release's go.mod (`go install PACKAGE@VERSION` refuses 1.7: its go.mod
# has exclude directives). GOFLAGS and GOWORK of the caller must not
# reach it.
mkdir -p "$tmp/src"
if ! (cd "$tmp/src" && export GOFLAGS=-buildvcs=false GOWORK=off &&
	go mod init runcage.invalid/containerd-build &&
	go get "$module@v$version" &&
	nice -n 10 go build -mod=mod -trimpath -tags "$tags" -o "$tmp/bin/" "$module/cmd/containerd" "$module/cmd/ctr") >"$log" 2>&1; then
	echo "containerd.sh: building containerd $version failed, last lines of $log:" >&2
	tail -20 "$log" >&2
	exit 1
fi
if ! "$tmp/bin/containerd" --version | grep -qE "[ v]$version([+ ]|\$)"; then
	echo "containerd.sh: the built containerd does not report $version: $("$tmp/bin/containerd" --version)" >&2
	exit 1
fi
echo "containerd.sh: built containerd $version in $(($(date +%s) - start)) s" >&2
echo "$stamp" >"$tmp/.runcage-stamp"
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
echo "$dest/bin"
