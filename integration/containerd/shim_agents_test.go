//go:build integration

package containerd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	it "github.com/runcage/runcage/integration"
)

// TestShimDenialsLogged: the shim starts the node's denial agent from its
// own binary (Create starts agents through /proc/self/exe), so a syscall
// the default profile denies to a container run through the shim is named
// by `runcage denials`, with the container's id, after it is gone.
func TestShimDenialsLogged(t *testing.T) {
	id := newID("shim-den")
	// busybox's unshare makes unshare(2), which default denies.
	res := ctr(t, id, shimReg(""), []string{"--rm"}, "/bin/sh", "-c", "unshare -n true; echo status=$?")
	if res.Exit != 0 {
		t.Fatalf("ctr run --rm through the shim: %s\ncontainerd log:\n%s", res, daemon.LogTail())
	}
	if !strings.Contains(res.Stdout, "status=1") {
		t.Errorf("unshare under default: %q, want it to fail (status=1)", res.Stdout)
	}
	if log := daemon.LogTail(); strings.Contains(log, "are not logged") {
		t.Errorf("the shim could not start the denial agent:\n%s", log)
	}
	var out string
	err := it.WaitFor(10*time.Second, func() error {
		r := it.Runtime{Name: "runcage", Path: eng.Bins.Runcage}.Exec(30*time.Second,
			"--runcage-config", filepath.Join(eng.WorkDir, "policy.toml"), "denials", id)
		if r.Exit != 0 {
			return r.ExitError()
		}
		out = r.Stdout
		if !strings.Contains(out, "unshare") {
			return os.ErrNotExist
		}
		return nil
	})
	if err != nil {
		t.Fatalf("runcage denials %s does not name unshare: %v\n%s\ncontainerd log:\n%s", id, err, out, daemon.LogTail())
	}
	t.Logf("runcage denials %s:\n%s", id, out)
}
