//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// These tests follow DESIGN.md's user-namespace section: the default
// profile gives every container a user namespace with a host range of its
// own that never includes host id 0, and releases it on delete.

func overlaps(a, b []idmap) bool {
	for _, x := range a {
		for _, y := range b {
			if uint64(x.HostID) < uint64(y.HostID)+uint64(y.Size) && uint64(y.HostID) < uint64(x.HostID)+uint64(x.Size) {
				return true
			}
		}
	}
	return false
}

// hostUIDMap returns the uid map of a created container's init process,
// read from the host.
func (e *testEnv) hostUIDMap(rt Runtime, id string) []idmap {
	e.t.Helper()
	res := rt.Exec(invokeTimeout, "state", id)
	var st struct {
		Pid    int    `json:"pid"`
		Status string `json:"status"`
	}
	if res.Exit != 0 || json.Unmarshal([]byte(res.Stdout), &st) != nil || st.Pid <= 0 {
		e.t.Fatalf("state %s: %s", id, res)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/uid_map", st.Pid))
	if err != nil {
		e.t.Fatal(err)
	}
	m, err := ParseIDMapText(string(b))
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// initPid returns the host pid of a created container's init process.
func (e *testEnv) initPid(rt Runtime, id string) int {
	e.t.Helper()
	res := rt.Exec(invokeTimeout, "state", id)
	var st struct {
		Pid int `json:"pid"`
	}
	if res.Exit != 0 || json.Unmarshal([]byte(res.Stdout), &st) != nil || st.Pid <= 0 {
		e.t.Fatalf("state %s: %s", id, res)
	}
	return st.Pid
}

func (e *testEnv) mustCreate(rt Runtime, bundle, id string) {
	e.t.Helper()
	if res := rt.Exec(invokeTimeout, "create", "--bundle", bundle, id); res.Exit != 0 || res.Err != nil {
		e.t.Fatalf("create %s: %s\nlog: %s", id, res, FileText(rt.Log))
	}
}

// TestUsernsDefaultProfile checks from inside the container that it
// runs in a user namespace whose mappings leave out host id 0.
func TestUsernsDefaultProfile(t *testing.T) {
	e := newEnv(t)
	b, _ := e.bundle("userns", BaseSpec(DockerDefaultCaps, "sh", "-c", "cat /proc/self/uid_map; echo --; cat /proc/self/gid_map"), RootfsOptions{})
	res := e.mustRun(e.runcage(""), b, 0)
	uidText, gidText, ok := strings.Cut(res.Stdout, "--\n")
	if !ok {
		t.Fatalf("unexpected output:\n%s", res)
	}
	for name, text := range map[string]string{"uid_map": uidText, "gid_map": gidText} {
		m, err := ParseIDMapText(text)
		if err != nil {
			t.Fatal(err)
		}
		if IsIdentityMap(m) {
			t.Errorf("%s is the host's identity map: the container has no user namespace", name)
		}
		if overlaps(m, []idmap{{HostID: 0, Size: 1}}) {
			t.Errorf("%s maps host id 0: %v", name, m)
		}
	}
}

// TestUsernsBundleReusableAfterDelete runs the same bundle twice, as `runc run`
// allows and runc's own integration suite does: what runcage rewrote for
// the first container must not break the second.
func TestUsernsBundleReusableAfterDelete(t *testing.T) {
	e := newEnv(t)
	b, _ := e.bundle("reuse", BaseSpec(RuncSpecCaps, "echo", "reuse-ok"), RootfsOptions{})
	for i := range 2 {
		res := e.run(e.runcage(""), b)
		if res.Exit != 0 || !strings.Contains(res.Stdout, "reuse-ok") {
			t.Fatalf("run #%d of the same bundle: %s", i+1, res)
		}
	}
}

// TestUsernsDuplicateCreateKeepsLiveContainer checks that a create refused for a
// duplicate container id leaves the live container with that id alone: its
// host id range stays allocated to it, so the next container gets another.
func TestUsernsDuplicateCreateKeepsLiveContainer(t *testing.T) {
	e := newEnv(t)
	rt := e.runcage("")
	spec := BaseSpec(RuncSpecCaps, "true")
	bundle := func(name string) string { b, _ := e.bundle(name, spec, RootfsOptions{}); return b }

	idX := newID()
	e.deleteLater(rt, idX)
	e.mustCreate(rt, bundle("x"), idX)
	mapX := e.hostUIDMap(rt, idX)
	if IsIdentityMap(mapX) {
		t.Fatalf("container %s has no user namespace; this test needs the default profile's userns", idX)
	}

	// Baseline: two live containers get disjoint ranges.
	idY0 := newID()
	e.deleteLater(rt, idY0)
	e.mustCreate(rt, bundle("y0"), idY0)
	if mapY0 := e.hostUIDMap(rt, idY0); overlaps(mapX, mapY0) {
		t.Fatalf("live containers share host ids: %s %v, %s %v", idX, mapX, idY0, mapY0)
	}
	if res := rt.Exec(invokeTimeout, "delete", "--force", idY0); res.Exit != 0 {
		t.Fatalf("%s", res)
	}

	// The duplicate create must fail without touching container X.
	dup := rt.Exec(invokeTimeout, "create", "--bundle", bundle("dup"), idX)
	if dup.Exit == 0 {
		t.Fatalf("a second create with id %s succeeded: %s", idX, dup)
	}
	idY := newID()
	e.deleteLater(rt, idY)
	e.mustCreate(rt, bundle("y"), idY)
	if mapY := e.hostUIDMap(rt, idY); overlaps(mapX, mapY) {
		t.Errorf("after a refused duplicate create of %s, the new container %s got host ids %v overlapping the live %s's %v",
			idX, idY, mapY, idX, mapX)
	}
	if got := e.hostUIDMap(rt, idX); !slices.Equal(got, mapX) {
		t.Errorf("container %s's uid map changed from %v to %v", idX, mapX, got)
	}
	if res := rt.Exec(invokeTimeout, "start", idX); res.Exit != 0 {
		t.Errorf("start %s after the duplicate create: %s", idX, res)
	}
}
