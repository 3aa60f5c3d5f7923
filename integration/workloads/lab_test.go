//go:build integration

// Package workloads tests generated profiles on server workloads that the
// other suites never use, with real runc through runcage: each workload is
// recorded under the record profile while a short exercise runs, a profile
// is generated from that one trace, and a full exercise must then pass
// under the generated, enforced profile five times in a row
// (TestWorkloads). TestRecordCapabilities checks that a server which needs
// a capability records and generates in one pass.
//
// The Debian root filesystem comes from integration/rootfs/workloads.sh
// (built once, a few minutes, cached under /var/tmp/runcage-workloads).
package workloads

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/integration"
	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/record"
	"github.com/runcage/runcage/profiles/seccomp"
)

var bin integration.Binaries

func TestMain(m *testing.M) {
	os.Exit(integration.Suite{
		Name:  "workloads",
		Needs: "it creates real containers",
		Setup: func() (err error) {
			bin, err = integration.FindBinaries()
			return err
		},
		Teardown: func() error {
			gosrv.Remove()
			return nil
		},
	}.Run(m))
}

// lab is one test's policy and private directories.
type lab struct{ *integration.Lab }

// newLab writes a policy whose state, recordings, audit log and profiles
// live under a fresh directory; extra is appended to it.
func newLab(t *testing.T, extra string) *lab {
	t.Helper()
	return &lab{integration.NewLab(t, bin, "runcage-workloads-", extra)}
}

// box is one container of a lab.
type box struct {
	l      *lab
	rt     integration.Runtime
	id     string
	rootfs string // the container's root filesystem, as the host sees it
	upper  string // the overlay's upper directory, "" without an overlay
	pid    int
}

// layout is what a container is made of.
type layout struct {
	// Lower is a read-only root filesystem to put an overlay on; empty
	// means a fresh busybox one (integration.BuildRootfs).
	Lower string
	// Files are written into the root filesystem before the start: path
	// inside it to content.
	Files map[string][]byte
	// Caps are the capabilities the bundle asks for, in bounding,
	// effective and permitted, as an engine's bundle does.
	Caps []string
	// User is the process's user; the zero value is root.
	User specs.User
	// Recording names the trace (runcage.dev/recording-name).
	Recording string
	// Args is the process.
	Args []string
}

// start creates and starts a container under profile and returns it. The
// container is deleted when the test ends.
func (l *lab) start(profile, name string, lay layout) *box {
	l.T.Helper()
	b := &box{l: l, rt: l.Runtime(profile), id: integration.NewID("wl")}
	bdir := filepath.Join(l.Dir, fmt.Sprintf("%s-%s", name, b.id))
	if lay.Lower == "" {
		b.rootfs = filepath.Join(bdir, "rootfs")
		if err := integration.BuildRootfs(b.rootfs, integration.RootfsOptions{}); err != nil {
			l.T.Fatal(err)
		}
	} else {
		b.rootfs = integration.OverlayOn(l.T, lay.Lower, filepath.Join(bdir, "ovl"))
		b.upper = filepath.Join(bdir, "ovl", "upper")
	}
	integration.WriteFiles(l.T, b.rootfs, lay.Files, 0o755)
	s := integration.BaseSpec(lay.Caps, lay.Args...)
	s.Root.Path = b.rootfs
	s.Process.User = lay.User
	if lay.Recording != "" {
		s.Annotations = map[string]string{"runcage.dev/recording-name": lay.Recording}
	}
	integration.WriteBundle(l.T, bdir, s)
	// A create or start that hangs fails after a minute; before that,
	// note what runcage's processes and agents were doing.
	hung := time.AfterFunc(45*time.Second, func() { l.T.Logf("create or start of %s still running after 45 s:\n%s", b.id, l.snapshot()) })
	b.pid = b.rt.StartPid(l.T, bdir, b.id)
	hung.Stop()
	return b
}

// snapshot returns, for a report, the processes whose command line names
// the lab's directory, with the kernel function each waits in, and the
// tails of the recorder agents' logs.
func (l *lab) snapshot() string {
	var b strings.Builder
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(l.Dir)) {
			continue
		}
		wchan, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "wchan"))
		fmt.Fprintf(&b, "%s [%s] %s\n", e.Name(), wchan, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
	}
	logs, _ := filepath.Glob(filepath.Join(l.Dir, "state", "agents", "*.log"))
	for _, p := range logs {
		fmt.Fprintf(&b, "%s:\n%s\n", p, tail(integration.FileText(p), 10))
	}
	return b.String()
}

// stop sends sig ("TERM" when empty), gives the container grace to stop,
// kills it if it has not, and deletes it. It returns an error when sig did
// not stop it.
func (b *box) stop(sig string, grace time.Duration) error {
	if sig == "" {
		sig = "TERM"
	}
	return b.rt.Stop(b.l.T, b.id, sig, grace)
}

