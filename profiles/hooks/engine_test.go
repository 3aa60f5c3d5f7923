package hooks

import (
	"errors"
	"os"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
)

const (
	ctrID  = "9824264ed557640b63727604da62b1adb3a8dd99b0408ca304d8d83e82098ad5"
	ctlrID = "6befe01dcd37"
)

// setKey is the hook dockerd 20.10 wrote into a real bundle (captured with
// the passthrough profile, `docker run --network none`).
func setKey() specs.Hook {
	return specs.Hook{Path: "/proc/11857/exe", Args: []string{"libnetwork-setkey", "-exec-root=/run/docker", ctrID, ctlrID}}
}

// fakeEngine: pid → the dockerd binary it runs; any other pid is not the
// host's dockerd.
func fakeEngine(m map[int]string) engineFunc {
	return func(pid int) (string, error) {
		if p, ok := m[pid]; ok {
			return p, nil
		}
		return "", profiles.Refusef("process %d is not in the host's mount namespace", pid)
	}
}

func TestDockerSetKey(t *testing.T) {
	engine := fakeEngine(map[int]string{11857: "/usr/sbin/dockerd", 1: "/usr/lib/systemd/systemd"})
	for _, tc := range []struct {
		name  string
		stage string
		edit  func(h *specs.Hook)
		ok    bool
	}{
		{"as dockerd writes it", "prestart", func(*specs.Hook) {}, true},
		{"createRuntime (newer moby)", "createRuntime", func(*specs.Hook) {}, true},
		{"poststop stage", "poststop", func(*specs.Hook) {}, false},
		{"createContainer stage (runs in the container)", "createContainer", func(*specs.Hook) {}, false},
		{"pid is not dockerd", "prestart", func(h *specs.Hook) { h.Path = "/proc/77/exe" }, false},
		{"pid 1", "prestart", func(h *specs.Hook) { h.Path = "/proc/1/exe" }, false},
		{"dead pid", "prestart", func(h *specs.Hook) { h.Path = "/proc/99999/exe" }, false},
		{"leading zero", "prestart", func(h *specs.Hook) { h.Path = "/proc/011857/exe" }, false},
		{"self", "prestart", func(h *specs.Hook) { h.Path = "/proc/self/exe" }, false},
		{"other file of the process", "prestart", func(h *specs.Hook) { h.Path = "/proc/11857/root/bin/sh" }, false},
		{"dot-dot", "prestart", func(h *specs.Hook) { h.Path = "/proc/11857/../77/exe" }, false},
		{"other argv0", "prestart", func(h *specs.Hook) { h.Args[0] = "dockerd" }, false},
		{"extra argument", "prestart", func(h *specs.Hook) { h.Args = append(h.Args, "--debug") }, false},
		{"relative exec root", "prestart", func(h *specs.Hook) { h.Args[1] = "-exec-root=run" }, false},
		{"not an exec root", "prestart", func(h *specs.Hook) { h.Args[1] = "-config=/tmp/x" }, false},
		{"bad container id", "prestart", func(h *specs.Hook) { h.Args[2] = "; rm -rf /" }, false},
		{"bad controller id", "prestart", func(h *specs.Hook) { h.Args[3] = strings.ToUpper(ctlrID) }, false},
		{"environment", "prestart", func(h *specs.Hook) { h.Env = []string{"LD_PRELOAD=/tmp/x.so"} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := setKey()
			tc.edit(&h)
			exe, got, err := dockerSetKey(tc.stage, h, engine)
			if got != tc.ok {
				t.Errorf("dockerSetKey(%s, %+v) = %v (%v), want %v", tc.stage, h, got, err, tc.ok)
			}
			if got && exe != "/usr/sbin/dockerd" {
				t.Errorf("dockerSetKey(%s, %+v) path = %q, want the dockerd binary", tc.stage, h, exe)
			}
		})
	}
}

func TestModifyAllowsOnlyDockersOwnHook(t *testing.T) {
	m := New(&profiles.Profile{Name: "default"}).(modifier)
	m.engine = fakeEngine(map[int]string{11857: "/usr/sbin/dockerd"})
	s := &specs.Spec{Hooks: &specs.Hooks{Prestart: []specs.Hook{setKey()}}}
	if err := m.Modify(s); err != nil {
		t.Fatalf("docker's own hook refused: %v", err)
	}
	if got := s.Hooks.Prestart[0].Path; got != "/proc/11857/exe" {
		t.Errorf("hook path = %q, want it unchanged", got)
	}
	s.Hooks.Prestart = append(s.Hooks.Prestart, specs.Hook{Path: "/proc/11857/exe", Args: []string{"dockerd", "--debug"}})
	err := m.Modify(s)
	if !errors.Is(err, profiles.ErrRefused) || !strings.Contains(err.Error(), `prestart hook "/proc/11857/exe" refused`) {
		t.Fatalf("err = %v, want the second hook refused", err)
	}
	// A process of another container whose binary is called dockerd.
	s = &specs.Spec{Hooks: &specs.Hooks{Prestart: []specs.Hook{setKey()}}}
	s.Hooks.Prestart[0].Path = "/proc/4242/exe"
	err = m.Modify(s)
	if !errors.Is(err, profiles.ErrRefused) || !strings.Contains(err.Error(), "not in the host's mount namespace") {
		t.Fatalf("err = %v, want the impostor refused", err)
	}
}

// TestHostDockerd runs the real check against processes of this host.
func TestHostDockerd(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	// This test process is in the host's namespaces but is not dockerd.
	if _, err := hostDockerd(os.Getpid()); err == nil || !strings.Contains(err.Error(), "not dockerd") {
		t.Errorf("hostDockerd(self) = %v, want refused as not dockerd", err)
	}
	if _, err := hostDockerd(1 << 30); !errors.Is(err, profiles.ErrRefused) {
		t.Errorf("hostDockerd(no such pid) = %v, want a refusal", err)
	}
	for _, c := range []struct {
		status string
		want   bool
	}{
		{"Name:\tx\nUid:\t0\t0\t0\t0\n", true},
		{"Uid:\t0\t1000\t0\t0\n", false},
		{"Uid:\t100000\t100000\t100000\t100000\n", false},
		{"Gid:\t0\t0\t0\t0\n", false},
	} {
		if got := rootUIDs(c.status); got != c.want {
			t.Errorf("rootUIDs(%q) = %v, want %v", c.status, got, c.want)
		}
	}
}
