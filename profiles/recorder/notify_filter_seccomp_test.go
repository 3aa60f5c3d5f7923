//go:build cgo && seccomp

package recorder

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	runcseccomp "github.com/opencontainers/runc/libcontainer/seccomp"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles/record"
	"github.com/runcage/runcage/profiles/seccomp"
)

// argCall is one syscall the in-kernel test makes on a filtered thread, and
// how runtime/default must treat it.
type argCall struct {
	what string
	nr   uintptr
	args [4]uintptr
	// kernel is the errno the syscall itself returns when the filter lets
	// it run (the calls are made to fail harmlessly: bad flag pairs,
	// missing paths); 0 for success.
	kernel unix.Errno
	// denied is the errno the filter answers; 0 if it lets the call run.
	denied unix.Errno
	// logged: the denial reaches the agent (an argument denial that
	// complementRules turns into NOTIFY rules, or an outright denial).
	logged bool
}

func argCalls() []argCall {
	missing := unsafe.Pointer(unsafe.StringData("/nonexistent-argdeny/x\x00"))
	p := uintptr(missing)
	cwd := unix.AT_FDCWD
	atCwd := uintptr(cwd) // sign-extended, as libc passes it
	badFD := uintptr(1 << 20)
	return []argCall{
		// clone: CLONE_SIGHAND without CLONE_VM, and a namespace flag with
		// CLONE_FS, are refused by copy_process, so no call forks.
		{what: "clone(CLONE_SIGHAND)", nr: unix.SYS_CLONE, args: [4]uintptr{unix.CLONE_SIGHAND}, kernel: unix.EINVAL},
		{what: "clone(CLONE_NEWUSER|CLONE_FS)", nr: unix.SYS_CLONE, args: [4]uintptr{unix.CLONE_NEWUSER | unix.CLONE_FS}, kernel: unix.EINVAL, denied: unix.EPERM, logged: true},
		{what: "clone(CLONE_NEWNS|CLONE_FS)", nr: unix.SYS_CLONE, args: [4]uintptr{unix.CLONE_NEWNS | unix.CLONE_FS}, kernel: unix.EINVAL, denied: unix.EPERM, logged: true},
		{what: "fchmodat(0755)", nr: unix.SYS_FCHMODAT, args: [4]uintptr{atCwd, p, 0o755}, kernel: unix.ENOENT},
		{what: "fchmodat(04755)", nr: unix.SYS_FCHMODAT, args: [4]uintptr{atCwd, p, 0o4755}, kernel: unix.ENOENT, denied: unix.EPERM, logged: true},
		{what: "fchmod(0644)", nr: unix.SYS_FCHMOD, args: [4]uintptr{badFD, 0o644}, kernel: unix.EBADF},
		{what: "fchmod(02755)", nr: unix.SYS_FCHMOD, args: [4]uintptr{badFD, 0o2755}, kernel: unix.EBADF, denied: unix.EPERM, logged: true},
		{what: "mknodat(S_IFREG|0644)", nr: unix.SYS_MKNODAT, args: [4]uintptr{atCwd, p, unix.S_IFREG | 0o644}, kernel: unix.ENOENT},
		{what: "mknodat(S_IFREG|06644)", nr: unix.SYS_MKNODAT, args: [4]uintptr{atCwd, p, unix.S_IFREG | 0o6644}, kernel: unix.ENOENT, denied: unix.EPERM, logged: true},
		// openat: the mode only counts with O_CREAT or O_TMPFILE.
		{what: "openat(O_RDONLY, 04755)", nr: unix.SYS_OPENAT, args: [4]uintptr{atCwd, p, unix.O_RDONLY, 0o4755}, kernel: unix.ENOENT},
		{what: "openat(O_CREAT, 0644)", nr: unix.SYS_OPENAT, args: [4]uintptr{atCwd, p, unix.O_CREAT | unix.O_WRONLY, 0o644}, kernel: unix.ENOENT},
		{what: "openat(O_CREAT, 04755)", nr: unix.SYS_OPENAT, args: [4]uintptr{atCwd, p, unix.O_CREAT | unix.O_WRONLY, 0o4755}, kernel: unix.ENOENT, denied: unix.EPERM, logged: true},
		{what: "openat(O_TMPFILE, 02755)", nr: unix.SYS_OPENAT, args: [4]uintptr{atCwd, p, unix.O_TMPFILE | unix.O_WRONLY, 0o2755}, kernel: unix.ENOENT, denied: unix.EPERM, logged: true},
		// Outright denials were notified before; explicit errnos never are.
		{what: "clone3", nr: unix.SYS_CLONE3, kernel: unix.EINVAL, denied: unix.ENOSYS},
		{what: "mount", nr: unix.SYS_MOUNT, args: [4]uintptr{p, p, p}, kernel: unix.ENOENT, denied: unix.EPERM, logged: true},
		// personality's value list is not of the complementable shape:
		// denied in the kernel, not logged.
		{what: "personality(0x1234)", nr: unix.SYS_PERSONALITY, args: [4]uintptr{0x1234}, denied: unix.EPERM},
	}
}

