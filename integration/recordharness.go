//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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

// OverlayOn mounts an overlay of the read-only lower under dir (see
// Overlay), unmounted when t ends, and returns the merged directory, the
// container's rootfs. A failed mount fails t.
func OverlayOn(t testing.TB, lower, dir string) string {
	t.Helper()
	merged, undo, err := Overlay(lower, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := undo(); err != nil {
			t.Error(err)
		}
	})
	return merged
}

// WriteFiles writes files (a path inside the root filesystem root to its
// content) into root with mode, creating parent directories 0755, or fails
// t. Each path is cleaned as an absolute path, so none climbs out of root;
// the paths are the test's own and must not cross a symlink of the rootfs.
func WriteFiles(t testing.TB, root string, files map[string][]byte, mode os.FileMode) {
	t.Helper()
	for p, content := range files {
		dst := filepath.Join(root, filepath.Clean("/"+p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, content, mode); err != nil {
			t.Fatal(err)
		}
	}
}

// DebianSuite is the Suite of a package whose tests create real containers
// on the cached Debian rootfs: its Setup finds the binaries under test
// (FindBinaries) and the rootfs (DebianRootfs) and stores them in *bin and
// *rootfs.
func DebianSuite(name string, bin *Binaries, rootfs *string) Suite {
	return Suite{
		Name:  name,
		Needs: "it creates real containers",
		Setup: func() error {
			var err error
			if *bin, err = FindBinaries(); err != nil {
				return err
			}
			*rootfs, err = DebianRootfs()
			return err
		},
	}
}

// Lab is one recording test's private directory (TempDir) with a policy
// there that keeps runcage's state, recordings, audit log and profiles
// under it, so that no two tests share any of them.
type Lab struct {
	T        *testing.T
	Bin      Binaries
	Dir      string // the test's private directory
	Policy   string // the policy file, RUNCAGE_CONFIG
	RecDir   string // recordings_dir, Dir/recordings
	Profiles string // profiles_dir, Dir/profiles
}

// NewLab makes a Lab in a new TempDir named prefix*; the policy's delegate
// is bin.Runc, its audit log Dir/audit.log, and extra is appended to it.
func NewLab(t *testing.T, bin Binaries, prefix, extra string) *Lab {
	t.Helper()
	dir := TempDir(t, prefix)
	l := &Lab{T: t, Bin: bin, Dir: dir, RecDir: filepath.Join(dir, "recordings"), Profiles: filepath.Join(dir, "profiles")}
	l.Policy = PolicyFile(t, dir, fmt.Sprintf("runtime = %q\nstate_dir = %q\nrecordings_dir = %q\naudit_log = %q\nprofiles_dir = %q\n%s",
		bin.Runc, filepath.Join(dir, "state"), l.RecDir, filepath.Join(dir, "audit.log"), l.Profiles, extra))
	if keep := os.Getenv("RUNCAGE_KEEP_LABS"); keep != "" {
		// Runs before TempDir's removal: keeps the recordings and the
		// generated profiles under $RUNCAGE_KEEP_LABS/TEST for study.
		t.Cleanup(func() {
			for _, d := range []string{l.RecDir, l.Profiles} {
				if _, err := os.Stat(d); err != nil {
					continue
				}
				if err := os.CopyFS(filepath.Join(keep, t.Name(), filepath.Base(d)), os.DirFS(d)); err != nil {
					t.Logf("RUNCAGE_KEEP_LABS: %v", err)
				}
			}
		})
	}
	return l
}

// Runtime returns runcage with --runcage-profile profile and the lab's
// policy, its state root and log in Dir (see RuncageIn).
func (l *Lab) Runtime(profile string) Runtime {
	return l.Bin.RuncageIn(l.Dir, profile, []string{"RUNCAGE_CONFIG=" + l.Policy})
}

// Runcage runs a runcage command of its own (`profile generate`,
// `denials`, ...) with the lab's policy and returns its stdout. Unless it
// exits 0 within five minutes it fails T with both outputs.
func (l *Lab) Runcage(args ...string) string {
	l.T.Helper()
	res := Runtime{Path: l.Bin.Runcage, Env: []string{"RUNCAGE_CONFIG=" + l.Policy}}.Exec(5*time.Minute, args...)
	if err := res.ExitError(); err != nil {
		l.T.Fatal(err)
	}
	return res.Stdout
}

// Generate runs `runcage profile generate` with flags on the recording
// name (RecDir/name.json), writing the profile profile into Profiles, and
// returns what it printed.
func (l *Lab) Generate(profile, name string, flags ...string) string {
	l.T.Helper()
	args := append([]string{"profile", "generate", "--name", profile, "--profiles-dir", l.Profiles}, flags...)
	return l.Runcage(append(args, filepath.Join(l.RecDir, name+".json"))...)
}

// Trace waits up to 30 s until the recording name is complete and returns
// it (WaitTrace), or fails T.
func (l *Lab) Trace(name string) *record.Trace {
	l.T.Helper()
	tr, err := WaitTrace(filepath.Join(l.RecDir, name+".json"), 30*time.Second)
	if err != nil {
		l.T.Fatal(err)
	}
	return tr
}

// DropSyscall removes the syscall name from every rule of the seccomp
// profile (OCI seccomp JSON) at path, and the rules left with no names,
// keeping everything else as it was.
func DropSyscall(path, name string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("drop %s: %w", name, err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return fmt.Errorf("drop %s: %s: %w", name, path, err)
	}
	var rules []map[string]any
	if err := json.Unmarshal(top["syscalls"], &rules); err != nil {
		return fmt.Errorf("drop %s: %s: %w", name, path, err)
	}
	var kept []map[string]any
	for _, r := range rules {
		names, _ := r["names"].([]any)
		names = slices.DeleteFunc(names, func(v any) bool { return v == name })
		if len(names) > 0 {
			r["names"] = names
			kept = append(kept, r)
		}
	}
	if top["syscalls"], err = json.Marshal(kept); err != nil {
		return fmt.Errorf("drop %s: %w", name, err)
	}
	out, err := json.Marshal(top)
	if err != nil {
		return fmt.Errorf("drop %s: %w", name, err)
	}
	return os.WriteFile(path, out, 0o644)
}

// DebianBench is the work place of a benchmark command on the Debian
// rootfs: the binaries under test, the cached rootfs (never written) and a
// private work directory.
type DebianBench struct {
	Bin    Binaries
	Rootfs string
	// Dir is mode 0755: runc remounts the id-mapped rootfs under the
	// state directory as the container's ids, so the path to it must be
	// searchable.
	Dir string
}

// NewDebianBench finds the binaries (FindBinaries) and the rootfs
// (DebianRootfs) and makes Dir, a new directory named prefix*; Close
// removes it.
func NewDebianBench(prefix string) (*DebianBench, error) {
	bin, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	rootfs, err := DebianRootfs()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &DebianBench{Bin: bin, Rootfs: rootfs, Dir: dir}, nil
}

// Close removes Dir and everything in it.
func (b *DebianBench) Close() error { return os.RemoveAll(b.Dir) }

// NginxConfPath is where the tests put NginxConf in a Debian rootfs.
const NginxConfPath = "/etc/runcage-test/nginx.conf"

// NginxConf runs nginx-light unprivileged (as uid 33: runcage profiles keep
// no capabilities) in the foreground on port 8080, serving /srv/www, with
// GET /health answered "ok\n" from memory, and large files with sendfile.
const NginxConf = `worker_processes 1;
pid /tmp/nginx.pid;
error_log stderr;
events { worker_connections 64; }
http {
	access_log off;
	sendfile on;
	client_body_temp_path /tmp/body;
	proxy_temp_path /tmp/proxy;
	fastcgi_temp_path /tmp/fastcgi;
	uwsgi_temp_path /tmp/uwsgi;
	scgi_temp_path /tmp/scgi;
	server {
		listen 8080;
		root /srv/www;
		location = /health { return 200 "ok\n"; }
	}
}
`

// NginxArgs runs nginx with NginxConf (at NginxConfPath) in the foreground.
func NginxArgs() []string {
	return []string{"nginx", "-e", "stderr", "-c", NginxConfPath, "-g", "daemon off;"}
}

// RedisArgs runs redis-server on port 6379 of the container's network
// namespace, with no persistence and no protected mode, plus extra.
func RedisArgs(extra ...string) []string {
	return append([]string{"redis-server", "--port", "6379", "--save", "", "--appendonly", "no", "--protected-mode", "no"}, extra...)
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

// StartPid is CreateStart, and returns the pid of the container's process
// (from `state`), or fails t.
func (r Runtime) StartPid(t testing.TB, bundle, id string) int {
	t.Helper()
	r.CreateStart(t, bundle, id)
	st, err := r.State(id)
	if err != nil {
		t.Fatal(err)
	}
	return st.Pid
}

// Stop sends container id the signal sig ("TERM", "KILL", ...), waits up
// to grace for it to stop, SIGKILLs it if it has not, and deletes it. It
// fails t if the container outlives SIGKILL by 20 s or the delete fails,
// and returns an error when sig alone did not stop it within grace.
func (r Runtime) Stop(t testing.TB, id, sig string, grace time.Duration) error {
	t.Helper()
	r.Exec(time.Minute, "kill", id, sig)
	waitErr := r.WaitStopped(id, grace)
	if waitErr != nil {
		r.Exec(time.Minute, "kill", id, "KILL")
		if err := r.WaitStopped(id, 20*time.Second); err != nil {
			t.Fatalf("container %s did not stop after SIGKILL: %v", id, err)
		}
	}
	if res := r.Exec(time.Minute, "delete", id); res.Exit != 0 {
		t.Fatalf("delete: %s", res)
	}
	if waitErr != nil {
		return fmt.Errorf("SIG%s did not stop it within %v: %w", sig, grace, waitErr)
	}
	return nil
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
