#!/usr/bin/env bash
# Runs runc's own integration tests (the bats files in tests/integration of
# the runc module pinned in go.mod) against plain runc and against runcage,
# and compares the results case by case.
#
# usage: integration/runc-bats/run.sh [FILE.bats...]     (default: userns.bats)
# e.g.   integration/runc-bats/run.sh userns.bats create.bats delete.bats
#
# Every FILE runs under
#   runc         RUNC=bin/runc, the pinned delegate itself (the reference);
#   passthrough  RUNC=<tmp>/runcage-passthrough, a symlink to bin/runcage
#                whose argv[0] selects the passthrough profile;
# and, if FILE is listed in $DEFAULT_PROFILE_FILES,
#   default      RUNC=<tmp>/runcage, a symlink whose name selects nothing, so
#                the policy's default profile applies: the hardened one. It
#                validates the user namespace userns.bats's bundles bring,
#                and injects one (with an id-mapped rootfs) into the others.
# Both runcage modes get a policy file through RUNCAGE_CONFIG that names the
# delegate, puts the state directory in the temporary directory and lowers
# [userns] min_size to the 65534 ids runc's tests map.
#
# The tests need no network: the busybox image that get-images.sh would
# download is built from the host's busybox-static and put where
# get-images.sh looks first, and the test helper binaries (recvtty,
# remap-rootfs, ...) are built from the same runc module. A Debian image is
# built from integration/rootfs/debian.sh's rootfs only when a selected file
# uses it. bats runs under script(1) for a controlling terminal, as in
# runc's own CI. Runs on one host are serialized (fixed container ids).
#
# A case judged bad is retried once, alone, under every runtime, and the
# retry's results stand (marked "*" in the table, with the first results):
# runc's helpers race under load.
#
# Exit status: 0 when every case has the same result under passthrough as
# under runc (or the difference is listed in EXPECTED_PASSTHROUGH_DIFFERENCES
# and its output matches), every case that fails under the default profile
# but passes under runc is listed in EXPECTED_DEFAULT_FAILURES and fails with
# the listed message, no listed default-profile failure passes (stale
# entry), every run is complete, plain runc passes at least one case of each
# file, and runcage's state directory is empty at the end (no mounts, id
# allocations or container records); 1 otherwise; 2 on a usage or setup
# error. Environment:
#   RUNCAGE_BIN, RUNC_BIN   binaries to test (default bin/runcage, bin/runc)
#   DEFAULT_PROFILE_FILES   files also run under the default profile
#                           (default: userns create start run exec .bats)
#   KEEP=1                  keep the temporary directory (TAP logs)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PATH=/usr/local/go/bin:$PATH
RUNCAGE_BIN=$(realpath -e "${RUNCAGE_BIN:-$repo/bin/runcage}") || { echo "run.sh: no runcage binary; run make build" >&2; exit 2; }
RUNC_BIN=$(realpath -e "${RUNC_BIN:-$repo/bin/runc}") || { echo "run.sh: no runc binary; run make build" >&2; exit 2; }
DEFAULT_PROFILE_FILES=${DEFAULT_PROFILE_FILES:-userns.bats create.bats start.bats run.bats exec.bats}

