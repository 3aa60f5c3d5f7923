package namespaces

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/runcage/runcage/profiles"
	"github.com/runcage/runcage/profiles/internal/testutil"
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
		"/proc/1/ns/net":              hostNet,
		"/proc/1/ns/pid":              hostPID,
		"/proc/1/ns/ipc":              hostIPC,
		"/proc/1/ns/mnt":              hostMnt,
		"/proc/self/ns/net":           selfNet,
		"/proc/self/ns/pid":           hostPID,
		"/proc/self/ns/ipc":           hostIPC,
		"/proc/self/ns/mnt":           hostMnt,
		"/proc/4242/ns/net":           podNet,
		"/proc/4242/ns/ipc":           podIPC,
		"/proc/4242/ns/pid":           podPID,
		"/proc/777/ns/net":            hostNet, // some host daemon
		"/proc/888/ns/net":            selfNet,
		"/var/run/netns/cni-1":        podNet,
		"/proc/4242/ns/mnt":           hostMnt,
		"/proc/4242/ns/uts":           {4, 4026532303},
		"/proc/1/ns/uts":              {4, 4026531838},
		"/proc/self/ns/uts":           {4, 4026531838},
		"/proc/4242/task/4242/ns/net": podNet,
	}
)

// fakeSandbox: runc root /run/k8s holds sandbox sb1, whose init is 4242.
func fakeSandbox(root, id, typ string) (nsID, error) {
	if root != "/run/k8s" {
		return nsID{}, errors.New("wrong root")
	}
	switch id {
	case "sb1":
		return fakeHost.stat("/proc/4242/ns/" + typ)
	case "sb2":
		return nsID{4, 1}, nil
	}
	return nsID{}, errors.New("sandbox init process is gone")
}

