//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles/record"
)

// DebianRootfs returns the cached Debian bookworm root filesystem (with
// redis-server, redis-tools, nginx-light and curl) that
// integration/rootfs/debian.sh builds on first use. Callers must never write
// to it: mount it with Overlay, or copy it.
func DebianRootfs() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(filepath.Join(root, "integration", "rootfs", "debian.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("debian rootfs: %w", err)
	}
	p := strings.TrimSpace(string(out))
	if st, err := os.Stat(filepath.Join(p, "usr", "bin", "redis-server")); err != nil || !st.Mode().IsRegular() {
		return "", fmt.Errorf("debian rootfs %s has no usr/bin/redis-server: %v", p, err)
	}
	return p, nil
}

// Overlay mounts an overlay with the read-only lower directory lower, and an
// upper and work directory under dir, at dir/merged, which it returns with a
// function that unmounts it. Writes go to dir/upper; lower is never
// modified.
func Overlay(lower, dir string) (string, func() error, error) {
	merged := filepath.Join(dir, "merged")
	for _, d := range []string{"upper", "work", "merged"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return "", nil, fmt.Errorf("overlay: %w", err)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, filepath.Join(dir, "upper"), filepath.Join(dir, "work"))
	if err := unix.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		return "", nil, fmt.Errorf("overlay: mount %s: %w", merged, err)
	}
	return merged, func() error {
		if err := unix.Unmount(merged, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("overlay: unmount %s: %w", merged, err)
		}
		return nil
	}, nil
}

// ContainerState is the part of `runc state` the tests read.
type ContainerState struct {
	ID     string `json:"id"`
	Pid    int    `json:"pid"`
	Status string `json:"status"`
}

// State runs `state ID` with rt and decodes it.
func (r Runtime) State(id string) (ContainerState, error) {
	res := r.Exec(30*time.Second, "state", id)
	if res.Err != nil || res.Exit != 0 {
		return ContainerState{}, fmt.Errorf("state %s: %s", id, res)
	}
	var st ContainerState
	if err := json.Unmarshal([]byte(res.Stdout), &st); err != nil {
		return ContainerState{}, fmt.Errorf("state %s: %w", id, err)
	}
	return st, nil
}

// WaitStopped waits up to timeout until container id is stopped.
func (r Runtime) WaitStopped(id string, timeout time.Duration) error {
	return WaitFor(timeout, func() error {
		st, err := r.State(id)
		if err != nil {
			return err
		}
		if st.Status != "stopped" {
			return fmt.Errorf("container %s is %s", id, st.Status)
		}
		return nil
	})
}

// WaitTrace waits up to timeout until the recording at path is complete
// and returns it.
func WaitTrace(path string, timeout time.Duration) (*record.Trace, error) {
	var tr *record.Trace
	err := WaitFor(timeout, func() error {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if tr, err = record.Parse(data); err != nil {
			return err
		}
		if !tr.Complete {
			return fmt.Errorf("recording %s is not complete yet", path)
		}
		return nil
	})
	return tr, err
}

// DeleteLater force-deletes container id with r when t ends. It uses r's
// root but no log file, so the clean-up never adds to the log a test
// asserts on.
func (r Runtime) DeleteLater(t testing.TB, id string) {
	t.Cleanup(func() {
		r.Log = ""
		r.Exec(time.Minute, "delete", "--force", id)
	})
}

// CreateStart creates and starts bundle as container id with r, the way
// engines do (`create`, then `start`), and force-deletes it when t ends.
// A failed step fails t with r's log.
func (r Runtime) CreateStart(t testing.TB, bundle, id string) {
	t.Helper()
	r.DeleteLater(t, id)
	for _, args := range [][]string{{"create", "--bundle", bundle, id}, {"start", id}} {
		if res := r.Exec(time.Minute, args...); res.Exit != 0 || res.Err != nil {
			t.Fatalf("%s: %s\nlog: %s", args[0], res, FileText(r.Log))
		}
	}
}