# Cases expected to fail under runcage's default profile while they pass
# under plain runc. Key: "FILE:case name". Value: "KIND|REGEX", where
# KIND is "deliberate" (the profile refuses this on purpose) or "gap" (a
# known shortcoming of runcage, to be fixed), and REGEX is an extended
# regular expression that the failed case's output (runcage's
# "runcage: ..." line) must match, so that a case failing for any other
# reason is still reported. A failure that is not listed makes the run
# fail; so does a listed case that passes (a stale entry) or fails with a
# different message.
declare -A EXPECTED_DEFAULT_FAILURES=(
	# Deliberate: the second container joins the first one's user namespace
	# through /proc/PID/ns/user, and it is not that container's pod (no
	# io.kubernetes.cri.sandbox-id naming it): joining another container's
	# namespace is refused, decided on the namespace the path names.
	["userns.bats:userns join other container userns"]='deliberate|runcage: run "in_userns": user namespace path "/proc/[0-9]+/ns/user" refused: joining a namespace that is not the container.s own pod.s is not allowed'
	# Deliberate: the same through a bind-mounted nsfd: refused the same
	# way, whatever the path's spelling.
	["userns.bats:userns join other container userns [bind-mounted nsfd]"]='deliberate|runcage: run "in_userns": user namespace path ".*/userns\.[^"]*" refused: joining a namespace that is not the container.s own pod.s is not allowed'
	# Deliberate: the test's "external" network namespace is the host's own
	# (it is made with `unshare -i`, which unshares only IPC), and the
	# default profile refuses host namespaces. Its user namespace is also a
	# bind-mounted nsfd, refused as above.
	["userns.bats:userns join external namespaces [wrong userns owner]"]='deliberate|runcage: run "ctr": host network namespace refused: path ".*/netns\.[^"]*" is the host.s namespace'
	# The files below bring no user namespace, so runcage injects one; they
	# run under the default profile only when DEFAULT_PROFILE_FILES says so.
	# Deliberate: the bundle has no pid namespace (it shares the host's).
	["create.bats:runc create [shared pidns + rootless]"]='deliberate|runcage: create "test": host pid namespace refused'
	# Deliberate: the bundle maps 100 uids and 200 gids, fewer than the
	# policy's min_size.
	["run.bats:runc run [joining existing container namespaces]"]='deliberate|runcage: run "target_ctr": uid mappings refused: they map 100 ids, fewer than the 65534 required'
	# Deliberate: the bundle has no cgroup namespace, so runc would share
	# the host's; the default profile gives the container its own, where
	# /proc/self/cgroup shows "/" rather than the host's cgroup path the
	# test looks for. (Further on, the test also needs a writable cgroupfs,
	# which the default profile mounts read-only.)
	["exec.bats:runc exec --cgroup sub-cgroups [v1]"]='deliberate|^# [0-9]+:pids:/$'
)

# Cases whose result under passthrough may differ from plain runc, with the
# same key and regular-expression convention. Keep this list empty unless
# the difference is understood and harmless; each entry is a known gap in
# the drop-in claim.
declare -A EXPECTED_PASSTHROUGH_DIFFERENCES=(
	# runc's help names the binary by the basename of its argv[0], and the
	# test expects the name $RUNC has ("runcage-passthrough checkpoint");
	# runcage execs the delegate with argv[0] set to the delegate's path, so
	# the help says "runc checkpoint". Cosmetic: only usage text changes.
	["help.bats:runc command -h"]='gap|^#    runc checkpoint - checkpoint a running container'
)

