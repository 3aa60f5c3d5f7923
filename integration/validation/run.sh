#!/usr/bin/env bash
# Runs the OCI runtime validation suite (opencontainers/runtime-tools
# v0.9.0, its validation/ programs) against a delegate runc and against
# runcage-passthrough over that same delegate, for two delegates:
#
#   pinned   bin/runc (built by the Makefile from the runc pinned in go.mod)
#   debian   /usr/sbin/runc (Debian's runc package)
#
# The passthrough profile changes nothing, so every check must give the same
# result under runc and under runcage-passthrough over it. The script exits 1
# if any check differs, or if the Debian runc passes implausibly few checks
# (the harness broke). It builds nothing of ours: run `make` first.
#
# Usage (from the repository root):
#   integration/validation/run.sh
#
# Environment:
#   RUNCAGE              runcage binary (default: <repo>/bin/runcage)
#   PINNED_RUNC          pinned delegate (default: <repo>/bin/runc)
#   DEBIAN_RUNC          Debian delegate (default: /usr/sbin/runc)
#   VALIDATION_DELEGATES which delegates to run (default: "pinned debian")
#   VALIDATION_TESTS     space-separated program names to run (default: all)
#   VALIDATION_TIMEOUT   seconds per program run (default: 120)
#   VALIDATION_MIN_PASS  minimum checks the Debian runc must pass (default: 1000)
#   VALIDATION_WORK      cache of the built suite (default: /var/tmp/runcage-validation)
#   VALIDATION_OUT       raw TAP/stderr of the last run (default: $VALIDATION_WORK/last-run)
#   VALIDATION_REPORT    copy of the summary (default: /tmp/runcage-validation.txt)
#
# How the suite is built (once; cached in $VALIDATION_WORK keyed by version,
# Go version and the go.mod/go.sum shipped here):
#   go mod download -json github.com/opencontainers/runtime-tools@v0.9.0
#   cp -r <module dir> <work>/src; cp runtime-tools-v0.9.0.go.{mod,sum} <work>/src/go.{mod,sum}
#   CGO_ENABLED=0 go build -o <bin>/runtimetest ./cmd/runtimetest
#   go build -o <bin>/ ./validation/...
# v0.9.0 predates Go modules and its module zip carries no vendor/ (it used
# Godeps), so the go.mod here pins its dependencies: the Godeps revisions are
# not served by the module proxy, so they are the nearest tagged versions that
# compile (runtime-spec v1.0.2, selinux v1.6.0 which still has
# label.FileLabel, urfave/cli v1.19.1, ...).
#
# Each runtime gets a private state directory: RUNTIME points at a two-line
# wrapper that runs `<runtime> --root <private root> "$@"` (the validation
# programs call $RUNTIME with no global flags). runc and runcage-passthrough
# get the same wrapper, so the comparison is fair, and leftover containers
# are found with `<delegate> --root <root> list` and removed with `delete -f`
# after every program, without touching other containers on the host.
set -euo pipefail

script_start=$SECONDS
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

RUNCAGE=${RUNCAGE:-$repo/bin/runcage}
PINNED_RUNC=${PINNED_RUNC:-$repo/bin/runc}
DEBIAN_RUNC=${DEBIAN_RUNC:-/usr/sbin/runc}
delegates=${VALIDATION_DELEGATES:-pinned debian}
only_tests=${VALIDATION_TESTS:-}
timeout_s=${VALIDATION_TIMEOUT:-120}
min_pass=${VALIDATION_MIN_PASS:-1000}
work=${VALIDATION_WORK:-/var/tmp/runcage-validation}
out=${VALIDATION_OUT:-$work/last-run}
report=${VALIDATION_REPORT:-/tmp/runcage-validation.txt}
rt_module=github.com/opencontainers/runtime-tools
rt_version=v0.9.0

log() { printf '[validation] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

abspath() { # resolve relative to the caller's cwd, keep symlinks of the name
	case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s/%s\n' "$PWD" "$1" ;; esac
}

[[ $(id -u) -eq 0 ]] || die "must run as root (the suite creates real containers)"
command -v go >/dev/null || die "go not found"
command -v timeout >/dev/null || die "timeout (coreutils) not found"
RUNCAGE=$(abspath "$RUNCAGE")
[[ -x $RUNCAGE ]] || die "RUNCAGE=$RUNCAGE is not an executable; build it first (make)"

declare -A delegate_path
for d in $delegates; do
	case $d in
	pinned) p=$PINNED_RUNC ;;
	debian) p=$DEBIAN_RUNC ;;
	*) die "unknown delegate '$d' in VALIDATION_DELEGATES (want pinned and/or debian)" ;;
	esac
	p=$(abspath "$p")
	[[ -x $p ]] || die "delegate $d: $p is not an executable (pinned: make; debian: apt-get install runc)"
	delegate_path[$d]=$p
