//go:build integration

package containerd

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/console"
	taskAPI "github.com/containerd/containerd/api/runtime/task/v2"
	"github.com/containerd/containerd/namespaces"
	ptypes "github.com/containerd/containerd/protobuf/types"
	"github.com/containerd/ttrpc"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	it "github.com/runcage/runcage/integration"
)

// shimReg is runcage's shim ($RUNCAGE_SHIM, by absolute path) with a
// shim options file of the suite's policy and runc root, then extra
// (shimOptions).
func shimReg(extra string) registration {
	return registration{Name: "shim", Flags: func(t *testing.T) []string {
		shim, err := it.FindShim()
		if err != nil {
			t.Fatal(err)
		}
		return []string{"--runtime", shim, "--runtime-config-path", shimOptions(t, extra)}
	}}
}

// shimOptions writes a shim options file (root-owned, in the suite's
// work directory) naming the suite's policy and runc root, then extra,
// and returns its path.
func shimOptions(t *testing.T, extra string) string {
	t.Helper()
	text := "config = " + strconv.Quote(filepath.Join(eng.WorkDir, "policy.toml")) +
		"\nroot = " + strconv.Quote(daemon.RuncRoot) + "\n" + extra
	f, err := os.CreateTemp(eng.WorkDir, "shim-options-*.toml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Chmod(0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(f.Name()) })
	return f.Name()
}

// taskBundle is containerd's bundle directory of task id.
func taskBundle(id string) string {
	return filepath.Join(daemon.State, "io.containerd.runtime.v2.task", ns, id)
}

// shimPID returns the pid of the shim serving task id: the process whose
// executable is $RUNCAGE_SHIM and whose -id is id.
func shimPID(t *testing.T, id string) int {
	t.Helper()
	for _, pid := range daemon.ShimPIDs() {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		argv := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		for i := range argv[:len(argv)-1] {
			if argv[i] == "-id" && argv[i+1] == id {
				return pid
			}
		}
	}
	t.Fatalf("no shim serving %s among %v", id, daemon.ShimPIDs())
	return 0
}

// shimClient connects to the task API of the shim serving task id, as
// containerd does, for the requests ctr cannot make.
func shimClient(t *testing.T, id string) taskAPI.TaskService {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(taskBundle(id), "address"))
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(strings.TrimSpace(string(b)), "unix://")
	conn, err := net.Dial("unix", addr)
	if err != nil {
		t.Fatalf("dial shim %s: %v", addr, err)
	}
	c := ttrpc.NewClient(conn)
	t.Cleanup(func() { c.Close() })
	return taskAPI.NewTaskClient(c)
}

func shimCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return namespaces.WithNamespace(ctx, ns)
}

// memoryLimit returns the memory limit of pid's cgroup (cgroup v1's
// memory.limit_in_bytes, or v2's memory.max).
func memoryLimit(t *testing.T, pid int) string {
	t.Helper()
	for _, l := range strings.Split(it.ProcFile(t, pid, "cgroup"), "\n") {
		f := strings.SplitN(l, ":", 3)
		if len(f) != 3 {
			continue
		}
		file := ""
		switch {
		case f[0] == "0" && f[1] == "":
			file = filepath.Join("/sys/fs/cgroup", f[2], "memory.max")
		case strings.Contains(","+f[1]+",", ",memory,"):
			file = filepath.Join("/sys/fs/cgroup/memory", f[2], "memory.limit_in_bytes")
		default:
			continue
		}
		if b, err := os.ReadFile(file); err == nil {
			return strings.TrimSpace(string(b))
		}
	}
	t.Fatalf("no memory cgroup for %d", pid)
	return ""
}

// checkNoLeftovers fails t if runcage, containerd or runc still hold
// anything for id, waiting up to 15 s for an asynchronous cleanup.
func checkNoLeftovers(t *testing.T, what, id string) {
	t.Helper()
	var left []string
	var err error
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		left, err = daemon.Leftovers(eng.StateDir, filepath.Join(daemon.RuncRoot, ns), id)
		if err == nil && len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || len(left) > 0 {
		t.Errorf("%s: still held (err %v):\n%s", what, err, strings.Join(left, "\n"))
	}
}

