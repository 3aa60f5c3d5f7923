//go:build integration

// Package generate tests `runcage profile generate` end to end: profiles
// generated from a real strace log and from an empty trace are enforced
// with the real runc through bin/runcage.
package generate

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/integration"
)

const timeout = 60 * time.Second

var ids atomic.Int64

func TestMain(m *testing.M) {
	os.Exit(integration.Suite{Name: "generate", Needs: "it creates real containers"}.Run(m))
}

// env is one test's binaries, temporary directory, profiles directory and
// policy (which names the profiles directory and the delegate).
type env struct {
	t        *testing.T
	bin      integration.Binaries
	dir      string
	profiles string
	policy   string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	bin, err := integration.FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	dir := integration.TempDir(t, "runcage-gen-")
	e := &env{t: t, bin: bin, dir: dir, profiles: filepath.Join(dir, "profiles"), policy: filepath.Join(dir, "config.toml")}
	pol := fmt.Sprintf("runtime = %s\nprofiles_dir = %s\n", strconv.Quote(bin.Runc), strconv.Quote(e.profiles))
	if err := os.WriteFile(e.policy, []byte(pol), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

// runcage runs bin/runcage with the test's policy.
func (e *env) runcage(args ...string) integration.Result {
	rt := integration.Runtime{Name: "runcage", Path: e.bin.Runcage, Env: []string{"RUNCAGE_CONFIG=" + e.policy}}
	return rt.Exec(timeout, args...)
}

// run runs a busybox container executing args under profile and returns
// the result; the container is deleted afterwards.
func (e *env) run(profile string, args ...string) integration.Result {
	e.t.Helper()
	return e.runSpec(profile, integration.BaseSpec(nil, args...))
}

// runSpec is run with the bundle's spec s.
func (e *env) runSpec(profile string, s *specs.Spec) integration.Result {
	e.t.Helper()
	id := fmt.Sprintf("rcgen-%d-%d", os.Getpid(), ids.Add(1))
	bundle := filepath.Join(e.dir, id)
	if err := integration.BuildRootfs(filepath.Join(bundle, "rootfs"), integration.RootfsOptions{}); err != nil {
		e.t.Fatal(err)
	}
	b, err := integration.MarshalSpec(s)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := integration.WriteConfig(bundle, b); err != nil {
		e.t.Fatal(err)
	}
	rt := integration.Runtime{
		Name: "runcage/" + profile, Path: e.bin.Runcage, Pre: []string{"--runcage-profile", profile},
		Env: []string{"RUNCAGE_CONFIG=" + e.policy}, Root: filepath.Join(e.dir, "state"),
		Log: filepath.Join(e.dir, "runcage.log"),
	}
	rt.DeleteLater(e.t, id)
	res := rt.Exec(timeout, "run", "--bundle", bundle, id)
	if res.Err != nil {
		// The agents' logs say what they were doing.
		logs, _ := filepath.Glob(filepath.Join(e.dir, "*", "agents", "*.log"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			e.t.Logf("%s:\n%s", l, b)
		}
		e.t.Fatalf("%v\n%s", res.Err, res)
	}
	return res
}

// script is the workload: the recorded commands, run by busybox sh.
const script = `ls / >/dev/null; echo recorded > /tmp/f; cat /tmp/f; rm /tmp/f`

// TestGenerateFromStraceEnforces records the workload with strace on the
// host, generates a profile from the log, and runs the same workload in a
// container under that profile: it works, and commands whose syscalls the
// log never shows (statfs, which runtime/default allows; unshare) fail
// with EPERM.
func TestGenerateFromStraceEnforces(t *testing.T) {
	e := newEnv(t)
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Fatalf("strace is required (apt-get install strace): %v", err)
	}
	log := filepath.Join(e.dir, "workload.strace")
	cmd := exec.Command(strace, "-f", "-o", log, integration.HostBusybox, "sh", "-c", script)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Dir = e.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("strace: %v\n%s", err, out)
	}
	res := e.runcage("profile", "generate", "--name", "gen", log)
	if res.Exit != 0 {
		t.Fatalf("generate failed:\n%s", res)
	}
	for _, f := range []string{"seccomp.json", "apparmor", "profile.toml", "trace.json"} {
		if _, err := os.Stat(filepath.Join(e.profiles, "gen", f)); err != nil {
			t.Errorf("generated profile lacks %s: %v", f, err)
		}
	}
	// Generating again without --force is refused; with it, it works.
	if res := e.runcage("profile", "generate", "--name", "gen", log); res.Exit == 0 || !strings.Contains(res.Stderr, "profile exists") {
		t.Errorf("overwrote without --force:\n%s", res)
	}
	if res := e.runcage("profile", "generate", "--name", "gen", "--force", log); res.Exit != 0 {
		t.Errorf("--force failed:\n%s", res)
	}

	res = e.run("gen", "/bin/sh", "-c", script)
	if res.Exit != 0 || strings.TrimSpace(res.Stdout) != "recorded" {
		t.Fatalf("the recorded workload fails under its generated profile:\n%s", res)
	}
	// statfs is allowed by runtime/default but was never recorded.
	for _, c := range []struct {
		profile string
		args    []string
		fails   bool
	}{
		{"default", []string{"/bin/stat", "-f", "/"}, false},
		{"gen", []string{"/bin/stat", "-f", "/"}, true},
		{"gen", []string{"/bin/unshare", "-n", "/bin/true"}, true},
	} {
		res := e.run(c.profile, c.args...)
		eperm := strings.Contains(res.Stderr+res.Stdout, "Operation not permitted")
		if c.fails && (res.Exit == 0 || !eperm) {
			t.Errorf("%v under %s: want a failure with EPERM\n%s", c.args, c.profile, res)
		}
		if !c.fails && res.Exit != 0 {
			t.Errorf("%v under %s: want success\n%s", c.args, c.profile, res)
		}
	}
	// diff: the profile against itself is equal (exit 0), against the
	// default it differs (exit 1).
	if res := e.runcage("profile", "diff", "gen", "gen"); res.Exit != 0 {
		t.Errorf("diff gen gen:\n%s", res)
	}
	if res := e.runcage("profile", "diff", "default", "gen"); res.Exit != 1 || !strings.Contains(res.Stdout, "- statfs") {
		t.Errorf("diff default gen:\n%s", res)
	}
}

// TestEmptyTraceStarts proves that a profile generated from a trace with
// one syscall (getpid; generate refuses a trace with none) still starts a
// container: the syscalls runc makes after it loads the filter are always
// allowed.
func TestEmptyTraceStarts(t *testing.T) {
	e := newEnv(t)
	empty := filepath.Join(e.dir, "empty.json")
	if err := os.WriteFile(empty, []byte(`{"version":1,"name":"empty","source":"runcage","syscalls":{"getpid":1}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := e.runcage("profile", "generate", "--name", "empty", empty); res.Exit != 0 {
		t.Fatalf("generate:\n%s", res)
	}
	for i := 0; i < 3; i++ { // runc's Go runtime is not deterministic
		if res := e.run("empty", "/bin/true"); res.Exit != 0 {
			t.Fatalf("/bin/true under a profile from an empty trace:\n%s", res)
		}
	}
	// And the filter does deny what the trace lacks: statfs.
	if res := e.run("empty", "/bin/stat", "-f", "/"); res.Exit == 0 || !strings.Contains(res.Stderr, "Operation not permitted") {
		t.Errorf("stat -f works under a profile from an empty trace:\n%s", res)
	}
}