done

# ---------------------------------------------------------------- build ---

build_suite() {
	local gomod=$here/runtime-tools-$rt_version.go.mod
	local gosum=$here/runtime-tools-$rt_version.go.sum
	local key
	key=$({ echo "$rt_module@$rt_version"; go version; go env GOARCH; cat "$gomod" "$gosum"; } |
		sha256sum | cut -c1-16)
	suite=$work/runtime-tools-$rt_version-$key
	if [[ -f $suite/.complete ]]; then
		log "using cached suite $suite"
		return
	fi
	log "building $rt_module@$rt_version into $suite"
	local t0=$SECONDS
	mkdir -p "$work"
	rm -rf "$suite.tmp"
	mkdir -p "$suite.tmp/bin"
	local json moddir
	# Outside any module, so our go.mod/go.sum stay untouched.
	json=$(cd "$suite.tmp" && GOWORK=off GOFLAGS=-mod=mod go mod download -json "$rt_module@$rt_version")
	moddir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")
	[[ -n $moddir && -d $moddir ]] || die "go mod download $rt_module@$rt_version failed: $json"
	cp -R "$moddir" "$suite.tmp/src"
	chmod -R u+w "$suite.tmp/src"
	cp "$gomod" "$suite.tmp/src/go.mod"
	cp "$gosum" "$suite.tmp/src/go.sum"
	(
		cd "$suite.tmp/src"
		export GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false"
		CGO_ENABLED=0 go build -o ../bin/runtimetest ./cmd/runtimetest
		go build -o ../bin/ ./validation/...
	)
	local arch
	arch=$(go env GOARCH)
	cp "$suite.tmp/src/rootfs-$arch.tar.gz" "$suite.tmp/bin/"
	touch "$suite.tmp/.complete"
	rm -rf "$suite"
	mv "$suite.tmp" "$suite"
	log "built $(find "$suite/bin" -maxdepth 1 -type f -perm -u+x | wc -l) executables in $((SECONDS - t0))s"
}

build_suite

programs=()
if [[ -n $only_tests ]]; then
	for p in $only_tests; do
		p=${p%.t}
		[[ -x $suite/bin/$p && $p != runtimetest ]] || die "no validation program '$p' in $suite/bin"
		programs+=("$p")
	done
else
	while IFS= read -r p; do
		[[ $p == runtimetest ]] || programs+=("$p")
	done < <(find "$suite/bin" -maxdepth 1 -type f -perm -u+x -printf '%f\n' | LC_ALL=C sort)
