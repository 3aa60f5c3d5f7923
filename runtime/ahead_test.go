package runtime

import (
	"bytes"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// lockedByOther reports whether id's byte of <state>/containers.lock is
// locked, as another open file description sees it.
func lockedByOther(t *testing.T, state, id string) bool {
	t.Helper()
	fd, err := unix.Open(filepath.Join(state, "containers.lock"), unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	lk := lockByte(id)
	if err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_GETLK, &lk); err != nil {
		t.Fatal(err)
	}
	return lk.Type != unix.F_UNLCK
}

func fdOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}

// TestLockContainerFromAdopts checks that the lock the C fast path took is
// adopted only when it is the state directory's lock file, and that the
// adopted descriptor then holds the id's byte whichever byte it held.
func TestLockContainerFromAdopts(t *testing.T) {
	state := t.TempDir()
	open := func(name string) int {
		fd, err := unix.Open(filepath.Join(state, name), unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		return fd
	}
	// The right file, holding another byte: adopted, and now holds c1's.
	fd := open("containers.lock")
	other := lockByte("not-c1")
	if err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &other); err != nil {
		t.Fatal(err)
	}
	unlock, err := lockContainerFrom(state, "c1", fd)
	if err != nil {
		t.Fatal(err)
	}
	if !fdOpen(fd) || !lockedByOther(t, state, "c1") {
		t.Fatal("the fast path's descriptor was not adopted with c1's byte locked")
	}
	unlock()
	if fdOpen(fd) || lockedByOther(t, state, "c1") {
		t.Fatal("unlock left the adopted descriptor open or c1 locked")
	}

	// Another file: closed, and the lock taken the usual way.
	fd = open("elsewhere.lock")
	unlock, err = lockContainerFrom(state, "c1", fd)
	if err != nil {
		t.Fatal(err)
	}
	// (The fallback's own descriptor may reuse the number.)
	if target, _ := os.Readlink(filepath.Join("/proc/self/fd", strconv.Itoa(fd))); strings.HasSuffix(target, "elsewhere.lock") {
		t.Error("a descriptor of another file was kept")
	}
	if !lockedByOther(t, state, "c1") {
		t.Error("c1 not locked after falling back")
	}
	unlock()
}

// TestRunAheadWaitsAndCleansUp runs the Go side of an ahead delete on a
// real child: it reaps the child and returns its status, and refuses (exit
// 1, after reaping) an invocation the fast path must not have started.
func TestRunAheadWaitsAndCleansUp(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	if err := os.MkdirAll(state, 0o711); err != nil {
		t.Fatal(err)
	}
	delegate, err := exec.LookPath("false")
	if err != nil {
		t.Skipf("no false(1) to use as the delegate: %v", err)
	}
	pol := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(pol, []byte("runtime = \""+delegate+"\"\nstate_dir = \""+state+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RUNCAGE_CONFIG", pol)
	t.Cleanup(func() { signal.Reset(fatalSignals...) }) // runAhead keeps them caught
	start := func() Ahead {
		cmd := exec.Command(delegate)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		fd, err := unix.Open(filepath.Join(state, "containers.lock"), unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		return Ahead{Pid: cmd.Process.Pid, LockFD: fd, Delegate: delegate}
	}
	a := start()
	if code := runAhead([]string{"runcage", "delete", "c1"}, a); code != 1 {
		t.Errorf("delete: exit %d, want false's 1", code)
	}
	if fdOpen(a.LockFD) || lockedByOther(t, state, "c1") {
		t.Error("the lock outlived the delete")
	}
	if err := unix.Kill(a.Pid, 0); err == nil {
		t.Error("the delegate was not reaped")
	}

	// A delegate other than the policy's, or a verb that is not delete:
	// reaped, reported, exit 1.
	for _, tc := range []struct {
		argv []string
		bad  func(*Ahead)
		want string
	}{
		{[]string{"runcage", "delete", "c1"}, func(a *Ahead) { a.Delegate = "/bin/true" }, "the fast path started /bin/true"},
		{[]string{"runcage", "state", "c1"}, func(*Ahead) {}, "which only delete does"},
	} {
		a := start()
		tc.bad(&a)
		log := filepath.Join(dir, "log")
		os.Remove(log)
		argv := append([]string{tc.argv[0], "--log", log}, tc.argv[1:]...)
		if code := runAhead(argv, a); code != 1 {
			t.Errorf("%q: exit %d, want 1", argv, code)
		}
		if got, _ := os.ReadFile(log); !bytes.Contains(got, []byte(tc.want)) {
			t.Errorf("%q: log %q lacks %q", argv, got, tc.want)
		}
		if fdOpen(a.LockFD) || unix.Kill(a.Pid, 0) == nil {
			t.Errorf("%q: lock kept or delegate not reaped", argv)
		}
	}
}

// TestDeleteAheadCleansUp creates a container with the built runcage and
// deletes it through the C fast path's ahead start: the trace says so, the
// delegate gets the argv it gets without the fast path, and the id-mapped
// mounts and the record are gone after it.
func TestDeleteAheadCleansUp(t *testing.T) {
	f := newFake(t, "")
	b := bundle(t, nil)
	if _, stderr, code := f.run(t, "", "create", "--bundle", b, "c1"); code != 0 {
		t.Fatalf("create: exit %d: %s", code, stderr)
	}
	del := func(extra ...string) (string, []string) {
		cmd := exec.Command(runcageBin, "delete", "--force", "c1")
		// Without a warm front, which would otherwise take the delete.
		cmd.Env = append(os.Environ(), append([]string{"RUNCAGE_CONFIG=" + f.policy, "RUNCAGE_FASTPATH_TRACE=1", "RUNCAGE_NO_WARM=1"}, extra...)...)
		var e bytes.Buffer
		cmd.Stderr = &e
		if err := cmd.Run(); err != nil {
			t.Fatalf("delete: %v: %s", err, e.String())
		}
		return e.String(), f.forwarded(t)
	}
	trace, argv := del()
	if !strings.HasPrefix(trace, "runcage: fastpath: spawn ") {
		t.Fatalf("delete did not start its delegate ahead: %q", trace)
	}
	if data, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(data), f.dir) {
		t.Error("mounts left after the ahead delete")
	}
	if recs, _ := filepath.Glob(filepath.Join(f.dir, "state", "containers", "*", "c1.json")); len(recs) != 0 {
		t.Errorf("record left after the ahead delete: %q", recs)
	}
	_, goArgv := del("RUNCAGE_NO_FASTPATH=1")
	if !equal(argv, goArgv) {
		t.Errorf("delegate argv %q with the fast path, %q without", argv, goArgv)
	}
}