// filterHelperEnv names the filter file a re-executed test binary loads
// (TestFilteredThreadHelper); filterAgentEnv, when "1", has it serve the
// filter's listener with the denial agent's handler.
const (
	filterHelperEnv = "RUNCAGE_TEST_FILTER"
	filterAgentEnv  = "RUNCAGE_TEST_FILTER_AGENT"
)

// filteredResult is what TestFilteredThreadHelper prints: the errno of
// each of argCalls, and the audit log the handler wrote.
type filteredResult struct {
	Errnos []unix.Errno `json:"errnos"`
	Audit  string       `json:"audit"`
}

// onFilteredThread runs argCalls in a new process of the test binary under
// f (TestFilteredThreadHelper), with the denial agent's handler on f's
// listener if agent, and returns the result. A process of its own, because
// a filter lives as long as its thread and Go never ends its main thread.
func onFilteredThread(t *testing.T, f *specs.LinuxSeccomp, agent bool) filteredResult {
	t.Helper()
	data, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "filter.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFilteredThreadHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), filterHelperEnv+"="+path, fmt.Sprintf("%s=%t", filterAgentEnv, agent))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if strings.Contains(stderr.String(), "notify unsupported") {
			t.Skipf("seccomp notify is not available here: %s", stderr.String())
		}
		t.Fatalf("filtered helper: %v\n%s%s", err, out, stderr.String())
	}
	var res filteredResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("filtered helper printed %q: %v", out, err)
	}
	if len(res.Errnos) != len(argCalls()) {
		t.Fatalf("filtered helper made %d calls, want %d", len(res.Errnos), len(argCalls()))
	}
	return res
}

// TestFilteredThreadHelper is onFilteredThread's process; it does nothing
// in a normal test run. It loads the filter, compiled by runc's own code
// (specconv and libcontainer/seccomp: libseccomp and runc's BPF patch), on
// a locked thread, hands the listener to the denial agent's handler if
// asked, makes argCalls on that thread, prints a filteredResult and exits.
// Every notified call has been answered, and so logged, when it returns.
func TestFilteredThreadHelper(t *testing.T) {
	path := os.Getenv(filterHelperEnv)
	if path == "" {
		return
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		fail(err)
	}
	var f specs.LinuxSeccomp
	if err := json.Unmarshal(data, &f); err != nil {
		fail(err)
	}
	cfg, err := specconv.SetupSeccomp(&f)
	if err != nil {
		fail(err)
	}
	var audit bytes.Buffer
	var h *handler
	if os.Getenv(filterAgentEnv) == "true" {
		h, err = newHandler(AgentConfig{Mode: ModeEnforce, Name: "c1", Container: "c1", Profile: "default", Filter: WithoutNotify(&f)},
			newNameResolver(), newProcTarget(), &audit, nil)
		if err != nil {
			fail(err)
		}
	}
	calls := argCalls()
	errnos := make([]unix.Errno, len(calls))
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the filter stays on this thread
		// runc runs as root and loads without no_new_privs; the thread
		// sets it so that the test does not need CAP_SYS_ADMIN.
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			done <- err
			return
		}
		fd, err := runcseccomp.InitSeccomp(cfg)
		if err != nil {
			done <- err
			return
		}
		if fd >= 0 {
			if h == nil {
				done <- fmt.Errorf("filter has a listener, no agent asked for")
				return
			}
			go serveFD(notifyFD(fd), h, log.New(os.Stderr, "", 0))
		}
		for i, c := range calls {
			_, _, errnos[i] = unix.Syscall6(c.nr, c.args[0], c.args[1], c.args[2], c.args[3], 0, 0)
		}
		done <- nil
	}()
	if err := <-done; err != nil {
		fail(err)
	}
	if h != nil {
		if err := h.Flush(true); err != nil {
			fail(err)
		}
	}
	out, err := json.Marshal(filteredResult{Errnos: errnos, Audit: audit.String()})
	if err != nil {
		fail(err)
	}
	os.Stdout.Write(out)
	os.Exit(0)
}