// TestShimRunHardened starts a container through runcage's shim and
// checks, from the host and from inside an exec, that the default profile
// is enforced; that the shim refuses, with runcage's reason, an exec
// asking for a capability and an update of a cgroup control file; that
// a memory limit update, pause, resume, ps and metrics work; and that nothing is left after task
// and container delete.
func TestShimRunHardened(t *testing.T) {
	id := newID("shim")
	res := ctr(t, id, shimReg(""), []string{"-d"}, "/bin/sleep", "600")
	if res.Exit != 0 {
		t.Fatalf("ctr run: %s\ncontainerd log:\n%s", res, daemon.LogTail())
	}
	t.Logf("ctr run -d through the shim: %v", res.Elapsed.Round(time.Millisecond))
	pid := taskPID(t, id)
	if err := it.HardenedStatus(it.ProcStatusFields(it.ProcFile(t, pid, "status"))); err != nil {
		t.Errorf("init process %d: %v", pid, err)
	}
	if m := hostUIDMap(t, pid); it.IsIdentityMap(m) || it.MapsHostRoot(m) {
		t.Errorf("init process %d: uid_map %v: want a user namespace without host root", pid, m)
	}
	records, _ := filepath.Glob(filepath.Join(eng.StateDir, "containers", "*", id+".json"))
	if len(records) != 1 {
		t.Errorf("runcage records of %s: %q, want one (did the shim read the policy from its options?)", id, records)
	}

	ex := daemon.Ctr(ns, "task", "exec", "--exec-id", "check", id, "/bin/sh", "-c", insideScript)
	if ex.Exit != 0 {
		t.Fatalf("ctr task exec: %s", ex)
	}
	checkInside(t, "exec", ex.Stdout)

	// ctr cannot ask for capabilities in an exec; containerd's API can.
	api := shimClient(t, id)
	proc, err := json.Marshal(&specs.Process{Args: []string{"/bin/true"}, Cwd: "/",
		Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_SYS_ADMIN"}, Effective: []string{"CAP_SYS_ADMIN"}, Permitted: []string{"CAP_SYS_ADMIN"}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = api.Exec(shimCtx(t), &taskAPI.ExecProcessRequest{ID: id, ExecID: "caps",
		Spec: &ptypes.Any{TypeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Process", Value: proc}})
	t.Logf("exec with CAP_SYS_ADMIN: %v", err)
	if err == nil {
		t.Errorf("exec with CAP_SYS_ADMIN through the shim was accepted")
	} else if err := it.CheckRefusal(err.Error(), "CAP_SYS_ADMIN", "refused"); err != nil {
		t.Errorf("exec with CAP_SYS_ADMIN: %v", err)
	}
	_, err = api.Update(shimCtx(t), &taskAPI.UpdateTaskRequest{ID: id,
		Resources: &ptypes.Any{TypeUrl: "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources", Value: []byte(`{"unified":{"cgroup.subtree_control":"+pids"}}`)}})
	t.Logf("update of cgroup.subtree_control: %v", err)
	if err == nil {
		t.Errorf("update of cgroup.subtree_control through the shim was accepted")
	} else if err := it.CheckRefusal(err.Error(), "cgroup.subtree_control", "refused"); err != nil {
		t.Errorf("update: %v", err)
	}

	_, err = api.Update(shimCtx(t), &taskAPI.UpdateTaskRequest{ID: id,
		Resources: &ptypes.Any{TypeUrl: "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources", Value: []byte(`{"memory":{"limit":268435456}}`)}})
	if err != nil {
		t.Errorf("update of the memory limit through the shim: %v", err)
	} else if got := memoryLimit(t, pid); got != "268435456" {
		t.Errorf("memory limit after the update: %q, want 268435456", got)
	}

	// The rest of the task API, as ctr drives it.
	for _, args := range [][]string{{"pause", id}, {"resume", id}, {"ps", id}, {"metrics", id}} {
		if res := daemon.Ctr(ns, append([]string{"task"}, args...)...); res.Exit != 0 {
			t.Errorf("ctr task %s: %s", args[0], res)
		} else if args[0] == "ps" && !strings.Contains(res.Stdout, strconv.Itoa(pid)) {
			t.Errorf("ctr task ps does not list the init %d:\n%s", pid, res.Stdout)
		}
	}

	removeContainer(t, id)
	checkNoLeftovers(t, "after task and container delete", id)
}

// TestShimRunForeground runs the check script as the init process with
// `ctr run --rm` through the shim: the same confinement holds, and
// nothing is left.
func TestShimRunForeground(t *testing.T) {
	id := newID("shim-fg")
	res := ctr(t, id, shimReg(""), []string{"--rm"}, "/bin/sh", "-c", insideScript)
	if res.Exit != 0 {
		t.Fatalf("ctr run --rm through the shim: %s\ncontainerd log:\n%s", res, daemon.LogTail())
	}
	checkInside(t, "init", res.Stdout)
	checkNoLeftovers(t, "after ctr run --rm", id)
}

// ctrPrintsCode says whether the suite's daemon's ctr ends an error with
// its gRPC code ("failed precondition"): containerd 1.x's does, 2.x's
// prints the message alone.
var ctrPrintsCode = true

// TestShimRefused: a privileged container and a profile the policy does
// not have are refused, with runcage's reason in ctr's error and gRPC's
// FailedPrecondition (which ctr 1.x prints as "failed precondition"), and
// leave nothing behind.
func TestShimRefused(t *testing.T) {
	for _, tc := range []struct {
		name, opts string
		flags      []string
		want       []string
	}{
		{"privileged", "", []string{"--privileged"}, []string{"refused", "failed precondition"}},
		{"host-network", "", []string{"--net-host"}, []string{"refused", "failed precondition"}},
		{"unknown-profile", `profile = "no-such-profile"`, nil, []string{"no-such-profile", "failed precondition"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := newID("shim-" + tc.name)
			res := ctr(t, id, shimReg(tc.opts), tc.flags, "/bin/true")
			if res.Exit == 0 {
				t.Fatalf("ctr run %v through the shim succeeded:\n%s", tc.flags, res)
			}
			t.Logf("ctr: %s", strings.TrimSpace(res.Stderr))
			want := tc.want
			if !ctrPrintsCode {
				want = slices.DeleteFunc(slices.Clone(want), func(w string) bool { return w == "failed precondition" })
			}
			if err := it.CheckRefusal(res.Stdout+res.Stderr, want...); err != nil {
				t.Errorf("ctr: %v", err)
			}
			checkNoLeftovers(t, "after a refused create", id)
		})
	}
}

// TestShimKilled kills the shim of a running container (SIGKILL):
// containerd runs the shim binary's cleanup (`delete`), which must leave
// nothing of runcage's, runc's or the rootfs behind, nor the dead shim's
// socket.
func TestShimKilled(t *testing.T) {
	id := newID("shim-kill")
	res := ctr(t, id, shimReg(""), []string{"-d"}, "/bin/sleep", "600")
	if res.Exit != 0 {
		t.Fatalf("ctr run: %s\ncontainerd log:\n%s", res, daemon.LogTail())
	}
	init := taskPID(t, id)
	socket := strings.TrimPrefix(it.FileText(filepath.Join(taskBundle(id), "address")), "unix://")
	if err := unix.Kill(shimPID(t, id), unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// containerd notices the dead shim and cleans up after it; the
	// container's init dies with runc's forced delete.
	for deadline := time.Now().Add(20 * time.Second); unix.Kill(init, 0) == nil; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("container init %d still alive 20 s after its shim was killed\ncontainerd log:\n%s", init, daemon.LogTail())
		}
	}
	removeContainer(t, id)
	checkNoLeftovers(t, "after the shim was killed", id)
	// The dead shim's socket is removed by its cleanup (`delete`).
	if err := it.WaitFor(5*time.Second, func() error {
		if _, err := os.Lstat(socket); err == nil {
			return fmt.Errorf("the killed shim's socket %s is still there", socket)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
}

// TestShimMemory logs the resident memory of runcage's shim and of
// containerd's runc shim (driving the same runc), each serving one
// sleeping container.
func TestShimMemory(t *testing.T) {
	id := newID("shim-mem")
	if res := ctr(t, id, shimReg(""), []string{"-d"}, "/bin/sleep", "600"); res.Exit != 0 {
		t.Fatalf("ctr run: %s", res)
	}
	ref := newID("runc-mem")
	if _, res := ctrRun(t, ref, runcBinary(eng.Bins.Runc), nil, "/bin/sleep", "600"); res.Exit != 0 {
		t.Fatalf("ctr run with the runc shim: %s", res)
	}
	time.Sleep(time.Second) // both shims settle after their start
	for _, x := range []struct{ name, id string }{{"runcage shim", id}, {"containerd's runc shim", ref}} {
		f := it.ProcStatusFields(it.ProcFile(t, shimPID(t, x.id), "status"))
		t.Logf("%s with one container: VmRSS %s (anonymous %s, file %s)", x.name, f["VmRSS"], f["RssAnon"], f["RssFile"])
	}
}

// TestShimTerminal runs a container with a terminal (`ctr run -t`, ctr
// itself on a pseudo-terminal): the shim's console copying carries the
// container's output, and the container's stdin is a terminal.
func TestShimTerminal(t *testing.T) {
	shim, err := it.FindShim()
	if err != nil {
		t.Fatal(err)
	}
	id := newID("shim-tty")
	t.Cleanup(func() { removeContainer(t, id) })
	master, slave, err := console.NewPty()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	tty, err := os.OpenFile(slave, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ctr", "--address", daemon.Address, "--namespace", ns, "run", "-t", "--rm",
		"--runtime", shim, "--runtime-config-path", shimOptions(t, ""), image, id,
		"/bin/sh", "-c", "echo tty-ok; test -t 0 && echo stdin-is-a-tty")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	out := make(chan string, 1)
	go func() {
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		out <- b.String()
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ctr run -t: %v", err)
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("ctr run -t did not end in 60 s")
	}
	master.Close()
	text := <-out
	if !strings.Contains(text, "tty-ok") || !strings.Contains(text, "stdin-is-a-tty") {
		t.Errorf("ctr run -t through the shim printed %q, want tty-ok and stdin-is-a-tty", text)
	}
	checkNoLeftovers(t, "after ctr run -t --rm", id)
}

// TestShimExecOutlivesInit kills a container's init while an exec runs:
// the exec dies with the container's pid namespace, both exits reach
// containerd (the task stops, its delete does not hang), and nothing is
// left.
func TestShimExecOutlivesInit(t *testing.T) {
	id := newID("shim-exec")
	if res := ctr(t, id, shimReg(""), []string{"-d"}, "/bin/sleep", "600"); res.Exit != 0 {
		t.Fatalf("ctr run: %s", res)
	}
	if res := daemon.Ctr(ns, "task", "exec", "-d", "--exec-id", "long", id, "/bin/sleep", "600"); res.Exit != 0 {
		t.Fatalf("ctr task exec -d: %s", res)
	}
	if res := daemon.Ctr(ns, "task", "kill", "-s", "SIGKILL", id); res.Exit != 0 {
		t.Fatalf("ctr task kill: %s", res)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		res := daemon.Ctr(ns, "task", "ls")
		stopped := false
		for _, f := range taskLine.FindAllStringSubmatch(res.Stdout, -1) {
			stopped = stopped || f[1] == id && f[3] == "STOPPED"
		}
		if stopped {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s not STOPPED 20 s after its init was killed:\n%s", id, res.Stdout)
		}
	}
	removeContainer(t, id)
	checkNoLeftovers(t, "after the init died under an exec", id)
}

// TestShimGroup runs two containers of one group (the annotation a pod's
// containers carry) in one shim: both are hardened, deleting one leaves
// the other running, and the shim exits once both are gone.
func TestShimGroup(t *testing.T) {
	group := []string{"--annotation", "io.containerd.runcage.v2.group=" + newID("group")}
	ids := []string{newID("shim-g1"), newID("shim-g2")}
	for _, id := range ids {
		if res := ctr(t, id, shimReg(""), append([]string{"-d"}, group...), "/bin/sleep", "600"); res.Exit != 0 {
			t.Fatalf("ctr run %s: %s", id, res)
		}
		pid := taskPID(t, id)
		if err := it.HardenedStatus(it.ProcStatusFields(it.ProcFile(t, pid, "status"))); err != nil {
			t.Errorf("%s: init process %d: %v", id, pid, err)
		}
	}
	// The group's shim was started for the first container (its -id);
	// containerd reaches both through the address in their bundles.
	shim := shimPID(t, ids[0])
	var addrs []string
	for _, id := range ids {
		addrs = append(addrs, it.FileText(filepath.Join(taskBundle(id), "address")))
	}
	if !strings.HasPrefix(addrs[0], "unix://") || addrs[0] != addrs[1] {
		t.Errorf("containers of one group have shim addresses %q, want one", addrs)
	}
	removeContainer(t, ids[0])
	if res := daemon.Ctr(ns, "task", "exec", "--exec-id", "alive", ids[1], "/bin/true"); res.Exit != 0 {
		t.Errorf("exec in %s after %s was deleted: %s", ids[1], ids[0], res)
	}
	removeContainer(t, ids[1])
	for deadline := time.Now().Add(10 * time.Second); unix.Kill(shim, 0) == nil; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("shim %d still running 10 s after its last container was deleted", shim)
			break
		}
	}
	checkNoLeftovers(t, "after both containers of the group were deleted", ids[0])
	checkNoLeftovers(t, "after both containers of the group were deleted", ids[1])
}