// RecorderProcesses returns the pids of the recording agents
// ("runcage[agent]") and their watchdogs ("runcage[watchdog]") whose log,
// their stderr, satisfies inLog, in /proc order.
func RecorderProcesses(inLog func(logPath string) bool) (agents, watchdogs []int, err error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, nil, err
	}
	for _, en := range ents {
		pid, err := strconv.Atoi(en.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + en.Name() + "/cmdline")
		if err != nil {
			continue
		}
		if lp, err := os.Readlink("/proc/" + en.Name() + "/fd/2"); err != nil || !inLog(lp) {
			continue
		}
		switch {
		case strings.HasPrefix(string(cmdline), "runcage[agent]\x00"):
			agents = append(agents, pid)
		case strings.HasPrefix(string(cmdline), "runcage[watchdog]\x00"):
			watchdogs = append(watchdogs, pid)
		}
	}
	return agents, watchdogs, nil
}

// InNetns returns a command that runs the host program argv[0] (looked up
// in the host's PATH) in the network namespace of process pid, with the
// test's environment. Nothing from the container's root filesystem runs.
func InNetns(pid int, argv ...string) *exec.Cmd {
	args := append([]string{"--net=/proc/" + strconv.Itoa(pid) + "/ns/net", "--"}, argv...)
	return exec.Command("nsenter", args...)
}

// WaitFor polls cond every 50 ms until it returns nil or timeout passes, and
// returns its last error.
func WaitFor(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var benchLineRE = regexp.MustCompile(`(?m)^"?([A-Z_]+[A-Za-z0-9_ ()]*?)"?[:,]\s*"?([0-9.]+)"?\s*requests per second`)

// ParseRedisBench returns requests per second by test name ("SET", "GET",
// "LRANGE_100 (first 100 elements)", ...) from `redis-benchmark -q` output.
func ParseRedisBench(out string) map[string]float64 {
	m := map[string]float64{}
	// -q prints progress with \r; only the final value of each test counts.
	for _, seg := range strings.FieldsFunc(out, func(r rune) bool { return r == '\r' || r == '\n' }) {
		if sm := benchLineRE.FindStringSubmatch(seg); sm != nil {
			if v, err := strconv.ParseFloat(sm[2], 64); err == nil {
				m[strings.TrimSpace(sm[1])] = v
			}
		}
	}
	return m
}

// rawProbeC is a probe without libc: it makes only the syscalls it tests
// plus write and exit_group, so that it runs under a profile generated for
// some other program. It prints "probe NAME=ok" or "probe NAME=ERRNO".
const rawProbeC = `
#include <asm/unistd.h> /* the kernel's syscall numbers: __NR_write, ... */

#if defined(__x86_64__)
static long sc(long n, long a, long b, long c, long d, long e) {
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	long ret;
	__asm__ volatile ("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
	return ret;
}
#elif defined(__aarch64__)
static long sc(long n, long a, long b, long c, long d, long e) {
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	__asm__ volatile ("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4) : "memory");
	return x0;
}
#else
#error unsupported architecture
#endif

static unsigned long len(const char *s) { unsigned long n = 0; while (s[n]) n++; return n; }
static void out(const char *s) { sc(__NR_write, 1, (long)s, (long)len(s), 0, 0); }

static void report(const char *name, long r) {
	out("probe "); out(name); out("=");
	switch (r) {
	case 0: out("ok"); break;
	case -1: out("EPERM"); break;
	case -13: out("EACCES"); break;
	case -22: out("EINVAL"); break;
	case -38: out("ENOSYS"); break;
	default: out("error"); break;
	}
	out("\n");
}

#if defined(__x86_64__)
__attribute__((force_align_arg_pointer))
#endif
void _start(void) {
	report("unshare", sc(__NR_unshare, 0x10000000 /* CLONE_NEWUSER */, 0, 0, 0, 0));
	report("mount", sc(__NR_mount, (long)"none", (long)"/mnt", (long)"tmpfs", 0, 0));
	report("ptrace", sc(__NR_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0, 0));
	sc(__NR_exit_group, 0, 0, 0, 0, 0);
	for (;;) {}
}
`

// BuildRawProbe compiles the libc-free probe (see rawProbeC) to out with
// the host's gcc.
func BuildRawProbe(out string) error {
	src := out + ".c"
	if err := os.WriteFile(src, []byte(rawProbeC), 0o644); err != nil {
		return fmt.Errorf("build raw probe: %w", err)
	}
	defer os.Remove(src)
	cmd := exec.Command("gcc", "-static", "-nostdlib", "-nostartfiles", "-fno-stack-protector", "-fno-builtin", "-O2", "-o", out, src)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build raw probe: %w: %s", err, b)
	}
	return nil
}
