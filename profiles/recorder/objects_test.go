package recorder

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runcage/runcage/profiles/record"
)

func TestParseExecMaps(t *testing.T) {
	text := `55d0c3a00000-55d0c3a05000 r--p 00000000 fe:00 746518                     /usr/bin/sleep
55d0c3a05000-55d0c3a0a000 r-xp 00005000 fe:00 746518                     /usr/bin/sleep
7f0000000000-7f0000001000 r-xp 00000000 00:00 0                          [vdso]
7f0000002000-7f0000003000 r-xp 00000000 fe:00 12                         /opt/my lib/a b.so (deleted)
7f0000004000-7f0000005000 rw-p 00000000 00:00 0
7f0000006000-7f0000007000 r-xp 00000000 00:05 7                          /memfd:x (deleted)
00400000-00689000 r-xp 00000000 fe:00 99                                 /usr/local/bin/gosrv
ZZZZ-7f0000008000 r-xp 00000000 fe:00 13                                  /bad/range
short line
`
	got := parseExecMaps([]byte(text))
	want := []mapping{
		{rng: "55d0c3a05000-55d0c3a0a000", path: "/usr/bin/sleep", key: fileKey{"fe:00", 746518}},
		{rng: "7f0000002000-7f0000003000", path: "/opt/my lib/a b.so (deleted)", key: fileKey{"fe:00", 12}},
		{rng: "7f0000006000-7f0000007000", path: "/memfd:x (deleted)", key: fileKey{"00:05", 7}},
		{rng: "400000-689000", path: "/usr/local/bin/gosrv", key: fileKey{"fe:00", 99}},
	}
	if !slices.Equal(got, want) {
		t.Errorf("parseExecMaps:\n got %+v\nwant %+v", got, want)
	}
}

// TestObjectTrackerRealProcess runs a host shell that execs a host program
// (sleep) and lets the tracker see it as the agent would: a notification
// before it joins (as runc init's are: nothing recorded), then its execve,
// then another syscall that arrives before the execve has replaced the
// image (as one from another thread of runc init can: still nothing), then
// one after, when its executable and C library are recorded, read through
// /proc/PID/map_files, and the shell is not.
func TestObjectTrackerRealProcess(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("reading /proc/PID/map_files needs root (CAP_SYS_ADMIN)")
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep program on this host")
	}
	cmd := exec.Command("/bin/sh", "-c", `read x; exec "$0" 30`, sleep)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	pid := uint32(cmd.Process.Pid)
	proc := "/proc/" + strconv.Itoa(int(pid))
	// waitExe waits until the process runs a program whose path ends in
	// suffix (not this test binary any more).
	waitExe := func(suffix string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			exe, _ := os.Readlink(proc + "/exe")
			if strings.HasSuffix(exe, suffix) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s/exe is %q, want .../%s", proc, exe, suffix)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	shell, err := filepath.EvalSymlinks("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	waitExe(filepath.Base(shell))
	valid := func() bool { return true }

	var o objectTracker
	o.observe(pid, "read", [6]uint64{}, valid)
	if got := o.list(); len(got) != 0 {
		t.Fatalf("a process that has not exec'd (runc init) is recorded: %+v", got)
	}
	o.observe(pid, "execve", [6]uint64{}, valid)
	o.observe(pid, "read", [6]uint64{}, valid)
	if got := o.list(); len(got) != 0 {
		t.Fatalf("the image before the execve finished is recorded: %+v", got)
	}
	if _, err := stdin.Write([]byte("go\n")); err != nil {
		t.Fatal(err)
	}
	waitExe("/sleep")
	o.observe(pid, "read", [6]uint64{}, valid)
	objs := o.list()
	byKind := map[string][]record.Object{}
	for _, ob := range objs {
		byKind[ob.Analysis] = append(byKind[ob.Analysis], ob)
		if len(ob.SHA256) != 64 {
			t.Errorf("%s: sha256 %q", ob.Path, ob.SHA256)
		}
		if filepath.Base(ob.Path) == filepath.Base(shell) {
			t.Errorf("the program before the execve is recorded: %+v", ob)
		}
	}
	prog := byKind["imports"]
	if len(prog) == 0 || !strings.HasSuffix(prog[0].Path, "/sleep") || !slices.ContainsFunc(prog[0].Imports, func(s string) bool { return strings.Contains(s, "sleep") }) {
		t.Errorf("sleep not recorded with its imports: %+v", prog)
	}
	if len(byKind["libc"]) == 0 {
		t.Errorf("the C library is not recorded as libc: %+v", objs)
	}

	// A second scan finds nothing new; a new path of a known file is
	// an alias with the same hash.
	o.observe(pid, "mmap", [6]uint64{0, 0, protExec}, valid)
	o.observe(pid, "read", [6]uint64{}, valid)
	if again := o.list(); len(again) != len(objs) {
		t.Errorf("rescan changed the objects: %d, then %d", len(objs), len(again))
	}

	// What was read when the notification was no longer valid (the pid
	// may have been reused) is dropped. The process joins as a forked
	// child of a member would.
	var stale objectTracker
	stale.observe(pid, "read", [6]uint64{}, valid)
	stale.joined[int(pid)] = true
	stale.dirty[pid] = true
	stale.observe(pid, "read", [6]uint64{}, func() bool { return false })
	if got := stale.list(); len(got) != 0 {
		t.Errorf("objects kept from an invalid notification: %+v", got)
	}
	stale.dirty[pid] = true
	stale.observe(pid, "read", [6]uint64{}, valid)
	if got := stale.list(); len(got) == 0 {
		t.Errorf("a member's objects are not recorded once its notification is valid")
	}
}
