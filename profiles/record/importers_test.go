package record

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/runcage/runcage/profiles/seccomp"
)

// The strace logs in testdata were captured on a Debian 12 host with
// strace 6.1 and busybox-static 1.35:
//
//	strace -f -tt -T -o busybox-f-tt-T.strace /bin/busybox sh -c 'ls /etc >/dev/null; cat /etc/hostname >/dev/null; echo hi > /tmp/runcage-strace-x; cat /tmp/runcage-strace-x | wc -l; rm /tmp/runcage-strace-x; busybox nc 127.0.0.1 9 </dev/null; true'
//	strace -f /bin/busybox sh -c 'sleep 0.01 & echo x | cat >/dev/null; wait' 2> busybox-f-stderr.strace
//
// The second one has strace's "Process N attached" messages in the middle of
// call lines, as strace writes them to stderr.

func importFile(t *testing.T, path string) *imported {
	t.Helper()
	imp, err := importPath(path, "test")
	if err != nil {
		t.Fatal(err)
	}
	return imp
}

func TestImportStraceTimestamps(t *testing.T) {
	imp := importFile(t, "testdata/busybox-f-tt-T.strace")
	if imp.Format != FormatStrace {
		t.Fatalf("format %q, want %q", imp.Format, FormatStrace)
	}
	tr := imp.Trace
	for _, want := range []string{"execve", "openat", "getdents64", "socket", "connect", "wait4", "clone", "unlink", "exit_group", "write", "pipe2"} {
		if _, ok := tr.Syscalls[want]; !ok {
			t.Errorf("syscall %q missing; have %v", want, tr.SyscallNames())
		}
	}
	for _, bad := range []string{"exited", "SIGCHLD", "resumed", "unfinished"} {
		if _, ok := tr.Syscalls[bad]; ok {
			t.Errorf("%q counted as a syscall", bad)
		}
	}
	if imp.Skipped != 0 {
		t.Errorf("skipped %d lines of a clean -o log", imp.Skipped)
	}
	// One socket, from busybox nc.
	if len(tr.Sockets) != 1 || tr.Sockets[0] != (Socket{Family: "AF_INET", Type: "SOCK_STREAM", Protocol: 0}) {
		t.Errorf("sockets %+v, want one AF_INET SOCK_STREAM 0", tr.Sockets)
	}
	files := map[string]string{}
	for _, f := range tr.Files {
		files[f.Path] = f.Access
	}
	for path, want := range map[string]string{
		"/bin/busybox":          "x",
		"/etc/":                 "r",
		"/etc/hostname":         "rs",    // stat by cat, then read
		"/tmp/runcage-strace-x": "cdrsw", // created by echo >, read, stat and unlinked by rm
		"/dev/null":             "crw",   // >/dev/null opens with O_CREAT; </dev/null reads
	} {
		if got := files[path]; !sameLetters(got, want) {
			t.Errorf("file %s: access %q, want %q", path, got, want)
		}
	}
	if len(tr.Capabilities) != 0 {
		t.Errorf("capabilities %v from a log that proves none", tr.Capabilities)
	}
	// Counts: the log has exactly this many execve starts.
	if n := strings.Count(readTestdata(t, "busybox-f-tt-T.strace"), " execve("); tr.Syscalls["execve"] != uint64(n) {
		t.Errorf("execve counted %d times, the log has %d", tr.Syscalls["execve"], n)
	}
}

