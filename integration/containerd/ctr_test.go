//go:build integration

package containerd

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	it "github.com/runcage/runcage/integration"
)

var seq atomic.Int64

func newID(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), seq.Add(1))
}

// insideScript runs in a container (as the init process or through
// `ctr task exec`): it.InsideScript, with a write to the /data volume when
// there is one.
var insideScript = it.InsideScript(`if [ -d /data ]; then
	if echo volume-write >/data/from-container; then echo "volume_write: ok"; else echo "volume_write: failed"; fi
fi`)

// registration is one way containerd runs runcage: Flags returns the
// `ctr run` flags that select it, for one container.
type registration struct {
	Name  string
	Flags func(t *testing.T) []string
}

// runcBinary is containerd's runc shim with bin as its runc binary (runc's
// state under the suite's runc root).
func runcBinary(bin string) registration {
	return registration{Name: "binary", Flags: func(*testing.T) []string {
		return []string{"--runtime", "io.containerd.runc.v2", "--runc-binary", bin, "--runc-root", daemon.RuncRoot}
	}}
}

// registrations are the two ways runcage is registered with containerd,
// which every test of runcage's enforcement below runs through: runcage's
// own shim ($RUNCAGE_SHIM by absolute path, with a shim options file
// naming the suite's policy, default profile and runc root: what
// `runcage install containerd` registers), and containerd's runc shim
// with runcage as its runc binary (the registration for engines that
// cannot run another shim).
func registrations() []registration {
	return []registration{
		{Name: "shim", Flags: func(t *testing.T) []string {
			shim, err := it.FindShim()
			if err != nil {
				t.Fatal(err)
			}
			return []string{"--runtime", shim, "--runtime-config-path", shimOptions(t, "")}
		}},
		runcBinary(eng.Bins.Runcage),
	}
}

// eachRegistration runs f as a subtest per registration.
func eachRegistration(t *testing.T, f func(t *testing.T, reg registration)) {
	for _, reg := range registrations() {
		t.Run(reg.Name, func(t *testing.T) { f(t, reg) })
	}
}

// ctr runs `ctr run` of the image as container id through reg, with the
// run flags (-d, --rm, --mount, ...) and the container's args, and
// registers the container's removal.
func ctr(t *testing.T, id string, reg registration, flags []string, args ...string) it.Result {
	t.Helper()
	argv := append(append([]string{"run"}, reg.Flags(t)...), flags...)
	t.Cleanup(func() { removeContainer(t, id) })
	return daemon.Ctr(ns, append(append(argv, image, id), args...)...)
}

// ctrRun starts a detached container with `ctr run -d` (see ctr) and
// returns its init pid.
func ctrRun(t *testing.T, id string, reg registration, extra []string, args ...string) (int, it.Result) {
	t.Helper()
	res := ctr(t, id, reg, append([]string{"-d"}, extra...), args...)
	if res.Exit != 0 {
		return 0, res
	}
	return taskPID(t, id), res
}

// ctrRunScript runs insideScript as the init process of a container with
// `ctr run --rm` (attached, removed on exit) through reg, and returns its
// result; a failed run fails the test.
func ctrRunScript(t *testing.T, reg registration) it.Result {
	t.Helper()
	res := ctr(t, newID("fg"), reg, []string{"--rm"}, "/bin/sh", "-c", insideScript)
	if res.Exit != 0 {
		t.Fatalf("ctr run --rm through %s: %s", reg.Name, res)
	}
	return res
}

var taskLine = regexp.MustCompile(`(?m)^(\S+)\s+(\d+)\s+(\S+)\s*$`)

// taskPID returns the host pid of a task's init process from `ctr task ls`.
func taskPID(t *testing.T, id string) int {
	t.Helper()
	res := daemon.Ctr(ns, "task", "ls")
	if res.Exit != 0 {
		t.Fatalf("task ls: %s", res)
	}
	for _, m := range taskLine.FindAllStringSubmatch(res.Stdout, -1) {
		if m[1] == id {
			pid, _ := strconv.Atoi(m[2])
			return pid
		}
	}
	t.Fatalf("task %s not in `ctr task ls`:\n%s", id, res.Stdout)
	return 0
}

