//go:build integration

package fastpath

// The warm front (runtime/warm.go, cmd/runcage/warm.c): create, run and
// delete done by a long-lived runcage process for the C constructor, which
// then runs the delegate itself. Each test compares it with the Go front
// (RUNCAGE_NO_FASTPATH=1) on the same invocation: the delegate's input,
// config.json as rewritten, --log lines, stderr and the exit status must be
// the same.

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/integration"
)

const traceWarm = "runcage: fastpath: warm: "

// waiter is a delegate that waits for a signal: it writes "ready" to the
// file its READY variable names, and exits 100+N on signal N.
const waiter = `#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static void on(int sig) { _exit(100 + sig); }
int main(void)
{
	FILE *f;
	signal(SIGTERM, on);
	signal(SIGUSR1, on);
	f = fopen(getenv("READY"), "w");
	fputs("ready\n", f);
	fclose(f);
	for (;;)
		pause();
}
`

// warmEnv is a fast-path environment with a state directory of its own
// (so that its warm front is this test's) and a busybox bundle.
type warmEnv struct {
	*fpEnv
	state, bundle string
	pristine      []byte
}

func newWarmEnv(t *testing.T, delegate string) *warmEnv {
	t.Helper()
	e := &warmEnv{fpEnv: newFPEnv(t)}
	if delegate == "" {
		delegate = e.delegate
	}
	e.state = filepath.Join(e.dir, "state")
	e.policy = e.writePolicy("warm.toml", "runtime = "+strconv.Quote(delegate)+"\nstate_dir = "+strconv.Quote(e.state)+
		"\nlog_denials = false\n\n[userns]\nmin_size = 65534\n", 0o644)
	e.bundle = filepath.Join(e.dir, "bundle")
	if err := integration.BuildRootfs(filepath.Join(e.bundle, "rootfs"), integration.RootfsOptions{}); err != nil {
		t.Fatal(err)
	}
	var err error
	if e.pristine, err = integration.MarshalSpec(integration.BaseSpec(nil, "true")); err != nil {
		t.Fatal(err)
	}
	e.reset(t, e.pristine)
	return e
}

// reset writes config as the bundle's config.json and removes the copies
// runcage keeps beside a config.json it rewrote.
func (e *warmEnv) reset(t *testing.T, config []byte) {
	t.Helper()
	for _, n := range []string{"config.json.runcage-orig", "config.json.runcage-written"} {
		os.Remove(filepath.Join(e.bundle, n))
	}
	if err := integration.WriteConfig(e.bundle, config); err != nil {
		t.Fatal(err)
	}
}

