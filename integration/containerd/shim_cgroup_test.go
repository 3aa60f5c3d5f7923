//go:build integration

package containerd

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	runcoptions "github.com/containerd/containerd/api/types/runc/options"
	"github.com/containerd/containerd/protobuf"
	"github.com/containerd/typeurl/v2"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	it "github.com/runcage/runcage/integration"
)

// TestShimCgroupJoined runs the shim's `start` the way containerd 1.6 and
// 1.7 do, with the task's runtime options (runc's, ShimCgroup set) on its
// standard input (2.x's BootstrapParams form is decoded by the same code:
// runtime/shim's TestDecodeStartInputCaptured): the shim server it starts must be in that cgroup, as
// containerd's runc shim puts itself. A ShimCgroup that does not exist
// fails the start.
func TestShimCgroupJoined(t *testing.T) {
	shim, err := it.FindShim()
	if err != nil {
		t.Fatal(err)
	}
	// One hierarchy is enough: cgroup v1's pids controller, or v2's tree.
	root := "/sys/fs/cgroup/pids"
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		root = "/sys/fs/cgroup"
	}
	group := fmt.Sprintf("/runcage-it-shimcg-%d", os.Getpid())
	if err := os.Mkdir(filepath.Join(root, group), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The killed shim leaves the cgroup a moment after SIGKILL.
		it.WaitFor(5*time.Second, func() error { return os.Remove(filepath.Join(root, group)) })
	})

	start := func(id, shimCgroup string) (it.Result, string) {
		a, err := typeurl.MarshalAny(&runcoptions.Options{ShimCgroup: shimCgroup})
		if err != nil {
			t.Fatal(err)
		}
		opts, err := proto.Marshal(protobuf.FromAny(a))
		if err != nil {
			t.Fatal(err)
		}
		bundle := it.TempDir(t, "shim-cg-")
		cmd := exec.Command(shim, "-namespace", ns, "-address", daemon.Address, "-publish-binary", "/bin/false", "-id", id, "start")
		cmd.Dir = bundle
		cmd.Stdin = bytes.NewReader(opts)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		res := it.Result{Argv: cmd.Args, Err: cmd.Run(), Exit: -1}
		if cmd.ProcessState != nil {
			res.Exit = cmd.ProcessState.ExitCode()
		}
		res.Stdout, res.Stderr = stdout.String(), stderr.String()
		return res, bundle
	}

	// stop kills the shim server of a successful start and removes its
	// socket, which a killed server leaves behind.
	stop := func(id, bundle string) {
		t.Cleanup(func() {
			for _, p := range daemon.ShimPIDs() {
				if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p)); strings.Contains(string(b), "\x00"+id+"\x00") {
					unix.Kill(p, unix.SIGKILL)
				}
			}
			os.Remove(strings.TrimPrefix(it.FileText(filepath.Join(bundle, "address")), "unix://"))
		})
	}

	id := newID("shim-cg")
	res, bundle := start(id, group)
	if res.Exit != 0 {
		t.Fatalf("shim start with ShimCgroup %s: %s", group, res)
	}
	stop(id, bundle)
	pid := shimPID(t, id)
	cg := it.ProcFile(t, pid, "cgroup")
	found := false
	for _, l := range strings.Split(cg, "\n") {
		f := strings.SplitN(l, ":", 3)
		found = found || len(f) == 3 && f[2] == group && (root == "/sys/fs/cgroup" || strings.Contains(","+f[1]+",", ",pids,"))
	}
	if !found {
		t.Errorf("shim server %d is not in the cgroup %s that ShimCgroup names:\n%s", pid, group, cg)
	}

	bad := newID("shim-cg-bad")
	res, bundle = start(bad, group+"-missing")
	if res.Exit == 0 {
		stop(bad, bundle)
		t.Fatalf("shim start with a ShimCgroup that does not exist succeeded: %s", res)
	}
	if !strings.Contains(res.Stdout+res.Stderr, "shim cgroup") {
		t.Errorf("shim start with a missing ShimCgroup: %s, want the cgroup named", res)
	}
	// The failed start must not leave a server behind.
	for _, p := range daemon.ShimPIDs() {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p)); strings.Contains(string(b), "\x00"+bad+"\x00") {
			t.Errorf("shim server %d still running after a failed start", p)
			unix.Kill(p, unix.SIGKILL)
		}
	}
}