files=("$@")
[ ${#files[@]} -gt 0 ] || files=(userns.bats)

# gawk: helpers.bash finds cgroup paths with it; script: a pty for bats.
for c in go bats jq gawk script ldd; do
	command -v $c >/dev/null || { echo "run.sh: $c is not installed (make deps)" >&2; exit 2; }
done
busybox=$(command -v busybox) || { echo "run.sh: busybox-static is not installed" >&2; exit 2; }
# The image has no libc: busybox must be static (ldd fails on it).
if ldd "$busybox" >/dev/null 2>&1; then
	echo "run.sh: $busybox is dynamically linked; install busybox-static" >&2
	exit 2
fi

src=$(cd "$repo" && go list -m -f '{{.Dir}}' github.com/opencontainers/runc) || { echo "run.sh: runc module not found; run go mod download" >&2; exit 2; }
for f in "${files[@]}"; do
	[ -f "$src/tests/integration/$f" ] || { echo "run.sh: no $f in $src/tests/integration" >&2; exit 2; }
done

# runc's tests use fixed container ids (test_busybox, ...), and without a
# cgroupsPath runc puts a container in the cgroup named after its id: two
# runs at once would share cgroups. Serialize runs on this host.
exec 9>/tmp/runcage-runc-bats.lock
flock 9

tmp=$(mktemp -d /tmp/runc-bats.XXXXXX)
# Containers in a user namespace must traverse every parent of their rootfs.
chmod 0711 "$tmp"

cleanup() {
	local rc=$? m st ct leaked=0
	# bats' teardown deletes every container; if a run was interrupted,
	# delete what is left in the tests' runc roots, through runcage so that
	# it releases what it set up.
	for st in "$tmp"/bats-tmp/*/bats-run-*/runc.*/state; do
		[ -d "$st" ] && [ -L "$tmp/bin/runcage" ] || continue
		for ct in $("$RUNC_BIN" --root "$st" list -q 2>/dev/null); do
			RUNCAGE_CONFIG=$tmp/policy.toml "$tmp/bin/runcage" --root "$st" delete -f "$ct" >/dev/null 2>&1 || true
		done
	done
	# Unmount anything left under the temporary directory (deepest first)
	# before removing it, so rm never crosses into a bind-mounted host path.
	for m in $(awk -v p="$tmp/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	if awk -v p="$tmp/" 'index($5, p) == 1 { f = 1 } END { exit !f }' /proc/self/mountinfo; then
		echo "run.sh: mounts remain under $tmp; not removing it" >&2
		leaked=1
	fi
	if [ "${KEEP:-}" = 1 ]; then
		echo "kept $tmp"
	elif [ $leaked = 0 ]; then
		rm -rf --one-file-system "$tmp"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the test tree -------------------------------------------------------
t=$tmp/runc/tests
mkdir -p "$t/cmd/_bin"
cp -r "$src/tests/integration" "$t/integration"
# spec.bats reads the runtime-spec version from the module's go.mod.
cp "$src/go.mod" "$tmp/runc/go.mod"
chmod -R u+w "$tmp/runc"
chmod +x "$t/integration"/*.sh "$t/integration"/*.bats

# Helper binaries the tests run on the host, from the same runc module.
(cd "$repo" && for c in recvtty remap-rootfs fs-idmap pidfd-kill seccompagent key_label; do
	CGO_ENABLED=1 go build -mod=readonly -tags seccomp -o "$t/cmd/_bin/$c" "github.com/opencontainers/runc/tests/cmd/$c"
done)

# --- images, where get-images.sh looks before downloading ------------------
arch=$(go env GOARCH)
case $arch in amd64 | arm64 | 386 | ppc64le | riscv64 | s390x) ;; *)
	echo "run.sh: unsupported architecture $arch" >&2
	exit 2
	;;
esac

# A busybox image like Docker's: /bin holds busybox and one hard link per
# applet; /etc has the usual users and groups; everything owned by root.
bb=$tmp/busybox-rootfs
mkdir -p "$bb"/{bin,dev,etc,home,proc,root,sys,tmp,usr/sbin,var/spool/mail,var/www}
chmod 1777 "$bb/tmp"
chmod 0700 "$bb/root"
cp "$busybox" "$bb/bin/busybox"
for a in $("$busybox" --list); do
	[ -e "$bb/bin/$a" ] || ln "$bb/bin/busybox" "$bb/bin/$a"
done
cat >"$bb/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
EOF
cat >"$bb/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nogroup:x:65534:
EOF
td=$t/integration/testdata
# (Uncompressed despite the name, which get-images.sh fixes; tar -x
# detects the format.)
tar --numeric-owner --owner=0 --group=0 -C "$bb" -cf "$td/busybox-$arch.tar.xz" .
rm -rf "$bb"

debian_tar=$td/debian-$arch.tar.xz
if grep -qE 'setup_debian|DEBIAN_IMAGE' "${files[@]/#/$t/integration/}"; then
	deb=$("$repo/integration/rootfs/debian.sh")
	tar --numeric-owner -C "$deb" -cf "$debian_tar" .
else
	# No selected file uses it; get-images.sh only needs the path to exist.
	# An empty file makes any unexpected use fail loudly in tar.
	: >"$debian_tar"
fi

# --- runtimes --------------------------------------------------------------
mkdir -p "$tmp/bin" "$tmp/state"
chmod 0711 "$tmp/state"
ln -s "$RUNCAGE_BIN" "$tmp/bin/runcage"
ln -s "$RUNCAGE_BIN" "$tmp/bin/runcage-passthrough"
cat >"$tmp/policy.toml" <<EOF
runtime = "$RUNC_BIN"
default_profile = "default"
state_dir = "$tmp/state"
profiles_dir = "$tmp/profiles"

[userns]
# runc's userns.bats maps 65534 ids (0:100000:65534, 0:200000:65534).
min_size = 65534
EOF

# bats runs under a subreaper that reaps orphaned container inits at once
# (reaper.c says why).
gcc -O2 -Wall -o "$tmp/reaper" "$repo/integration/runc-bats/reaper.c"
cat >"$tmp/bats-in-pty" <<'EOF'
#!/usr/bin/env bash
exec "$REAPER" bats --tap ${BATS_FILTER:+--filter "$BATS_FILTER"} "$BATS_FILE" >"$BATS_OUT" 2>&1
EOF
chmod 0755 "$tmp/bats-in-pty"

declare -A runtime_of=([runc]=$RUNC_BIN [passthrough]=$tmp/bin/runcage-passthrough [default]=$tmp/bin/runcage)

# run_mode MODE FILE [CASE SFX]: runs FILE (or only its case CASE, as a
# retry) under MODE and writes the TAP output to results/MODE/FILE[SFX].tap.
run_mode() {
	local mode=$1 f=$2 name=${3:-} sfx=${4:-} filter="" start end
	if [ -n "$name" ]; then
		# bats matches --filter as a regular expression.
		filter="^$(sed 's/[][\.*^$+?(){}|/]/\\&/g' <<<"$name")\$"
	fi
	local out=$tmp/results/$mode/${f%.bats}$sfx.tap
	mkdir -p "$tmp/results/$mode" "$tmp/bats-tmp/$mode"
	chmod 0711 "$tmp/bats-tmp" "$tmp/bats-tmp/$mode"
	start=${EPOCHREALTIME/./}
	# Foreground `runc run` with the spec's terminal: true needs a
	# controlling terminal, which runc's own CI gets from script(1); so do
	# these runs. The command string is a fixed path; the arguments travel
	# in the environment.
	(
		cd "$t/integration"
		RUNC=${runtime_of[$mode]} RUNCAGE_CONFIG=$tmp/policy.toml TMPDIR=$tmp/bats-tmp/$mode \
			BATS_FILE=$f BATS_OUT=$out BATS_FILTER=$filter REAPER=$tmp/reaper \
			script -q -e -c "$tmp/bats-in-pty" /dev/null </dev/null >/dev/null 2>&1 9>&-
	) || true
	end=${EPOCHREALTIME/./}
	printf '%s %s %d.%d\n' "$mode" "$f$sfx" $(((end - start) / 1000000)) $(((end - start) / 100000 % 10)) >>"$tmp/times"
}

modes_of() {
	local f=$1
	echo runc passthrough
	[[ " $DEFAULT_PROFILE_FILES " == *" $f "* ]] && echo default
	return 0
}

t0=$(date +%s)
for f in "${files[@]}"; do
	for mode in $(modes_of "$f"); do
		echo "running $f under $mode" >&2
		run_mode "$mode" "$f"
	done
done

# result MODE FILE [SFX]: prints "case<TAB>pass|FAIL|skip" per case of the
# run's TAP output (SFX ".retryN" for the Nth retry of one case).
result() {
	local tap=$tmp/results/$1/${2%.bats}${3:-}.tap
	[ -f "$tap" ] || return 0
	sed -nE \
		-e 's/^ok [0-9]+ (.*) # skip.*$/\1\tskip/p; t' \
		-e 's/^ok [0-9]+ (.*)$/\1\tpass/p; t' \
		-e 's/^not ok [0-9]+ (.*)$/\1\tFAIL/p' "$tap"
}

# failure_output MODE FILE CASE [SFX]: prints the diagnostic lines bats
# wrote for a failed case.
failure_output() {
	awk -v name="$3" '
		/^(not )?ok [0-9]+ / {
			l = $0
			sub(/^(not )?ok [0-9]+ /, "", l)
			on = ($0 ~ /^not ok/ && l == name)
			next
		}
		on' "$tmp/results/$1/${2%.bats}${4:-}.tap"
}

# matches REGEX MODE FILE CASE [SFX]: whether the failed case's output
# matches. (Not a pipe into grep -q: under pipefail, the writer's SIGPIPE
# would make a match look like a miss.)
matches() {
	local out
	out=$(failure_output "$2" "$3" "$4" "${5:-}")
	grep -qE -- "$1" <<<"$out"
}

# judge FILE CASE RUNC PASSTHROUGH DEFAULT [SFX]: sets note to the verdict
# on one case and returns 1 when it must fail the run. DEFAULT is "-" when
# the file did not run under the default profile.
judge() {
	local f=$1 name=$2 res=$3 p=$4 d=$5 sfx=${6:-} key="$1:$2" want bad=0
	note=""
	if [ "$p" != "$res" ]; then
		want=${EXPECTED_PASSTHROUGH_DIFFERENCES[$key]:-}
		if [ -n "$want" ] && [ "$p" = FAIL ] && matches "${want#*|}" passthrough "$f" "$name" "$sfx"; then
			note="expected: known passthrough ${want%%|*}"
		else
			note="PASSTHROUGH DIFFERS from runc"
			bad=1
		fi
	elif [ -n "${EXPECTED_PASSTHROUGH_DIFFERENCES[$key]:-}" ]; then
		note="stale entry in EXPECTED_PASSTHROUGH_DIFFERENCES"
	fi
	[ "$d" = - ] && return $bad
	want=${EXPECTED_DEFAULT_FAILURES[$key]:-}
	if [ "$d" = FAIL ] && [ "$res" != FAIL ]; then
		if [ -z "$want" ]; then
			note="${note:+$note; }UNEXPECTED default-profile failure"
			bad=1
		elif matches "${want#*|}" default "$f" "$name" "$sfx"; then
			note="${note:+$note; }expected: ${want%%|*}"
		else
			note="${note:+$note; }failed, but not with the expected refusal"
			bad=1
		fi
	elif [ -n "$want" ] && [ "$res" = pass ]; then
		note="${note:+$note; }stale entry in EXPECTED_DEFAULT_FAILURES: it ${d}es"
		bad=1
	elif [ "$d" = missing ]; then
		note="${note:+$note; }missing under default"
		bad=1
	fi
	return $bad
}

# Compare case by case, in the reference's order; a case missing from a
# runcage run counts as a difference. A case judged bad is run again,
# alone, under every runtime, up to twice (runc's helpers have races under
# load, e.g. recvtty's console socket is started in the background without
# waiting for it, and `wait_pids_gone` once failed plain runc's own delete
# case twice in a row); the first retry judged good, else the second's
# results, stand, judged exactly as a first run, and the table marks them "*".
status=0
declare -A total=() ftotal=()
table=$tmp/table
: >"$table"
for f in "${files[@]}"; do
	declare -A r=()
	for mode in runc passthrough default; do
		while IFS=$'\t' read -r name res; do
			r[$mode:$name]=$res
		done < <(result "$mode" "$f")
	done
	while IFS=$'\t' read -r name res; do
		p=${r[passthrough:$name]:-missing}
		d=${r[default:$name]:--}
		mark=""
		if ! judge "$f" "$name" "$res" "$p" "$d"; then
			first="first run: $res/$p/$d"
			d0=$d
			mark="*"
			for attempt in 1 2; do
				retries=$((${retries:-0} + 1))
				sfx=.retry$retries
				declare -A rr=()
				for mode in $(modes_of "$f"); do
					echo "retrying $f: $name under $mode (attempt $attempt)" >&2
					run_mode "$mode" "$f" "$name" "$sfx"
					while IFS=$'\t' read -r n x; do
						[ "$n" = "$name" ] && rr[$mode]=$x
					done < <(result "$mode" "$f" "$sfx")
				done
				res=${rr[runc]:-missing} p=${rr[passthrough]:-missing} d=$d0
				[ "$d" != - ] && d=${rr[default]:-missing}
				unset rr
				if judge "$f" "$name" "$res" "$p" "$d" "$sfx"; then
					note="${note:+$note; }flaky: $first"
					break
				elif [ $attempt = 2 ]; then
					note="$note ($first)"
					status=1
				fi
			done
		fi
		for mode in $(modes_of "$f"); do
			case $mode in runc) x=$res ;; passthrough) x=$p ;; default) x=$d ;; esac
			total[$mode:$x]=$((${total[$mode:$x]:-0} + 1))
			ftotal[$f:$mode:$x]=$((${ftotal[$f:$mode:$x]:-0} + 1))
		done
		printf '%-72s %-6s %-11s %-7s %s\n' "${f%.bats}: ${name:0:60}$mark" "$res" "$p" "$d" "$note" >>"$table"
	done < <(result runc "$f")
	unset r
done
t1=$(date +%s)

printf '\n%-72s %-6s %-11s %-7s\n' "case" "runc" "passthrough" "default"
cat "$table"

# Every run must be complete (as many results as its TAP plan announces),
# and the reference must pass something: otherwise the setup is broken and
# equal results would prove nothing.
for f in "${files[@]}"; do
	for mode in $(modes_of "$f"); do
		tap=$tmp/results/$mode/${f%.bats}.tap
		plan=""
		[ -f "$tap" ] && plan=$(sed -nE 's/^1\.\.([0-9]+)$/\1/p' "$tap" | head -1)
		got=$(result "$mode" "$f" | wc -l)
		if [ -z "$plan" ] || [ "$plan" -eq 0 ] || [ "$got" -ne "$plan" ]; then
			echo "run.sh: $f under $mode is incomplete: plan ${plan:-none}, $got results" >&2
			status=1
		fi
	done
	if [ "${ftotal[$f:runc:pass]:-0}" -eq 0 ]; then
		echo "run.sh: $f passed no case under plain runc: the test setup is broken" >&2
		status=1
	fi
done

echo
printf '%-18s %-12s %5s %5s %5s\n' file runtime pass FAIL skip
for f in "${files[@]}"; do
	for mode in $(modes_of "$f"); do
		printf '%-18s %-12s %5d %5d %5d\n' "$f" "$mode" "${ftotal[$f:$mode:pass]:-0}" "${ftotal[$f:$mode:FAIL]:-0}" "${ftotal[$f:$mode:skip]:-0}"
	done
done
for mode in runc passthrough default; do
	[ $mode != default ] || [ -n "${total[default:pass]:-}${total[default:FAIL]:-}${total[default:skip]:-}" ] || continue
	printf '%-18s %-12s %5d %5d %5d\n' "all" "$mode" "${total[$mode:pass]:-0}" "${total[$mode:FAIL]:-0}" "${total[$mode:skip]:-0}"
done
echo
awk '{ printf "time %-12s %-24s %6.1fs\n", $1, $2, $3 }' "$tmp/times"
echo "total $((t1 - t0))s"

# Evidence that runcage cleaned up: no mounts and no id allocations left in
# its state directory once every test's teardown has deleted its containers.
left_mounts=$(awk -v p="$tmp/state/" 'index($5, p) == 1' /proc/self/mountinfo | wc -l)
left_pods=0
if [ -f "$tmp/state/userns/allocations.json" ]; then
	left_pods=$(jq '.pods | length' "$tmp/state/userns/allocations.json")
fi
left_records=0
if [ -d "$tmp/state/containers" ]; then
	left_records=$(find "$tmp/state/containers" -type f | wc -l)
fi
echo "runcage state after the runs: $left_mounts mounts, $left_pods pods holding ids, $left_records container records"
if [ "$left_mounts" -ne 0 ] || [ "$left_pods" -ne 0 ] || [ "$left_records" -ne 0 ]; then
	echo "runcage left state behind" >&2
	status=1
fi

if [ $status -ne 0 ]; then
	echo
	echo "FAILED. TAP output of the failing runs:"
	for f in "${files[@]}"; do
		for mode in $(modes_of "$f"); do
			for tap in "$tmp/results/$mode/${f%.bats}".*tap; do
				if grep -q '^not ok' "$tap" 2>/dev/null; then
					echo "--- $mode ${tap##*/}"
					cat "$tap"
				fi
			done
		done
	done
fi
exit $status
