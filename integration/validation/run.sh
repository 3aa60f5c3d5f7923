#!/usr/bin/env bash
# Runs the OCI runtime validation suite (opencontainers/runtime-tools
# v0.9.0, its validation/ programs) against a delegate runc and against
# runcage-passthrough over that same delegate, for two delegates:
#
#   pinned   bin/runc (built by the Makefile from the runc pinned in go.mod)
#   debian   /usr/sbin/runc (Debian's runc package: apt-get install runc)
#
# The passthrough profile changes nothing, so every check must give the same
# result under runc and under runcage-passthrough over it. The script exits 1
# if any check differs, if runcage-passthrough changed a bundle's config.json,
# or if the Debian runc passes implausibly few checks (the harness broke).
# It builds nothing of ours: run `make` first (bin/runcage, bin/runc).
#
# Usage (as root, from the repository root):
#   integration/validation/run.sh
#   RUNCAGE=/path/to/runcage VALIDATION_DELEGATES=debian VALIDATION_TESTS="hostname kill" \
#       integration/validation/run.sh
#
# Environment:
#   RUNCAGE              runcage binary (default: <repo>/bin/runcage)
#   PINNED_RUNC          pinned delegate (default: <repo>/bin/runc)
#   DEBIAN_RUNC          Debian delegate (default: /usr/sbin/runc)
#   VALIDATION_DELEGATES which delegates to run (default: "pinned debian")
#   VALIDATION_TESTS     space-separated program names to run (default: all 58);
#                        with a subset the minimum-pass check is skipped
#   VALIDATION_TIMEOUT   seconds per program run (default: 120)
#   VALIDATION_RETRIES   reruns of a program whose results differ (default: 1);
#                        a difference that does not come back is reported as
#                        FLAKY and does not fail the run
#   VALIDATION_MIN_PASS  minimum checks the Debian runc must pass (default: 1000)
#   VALIDATION_WORK      cache of the built suite (default: /var/tmp/runcage-validation)
#   VALIDATION_OUT       raw TAP/stderr of the last run (default: $VALIDATION_WORK/last-run)
#   VALIDATION_REPORT    copy of the summary (default: /tmp/runcage-validation.txt)
#
# Exit status: 0 no differences; 1 differences, config.json changed, or too
# few passes; 2 the harness could not run (missing binaries, build failure).
#
# How the suite is built (once; cached in $VALIDATION_WORK, keyed by version,
# Go version, GOARCH and the go.mod/go.sum shipped beside this script):
#   go mod download -json github.com/opencontainers/runtime-tools@v0.9.0
#   cp -R <module dir> <cache>/src
#   cp runtime-tools-v0.9.0.go.mod <cache>/src/go.mod; cp ...go.sum <cache>/src/go.sum
#   cd <cache>/src && CGO_ENABLED=0 go build -trimpath -ldflags=-s -o ../bin/runtimetest ./cmd/runtimetest
#   cd <cache>/src && go build -trimpath -ldflags=-s -o ../bin/ ./validation/...
#   cp <cache>/src/rootfs-amd64.tar.gz <cache>/bin/
# v0.9.0 predates Go modules and its module zip has no vendor/ (it used
# Godeps). The Godeps revisions are not served by the module proxy, so the
# go.mod here pins the nearest tagged versions that compile: runtime-spec
# v1.0.2, selinux v1.6.0 (the last with label.FileLabel), urfave/cli v1.19.1,
# blang/semver v3.5.0; the rest as `go mod tidy` chose them. The programs run
# in <cache>/bin: they untar ./rootfs-amd64.tar.gz and copy ./runtimetest
# into each bundle.
#
# Isolation: the validation programs call $RUNTIME with no global flags, so
# RUNTIME is a small wrapper running `<runtime> --root <private root> "$@"`.
# runc and runcage-passthrough get the same wrapper, so the comparison is
# fair; leftovers are found with `<delegate> --root <root> list` and removed
# with `delete -f` after every program, without touching other containers on
# the host. Bundles go to a private TMPDIR, and mounts that a program leaves
# in the host mount namespace (linux_ns_itype runs a container without a
# mount namespace) are unmounted.
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
retries=${VALIDATION_RETRIES:-1}
min_pass=${VALIDATION_MIN_PASS:-1000}
work=${VALIDATION_WORK:-/var/tmp/runcage-validation}
out=${VALIDATION_OUT:-$work/last-run}
report=${VALIDATION_REPORT:-/tmp/runcage-validation.txt}
rt_module=github.com/opencontainers/runtime-tools
rt_version=v0.9.0

