//go:build integration

// Package integration runs runcage and its delegate runc against real busybox
// containers. Everything here needs root, /bin/busybox (busybox-static) and
// the binaries built by `make build`; the files carry the `integration` build
// tag so that an ordinary `go test ./...` never touches them.
//
// The binaries under test come from $RUNCAGE and $RUNC, defaulting to
// bin/runcage and bin/runc in the repository, in the manner of runc's own
// bats suite ($RUNC).
package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ModulePath is the module whose root RepoRoot looks for.
const ModulePath = "github.com/runcage/runcage"

// HostBusybox is the statically linked busybox every test rootfs is made from.
const HostBusybox = "/bin/busybox"

// RepoRoot returns the root of the runcage module: the nearest directory at
// or above the working directory whose go.mod declares ModulePath.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repo root: %w", err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module "+ModulePath+"\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("find repo root: no go.mod for %s at or above the working directory", ModulePath)
		}
		dir = parent
	}
}

// Binaries names the two executables under test by absolute path.
type Binaries struct {
	Runcage string // $RUNCAGE, default <repo>/bin/runcage
	Runc    string // $RUNC, default <repo>/bin/runc
}

// FindBinaries resolves $RUNCAGE and $RUNC (or their defaults in <repo>/bin)
// and checks that both are executable files. Its error tells the reader to
// run `make build`; callers must fail on it, never skip.
func FindBinaries() (Binaries, error) {
	root, err := RepoRoot()
	if err != nil {
		return Binaries{}, err
	}
	var b Binaries
	for _, x := range []struct {
		env, def string
		dst      *string
	}{
		{"RUNCAGE", filepath.Join(root, "bin", "runcage"), &b.Runcage},
		{"RUNC", filepath.Join(root, "bin", "runc"), &b.Runc},
	} {
		if *x.dst, err = findBinary(x.env, x.def); err != nil {
			return Binaries{}, err
		}
	}
	return b, nil
}

// FindShim resolves $RUNCAGE_SHIM (default <repo>/bin/containerd-shim-runcage-v2),
// runcage's containerd shim, as FindBinaries resolves the others.
func FindShim() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return findBinary("RUNCAGE_SHIM", filepath.Join(root, "bin", "containerd-shim-runcage-v2"))
}

// findBinary returns the absolute path of $env, or of def when env is
// unset, checked to be an executable file.
func findBinary(env, def string) (string, error) {
	p := os.Getenv(env)
	if p == "" {
		p = def
	}
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	st, err := os.Stat(p)
	if err != nil || !st.Mode().IsRegular() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s binary %s is missing or not executable (run `make build` first, or set $%s): %v", env, p, env, err)
	}
	return p, nil
}

// TempDir makes a private directory for one test, mode 0755, removed when
// the test ends (the removal is registered first, so it runs last). Not
// t.TempDir: its path holds the test's name, which would leak into refusal
// messages and satisfy the substring checks on them. 0755 lets a container
// whose root is mapped to an unprivileged host id reach its bundle.
func TempDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// FileText returns the content of file p, or the error reading it in
// angle brackets, for failure messages.
func FileText(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return string(b)
}

// RootfsOptions adjusts the rootfs BuildRootfs makes.
type RootfsOptions struct {
	// Extra lists host files to copy into the rootfs, keyed by their
	// absolute path inside the rootfs (for example "/bin/probe").
	Extra map[string]string
	// Symlinks replaces directories of the rootfs with symbolic links,
	// keyed by path inside the rootfs ("/proc" → "/etc"). It exists to build
	// hostile bundles.
	Symlinks map[string]string
}