// start makes sure this environment's warm front runs: the first create
// the constructor offers it finds none and the Go front starts one. That
// create inherits a pipe, as bats' and engines' children do: once it has
// exited, the pipe must end, so the warm front (which outlives it) must
// not hold it.
func (e *warmEnv) start(t *testing.T) {
	t.Helper()
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	if err := syscall.SetNonblock(p[0], true); err != nil { // pollable: the read below has a deadline
		t.Fatal(err)
	}
	r := os.NewFile(uintptr(p[0]), "pipe")
	defer r.Close()
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	pid, err := syscall.ForkExec(e.runcage, []string{"runcage", "create", "-b", e.bundle, "warm-start"}, &syscall.ProcAttr{
		Env:   e.env("RUNCAGE_CONFIG=" + e.policy),
		Files: []uintptr{null.Fd(), null.Fd(), null.Fd(), uintptr(p[1])},
	})
	syscall.Close(p[1])
	if err != nil {
		t.Fatal(err)
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatal(err)
	}
	e.reset(t, e.pristine)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if socks, _ := filepath.Glob(filepath.Join(e.state, "warm", "*.sock")); len(socks) == 1 {
			r.SetReadDeadline(time.Now().Add(10 * time.Second))
			if n, err := r.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Fatalf("the pipe the first create inherited did not end (%d, %v): the warm front holds it", n, err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no warm front started for the state directory")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logTimes matches the time of a --log line, which differs between runs.
var logTimes = regexp.MustCompile(`"time":"[^"]*"`)

// outcome is what one invocation left: its result, config.json and the
// --log file, with the trace split off stderr.
type outcome struct {
	fpResult
	trace       []string
	config, log string
}

func (e *warmEnv) invoke(t *testing.T, dir string, argv, env []string, config []byte) outcome {
	t.Helper()
	return e.invokePath(t, dir, e.runcage, argv, env, config)
}

// invokePath runs path with argv in dir ("" for the test's) under env, on
// a bundle whose config.json is config.
func (e *warmEnv) invokePath(t *testing.T, dir, path string, argv, env []string, config []byte) outcome {
	t.Helper()
	e.reset(t, config)
	logf := filepath.Join(e.dir, "runc.log")
	os.Remove(logf)
	r := runAttr(t, dir, path, argv, env, nil)
	var o outcome
	o.fpResult = r
	o.trace, o.stderr = splitTrace(r.stderr)
	o.stdout = dropLine(r.stdout, "env "+noFast)
	b, _ := os.ReadFile(filepath.Join(e.bundle, "config.json"))
	o.config = string(b)
	l, _ := os.ReadFile(logf)
	o.log = logTimes.ReplaceAllString(string(l), `"time":""`)
	return o
}

// TestWarmMatchesGo runs create, run and delete through the warm front and
// through the Go front, and requires the same outcome.
func TestWarmMatchesGo(t *testing.T) {
	e := newWarmEnv(t, "")
	e.start(t)
	env := e.env("RUNCAGE_CONFIG=" + e.policy)
	logf := filepath.Join(e.dir, "runc.log")
	hostNet, err := modified(func(s *specs.Spec) {
		s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.NetworkNamespace })
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		dir    string
		args   []string
		config []byte
		want   string // the warm trace
		exit   int
	}{
		{"create", "", []string{"create", "--bundle", e.bundle, "w1"}, e.pristine, "spawn " + e.delegate, 7},
		{"create, relative bundle and log", e.dir, []string{"--log", "runc.log", "--log-format", "json", "create", "-b", "bundle", "w1"}, e.pristine, "spawn " + e.delegate, 7},
		{"create, bundle is the working directory", e.bundle, []string{"create", "w1"}, e.pristine, "spawn " + e.delegate, 7},
		{"run in the foreground", "", []string{"run", "-b", e.bundle, "w1"}, e.pristine, "spawn " + e.delegate, 7},
		{"run detached", "", []string{"run", "-d", "--bundle=" + e.bundle, "w1"}, e.pristine, "spawn " + e.delegate, 7},
		{"delete, nothing to clean up", "", []string{"delete", "w1"}, e.pristine, "exec " + e.delegate, 7},
		{"refused: the host's network", "", []string{"--log", logf, "--log-format", "json", "create", "-b", e.bundle, "w1"}, hostNet, "exit 1", 1},
		{"refused: a bad id", "", []string{"--log", logf, "create", "-b", e.bundle, "w/1"}, e.pristine, "exit 1", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			argv := append([]string{"runcage"}, c.args...)
			warm := e.invoke(t, c.dir, argv, env, c.config)
			gofront := e.invoke(t, c.dir, argv, append(slices.Clone(env), noFast), c.config)
			if len(warm.trace) != 1 || warm.trace[0] != traceWarm+c.want {
				t.Errorf("trace %q, want %q", warm.trace, traceWarm+c.want)
			}
			if warm.exit != c.exit || gofront.exit != c.exit {
				t.Errorf("exit %d through the warm front, %d through Go; want %d\nstderr %s", warm.exit, gofront.exit, c.exit, warm.stderr)
			}
			for _, f := range []struct{ what, warm, gofront string }{
				{"delegate input", warm.stdout, gofront.stdout},
				{"stderr", warm.stderr, gofront.stderr},
				{"config.json", warm.config, gofront.config},
				{"--log", warm.log, gofront.log},
			} {
				if f.warm != f.gofront {
					t.Errorf("%s through the warm front:\n%s\nthrough Go:\n%s", f.what, f.warm, f.gofront)
				}
			}
			if c.exit == 1 && !strings.Contains(warm.stderr, "refused") {
				t.Errorf("refusal without its reason: %q", warm.stderr)
			}
			if c.exit == 1 && strings.Contains(c.args[1], "runc.log") && !strings.Contains(warm.log, "refused") {
				t.Errorf("refusal not in --log: %q", warm.log)
			}
			if strings.HasPrefix(c.want, "spawn") && warm.config == string(c.config) {
				t.Error("config.json not rewritten")
			}
		})
	}
	if left, err := integration.RuncageLeftovers(e.state); err != nil || len(left) > 0 {
		t.Errorf("left behind: %v %v", left, err)
	}
}

// TestWarmSignals: while the delegate runs, the constructor forwards the
// signals the Go front would (the fatal ones for create, every one for a
// foreground run) and drops the others, as the Go runtime does.
func TestWarmSignals(t *testing.T) {
	dir := integration.TempDir(t, "runcage-warm-waiter-")
	bin := filepath.Join(dir, "waiter")
	src := bin + ".c"
	if err := os.WriteFile(src, []byte(waiter), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cc", "-O", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("build the waiter: %v\n%s", err, out)
	}
	e := newWarmEnv(t, bin)
	ready := filepath.Join(e.dir, "ready")
	env := e.env("RUNCAGE_CONFIG="+e.policy, "READY="+ready)
	// The first create runs through Go and starts the warm front; the
	// waiter must be told to stop.
	go func() {
		for i := 0; i < 2000; i++ {
			if _, err := os.Stat(ready); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		exec.Command("pkill", "-TERM", "-f", "^"+bin).Run()
	}()
	e.start(t)
	for _, c := range []struct {
		verb string
		sigs []syscall.Signal
		exit int
	}{
		{"create", []syscall.Signal{syscall.SIGUSR1, syscall.SIGTERM}, 100 + int(syscall.SIGTERM)},
		{"run", []syscall.Signal{syscall.SIGUSR1}, 100 + int(syscall.SIGUSR1)},
	} {
		for _, fast := range []bool{true, false} {
			os.Remove(ready)
			e.reset(t, e.pristine)
			ev := env
			if !fast {
				ev = append(slices.Clone(env), noFast)
			}
			cmd := exec.Command(e.runcage, c.verb, "-b", e.bundle, "s1")
			cmd.Args[0] = "runcage"
			cmd.Env = ev
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			for i := 0; ; i++ {
				if _, err := os.Stat(ready); err == nil {
					break
				}
				if i > 2000 {
					cmd.Process.Kill()
					t.Fatalf("%s: the waiter never started; stderr %s", c.verb, stderr.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
			for _, s := range c.sigs {
				cmd.Process.Signal(s)
				time.Sleep(100 * time.Millisecond)
			}
			err := cmd.Wait()
			code := cmd.ProcessState.ExitCode()
			trace, _ := splitTrace(stderr.String())
			if fast && (len(trace) != 1 || trace[0] != traceWarm+"spawn "+bin) {
				t.Errorf("%s: trace %q", c.verb, trace)
			}
			if code != c.exit {
				t.Errorf("%s (warm front %v): exit %d (%v), want %d; stderr %s", c.verb, fast, code, err, c.exit, stderr.String())
			}
		}
	}
	if left, err := integration.RuncageLeftovers(e.state); err != nil || len(left) > 0 {
		t.Errorf("left behind: %v %v", left, err)
	}
}

// TestWarmPeers: the warm front serves only callers in its namespaces; any
// other is told "go" and the Go front does the work.
func TestWarmPeers(t *testing.T) {
	e := newWarmEnv(t, "")
	e.start(t)
	env := e.env("RUNCAGE_CONFIG=" + e.policy)
	e.reset(t, e.pristine)
	r := runAttr(t, "", e.runcage, []string{"runcage", "create", "-b", e.bundle, "p1"}, env,
		&syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWUTS})
	trace, rest := splitTrace(r.stderr)
	if r.exit != 7 || len(trace) != 1 || trace[0] != traceGo+"warm: server says go" {
		t.Errorf("caller in other namespaces: exit %d, trace %q, stderr %s", r.exit, trace, rest)
	}
}

// TestWarmCallerCgroup: runc resolves a relative cgroupsPath from its own
// cgroup, which is its caller's, not the warm front's. A path that names a
// cgroup holding processes under the caller's cgroup is refused, as the Go
// front refuses it, although no such cgroup exists under the server's.
func TestWarmCallerCgroup(t *testing.T) {
	e := newWarmEnv(t, "")
	e.start(t)
	base := filepath.Join("/sys/fs/cgroup/pids", fmt.Sprintf("runcage-warm-%d", os.Getpid()))
	busy := filepath.Join(base, "busy")
	if err := os.MkdirAll(busy, 0o755); err != nil {
		t.Skipf("cgroup v1 pids hierarchy not writable here (%v); the cgroups unit tests cover HostOf", err)
	}
	sleeper := exec.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sleeper.Process.Kill()
		sleeper.Wait()
		os.Remove(busy)
		os.Remove(base)
	})
	if err := os.WriteFile(filepath.Join(busy, "cgroup.procs"), []byte(strconv.Itoa(sleeper.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	env := e.env("RUNCAGE_CONFIG=" + e.policy)
	for _, c := range []struct {
		path string
		exit int
	}{{"busy", 1}, {"free", 7}} {
		config, err := modified(func(s *specs.Spec) { s.Linux.CgroupsPath = c.path })
		if err != nil {
			t.Fatal(err)
		}
		for _, fast := range []bool{true, false} {
			ev := env
			if !fast {
				ev = append(slices.Clone(env), noFast)
			}
			// sh moves itself into base, then runs runcage there.
			argv := []string{"sh", "-c", `echo $$ > "$0/cgroup.procs" && exec "$@"`, base, e.runcage, "create", "-b", e.bundle, "g1"}
			o := e.invokePath(t, "", "/bin/sh", argv, ev, config)
			if fast && len(o.trace) == 1 && o.trace[0] == traceGo+"warm: no server" {
				// Seen once in CI, not reproduced: say what became of
				// the server, start one again and take the case once more.
				socks, _ := filepath.Glob(filepath.Join(e.state, "warm", "*"))
				t.Logf("cgroupsPath %q: no warm front answered (state/warm holds %q; warm front pid %d); once more", c.path, socks, integration.WarmPid(e.state))
				e.start(t)
				o = e.invokePath(t, "", "/bin/sh", argv, ev, config)
			}
			if o.exit != c.exit {
				t.Errorf("cgroupsPath %q (warm front %v): exit %d, want %d; trace %q stderr %s", c.path, fast, o.exit, c.exit, o.trace, o.stderr)
			}
			if fast && (len(o.trace) != 1 || !strings.HasPrefix(o.trace[0], traceWarm)) {
				t.Errorf("cgroupsPath %q: not through the warm front: %q", c.path, o.trace)
			}
			if c.exit == 1 && !strings.Contains(o.stderr, "holds processes") {
				t.Errorf("cgroupsPath %q: refused for another reason: %s", c.path, o.stderr)
			}
		}
	}
}

// modified is the base spec with f applied, as config.json.
func modified(f func(*specs.Spec)) ([]byte, error) {
	s := integration.BaseSpec(nil, "true")
	f(s)
	return integration.MarshalSpec(s)
}
