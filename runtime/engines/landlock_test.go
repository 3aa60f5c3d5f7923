package engines

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runcage/runcage/profiles/policy"
)

// TestInstallNeedsLandlockHelper: install refuses to register a runcage
// binary (reached through a symlink, as the profile links are) that has no
// Landlock helper beside it when a profile it runs has Landlock rules, and
// accepts it once the helper is there, or when no such profile is run.
func TestInstallNeedsLandlockHelper(t *testing.T) {
	dir := t.TempDir()
	bindir := filepath.Join(dir, "bin")
	if err := os.Mkdir(bindir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(bindir, "runcage")
	if err := os.WriteFile(bin, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "runcage-link")
	if err := os.Symlink(bin, link); err != nil {
		t.Fatal(err)
	}
	pol := filepath.Join(dir, "config.toml")
	text := "[profiles.ll.landlock]\n[[profiles.ll.landlock.fs]]\npath = \"/etc/passwd\"\naccess = [\"read\"]\n"
	if err := os.WriteFile(pol, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	load := func() (*policy.Policy, error) { return policy.Load(pol, true) }

	if _, err := NewRequest(link, "default,passthrough", false, load); err != nil {
		t.Errorf("no Landlock profile installed, no helper: %v", err)
	}
	_, err := NewRequest(link, "default,ll", false, load)
	if !errors.Is(err, errInstall) || !strings.Contains(err.Error(), `profile "ll" has Landlock rules`) || !strings.Contains(err.Error(), filepath.Join(bindir, "runcage-landlock")) {
		t.Errorf("ll without the helper: got %v, want a refusal naming the profile and the helper beside the resolved binary", err)
	}
	if err := os.WriteFile(filepath.Join(bindir, "runcage-landlock"), []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := NewRequest(link, "default,ll", false, load); err != nil {
		t.Errorf("ll with the helper beside the resolved binary: %v", err)
	}
}
