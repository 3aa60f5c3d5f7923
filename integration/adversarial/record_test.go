//go:build integration

package adversarial

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runcage/runcage/integration"
)

// recordSpin makes no syscall: after its agent's death the kernel's ENOSYS
// answers never reach it, so only a kill stops it (review class 11).
const recordSpin = `while :; do :; done`

// TestRecordAgentDeath kills the recording agent of a container under the
// built-in record profile. The control kills the agent's watchdog first:
// with nobody guarding it, the workload keeps spinning after the agent's
// death, unmediated. Then the agent alone is killed: the container must be
// gone within two seconds, its socket removed at once, a stale socket (the
// control's) removed by the next create, and the agent's log by delete.
func TestRecordAgentDeath(t *testing.T) {
	e := NewEnv(t, "")
	e.Policy = e.WritePolicy(fmt.Sprintf("recordings_dir = %q\naudit_log = %q\n", e.Dir+"/recordings", e.Dir+"/audit.log"))
	rt := e.Runcage("record")
	b := e.Bundle("spin", Spec(recordSpin), nil, integration.RootfsOptions{})

	ctl := recordStart(e, rt, b)
	ctlAgent, ctlWatchdog, ctlLog := recordAgentOf(e, rt, ctl)
	recordSpinning(e, rt, ctl)
	for _, pid := range []int{ctlWatchdog, ctlAgent} {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill %d: %v", pid, err)
		}
	}
	time.Sleep(2 * time.Second)
	if st, err := rt.State(ctl); err != nil || st.Status != "running" {
		t.Fatalf("control: with agent and watchdog killed the container should keep spinning, so the case proves nothing: %+v %v", st, err)
	}
	ctlSock := strings.TrimSuffix(ctlLog, ".log")
	if _, err := os.Lstat(ctlSock); err != nil {
		t.Fatalf("control: the killed agent's socket should be left behind: %v", err)
	}

	id := recordStart(e, rt, b)
	if _, err := os.Lstat(ctlSock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("create did not remove the stale socket %s of a dead agent: %v", ctlSock, err)
	}
	agent, _, logPath := recordAgentOf(e, rt, id)
	recordSpinning(e, rt, id)
	sock := strings.TrimSuffix(logPath, ".log")
	if err := syscall.Kill(agent, syscall.SIGKILL); err != nil {
		t.Fatalf("kill agent %d: %v", agent, err)
	}
	start := time.Now()
	if err := rt.WaitStopped(id, 2*time.Second); err != nil {
		t.Fatalf("container still runs 2s after its agent was killed: %v\nagent log: %s", err, readFile(logPath))
	}
	t.Logf("container stopped %v after its agent was killed", time.Since(start).Round(time.Millisecond))
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dead agent's socket %s is left: %v", sock, err)
	}
	if log := readFile(logPath); !strings.Contains(log, "died") {
		t.Errorf("the agent's log does not say it died: %q", log)
	}
	if res := rt.Exec(invokeTimeout, "delete", id); res.Exit != 0 {
		t.Fatalf("delete: %s", res)
	}
	if _, err := os.Lstat(logPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("delete left the dead agent's log %s: %v", logPath, err)
	}
}

// recordStart creates and starts bundle with rt and returns its id; the
// container is force-deleted when the test ends.
func recordStart(e *Env, rt integration.Runtime, bundle string) string {
	e.T.Helper()
	id := NewID()
	rt.CreateStart(e.T, bundle, id)
	return id
}

// recordSpinning waits until container id's shell has started and is in
// its loop (it makes no syscalls from then on: killed during its start-up,
// the agent's ENOSYS answers would make it exit by themselves).
func recordSpinning(e *Env, rt integration.Runtime, id string) {
	e.T.Helper()
	st, err := rt.State(id)
	if err != nil || st.Status != "running" {
		e.T.Fatalf("the spinning container does not run: %+v %v", st, err)
	}
	if err := integration.WaitFor(10*time.Second, func() error {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/syscall", st.Pid))
		if err != nil {
			return err
		}
		if !strings.HasPrefix(string(b), "running") {
			return fmt.Errorf("container init is in a syscall: %s", b)
		}
		return nil
	}); err != nil {
		e.T.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
}

// recordAgentOf returns the pids of the agent and of the watchdog of
// container id (run by rt), and the agent's log: the processes with those
// argv[0] whose stderr is the log runcage names after rt's root and id
// (runtime.agentKey).
func recordAgentOf(e *Env, rt integration.Runtime, id string) (agent, watchdog int, logPath string) {
	e.T.Helper()
	root, err := filepath.Abs(rt.Root)
	if err != nil {
		e.T.Fatal(err)
	}
	sum := sha256.Sum256([]byte(root + "\x00" + id))
	logPath = filepath.Join(e.StateDir, "agents", hex.EncodeToString(sum[:8])+".sock.log")
	if err := integration.WaitFor(10*time.Second, func() error {
		agents, watchdogs, err := integration.RecorderProcesses(func(lp string) bool { return lp == logPath })
		if err != nil {
			return err
		}
		if len(agents) == 0 || len(watchdogs) == 0 {
			return fmt.Errorf("agents %v, watchdogs %v with log %s", agents, watchdogs, logPath)
		}
		agent, watchdog = agents[len(agents)-1], watchdogs[len(watchdogs)-1]
		return nil
	}); err != nil {
		e.T.Fatal(err)
	}
	return agent, watchdog, logPath
}