log() { printf '[validation] %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 2
}

abspath() { # relative to the caller's cwd; keeps the name (no symlink resolution)
	case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s/%s\n' "$PWD" "$1" ;; esac
}

[[ $(id -u) -eq 0 ]] || die "must run as root (the suite creates real containers)"
for c in go timeout flock awk cmp diff sha256sum; do
	command -v "$c" >/dev/null || die "$c not found"
done
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

mkdir -p "$work"
exec 9>"$work/.lock"
if ! flock -n 9; then
	log "waiting for another run holding $work/.lock"
	flock 9
fi

# ---------------------------------------------------------------- build ---

build_recipe=2 # bump when the build commands below change
build_suite() {
	local gomod=$here/runtime-tools-$rt_version.go.mod
	local gosum=$here/runtime-tools-$rt_version.go.sum
	local arch key
	arch=$(go env GOARCH)
	key=$({ echo "$rt_module@$rt_version $build_recipe"; go version; echo "$arch"; cat "$gomod" "$gosum"; } |
		sha256sum | cut -c1-16)
	suite=$work/runtime-tools-$rt_version-$key
	if [[ -f $suite/.complete ]]; then
		log "using cached suite $suite"
		return
	fi
	log "building $rt_module@$rt_version into $suite"
	local t0=$SECONDS json moddir
	rm -rf "$suite.tmp"
	mkdir -p "$suite.tmp/bin"
	# Outside any module (and without a workspace), so our go.mod/go.sum
	# are never touched.
	json=$(cd "$suite.tmp" && GOWORK=off GOFLAGS=-mod=mod go mod download -json "$rt_module@$rt_version") ||
		die "go mod download $rt_module@$rt_version failed: $json"
	moddir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")
	[[ -n $moddir && -d $moddir ]] || die "go mod download $rt_module@$rt_version gave no module directory: $json"
	cp -R "$moddir" "$suite.tmp/src"
	chmod -R u+w "$suite.tmp/src"
	cp "$gomod" "$suite.tmp/src/go.mod"
	cp "$gosum" "$suite.tmp/src/go.sum"
	(
		cd "$suite.tmp/src"
		export GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false"
		CGO_ENABLED=0 go build -trimpath -ldflags=-s -o ../bin/runtimetest ./cmd/runtimetest
		go build -trimpath -ldflags=-s -o ../bin/ ./validation/...
	) || die "building the validation programs failed"
	cp "$suite.tmp/src/rootfs-$arch.tar.gz" "$suite.tmp/bin/" ||
		die "runtime-tools $rt_version ships no rootfs-$arch.tar.gz"
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

# unmount_under dir: linux_ns_itype runs a container without a mount
# namespace, so runc mounts the rootfs, /proc, /dev and /sys of its bundle in
# the host's namespace and nothing unmounts them. Unmount everything under
# dir, deepest first. Prints how many mounts it found.
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
# order (and numbering) of its checks changes from run to run. A program
# that exits non-zero (crash, util.Fatal, timeout) adds one failed check
# "<program>: exit status N".
parse_tap() {
	awk -v prog="$1" -v rc="$3" -v limit="$timeout_s" '
	/^(not )?ok([ \t]|$)/ {
		st = ($1 == "ok") ? "ok" : "notok"
		line = $0
		sub(/^(not )?ok[ \t]*/, "", line)
		sub(/^[0-9]+/, "", line)
		sub(/^[ \t]*(-[ \t]*)?/, "", line)
		if (st == "ok" && line ~ /#[ \t]*[Ss][Kk][Ii][Pp]/) st = "skip"
		if (line == "") line = "(no description)"
		print st "\t" prog ": " line
		checks++
	}
	/^ +"error": / { errors++ }
	END {
		# Some programs (hooks, poststart, ...) report a failure only as an
		# "error" YAML diagnostic, with no test line and a 1..0 plan.
		if (!checks && errors) print "notok\t" prog ": error diagnostic without any check"
		if (rc == 124 || rc == 137) print "notok\t" prog ": timed out after " limit "s (exit status " rc ")"
		else if (rc != 0) print "notok\t" prog ": exit status " rc
	}' "$2"
}

# write_wrapper target root changes-dir: the RUNTIME the validation programs
# call. It adds `--root <private root>`. On `create` it also checks that
# config.json is byte-identical afterwards: runtimetest, inside the container,
# checks against the bundle's own config.json (the suite's rootfs is the
# bundle directory), so a runtime that rewrote config.json would still pass
# the inside checks. Passthrough must not change it; changes are logged to
# <changes-dir>.tsv with before/after copies. Other verbs just exec.
write_wrapper() {
	printf '#!/bin/bash\n# RUNTIME wrapper written by integration/validation/run.sh\n'
	printf 'target=%q\nroot=%q\nchanges=%q\n' "$1" "$2" "$3"
	cat <<'WRAPPER'
if [[ ${1-} == create ]]; then
	bundle=. prev=
	for a in "$@"; do
		case $prev in --bundle | -b) bundle=$a ;; esac
		case $a in --bundle=*) bundle=${a#--bundle=} ;; esac
		prev=$a
	done
	cfg=$bundle/config.json
	if [[ -f $cfg ]]; then
		n=$$-$RANDOM
		cp "$cfg" "$changes/$n.before"
		rc=0
		"$target" --root "$root" "$@" || rc=$?
		if cmp -s "$changes/$n.before" "$cfg"; then
			rm -f "$changes/$n.before"
		else
			cp "$cfg" "$changes/$n.after" 2>/dev/null || : >"$changes/$n.after"
			printf '%s\t%s\t%s\n' "${VALIDATION_PROGRAM-}" "$n" "$cfg" >>"$changes.tsv"
		fi
		exit "$rc"
	fi
fi
exec "$target" --root "$root" "$@"
WRAPPER
}

# setup_run name target delegate: private root, TMPDIR and wrapper for one
# runtime; name is <delegate label>-<runc|runcage>.
declare -A run_delegate
setup_run() {
	local name=$1 target=$2 delegate=$3
	local rdir=$tmp/$name
	mkdir -p "$rdir/root" "$rdir/tmp" "$out/$name/config-changes"
	: >"$out/$name/config-changes.tsv"
	roots+=("$delegate $rdir/root")
	run_delegate[$name]=$delegate
	write_wrapper "$target" "$rdir/root" "$out/$name/config-changes" >"$rdir/runtime"
	chmod +x "$rdir/runtime"
	log "$name: RUNTIME=$target --root $rdir/root"
}

# run_program name program odir: run one program serially and clean up after
# it. Writes odir/<program>.{tap,err,tsv} and appends
# "program passed failed exit-status seconds" to odir/programs.tsv.
run_program() {
	local name=$1 p=$2 odir=$3
	local rdir=$tmp/$name delegate=${run_delegate[$name]} t0=$SECONDS rc=0 leaked
	local -a envs=(RUNTIME="$rdir/runtime" TMPDIR="$rdir/tmp" VALIDATION_PROGRAM="$p")
	[[ $name == *-runcage ]] && envs+=(RUNCAGE_CONFIG="$tmp/${name%-runcage}.toml")
	mkdir -p "$odir"
	(cd "$suite/bin" && exec env -u RUNCAGE_CONFIG "${envs[@]}" timeout -k 10 "$timeout_s" "./$p") \
		>"$odir/$p.tap" 2>"$odir/$p.err" </dev/null 9>&- || rc=$?
	clean_root "$delegate" "$rdir/root"
	leaked=$(unmount_under "$rdir/tmp")
	if ((leaked > 0)); then
		printf '%s\t%s\n' "$p" "$leaked" >>"$odir/leaked-mounts.tsv"
	fi
	rm -rf --one-file-system "$rdir/tmp"
	mkdir -p "$rdir/tmp"
	parse_tap "$p" "$odir/$p.tap" "$rc" >"$odir/$p.tsv"
	printf '%s\t%d\t%d\t%d\t%d\n' "$p" \
		"$(grep -Ec $'^(ok|skip)\t' "$odir/$p.tsv" || true)" "$(grep -c $'^notok\t' "$odir/$p.tsv" || true)" \
		"$rc" "$((SECONDS - t0))" >>"$odir/programs.tsv"
}

# run_all name: every program, results in $out/<name>/
run_all() {
	local name=$1 odir=$out/$1 t0=$SECONDS p
	: >"$odir/programs.tsv"
	: >"$odir/leaked-mounts.tsv"
	for p in "${programs[@]}"; do
		run_program "$name" "$p" "$odir"
	done
	for p in "${programs[@]}"; do cat "$odir/$p.tsv"; done >"$odir/results.tsv"
	echo "$((SECONDS - t0))" >"$odir/seconds"
	log "$name: ${#programs[@]} programs in $((SECONDS - t0))s"
}

# compare runc-results runcage-results: one line per check whose results
# differ. A check is "<program>: <description>"; descriptions repeat (one per
# mount, device, capability, ...), so what is compared is how many times each
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
	{ f = (FILENAME == ARGV[1]) ? 1 : 2; c[f, $2, $1]++; keys[$2] = 1 }
	END {
		for (k in keys) {
			a = fmt(1, k); b = fmt(2, k)
			if (a != b) printf "%s: runc:%s | runcage-passthrough:%s\n", k, a, b
		}
	}' "$1" "$2" | LC_ALL=C sort
}

