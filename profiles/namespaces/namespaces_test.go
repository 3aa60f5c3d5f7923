package namespaces

import (
	"errors"
	"io/fs"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/runcage/runcage/profiles"
)

// fakeNS is a fake namespace filesystem: path → namespace identity. Paths
// that are absent fail with fs.ErrNotExist.
type fakeNS map[string]nsID

func (f fakeNS) stat(path string) (nsID, error) {
	id, ok := f[path]
	if !ok {
		return nsID{}, &fs.PathError{Op: "stat", Path: path, Err: fs.ErrNotExist}
	}
	return id, nil
}

var (
	hostNet  = nsID{4, 4026531840}
	hostPID  = nsID{4, 4026531836}
	hostIPC  = nsID{4, 4026531839}
	hostMnt  = nsID{4, 4026531841}
	podNet   = nsID{4, 4026532300}
	podIPC   = nsID{4, 4026532301}
	podPID   = nsID{4, 4026532302}
	selfNet  = nsID{4, 4026539999} // runcage in a different netns than pid 1 (kind node)
	fakeHost = fakeNS{
		"/proc/1/ns/net":       hostNet,
		"/proc/1/ns/pid":       hostPID,
		"/proc/1/ns/ipc":       hostIPC,
		"/proc/1/ns/mnt":       hostMnt,
		"/proc/self/ns/net":    selfNet,
		"/proc/self/ns/pid":    hostPID,
		"/proc/self/ns/ipc":    hostIPC,
		"/proc/self/ns/mnt":    hostMnt,
		"/proc/4242/ns/net":    podNet,
		"/proc/4242/ns/ipc":    podIPC,
		"/proc/4242/ns/pid":    podPID,
		"/proc/777/ns/net":     hostNet, // some host daemon
		"/proc/888/ns/net":     selfNet,
		"/var/run/netns/cni-1": podNet,
		"/proc/4242/ns/mnt":    hostMnt,
	}
)

// private is the namespace list Docker and containerd produce by default.
func private() []specs.LinuxNamespace {
	return []specs.LinuxNamespace{
		{Type: specs.PIDNamespace},
		{Type: specs.NetworkNamespace},
		{Type: specs.IPCNamespace},
		{Type: specs.UTSNamespace},
		{Type: specs.MountNamespace},
		{Type: specs.CgroupNamespace},
	}
}

// without returns private() minus the given type.
func without(t specs.LinuxNamespaceType) []specs.LinuxNamespace {
	var out []specs.LinuxNamespace
	for _, ns := range private() {
		if ns.Type != t {
			out = append(out, ns)
		}
	}
	return out
}

// withPath returns private() with type t joined at path.
func withPath(t specs.LinuxNamespaceType, path string) []specs.LinuxNamespace {
	out := private()
	for i := range out {
		if out[i].Type == t {
			out[i].Path = path
		}
	}
	return out
}

func userns(nss []specs.LinuxNamespace) []specs.LinuxNamespace {
	return append(nss, specs.LinuxNamespace{Type: specs.UserNamespace})
}

var goodMap = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}