// The proof that complementRules holds in the kernel: runtime/default's
// filter, rewritten by NotifyFilter in ModeEnforce, compiled with
// libseccomp by runc's own code and loaded on a thread (onFilteredThread).
// First with NOTIFY replaced by ERRNO(200), so that each call's errno shows
// the action the BPF chose: the kernel's own error (allowed, in the kernel), 200
// (notified) or the profile's errno (denied in the kernel). Then with the
// real NOTIFY and the denial agent's handler on the listener: every
// notified call gets the profile's errno and is logged once per call as
// (syscall, errno), and nothing else is logged.
func TestNotifyFilterEnforceInKernel(t *testing.T) {
	def := seccomp.Default()
	known, err := KnownSyscalls(def.Architectures)
	if err != nil {
		t.Fatal(err)
	}
	f, err := NotifyFilter(def, known, ModeEnforce, "/run/x.sock")
	if err != nil {
		t.Fatal(err)
	}
	if err := seccomp.Compile(f); err != nil {
		t.Fatalf("the notify filter does not compile: %v", err)
	}
	calls := argCalls()

	const marker = unix.Errno(200)
	marked := *f
	marked.ListenerPath = ""
	marked.Syscalls = nil
	for _, sc := range f.Syscalls {
		if sc.Action == specs.ActNotify {
			sc.Action, sc.ErrnoRet = specs.ActErrno, u(uint(marker))
		}
		marked.Syscalls = append(marked.Syscalls, sc)
	}
	got := onFilteredThread(t, &marked, false).Errnos
	for i, c := range calls {
		want := c.kernel
		switch {
		case c.logged:
			want = marker
		case c.denied != 0:
			want = c.denied
		}
		if got[i] != want {
			t.Errorf("with NOTIFY as ERRNO(%d): %s = %d (%v), want %d (%v)", marker, c.what, got[i], got[i], want, want)
		}
	}

	res := onFilteredThread(t, f, true)
	got = res.Errnos
	wantLog := map[string]uint64{} // "syscall errno" → count
	for i, c := range calls {
		want := c.kernel
		if c.denied != 0 {
			want = c.denied
		}
		if got[i] != want {
			t.Errorf("with the agent: %s = %d (%v), want %d (%v)", c.what, got[i], got[i], want, want)
		}
		if c.logged {
			name, _, _ := strings.Cut(c.what, "(")
			wantLog[name+" "+unix.ErrnoName(c.denied)]++
		}
	}
	gotLog := map[string]uint64{}
	for _, line := range strings.Split(strings.TrimSpace(res.Audit), "\n") {
		var ev record.AuditEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if ev.Action != record.ActionDenied {
			t.Errorf("enforce logged %+v", ev)
		}
		k := ev.Syscall + " " + unix.ErrnoName(unix.Errno(ev.Errno))
		gotLog[k] = max(gotLog[k], ev.Count)
	}
	for k, n := range wantLog {
		if gotLog[k] != n {
			t.Errorf("logged %q %d times, want %d", k, gotLog[k], n)
		}
	}
	for k, n := range gotLog {
		if _, ok := wantLog[k]; !ok {
			t.Errorf("logged %q %d times, want never", k, n)
		}
	}
}