func sameLetters(a, b string) bool {
	x, y := []byte(a), []byte(b)
	slices.Sort(x)
	slices.Sort(y)
	return string(x) == string(y)
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestImportStraceStderrInterleaved(t *testing.T) {
	imp := importFile(t, "testdata/busybox-f-stderr.strace")
	tr := imp.Trace
	// Three continuation lines follow strace's "Process N attached"
	// messages, which strace wrote into the middle of call lines.
	if imp.Skipped != 3 {
		t.Errorf("skipped %d lines, want the 3 continuation lines", imp.Skipped)
	}
	for _, want := range []string{"clone", "pipe2", "wait4", "clock_nanosleep", "rt_sigaction", "dup2"} {
		if _, ok := tr.Syscalls[want]; !ok {
			t.Errorf("syscall %q missing; have %v", want, tr.SyscallNames())
		}
	}
	// Each "<unfinished ...>" start is counted once, and its "resumed"
	// line not again.
	data := readTestdata(t, "busybox-f-stderr.strace")
	starts := strings.Count(data, "] clone(") + strings.Count(data, "\nclone(")
	if strings.HasPrefix(data, "clone(") {
		starts++
	}
	if tr.Syscalls["clone"] != uint64(starts) {
		t.Errorf("clone counted %d times, the log starts it %d times", tr.Syscalls["clone"], starts)
	}
}

func TestStraceArguments(t *testing.T) {
	log := strings.Join([]string{
		`100   1700000000.000001 openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC) = 3 <0.000010>`,
		`100   openat(3</var/lib/app>, "data.db", O_RDWR|O_CREAT, 0644) = 4`,
		`100   openat(AT_FDCWD, "relative", O_RDONLY) = 5`,
		`100   openat(AT_FDCWD, "/very/long/path/truncat"..., O_RDONLY) = -1 ENOENT (No such file or directory)`,
		`100   openat(AT_FDCWD, "/odd\x20name\n", O_WRONLY) = 6`,
		`100   openat2(AT_FDCWD, "/run/x", {flags=O_RDONLY|O_PATH, resolve=RESOLVE_NO_SYMLINKS}, 24) = 7`,
		`[pid   101] socket(AF_INET6, SOCK_DGRAM|SOCK_CLOEXEC, IPPROTO_UDP <unfinished ...>`,
		`[pid   102] bind(3, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("0.0.0.0")}, 16) = 0`,
		`[pid   101] <... socket resumed>) = 8`,
		`[pid   102] bind(4, {sa_family=AF_INET6, sin6_port=htons(8080), sin6_flowinfo=htonl(0)}, 28) = 0`,
		`[pid   102] socket(AF_PACKET, SOCK_RAW, 768) = 9`,
		`[pid   102] connect(5, {sa_family=AF_UNIX, sun_path="/run/app.sock"}, 110) = 0`,
		`[pid   102] chown("/data", 999, 999) = 0`,
		`[pid   102] chown("/own", -1, 0) = 0`,
		`[pid   102] setuid(1000) = -1 EPERM (Operation not permitted)`,
		`[pid   102] setgroups(0, NULL) = 0`,
		`[pid   102] syscall_0x1c4(0x1, 0x2) = -1 ENOSYS (Function not implemented)`,
		`[pid   102] --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=5, si_uid=0, si_status=0} ---`,
		`[pid   102] +++ exited with 0 +++`,
	}, "\n")
	imp, err := importData([]byte(log), "args")
	if err != nil {
		t.Fatal(err)
	}
	tr := imp.Trace
	files := map[string]string{}
	for _, f := range tr.Files {
		files[f.Path] = f.Access
	}
	want := map[string]string{
		"/etc/passwd":          "r",
		"/var/lib/app/data.db": "crw",
		"/odd name\n":          "w",
		"/run/x":               "s",
		"/run/app.sock":        "u",
		"/data":                "w",
		"/own":                 "w",
	}
	for p, a := range want {
		if !sameLetters(files[p], a) {
			t.Errorf("file %q: access %q, want %q", p, files[p], a)
		}
	}
	if len(files) != len(want) {
		t.Errorf("files %v, want exactly %v (relative and truncated paths left out)", files, want)
	}
	if tr.Syscalls["socket"] != 2 || tr.Syscalls["bind"] != 2 {
		t.Errorf("counts %v", tr.Syscalls)
	}
	if _, ok := tr.Syscalls["syscall_0x1c4"]; ok || imp.Skipped != 1 {
		t.Errorf("unnamed syscall: skipped %d, syscalls %v", imp.Skipped, tr.SyscallNames())
	}
	wantSockets := []Socket{{"AF_INET6", "SOCK_DGRAM", 17}, {"AF_PACKET", "SOCK_RAW", 768}}
	if !slices.Equal(tr.Sockets, wantSockets) {
		t.Errorf("sockets %+v, want %+v", tr.Sockets, wantSockets)
	}
	gotCaps := slices.Sorted(mapKeys(tr.Capabilities))
	wantCaps := []string{"CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETGID"}
	if !slices.Equal(gotCaps, wantCaps) {
		t.Errorf("capabilities %v, want %v (setuid failed: no CAP_SETUID; chown to -1/0: no evidence)", tr.Capabilities, wantCaps)
	}
	if ev := tr.Capabilities["CAP_NET_BIND_SERVICE"]; len(ev) != 1 || ev[0] != "bind to port 80" {
		t.Errorf("bind evidence %q", ev)
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestImportAuditRecords(t *testing.T) {
	if format, err := detectFormat([]byte(readTestdata(t, "audit-seccomp.log"))); err != nil || format != FormatAudit {
		t.Fatalf("format %q, %v", format, err)
	}
	if _, err := seccomp.SyscallName("SCMP_ARCH_X86_64", 0); errors.Is(err, seccomp.ErrSeccompNotEnabled) {
		t.Skip("built without libseccomp (needs -tags seccomp): audit numbers cannot be resolved")
	}
	imp := importFile(t, "testdata/audit-seccomp.log")
	tr := imp.Trace
	want := map[string]uint64{
		"epoll_wait": 2, "accept4": 1, "ptrace": 1, "socketcall": 1, "unshare": 1, "mount": 1,
	}
	for n, c := range want {
		if tr.Syscalls[n] != c {
			t.Errorf("%s: count %d, want %d (all: %v)", n, tr.Syscalls[n], c, tr.Syscalls)
		}
	}
	// The x32 record (syscall 0x40000000 + 259) resolves to an x32 name.
	x32, err := seccomp.SyscallName("SCMP_ARCH_X32", 0x40000000+259)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Syscalls[x32] != 1 {
		t.Errorf("x32 syscall %q not counted: %v", x32, tr.Syscalls)
	}
	if len(tr.Syscalls) != len(want)+1 {
		t.Errorf("syscalls %v, want %v and %q", tr.Syscalls, want, x32)
	}
	if imp.Skipped != 2 {
		t.Errorf("skipped %d, want the DAEMON_START and SYSCALL records", imp.Skipped)
	}
	if tr.Arch != "SCMP_ARCH_X86_64" || len(tr.Files) != 0 {
		t.Errorf("arch %q files %v", tr.Arch, tr.Files)
	}
}

func TestImportComplainLogAndTrace(t *testing.T) {
	log := `{"version":1,"time":"2026-11-23T12:00:00Z","container":"c1","name":"redis","profile":"p","mode":"complain","arch":"SCMP_ARCH_X86_64","syscall":"ptrace","count":1,"action":"allowed"}
{"version":1,"time":"2026-11-23T12:00:05Z","container":"c1","name":"redis","profile":"p","mode":"complain","arch":"SCMP_ARCH_X86_64","syscall":"ptrace","count":7,"action":"allowed"}
not runcage's
{"version":1,"time":"2026-11-23T12:00:06Z","container":"c2","name":"redis","profile":"p","mode":"complain","syscall":"mbind","count":2,"action":"allowed"}
`
	imp, err := importData([]byte(log), "redis")
	if err != nil {
		t.Fatal(err)
	}
	if imp.Format != FormatComplain || imp.Trace.Syscalls["ptrace"] != 7 || imp.Trace.Syscalls["mbind"] != 2 || imp.Skipped != 1 {
		t.Errorf("format %q syscalls %v skipped %d", imp.Format, imp.Trace.Syscalls, imp.Skipped)
	}
	data, err := imp.Trace.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	again, err := importData(data, "ignored")
	if err != nil || again.Format != FormatTrace || !slices.Equal(again.Trace.SyscallNames(), []string{"mbind", "ptrace"}) {
		t.Fatalf("trace round trip: %v %+v", err, again)
	}
}

func TestImportRefuses(t *testing.T) {
	for name, in := range map[string]string{
		"empty":         "  \n",
		"prose":         "hello world\nthis is not a log\n",
		"other json":    `{"foo": 1}`,
		"hostile trace": `{"version":1,"name":"x","source":"runcage","syscalls":{"read\n[apparmor]":1}}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := importData([]byte(in), "x"); err == nil {
				t.Fatal("imported")
			}
		})
	}
}
