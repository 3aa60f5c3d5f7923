//go:build integration

package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// HostPATH is the only environment host helpers and daemons started by the
// tests get (plus what a test adds), so that nothing of the test's own
// environment (RUNCAGE_CONFIG, for instance) leaks into a daemon unseen.
const HostPATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// WriteTarTree writes the tree under root to w as a tar stream owned by
// 0:0 with fixed times, suitable for `docker import -` or `podman import -`.
// root must be a directory the test built or a cached rootfs it only reads;
// symbolic links are stored, never followed.
func WriteTarTree(w io.Writer, root string) error {
	if err := tarTree(w, root); err != nil {
		return fmt.Errorf("tar %s: %w", root, err)
	}
	return nil
}

// ImportImage pipes a tar of root into `cli... import - ref` (docker or
// podman, with their own global flags in cli) and waits up to timeout.
func ImportImage(cli []string, env []string, root, ref string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	argv := append(append([]string(nil), cli[1:]...), "import", "-", ref)
	cmd := exec.CommandContext(ctx, cli[0], argv...)
	cmd.Env = env
	pr, pw := io.Pipe()
	cmd.Stdin = pr
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("import %s: %w", ref, err)
	}
	werr := make(chan error, 1)
	go func() {
		err := WriteTarTree(pw, root)
		pw.CloseWithError(err)
		werr <- err
	}()
	err := cmd.Wait()
	pr.Close()
	if terr := <-werr; terr != nil && err == nil {
		err = terr
	}
	if err != nil {
		return fmt.Errorf("import %s: %w: %s", ref, err, out.String())
	}
	return nil
}

// Daemon is a container engine daemon (dockerd) a test starts itself, in
// its own process group, with a private socket. Stop ends it and
// everything in its process group.
type Daemon struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
	// LogPath receives the daemon's stdout and stderr.
	LogPath string
}

// StartDaemon starts argv with exactly env, logging to logPath, in a new
// process group. It does not wait for readiness: see WaitHTTPSocket.
func StartDaemon(name string, argv, env []string, logPath string) (*Daemon, error) {
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	d := &Daemon{Name: name, cmd: cmd, done: make(chan struct{}), log: f, LogPath: logPath}
	go func() { cmd.Wait(); close(d.done) }()
	return d, nil
}

// Exited reports whether the daemon has exited.
func (d *Daemon) Exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM, waits up to grace, then SIGKILLs the daemon's
// process group. It returns an error if SIGKILL was needed.
func (d *Daemon) Stop(grace time.Duration) error {
	defer d.log.Close()
	if d.Exited() {
		return nil
	}
	_ = d.cmd.Process.Signal(unix.SIGTERM)
	select {
	case <-d.done:
		_ = unix.Kill(-d.cmd.Process.Pid, unix.SIGKILL) // stragglers in its group
		return nil
	case <-time.After(grace):
	}
	_ = unix.Kill(-d.cmd.Process.Pid, unix.SIGKILL)
	<-d.done
	return fmt.Errorf("stop %s: SIGTERM did not stop it in %v; killed", d.Name, grace)
}

// LogTail returns the last n bytes of the daemon's log.
func (d *Daemon) LogTail(n int) string {
	b, _ := os.ReadFile(d.LogPath)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// WaitHTTPSocket waits until an HTTP GET of path on the unix socket sock
// answers 200 (dockerd's and podman's /_ping), or the daemon exits, or
// timeout passes.
func WaitHTTPSocket(d *Daemon, sock, path string, timeout time.Duration) error {
	client := &http.Client{
		Timeout: 2 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", sock)
		}},
	}
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if d != nil && d.Exited() {
			return fmt.Errorf("%s exited before %s answered: %s", d.Name, sock, d.LogTail(2048))
		}
		resp, err := client.Get("http://daemon" + path)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer in %v: %v", sock, timeout, last)
}

// UnmountUnder lazily unmounts every mount point at or below dir, deepest
// (last mounted) first, and reports those it could not unmount.
func UnmountUnder(dir string) error {
	mounts, err := MountPointsUnder(dir)
	if err != nil {
		return err
	}
	var errs []error
	for i := len(mounts) - 1; i >= 0; i-- {
		if err := unix.Unmount(mounts[i], unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", mounts[i], err))
		}
	}
	return errors.Join(errs...)
}

