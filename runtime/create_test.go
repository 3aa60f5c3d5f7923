package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/policy"
)

// The in-process API a shim uses: NewContainer, Create, Created.Undo. These
// tests make the real user-namespace setup (id-mapped mounts, id ranges),
// as the runc front does, with no delegate at all.

// inProcess returns a policy whose state directory is new, the default
// profile, and the Container for a new bundle under a runc root that has
// no containers.
func inProcess(t testing.TB) (*policy.Policy, Container) {
	t.Helper()
	dir := t.TempDir()
	// The state directory must be reachable by a container's root, an
	// unprivileged host id, as on a host: t.TempDir and its parent are 0700.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte("state_dir = \""+filepath.Join(dir, "state")+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Load(cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewContainer(filepath.Join(dir, "runc-root"), "inproc1", bundle(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	return pol, c
}

// requireNothingSetUp fails if the container has a record, a mount
// directory, an id allocation or any mount under the state directory.
func requireNothingSetUp(t *testing.T, pol *policy.Policy, c Container) {
	t.Helper()
	if rec, err := loadRecord(pol.StateDir, c.Root, c.ID); err != nil || rec != nil {
		t.Errorf("record left: %+v (%v)", rec, err)
	}
	if _, err := os.Lstat(filepath.Join(pol.StateDir, "mnt", c.ID)); !os.IsNotExist(err) {
		t.Errorf("mount directory left (lstat: %v)", err)
	}
	if data, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(data), pol.StateDir) {
		t.Errorf("mounts left under %s", pol.StateDir)
	}
	if freed, err := newSetup(pol, "").Alloc.Release(c.ID); err != nil || freed != nil {
		t.Errorf("ids still allocated to %s (released %+v, %v)", c.ID, freed, err)
	}
}

// createdDefault creates inProcess's container under the default
// profile; the test's cleanup undoes it.
func createdDefault(t *testing.T) (*policy.Policy, Container, *profiles.Profile, *Created) {
	t.Helper()
	pol, c := inProcess(t)
	prof, err := pol.Profile("default")
	if err != nil {
		t.Fatal(err)
	}
	created, err := Create(c, CreateOptions{Policy: pol, Profile: prof})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = created.Undo() })
	return pol, c, prof, created
}

func TestCreateInProcessAndUndo(t *testing.T) {
	pol, c, _, created := createdDefault(t)
	rec, err := loadRecord(pol.StateDir, c.Root, c.ID)
	if err != nil || rec == nil || rec.Userns == nil || !rec.Userns.Injected {
		t.Fatalf("record after Create: %+v (%v)", rec, err)
	}
	b, err := os.ReadFile(filepath.Join(c.Bundle, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), filepath.Join(rec.Userns.Dir, "rootfs")) {
		t.Errorf("config.json does not use the id-mapped rootfs %s", filepath.Join(rec.Userns.Dir, "rootfs"))
	}
	if err := created.Undo(); err != nil {
		t.Fatal(err)
	}
	requireNothingSetUp(t, pol, c)
	if err := created.Undo(); err != nil {
		t.Errorf("second Undo: %v", err)
	}
	if err := (*Created)(nil).Undo(); err != nil {
		t.Errorf("Undo on nil: %v", err)
	}
}

// A step that fails after the user namespace was set up undoes it: here
// config.json cannot be written, because the name of its -orig copy is
// taken by a directory that is not empty.
func TestCreateFailureUndoesEarlierSteps(t *testing.T) {
	pol, c := inProcess(t)
	prof, err := pol.Profile("default")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(c.Bundle, "config.json.runcage-orig", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	created, err := Create(c, CreateOptions{Policy: pol, Profile: prof})
	if err == nil || !strings.Contains(err.Error(), "keep original") {
		_ = created.Undo()
		t.Fatalf("Create with an unwritable config.json: err %v, want the write error", err)
	}
	if created != nil {
		t.Errorf("Create failed but returned %+v", created)
	}
	requireNothingSetUp(t, pol, c)
}

// A bundle the checks refuse (here: a config.json member runcage has no
// decision for) leaves the bundle and the host as they were.
func TestCreateRefusalSetsUpNothing(t *testing.T) {
	pol, c := inProcess(t)
	prof, err := pol.Profile("default")
	if err != nil {
		t.Fatal(err)
	}
	b := c.Bundle
	if err := os.WriteFile(filepath.Join(b, "config.json"), []byte(`{"ociVersion":"1.0.0","process":{"args":["sh"],"cwd":"/"},"root":{"path":"rootfs"},"unknownMember":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(c, CreateOptions{Policy: pol, Profile: prof}); err == nil || !strings.Contains(err.Error(), "unknownMember") {
		t.Fatalf("Create with an unknown member: err %v, want a refusal naming it", err)
	}
	if _, err := os.Lstat(filepath.Join(b, "config.json.runcage-orig")); !os.IsNotExist(err) {
		t.Errorf("a refused create touched the bundle (lstat -orig: %v)", err)
	}
	requireNothingSetUp(t, pol, c)
}

// TestReleaseOnPanic: a panic after the lock is taken releases it and
// goes on; a normal return leaves the lock to its holder.
func TestReleaseOnPanic(t *testing.T) {
	released := 0
	locked := func(fail bool) {
		defer releaseOnPanic(func() { released++ })
		if fail {
			panic("in create")
		}
	}
	locked(false)
	if released != 0 {
		t.Fatal("released on a normal return")
	}
	func() {
		defer func() {
			if v := recover(); v != "in create" {
				t.Errorf("panic %v did not go on", v)
			}
		}()
		locked(true)
	}()
	if released != 1 {
		t.Errorf("released %d times on a panic, want 1", released)
	}
}