// exec runs argv in the container with `runc exec` through runcage, so
// the process gets the container's profile, and returns its stdout.
func (b *box) exec(timeout time.Duration, argv ...string) (string, error) {
	res := b.rt.Exec(timeout, append([]string{"exec", b.id}, argv...)...)
	if res.Err != nil || res.Exit != 0 {
		return res.Stdout, fmt.Errorf("exec %q: exit %d (%v): %s", argv, res.Exit, res.Err, tail(res.Stdout+res.Stderr, 15))
	}
	return res.Stdout, nil
}

// curl runs the host's curl in the container's network namespace and
// returns what it wrote to stdout.
func (b *box) curl(args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := integration.InNetns(b.pid, append([]string{"curl", "-sS", "--fail", "--max-time", "60"}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("curl %s: %v: %s", strings.Join(args, " "), err, tail(stderr.String(), 5))
	}
	return stdout.Bytes(), nil
}

// get fetches url and checks the body is want.
func (b *box) get(url string, want []byte) error {
	got, err := b.curl(url)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("GET %s: %d bytes (sha256 %s), want %d (sha256 %s)", url, len(got), sum(got), len(want), sum(want))
	}
	return nil
}

// waitGet polls url until it answers want.
func (b *box) waitGet(url string, want []byte) error {
	return integration.WaitFor(30*time.Second, func() error { return b.get(url, want) })
}

// file reads a file the container wrote (integration.FileText: the error
// in angle brackets if it cannot). With an overlay it reads the upper
// directory: runcage mounts its own overlay on the bundle's layers, and
// the test's overlay, which may have looked the file up before it existed,
// need not see what the container wrote since.
func (b *box) file(p string) string {
	dir := b.rootfs
	if b.upper != "" {
		dir = b.upper
	}
	return integration.FileText(filepath.Join(dir, filepath.Clean("/"+p)))
}

// generate runs `runcage profile generate` with flags on the recording
// name, writing the lab's profile called profile.
func (l *lab) generate(profile, name string, flags ...string) {
	l.T.Helper()
	l.T.Logf("profile generate %s: %s", profile, strings.TrimSpace(l.Generate(profile, name, flags...)))
}

// installed returns what the lab's profile name allows: the syscalls of
// its seccomp.json and the capabilities of its profile.toml.
func (l *lab) installed(name string) (syscalls, caps []string) {
	l.T.Helper()
	dir := filepath.Join(l.Profiles, name)
	f, err := seccomp.Load(filepath.Join(dir, "seccomp.json"))
	if err != nil {
		l.T.Fatal(err)
	}
	var prof profiles.Profile
	if _, err := toml.DecodeFile(filepath.Join(dir, "profile.toml"), &prof); err != nil {
		l.T.Fatal(err)
	}
	return seccomp.AllowedSyscalls(f), prof.Capabilities
}

// reasons returns why the lab's profile name allows each syscall (its
// profile.toml's syscall_reasons).
func (l *lab) reasons(name string) map[string]string {
	l.T.Helper()
	var prof profiles.Profile
	if _, err := toml.DecodeFile(filepath.Join(l.Profiles, name, "profile.toml"), &prof); err != nil {
		l.T.Fatal(err)
	}
	return prof.SyscallReasons
}

// beyond returns what the trace shows that the lab's profile name does not
// allow: syscalls the trace recorded, and capabilities it has evidence
// for. It compares recorded facts only (`runcage profile diff` of a
// profile and a trace compares with the profile generate would make of the
// trace, analysis included).
func (l *lab) beyond(name string, tr *record.Trace) []string {
	l.T.Helper()
	syscalls, caps := l.installed(name)
	var out []string
	for _, s := range tr.SyscallNames() {
		if !slices.Contains(syscalls, s) {
			out = append(out, s)
		}
	}
	for _, c := range slices.Sorted(maps.Keys(tr.Capabilities)) {
		if !slices.Contains(caps, c) {
			out = append(out, c)
		}
	}
	return out
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// sha256Hex is the SHA-256 of b in hex.
func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// sum is a short SHA-256 of b, for messages.
func sum(b []byte) string { return sha256Hex(b)[:16] }

// payload returns n deterministic, incompressible-looking bytes.
func payload(n int, seed byte) []byte {
	b := make([]byte, 0, n+sha256.Size)
	h := sha256.Sum256([]byte{seed})
	for len(b) < n {
		b = append(b, h[:]...)
		h = sha256.Sum256(h[:])
	}
	return b[:n]
}

// gosrv is integration/workloads/gosrv, built statically (CGO_ENABLED=0)
// once per test binary.
var gosrv = &integration.BuildOnce{Name: "gosrv", Build: func(out string) error {
	root, err := integration.RepoRoot()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-tags", "integration", "-trimpath", "-o", out, "./integration/workloads/gosrv")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build gosrv: %w: %s", err, b)
	}
	return nil
}}
