//go:build integration

// Package fastpath tests runcage's C fast path (cmd/runcage/fastpath.c).
// These tests run the built runcage ($RUNCAGE, default bin/runcage) with a
// fake delegate that prints the argv, environment and signal state it was
// started with, once with the C fast path (fastpath.c) and once with
// RUNCAGE_NO_FASTPATH=1, and require the same delegate input, output and
// exit status both ways, and the fast path taken exactly where expected.
package fastpath

import (
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/integration"
)

// fakeDelegate prints what it was started with and exits 7. It is C so
// that it sees the signal dispositions it inherited (a Go program's
// runtime changes them before main).
const fakeDelegate = `#include <signal.h>
#include <stdio.h>
int main(int argc, char **argv, char **envp)
{
	sigset_t blk;
	struct sigaction sa;
	int i;
	for (i = 0; i < argc; i++)
		printf("argv %s\n", argv[i]);
	for (i = 0; envp[i]; i++)
		printf("env %s\n", envp[i]);
	sigprocmask(SIG_BLOCK, NULL, &blk);
	for (i = 1; i < 65; i++) {
		if (sigismember(&blk, i) == 1)
			printf("blocked %d\n", i);
		if (sigaction(i, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
			printf("ignored %d\n", i);
	}
	return 7;
}
`

const (
	traceExec = "runcage: fastpath: exec "
	// traceSpawn is delete's ahead start (fastpath.c spawnahead).
	traceSpawn = "runcage: fastpath: spawn "
	traceGo    = "runcage: fastpath: go: "
	noFast     = "RUNCAGE_NO_FASTPATH=1"
)

// fpEnv is one test's directory, runcage binary and fake delegate.
type fpEnv struct {
	t        *testing.T
	dir      string
	runcage  string
	delegate string
	policy   string // a trusted policy naming delegate, then a table
	basePATH string
}

func newFPEnv(t *testing.T) *fpEnv {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the fast path tests must run as root: the policy file must be root's")
	}
	bin, err := integration.FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	dir := integration.TempDir(t, "runcage-fastpath-")
	e := &fpEnv{t: t, dir: dir, runcage: bin.Runcage, delegate: filepath.Join(dir, "fake-runc"),
		basePATH: "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	src := filepath.Join(dir, "fake.c")
	if err := os.WriteFile(src, []byte(fakeDelegate), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cc", "-O", "-o", e.delegate, src).CombinedOutput(); err != nil {
		t.Fatalf("build the fake delegate (cgo needs a C compiler anyway): %v\n%s", err, out)
	}
	e.policy = e.writePolicy("policy.toml", "# fast path test\n\nruntime = "+strconv.Quote(e.delegate)+
		" # the fake\nstate_dir = \"/run/runcage-fastpath-test\"\nlog_denials = false\n\n[userns]\nmin_size = 65534\n", 0o644)
	return e
}

// writePolicy writes a policy file in the test directory with mode.
func (e *fpEnv) writePolicy(name, text string, mode os.FileMode) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, []byte(text), mode); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// env is the environment of one run: PATH, the trace switch, and extra.
func (e *fpEnv) env(extra ...string) []string {
	return append([]string{e.basePATH, "RUNCAGE_FASTPATH_TRACE=1", "HOME=/root"}, extra...)
}

// fpResult is what one runcage invocation did.
type fpResult struct {
	exit           int
	stdout, stderr string
}

// run runs path with argv and exactly env (no de-duplication, unlike
// os/exec), and returns its exit status and output.
func run(t *testing.T, path string, argv, env []string) fpResult {
	t.Helper()
	return runAttr(t, "", path, argv, env, nil)
}

