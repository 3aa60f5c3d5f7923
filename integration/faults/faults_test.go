//go:build integration

// Package faults kills runcage at chosen moments of a real `create` and
// checks what an engine would find afterwards: config.json is always either
// the original or the complete rewrite, never a partial file, and the next
// create on the same bundle works.
package faults

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	it "github.com/runcage/runcage/integration"
	"github.com/runcage/runcage/runtime/spec"
)

const timeout = time.Minute

func TestMain(m *testing.M) {
	os.Exit(it.Suite{Name: "faults", Needs: "they create real containers"}.Run(m))
}

// env is one test's private directory, policy and bundle.
type env struct {
	t        *testing.T
	dir      string
	stateDir string
	bundle   string
	orig     []byte
	rt       it.Runtime
}

// newEnv makes a test environment. With warm false, runcage runs without
// its warm front (RUNCAGE_NO_WARM=1): every create is done by the process
// the test kills.
func newEnv(t *testing.T, warm bool) *env {
	bins, err := it.FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	dir := it.TempDir(t, "runcage-faults-")
	e := &env{t: t, dir: dir, stateDir: filepath.Join(dir, "state"), bundle: filepath.Join(dir, "bundle")}
	t.Cleanup(func() { // before TempDir's removal
		if err := it.StopDenialAgent(e.stateDir); err != nil {
			t.Error(err)
		}
		if err := it.StopWarm(e.stateDir); err != nil {
			t.Error(err)
		}
		for _, k := range it.KillProcessesUnder(dir) {
			t.Errorf("killed leftover process %s", k)
		}
		if err := it.UnmountUnder(dir); err != nil {
			t.Error(err)
		}
	})
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	policy := filepath.Join(dir, "policy.toml")
	if err := os.WriteFile(policy, []byte(fmt.Sprintf("runtime = %q\nstate_dir = %q\n", bins.Runc, e.stateDir)), 0o644); err != nil {
		t.Fatal(err)
	}
	e.rt = it.Runtime{Name: "runcage", Path: bins.Runcage, Pre: []string{"--runcage-config", policy},
		Root: filepath.Join(dir, "runc-root"), Log: filepath.Join(dir, "runcage.log")}
	if !warm {
		e.rt.Env = []string{"RUNCAGE_NO_WARM=1"}
	}
	if err := it.BuildRootfs(filepath.Join(e.bundle, "rootfs"), it.RootfsOptions{}); err != nil {
		t.Fatal(err)
	}
	// What Docker sends: its default capabilities, no_new_privs off.
	s := it.BaseSpec(it.DockerDefaultCaps, "sleep", "30")
	s.Process.NoNewPrivileges = false
	if e.orig, err = it.MarshalSpec(s); err != nil {
		t.Fatal(err)
	}
	e.restore()
	return e
}

// restore puts the original config.json back and removes the kept copy.
func (e *env) restore() {
	if err := it.WriteConfig(e.bundle, e.orig); err != nil {
		e.t.Fatal(err)
	}
	os.Remove(filepath.Join(e.bundle, spec.ConfigName+spec.OrigSuffix))
}

func (e *env) config() []byte {
	b, err := os.ReadFile(filepath.Join(e.bundle, spec.ConfigName))
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e *env) must(args ...string) it.Result {
	e.t.Helper()
	res := e.rt.Exec(timeout, args...)
	if res.Exit != 0 || res.Err != nil {
		e.t.Fatalf("%s\nlog: %s", res, it.FileText(e.rt.Log))
	}
	return res
}

// createAfterKill creates container id again after a killed create and a
// `delete --force`. A runc init the kill orphaned may still be leaving
// the container's cgroup, and runcage refuses, rightly, to put a new
// container into a cgroup that holds processes: that refusal is retried
// for up to 10 s (and logged); any other failure fails the test.
func (e *env) createAfterKill(id string) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res := e.rt.Exec(timeout, "create", "--bundle", e.bundle, id)
		if res.Exit == 0 && res.Err == nil {
			return
		}
		if !strings.Contains(res.Stderr, "already holds processes") || time.Now().After(deadline) {
			e.t.Fatalf("%s\nlog: %s", res, it.FileText(e.rt.Log))
		}
		e.t.Logf("create after the kill: the cgroup still holds the killed create's processes; retrying")
		time.Sleep(100 * time.Millisecond)
	}
}

