package spec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runcage/runcage/profiles"
)

func TestCheckTrusted(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the check wants root-owned paths")
	}
	base := t.TempDir() // root-owned, 0700, under a sticky /tmp
	mk := func(name string, mode os.FileMode) string {
		p := filepath.Join(base, name)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := mk("good", 0o755)
	open := mk("open", 0o777)
	sticky := mk("sticky", 0o777|os.ModeSticky)
	groupw := mk("groupw", 0o775)
	owned := mk("owned", 0o755)
	if err := os.Chown(owned, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(good, "config.json")
	if err := os.WriteFile(cfg, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	wcfg := filepath.Join(good, "w.json")
	if err := os.WriteFile(wcfg, []byte("{}"), 0o646); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(wcfg, 0o646); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want string // "" = trusted
	}{
		{cfg, ""},
		{filepath.Join(sticky, "x"), ""},
		{filepath.Join(open, "config.json"), "every user"},
		{filepath.Join(groupw, "config.json"), "writable by its group"},
		{filepath.Join(owned, "config.json"), "owned by uid 1000"},
		{wcfg, "writable by every user"},
	} {
		err := CheckTrusted("bundle", tc.path)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.path, err)
		case tc.want != "" && (err == nil || !errors.Is(err, profiles.ErrRefused) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want a refusal with %q", tc.path, err, tc.want)
		}
	}
}

func TestCheckTrustedOwnedLeaf(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the check wants root-owned paths")
	}
	base := t.TempDir()
	rootfs := filepath.Join(base, "bundle", "rootfs")
	if err := os.MkdirAll(filepath.Join(rootfs, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{rootfs, filepath.Join(rootfs, "sub")} {
		if err := os.Chown(p, 100000, 100000); err != nil {
			t.Fatal(err)
		}
	}
	pool := func(uid uint32) bool { return uid >= 100000 }
	if err := CheckTrustedOwned("root filesystem", rootfs, pool); err != nil {
		t.Errorf("rootfs owned by a pool id: %v", err)
	}
	if err := CheckTrustedOwned("root filesystem", rootfs, nil); err == nil {
		t.Error("rootfs owned by uid 100000 accepted without a leaf rule")
	}
	// Only the leaf may be a pool id's: a directory above it may not.
	if err := CheckTrustedOwned("root filesystem", filepath.Join(rootfs, "sub"), pool); err == nil || !strings.Contains(err.Error(), "owned by uid 100000") {
		t.Errorf("a pool id's directory above the rootfs: %v", err)
	}
	if err := CheckTrustedOwned("root filesystem", rootfs, func(uint32) bool { return false }); err == nil {
		t.Error("rootfs owned by a host account accepted")
	}
}

func TestReadTrustedRefusesOthersFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the check wants root-owned paths")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(p, []byte("x = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadTrusted(p); err != nil {
		t.Fatalf("root's policy: %v", err)
	}
	if err := os.Chmod(p, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadTrusted(p); err == nil || !errors.Is(err, profiles.ErrRefused) {
		t.Fatalf("a policy everyone can write was read: %v", err)
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadTrusted(p); err == nil || !strings.Contains(err.Error(), "owned by uid 1000") {
		t.Fatalf("a policy owned by uid 1000 was read: %v", err)
	}
	if _, err := ReadTrusted(filepath.Join(dir, "missing", "config.toml")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing policy: %v, want not-exist", err)
	}
}

// A relative path is judged from the working directory, up to "/": the
// walk once looped for ever at ".", hanging `runcage profile generate
// --profiles-dir ./profiles`.
func TestCheckTrustedRelative(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the check wants root-owned paths")
	}
	base := t.TempDir()
	if err := os.MkdirAll(filepath.Join(base, "good"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(base, "open"), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(base, "open"), 0o777); err != nil {
		t.Fatal(err)
	}
	t.Chdir(base)
	done := make(chan [2]error, 1)
	go func() {
		done <- [2]error{CheckTrusted("test", "good/f"), CheckTrusted("test", "open/f")}
	}()
	select {
	case errs := <-done:
		if errs[0] != nil {
			t.Errorf("good/f: %v", errs[0])
		}
		if !errors.Is(errs[1], profiles.ErrRefused) || !strings.Contains(errs[1].Error(), filepath.Join(base, "open")) {
			t.Errorf("open/f: %v, want a refusal naming %s", errs[1], filepath.Join(base, "open"))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("CheckTrusted of a relative path did not return")
	}
}