for d in $delegates; do
	dp=${delegate_path[$d]}
	printf '# runcage policy for the validation suite: passthrough over %s\nruntime = "%s"\n' \
		"$d" "$dp" >"$tmp/$d.toml"
	setup_run "$d-runc" "$dp" "$dp"
	run_all "$d-runc"
	setup_run "$d-runcage" "$tmp/runcage-passthrough" "$dp"
	run_all "$d-runcage"
done

# Rerun, for both runtimes, each program whose results differ. A program
# whose results agree on a rerun is flaky, not a difference.
declare -A flaky # "<delegate> <program>" -> attempt that agreed
retry_secs=0
for d in $delegates; do
	compare "$out/$d-runc/results.tsv" "$out/$d-runcage/results.tsv" >"$out/$d-differences.txt"
	((retries > 0)) || continue
	while IFS= read -r p; do
		[[ -n $p ]] || continue
		for ((i = 1; i <= retries; i++)); do
			t0=$SECONDS
			log "$d: $p differs; rerun $i of $retries"
			run_program "$d-runc" "$p" "$out/$d-runc/rerun$i"
			run_program "$d-runcage" "$p" "$out/$d-runcage/rerun$i"
			retry_secs=$((retry_secs + SECONDS - t0))
			if [[ -z $(compare "$out/$d-runc/rerun$i/$p.tsv" "$out/$d-runcage/rerun$i/$p.tsv") ]]; then
				flaky["$d $p"]=$i
				break
			fi
		done
	done < <(sed 's/: .*//' "$out/$d-differences.txt" | sort -u)