// runAttr is run in directory dir ("" for the test's) with sys.
func runAttr(t *testing.T, dir, path string, argv, env []string, sys *syscall.SysProcAttr) fpResult {
	t.Helper()
	var files [2]*os.File
	for i := range files {
		f, err := os.CreateTemp("", "runcage-fastpath-out-")
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(f.Name())
		defer f.Close()
		files[i] = f
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{
		Dir:   dir,
		Env:   env,
		Files: []uintptr{null.Fd(), files[0].Fd(), files[1].Fd()},
		Sys:   sys,
	})
	if err != nil {
		t.Fatalf("start %q: %v", argv, err)
	}
	timer := time.AfterFunc(30*time.Second, func() { syscall.Kill(pid, syscall.SIGKILL) })
	defer timer.Stop()
	var ws syscall.WaitStatus
	for {
		_, err = syscall.Wait4(pid, &ws, 0, nil)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	read := func(f *os.File) string {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
		return string(b)
	}
	code := ws.ExitStatus()
	if ws.Signaled() {
		code = -int(ws.Signal())
	}
	return fpResult{exit: code, stdout: read(files[0]), stderr: read(files[1])}
}

// compare runs argv (argv[0] included) under env twice, with the fast path
// and without, and fails t unless both give the delegate (or Go's refusal)
// the same input and the same results, and the fast path was taken iff
// fast. It returns the fast path's result.
func (e *fpEnv) compare(t *testing.T, path string, argv, env []string, fast bool) fpResult {
	t.Helper()
	on := run(t, path, argv, env)
	off := run(t, path, argv, append(slices.Clone(env), noFast))
	onTrace, onErr := splitTrace(on.stderr)
	offTrace, offErr := splitTrace(off.stderr)
	took := len(onTrace) > 0 && strings.HasPrefix(onTrace[0], traceExec)
	if took != fast {
		t.Errorf("%q: fast path taken %v, want %v; trace %q", argv, took, fast, onTrace)
	}
	if len(offTrace) != 1 || offTrace[0] != traceGo+"RUNCAGE_NO_FASTPATH is set" {
		t.Errorf("%q with %s: trace %q, want only the switch's line", argv, noFast, offTrace)
	}
	if on.exit != off.exit {
		t.Errorf("%q: exit %d with the fast path, %d without", argv, on.exit, off.exit)
	}
	if got, want := dropLine(on.stdout, "env "+noFast), dropLine(off.stdout, "env "+noFast); got != want {
		t.Errorf("%q: delegate saw, with the fast path:\n%s\nwithout:\n%s", argv, got, want)
	}
	if onErr != offErr {
		t.Errorf("%q: stderr with the fast path:\n%s\nwithout:\n%s", argv, onErr, offErr)
	}
	return on
}

// splitTrace separates the fast path's trace lines from the rest of stderr.
func splitTrace(stderr string) (trace []string, rest string) {
	var b strings.Builder
	for _, l := range strings.SplitAfter(stderr, "\n") {
		if strings.HasPrefix(l, "runcage: fastpath: ") {
			trace = append(trace, strings.TrimSuffix(l, "\n"))
			continue
		}
		b.WriteString(l)
	}
	return trace, b.String()
}

func dropLine(s, line string) string {
	return strings.ReplaceAll(s, line+"\n", "")
}

// TestFastPathMatchesGo runs a table of command lines with the fast path on
// and off and requires identical delegate argv, environment, output and
// exit status, and the fast path taken exactly for the certain cases.
func TestFastPathMatchesGo(t *testing.T) {
	e := newFPEnv(t)
	pol := e.policy
	type tc struct {
		args []string
		fast bool
	}
	cases := []tc{
		// Every pass-through verb, as containerd, CRI-O and Podman call them.
		{[]string{"start", "c1"}, true},
		{[]string{"state", "c1"}, true},
		{[]string{"kill", "c1", "KILL"}, true},
		{[]string{"kill", "--all", "c1", "9"}, true},
		{[]string{"kill", "c1", "15", "-a"}, true},
		{[]string{"ps", "c1"}, true},
		{[]string{"ps", "--format", "json", "c1"}, true},
		{[]string{"ps", "-f=table", "c1", "-ef", "--help"}, false},
		{[]string{"ps", "-f", "table", "c1", "-ef", "-x"}, true},
		{[]string{"events", "c1"}, true},
		{[]string{"events", "--stats", "c1"}, true},
		{[]string{"events", "--interval", "5s", "c1"}, true},
		{[]string{"events", "--interval=250ms", "c1"}, true},
		{[]string{"pause", "c1"}, true},
		{[]string{"resume", "c1"}, true},
		{[]string{"list"}, true},
		{[]string{"list", "-q"}, true},
		{[]string{"list", "--format", "json"}, true},
		{[]string{"list", "--format="}, true},
		{[]string{"features"}, true},
		{[]string{"spec"}, true},
		{[]string{"spec", "-b", "/nonexistent", "--rootless"}, true},
		// Global flags in every spelling.
		{[]string{"--root", "/run/x", "state", "c1"}, true},
		{[]string{"--root=/run/x", "state", "c1"}, true},
		{[]string{"-root", "/run/x", "state", "c1"}, true},
		{[]string{"-root=/run/x", "state", "c1"}, true},
		{[]string{"--root=", "state", "c1"}, true},
		{[]string{"--root", "--debug", "state", "c1"}, true}, // --root's value is "--debug"
		{[]string{"--root", "/run/x", "--log", filepath.Join(e.dir, "runc.log"), "--log-format", "json", "state", "c1"}, true},
		{[]string{"--log=" + filepath.Join(e.dir, "runc2.log"), "-log-format=text", "kill", "c1"}, true},
		{[]string{"--debug", "--systemd-cgroup", "state", "c1"}, true},
		{[]string{"--debug=false", "-systemd-cgroup=1", "state", "c1"}, true},
		{[]string{"--rootless", "true", "--criu", "/usr/sbin/criu", "state", "c1"}, true},
		// runcage's own flags, stripped before the delegate sees argv.
		{[]string{"--runcage-profile", "passthrough", "state", "c1"}, true},
		{[]string{"--runcage-profile=default", "--root", "/run/x", "kill", "c1", "TERM"}, true},
		{[]string{"--runcage-config", pol, "state", "c1"}, true},
		{[]string{"-runcage-config=" + pol, "--root=/r", "list"}, true},
		{[]string{"--runcage-config", pol, "--runcage-profile", "p", "-debug", "pause", "c1"}, true},
		// Everything else goes to Go, which must do the same as without
		// the fast path.
		{[]string{"-h"}, false},
		{[]string{"--help"}, false},
		{[]string{"state", "-h"}, false},
		{[]string{"state", "c1", "--help=true"}, false},
		{[]string{"-v"}, false},
		{[]string{"--version"}, false},
		{[]string{"help"}, false},
		{[]string{"help", "state"}, false},
		{[]string{}, false},
		{[]string{""}, false},
		{[]string{"-"}, false},
		{[]string{"--", "state", "c1"}, false},
		{[]string{"state", "--", "c1"}, false},
		{[]string{"--newer-runc-flag", "state", "c1"}, false},
		{[]string{"---root", "x", "state", "c1"}, false},
		{[]string{"state", "--newer-flag", "c1"}, false},
		{[]string{"state", "c1", "--all"}, false},
		{[]string{"kill", "--all=true", "c1"}, false},
		{[]string{"kill", "-a", "--all", "c1"}, false},
		{[]string{"list", "--format"}, false},
		{[]string{"list", "-f", "-q"}, false},
		{[]string{"events", "--interval", "1.5s", "c1"}, false},
		{[]string{"events", "--interval", "soon", "c1"}, false},
		{[]string{"--debug=yes", "state", "c1"}, false},
		{[]string{"--root"}, false},
		{[]string{"--runcage-profile", "state", "c1"}, false},
		{[]string{"--runcage-profile", "-x", "state", "c1"}, false},
		{[]string{"--runcage-profile=", "state", "c1"}, false},
		{[]string{"--runcage-profile=a", "--runcage-profile=a", "state", "c1"}, false},
		{[]string{"--runcage-bogus", "x", "state", "c1"}, false},
		{[]string{"state", "--runcage-profile", "x", "c1"}, false},
		{[]string{"--runcage-config", "relative.toml", "state", "c1"}, false},
		{[]string{"--runcage-config", filepath.Join(e.dir, "missing.toml"), "state", "c1"}, false},
		{[]string{"--log", filepath.Join(e.dir, "no", "such", "dir", "log"), "state", "c1"}, false},
		{[]string{"create", "c1"}, false},
		{[]string{"run", "c1"}, false},
		{[]string{"exec", "c1", "true"}, false},
		{[]string{"update", "c1"}, false},
		{[]string{"delete", "c1"}, false}, // started ahead: TestFastPathDeleteAhead
		{[]string{"checkpoint", "c1"}, false},
		{[]string{"restore", "c1"}, false},
		{[]string{"check"}, false},
		{[]string{"newer-verb", "c1"}, false},
	}
	env := e.env("RUNCAGE_CONFIG=" + pol)
	for _, c := range cases {
		argv := append([]string{"runcage"}, c.args...)
		r := e.compare(t, e.runcage, argv, env, c.fast)
		if c.fast {
			// The delegate got argv[0] = its path and the arguments
			// without runcage's flags.
			want := "argv " + e.delegate + "\n"
			if !strings.HasPrefix(r.stdout, want) || r.exit != 7 {
				t.Errorf("%q: delegate output %q, exit %d", argv, r.stdout, r.exit)
			}
			for _, l := range strings.Split(r.stdout, "\n") {
				a, ok := strings.CutPrefix(l, "argv ")
				if ok && (strings.HasPrefix(strings.TrimLeft(a, "-"), "runcage-") ||
					a == pol || a == "passthrough" || a == "p") {
					t.Errorf("%q: a runcage flag reached the delegate:\n%s", argv, r.stdout)
				}
			}
		}
	}

	// argv[0] names a profile (runcage-<profile>, Docker's and the bats
	// suite's way): still a pass-through.
	link := filepath.Join(e.dir, "runcage-passthrough")
	if err := os.Symlink(e.runcage, link); err != nil {
		t.Fatal(err)
	}
	e.compare(t, link, []string{link, "--root", "/run/x", "state", "c1"}, env, true)
	e.compare(t, link, []string{"runcage[agent]", "--runcage-agent", "/nonexistent"}, env, false)

	// The environment reaches the delegate exactly as Go's os.Environ
	// would pass it; entries Go drops or rewrites go to Go.
	e.compare(t, e.runcage, []string{"runcage", "state", "c1"}, e.env("RUNCAGE_CONFIG="+pol, "A=1", "B=", "=odd", "NOEQUALS"), true)
	e.compare(t, e.runcage, []string{"runcage", "state", "c1"}, e.env("RUNCAGE_CONFIG="+pol, "A=1", "A=2"), false)
	e.compare(t, e.runcage, []string{"runcage", "state", "c1"}, e.env("RUNCAGE_CONFIG="+pol, ""), false)
	// RUNCAGE_CONFIG="" means the default path, as in Go.
	e.compare(t, e.runcage, []string{"runcage", "--runcage-config", pol, "state", "c1"}, e.env("RUNCAGE_CONFIG="), true)
}

// TestFastPathSignals checks that the delegate inherits the signal
// dispositions it would get from the Go front: an ignored signal the Go
// runtime catches is reset by the execve, SIGHUP stays ignored.
func TestFastPathSignals(t *testing.T) {
	e := newFPEnv(t)
	sigs := []os.Signal{syscall.SIGHUP, syscall.SIGPIPE, syscall.SIGUSR1, syscall.SIGTSTP}
	signal.Ignore(sigs...)
	defer signal.Reset(sigs...)
	r := e.compare(t, e.runcage, []string{"runcage", "state", "c1"}, e.env("RUNCAGE_CONFIG="+e.policy), true)
	for _, want := range []string{"ignored 1\n", "ignored 20\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("delegate output lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, bad := range []string{"ignored 10\n", "ignored 13\n"} {
		if strings.Contains(r.stdout, bad) {
			t.Errorf("delegate output has %q:\n%s", bad, r.stdout)
		}
	}
}

// TestFastPathPolicyTrust checks that the fast path uses only a policy
// file Go would trust and parse to the same delegate, and otherwise leaves
// the invocation to Go, which refuses or decides as it always has.
func TestFastPathPolicyTrust(t *testing.T) {
	e := newFPEnv(t)
	runtimeLine := "runtime = " + strconv.Quote(e.delegate) + "\n"
	state := []string{"runcage", "state", "c1"}
	refused := func(r fpResult, what string) {
		t.Helper()
		if r.exit != 1 || !strings.Contains(r.stderr, "refused") || strings.Contains(r.stdout, "argv ") {
			t.Errorf("%s: want Go's refusal and no delegate, got exit %d\nstdout %s\nstderr %s", what, r.exit, r.stdout, r.stderr)
		}
	}

	// Writable by others: Go refuses; the fast path must not use it.
	p := e.writePolicy("open.toml", runtimeLine, 0o666)
	refused(e.compare(t, e.runcage, state, e.env("RUNCAGE_CONFIG="+p), false), "world-writable policy")
	p = e.writePolicy("group.toml", runtimeLine, 0o664)
	refused(e.compare(t, e.runcage, state, e.env("RUNCAGE_CONFIG="+p), false), "group-writable policy")

	// Owned by someone else.
	p = e.writePolicy("nobody.toml", runtimeLine, 0o644)
	if err := os.Chown(p, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	refused(e.compare(t, e.runcage, state, e.env("RUNCAGE_CONFIG="+p), false), "policy owned by nobody")

	// In a directory others can write to (no sticky bit).
	open := filepath.Join(e.dir, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	p = filepath.Join(open, "policy.toml")
	if err := os.WriteFile(p, []byte(runtimeLine), 0o644); err != nil {
		t.Fatal(err)
	}
	refused(e.compare(t, e.runcage, state, e.env("RUNCAGE_CONFIG="+p), false), "policy in a world-writable directory")
	// Missing, in that directory: Go refuses the directory when the
	// file is named explicitly...
	refused(e.compare(t, e.runcage, state, e.env("RUNCAGE_CONFIG="+filepath.Join(open, "none.toml")), false), "missing policy in a world-writable directory")

	// A root-owned symlink to a trusted policy: Go follows it; the fast
	// path leaves that to Go.
	link := filepath.Join(e.dir, "link.toml")
	if err := os.Symlink(e.policy, link); err != nil {
		t.Fatal(err)
	}
	e.compare(t, e.runcage, state, e.env("RUNCAGE_CONFIG="+link), false)

	// TOML the fast path does not read with certainty: Go decides.
	for name, text := range map[string]string{
		"literal":   "runtime = '" + e.delegate + "'\n",
		"escape":    "runtime = \"" + strings.ReplaceAll(e.delegate, "/", "\\u002F") + "\"\n",
		"multiline": "runtime = \"\"\"" + e.delegate + "\"\"\"\n",
		"dotted":    "runtime.x = \"y\"\n",
		"twice":     runtimeLine + runtimeLine,
		"unknown":   "runtim = \"x\"\n",
		"crlf":      strings.TrimSuffix(runtimeLine, "\n") + "\r\n",
		"badname":   runtimeLine + "default_profile = \"-x\"\n",
		"array":     runtimeLine + "volume_roots = [\"/v\"]\n",
		"trailing":  runtimeLine[:len(runtimeLine)-1] + " x\n",
		"int":       runtimeLine + "state_dir = 3\n",
	} {
		p := e.writePolicy(name+".toml", text, 0o644)
		e.compare(t, e.runcage, state, e.env("RUNCAGE_CONFIG="+p), false)
	}
	// Simple TOML it does read: the same delegate as Go's.
	for name, text := range map[string]string{
		"plain":    runtimeLine,
		"nospace":  "runtime=" + strconv.Quote(e.delegate),
		"indented": "\t# c\n  " + runtimeLine + "default_profile = \"default\" # c\nrecord_capabilities = true\n[userns]\nmin_size = 65534\n",
	} {
		p := e.writePolicy(name+".toml", text, 0o644)
		r := e.compare(t, e.runcage, state, e.env("RUNCAGE_CONFIG="+p), true)
		if !strings.HasPrefix(r.stdout, "argv "+e.delegate+"\n") {
			t.Errorf("%s policy: delegate output %q", name, r.stdout)
		}
	}
}

// TestFastPathReadsOnlyTopLevel pins the one deliberate difference: the
// fast path does not read past the policy's first table header, which
// cannot change the top-level runtime key, so a policy Go refuses for a
// fault in a table still forwards the pass-through verbs (Go refuses
// them, and every other verb, with the parse error).
func TestFastPathReadsOnlyTopLevel(t *testing.T) {
	e := newFPEnv(t)
	p := e.writePolicy("badtable.toml", "runtime = "+strconv.Quote(e.delegate)+"\n[profiles.x]\nno_such_key = 1\n", 0o644)
	env := e.env("RUNCAGE_CONFIG=" + p)
	on := run(t, e.runcage, []string{"runcage", "state", "c1"}, env)
	off := run(t, e.runcage, []string{"runcage", "state", "c1"}, append(env, noFast))
	if on.exit != 7 || !strings.HasPrefix(on.stdout, "argv "+e.delegate+"\n") {
		t.Errorf("fast path: exit %d, stdout %q, stderr %q", on.exit, on.stdout, on.stderr)
	}
	if off.exit != 1 || !strings.Contains(off.stderr, "unknown keys profiles.x.no_such_key") {
		t.Errorf("Go: exit %d, stderr %q", off.exit, off.stderr)
	}
	// create is never the fast path's: Go refuses it.
	r := run(t, e.runcage, []string{"runcage", "create", "c1"}, env)
	if r.exit != 1 || !strings.Contains(r.stderr, "unknown keys") {
		t.Errorf("create: exit %d, stderr %q", r.exit, r.stderr)
	}
}

// TestFastPathFindsDelegate checks the search without a policy runtime:
// runc beside the binary, else runc in PATH, never runcage itself.
func TestFastPathFindsDelegate(t *testing.T) {
	e := newFPEnv(t)
	empty := e.writePolicy("empty.toml", "# no runtime\n", 0o644)
	copyFile := func(src, dst string) {
		t.Helper()
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A runcage with the fake runc beside it.
	beside := filepath.Join(e.dir, "beside")
	if err := os.Mkdir(beside, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(e.runcage, filepath.Join(beside, "runcage"))
	copyFile(e.delegate, filepath.Join(beside, "runc"))
	state := []string{"runcage", "state", "c1"}
	r := e.compare(t, filepath.Join(beside, "runcage"), state, e.env("RUNCAGE_CONFIG="+empty), true)
	if !strings.HasPrefix(r.stdout, "argv "+filepath.Join(beside, "runc")+"\n") {
		t.Errorf("runc beside runcage: delegate output %q", r.stdout)
	}

	// A runcage alone: runc from PATH.
	alone := filepath.Join(e.dir, "alone")
	bindir := filepath.Join(e.dir, "pathbin")
	for _, d := range []string{alone, bindir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(e.runcage, filepath.Join(alone, "runcage"))
	copyFile(e.delegate, filepath.Join(bindir, "runc"))
	self := filepath.Join(alone, "runcage")
	withPATH := func(path string) []string {
		return []string{"PATH=" + path, "RUNCAGE_FASTPATH_TRACE=1", "RUNCAGE_CONFIG=" + empty}
	}
	r = e.compare(t, self, state, withPATH("/nonexistent:"+bindir+":/usr/bin"), true)
	if !strings.HasPrefix(r.stdout, "argv "+filepath.Join(bindir, "runc")+"\n") {
		t.Errorf("runc in PATH: delegate output %q", r.stdout)
	}
	// Relative or unclean PATH entries before the match go to Go.
	e.compare(t, self, state, withPATH("relative:"+bindir), false)
	e.compare(t, self, state, withPATH(":"+bindir), false)
	e.compare(t, self, state, withPATH(bindir+"/"), false)
	// No runc anywhere: Go reports it.
	e.compare(t, self, state, withPATH("/nonexistent"), false)
	// runc in PATH that is runcage itself is skipped, as in Go.
	loopdir := filepath.Join(e.dir, "loop")
	if err := os.Mkdir(loopdir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(self, filepath.Join(loopdir, "runc")); err != nil {
		t.Fatal(err)
	}
	r = e.compare(t, self, state, withPATH(loopdir), false)
	if !strings.Contains(r.stderr, "runcage itself") {
		t.Errorf("runc that is runcage: stderr %q", r.stderr)
	}
}

// TestFastPathDeleteAhead checks delete's ahead start: fastpath.c starts
// the delegate before Go (with the container id's lock) and the Go front
// waits for it and cleans up. The delegate must get the same argv,
// environment and signal state as from the Go front, the exit status must
// be the delegate's, and whatever the C path is not certain of, or a busy
// container lock, must go to Go.
func TestFastPathDeleteAhead(t *testing.T) {
	e := newFPEnv(t)
	state := "/run/runcage-fastpath-test" // the state_dir of e.policy
	if err := os.MkdirAll(state, 0o711); err != nil {
		t.Fatal(err)
	}
	// The ahead path is what delete takes without a warm front (see
	// warm_test.go).
	env := e.env("RUNCAGE_CONFIG="+e.policy, "RUNCAGE_NO_WARM=1")
	spawned := func(r fpResult) bool {
		trace, _ := splitTrace(r.stderr)
		return len(trace) == 1 && trace[0] == traceSpawn+e.delegate
	}
	for _, args := range [][]string{
		{"delete", "c1"},
		{"delete", "--force", "c1"},
		{"delete", "c1", "-f"},
		{"--root", "/run/x", "--log", filepath.Join(e.dir, "runc.log"), "delete", "c1"},
		{"--runcage-profile", "p", "delete", "c-2.x"},
	} {
		argv := append([]string{"runcage"}, args...)
		r := e.compare(t, e.runcage, argv, env, false)
		if !spawned(r) || r.exit != 7 || !strings.HasPrefix(r.stdout, "argv "+e.delegate+"\n") {
			t.Errorf("%q: not started ahead, or not the delegate's exit: exit %d\nstdout %s\nstderr %s", argv, r.exit, r.stdout, r.stderr)
		}
	}
	for _, args := range [][]string{
		{"delete"},
		{"delete", "c1", "c2"},
		{"delete", "c/1"},
		{"delete", ".."},
		{"delete", "--force=true", "c1"},
		{"delete", "-f", "--force", "c1"},
		{"delete", "--newer-flag", "c1"},
		{"delete", "c1", "--help"},
	} {
		argv := append([]string{"runcage"}, args...)
		if r := e.compare(t, e.runcage, argv, env, false); spawned(r) {
			t.Errorf("%q: started ahead", argv)
		}
	}

	// The delegate inherits the signal state the Go front's child would.
	sigs := []os.Signal{syscall.SIGHUP, syscall.SIGPIPE, syscall.SIGUSR1, syscall.SIGTSTP}
	signal.Ignore(sigs...)
	r := e.compare(t, e.runcage, []string{"runcage", "delete", "c1"}, env, false)
	signal.Reset(sigs...)
	if !spawned(r) || !strings.Contains(r.stdout, "ignored 1\n") || strings.Contains(r.stdout, "ignored 10\n") || strings.Contains(r.stdout, "blocked ") {
		t.Errorf("delete with ignored signals: delegate saw\n%s\nstderr %s", r.stdout, r.stderr)
	}

	// A busy container: the C path leaves it to Go, which waits for the
	// lock and only then starts the delegate.
	fd, err := syscall.Open(filepath.Join(state, "containers.lock"), syscall.O_RDWR|syscall.O_CREAT|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	h := fnv.New64a()
	h.Write([]byte("c1"))
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: int64(h.Sum64() % (1 << 30)), Len: 1}
	if err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk); err != nil {
		t.Fatal(err)
	}
	// The lock is released only once the child runs Go (more than one
	// thread: the constructor runs before the Go runtime starts any), so
	// the C path certainly found it busy, however slow the machine.
	releasedAt := make(chan time.Time, 1)
	go func() {
		deadline := time.Now().Add(20 * time.Second)
		for !goStarted(os.Getpid(), "runcage\x00delete\x00c1\x00") && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
		}
		syscall.Close(fd)
		releasedAt <- time.Now()
	}()
	r = run(t, e.runcage, []string{"runcage", "delete", "c1"}, env)
	done := time.Now()
	trace, _ := splitTrace(r.stderr)
	if r.exit != 7 || len(trace) != 1 || trace[0] != traceGo+"container busy" {
		t.Errorf("delete of a busy container: exit %d, trace %q", r.exit, trace)
	}
	if released := <-releasedAt; done.Before(released) {
		t.Error("delete of a busy container did not wait for its lock")
	}
}

// goStarted reports whether a child of parent with the command line
// cmdline (NUL-separated, as /proc shows it) runs more than one thread.
func goStarted(parent int, cmdline string) bool {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cl, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if string(cl) != cmdline {
			continue
		}
		status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		var ppid, threads int
		for _, l := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(l, "PPid:"); ok {
				ppid, _ = strconv.Atoi(strings.TrimSpace(v))
			}
			if v, ok := strings.CutPrefix(l, "Threads:"); ok {
				threads, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		if ppid == parent && threads > 1 {
			return true
		}
	}
	return false
}