// KillProcessesUnder SIGKILLs every process whose command line mentions
// dir (shims and runtimes started for a private daemon root), and returns
// their descriptions.
func KillProcessesUnder(dir string) []string {
	entries, _ := os.ReadDir("/proc")
	var killed []string
	self := os.Getpid()
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil || pid == self {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(b, []byte(dir)) {
			continue
		}
		if unix.Kill(pid, unix.SIGKILL) == nil {
			killed = append(killed, fmt.Sprintf("%d %s", pid, strings.ReplaceAll(string(bytes.TrimRight(b, "\x00")), "\x00", " ")))
		}
	}
	return killed
}

// StopDenialAgent stops the denial agent of runcage's state directory
// stateDir the documented way: it removes the agent's socket and waits for
// the agent to notice (it checks every 3 s) and exit. It fails if the agent
// is still running after 10 s.
func StopDenialAgent(stateDir string) error {
	if stateDir == "" {
		return nil
	}
	sock := filepath.Join(stateDir, "agents", "denials.sock")
	if err := os.Remove(sock); err != nil && !os.IsNotExist(err) {
		return err
	}
	cfg := []byte(sock + ".json")
	return waitGone("the denial agent of "+stateDir, func(cmdline []byte) bool { return bytes.Contains(cmdline, cfg) })
}

// StopWarm stops the warm fronts of runcage's state directory stateDir the
// documented way: it removes their sockets and waits for them to notice
// (they check every 2 s) and exit. It fails if one still runs after 10 s.
func StopWarm(stateDir string) error {
	if stateDir == "" {
		return nil
	}
	socks, _ := filepath.Glob(filepath.Join(stateDir, "warm", "*.sock"))
	for _, s := range socks {
		if err := os.Remove(s); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return waitGone("the warm front of "+stateDir, isWarm(stateDir))
}

// WarmPid returns the pid of the warm front serving stateDir, or 0.
func WarmPid(stateDir string) int { return findProc(isWarm(stateDir)) }

// isWarm matches the command line of a warm front of stateDir.
func isWarm(stateDir string) func([]byte) bool {
	dir := []byte(filepath.Join(stateDir, "warm") + "/")
	return func(cmdline []byte) bool {
		return bytes.HasPrefix(cmdline, []byte("runcage[warm]\x00")) && bytes.Contains(cmdline, dir)
	}
}

// findProc returns the pid of a process whose command line (NUL-separated)
// matches, or 0.
func findProc(match func(cmdline []byte) bool) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		if b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil && match(b) {
			return pid
		}
	}
	return 0
}

// waitGone waits up to 10 s until no process matches; what names them in
// the error.
func waitGone(what string, match func(cmdline []byte) bool) error {
	for deadline := time.Now().Add(10 * time.Second); findProc(match) != 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still runs 10 s after its socket was removed", what)
		}
	}
	return nil
}

// ReportScript is a POSIX sh script (busybox or Debian) that prints, as
// "name: value" lines for ProcStatusFields, what the engine suites assert
// on: the capability, no_new_privs and seccomp lines of /proc/self/status,
// the id maps, the uid, the ping_group_range sysctl, whether writes to the
// rootfs (/etc) and to /vol (when mounted) work, and "end: ok".
const ReportScript = `
grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/self/status
echo "uid_map: $(tr -s ' \n' ' ' </proc/self/uid_map)"
echo "gid_map: $(tr -s ' \n' ' ' </proc/self/gid_map)"
echo "uid: $(id -u)"
echo "ping_group_range: $(cat /proc/sys/net/ipv4/ping_group_range 2>&1 | tr -s '\t ' ' ')"
if touch /etc/runcage-rootfs-write; then echo "rootfs_write: ok"; else echo "rootfs_write: fail"; fi
if [ -d /vol ]; then
	if echo hello >/vol/from-container; then echo "volume_write: ok"; else echo "volume_write: fail"; fi
fi
echo "end: ok"
`

// InsideScript returns a POSIX sh script for the busybox image (with the
// probe) that prints, as "name: value" lines for ProcStatusFields, the
// capability, no_new_privs and seccomp lines of /proc/self/status, the uid
// map, the owner of /bin/busybox as seen inside, and whether a write to
// the image's root-owned /etc works and reads back; then runs volume (a
// shell line that reports volume_write) and /bin/probe.
func InsideScript(volume string) string {
	return `
grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/self/status
echo "uid_map: $(cat /proc/self/uid_map)"
echo "busybox_owner: $(stat -c %u:%g /bin/busybox)"
if echo rootfs-write >/etc/runcage-written && [ "$(cat /etc/runcage-written)" = rootfs-write ] && rm /etc/runcage-written; then
	echo "rootfs_write: ok"
else
	echo "rootfs_write: failed"
fi
` + volume + `
/bin/probe
`
}