// fakePinned: only /var/run/netns/cni-1 is pinned.
func fakePinned(path string) error {
	if path == "/var/run/netns/cni-1" {
		return nil
	}
	return errors.New("not pinned")
}

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
		name        string
		allow       []string
		linux       *specs.Linux
		annotations map[string]string
		injected    []specs.LinuxNamespaceType // namespaces Modify adds
		refused     string
	}{
		{name: "all private", linux: &specs.Linux{Namespaces: private()}},
		{name: "absent uts and cgroup are made new", linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{
			{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace}, {Type: specs.MountNamespace},
		}}, injected: []specs.LinuxNamespaceType{specs.UTSNamespace, specs.CgroupNamespace}},
		{name: "uts and cgroup may be the host's when listed", allow: []string{"uts", "cgroup"}, linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{
			{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace}, {Type: specs.MountNamespace},
		}}},
		{name: "kubernetes: join own sandbox net/ipc/pid/uts", annotations: map[string]string{AnnotationSandboxID: "sb1"}, linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{
			{Type: specs.PIDNamespace, Path: "/proc/4242/ns/pid"},
			{Type: specs.NetworkNamespace, Path: "/proc/4242/ns/net"},
			{Type: specs.IPCNamespace, Path: "/proc/4242/ns/ipc"},
			{Type: specs.UTSNamespace, Path: "/proc/4242/ns/uts"},
			{Type: specs.MountNamespace},
		}}, injected: []specs.LinuxNamespaceType{specs.CgroupNamespace}},
		{name: "kubernetes: own sandbox through a task path", annotations: map[string]string{AnnotationSandboxID: "sb1"},
			linux: &specs.Linux{Namespaces: withPath(specs.NetworkNamespace, "/proc/4242/task/4242/ns/net")}},
		{
			name:    "another container's network without a sandbox",
			linux:   &specs.Linux{Namespaces: withPath(specs.NetworkNamespace, "/proc/4242/task/4242/ns/net")},
			refused: `network namespace path "/proc/4242/task/4242/ns/net" refused: joining a namespace that is not the container's own pod's is not allowed (the spec names no pod sandbox`,
		},
		{
			name:        "another pod's network",
			annotations: map[string]string{AnnotationSandboxID: "sb2"},
			linux:       &specs.Linux{Namespaces: withPath(specs.NetworkNamespace, "/proc/4242/ns/net")},
			refused:     `it is not the namespace of sandbox "sb2"`,
		},
		{
			name:        "sandbox that is gone",
			annotations: map[string]string{AnnotationSandboxID: "gone"},
			linux:       &specs.Linux{Namespaces: withPath(specs.IPCNamespace, "/proc/4242/ns/ipc")},
			refused:     `sandbox "gone": sandbox init process is gone`,
		},
		{
			name:        "sandbox id that is a path",
			annotations: map[string]string{AnnotationSandboxID: "../sb1"},
			linux:       &specs.Linux{Namespaces: withPath(specs.IPCNamespace, "/proc/4242/ns/ipc")},
			refused:     `sandbox id "../sb1" is not a valid container id`,
		},
		{
			name:        "a container is not its own sandbox",
			annotations: map[string]string{AnnotationSandboxID: "app"},
			linux:       &specs.Linux{Namespaces: withPath(specs.IPCNamespace, "/proc/4242/ns/ipc")},
			refused:     `the container is its own sandbox`,
		},
		{
			name:    "pinned namespace only for network",
			linux:   &specs.Linux{Namespaces: withPath(specs.IPCNamespace, "/var/run/netns/cni-1")},
			refused: `ipc namespace path "/var/run/netns/cni-1" refused`,
		},
		{
			name:    "host uts by path",
			linux:   &specs.Linux{Namespaces: withPath(specs.UTSNamespace, "/proc/1/ns/uts")},
			refused: `host uts namespace refused: path "/proc/1/ns/uts" is the host's namespace`,
		},
		{name: "CNI netns path", linux: &specs.Linux{Namespaces: withPath(specs.NetworkNamespace, "/var/run/netns/cni-1")}},
		{name: "host network allowed", allow: []string{"network"}, linux: &specs.Linux{Namespaces: without(specs.NetworkNamespace)}},
		{name: "host network by path allowed", allow: []string{"network"}, linux: &specs.Linux{Namespaces: withPath(specs.NetworkNamespace, "/proc/777/ns/net")}},
		{name: "host pid and ipc allowed", allow: []string{"pid", "ipc"}, linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{
			{Type: specs.NetworkNamespace}, {Type: specs.MountNamespace},
		}}, injected: []specs.LinuxNamespaceType{specs.UTSNamespace, specs.CgroupNamespace}},
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
			m := New(&profiles.Profile{Name: "test", HostNamespaces: tt.allow}, Owner{ContainerID: "app", RuncRoot: "/run/k8s"}).(*modifier)
			m.stat = fakeHost.stat
			m.sandbox = fakeSandbox
			m.pinned = fakePinned
			s := &specs.Spec{Linux: tt.linux, Annotations: tt.annotations}
			var before specs.Spec
			before.Annotations = tt.annotations
			if tt.linux != nil {
				l := *tt.linux
				l.Namespaces = slices.Clone(l.Namespaces)
				for _, typ := range tt.injected {
					l.Namespaces = append(l.Namespaces, specs.LinuxNamespace{Type: typ})
				}
				before.Linux = &l
			}
			err := m.Modify(s)
			if tt.refused != "" {
				testutil.RequireRefused(t, err, tt.refused)
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
	m := New(nil, Owner{}).(*modifier)
	m.stat = onlySelf.stat
	m.pinned = func(string) error { return nil }
	spec := func(path string) *specs.Spec {
		return &specs.Spec{Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{
			{Type: specs.MountNamespace}, {Type: specs.PIDNamespace}, {Type: specs.IPCNamespace},
			{Type: specs.NetworkNamespace, Path: path},
		}}}
	}
	testutil.RequireRefused(t, m.Modify(spec("/x")), `host network namespace refused: path "/x" is the host's namespace, and profile "" does not list`)
	if err := m.Modify(spec("/y")); err != nil {
		t.Fatalf("non-host path refused: %v", err)
	}
	m.stat = fakeNS{"/y": podNet}.stat
	testutil.RequireRefused(t, m.Modify(spec("/y")), "cannot tell whether it is the host's: stat host namespace")
}