func TestModify(t *testing.T) {
	tests := []struct {
		name    string
		allow   []string
		linux   *specs.Linux
		refused string
	}{
		{name: "all private", linux: &specs.Linux{Namespaces: private()}},
		{name: "uts and cgroup may be the host's", linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{
			{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace}, {Type: specs.MountNamespace},
		}}},
		{name: "kubernetes: join pause net/ipc/pid", linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{
			{Type: specs.PIDNamespace, Path: "/proc/4242/ns/pid"},
			{Type: specs.NetworkNamespace, Path: "/proc/4242/ns/net"},
			{Type: specs.IPCNamespace, Path: "/proc/4242/ns/ipc"},
			{Type: specs.UTSNamespace, Path: "/proc/4242/ns/uts"},
			{Type: specs.MountNamespace},
		}}},
		{name: "CNI netns path", linux: &specs.Linux{Namespaces: withPath(specs.NetworkNamespace, "/var/run/netns/cni-1")}},
		{name: "host network allowed", allow: []string{"network"}, linux: &specs.Linux{Namespaces: without(specs.NetworkNamespace)}},
		{name: "host network by path allowed", allow: []string{"network"}, linux: &specs.Linux{Namespaces: withPath(specs.NetworkNamespace, "/proc/777/ns/net")}},
		{name: "host pid and ipc allowed", allow: []string{"pid", "ipc"}, linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{
			{Type: specs.NetworkNamespace}, {Type: specs.MountNamespace},
		}}},
		{name: "user namespace with mappings", linux: &specs.Linux{Namespaces: userns(private()), UIDMappings: goodMap, GIDMappings: goodMap}},
		{
			name:    "no linux section",
			refused: "spec refused: no linux section",
		},
		{
			name:    "no namespaces at all",
			linux:   &specs.Linux{},
			refused: "host mount namespace refused",
		},
		{
			name:    "host pid",
			linux:   &specs.Linux{Namespaces: without(specs.PIDNamespace)},
			refused: `host pid namespace refused: the spec has no pid namespace entry, and profile "test" does not list "pid" in host_namespaces`,
		},
		{
			name:    "host ipc",
			linux:   &specs.Linux{Namespaces: without(specs.IPCNamespace)},
			refused: `host ipc namespace refused`,
		},
		{
			name:    "host network",
			linux:   &specs.Linux{Namespaces: without(specs.NetworkNamespace)},
			refused: `host network namespace refused`,
		},
		{
			name:    "host network allowed does not allow pid",
			allow:   []string{"network"},
			linux:   &specs.Linux{Namespaces: without(specs.PIDNamespace)},
			refused: `host pid namespace refused`,
		},
		{
			name:    "host network by path to pid 1",
			linux:   &specs.Linux{Namespaces: withPath(specs.NetworkNamespace, "/proc/1/ns/net")},
			refused: `host network namespace refused: path "/proc/1/ns/net" is the host's namespace`,
		},
		{
			name:    "host network by path to another host process",
			linux:   &specs.Linux{Namespaces: withPath(specs.NetworkNamespace, "/proc/777/ns/net")},
			refused: `path "/proc/777/ns/net" is the host's namespace`,
		},
		{
			name:    "runtime's own network namespace",
			linux:   &specs.Linux{Namespaces: withPath(specs.NetworkNamespace, "/proc/888/ns/net")},
			refused: `path "/proc/888/ns/net" is the host's namespace`,
		},
		{
			name:    "host pid by path to self",
			linux:   &specs.Linux{Namespaces: withPath(specs.PIDNamespace, "/proc/self/ns/pid")},
			refused: `host pid namespace refused`,
		},
		{
			name:    "namespace path that cannot be inspected",
			linux:   &specs.Linux{Namespaces: withPath(specs.IPCNamespace, "/nonexistent\n")},
			refused: `ipc namespace path "/nonexistent\n" refused: cannot tell whether it is the host's`,
		},
		{
			name:    "no mount namespace",
			allow:   []string{"pid", "ipc", "network", "uts", "cgroup", "mount"},
			linux:   &specs.Linux{Namespaces: without(specs.MountNamespace)},
			refused: "host mount namespace refused: the spec has no mount namespace entry, and no profile may share it",
		},
		{
			name:    "host mount namespace by path",
			linux:   &specs.Linux{Namespaces: withPath(specs.MountNamespace, "/proc/4242/ns/mnt")},
			refused: "host mount namespace refused",
		},
		{
			name:    "duplicate namespace",
			linux:   &specs.Linux{Namespaces: append(private(), specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/proc/1/ns/net"})},
			refused: `namespace "network" refused: listed more than once`,
		},
		{
			name:    "mappings without user namespace",
			linux:   &specs.Linux{Namespaces: private(), UIDMappings: goodMap},
			refused: "uid/gid mappings refused: the spec has no user namespace",
		},
		{
			name:    "gid mappings without user namespace",
			linux:   &specs.Linux{Namespaces: private(), GIDMappings: goodMap},
			refused: "uid/gid mappings refused",
		},
		{
			name:    "uid mapping of host root",
			linux:   &specs.Linux{Namespaces: userns(private()), UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 65536}}, GIDMappings: goodMap},
			refused: "uid mapping {container 0, host 0, size 65536} refused: maps host id 0 (root)",
		},
		{
			name:    "gid mapping of host root",
			linux:   &specs.Linux{Namespaces: userns(private()), UIDMappings: goodMap, GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 0, Size: 1}}},
			refused: "gid mapping {container 0, host 0, size 1} refused",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(&profiles.Profile{Name: "test", HostNamespaces: tt.allow}).(*modifier)
			m.stat = fakeHost.stat
			s := &specs.Spec{Linux: tt.linux}
			var before specs.Spec
			if tt.linux != nil {
				l := *tt.linux
				before.Linux = &l
			}
			err := m.Modify(s)
			if tt.refused != "" {
				checkRefused(t, err, tt.refused)
				return
			}
			if err != nil {
				t.Fatalf("Modify: %v", err)
			}
			if !reflect.DeepEqual(s, &before) {
				t.Errorf("spec changed")
			}
		})
	}
}

// TestHostReferences covers the host-namespace seam: pid 1 unreadable (as in
// some sandboxes) falls back to /proc/self; neither readable is a refusal.
func TestHostReferences(t *testing.T) {
	onlySelf := fakeNS{"/proc/self/ns/net": hostNet, "/x": hostNet, "/y": podNet}
	m := New(nil).(*modifier)
	m.stat = onlySelf.stat
	spec := func(path string) *specs.Spec {
		return &specs.Spec{Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{
			{Type: specs.MountNamespace}, {Type: specs.PIDNamespace}, {Type: specs.IPCNamespace},
			{Type: specs.NetworkNamespace, Path: path},
		}}}
	}
	checkRefused(t, m.Modify(spec("/x")), `host network namespace refused: path "/x" is the host's namespace, and profile "" does not list`)
	if err := m.Modify(spec("/y")); err != nil {
		t.Fatalf("non-host path refused: %v", err)
	}
	m.stat = fakeNS{"/y": podNet}.stat
	checkRefused(t, m.Modify(spec("/y")), "cannot tell whether it is the host's: stat host namespace")
}