// CheckHardenedReport checks the output of ReportScript run by a process
// that runcage's default profile confined: complete, HardenedStatus, one
// 65536-id uid and gid range that is neither the identity nor maps host
// root, uid 0 inside, and a writable rootfs. It returns the parsed fields
// and one error per violation.
func CheckHardenedReport(out string) (map[string]string, error) {
	f := ProcStatusFields(out)
	if f["end"] != "ok" {
		return f, fmt.Errorf("report incomplete:\n%s", out)
	}
	var errs []error
	if err := HardenedStatus(f); err != nil {
		errs = append(errs, fmt.Errorf("not hardened: %w", err))
	}
	for _, k := range []string{"uid_map", "gid_map"} {
		m, err := ParseIDMapText(f[k])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", k, err))
			continue
		}
		if IsIdentityMap(m) || MapsHostRoot(m) || len(m) != 1 || m[0].Size != 65536 {
			errs = append(errs, fmt.Errorf("%s = %q: want one 65536-id range that is not the host's root", k, f[k]))
		}
	}
	if f["uid"] != "0" {
		errs = append(errs, fmt.Errorf("uid %q, want 0 (root in the container)", f["uid"]))
	}
	if f["rootfs_write"] != "ok" {
		errs = append(errs, errors.New("container root cannot write to its rootfs"))
	}
	if err := errors.Join(errs...); err != nil {
		return f, fmt.Errorf("%w\n%s", err, out)
	}
	return f, nil
}

// Suite is the life cycle of an integration suite: Setup, if set, runs
// once before the tests, Teardown, if set, once after them (also when
// Setup failed, to stop what it started), and OnSetupError, if set, prints
// diagnostics such as a daemon's log tail.
type Suite struct {
	Name         string // printed in the timing lines: "docker", "cri", ...
	Needs        string // why the suite needs root, for the refusal line
	Setup        func() error
	Teardown     func() error
	OnSetupError func()
}