// killedCreate starts `runcage create` in its own process group and
// SIGKILLs the group after delay: runcage itself, or the runc it became
// by execve, and any runc init child.
func (e *env) killedCreate(id string, delay time.Duration) error {
	argv := e.rt.Argv("create", "--bundle", e.bundle, id)
	cmd := exec.Command(e.rt.Path, argv...)
	cmd.Env = append([]string{it.HostPATH}, e.rt.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	time.Sleep(delay)
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Wait()
	return nil
}

// TestSIGKILLDuringCreate kills `runcage create` at moments spread over a
// create, done by the Go front and by the warm front (where the kill ends
// the caller, and the server finishes or never starts the transaction).
func TestSIGKILLDuringCreate(t *testing.T) {
	for _, warm := range []bool{false, true} {
		name := "go front"
		if warm {
			name = "warm front"
		}
		t.Run(name, func(t *testing.T) { sigkillDuringCreate(t, warm) })
	}
}

func sigkillDuringCreate(t *testing.T, warm bool) {
	e := newEnv(t, warm)
	const id = "fault"
	// The reference: one create run to the end. Its rewrite is the only
	// other content config.json may have. The rewrite is the same for every
	// attempt because the id, and so the user-namespace key, range and
	// mount directory, are the same.
	start := time.Now()
	e.must("create", "--bundle", e.bundle, id)
	full := time.Since(start)
	rewritten := e.config()
	if bytes.Equal(rewritten, e.orig) {
		t.Fatal("create did not rewrite config.json")
	}
	if _, err := spec.Parse(rewritten); err != nil {
		t.Fatalf("rewritten config does not parse: %v", err)
	}
	e.must("delete", "--force", id)
	e.restore()

	n := 30
	if v := os.Getenv("RUNCAGE_FAULT_TRIES"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	// After runcage has execve'd runc, a kill can only find the rewrite:
	// spread the kills over the first full-create time.
	span := full
	var sawOrig, sawRewritten int
	for i := range n {
		delay := span * time.Duration(i) / time.Duration(n)
		if err := e.killedCreate(id, delay); err != nil {
			t.Fatal(err)
		}
		got := e.config()
		switch {
		case bytes.Equal(got, e.orig):
			sawOrig++
		case bytes.Equal(got, rewritten):
			sawRewritten++
			if kept := it.FileText(filepath.Join(e.bundle, spec.ConfigName+spec.OrigSuffix)); kept != string(e.orig) {
				t.Errorf("try %d (kill after %v): config.json is rewritten but the kept original is not the original", i, delay)
			}
		default:
			t.Fatalf("try %d (kill after %v): config.json is neither the original nor the rewrite:\n%s", i, delay, got)
		}
		// What an engine does after a failed create: delete, then create
		// again on the bundle as it was left.
		e.rt.Exec(timeout, "delete", "--force", id)
		e.createAfterKill(id)
		if got := e.config(); !bytes.Equal(got, rewritten) {
			t.Errorf("try %d: the create after the kill wrote a different config:\n%s", i, got)
		}
		e.must("delete", "--force", id)
		e.restore()
	}
	t.Logf("%d SIGKILLs spread over %v (a full create takes %v): %d left the original, %d the complete rewrite, 0 anything else",
		n, span.Round(time.Millisecond), full.Round(time.Millisecond), sawOrig, sawRewritten)
	if sawOrig == 0 || sawRewritten == 0 {
		t.Errorf("the kills did not cover both sides of the write (original %d, rewritten %d): the test did not exercise the window", sawOrig, sawRewritten)
	}
	// A kill between the temp file's creation and its rename leaves the
	// temp file (never config.json itself) behind in the bundle.
	temps, _ := filepath.Glob(filepath.Join(e.bundle, ".config.json*.runcage-*"))
	t.Logf("temporary files left in the bundle by killed writes: %d", len(temps))
	left, err := it.RuncageLeftovers(e.stateDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("after %d killed creates and their clean-up, runcage still holds:\n%q", n, left)
	}
}

// TestSIGKILLAtEachWriteStep kills runcage deterministically, with
// strace's fault injection, at the syscalls where a crash matters: the
// rename that keeps the original, the rename that replaces config.json,
// and the execve of runc (everything written, nothing started). After each
// kill an engine deletes the container (as containerd does after a failed
// create); then nothing may be left, and a new create must work.
func TestSIGKILLAtEachWriteStep(t *testing.T) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Fatalf("strace not installed (make deps installs it): %v", err)
	}
	e := newEnv(t, false)
	const id = "fault-step"
	e.must("create", "--bundle", e.bundle, id)
	rewritten := e.config()
	e.must("delete", "--force", id)
	e.restore()
	bins, _ := it.FindBinaries()
	for _, tc := range []struct {
		name     string
		syscalls string
		path     string
		want     string // "orig" or "rewritten"
	}{
		{"rename of the kept original", "rename,renameat,renameat2", filepath.Join(e.bundle, spec.ConfigName+spec.OrigSuffix), "orig"},
		{"rename onto config.json", "rename,renameat,renameat2", filepath.Join(e.bundle, spec.ConfigName), "orig"},
		{"execve of runc", "execve", bins.Runc, "rewritten"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			argv := append([]string{"-f", "-qq", "-o", "/dev/null", "-e", "trace=" + tc.syscalls, "-P", tc.path,
				"-e", "inject=" + tc.syscalls + ":signal=KILL", e.rt.Path}, e.rt.Argv("create", "--bundle", e.bundle, id)...)
			cmd := exec.Command(strace, argv...)
			cmd.Env = append([]string{it.HostPATH}, e.rt.Env...)
			out, err := cmd.CombinedOutput()
			// strace exits as its tracee did: killed by SIGKILL, or with
			// status 128+9.
			var ee *exec.ExitError
			killed := errors.As(err, &ee) && (ee.ExitCode() == 128+int(syscall.SIGKILL) ||
				ee.Sys().(syscall.WaitStatus).Signaled() && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL)
			if !killed {
				t.Fatalf("runcage was not killed at the %s: %v\n%s", tc.name, err, out)
			}
			got := e.config()
			want := map[string][]byte{"orig": e.orig, "rewritten": rewritten}[tc.want]
			if !bytes.Equal(got, want) {
				t.Fatalf("killed at the %s: config.json is not the %s one:\n%s", tc.name, tc.want, got)
			}
			if kept, err := os.ReadFile(filepath.Join(e.bundle, spec.ConfigName+spec.OrigSuffix)); err == nil && !bytes.Equal(kept, e.orig) {
				t.Errorf("killed at the %s: the kept original differs from the original", tc.name)
			}
			e.rt.Exec(timeout, "delete", "--force", id)
			left, err := it.RuncageLeftovers(e.stateDir)
			if err != nil {
				t.Fatal(err)
			}
			if len(left) > 0 {
				t.Errorf("killed at the %s, then deleted: runcage still holds\n%s", tc.name, strings.Join(left, "\n"))
			}
			e.must("create", "--bundle", e.bundle, id)
			if got := e.config(); !bytes.Equal(got, rewritten) {
				t.Errorf("the create after the kill wrote a different config:\n%s", got)
			}
			e.must("delete", "--force", id)
			if left, _ := it.RuncageLeftovers(e.stateDir); len(left) > 0 {
				t.Errorf("after the next create and delete: runcage still holds\n%s", strings.Join(left, "\n"))
			}
			e.restore()
		})
	}
}

