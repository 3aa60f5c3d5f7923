package userns

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runcage/runcage/profiles"
)

func TestReachable(t *testing.T) {
	dir, err := os.MkdirTemp("", "reachable-") // t.TempDir's parent is 0700
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	priv := filepath.Join(dir, "priv")
	if err := os.Mkdir(priv, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := Reachable(filepath.Join(dir, "state", "x")); err != nil {
		t.Errorf("open ancestors: %v", err)
	}
	err = Reachable(filepath.Join(priv, "state"))
	if !errors.Is(err, profiles.ErrRefused) || !strings.Contains(err.Error(), priv+" (mode 0700)") || !strings.Contains(err.Error(), "chmod o+x "+priv) {
		t.Errorf("0700 ancestor: %v", err)
	}
	if err := Reachable("rel/state"); err == nil {
		t.Error("relative state_dir accepted")
	}
}