done

# ------------------------------------------------------------- summary ---

count() { grep -c "^$1"$'\t' "$2" || true; }

# persistent_diffs delegate / flaky_diffs delegate: the differences of the
# first pass whose program did (not) agree on a rerun.
persistent_diffs() {
	local line
	while IFS= read -r line; do
		[[ -n ${flaky["$1 ${line%%: *}"]-} ]] || printf '%s\n' "$line"
	done <"$out/$1-differences.txt"
}
flaky_diffs() {
	local line
	while IFS= read -r line; do
		[[ -z ${flaky["$1 ${line%%: *}"]-} ]] || printf '%s\n' "$line"
	done <"$out/$1-differences.txt"
}

status=0
{
	echo "OCI runtime validation: $rt_module@$rt_version, runc vs runcage-passthrough"
	echo "runcage: $RUNCAGE"
	echo "date: $(date -u '+%Y-%m-%dT%H:%M:%SZ')  kernel: $(uname -r)  programs: ${#programs[@]}  timeout: ${timeout_s}s  reruns: $retries"
	echo
	printf '%-8s %-20s %7s %7s %7s %8s %6s %9s  %s\n' \
		delegate runtime passed failed skipped crashed secs differing binary
	for d in $delegates; do
		ndiff=$(persistent_diffs "$d" | wc -l)
		for kind in runc runcage; do
			f=$out/$d-$kind/results.tsv
			ok=$(count ok "$f")
			sk=$(count skip "$f")
			nok=$(count notok "$f")
			crashed=$(awk -F'\t' '$4 != 0' "$out/$d-$kind/programs.tsv" | wc -l)
			rname=$kind bin=${delegate_path[$d]} dcol=-
			if [[ $kind == runcage ]]; then
				rname=runcage-passthrough bin=$RUNCAGE dcol=$ndiff
			fi
			printf '%-8s %-20s %7d %7d %7d %8d %6d %9s  %s\n' "$d" "$rname" \
				"$((ok + sk))" "$nok" "$sk" "$crashed" "$(cat "$out/$d-$kind/seconds")" "$dcol" "$bin"
		done
	done
	echo "(passed includes skipped; crashed = programs that exited non-zero or timed out, each counted as one failed check;"
	echo " differing = checks whose result differs between runc and runcage-passthrough over it, after reruns)"
	for d in $delegates; do
		for kind in runc runcage; do
			ch=$out/$d-$kind/config-changes.tsv
			if [[ -s $ch ]]; then
				status=1
				first=$(head -1 "$ch" | cut -f2)
				echo "CONFIG CHANGED: under $d-$kind, config.json was not byte-identical after create" \
					"in $(wc -l <"$ch") bundles (programs: $(cut -f1 "$ch" | sort -u | tr '\n' ' '))"
				echo "first change ($out/$d-$kind/config-changes/$first.{before,after}):"
				diff -u "$out/$d-$kind/config-changes/$first.before" "$out/$d-$kind/config-changes/$first.after" |
					head -40 | sed 's/^/    /' || true
			fi
			if [[ -s $out/$d-$kind/leaked-mounts.tsv ]]; then
				echo "$d-$kind: programs that left mounts in the host mount namespace (unmounted by this script):" \
					"$(awk -F'\t' '{ printf "%s%s(%s)", sep, $1, $2; sep = " " }' "$out/$d-$kind/leaked-mounts.tsv")"
			fi
		done
	done
	echo

	echo "Per program: passed/failed[/x<exit status> if it exited non-zero]"
	printf '%-32s' program
	for d in $delegates; do printf ' %-14s %-14s' "$d-runc" "$d-runcage"; done
	echo
	for p in "${programs[@]}"; do
		printf '%-32s' "$p"
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
		diffs=$(persistent_diffs "$d")
		if [[ -n $diffs ]]; then
			status=1
			echo "DIFFERENCES over $d runc (${delegate_path[$d]}): $(wc -l <<<"$diffs") checks" \
				"(first pass; they came back on $retries rerun(s); reruns in $out/$d-*/rerun*/)"
			sed 's/^/  /' <<<"$diffs"
		else
			echo "no differences over $d runc (${delegate_path[$d]})"
		fi
		fdiffs=$(flaky_diffs "$d")
		if [[ -n $fdiffs ]]; then
			echo "FLAKY over $d runc: $(wc -l <<<"$fdiffs") checks differed on the first pass but agreed on a rerun" \
				"(programs: $(sed 's/: .*//' <<<"$fdiffs" | sort -u | tr '\n' ' '))"
			sed 's/^/  /' <<<"$fdiffs"
		fi
	done

	if [[ " $delegates " == *" debian "* ]]; then
		f=$out/debian-runc/results.tsv
		deb_pass=$(($(count ok "$f") + $(count skip "$f")))
		if [[ -n $only_tests ]]; then
			echo "(VALIDATION_TESTS is set: minimum-pass check skipped; Debian runc passed $deb_pass)"
		elif ((deb_pass < min_pass)); then
			status=1
			echo "HARNESS BROKEN? Debian runc passed only $deb_pass checks (< $min_pass)"
		fi
	fi
	echo
	echo "raw TAP and stderr: $out/<delegate>-<runc|runcage>/<program>.{tap,err}"
	((retry_secs == 0)) || echo "reruns took ${retry_secs}s"
	echo "wall time: $((SECONDS - script_start))s"
	if ((status == 0)); then echo "RESULT: PASS"; else echo "RESULT: FAIL"; fi
} >"$tmp/summary.txt"

mkdir -p "$(dirname "$report")"
cp "$tmp/summary.txt" "$report"
cp "$tmp/summary.txt" "$out/summary.txt"
cat "$tmp/summary.txt"
exit "$status"