// TestRealHost runs the real seam against this process's own namespaces.
func TestRealHost(t *testing.T) {
	m := New(&profiles.Profile{Name: "default"})
	s := &specs.Spec{Linux: &specs.Linux{Namespaces: withPath(specs.NetworkNamespace, "/proc/self/ns/net")}}
	checkRefused(t, m.Modify(s), `host network namespace refused: path "/proc/self/ns/net"`)
	s = &specs.Spec{Linux: &specs.Linux{Namespaces: private()}}
	if err := m.Modify(s); err != nil {
		t.Fatalf("Modify: %v", err)
	}
}

func TestValidateMappings(t *testing.T) {
	m := func(c, h, n uint32) specs.LinuxIDMapping {
		return specs.LinuxIDMapping{ContainerID: c, HostID: h, Size: n}
	}
	tests := []struct {
		name    string
		in      []specs.LinuxIDMapping
		refused string
	}{
		{name: "empty"},
		{name: "one pod range", in: []specs.LinuxIDMapping{m(0, 100000, 65536)}},
		{name: "kubernetes-style range", in: []specs.LinuxIDMapping{m(0, 65536*7, 65536)}},
		{name: "adjacent ranges", in: []specs.LinuxIDMapping{m(0, 1000, 10), m(10, 1010, 10)}},
		{name: "ends exactly at 1<<31", in: []specs.LinuxIDMapping{m(1<<31-65536, 1<<31-65536, 65536)}},
		{name: "unsorted, disjoint", in: []specs.LinuxIDMapping{m(100, 5000, 100), m(0, 1, 100)}},
		{name: "host id 1 is fine", in: []specs.LinuxIDMapping{m(0, 1, 1)}},
		{name: "size 0", in: []specs.LinuxIDMapping{m(0, 100000, 0)}, refused: "uid mapping {container 0, host 100000, size 0} refused: size is 0"},
		{name: "host root", in: []specs.LinuxIDMapping{m(0, 0, 1)}, refused: "maps host id 0 (root)"},
		{name: "host root in second", in: []specs.LinuxIDMapping{m(0, 100000, 1000), m(1000, 0, 1)}, refused: "maps host id 0"},
		{name: "container overlap", in: []specs.LinuxIDMapping{m(0, 100000, 1000), m(999, 200000, 10)}, refused: "uid mapping {container 999, host 200000, size 10} refused: container ids overlap mapping {container 0, host 100000, size 1000}"},
		{name: "container overlap, contained", in: []specs.LinuxIDMapping{m(0, 100000, 1000), m(10, 200000, 1)}, refused: "container ids overlap"},
		{name: "host overlap", in: []specs.LinuxIDMapping{m(0, 100000, 1000), m(5000, 100999, 10)}, refused: "host ids overlap"},
		{name: "host overlap, reversed", in: []specs.LinuxIDMapping{m(5000, 100999, 10), m(0, 100000, 1000)}, refused: "host ids overlap"},
		{name: "identical", in: []specs.LinuxIDMapping{m(0, 100000, 10), m(0, 100000, 10)}, refused: "overlap"},
		{name: "host end beyond 1<<31", in: []specs.LinuxIDMapping{m(0, 1<<31-10, 11)}, refused: "host ids end beyond 2147483648"},
		{name: "container end beyond 1<<31", in: []specs.LinuxIDMapping{m(1<<31-10, 100000, 11)}, refused: "container ids end beyond 2147483648"},
		{name: "uint32 overflow of host end", in: []specs.LinuxIDMapping{m(0, 0xffffffff, 2)}, refused: "host ids end beyond"},
		{name: "uint32 overflow of container end", in: []specs.LinuxIDMapping{m(0xffffffff, 100000, 0xffffffff)}, refused: "container ids end beyond"},
		{name: "max sizes", in: []specs.LinuxIDMapping{m(0, 1, 0xffffffff)}, refused: "container ids end beyond"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateMappings("uid", tt.in)
			if tt.refused == "" {
				if err != nil {
					t.Fatalf("ValidateMappings: %v", err)
				}
				return
			}
			checkRefused(t, err, tt.refused)
		})
	}
}

func checkRefused(t *testing.T, err error, substr string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want refusal containing %q", substr)
	}
	if !errors.Is(err, profiles.ErrRefused) {
		t.Errorf("error %q is not ErrRefused", err)
	}
	if !strings.Contains(err.Error(), substr) {
		t.Errorf("error %q does not contain %q", err, substr)
	}
	if strings.ContainsAny(err.Error(), "\n\x1b\x00") {
		t.Errorf("error %q contains raw control bytes", err)
	}
}
