package recorder

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDirRefusesDetachedMount: a directory fd on a detached mount (as runc's
// private procfs is) has no path in the process's mount tree, so Dir
// refuses it; an fd on the same directory, attached, resolves.
func TestDirRefusesDetachedMount(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	pid := uint32(os.Getpid())
	attached, err := unix.Open(filepath.Join(dir, "sub"), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(attached)
	if got, err := (procTarget{}).Dir(pid, int32(attached)); err != nil || got != filepath.Join(dir, "sub") {
		t.Errorf("attached: Dir = %q, %v", got, err)
	}
	detached, err := unix.OpenTree(unix.AT_FDCWD, dir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		t.Skipf("open_tree (needs root and Linux 5.2): %v", err)
	}
	defer unix.Close(detached)
	sub, err := unix.Openat(detached, "sub", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sub)
	for _, fd := range []int{detached, sub} {
		if got, err := (procTarget{}).Dir(pid, int32(fd)); err == nil {
			t.Errorf("detached mount: Dir = %q, want an error", got)
		}
	}
}
