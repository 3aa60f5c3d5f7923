//go:build integration

package integration

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestLogQuietOnSuccess checks that a successful default-profile container
// lifecycle writes no info- or debug-level lines to the --log file: info
// logging is off by default, so /run does not fill up on busy hosts.
func TestLogQuietOnSuccess(t *testing.T) {
	e := newEnv(t)
	rt := e.runcage("")
	b, _ := e.bundle("quiet", BaseSpec(DockerDefaultCaps, "echo", "quiet-ok"), RootfsOptions{})
	id := newID()
	e.deleteLater(rt, id)
	for _, argv := range [][]string{
		{"create", "--bundle", b, id},
		{"state", id},
		{"start", id},
	} {
		if res := rt.Exec(invokeTimeout, argv...); res.Exit != 0 || res.Err != nil {
			t.Fatalf("%s", res)
		}
	}
	waitStopped(t, rt, id)
	if res := rt.Exec(invokeTimeout, "delete", id); res.Exit != 0 {
		t.Fatalf("%s", res)
	}
	// A second bundle: reusing one after delete is TestUsernsBundleReusableAfterDelete's concern.
	b2, _ := e.bundle("quiet-run", BaseSpec(DockerDefaultCaps, "echo", "quiet-ok"), RootfsOptions{})
	res := e.mustRun(rt, b2, 0)
	if !strings.Contains(res.Stdout, "quiet-ok") {
		t.Errorf("container output missing: %s", res)
	}
	raw, lines, err := ReadLogLines(rt.Log)
	if err != nil {
		t.Error(err)
	}
	for i, l := range lines {
		switch l.Level {
		case "info", "debug", "trace":
			t.Errorf("%s-level line in the log of a successful run: %s", l.Level, raw[i])
		}
	}
}

// waitStopped polls `state` until the container has stopped.
func waitStopped(t *testing.T, rt Runtime, id string) {
	t.Helper()
	for range 2000 {
		res := rt.Exec(invokeTimeout, "state", id)
		var st struct{ Status string }
		if res.Exit != 0 || json.Unmarshal([]byte(res.Stdout), &st) != nil {
			t.Fatalf("state: %s", res)
		}
		if st.Status == "stopped" {
			return
		}
	}
	t.Fatalf("container %s did not stop", id)
}

// TestStateDoesNotGrowLog checks that probing a container with `state`, as
// shims and kubelets do continuously, adds nothing to the --log file.
func TestStateDoesNotGrowLog(t *testing.T) {
	e := newEnv(t)
	rt := e.runcage("")
	b, _ := e.bundle("state", BaseSpec(RuncSpecCaps, "true"), RootfsOptions{})
	id := newID()
	e.deleteLater(rt, id)
	if res := rt.Exec(invokeTimeout, "create", "--bundle", b, id); res.Exit != 0 || res.Err != nil {
		t.Fatalf("%s\nlog: %s", res, FileText(rt.Log))
	}
	size := func() int64 {
		st, err := os.Stat(rt.Log)
		if os.IsNotExist(err) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	before := size()
	for i := range 20 {
		res := rt.Exec(invokeTimeout, "state", id)
		var st struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		}
		if res.Exit != 0 || json.Unmarshal([]byte(res.Stdout), &st) != nil || st.ID != id || st.Status != "created" {
			t.Fatalf("state #%d: want status created for %s, got\n%s", i, id, res)
		}
	}
	if after := size(); after != before {
		t.Errorf("log grew from %d to %d bytes over 20 state calls:\n%s", before, after, FileText(rt.Log))
	}
}
