package runtime

import (
	"os"
	"path/filepath"
	"testing"
	"time"
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