// BuildRootfs makes a minimal busybox root filesystem in dir, which must not
// exist yet or be empty: /bin/busybox copied from HostBusybox, one symlink per
// applet, the usual mount-point directories and an /etc/passwd.
func BuildRootfs(dir string, opt RootfsOptions) error {
	for _, d := range []string{"bin", "dev", "etc", "mnt", "proc", "root", "run", "sys", "tmp", "var"} {
		if _, ok := opt.Symlinks["/"+d]; ok {
			continue
		}
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return fmt.Errorf("build rootfs: %w", err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o777|fs.ModeSticky); err != nil {
		return fmt.Errorf("build rootfs: %w", err)
	}
	if err := copyFile(HostBusybox, filepath.Join(dir, "bin", "busybox"), 0o755); err != nil {
		return fmt.Errorf("build rootfs: %w", err)
	}
	list, err := exec.Command(HostBusybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("build rootfs: %s --list: %w", HostBusybox, err)
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet == "busybox" || strings.Contains(applet, "/") {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", applet)); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("build rootfs: %w", err)
		}
	}
	for name, content := range map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
		"etc/group":  "root:x:0:\nnobody:x:65534:\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("build rootfs: %w", err)
		}
	}
	for in, host := range opt.Extra {
		dst := filepath.Join(dir, filepath.Clean("/"+in))
		if err := copyFile(host, dst, 0o755); err != nil {
			return fmt.Errorf("build rootfs: %w", err)
		}
	}
	for in, target := range opt.Symlinks {
		dst := filepath.Join(dir, filepath.Clean("/"+in))
		if err := os.RemoveAll(dst); err != nil {
			return fmt.Errorf("build rootfs: %w", err)
		}
		if err := os.Symlink(target, dst); err != nil {
			return fmt.Errorf("build rootfs: %w", err)
		}
	}
	return nil
}

func copyFile(src, dst string, mode fs.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, mode)
}

// BuildProbe compiles the static probe program (integration/probe) to out.
// The probe runs inside containers and reports the errno of syscalls that
// busybox cannot issue directly.
func BuildProbe(out string) error {
	return buildStatic("probe", out)
}

// BuildPause compiles the static pause program (integration/pause) to out.
func BuildPause(out string) error {
	return buildStatic("pause", out)
}

// buildStatic compiles the program integration/<name> of this module,
// without cgo, to out.
func buildStatic(name, out string) error {
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-tags", "integration", "-trimpath", "-o", out, "./integration/"+name)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s: %w: %s", name, err, b)
	}
	return nil
}

// BuildOnce hands every test of one test binary the same program, which
// Build makes on first use. TestMain calls Remove after m.Run.
type BuildOnce struct {
	// Name names the program's file and its temporary directory.
	Name string
	// Build writes the program to out, a path in an empty directory of its
	// own.
	Build func(out string) error

	once sync.Once
	dir  string
	path string
	err  error
}

// ProbeOnce returns a BuildOnce of the probe (BuildProbe).
func ProbeOnce() *BuildOnce {
	return &BuildOnce{Name: "probe", Build: BuildProbe}
}

// Path builds the program on its first call and returns its path; a
// failed build fails t, at every call.
func (b *BuildOnce) Path(t testing.TB) string {
	t.Helper()
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", "runcage-"+b.Name+"-"); b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, b.Name)
		b.err = b.Build(b.path)
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// Remove deletes the program's directory, if Path made one.
func (b *BuildOnce) Remove() {
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}

// RuncSpecCaps are the capabilities `runc spec` puts in all its sets.
var RuncSpecCaps = []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}

// DockerDefaultCaps are the capabilities Docker and containerd grant by
// default. runcage's default profile drops them silently.
var DockerDefaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// DockerMaskedPaths is Docker's default list of masked paths.
var DockerMaskedPaths = []string{
	"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
	"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
	"/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
}

// capNumbers maps capability names to their bit numbers (linux/capability.h).
var capNumbers = map[string]uint{
	"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
	"CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8,
	"CAP_LINUX_IMMUTABLE": 9, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11,
	"CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15,
	"CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
	"CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
	"CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27,
	"CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31,
	"CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35,
	"CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39,
	"CAP_CHECKPOINT_RESTORE": 40,
}

