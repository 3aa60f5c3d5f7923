package cgroups

import (
	"errors"
	"os"
	"path"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
)

// fakeHost is one v1 hierarchy "memory" mounted at /cg where runcage runs
// in /runtime; cgroups maps existing cgroups (paths in the hierarchy) to
// whether they hold processes.
type fakeHost struct{ cgroups map[string]bool }

func (f fakeHost) Hierarchies() ([]Hierarchy, error) {
	return []Hierarchy{{Name: "memory", Mount: "/cg", Own: "/runtime"}}, nil
}

func (f fakeHost) Procs(dir string) (bool, bool, error) {
	p, ok := f.cgroups[strings.TrimPrefix(dir, "/cg")]
	return p, ok, nil
}

func (f fakeHost) Children(dir string) (bool, error) {
	d := strings.TrimPrefix(dir, "/cg")
	for c := range f.cgroups {
		if path.Dir(c) == d && c != d {
			return true, nil
		}
	}
	return false, nil
}

func TestModify(t *testing.T) {
	host := fakeHost{map[string]bool{
		"/runtime":                          true,
		"/docker":                           false,
		"/docker/victim":                    true,
		"/kubepods":                         false,
		"/kubepods/pod1":                    false,
		"/kubepods/pod1/sandbox":            true,
		"/system.slice":                     false,
		"/system.slice/docker-victim.scope": true,
		"/left":                             false, // an empty leftover of a failed create
	}}
	for _, c := range []struct {
		name, path, id string
		refused        string
	}{
		{name: "new container under the engine", path: "/docker/new"},
		{name: "new pod container", path: "/kubepods/pod1/app"},
		{name: "empty leftover", path: "/left"},
		{name: "absent path: the id under runcage's own cgroup", id: "c1"},
		{name: "relative path under runcage's own cgroup", path: "sub/x"},
		{name: "systemd form", path: "system.slice:docker:new"},
		{name: "dot-dot", path: "/docker/../x", refused: `cgroupsPath "/docker/../x" refused: it contains a ".." element`},
		{name: "inside another container", path: "/docker/victim/sub", refused: `its cgroup "/docker/victim/sub" is inside "/docker/victim", which holds processes`},
		{name: "deep inside another container", path: "/docker/victim/a/b", refused: `is inside "/docker/victim"`},
		{name: "another container's own cgroup", path: "/docker/victim", refused: `already holds processes`},
		{name: "the engine's parent cgroup", path: "/docker", refused: `already has child cgroups`},
		{name: "a pod's cgroup", path: "/kubepods/pod1", refused: `already has child cgroups`},
		{name: "the root", path: "/", refused: `is the hierarchy's root`},
		{name: "systemd form inside a scope", path: "victim.scope:x:y", refused: `invalid systemd slice name`},
		{name: "systemd scope of another container", path: "system.slice:docker:victim", refused: `(the systemd driver's cgroup) refused: in the memory hierarchy its cgroup "/system.slice/docker-victim.scope" already holds processes`},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &specs.Spec{Linux: &specs.Linux{CgroupsPath: c.path}}
			err := New(c.id, host).Modify(s)
			if c.refused == "" {
				if err != nil {
					t.Fatalf("Modify: %v", err)
				}
				return
			}
			if !errors.Is(err, profiles.ErrRefused) || !strings.Contains(err.Error(), c.refused) {
				t.Fatalf("err = %v, want refusal containing %q", err, c.refused)
			}
		})
	}
}

func TestSystemdPath(t *testing.T) {
	for _, c := range []struct{ slice, prefix, name, want string }{
		{"system.slice", "docker", "abc", "/system.slice/docker-abc.scope"},
		{"", "cri-containerd", "abc", "/system.slice/cri-containerd-abc.scope"},
		{"kubepods-besteffort-pod1.slice", "cri-containerd", "abc", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-abc.scope"},
		{"-.slice", "x", "y.slice", "/y.slice"},
	} {
		got, err := systemdPath(c.slice, c.prefix, c.name)
		if err != nil || got != c.want {
			t.Errorf("systemdPath(%q, %q, %q) = %q, %v; want %q", c.slice, c.prefix, c.name, got, err, c.want)
		}
	}
	for _, bad := range []string{"a", "a--b.slice", "-a.slice", "a/b.slice"} {
		if _, err := systemdPath(bad, "x", "y"); err == nil {
			t.Errorf("systemdPath(%q) accepted", bad)
		}
	}
}

// TestRealHost: on this host, a fresh path is fine and the runtime's own
// cgroups are found.
func TestRealHost(t *testing.T) {
	hs, err := hostFS{}.Hierarchies()
	if err != nil || len(hs) == 0 {
		t.Skipf("no cgroup hierarchies: %v", err)
	}
	s := &specs.Spec{Linux: &specs.Linux{CgroupsPath: "/runcage-unit-test-nonexistent/x"}}
	if err := New("", nil).Modify(s); err != nil {
		t.Fatalf("Modify: %v", err)
	}
}

// TestHostOf: another process's view reads that process's cgroups; for
// runcage itself it is runcage's own view, and a process that is gone is
// an error, never runcage's view.
func TestHostOf(t *testing.T) {
	own, err := hostFS{}.Hierarchies()
	if err != nil || len(own) == 0 {
		t.Skipf("no cgroup hierarchies: %v", err)
	}
	self, err := HostOf(os.Getpid()).Hierarchies()
	if err != nil || !reflect.DeepEqual(self, own) {
		t.Errorf("HostOf(self) = %v, %v; want %v", self, err, own)
	}
	if _, err := HostOf(1 << 30).Hierarchies(); err == nil {
		t.Error("HostOf(no such process) read cgroups")
	}
}
