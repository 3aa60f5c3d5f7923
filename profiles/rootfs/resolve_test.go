package rootfs

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// ResolveIn resolves symlinks inside the root: relative and absolute
// targets, a chain, an escape that stays at the root, missing elements kept
// as written, and a loop refused.
func TestResolveIn(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"usr/lib", "usr/share/zoneinfo/Etc", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "usr/share/zoneinfo/Etc/UTC"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"lib":           "usr/lib",
		"etc/localtime": "../usr/share/zoneinfo/Etc/UTC",
		"etc/abs":       "/usr/share",
		"etc/chain":     "abs/zoneinfo",
		"etc/up":        "../../../../usr",
		"etc/loop":      "loop",
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	for p, want := range map[string]string{
		"/lib/x86_64-linux-gnu/libc.so.6": "/usr/lib/x86_64-linux-gnu/libc.so.6",
		"/etc/localtime":                  "/usr/share/zoneinfo/Etc/UTC",
		"/etc/chain/Etc/UTC":              "/usr/share/zoneinfo/Etc/UTC",
		"/etc/up/lib":                     "/usr/lib",
		"/etc/passwd":                     "/etc/passwd",
		"/no/such/file":                   "/no/such/file",
	} {
		if got, err := ResolveIn(fd, p); err != nil || got != want {
			t.Errorf("ResolveIn(%s) = %q, %v; want %q", p, got, err, want)
		}
	}
	if got, err := ResolveIn(fd, "/etc/loop/x"); err == nil {
		t.Errorf("ResolveIn of a symlink loop = %q, want an error", got)
	}
}
