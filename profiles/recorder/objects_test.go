package recorder

import (
	"os"
	"os/exec"
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

// TestObjectTrackerRealProcess runs a host program (sleep) and lets the
// tracker see it as the agent would: first a notification before it joins
// (as runc init's are: nothing recorded), then its execve, then another
// syscall, after which its executable and C library are recorded, read
// through /proc/PID/map_files.
func TestObjectTrackerRealProcess(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("reading /proc/PID/map_files needs root (CAP_SYS_ADMIN)")
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep program on this host")
	}
	cmd := exec.Command(sleep, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	pid := uint32(cmd.Process.Pid)
	// Wait until the exec happened (maps shows the program, not this test).
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/maps")
		if strings.Contains(string(b), "libc") || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	valid := func() bool { return true }

	var o objectTracker
	o.observe(pid, "read", [6]uint64{}, valid)
	if got := o.list(); len(got) != 0 {
		t.Fatalf("a process that has not exec'd (runc init) is recorded: %+v", got)
	}
	o.observe(pid, "execve", [6]uint64{}, valid)
	o.observe(pid, "read", [6]uint64{}, valid)
	objs := o.list()
	byKind := map[string][]record.Object{}
	for _, ob := range objs {
		byKind[ob.Analysis] = append(byKind[ob.Analysis], ob)
		if len(ob.SHA256) != 64 {
			t.Errorf("%s: sha256 %q", ob.Path, ob.SHA256)
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
	// may have been reused) is dropped.
	var stale objectTracker
	stale.observe(pid, "execve", [6]uint64{}, valid)
	stale.observe(pid, "read", [6]uint64{}, func() bool { return false })
	if got := stale.list(); len(got) != 0 {
		t.Errorf("objects kept from an invalid notification: %+v", got)
	}
}
