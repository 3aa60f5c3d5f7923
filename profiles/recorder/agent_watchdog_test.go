package recorder

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestWatch plays the agent against a real watchdog loop: a guarded
// process (sleep) must be killed exactly when the agent's end of the link
// closes and the agent did not exit cleanly, and the socket removed.
func TestWatch(t *testing.T) {
	for _, c := range []struct {
		name       string
		agentErr   error
		wantKilled bool
	}{
		{"clean exit", nil, false},
		{"killed agent", errors.New("signal: killed"), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			sock := filepath.Join(dir, "a.sock")
			if err := os.WriteFile(sock, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			victim := exec.Command("sleep", "60")
			if err := victim.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- victim.Wait() }()
			t.Cleanup(func() { victim.Process.Kill(); <-exited })
			wl, al, err := NewGuardLink()
			if err != nil {
				t.Fatal(err)
			}
			defer wl.Close()
			// Any fd stands in for the notify fd: the watchdog only holds it.
			var p [2]int
			if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
				t.Fatal(err)
			}
			defer unix.Close(p[0])
			defer unix.Close(p[1])
			if err := sendGuard(al, victim.Process.Pid, p[0]); err != nil {
				t.Fatal(err)
			}
			al.Close() // the agent is gone
			var logb strings.Builder
			done := make(chan error, 1)
			go func() { done <- Watch(wl, func() error { return c.agentErr }, sock, "c1", &logb) }()
			select {
			case err := <-done:
				if (err != nil) != c.wantKilled {
					t.Fatalf("Watch = %v, want error %v", err, c.wantKilled)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Watch did not return after the agent's end closed")
			}
			select {
			case err := <-exited:
				exited <- err // for the cleanup
				if !c.wantKilled {
					t.Fatalf("guarded process died after a clean agent exit: %v", err)
				}
				if ee, ok := err.(*exec.ExitError); !ok || !strings.Contains(ee.String(), "killed") {
					t.Errorf("guarded process ended with %v, want killed", err)
				}
			case <-time.After(time.Second):
				if c.wantKilled {
					t.Fatal("guarded process still runs after the agent died")
				}
			}
			_, err = os.Stat(sock)
			if gone := errors.Is(err, os.ErrNotExist); gone != c.wantKilled {
				t.Errorf("socket removed = %v, want %v", gone, c.wantKilled)
			}
			if c.wantKilled && !strings.Contains(logb.String(), `agent of container "c1" died`) {
				t.Errorf("log lacks the agent's death: %q", logb.String())
			}
		})
	}
}

// TestSendGuardNeedsAPid: runc naming no pid must not be guarded silently.
func TestSendGuardNeedsAPid(t *testing.T) {
	_, al, err := NewGuardLink()
	if err != nil {
		t.Fatal(err)
	}
	defer al.Close()
	if err := sendGuard(al, 0, 0); err == nil {
		t.Fatal("sendGuard with pid 0 succeeded")
	}
}