// TestSIGKILLWarmFrontAtEachWriteStep kills the warm front, with strace's
// fault injection, at the renames of the create it does for a caller. The
// caller must fail (it cannot know how far the server got), config.json
// must be the original, and after a delete nothing may be left and a new
// create (which starts a new warm front) must work.
func TestSIGKILLWarmFrontAtEachWriteStep(t *testing.T) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Fatalf("strace not installed (make deps installs it): %v", err)
	}
	e := newEnv(t, true)
	const id = "fault-warm"
	e.must("create", "--bundle", e.bundle, id) // starts the warm front
	rewritten := e.config()
	e.must("delete", "--force", id)
	e.restore()
	for _, tc := range []struct {
		name string
		path string
	}{
		{"rename of the kept original", filepath.Join(e.bundle, spec.ConfigName+spec.OrigSuffix)},
		{"rename onto config.json", filepath.Join(e.bundle, spec.ConfigName)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			pid := waitWarm(t, e.stateDir)
			syscalls := "rename,renameat,renameat2"
			tracer := exec.Command(strace, "-f", "-qq", "-o", "/dev/null", "-e", "trace="+syscalls, "-P", tc.path,
				"-e", "inject="+syscalls+":signal=KILL", "-p", strconv.Itoa(pid))
			if err := tracer.Start(); err != nil {
				t.Fatal(err)
			}
			defer tracer.Process.Kill()
			waitTraced(t, pid)
			res := e.rt.Exec(timeout, "create", "--bundle", e.bundle, id)
			if res.Exit != 1 || !strings.Contains(res.Stderr, "the warm front ended before it answered") {
				t.Fatalf("create while the warm front is killed at the %s: %s", tc.name, res)
			}
			_ = tracer.Wait() // strace ends with the process it attached to
			if stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat")); err == nil && !bytes.Contains(stat, []byte(") Z ")) {
				t.Fatal("the warm front was not killed")
			}
			if got := e.config(); !bytes.Equal(got, e.orig) {
				t.Fatalf("warm front killed at the %s: config.json is not the original:\n%s", tc.name, got)
			}
			if kept, err := os.ReadFile(filepath.Join(e.bundle, spec.ConfigName+spec.OrigSuffix)); err == nil && !bytes.Equal(kept, e.orig) {
				t.Errorf("warm front killed at the %s: the kept original differs from the original", tc.name)
			}
			e.rt.Exec(timeout, "delete", "--force", id)
			if left, err := it.RuncageLeftovers(e.stateDir); err != nil || len(left) > 0 {
				t.Errorf("warm front killed at the %s, then deleted: runcage still holds %v %v", tc.name, left, err)
			}
			e.must("create", "--bundle", e.bundle, id)
			if got := e.config(); !bytes.Equal(got, rewritten) {
				t.Errorf("the create after the kill wrote a different config:\n%s", got)
			}
			e.must("delete", "--force", id)
			e.restore()
		})
	}
}

// waitWarm waits for the warm front of stateDir and returns its pid.
func waitWarm(t *testing.T, stateDir string) int {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if pid := it.WarmPid(stateDir); pid != 0 {
			if socks, _ := filepath.Glob(filepath.Join(stateDir, "warm", "*.sock")); len(socks) == 1 {
				return pid
			}
		}
	}
	t.Fatal("no warm front runs")
	return 0
}

// waitTraced waits until every thread of pid has a tracer.
func waitTraced(t *testing.T, pid int) {
	t.Helper()
	task := filepath.Join("/proc", strconv.Itoa(pid), "task")
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		tids, _ := os.ReadDir(task)
		all := len(tids) > 0
		for _, tid := range tids {
			st, _ := os.ReadFile(filepath.Join(task, tid.Name(), "status"))
			if !bytes.Contains(st, []byte("\nTracerPid:\t")) || bytes.Contains(st, []byte("\nTracerPid:\t0\n")) {
				all = false
			}
		}
		if all {
			return
		}
	}
	t.Fatal("strace did not attach to the warm front")
}
