#!/usr/bin/env bash
# make demo: start one busybox container through runcage (default profile)
# on the pinned runc, and show what was enforced, next to the same bundle
# run by plain runc.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
work=$(mktemp -d /tmp/runcage-demo.XXXXXX)
trap 'for r in runc runcage; do "$top/bin/$r" --root "$work/root" delete -f demo-$r >/dev/null 2>&1 || true; done; rm -rf "$work"' EXIT

mkdir -p "$work/bundle/rootfs/bin" "$work/bundle/rootfs/tmp"
cp /bin/busybox "$work/bundle/rootfs/bin/busybox"
for a in sh cat grep mount unshare mknod echo id; do ln -s busybox "$work/bundle/rootfs/bin/$a"; done
cd "$work/bundle"
"$top/bin/runc" spec
probe='grep -E "^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):" /proc/self/status
echo "uid_map:        $(cat /proc/self/uid_map)"
mount -t tmpfs none /tmp 2>/dev/null && echo "mount tmpfs:    allowed" || echo "mount tmpfs:    denied"
unshare -U true 2>/dev/null && echo "unshare -U:     allowed" || echo "unshare -U:     denied"
mknod /tmp/null c 1 3 2>/dev/null && echo "mknod:          allowed" || echo "mknod:          denied"'
python3 - "$probe" <<'PY'
import json, sys
c = json.load(open("config.json"))
c["process"]["args"] = ["sh", "-c", sys.argv[1]]
c["process"]["terminal"] = False
json.dump(c, open("config.json", "w"), indent="\t")
PY
cp config.json config.json.pristine

echo "== plain runc ($("$top/bin/runc" --version | head -1))"
"$top/bin/runc" --root "$work/root" run demo-runc </dev/null || true
cp config.json.pristine config.json

echo
echo "== runcage (profile default)"
"$top/bin/runcage" --root "$work/root" --log "$work/runcage.log" --log-format json run demo-runcage </dev/null || true

echo
echo "== runcage denials: what the filter denied in that container (logged for every enforced profile)"
"$top/bin/runcage" denials demo-runcage
echo
echo "== runcage explain: what runcage changed in config.json"
"$top/bin/runcage" explain "$work/bundle" | cut -c1-150

echo
echo "== a refused bundle: CAP_SYS_ADMIN requested"
cp config.json.pristine config.json
python3 - <<'PY'
import json
c = json.load(open("config.json"))
for s in ("bounding", "effective", "permitted"):
    c["process"]["capabilities"][s].append("CAP_SYS_ADMIN")
json.dump(c, open("config.json", "w"), indent="\t")
PY
"$top/bin/runcage" --root "$work/root" --log "$work/refused.log" --log-format json run demo-refused </dev/null && echo "unexpected: started" || echo "exit status $?; --log file says:"
cat "$work/refused.log"
