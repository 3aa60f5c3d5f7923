package userns

import (
	"os"
	"strconv"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestProcNSPid(t *testing.T) {
	for path, want := range map[string]string{
		"/proc/1/ns/ipc":           "1",
		"/proc/4242/ns/uts":        "4242",
		"/proc/self/ns/ipc":        "",
		"/proc/1/ns/":              "",
		"/proc//ns/ipc":            "",
		"/proc/1/ns/ipc/x":         "",
		"/var/run/netns/cni1":      "",
		"/proc/12345678901/ns/net": "",
		"proc/1/ns/ipc":            "",
	} {
		got, ok := procNSPid(path)
		if ok != (want != "") || got != want {
			t.Errorf("procNSPid(%q) = %q, %v; want %q", path, got, ok, want)
		}
	}
}

// A namespace of a process in the host's user namespace is not joined: the
// container gets a user namespace of its own.
func TestPodUsernsHostOwned(t *testing.T) {
	s := &specs.Spec{Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{
		{Type: specs.IPCNamespace, Path: "/proc/" + strconv.Itoa(os.Getpid()) + "/ns/ipc"},
	}}}
	join, err := podUserns(s, []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}})
	if err != nil || join != "" {
		t.Fatalf("podUserns = %q, %v; want \"\", nil", join, err)
	}
}
