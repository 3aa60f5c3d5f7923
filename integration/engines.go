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
	"strings"
	"syscall"
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

// Suite is the life cycle of an integration suite that starts daemons of
// its own: Setup runs once before the tests, Teardown once after them
// (also when Setup failed, to stop what it started), and OnSetupError, if
// set, prints diagnostics such as a daemon's log tail.
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
	err := s.Setup()
	fmt.Fprintf(os.Stderr, "%s suite: setup %v\n", s.Name, time.Since(start).Round(time.Millisecond))
	code := 2
	if err != nil {
		fmt.Fprintln(os.Stderr, "setup:", err)
		if s.OnSetupError != nil {
			s.OnSetupError()
		}
	} else {
		code = m.Run()
	}
	if err := s.Teardown(); err != nil {
		fmt.Fprintln(os.Stderr, "teardown:", err)
		if code == 0 {
			code = 1
		}
	}
	fmt.Fprintf(os.Stderr, "%s suite: total %v\n", s.Name, time.Since(start).Round(time.Millisecond))
	return code
}