// removeContainer kills and deletes the task and the container, the way
// `ctr` users do: task kill, task delete, container delete. It is
// idempotent, for use in t.Cleanup.
func removeContainer(t *testing.T, id string) {
	t.Helper()
	if res := daemon.Ctr(ns, "task", "ls", "-q"); !slices.Contains(strings.Fields(res.Stdout), id) {
		daemon.Ctr(ns, "container", "delete", id)
		return
	}
	daemon.Ctr(ns, "task", "kill", "-s", "SIGKILL", id)
	deadline := time.Now().Add(20 * time.Second)
	for {
		res := daemon.Ctr(ns, "task", "delete", id)
		if res.Exit == 0 || time.Now().After(deadline) {
			if res.Exit != 0 {
				t.Errorf("task delete %s: %s", id, res)
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if res := daemon.Ctr(ns, "container", "delete", id); res.Exit != 0 {
		t.Errorf("container delete %s: %s", id, res)
	}
}

func hostUIDMap(t *testing.T, pid int) []it.IDMapping {
	t.Helper()
	m, err := it.ParseIDMapText(it.ProcFile(t, pid, "uid_map"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// scriptFields parses the "key: value" lines insideScript prints.
func scriptFields(out string) map[string]string {
	f := it.ProcStatusFields(out)
	for _, l := range strings.Split(out, "\n") {
		if name, v, ok := strings.Cut(strings.TrimPrefix(l, "probe "), "="); ok && strings.HasPrefix(l, "probe ") {
			f["probe "+name] = v
		}
	}
	return f
}

// checkInside asserts everything insideScript reports for a process that
// runcage's default profile confined, except the volume write, and returns
// the parsed report.
func checkInside(t *testing.T, what, out string) map[string]string {
	t.Helper()
	f := scriptFields(out)
	if err := it.HardenedStatus(f); err != nil {
		t.Errorf("%s: not hardened: %v\noutput:\n%s", what, err, out)
	}
	m, err := it.ParseIDMapText(f["uid_map"])
	if err != nil || it.IsIdentityMap(m) || it.MapsHostRoot(m) {
		t.Errorf("%s: uid_map %q: want a user namespace without host root (err %v)", what, f["uid_map"], err)
	}
	// The image's files are owned by 0:0; through the id-mapped layers the
	// container's root sees them as its own, not as the overflow id.
	if f["busybox_owner"] != "0:0" {
		t.Errorf("%s: /bin/busybox owner seen inside = %q, want 0:0 (id-mapped rootfs)", what, f["busybox_owner"])
	}
	if f["rootfs_write"] != "ok" {
		t.Errorf("%s: writing to the rootfs: %q\noutput:\n%s", what, f["rootfs_write"], out)
	}
	for _, p := range []string{"mount", "mknod", "bpf", "rawsock", "add_key"} {
		if v := f["probe "+p]; v == "ok" || v == "" {
			t.Errorf("%s: probe %s = %q, want an errno", what, p, v)
		}
	}
	return f
}

// TestCtrRunHardened starts a container through each registration on
// containerd's overlay rootfs and checks, from the host and from inside
// (init and exec), that the default profile is enforced, that the rootfs
// and a volume are writable by the container's root without a chown, and
// that nothing is left after task and container delete.
func TestCtrRunHardened(t *testing.T) {
	eachRegistration(t, testCtrRunHardened)
}

func testCtrRunHardened(t *testing.T, reg registration) {
	begin := time.Now()
	vol := eng.Volume(t)
	id := newID("hardened")
	pid, res := ctrRun(t, id, reg,
		[]string{"--mount", "type=bind,src=" + vol + ",dst=/data,options=rbind:rw"},
		"/bin/sleep", "600")
	if res.Exit != 0 {
		t.Fatalf("ctr run: %s\ncontainerd log:\n%s", res, daemon.LogTail())
	}
	t.Logf("ctr run -d: %v", res.Elapsed.Round(time.Millisecond))

	// The init process, seen from the host.
	if err := it.HardenedStatus(it.ProcStatusFields(it.ProcFile(t, pid, "status"))); err != nil {
		t.Errorf("init process %d: %v", pid, err)
	}
	m := hostUIDMap(t, pid)
	if it.IsIdentityMap(m) || it.MapsHostRoot(m) {
		t.Errorf("init process %d: uid_map %v: want an injected user namespace without host root", pid, m)
	}

	// runcage's policy came through containerd's environment (runc shim)
	// or the shim's options file: the allocation is in the test policy's
	// state_dir, keyed by the container.
	al, err := it.RuncageAllocations(eng.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range al {
		if a.Key == id && len(a.Ranges) == 1 && a.Ranges[0].HostID == m[0].HostID {
			found = true
		}
	}
	if !found {
		t.Errorf("no allocation for %s with host id %d in %s (the policy did not reach runcage?): %+v", id, m[0].HostID, eng.StateDir, al)
	}
	mounts, err := it.MountPointsUnder(filepath.Join(eng.StateDir, "mnt", id))
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) < 2 {
		t.Errorf("want runcage's id-mapped lower layer(s) and overlay under %s, got %q", filepath.Join(eng.StateDir, "mnt", id), mounts)
	}

	// An exec'd process gets the same confinement.
	ex := daemon.Ctr(ns, "task", "exec", "--exec-id", "check", id, "/bin/sh", "-c", insideScript)
	if ex.Exit != 0 {
		t.Fatalf("ctr task exec: %s", ex)
	}
	t.Logf("exec output:\n%s", ex.Stdout)
	f := checkInside(t, "exec", ex.Stdout)
	if err := it.CheckVolumeWrite(f, filepath.Join(vol, "from-container")); err != nil {
		t.Errorf("exec: %v", err)
	}

	removeContainer(t, id)
	if left, err := daemon.Leftovers(eng.StateDir, filepath.Join(daemon.RuncRoot, ns), id); err != nil || len(left) > 0 {
		t.Errorf("after task and container delete, still held (err %v):\n%s", err, strings.Join(left, "\n"))
	}
	t.Logf("TestCtrRunHardened/%s: %v", reg.Name, time.Since(begin).Round(time.Millisecond))
}

// TestCtrRunForeground runs the check script as the container's init
// process with `ctr run --rm` (attached, removed on exit): the same
// assertions hold for the init process as for exec.
func TestCtrRunForeground(t *testing.T) {
	eachRegistration(t, func(t *testing.T, reg registration) {
		res := ctrRunScript(t, reg)
		checkInside(t, "init", res.Stdout)
		if left, err := it.RuncageLeftovers(eng.StateDir); err != nil || len(left) > 0 {
			t.Errorf("after ctr run --rm, runcage still holds (err %v):\n%s", err, strings.Join(left, "\n"))
		}
	})
}

// TestCtrRunPlainRuncControl runs the same script with plain runc as the
// runtime binary. It proves that the assertions above can fail: without
// runcage, containerd's defaults keep capabilities and no user namespace.
func TestCtrRunPlainRuncControl(t *testing.T) {
	res := ctrRunScript(t, runcBinary(eng.Bins.Runc))
	f := scriptFields(res.Stdout)
	if err := it.HardenedStatus(f); err == nil {
		t.Errorf("plain runc under containerd looks hardened; the checks would not tell runcage from runc:\n%s", res.Stdout)
	}
	if m, err := it.ParseIDMapText(f["uid_map"]); err != nil || !it.IsIdentityMap(m) {
		t.Errorf("plain runc: uid_map %q, want the identity (no user namespace)", f["uid_map"])
	}
}

// TestCtrRunPrivilegedRefused asks for a privileged container. runcage must
// refuse it, and its reason must reach the ctr user through containerd.
func TestCtrRunPrivilegedRefused(t *testing.T) {
	eachRegistration(t, func(t *testing.T, reg registration) {
		id := newID("priv")
		_, res := ctrRun(t, id, reg, []string{"--privileged"}, "/bin/true")
		if res.Exit == 0 {
			t.Fatalf("ctr run --privileged with runcage succeeded:\n%s", res)
		}
		out := res.Stdout + res.Stderr
		t.Logf("ctr run --privileged: %s", strings.TrimSpace(out))
		if err := it.CheckRefusal(out, "refused"); err != nil {
			t.Errorf("ctr: %v", err)
		}
		if left, err := it.RuncageLeftovers(eng.StateDir); err != nil || len(left) > 0 {
			t.Errorf("after a refused create, runcage still holds (err %v):\n%s", err, strings.Join(left, "\n"))
		}
	})
}

// TestCtrRunHostileRefused: a ctr user writes whatever mounts and
// namespaces the CLI offers. runcage's state, containerd's own state and
// the host's network namespace are refused, with the reason reaching ctr.
func TestCtrRunHostileRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"runcage-state", []string{"--mount", "type=bind,src=" + eng.StateDir + ",dst=/s,options=rbind:rw"}, "runcage's"},
		{"containerd-state", []string{"--mount", "type=bind,src=" + daemon.State + ",dst=/s,options=rbind:rw"}, "container-engine"},
		{"host-network", []string{"--net-host"}, "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eachRegistration(t, func(t *testing.T, reg registration) {
				id := newID(tc.name)
				_, res := ctrRun(t, id, reg, tc.args, "/bin/true")
				if res.Exit == 0 {
					t.Fatalf("ctr run %v with runcage succeeded:\n%s", tc.args, res)
				}
				if err := it.CheckRefusal(res.Stdout+res.Stderr, tc.want); err != nil {
					t.Errorf("ctr: %v", err)
				}
			})
		})
	}
}