// TestRealHost runs the real seam against this process's own namespaces.
func TestRealHost(t *testing.T) {
	m := New(&profiles.Profile{Name: "default"}, Owner{})
	s := &specs.Spec{Linux: &specs.Linux{Namespaces: withPath(specs.NetworkNamespace, "/proc/self/ns/net")}}
	testutil.RequireRefused(t, m.Modify(s), `host network namespace refused: path "/proc/self/ns/net"`)
	s = &specs.Spec{Linux: &specs.Linux{Namespaces: private()}}
	if err := m.Modify(s); err != nil {
		t.Fatalf("Modify: %v", err)
	}
	// Another process's network namespace, named through its task
	// directory, is refused without the pod sandbox's evidence.
	unshare := exec.Command("unshare", "--net", "sleep", "30")
	if err := unshare.Start(); err != nil {
		t.Skip(err)
	}
	defer func() { unshare.Process.Kill(); unshare.Wait() }()
	pid := strconv.Itoa(unshare.Process.Pid)
	for i := 0; i < 100; i++ {
		a, _ := os.Readlink("/proc/" + pid + "/ns/net")
		b, _ := os.Readlink("/proc/self/ns/net")
		if a != b {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	p := "/proc/" + pid + "/task/" + pid + "/ns/net"
	s = &specs.Spec{Linux: &specs.Linux{Namespaces: withPath(specs.NetworkNamespace, p)}}
	testutil.RequireRefused(t, m.Modify(s), "joining a namespace that is not the container's own pod's is not allowed")
}

// TestRealSandbox runs sandboxNS against a fake runc state naming this
// test process as the sandbox's init.
func TestRealSandbox(t *testing.T) {
	root := t.TempDir()
	data, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	start := f[19]
	write := func(pid int, start string) {
		if err := os.MkdirAll(root+"/sb", 0o700); err != nil {
			t.Fatal(err)
		}
		text := `{"id":"sb","init_process_pid":` + strconv.Itoa(pid) + `,"init_process_start":` + start + `}`
		if err := os.WriteFile(root+"/sb/state.json", []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(os.Getpid(), start)
	got, err := sandboxNS(root, "sb", "net")
	want, _ := statNS("/proc/self/ns/net")
	if err != nil || got != want {
		t.Fatalf("sandboxNS = %v, %v; want %v", got, err, want)
	}
	write(os.Getpid(), start+"1")
	if _, err := sandboxNS(root, "sb", "net"); err == nil || !strings.Contains(err.Error(), "is gone") {
		t.Errorf("sandboxNS with a reused pid = %v, want gone", err)
	}
	if _, err := sandboxNS(root, "none", "net"); err == nil {
		t.Errorf("sandboxNS of a missing state = nil error")
	}
	if err := pinnedNetns("/proc/self/ns/net", nil); err == nil {
		t.Errorf("pinnedNetns(/proc/self/ns/net) = nil, want not pinned")
	}
}

// TestPinnedNetnsMoreDirs pins this process's network namespace in a
// directory of its own, as containerd's CRI does under its state directory,
// and checks that only a directory the owner names accepts it.
func TestPinnedNetnsMoreDirs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to bind-mount a namespace file")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pin := filepath.Join(dir, "cni-1")
	if err := os.WriteFile(pin, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("/proc/self/ns/net", pin, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(pin, unix.MNT_DETACH) })
	if err := pinnedNetns(pin, nil); err == nil {
		t.Error("a namespace pinned in an unnamed directory was accepted")
	}
	if err := pinnedNetns(pin, []string{dir}); err != nil {
		t.Errorf("a namespace pinned in a named directory: %v", err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := pinnedNetns(pin, []string{dir}); err == nil {
		t.Error("a namespace pinned in a directory anyone can write was accepted")
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
			testutil.RequireRefused(t, err, tt.refused)
		})
	}
}
