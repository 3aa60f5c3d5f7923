package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runcage/runcage/profiles"
)

func TestCanonicalRoot(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	if err := os.Mkdir(real, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, filepath.Join(dir, "alias")); err != nil {
		t.Fatal(err)
	}
	want, err := filepath.EvalSymlinks(real)
	if err != nil {
		t.Fatal(err)
	}
	for _, spelling := range []string{
		real, filepath.Join(dir, "alias"), real + "/", dir + "//real", filepath.Join(dir, "alias") + "/../real",
	} {
		if got := canonicalRoot(spelling); got != want {
			t.Errorf("canonicalRoot(%q) = %q, want %q", spelling, got, want)
		}
	}
	// A root that does not exist yet keeps its missing tail under the
	// resolved existing prefix.
	if got, w := canonicalRoot(filepath.Join(dir, "alias", "new", "root")), filepath.Join(want, "new", "root"); got != w {
		t.Errorf("missing root: got %q, want %q", got, w)
	}
	if got := canonicalRoot(""); got != canonicalRoot(runcDefaultRoot) {
		t.Errorf("empty root: got %q, want runc's default", got)
	}
}

func TestOtherRootRecord(t *testing.T) {
	state := t.TempDir()
	if err := saveRecord(state, "/run/a", "c1", &record{Profile: "default"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := otherRootRecord(state, "/run/a", "c1"); ok {
		t.Error("own root reported as another")
	}
	if _, ok := otherRootRecord(state, "/run/b", "c1"); !ok {
		t.Error("record under /run/a not seen from /run/b")
	}
	if _, ok := otherRootRecord(state, "/run/b", "c2"); ok {
		t.Error("other id reported")
	}
}

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
		err := checkTrusted("bundle", tc.path)
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
	if err := checkTrustedOwned("root filesystem", rootfs, pool); err != nil {
		t.Errorf("rootfs owned by a pool id: %v", err)
	}
	if err := checkTrustedOwned("root filesystem", rootfs, nil); err == nil {
		t.Error("rootfs owned by uid 100000 accepted without a leaf rule")
	}
	// Only the leaf may be a pool id's: a directory above it may not.
	if err := checkTrustedOwned("root filesystem", filepath.Join(rootfs, "sub"), pool); err == nil || !strings.Contains(err.Error(), "owned by uid 100000") {
		t.Errorf("a pool id's directory above the rootfs: %v", err)
	}
	if err := checkTrustedOwned("root filesystem", rootfs, func(uint32) bool { return false }); err == nil {
		t.Error("rootfs owned by a host account accepted")
	}
}

func TestLockContainerSerializes(t *testing.T) {
	state := t.TempDir()
	unlock, err := lockContainer(state, "c1")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan time.Time, 1)
	go func() {
		u, err := lockContainer(state, "c1")
		if err != nil {
			t.Error(err)
		}
		got <- time.Now()
		u()
	}()
	// Another id is not blocked.
	u2, err := lockContainer(state, "c2")
	if err != nil {
		t.Fatal(err)
	}
	u2()
	time.Sleep(50 * time.Millisecond)
	released := time.Now()
	unlock()
	if at := <-got; at.Before(released) {
		t.Fatalf("second lock of c1 taken at %v, before the first was released at %v", at, released)
	}
}
