#!/usr/bin/env bash
# Builds (once) the Debian bookworm root filesystem of the workloads suite
# (integration/workloads): MariaDB, HAProxy, a Perl web server
# (HTTP::Daemon) and curl, and prints its path. It is debian.sh with another
# package list and another cache, /var/tmp/runcage-workloads/rootfs (or
# $RUNCAGE_WORKLOADS_ROOTFS), so the suites never share a tree. The first
# build takes a few minutes; every later call reuses it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUNCAGE_DEBIAN_ROOTFS=${RUNCAGE_WORKLOADS_ROOTFS:-/var/tmp/runcage-workloads/rootfs} \
	RUNCAGE_DEBIAN_PACKAGES=mariadb-server,mariadb-client,haproxy,perl,libhttp-daemon-perl,curl \
	exec "$here/debian.sh"