// CapMask returns the /proc/<pid>/status rendering ("%016x") of the set of
// named capabilities. It panics on an unknown name: callers pass constants.
func CapMask(names []string) string {
	var m uint64
	for _, n := range names {
		bit, ok := capNumbers[n]
		if !ok {
			panic("CapMask: unknown capability " + n)
		}
		m |= 1 << bit
	}
	return fmt.Sprintf("%016x", m)
}

// BaseSpec returns the spec `runc spec` (runc 1.5) writes, except that the
// process has no terminal, runs args, and the rootfs is writable, as Docker
// makes it. caps fills the bounding, effective and permitted sets, as
// `runc spec` does.
func BaseSpec(caps []string, args ...string) *specs.Spec {
	c := func() []string { return append([]string(nil), caps...) }
	return &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: "rootfs"},
		Process: &specs.Process{
			Args: args,
			Env: []string{
				"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"TERM=xterm",
			},
			Cwd:             "/",
			NoNewPrivileges: true,
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  c(),
				Effective: c(),
				Permitted: c(),
			},
			Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
		},
		Hostname: "runcage-test",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		},
		Linux: &specs.Linux{
			MaskedPaths: []string{
				"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
			},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
			Resources: &specs.LinuxResources{
				Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
			},
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace},
				{Type: specs.NetworkNamespace},
				{Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace},
				{Type: specs.MountNamespace},
			},
		},
	}
}

// WriteConfig writes b as dir/config.json, creating dir.
func WriteConfig(dir string, b []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}

// MarshalSpec renders s the way `runc spec` does (indented JSON).
func MarshalSpec(s *specs.Spec) ([]byte, error) {
	b, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return nil, fmt.Errorf("marshal spec: %w", err)
	}
	return append(b, '\n'), nil
}

// WriteBundle writes s, rendered by MarshalSpec, as the config.json of the
// bundle dir (WriteConfig, which creates dir), or fails t.
func WriteBundle(t testing.TB, dir string, s *specs.Spec) {
	t.Helper()
	b, err := MarshalSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteConfig(dir, b); err != nil {
		t.Fatal(err)
	}
}

var idSeq atomic.Int64

// NewID returns a container id, prefix-PID-N, that no other call in any
// test binary running now returns: N counts the calls in this process.
func NewID(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), idSeq.Add(1))
}

// Runtime is one way of invoking an OCI runtime binary with runc's command
// line: Path, then Pre (runcage's own flags, if any), then the runc global
// flags --root Root and, if Log is set, --log Log --log-format json, exactly
// as containerd passes them. Env is added to the test's environment.
type Runtime struct {
	Name string
	Path string
	Pre  []string
	Env  []string
	Root string
	Log  string
}

// Argv returns the full argument vector (without Path) for a verb and its
// arguments.
func (r Runtime) Argv(args ...string) []string {
	argv := append([]string(nil), r.Pre...)
	if r.Root != "" {
		argv = append(argv, "--root", r.Root)
	}
	if r.Log != "" {
		argv = append(argv, "--log", r.Log, "--log-format", "json")
	}
	return append(argv, args...)
}

// Result is the outcome of one runtime invocation.
type Result struct {
	Argv    []string
	Stdout  string
	Stderr  string
	Exit    int // exit status; -1 if killed by a signal or not started
	Elapsed time.Duration
	Rusage  *syscall.Rusage // from wait4; nil if the process did not start
	Err     error           // start failure or timeout, not a non-zero exit
	// Hung describes, after a timeout, where the command's processes and
	// runc's and runcage's were waiting just before the kill.
	Hung string
}

func (res Result) String() string {
	s := fmt.Sprintf("%q: exit %d (err %v)\nstdout:\n%s\nstderr:\n%s", res.Argv, res.Exit, res.Err, res.Stdout, res.Stderr)
	if res.Hung != "" {
		s += "\nprocesses when it timed out:\n" + res.Hung
	}
	return s
}