fi
[[ ${#programs[@]} -gt 0 ]] || die "no validation programs found in $suite/bin"

# ----------------------------------------------------------------- run ---

tmp=$(mktemp -d "${TMPDIR:-/tmp}/runcage-validation.XXXXXX")
roots=() # "delegate-binary root-dir" pairs for the final cleanup

# unmount_under dir: some programs configure no mount namespace, so runc
# mounts the bundle's rootfs, /proc, /dev and /sys in the host's namespace
# and nothing unmounts them. Unmount everything under dir, deepest first.
# Prints how many mounts it found.
unmount_under() {
	local dir=$1 m n=0
	while IFS= read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "warning: could not unmount $m"
		n=$((n + 1))
	done < <(awk -v d="$dir/" 'index($5, d) == 1 { print length($5) "\t" $5 }' /proc/self/mountinfo |
		sort -rn | cut -f2-)
	echo "$n"
}

clean_root() { # delegate root: remove every container left in a private root
	local delegate=$1 root=$2 id
	[[ -d $root ]] || return 0
	while IFS= read -r id; do
		[[ -n $id ]] || continue
		"$delegate" --root "$root" delete -f "$id" >/dev/null 2>&1 ||
			log "warning: could not delete leftover container $id in $root"
	done < <("$delegate" --root "$root" list -q 2>/dev/null || true)
}

on_exit() {
	local r
	for r in "${roots[@]}"; do
		# shellcheck disable=SC2086
		clean_root $r
	done
	unmount_under "$tmp" >/dev/null
	rm -rf --one-file-system "$tmp" 2>/dev/null || log "warning: could not remove $tmp"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

ln -s "$RUNCAGE" "$tmp/runcage-passthrough"
rm -rf "$out"
mkdir -p "$out"

# parse_tap program tap-file rc: one "ok|notok|skip<TAB><program>: <description>"
# line per check. Test numbers are dropped: runtimetest walks Go maps, so the
# order (and numbering) of checks changes from run to run. A program that
# exits non-zero (crash, util.Fatal, timeout) adds one failed check
# "<program>: exit status N".
parse_tap() {
	awk -v prog="$1" -v rc="$3" -v limit="$timeout_s" '
	/^(not )?ok([ \t]|$)/ {
		st = ($1 == "ok") ? "ok" : "notok"
		line = $0
		sub(/^(not )?ok[ \t]*/, "", line)
		num = ""
		if (match(line, /^[0-9]+/)) { num = substr(line, 1, RLENGTH); line = substr(line, RLENGTH + 1) }
		sub(/^[ \t]*(-[ \t]*)?/, "", line)
		if (st == "ok" && line ~ /#[ \t]*[Ss][Kk][Ii][Pp]/) st = "skip"
		if (line == "") line = "(no description)"
		print st "\t" prog ": " line
		checks++
	}
	/^ +"error": / { errors++ }
	END {
		# Some programs (hooks, poststart, ...) report failure only as an
		# "error" YAML diagnostic with no test line and a 1..0 plan.
		if (!checks && errors) print "notok\t" prog ": error diagnostic without any check"
		if (rc == 124 || rc == 137) print "notok\t" prog ": timed out after " limit "s (exit status " rc ")"
		else if (rc != 0) print "notok\t" prog ": exit status " rc
	}' "$2"
}

# run_all label kind target delegate: every program with RUNTIME=<wrapper of target>
run_all() {
	local label=$1 kind=$2 target=$3 delegate=$4
	local name=$label-$kind
	local rdir=$tmp/$name odir=$out/$name
	mkdir -p "$rdir/root" "$rdir/tmp" "$odir"
	roots+=("$delegate $rdir/root")
	local wrapper=$rdir/runtime
	printf '#!/bin/bash\nexec %q --root %q "$@"\n' "$target" "$rdir/root" >"$wrapper"
	chmod +x "$wrapper"
	local -a envs=(RUNTIME="$wrapper" TMPDIR="$rdir/tmp")
	if [[ $kind == runcage ]]; then
		envs+=(RUNCAGE_CONFIG="$tmp/$label.toml")
	fi
	log "$name: ${#programs[@]} programs, RUNTIME=$target --root $rdir/root"
	local t0=$SECONDS p rc pt0 leaked
	: >"$odir/results.tsv"
	: >"$odir/leaked-mounts.tsv"
	: >"$odir/programs.tsv"
	for p in "${programs[@]}"; do
		pt0=$SECONDS
		rc=0
		(cd "$suite/bin" && exec env -u RUNCAGE_CONFIG "${envs[@]}" \
			timeout -k 10 "$timeout_s" "./$p") >"$odir/$p.tap" 2>"$odir/$p.err" </dev/null || rc=$?
		clean_root "$delegate" "$rdir/root"
		leaked=$(unmount_under "$rdir/tmp")
		if ((leaked > 0)); then
			log "$name: $p left $leaked mounts in the host mount namespace (unmounted)"
			printf '%s\t%s\n' "$p" "$leaked" >>"$odir/leaked-mounts.tsv"
		fi
		rm -rf --one-file-system "$rdir/tmp" && mkdir -p "$rdir/tmp"
		parse_tap "$p" "$odir/$p.tap" "$rc" >"$odir/$p.tsv"
		cat "$odir/$p.tsv" >>"$odir/results.tsv"
		printf '%s\t%d\t%d\t%d\t%d\n' "$p" \
			"$(grep -Ec '^(ok|skip)'$'\t' "$odir/$p.tsv" || true)" "$(grep -c '^notok' "$odir/$p.tsv" || true)" \
			"$rc" "$((SECONDS - pt0))" >>"$odir/programs.tsv"
	done
	echo "$((SECONDS - t0))" >"$odir/seconds"
	log "$name: done in $((SECONDS - t0))s"
}

for d in $delegates; do
	dp=${delegate_path[$d]}
	printf '# runcage policy for the validation suite: passthrough over %s\nruntime = "%s"\n' \
		"$d" "$dp" >"$tmp/$d.toml"
	run_all "$d" runc "$dp" "$dp"
	run_all "$d" runcage "$tmp/runcage-passthrough" "$dp"
done

# ------------------------------------------------------------- summary ---

count() { grep -c "^$1"$'\t' "$2" || true; }

# compare runc-results runcage-results: one line per check whose results
# differ. A check is "<program>: <description>"; descriptions repeat (one per
# mount, device, ...), so what is compared is how many times each
# description passed, failed and was skipped.
compare() {
	awk -F'\t' '
	function fmt(f, k,   s) {
		s = ""
		if (c[f, k, "ok"]) s = s " ok=" c[f, k, "ok"]
		if (c[f, k, "notok"]) s = s " not-ok=" c[f, k, "notok"]
		if (c[f, k, "skip"]) s = s " skip=" c[f, k, "skip"]
		return s == "" ? " absent" : s
	}
	{ f = (FILENAME == ARGV[1]) ? 1 : 2 }
	{ c[f, $2, $1]++; keys[$2] = 1 }
	END {
		for (k in keys) {
			a = fmt(1, k); b = fmt(2, k)
			if (a != b) printf "%s: runc:%s | runcage-passthrough:%s\n", k, a, b
		}
	}' "$1" "$2" | LC_ALL=C sort
}

status=0
{
	echo "OCI runtime validation: $rt_module@$rt_version, runc vs runcage-passthrough"
	echo "runcage: $RUNCAGE"
	echo "date: $(date -u '+%Y-%m-%dT%H:%M:%SZ')  host: $(uname -r)  programs: ${#programs[@]}  timeout: ${timeout_s}s"
	echo
	printf '%-8s %-22s %-26s %7s %7s %7s %8s %6s %9s\n' \
		delegate runtime binary passed failed skipped crashed secs differing
	for d in $delegates; do
		ndiff=$(compare "$out/$d-runc/results.tsv" "$out/$d-runcage/results.tsv" | wc -l)
		for kind in runc runcage; do
			f=$out/$d-$kind/results.tsv
			ok=$(count ok "$f")
			sk=$(count skip "$f")
			nok=$(count notok "$f")
			crashed=$(awk -F'\t' '$4 != 0' "$out/$d-$kind/programs.tsv" | wc -l)
			rname=$kind
			[[ $kind == runcage ]] && rname=runcage-passthrough
			bin=${delegate_path[$d]}
			[[ $kind == runcage ]] && bin=$RUNCAGE
			printf '%-8s %-22s %-26s %7d %7d %7d %8d %6d %9s\n' "$d" "$rname" "$(basename "$(dirname "$bin")")/$(basename "$bin")" \
				"$((ok + sk))" "$nok" "$sk" "$crashed" "$(cat "$out/$d-$kind/seconds")" \
				"$([[ $kind == runcage ]] && echo "$ndiff" || echo -)"
		done
	done
	echo "(passed includes skipped; crashed = programs that exited non-zero or timed out, each counted as one failed check)"
	for d in $delegates; do
		for kind in runc runcage; do
			if [[ -s $out/$d-$kind/leaked-mounts.tsv ]]; then
				echo "$d-$kind: programs that left mounts on the host (unmounted by this script):" \
					"$(awk -F'\t' '{ printf "%s%s(%s)", sep, $1, $2; sep = " " }' "$out/$d-$kind/leaked-mounts.tsv")"
			fi
		done
	done
	echo

	echo "Per program: passed/failed[/exit status]"
	printf '%-36s' program
	for d in $delegates; do printf ' %-14s %-14s' "$d-runc" "$d-runcage"; done
	echo
	for p in "${programs[@]}"; do
		printf '%-36s' "$p"
		for d in $delegates; do
			for kind in runc runcage; do
				cell=$(awk -F'\t' -v p="$p" '$1 == p { s = $2 "/" $3; if ($4 != 0) s = s "/x" $4; print s }' \
					"$out/$d-$kind/programs.tsv")
				printf ' %-14s' "$cell"
			done
		done
		echo
	done
	echo

	for d in $delegates; do
		diffs=$(compare "$out/$d-runc/results.tsv" "$out/$d-runcage/results.tsv" | sed 's/^/  /')
		if [[ -n $diffs ]]; then
			echo "DIFFERENCES over $d runc (${delegate_path[$d]}): $(wc -l <<<"$diffs") checks"
			echo "$diffs"
			status=1
		else
			echo "no differences over $d runc (${delegate_path[$d]})"
		fi
	done

	if [[ " $delegates " == *" debian "* ]]; then
		f=$out/debian-runc/results.tsv
		deb_pass=$(($(count ok "$f") + $(count skip "$f")))
		if ((deb_pass < min_pass)); then
			echo "HARNESS BROKEN? Debian runc passed only $deb_pass checks (< $min_pass)"
			status=1
		fi
	fi
	echo
	echo "raw TAP and stderr: $out/<delegate>-<runc|runcage>/<program>.{tap,err}"
	echo "wall time: $((SECONDS - script_start))s"
	if ((status == 0)); then echo "RESULT: PASS"; else echo "RESULT: FAIL"; fi
} >"$tmp/summary.txt"

mkdir -p "$(dirname "$report")"
cp "$tmp/summary.txt" "$report"
cp "$tmp/summary.txt" "$out/summary.txt"
cat "$tmp/summary.txt"
exit "$status"