// Run runs the suite's tests and returns the exit code for TestMain. It
// refuses (exit 2, with the reason) to run as non-root, and it never skips:
// a failed setup is a failed suite, so CI cannot pass without the engine.
func (s Suite) Run(m interface{ Run() int }) int {
	if os.Geteuid() != 0 {
		fmt.Fprintf(os.Stderr, "%s integration tests must run as root: %s\n", s.Name, s.Needs)
		return 2
	}
	start := time.Now()
	var err error
	if s.Setup != nil {
		err = s.Setup()
		fmt.Fprintf(os.Stderr, "%s suite: setup %v\n", s.Name, time.Since(start).Round(time.Millisecond))
	}
	code := 2
	if err != nil {
		fmt.Fprintln(os.Stderr, "setup:", err)
		if s.OnSetupError != nil {
			s.OnSetupError()
		}
	} else {
		code = m.Run()
	}
	if s.Teardown != nil {
		if err := s.Teardown(); err != nil {
			fmt.Fprintln(os.Stderr, "teardown:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	fmt.Fprintf(os.Stderr, "%s suite: total %v\n", s.Name, time.Since(start).Round(time.Millisecond))
	return code
}

// Engine is what every engine suite (docker, podman, containerd, cri)
// starts its engine from: the binaries under test, a private work
// directory with the probe built into it, and runcage's state directory
// for the suite's policy. EngineSuite.Run fills it in before Start.
type Engine struct {
	Bins Binaries
	// WorkDir is the suite's private directory, mode 0711: a container's
	// root is mapped to a host id that owns nothing here and must still
	// reach what lies below.
	WorkDir string
	// Probe is the static probe (BuildProbe), at WorkDir/probe.
	Probe string
	// StateDir is runcage's state_dir in the policy WritePolicy writes,
	// WorkDir/runcage-state.
	StateDir string

	vols atomic.Int64
}

// EngineSuite is the one set-up and tear-down of the engine suites.
// Run checks root, the binaries under test and Tools, makes the work
// directory and the probe, then calls Start; after the tests it calls Stop,
// kills any process still naming the work directory, deals with the mounts
// left in it (see MountsAreLeaks) and removes it.
type EngineSuite struct {
	Name string // "docker", "podman", "containerd", "cri"
	// Tools are the host programs the suite runs, which the Debian package
	// Package provides.
	Tools   []string
	Package string
	// Engine is the suite's Engine, filled in before Start.
	Engine *Engine
	// Start starts the engine and imports the images.
	Start func() error
	// Stop removes the suite's containers and stops the engine; it runs,
	// when set, also after a failed Start.
	Stop func() error
	// MountsAreLeaks makes a mount left under the work directory after
	// Stop fail the suite: the engine keeps its own state elsewhere, so
	// only runcage can have left it. When false (dockerd and podman keep
	// their storage in the work directory) such mounts are unmounted.
	MountsAreLeaks bool
	// OnSetupError, if set, prints diagnostics after a failed set-up.
	OnSetupError func()
}

// Run runs the suite's tests and returns the exit code for TestMain (see
// Suite.Run).
func (s EngineSuite) Run(m interface{ Run() int }) int {
	return Suite{Name: s.Name, Needs: "they start the engine and real containers",
		Setup: s.setup, Teardown: s.teardown, OnSetupError: s.OnSetupError}.Run(m)
}

func (s EngineSuite) setup() error {
	e := s.Engine
	var err error
	if e.Bins, err = FindBinaries(); err != nil {
		return err
	}
	// Profiles with Landlock rules need the helper beside runcage.
	if _, err := LandlockHelperBeside(e.Bins.Runcage); err != nil {
		return err
	}
	for _, tool := range s.Tools {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not installed (make deps installs %s): %w", tool, s.Package, err)
		}
	}
	if e.WorkDir, err = os.MkdirTemp("", "runcage-"+s.Name+"-it-"); err != nil {
		return err
	}
	if err := os.Chmod(e.WorkDir, 0o711); err != nil {
		return err
	}
	e.StateDir = filepath.Join(e.WorkDir, "runcage-state")
	e.Probe = filepath.Join(e.WorkDir, "probe")
	if err := BuildProbe(e.Probe); err != nil {
		return err
	}
	return s.Start()
}

func (s EngineSuite) teardown() error {
	var errs []error
	if s.Stop != nil {
		errs = append(errs, s.Stop())
	}
	dir := s.Engine.WorkDir
	if dir == "" {
		return errors.Join(errs...)
	}
	// The node's denial agent outlives containers by design; it exits
	// when its socket goes. Any other process left is a leak.
	if err := StopDenialAgent(s.Engine.StateDir); err != nil {
		errs = append(errs, err)
	}
	for _, k := range KillProcessesUnder(dir) {
		errs = append(errs, errors.New("killed leftover process "+k))
	}
	if s.MountsAreLeaks {
		if mounts, _ := MountPointsUnder(dir); len(mounts) > 0 {
			errs = append(errs, fmt.Errorf("mounts left under %s: %q", dir, mounts))
		}
	}
	errs = append(errs, UnmountUnder(dir), os.RemoveAll(dir))
	return errors.Join(errs...)
}

// BusyboxRootfs builds a busybox rootfs with the probe as /bin/probe at
// WorkDir/busybox-rootfs and returns its path.
func (e *Engine) BusyboxRootfs() (string, error) {
	dir := filepath.Join(e.WorkDir, "busybox-rootfs")
	return dir, BuildRootfs(dir, e.probeRootfs())
}

// BusyboxArchive is BuildImageArchive of a busybox image named ref with
// the probe as /bin/probe and /bin/sh as its command, in WorkDir.
func (e *Engine) BusyboxArchive(ref string) (string, error) {
	return BuildImageArchive(e.WorkDir, OCIImage{
		Name: ref,
		Cmd:  []string{"/bin/sh"},
		Env:  []string{HostPATH},
	}, e.probeRootfs())
}

func (e *Engine) probeRootfs() RootfsOptions {
	return RootfsOptions{Extra: map[string]string{"/bin/probe": e.Probe}}
}

// WritePolicy writes the suite's runcage policy to WorkDir/policy.toml and
// returns its path: runc from $RUNC as the delegate, StateDir, the volume
// root WorkDir/vols (see Volume), engineState (the engine's private state
// directories) as engine state, then extra.
func (e *Engine) WritePolicy(engineState []string, extra string) (string, error) {
	quoted := make([]string, len(engineState))
	for i, d := range engineState {
		quoted[i] = strconv.Quote(d)
	}
	text := "runtime = " + strconv.Quote(e.Bins.Runc) + "\nstate_dir = " + strconv.Quote(e.StateDir) +
		"\nvolume_roots = [" + strconv.Quote(filepath.Join(e.WorkDir, "vols")) + "]\nengine_state_dirs = [" +
		strings.Join(quoted, ", ") + "]\n" + extra
	path := filepath.Join(e.WorkDir, "policy.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return "", fmt.Errorf("write policy: %w", err)
	}
	return path, nil
}

// Volume makes a new, empty directory under the policy's volume root
// (mode 0755) for a test to bind into containers, and returns it.
func (e *Engine) Volume(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(e.WorkDir, "vols", "vol-"+strconv.FormatInt(e.vols.Add(1), 10))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// CLI is an engine's command-line client: Argv is the program and its
// global flags, run with exactly Env.
type CLI struct {
	Argv []string
	Env  []string
}

// Run runs the client with args, never through a shell, and waits up to
// timeout (see Runtime.Exec).
func (c CLI) Run(timeout time.Duration, args ...string) Result {
	return execWait(timeout, c.Argv[0], append(append([]string(nil), c.Argv[1:]...), args...), c.Env)
}

// CheckRefusal checks that out, what an engine reported for a container
// runcage refused, carries runcage's refusal: its "runcage: " prefix and
// every string of want.
func CheckRefusal(out string, want ...string) error {
	for _, w := range append([]string{"runcage: "}, want...) {
		if !strings.Contains(out, w) {
			return fmt.Errorf("the engine's error does not carry runcage's refusal (no %q):\n%s", w, out)
		}
	}
	return nil
}

// RunFlags is a set of `docker run` or `podman run` flags that runcage's
// default profile refuses, and a string its refusal carries.
type RunFlags struct {
	Args []string
	Want string
}

// CommonRefusals are the run flags, the same for the docker and podman
// CLIs, that runcage's default profile refuses.
var CommonRefusals = []RunFlags{
	{[]string{"--privileged"}, "refused"},
	{[]string{"--cap-add", "SYS_ADMIN"}, `capability "CAP_SYS_ADMIN"`},
	{[]string{"--pid", "host"}, "refused"},
	// Devices: through --device and through a bind.
	{[]string{"--device", "/dev/kmsg"}, `"/dev/kmsg" refused`},
	{[]string{"-v", "/dev/kmsg:/dev/kmsg"}, "refused"},
}

// CheckRefused checks that res, an engine CLI's run of a container that
// runcage must refuse, failed, and that its stderr carries runcage's
// refusal with every string of want (CheckRefusal).
func CheckRefused(res Result, want ...string) error {
	if res.Exit == 0 {
		return fmt.Errorf("container ran:\n%s", res)
	}
	return CheckRefusal(res.Stderr, want...)
}

// CheckVolumeWrite checks the report of a container root that wrote
// hostFile through an id-mapped volume (ReportScript's volume_write): the
// write worked, and the file is owned by host 0:0, the id container root
// has in the image, not by the container's host range.
func CheckVolumeWrite(fields map[string]string, hostFile string) error {
	if fields["volume_write"] != "ok" {
		return fmt.Errorf("container root cannot write to its volume: volume_write %q", fields["volume_write"])
	}
	var st syscall.Stat_t
	if err := syscall.Stat(hostFile, &st); err != nil {
		return fmt.Errorf("volume file: %w", err)
	}
	if st.Uid != 0 || st.Gid != 0 {
		return fmt.Errorf("file written by container root is owned by %d:%d on the host, want 0:0 (id-mapped volume)", st.Uid, st.Gid)
	}
	return nil
}

// ContainerdEngine makes a containerd (NewContainerd) for the suite and
// writes the suite's policy (WritePolicy, with extra), which names the
// daemon's private root and state as engine state, as /var/lib/containerd
// and /run/containerd are by default. It returns the daemon, not started
// (also with an error, once made: Shutdown it), and the policy's path.
func (e *Engine) ContainerdEngine(extra string) (*Containerd, string, error) {
	c, err := NewContainerd()
	if err != nil {
		return nil, "", err
	}
	policy, err := e.WritePolicy([]string{c.Root, c.State}, extra)
	return c, policy, err
}

// ProcFile returns the text of /proc/<pid>/<name>, or fails t.
func ProcFile(t testing.TB, pid int, name string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, name))
	if err != nil {
		t.Fatalf("read /proc/%d/%s: %v", pid, name, err)
	}
	return string(b)
}