// ExitError returns nil if the invocation exited 0, or an error that
// shows it.
func (res Result) ExitError() error {
	if res.Exit == 0 && res.Err == nil {
		return nil
	}
	return errors.New(res.String())
}

// Exec runs the runtime with args and waits up to timeout for it to exit.
// It never uses a shell. Stdin is /dev/null. Stdout and stderr go to
// temporary files rather than pipes, so a detached container that inherits
// them (after `create`) cannot keep Exec waiting.
func (r Runtime) Exec(timeout time.Duration, args ...string) Result {
	return execWait(timeout, r.Path, r.Argv(args...), append(os.Environ(), r.Env...))
}

// execWait runs path with argv and exactly env, as Runtime.Exec describes.
func execWait(timeout time.Duration, path string, argv, env []string) Result {
	res := Result{Argv: append([]string{path}, argv...), Exit: -1}
	var files [2]*os.File
	for i := range files {
		f, err := os.CreateTemp("", "runcage-it-out-")
		if err != nil {
			res.Err = err
			return res
		}
		os.Remove(f.Name())
		defer f.Close()
		files[i] = f
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, argv...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = files[0], files[1]
	cmd.Cancel = func() error {
		res.Hung = hangReport(cmd.Process.Pid)
		return cmd.Process.Kill()
	}
	start := time.Now()
	err := cmd.Run()
	res.Elapsed = time.Since(start)
	out := func(f *os.File) string {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
		return string(b)
	}
	res.Stdout, res.Stderr = out(files[0]), out(files[1])
	if cmd.ProcessState != nil {
		res.Exit = cmd.ProcessState.ExitCode()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			res.Rusage = ru
		}
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		res.Err = err
	}
	if ctx.Err() != nil {
		res.Err = fmt.Errorf("timed out after %v: %w", timeout, ctx.Err())
	}
	return res
}

// RuncIn returns plain runc with its state root and log file in dir
// (root-runc, runc.log).
func (b Binaries) RuncIn(dir string) Runtime {
	return Runtime{Name: "runc", Path: b.Runc, Root: filepath.Join(dir, "root-runc"), Log: filepath.Join(dir, "runc.log")}
}

// RuncageIn returns runcage with --runcage-profile profile (none if
// profile is empty, which selects the policy's default) and env, its state
// root in dir (root-runcage) and a log file there named after the profile
// (runcage.log, runcage-<profile>.log).
func (b Binaries) RuncageIn(dir, profile string, env []string) Runtime {
	r := Runtime{Name: "runcage", Path: b.Runcage, Env: env, Root: filepath.Join(dir, "root-runcage"), Log: filepath.Join(dir, "runcage.log")}
	if profile != "" {
		r.Name += "/" + profile
		r.Pre = []string{"--runcage-profile", profile}
		r.Log = filepath.Join(dir, "runcage-"+profile+".log")
	}
	return r
}

// PolicyFile writes text to a new file policy-*.toml in dir and returns
// its path, or fails t.
func PolicyFile(t testing.TB, dir, text string) string {
	t.Helper()
	f, err := os.CreateTemp(dir, "policy-*.toml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

// LogLine is one line of a runc-format JSON log file.
type LogLine struct {
	Level string `json:"level"`
	Msg   string `json:"msg"`
	Time  string `json:"time"`
}

// ReadLogLines returns the raw lines of a log file (without their newline)
// and the parse of each. A missing file has no lines. Lines that are not
// JSON objects are returned with a parse error.
func ReadLogLines(path string) (raw []string, parsed []LogLine, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if l == "" {
			continue
		}
		l = strings.TrimSuffix(l, "\n")
		var ll LogLine
		if jerr := json.Unmarshal([]byte(l), &ll); jerr != nil {
			err = errors.Join(err, fmt.Errorf("log line %q is not JSON: %w", l, jerr))
		}
		raw = append(raw, l)
		parsed = append(parsed, ll)
	}
	return raw, parsed, err
}
